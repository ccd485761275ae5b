import SockKernel
import SockSyntax

/// What a run of a fuzz program did, step by step: the part two kernels
/// must agree on. Calls are compared by their result; anything else by
/// whether it held. A run that stopped with an error ends its trace.
public struct Trace: Equatable, Sendable {
  public struct Step: Equatable, Sendable {
    public var line: Int
    public var text: String
    /// "ok" or the errno name; nil for a statement that is no call.
    public var result: String?
    public var pass: Bool
  }
  public var steps: [Step]
  public var exit: Int32
  /// The kernel that ran it ("sim linux-6.18", or the release).
  public var kernel = ""

  /// The first step where two traces differ (or where one ends first), if any.
  public func firstDifference(_ other: Trace) -> Int? {
    for i in 0..<max(steps.count, other.steps.count) {
      guard i < steps.count, i < other.steps.count else { return i }
      let a = steps[i]
      let b = other.steps[i]
      if a.line != b.line || (a.result != nil ? a.result != b.result : a.pass != b.pass) { return i }
    }
    let errA = exit >= Exit.badInput
    let errB = other.exit >= Exit.badInput
    return errA != errB ? steps.count : nil
  }

  /// From the JSON Lines of `run --format json` (a real-backend child).
  public init?(jsonLines out: String, exit: Int32) {
    steps = []
    self.exit = exit
    for line in out.split(separator: "\n") {
      guard let o = JSON.parse(String(line)) else { continue }
      if let k = o["summary"]?["kernel"]?.stringValue { kernel = k }
      if let l = o["line"]?.intValue, let t = o["text"]?.stringValue, let p = o["pass"]?.boolValue {
        steps.append(Step(line: l, text: t, result: o["result"]?.stringValue, pass: p))
      }
    }
    if exit == Exit.backendUnavailable || exit < 0 { return nil }
  }

  init(steps: [Step], exit: Int32) {
    self.steps = steps
    self.exit = exit
  }

  /// Runs `file` on a simulator, keeping going after failed expectations.
  public static func simulate(_ file: SourceFile, config: SimKernel.Config, maxSteps: Int? = nil) -> Trace? {
    run(file, on: SimKernel(config: config), seed: config.seed, maxSteps: maxSteps)
  }

  /// Runs `file` on a backend in this process, keeping going after failed
  /// expectations (what `sockscript run --keep-going` would report).
  public static func run(_ file: SourceFile, on kernel: KernelBackend, seed: UInt64, maxSteps: Int? = nil) -> Trace? {
    let (program, _) = Runner.compile(file)
    guard let prog = program else { return nil }
    let rep = CollectingReporter()
    let code = Interpreter(file: file, program: prog, backend: kernel, reporter: rep, options: RunOptions(keepGoing: true, seed: seed, maxSteps: maxSteps))
      .run()
    return Trace(steps: rep.steps.map { Step(line: $0.line, text: $0.text, result: $0.result, pass: $0.pass) }, exit: code)
  }
}

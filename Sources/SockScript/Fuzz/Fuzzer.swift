import SockKernel
import SockSyntax

/// One disagreement between the simulator and the real kernel, shrunk.
public struct FuzzFinding: Sendable {
  public var index: Int
  /// The first differing statement's keyword and both results: findings
  /// with the same signature are one finding as far as shrinking goes.
  public var signature: String
  public var minimized: [String]
  public var sim: Trace
  public var real: Trace
  /// The scenario for the suite: the minimized program with the real
  /// kernel's results written in, and a header saying what differs.
  public var scenario: String
}

/// `sockscript fuzz`: generates programs, runs each on the simulator (in
/// this process) and on the real kernel (through `runReal`, which the
/// command line gives child processes), and shrinks every disagreement.
public final class Fuzzer {
  public struct Options: Sendable {
    public var seed: UInt64
    public var count: Int
    public var timeoutMs: Int64
    /// Stop starting programs after this long (wall clock), if set.
    public var timeLimitMs: Int64?
    /// Programs handed to `runReal` at once.
    public var batch: Int
    /// Simulator rules switched off (to show that the tester finds them).
    public var disabledRules: Set<SimRule> = []
    /// Programs known to disagree, as "SEED:INDEX" (reported, not shrunk, not new).
    public var known: Set<String> = []
    /// The step budget of every run (`--max-steps`).
    public var maxSteps: Int?
    /// The simulator profile the real kernel is held against.
    public var version: KernelVersion = .latestModelled
    public var config: SimKernel.Config { SimKernel.Config(seed: seed, timeoutMs: timeoutMs, disabledRules: disabledRules, version: version) }
    public init(seed: UInt64, count: Int, timeoutMs: Int64, timeLimitMs: Int64?, batch: Int) {
      self.seed = seed
      self.count = count
      self.timeoutMs = timeoutMs
      self.timeLimitMs = timeLimitMs
      self.batch = batch
    }
  }

  public let options: Options
  let generator: ScenarioGenerator
  /// Runs program texts on the real kernel; nil where a run could not be made.
  let runReal: ([String]) -> [Trace?]
  let clockMs: () -> Int64
  let interrupted: () -> Bool

  public private(set) var ran = 0
  public private(set) var agreed = 0
  public private(set) var disagreed = 0
  /// Disagreements of programs listed in `options.known`.
  public private(set) var knownDisagreements = 0
  /// Indices of the programs that disagreed, with their signatures.
  public private(set) var disagreements: [(index: Int, signature: String)] = []
  /// Programs the real kernel answered differently on two runs (its own
  /// random choices): not counted as agreeing or disagreeing.
  public private(set) var unstable = 0
  public private(set) var failedToRun = 0
  public private(set) var findings: [FuzzFinding] = []
  /// Every disagreement's signature, with how many programs showed it.
  public private(set) var signatures: [String: Int] = [:]

  public init(
    options: Options, runReal: @escaping ([String]) -> [Trace?], clockMs: @escaping () -> Int64, interrupted: @escaping () -> Bool = { false }
  ) {
    self.options = options
    self.generator = ScenarioGenerator(seed: options.seed)
    self.runReal = runReal
    self.clockMs = clockMs
    self.interrupted = interrupted
  }

  static func text(_ lines: [String]) -> String { lines.joined(separator: "\n") + "\n" }

  func simulate(_ lines: [String]) -> Trace? {
    Trace.simulate(SourceFile(name: "fuzz.sock", text: Self.text(lines)), config: options.config, maxSteps: options.maxSteps)
  }

  /// Runs the programs; `progress` hears about every finding as it is made.
  public func run(progress: (FuzzFinding) -> Void) {
    let start = clockMs()
    var next = 0
    while next < options.count && !interrupted() {
      if let limit = options.timeLimitMs, clockMs() - start >= limit { break }
      let indices = Array(next..<min(options.count, next + options.batch))
      next += indices.count
      let programs = indices.map(generator.program)
      let reals = runReal(programs.map(Self.text))
      for (k, i) in indices.enumerated() {
        ran += 1
        guard let real = reals[k], let sim = simulate(programs[k]) else {
          failedToRun += 1
          continue
        }
        guard let at = sim.firstDifference(real) else {
          agreed += 1
          continue
        }
        // The real kernel must answer the same way again, else the program
        // depends on its random choices or its timing.
        let again = runReal([Self.text(programs[k]), Self.text(programs[k])])
        guard again.allSatisfy({ $0.map { real.firstDifference($0) == nil } ?? false }) else {
          unstable += 1
          continue
        }
        disagreed += 1
        let sig = Self.signature(sim, real, at)
        disagreements.append((i, sig))
        if options.known.contains("\(options.seed):\(i)") {
          knownDisagreements += 1
          continue
        }
        signatures[sig, default: 0] += 1
        guard signatures[sig] == 1 else { continue }
        let f = shrink(index: i, programs[k])
        findings.append(f)
        progress(f)
      }
    }
  }

  static func signature(_ sim: Trace, _ real: Trace, _ at: Int) -> String {
    let step = at < sim.steps.count ? sim.steps[at] : (at < real.steps.count ? real.steps[at] : nil)
    let kw = step.map { String($0.text.prefix { $0 != " " }) } ?? "end"
    func res(_ t: Trace) -> String {
      guard at < t.steps.count else { return t.exit >= Exit.badInput ? "error" : "end" }
      return t.steps[at].result ?? (t.steps[at].pass ? "holds" : "fails")
    }
    return "\(kw): sim \(res(sim)), real \(res(real))"
  }

  /// Delta-debugs the program down to the lines that keep the disagreement.
  func shrink(index: Int, _ program: [String]) -> FuzzFinding {
    var last: (Trace, Trace)?
    let minimized = Shrinker.minimize(program) { lines in
      guard let sim = self.simulate(lines) else { return false }
      let reals = self.runReal([Self.text(lines), Self.text(lines)])
      guard let a = reals[0], let b = reals[1], a.firstDifference(b) == nil, sim.firstDifference(a) != nil else { return false }
      last = (sim, a)
      return true
    }
    var sim = simulate(minimized)!
    var real = runReal([Self.text(minimized)])[0]!
    if let (s, r) = last, s.steps.count == sim.steps.count { (sim, real) = (s, r) }
    let at = sim.firstDifference(real) ?? 0
    return FuzzFinding(
      index: index, signature: Self.signature(sim, real, at), minimized: minimized, sim: sim, real: real,
      scenario: scenario(index: index, minimized, sim: sim, real: real, at: at))
  }

  /// The minimized program with the real kernel's result after each call.
  func scenario(index: Int, _ lines: [String], sim: Trace, real: Trace, at: Int) -> String {
    var out = "# Found by `sockscript fuzz --seed \(options.seed)` (program \(index)), shrunk.\n"
    if at < sim.steps.count && at < real.steps.count {
      let s = sim.steps[at]
      out += "# At `\(s.text)` the simulator said \(s.result ?? "-"), \(real.kernel) said \(real.steps[at].result ?? "-").\n"
    } else {
      out += "# The runs end differently (simulator exit \(sim.exit), \(real.kernel) exit \(real.exit)).\n"
    }
    out += "# The results written in are the real kernel's.\n"
    for (i, line) in lines.enumerated() {
      let step = real.steps.first { $0.line == i + 1 }
      if let r = step?.result, r != "ok" { out += "\(line) => \(r)\n" } else { out += line + "\n" }
    }
    return out
  }
}

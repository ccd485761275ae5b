import SockKernel
import SockSyntax

/// Keeps every event of a run, for `diff`.
final class CollectingReporter: Reporter {
  var steps: [StepEvent] = []
  var errors: [String] = []
  var kernel = ""
  func begin(file: String, backend: KernelBackend, seed: UInt64) { kernel = backend.kernelName }
  func step(_ e: StepEvent) { steps.append(e) }
  func printed(_ values: [Value]) {}
  func show(_ rows: [ShowRow]) {}
  func error(_ rendered: String) { errors.append(rendered) }
  func end(_ s: RunSummary) {}
}

/// `sockscript diff`: one scenario on two backends, compared call by call.
/// A call agrees when both results are equal (or both are among the
/// alternatives its `=>` lists); an `expect` agrees when it holds on both or
/// fails on both, so a port the kernel picked at random is compared only
/// through what the scenario asserts about it.
public enum Differ {
  /// One step where the two runs differ.
  public struct Difference: Sendable {
    public enum Kind: String, Sendable {
      /// Both ran the statement, with different results.
      case result
      /// One run went on after the other ended.
      case ranFurther = "ran-further"
      /// The runs took different statements here (an `if` went another way).
      case diverged
    }
    public var kind: Kind
    public var step: StepEvent
    /// The other run's step, when both ran one here.
    public var other: StepEvent?
    /// Which run the difference is about, for `ranFurther` and `diverged`.
    public var note: String?
  }

  /// What comparing two runs found.
  public struct Comparison: Sendable {
    public var file: String
    public var source: String
    public var seed: UInt64
    public var names: (String, String)
    public var kernels: (String, String)
    public var exits: (Int32, Int32)
    public var steps: Int
    public var calls = 0
    public var expects = 0
    public var differences: [Difference] = []
    public var errored: Bool { max(exits.0, exits.1) >= Exit.badInput }
  }

  public static func diff(
    _ file: SourceFile, left: KernelBackend, right: () throws -> KernelBackend, options: RunOptions, format: OutputFormat = .text,
    out: OutputSink, err: OutputSink
  ) throws -> Int32 {
    let (program, diags) = Runner.compile(file)
    guard let prog = program else {
      err.write(DiagnosticRenderer.render(diags, in: file))
      return Exit.badInput
    }
    var opts = options
    opts.keepGoing = true
    func run(_ backend: KernelBackend) -> (CollectingReporter, Int32) {
      let rep = CollectingReporter()
      let code = Interpreter(file: file, program: prog, backend: backend, reporter: rep, options: opts).run()
      backend.shutdownBackend()
      return (rep, code)
    }
    let (a, codeA) = run(left)
    let rightBackend = try right()
    let (b, codeB) = run(rightBackend)
    let c = compare(
      a.steps, b.steps, file: file, seed: options.seed, names: (left.backendName, rightBackend.backendName), kernels: (a.kernel, b.kernel),
      exits: (codeA, codeB))
    for (name, rep) in [(c.names.0, a), (c.names.1, b)] {
      for e in rep.errors { err.write("\(name): \(e)") }
    }
    switch format {
    case .text: out.write(text(c))
    case .md: out.write(markdown(c))
    case .json: out.write(jsonLines(c))
    }
    if c.errored { return max(codeA, codeB) }
    return c.differences.isEmpty ? Exit.ok : Exit.failed
  }

  /// Step by step: a call agrees when both results are equal, or when the
  /// scenario's own `=>` lists alternatives and accepts both (it says the
  /// kernel varies there, a hash-chosen SO_REUSEPORT listener, say); any
  /// other statement when it holds on both or fails on both.
  static func compare(
    _ a: [StepEvent], _ b: [StepEvent], file: SourceFile, seed: UInt64, names: (String, String), kernels: (String, String), exits: (Int32, Int32)
  ) -> Comparison {
    var c = Comparison(file: file.name, source: String(decoding: file.bytes, as: UTF8.self), seed: seed, names: names, kernels: kernels, exits: exits, steps: a.count)
    for i in 0..<max(a.count, b.count) {
      guard i < a.count, i < b.count else {
        let longer = i < a.count ? names.0 : names.1
        c.differences.append(Difference(kind: .ranFurther, step: i < a.count ? a[i] : b[i], other: nil, note: "\(longer) only: it ran further"))
        break
      }
      let x = a[i]
      let y = b[i]
      if x.line != y.line || x.text != y.text {
        c.differences.append(Difference(kind: .diverged, step: x, other: y, note: "the runs diverge here (\(names.1) ran line \(y.line))"))
        break
      }
      if x.isCall { c.calls += 1 }
      if x.keyword == .expect { c.expects += 1 }
      let declaredVariation = x.pass && y.pass && (x.expected?.contains("|") ?? false)
      let same = x.isCall ? (x.result == y.result || declaredVariation) : x.pass == y.pass
      if !same { c.differences.append(Difference(kind: .result, step: x, other: y, note: nil)) }
    }
    return c
  }

  static func outcome(_ e: StepEvent?) -> String {
    guard let e else { return "-" }
    return e.isCall ? (e.result ?? "-") : (e.pass ? "holds" : "fails")
  }

  static func verdict(_ c: Comparison) -> String {
    if c.errored { return "ERROR \(c.file): a run stopped with an error (\(c.names.0) exit \(c.exits.0), \(c.names.1) exit \(c.exits.1))" }
    if c.differences.isEmpty { return "AGREE \(c.file): \(c.calls) calls and \(c.expects) expectations agree" }
    return "DIFFER \(c.file): \(c.differences.count) of \(c.steps) steps differ"
  }

  /// The transcript-like text: each differing step with both results and
  /// both why lines, then the verdict.
  public static func text(_ c: Comparison) -> String {
    var out = "== \(c.file)  (\(c.names.0): \(c.kernels.0), \(c.names.1): \(c.kernels.1), seed \(c.seed))\n"
    for d in c.differences {
      guard d.kind == .result, let y = d.other else {
        out += row(d.step, d.note ?? "")
        continue
      }
      let x = d.step
      out += row(x, "\(c.names.0): \(outcome(x))  \(c.names.1): \(outcome(y))")
      if let w = x.why { out += "      \(c.names.0) why: \(w)\n" }
      if let w = y.why { out += "      \(c.names.1) why: \(w)\n" }
      if !x.pass, let dt = x.detail { out += "      \(c.names.0): \(dt)\n" }
      if !y.pass, let dt = y.detail { out += "      \(c.names.1): \(dt)\n" }
    }
    return out + verdict(c) + "\n"
  }

  /// A report to paste into an issue: kernels, seed, the scenario, a table
  /// of the differing steps with both results and why lines, the verdict.
  public static func markdown(_ c: Comparison) -> String {
    func cell(_ s: String?) -> String {
      guard let s, !s.isEmpty else { return "" }
      return s.split(separator: "|", omittingEmptySubsequences: false).joined(separator: "\\|").split(separator: "\n").joined(separator: " ")
    }
    var out = "### sockscript diff: `\(c.file)`\n\n"
    out += "| | \(c.names.0) | \(c.names.1) |\n|---|---|---|\n"
    out += "| kernel | \(c.kernels.0) | \(c.kernels.1) |\n| exit | \(c.exits.0) | \(c.exits.1) |\n\n"
    out += "Seed \(c.seed). Reproduce: `sockscript diff\(c.seed == 0 ? "" : " --seed \(c.seed)") \(c.file)`\n\n"
    out += "<details><summary>Scenario</summary>\n\n```\n\(c.source.hasSuffix("\n") ? c.source : c.source + "\n")```\n</details>\n\n"
    if !c.differences.isEmpty {
      out += "| line | statement | \(c.names.0) | \(c.names.1) | why (\(c.names.0)) | why (\(c.names.1)) |\n|---|---|---|---|---|---|\n"
      for d in c.differences {
        let x = d.step
        let note = d.kind == .result ? "" : " (\(d.note ?? ""))"
        let whyA = [x.why, x.pass ? nil : x.detail].compactMap { $0 }.joined(separator: "; ")
        let whyB = [d.other?.why, d.other?.pass == false ? d.other?.detail : nil].compactMap { $0 }.joined(separator: "; ")
        out += "| \(x.label) | `\(cell(x.text))`\(cell(note)) | `\(outcome(x))` | `\(outcome(d.other))` | \(cell(whyA)) | \(cell(whyB)) |\n"
      }
      out += "\n"
    }
    return out + "Verdict: " + verdict(c) + "\n"
  }

  /// JSON Lines: one object per differing step, then a summary.
  public static func jsonLines(_ c: Comparison) -> String {
    var out = ""
    func side(_ e: StepEvent?) -> JSON {
      guard let e else { return .null }
      return .object([("result", .str(outcome(e))), ("why", .str(e.why)), ("detail", .str(e.pass ? nil : e.detail)), ("line", .int(e.line))])
    }
    for d in c.differences {
      out +=
        JSON.object([
          ("file", .string(c.file)), ("line", .int(d.step.line)), ("column", .int(d.step.column)), ("text", .string(d.step.text)),
          ("kind", .string(d.kind.rawValue)), (c.names.0, side(d.kind == .ranFurther && d.note?.hasPrefix(c.names.1) == true ? nil : d.step)),
          (c.names.1, side(d.kind == .ranFurther ? (d.note?.hasPrefix(c.names.1) == true ? d.step : nil) : d.other)),
        ]).render() + "\n"
    }
    let verdictWord = c.errored ? "error" : (c.differences.isEmpty ? "agree" : "differ")
    out +=
      JSON.object([
        (
          "summary",
          .object([
            ("file", .string(c.file)), ("seed", .int(Int(c.seed))), ("kernels", .object([(c.names.0, .string(c.kernels.0)), (c.names.1, .string(c.kernels.1))])),
            ("exits", .object([(c.names.0, .int(Int(c.exits.0))), (c.names.1, .int(Int(c.exits.1)))])), ("steps", .int(c.steps)),
            ("calls", .int(c.calls)), ("expectations", .int(c.expects)), ("differences", .int(c.differences.count)), ("verdict", .string(verdictWord)),
          ])
        )
      ]).render() + "\n"
    return out
  }

  static func row(_ e: StepEvent, _ what: String) -> String {
    transcriptPrefix(label: e.label, text: e.text) + what + "\n"
  }
}

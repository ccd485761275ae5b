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
  public static func diff(
    _ file: SourceFile, left: KernelBackend, right: () throws -> KernelBackend, options: RunOptions, out: OutputSink, err: OutputSink
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
    let nameA = left.backendName
    let nameB = rightBackend.backendName
    out.write("== \(file.name)  (\(nameA): \(a.kernel), \(nameB): \(b.kernel), seed \(options.seed))\n")
    var differences = 0
    var calls = 0
    var expects = 0
    for i in 0..<max(a.steps.count, b.steps.count) {
      guard i < a.steps.count, i < b.steps.count else {
        let e = i < a.steps.count ? a.steps[i] : b.steps[i]
        out.write(row(e, "\(i < a.steps.count ? nameA : nameB) only: it ran further"))
        differences += 1
        break
      }
      let x = a.steps[i]
      let y = b.steps[i]
      if x.line != y.line || x.text != y.text {
        out.write(row(x, "the runs diverge here (\(nameB) ran line \(y.line))"))
        differences += 1
        break
      }
      if x.isCall { calls += 1 }
      if x.keyword == .expect { expects += 1 }
      // A call agrees when both results are equal, or when the scenario's
      // own `=>` lists alternatives and accepts both: it says the kernel
      // varies there (a hash-chosen SO_REUSEPORT listener, say).
      let declaredVariation = x.pass && y.pass && (x.expected?.contains("|") ?? false)
      let same = x.isCall ? (x.result == y.result || declaredVariation) : x.pass == y.pass
      if !same {
        differences += 1
        let what = x.isCall ? "\(nameA): \(x.result ?? "-")  \(nameB): \(y.result ?? "-")" : "\(nameA): \(x.pass ? "holds" : "fails")  \(nameB): \(y.pass ? "holds" : "fails")"
        out.write(row(x, what))
        if let w = x.why { out.write("      \(nameA) why: \(w)\n") }
        if let w = y.why { out.write("      \(nameB) why: \(w)\n") }
        if !x.pass, let d = x.detail { out.write("      \(nameA): \(d)\n") }
        if !y.pass, let d = y.detail { out.write("      \(nameB): \(d)\n") }
      }
    }
    for (name, rep) in [(nameA, a), (nameB, b)] {
      for e in rep.errors { err.write("\(name): \(e)") }
    }
    let worst = max(codeA, codeB)
    if worst >= 2 {
      out.write("ERROR \(file.name): a run stopped with an error (\(nameA) exit \(codeA), \(nameB) exit \(codeB))\n")
      return worst
    }
    if differences == 0 {
      out.write("AGREE \(file.name): \(calls) calls and \(expects) expectations agree\n")
      return Exit.ok
    }
    out.write("DIFFER \(file.name): \(differences) of \(a.steps.count) steps differ\n")
    return Exit.failed
  }

  static func row(_ e: StepEvent, _ what: String) -> String {
    transcriptPrefix(label: e.label, text: e.text) + what + "\n"
  }
}

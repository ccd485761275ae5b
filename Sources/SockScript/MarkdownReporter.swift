import SockKernel

/// `--format md`: a self-contained report to paste into an issue: what was
/// run (the scenario itself), where (backend, kernel, seed), the sysctls in
/// force at the end, the transcript as a table, the `why:` lines, and a
/// one-line verdict.
public final class MarkdownReporter: Reporter {
  let out: OutputSink
  let err: OutputSink
  let source: String
  /// Transcript rows beyond this many are left out, except failures.
  let rowLimit: Int
  var backend: KernelBackend?
  var rows: [String] = []
  var omitted = 0
  var whys: [String] = []
  var printed: [String] = []
  var errors: [String] = []
  var changedSysctls: Set<String> = []

  public init(out: OutputSink, err: OutputSink, source: String, rowLimit: Int = 200) {
    self.out = out
    self.err = err
    self.source = source
    self.rowLimit = rowLimit
  }

  public func begin(file: String, backend: KernelBackend, seed: UInt64) {
    self.backend = backend
    rows = []
    omitted = 0
    whys = []
    printed = []
    errors = []
    changedSysctls = []
    out.write("## sockscript: `\(file)`\n\n")
    out.write("| | |\n|---|---|\n")
    out.write("| backend | \(backend.backendName) |\n")
    out.write("| kernel | \(backend.kernelName) |\n")
    out.write("| seed | \(seed) |\n")
    // An inline script is repeated in the command, quoted for a POSIX shell.
    let target = file == "-e" ? "-e '\(source.split(separator: "\n").joined(separator: "; ").replacing("'", with: "'\\''"))'" : file
    out.write("| reproduce | `\(Self.code("sockscript run --backend \(backend.backendName) --seed \(seed) \(target)"))` |\n\n")
    out.write("### Scenario\n\n")
    let fence = Self.fence(for: source)
    out.write("\(fence)sock\n\(source)\(source.hasSuffix("\n") ? "" : "\n")\(fence)\n\n")
  }

  public func step(_ e: StepEvent) {
    if case .sysctl(let key, _, _) = e.stmt.kind, e.errno == nil { changedSysctls.insert(key.text) }
    if let w = e.why { whys.append("- line \(e.line), `\(Self.code(e.text))`: \(Self.cell(w))") }
    guard rows.count < rowLimit || !e.pass else {
      omitted += 1
      return
    }
    let expected: String
    let got: String
    if e.isCall {
      expected = e.expected ?? "ok"
      got = (e.errno?.name ?? "ok") + (e.pass ? "" : " **FAIL**")
    } else if e.keyword == .expect {
      expected = "true"
      got = e.pass ? "holds" : "**FAIL**: \(e.detail ?? "false")"
    } else {
      expected = ""
      got = e.detail ?? ""
    }
    let shown = e.shownEndpoints
    let local = shown.map { "\($0.local)" } ?? ""
    let remote = shown?.remote.map { "\($0)" } ?? ""
    let call = Self.code(e.text) + (e.info.indexed ? " [\(e.socket ?? "")]" : "")
    rows.append("| \(e.line) | `\(call)` | \(Self.cell(expected)) | \(Self.cell(got)) | \(local) | \(remote) |")
  }

  public func printed(_ values: [Value]) {
    printed.append(values.map(\.text).joined(separator: " "))
  }

  public func show(_ rows: [ShowRow]) {
    printed.append(contentsOf: showTable(rows, indent: ""))
  }

  public func error(_ rendered: String) {
    err.write(rendered)
    errors.append(rendered)
  }

  public func end(_ s: RunSummary) {
    out.write("### Sysctls in force (at the end)\n\n| sysctl | value | |\n|---|---|---|\n")
    for key in Sysctl.keys {
      let value = backend?.readSysctl(key) ?? "?"
      out.write("| `\(key)` | \(value.isEmpty ? "(empty)" : "`\(value)`") | \(changedSysctls.contains(key) ? "set by the scenario" : "default") |\n")
    }
    out.write("\n### Transcript\n\n")
    out.write("| line | call | expected | got | local | remote |\n|---:|---|---|---|---|---|\n")
    for r in rows { out.write(r + "\n") }
    if omitted > 0 { out.write("\n\(omitted) more passing steps are left out; `sockscript run` prints them all.\n") }
    if !whys.isEmpty {
      out.write("\n### Why (the simulator's explanations)\n\n")
      let shown = whys.prefix(50)
      for w in shown { out.write(w + "\n") }
      if whys.count > shown.count { out.write("- ... and \(whys.count - shown.count) more\n") }
    }
    if !printed.isEmpty {
      out.write("\n### Output of print and show\n\n```\n")
      for p in printed { out.write(p + "\n") }
      out.write("```\n")
    }
    if !errors.isEmpty {
      out.write("\n### Errors\n\n```\n")
      for e in errors { out.write(e.hasSuffix("\n") ? e : e + "\n") }
      out.write("```\n")
    }
    let verdict: String
    switch s.exit {
    case 0: verdict = "**PASS**: \(s.statements) statements, \(s.expectations) expectations held"
    case 1: verdict = "**FAIL**: \(s.failed) of \(s.expectations) expectations failed"
    default: verdict = "**ERROR**: stopped by an error after \(s.statements) statement\(s.statements == 1 ? "" : "s")"
    }
    out.write("\n\(verdict) (backend \(s.backend), kernel \(s.kernel)).\n")
  }

  /// A table cell: pipes escaped, newlines as spaces.
  static func cell(_ s: String) -> String {
    var o = ""
    for ch in s {
      switch ch {
      case "|": o += "\\|"
      case "\n": o += " "
      default: o.append(ch)
      }
    }
    return o
  }

  /// Text for inline code inside a table cell (backticks become quotes).
  static func code(_ s: String) -> String {
    cell(s).replacing("`", with: "'")
  }

  /// A code fence longer than any run of backticks in the text.
  static func fence(for text: String) -> String {
    var longest = 0
    var run = 0
    for ch in text {
      if ch == "`" {
        run += 1
        longest = max(longest, run)
      } else {
        run = 0
      }
    }
    return String(repeating: "`", count: max(3, longest + 1))
  }
}

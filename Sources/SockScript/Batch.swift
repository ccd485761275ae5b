import SockKernel
import SockSyntax

/// The first step of a run that did not hold, as `sockscript test` reports
/// it: `12: bind b 127.0.0.1:80: got EADDRINUSE, expected ok`, or for an
/// expect `12: expect a.lport == 80: a.lport is 81, 80 is 80`.
public struct FirstFailure: Sendable, Equatable {
  public var line: Int
  public var text: String
  public var isExpect: Bool
  public var result: String?
  public var expected: String?
  /// For an expect: what its operands were.
  public var detail: String?

  public var rendered: String {
    let words = text.split(separator: " ").joined(separator: " ")
    if isExpect { return "\(line): \(words): \(detail ?? "false")" }
    return "\(line): \(words): got \(result ?? "ok"), expected \(expected ?? "ok")"
  }

  init(_ e: StepEvent) {
    line = e.line
    text = e.text
    isExpect = e.keyword == .expect
    result = e.result
    expected = e.expected
    detail = e.detail
  }

  /// From a statement object of `run --format json`.
  init?(json o: JSON) {
    guard o["pass"]?.boolValue == false, let line = o["line"]?.intValue, let text = o["text"]?.stringValue else { return nil }
    self.line = line
    self.text = text
    isExpect = o["op"]?.stringValue == "expect"
    result = o["result"]?.stringValue
    expected = o["expected"]?.stringValue
    detail = o["detail"]?.stringValue
  }
}

/// `sockscript test`: what one run of one file came to, and how a batch
/// reports (one line per file, or TAP version 13). A simulator run happens
/// in-process (`BatchCollector`); a real-backend run is a child process
/// whose `--format json` lines are read.
public struct BatchOutcome: Sendable, Equatable {
  public enum Status: String, Sendable {
    case ok
    case fail = "FAIL"
    case error = "ERROR"
  }
  public var status: Status
  public var backend: String
  /// The first failing step, or the first line of the error.
  public var detail: String?

  public init(status: Status, backend: String, detail: String?) {
    self.status = status
    self.backend = backend
    self.detail = detail
  }

  /// From a run's exit code, its first failure, and what it wrote to stderr.
  public static func from(exit: Int32, failure: FirstFailure?, err: String, backend: String) -> BatchOutcome {
    switch exit {
    case Exit.ok:
      return BatchOutcome(status: .ok, backend: backend, detail: nil)
    case Exit.failed:
      return BatchOutcome(status: .fail, backend: backend, detail: failure?.rendered)
    default:
      var first = err.split(separator: "\n").first.map { collapse($0) }
      if exit == Exit.interrupted { first = "interrupted" }
      if exit < 0 { first = "killed by signal \(-exit)" }
      return BatchOutcome(status: .error, backend: backend, detail: first ?? "exit \(exit)")
    }
  }

  /// From a finished `sockscript run --format json FILE` child.
  public static func fromJSONRun(exit: Int32, out: String, err: String, backend: String) -> BatchOutcome {
    let failure = out.split(separator: "\n").lazy.compactMap { JSON.parse(String($0)).flatMap(FirstFailure.init(json:)) }.first
    return from(exit: exit, failure: failure, err: err, backend: backend)
  }

  /// `  12  bind a ...   ok` -> `12: bind a ... ok`.
  static func collapse(_ s: Substring) -> String {
    let words = s.split(separator: " ", omittingEmptySubsequences: true)
    guard let n = words.first, Int(n) != nil else { return words.joined(separator: " ") }
    return "\(n): " + words.dropFirst().joined(separator: " ")
  }
}

/// Runs one file on a simulator in this process and keeps only what `test`
/// reports: the first failure and the error text.
public final class BatchCollector: Reporter {
  public private(set) var failure: FirstFailure?
  let err = StringSink()
  public var wantsTime: Bool { false }
  public init() {}
  public func begin(file: String, backend: KernelBackend, seed: UInt64) {}
  public func step(_ e: StepEvent) { if !e.pass && failure == nil { failure = FirstFailure(e) } }
  public func printed(_ values: [Value]) {}
  public func show(_ rows: [ShowRow]) {}
  public func error(_ rendered: String) { err.write(rendered) }
  public func end(_ s: RunSummary) {}

  /// The outcome of running `file` on `backend`.
  public static func run(_ file: SourceFile, backend: KernelBackend, options: RunOptions, interrupted: @escaping () -> Bool) -> BatchOutcome {
    let c = BatchCollector()
    let code = Runner.run(file, backend: backend, reporter: c, options: options, err: c.err, interrupted: interrupted)
    return BatchOutcome.from(exit: code, failure: c.failure, err: c.err.text, backend: backend.backendName)
  }
}

/// One file's verdict over the backends it ran on: the worst of them.
public struct BatchResult: Sendable {
  public var file: String
  public var outcomes: [BatchOutcome]
  public init(file: String, outcomes: [BatchOutcome]) {
    self.file = file
    self.outcomes = outcomes
  }

  public var status: BatchOutcome.Status {
    if outcomes.contains(where: { $0.status == .error }) { return .error }
    if outcomes.contains(where: { $0.status == .fail }) { return .fail }
    return .ok
  }

  public var passed: Bool { status == .ok }

  /// The outcome that decides the verdict (the first error, else the first failure).
  var deciding: BatchOutcome? { outcomes.first { $0.status == status } }
}

public enum BatchFormat: String, CaseIterable, Sendable {
  case text
  case tap
}

/// Renders a batch: `start` once, `result` per file in order, `end` once.
public struct BatchReport: Sendable {
  public let format: BatchFormat
  public let total: Int
  public init(format: BatchFormat, total: Int) {
    self.format = format
    self.total = total
  }

  public func start() -> String {
    format == .tap ? "TAP version 13\n1..\(total)\n" : ""
  }

  public func result(_ r: BatchResult, number: Int) -> String {
    let d = r.deciding
    switch format {
    case .text:
      let tag = pad(r.status.rawValue, 6)
      let which = r.outcomes.count > 1 && !r.passed ? " (\(d?.backend ?? ""))" : ""
      guard !r.passed, let detail = d?.detail else { return "\(tag)\(r.file)\(which)\n" }
      let loc: String
      if detail.first?.isNumber == true {
        loc = "\(r.file):\(detail)"
      } else if detail.hasPrefix(r.file + ":") {
        loc = detail  // a diagnostic names the file already
      } else {
        loc = "\(r.file): \(detail)"
      }
      return "\(tag)\(loc)\(which)\n"
    case .tap:
      if r.passed { return "ok \(number) - \(r.file)\n" }
      var s = "not ok \(number) - \(r.file)\n  ---\n"
      s += "  status: \(r.status.rawValue)\n"
      s += "  backend: \(d?.backend ?? "")\n"
      if let detail = d?.detail { s += "  message: \(yamlQuoted(detail))\n" }
      return s + "  ...\n"
    }
  }

  public func end(passed: Int, failed: Int, interrupted: Bool) -> String {
    let line = "\(passed) passed, \(failed) failed\(interrupted ? " (interrupted)" : "")"
    return format == .tap ? "# \(line)\n" : "\(line)\n"
  }

  /// YAML single-quoted style: a quote is written twice.
  func yamlQuoted(_ s: String) -> String {
    "'" + s.replacing("'", with: "''") + "'"
  }
}

/// `sockscript test`: what one run of one file came to, read from the text
/// transcript and exit code of `sockscript run`, and how a batch reports
/// (one line per file, or TAP version 13).
public struct BatchOutcome: Sendable, Equatable {
  public enum Status: String, Sendable {
    case ok
    case fail = "FAIL"
    case error = "ERROR"
  }
  public var status: Status
  public var backend: String
  /// The first failing step (`12: bind b 127.0.0.1:80 => ...  ok  FAIL: expected EADDRINUSE`),
  /// or the first line of the error.
  public var detail: String?

  public init(status: Status, backend: String, detail: String?) {
    self.status = status
    self.backend = backend
    self.detail = detail
  }

  /// From a finished `sockscript run FILE` (text format).
  public static func parse(exit: Int32, out: String, err: String, backend: String) -> BatchOutcome {
    switch exit {
    case 0:
      return BatchOutcome(status: .ok, backend: backend, detail: nil)
    case 1:
      let line = out.split(separator: "\n").first { $0.contains(" FAIL: ") }
      return BatchOutcome(status: .fail, backend: backend, detail: line.map { failure(String($0)) })
    default:
      var first = err.split(separator: "\n").first.map { collapse($0) }
      if first == nil { first = out.split(separator: "\n").last.map { collapse($0) } }
      if exit == 130 { first = "interrupted" }
      if exit < 0 { first = "killed by signal \(-exit)" }
      return BatchOutcome(status: .error, backend: backend, detail: first ?? "exit \(exit)")
    }
  }

  /// A failed transcript line, `  12  bind b 127.0.0.1:80 => ok   EADDRINUSE  FAIL: expected ok  ...`,
  /// as `12: bind b 127.0.0.1:80 => ok: got EADDRINUSE, expected ok`; an
  /// `expect` as `12: expect a.lport == 80: a.lport is 81, 80 is 80`.
  static func failure(_ line: String) -> String {
    // The statement is padded to its column, so at least one space precedes the verdict.
    guard let cut = line.firstRange(of: " FAIL: ") else { return collapse(Substring(line)) }
    var words = line[..<cut.lowerBound].split(separator: " ")
    let why = String(line[cut.upperBound...])
    guard let n = words.first, Int(n) != nil else { return collapse(Substring(line)) }
    words.removeFirst()
    if words.first == "expect" { return "\(n): \(words.joined(separator: " ")): \(why)" }
    let got = words.popLast() ?? ""
    let expected = why.hasPrefix("expected ") ? String(why.dropFirst(9).split(separator: " ").first ?? "") : why
    return "\(n): \(words.joined(separator: " ")): got \(got), expected \(expected)"
  }

  /// `  12  bind a ...   ok` -> `12: bind a ... ok`.
  static func collapse(_ s: Substring) -> String {
    let words = s.split(separator: " ", omittingEmptySubsequences: true)
    guard let n = words.first, Int(n) != nil else { return words.joined(separator: " ") }
    return "\(n): " + words.dropFirst().joined(separator: " ")
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

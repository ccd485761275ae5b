import SockKernel

/// Where reporters write; the CLI buffers stdout, tests collect a string.
public protocol OutputSink: AnyObject {
  func write(_ s: String)
  func writeBytes(_ b: [UInt8])
  /// Lets `body` append bytes in place (a buffered sink hands out its buffer).
  func appending(_ body: (inout [UInt8]) -> Void)
}

extension OutputSink {
  public func writeBytes(_ b: [UInt8]) { write(String(decoding: b, as: UTF8.self)) }
  public func appending(_ body: (inout [UInt8]) -> Void) {
    var b: [UInt8] = []
    body(&b)
    writeBytes(b)
  }
}

public final class StringSink: OutputSink {
  public private(set) var text = ""
  public init() {}
  public func write(_ s: String) { text += s }
}

/// `  12  bind a 127.0.0.1:80            `: the line number and the
/// statement padded to its column, as the transcript and diff print them.
func transcriptPrefix(label num: String, text: String) -> String {
  return String(repeating: " ", count: max(0, 4 - num.count)) + num + "  " + pad(text, 44) + " "
}

func pad(_ s: String, _ n: Int) -> String {
  let c = s.count
  return c >= n ? s : s + String(repeating: " ", count: n - c)
}

/// The socket table of `show`, aligned, one string per line. The GROUP
/// column appears only when some socket is in a SO_REUSEPORT group.
func showTable(_ rows: [ShowRow], indent: String) -> [String] {
  let grouped = rows.contains { $0.group != nil }
  let header = ["NAME", "PROTO", "STATE", "LOCAL", "REMOTE", "OPTIONS"] + (grouped ? ["GROUP"] : []) + ["TIMER"]
  let cells = rows.map { r in
    [r.name, r.proto, r.state, r.local, r.remote, r.options.isEmpty ? "-" : r.options.joined(separator: ",")]
      + (grouped ? [r.group ?? "-"] : []) + [r.timer ?? ""]
  }
  if cells.isEmpty { return alignedTable(header, [], indent: indent) + [indent + "(no sockets)"] }
  return alignedTable(header, cells, indent: indent)
}

/// Rows of cells in columns two blanks apart, a header first, no trailing
/// blanks (the tables of `show` and of the version matrix).
func alignedTable(_ header: [String], _ cells: [[String]], indent: String) -> [String] {
  var widths = header.map(\.count)
  for c in cells { for (i, v) in c.enumerated() { widths[i] = max(widths[i], v.count) } }
  func fmt(_ c: [String]) -> String {
    var s = indent
    for (i, v) in c.enumerated() { s += i == c.count - 1 ? v : pad(v, widths[i] + 2) }
    while s.hasSuffix(" ") { s.removeLast() }
    return s
  }
  return [fmt(header)] + cells.map(fmt)
}

/// The readable transcript: a header, one line per call, `why:` under
/// refusals, and a closing verdict.
public final class TextReporter: Reporter {
  let out: OutputSink
  let err: OutputSink
  var firstFailLine: Int?
  public var wantsTime: Bool { false }
  public init(out: OutputSink, err: OutputSink) {
    self.out = out
    self.err = err
  }

  public func begin(file: String, backend: KernelBackend, seed: UInt64) {
    firstFailLine = nil
    out.write("== \(file)  (backend \(backend.backendName), kernel \(backend.kernelName), seed \(seed))\n")
  }

  public func step(_ e: StepEvent) {
    // The line number and padded statement text are the same every time a
    // statement runs (loops), so they are rendered once per statement.
    let prefix: [UInt8]
    if let c = e.info.cache {
      prefix = c
    } else {
      let p = transcriptPrefix(label: e.label, text: e.text)
      prefix = Array(p.utf8)
      e.info.cache = prefix
    }
    if !e.pass && firstFailLine == nil { firstFailLine = e.line }
    // Straight into the sink's buffer: no intermediate line.
    out.appending { line in
      line.append(contentsOf: prefix)
      func put(_ s: String) { line.append(contentsOf: s.utf8) }
      if e.isCall {
        put(e.errno?.name ?? "ok")
        if !e.pass {
          put("  FAIL: expected ")
          put(e.expected ?? "ok")
        } else if e.errno != nil && e.stmt.result != nil {
          put(" (expected)")
        }
        if let (l, rm) = e.shownEndpoints {
          put("  ")
          l.write(to: &line)
          if let rm = rm {
            put(" -> ")
            rm.write(to: &line)
          }
        }
      } else if e.keyword == .expect {
        put(e.pass ? "holds" : "FAIL: \(e.detail ?? "false")")
      } else if let d = e.detail {
        put(e.keyword == .letVar ? "= \(d)" : d)
      }
      if e.info.indexed, let n = e.socket {
        put("  [")
        put(n)
        put("]")
      }
      line.append(10)
      if let w = e.why {
        put("      why: ")
        put(w)
        line.append(10)
      }
    }
  }

  public func printed(_ values: [Value]) {
    out.write(values.map(\.text).joined(separator: " ") + "\n")
  }

  public func show(_ rows: [ShowRow]) {
    for line in showTable(rows, indent: "      ") { out.write(line + "\n") }
  }

  public func error(_ rendered: String) {
    err.write(rendered)
  }

  public func end(_ s: RunSummary) {
    switch s.exit {
    case 0:
      out.write("PASS  \(s.file): \(s.statements) statements, \(s.expectations) expectations held\n")
    case 1:
      out.write("FAIL  \(s.file): \(s.failed) of \(s.expectations) expectations failed\(firstFailLine.map { " (first at line \($0))" } ?? "")\n")
    default:
      out.write("ERROR \(s.file): stopped by an error after \(s.statements) statement\(s.statements == 1 ? "" : "s")\n")
    }
  }
}

/// JSON Lines: one object per executed statement, `print`/`show` objects in
/// order, and one summary object per file.
public final class JSONReporter: Reporter {
  let out: OutputSink
  let err: OutputSink
  public init(out: OutputSink, err: OutputSink) {
    self.out = out
    self.err = err
  }

  public func begin(file: String, backend: KernelBackend, seed: UInt64) {}

  public func step(_ e: StepEvent) {
    let o: JSON = .object([
      ("file", .string(e.file)), ("line", .int(e.line)), ("column", .int(e.column)), ("text", .string(e.text)), ("op", .string(e.op)),
      ("socket", .str(e.socket)), ("result", .str(e.result)), ("expected", .str(e.expected)), ("pass", .bool(e.pass)),
      ("local", .str(e.local?.description)), ("remote", .str(e.remote?.description)), ("why", .str(e.why)), ("time_ms", .int(Int(e.timeMs))),
    ])
    if !e.pass, e.keyword == .expect, case .object(var fields) = o {
      // What made the expectation false (`a.lport is 81, 80 is 80`).
      fields.append(("detail", .str(e.detail)))
      out.write(JSON.object(fields).render() + "\n")
      return
    }
    out.write(o.render() + "\n")
  }

  public func printed(_ values: [Value]) {
    out.write(JSON.object([("print", .string(values.map(\.text).joined(separator: " ")))]).render() + "\n")
  }

  public func show(_ rows: [ShowRow]) {
    let arr = rows.map { r in
      JSON.object([
        ("name", .string(r.name)), ("proto", .string(r.proto)), ("state", .string(r.state)), ("local", .string(r.local)),
        ("remote", .string(r.remote)), ("options", .array(r.options.map { .string($0) })), ("group", .str(r.group)), ("timer", .str(r.timer)),
      ])
    }
    out.write(JSON.object([("show", .array(arr))]).render() + "\n")
  }

  public func error(_ rendered: String) {
    err.write(rendered)
    out.write(JSON.object([("error", .string(rendered))]).render() + "\n")
  }

  public func end(_ s: RunSummary) {
    let o: JSON = .object([
      (
        "summary",
        .object([
          ("file", .string(s.file)), ("backend", .string(s.backend)), ("kernel", .string(s.kernel)), ("seed", .int(Int(s.seed))),
          ("statements", .int(s.statements)), ("expectations", .int(s.expectations)), ("failed", .int(s.failed)), ("exit", .int(Int(s.exit))),
        ])
      )
    ])
    out.write(o.render() + "\n")
  }
}

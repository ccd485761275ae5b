import SockKernel
import SockSyntax
import XCTest

@testable import SockScript

/// `sockscript test` reads a run's verdict from typed events in-process, and
/// from a child's JSON Lines; both must say the same thing.
final class BatchTests: XCTestCase {
  func testJSONReaderReadsWhatTheWriterWrites() {
    let v: JSON = .object([
      ("s", .string("a \"q\" \\ \n\t\u{1}é")), ("n", .int(-42)), ("t", .bool(true)), ("f", .bool(false)), ("z", .null),
      ("a", .array([.int(1), .object([]), .array([])])),
    ])
    XCTAssertEqual(JSON.parse(v.render()), v)
    XCTAssertEqual(JSON.parse(" {\"a\" : [ 1 , 2 ] } ")?["a"], .array([.int(1), .int(2)]))
    for bad in ["", "{", "{\"a\":}", "[1,]", "\"open", "tru", "{\"a\":1} x", "{1:2}"] { XCTAssertNil(JSON.parse(bad), bad) }
  }

  func run(_ script: String, format: OutputFormat) -> (Int32, String, String) {
    let out = StringSink()
    let err = StringSink()
    let code = Runner.run(
      SourceFile(name: "t.sock", text: script), backend: SimKernel(), format: format, options: RunOptions(), out: out, err: err)
    return (code, out.text, err.text)
  }

  func inProcess(_ script: String) -> BatchOutcome {
    BatchCollector.run(SourceFile(name: "t.sock", text: script), backend: SimKernel(), options: RunOptions(), interrupted: { false })
  }

  func testInProcessAndJSONAgree() {
    let cases: [(String, BatchOutcome.Status, String?)] = [
      ("socket a\nbind a 127.0.0.1:80", .ok, nil),
      (
        "socket a\nbind a 127.0.0.1:8080\nsocket b\nbind   b 127.0.0.1:8080 => ok|EACCES", .fail,
        "4: bind b 127.0.0.1:8080 => ok|EACCES: got EADDRINUSE, expected ok|EACCES"
      ),
      ("socket a\nbind a 127.0.0.1:0\nexpect a.lport == 1", .fail, nil),
      ("socket a\nlisten b", .error, "t.sock:2:8: error: unknown socket 'b'"),
      ("socket c[0]\nclose c[1]", .error, "t.sock:2:7: error: socket c[1] does not exist"),
    ]
    for (script, status, detail) in cases {
      let a = inProcess(script)
      let (code, out, err) = run(script, format: .json)
      let b = BatchOutcome.fromJSONRun(exit: code, out: out, err: err, backend: "sim")
      XCTAssertEqual(a, b, script)
      XCTAssertEqual(a.status, status, script)
      if let d = detail { XCTAssertEqual(a.detail, d, script) }
    }
    let e = inProcess("socket a\nbind a 127.0.0.1:0\nexpect a.lport == 1")
    XCTAssertTrue(e.detail?.hasPrefix("3: expect a.lport == 1: a.lport is ") == true, e.detail ?? "")
  }

  func testFailedExpectCarriesItsDetailInJSON() {
    let (_, out, _) = run("let x = 2\nexpect x == 3", format: .json)
    let line = out.split(separator: "\n").compactMap { JSON.parse(String($0)) }.first { $0["op"]?.stringValue == "expect" }
    XCTAssertEqual(line?["detail"]?.stringValue, "x is 2, expected 3")
    let (_, ok, _) = run("expect 1 == 1", format: .json)
    XCTAssertFalse(ok.contains("\"detail\""))
  }
}

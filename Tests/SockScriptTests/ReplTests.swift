import SockKernel
import SockSyntax
import XCTest

@testable import SockScript

/// The REPL's line handling, driven directly (no terminal).
final class ReplTests: XCTestCase {
  func session(files: [String: String] = [:]) -> (ReplSession, StringSink, StringSink) {
    let out = StringSink()
    let err = StringSink()
    let s = ReplSession(backend: .sim, seed: 0, out: out, err: err) { _, v in SimKernel(config: .init(version: v.map(KernelVersion.nearestProfile) ?? .latestModelled)) }
    XCTAssertTrue(s.start(.sim))
    return (s, out, err)
  }

  func testStatementsRunAtOnceWithTheirWhy() {
    let (s, out, _) = session()
    XCTAssertTrue(s.feed("socket srv; bind srv 0.0.0.0:8080; listen srv"))
    XCTAssertTrue(s.feed("socket o; bind o 127.0.0.1:8080"))
    // No `=>` written: the REPL shows the result, without a FAIL.
    XCTAssertTrue(out.text.contains("bind o 127.0.0.1:8080                        EADDRINUSE\n"), out.text)
    XCTAssertTrue(out.text.contains("why: 127.0.0.1:8080 overlaps srv (LISTEN on 0.0.0.0:8080)"))
  }

  func testKernelSwitchesTheProfileAndSaves() {
    let (s, out, err) = session()
    XCTAssertTrue(s.feed(".kernel 5.10"))
    XCTAssertTrue(out.text.contains("(sim linux-5.10)"), out.text)
    XCTAssertTrue(s.feed("socket a; setopt a local_port_range 40000 40001"))
    XCTAssertTrue(out.text.contains("ENOPROTOOPT"), out.text)
    XCTAssertTrue(s.saveText().contains("--kernel 5.10"), s.saveText())
    XCTAssertTrue(s.feed(".kernel 4.4"))
    XCTAssertTrue(err.text.contains(".kernel takes a version: 5.10, 6.1, 6.12, 6.18, 7.2"), err.text)
    XCTAssertEqual(s.kernel, KernelVersion(5, 10), "a bad version changes nothing")
  }

  func testRepeatContinuesOverLines() {
    let (s, out, _) = session()
    XCTAssertEqual(s.prompt, "sock> ")
    XCTAssertTrue(s.feed("repeat 3 {"))
    XCTAssertEqual(s.prompt, "....> ")
    XCTAssertTrue(s.feed("  socket c[i]"))
    XCTAssertFalse(out.text.contains("socket c[i]"), "nothing runs before the block closes")
    XCTAssertTrue(s.feed("}"))
    XCTAssertEqual(s.prompt, "sock> ")
    XCTAssertEqual(out.text.components(separatedBy: "socket c[i]").count - 1, 3)
    XCTAssertEqual(s.socketNames, ["c[0]", "c[1]", "c[2]"])
  }

  func testIfElseContinuesOverLinesAndSaves() {
    let (s, out, err) = session()
    for line in ["let n = 0", "repeat 3 {", "if i == 1 {", "let n = n + 10", "} else if i == 2 {", "let n = n + 100"] {
      XCTAssertTrue(s.feed(line))
      XCTAssertEqual(s.prompt, line == "let n = 0" ? "sock> " : "....> ")
    }
    XCTAssertTrue(s.feed("} else { let n = n + 1 }"))
    XCTAssertTrue(s.feed("}"))
    XCTAssertTrue(s.feed("expect n == 111"))
    XCTAssertEqual(err.text, "")
    XCTAssertTrue(out.text.contains("expect n == 111                              holds"), out.text)
    let text = s.saveText()
    XCTAssertTrue(text.contains("  if i == 1 {\n    let n = n + 10\n  } else if i == 2 {\n    let n = n + 100\n  } else {\n    let n = n + 1\n  }\n"), text)
    let code = Runner.run(SourceFile(name: "saved", text: text), backend: SimKernel(), format: .text, options: RunOptions(), out: StringSink(), err: StringSink())
    XCTAssertEqual(code, 0)
  }

  func testWrongLineChangesNothing() {
    let (s, _, err) = session()
    XCTAssertTrue(s.feed("socket a; setopt a reuseadr"))
    XCTAssertTrue(err.text.contains("did you mean 'reuseaddr'?"), err.text)
    XCTAssertEqual(s.socketNames, [], "the whole line was refused, socket a included")
    XCTAssertTrue(s.feed("socket a"))
    XCTAssertTrue(s.feed("close b"))
    XCTAssertTrue(err.text.contains("unknown socket 'b'"))
  }

  func testNamesCarryOverBetweenLines() {
    let (s, _, err) = session()
    XCTAssertTrue(s.feed("socket a"))
    XCTAssertTrue(s.feed("let p = 7000"))
    XCTAssertTrue(s.feed("bind a 127.0.0.1:$p"))
    XCTAssertTrue(s.feed("expect a.lport == p"))
    XCTAssertEqual(err.text, "")
  }

  func testSaveAnnotatesResultsAndReplays() {
    let (s, _, _) = session()
    for line in [
      "sysctl net.ipv4.ip_local_port_range = 40000 40001", "socket srv; bind srv 127.0.0.1:8080; listen srv",
      "repeat 3 {", "socket c[i]", "connect c[i] 127.0.0.1:8080", "}", "socket x; connect x 127.0.0.1:9",
      "expect 1 == 2", "bind srv 127.0.0.1:1 => EINVAL",
    ] { XCTAssertTrue(s.feed(line)) }
    let text = s.saveText()
    XCTAssertTrue(text.contains("  connect c[i] 127.0.0.1:8080 => ok|EADDRNOTAVAIL\n"), text)
    XCTAssertTrue(text.contains("connect x 127.0.0.1:9 => ECONNREFUSED\n"), text)
    XCTAssertTrue(text.contains("# expect 1 == 2"), text)
    let out = StringSink()
    let code = Runner.run(SourceFile(name: "saved", text: text), backend: SimKernel(), format: .text, options: RunOptions(), out: out, err: StringSink())
    XCTAssertEqual(code, 0, out.text)
  }

  func testMetaCommands() {
    let (s, out, err) = session()
    XCTAssertTrue(s.feed("socket a; bind a 127.0.0.1:5000"))
    XCTAssertTrue(s.feed(".show"))
    XCTAssertTrue(out.text.contains("a     tcp    BOUND  127.0.0.1:5000"), out.text)
    XCTAssertTrue(s.feed(".help errno EADDRNOTAVAIL"))
    XCTAssertTrue(out.text.contains("EADDRNOTAVAIL (99): cannot assign requested address"))
    XCTAssertTrue(s.feed(".reset"))
    XCTAssertEqual(s.socketNames, [])
    XCTAssertTrue(s.feed("socket a; bind a 127.0.0.1:5000"), "the port is free after .reset")
    XCTAssertTrue(s.feed(".hepl"))
    XCTAssertTrue(err.text.contains("did you mean '.help'?"), err.text)
    XCTAssertFalse(s.feed(".quit"))
  }

  func testCompletion() {
    let names = ["srv", "c[0]"]
    XCTAssertEqual(Completer.complete("li", sockets: names), ["listen"])
    XCTAssertEqual(Completer.complete("setopt srv reuse", sockets: names), ["reuseaddr", "reuseport"])
    XCTAssertEqual(Completer.complete("close ", sockets: names), names)
    XCTAssertEqual(Completer.complete("bind a 127.0.0.1:80 => EADDRIN", sockets: names), ["EADDRINUSE"])
    XCTAssertEqual(Completer.complete("connect x 127.0.0.1:9 => ok|ECONNREF", sockets: names), ["ok|ECONNREFUSED"])
    XCTAssertEqual(Completer.complete("expect srv.state == TIME_", sockets: names), ["TIME_WAIT"])
    XCTAssertEqual(Completer.complete("sysctl net.ipv4.tcp_tw_", sockets: names), ["net.ipv4.tcp_tw_reuse", "net.ipv4.tcp_tw_reuse_delay"])
    XCTAssertEqual(Completer.complete("socket a; sh", sockets: names), ["shutdown", "show"])
    XCTAssertEqual(Completer.complete(".ba", sockets: names), [".backend"])
  }
}

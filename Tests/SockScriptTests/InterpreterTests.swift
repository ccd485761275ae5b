import SockKernel
import SockSyntax
import XCTest

@testable import SockScript

final class InterpreterTests: XCTestCase {
  func run(_ text: String, format: OutputFormat = .text, seed: UInt64 = 0, keepGoing: Bool = false) -> (Int32, String, String) {
    let out = StringSink()
    let err = StringSink()
    let code = Runner.run(
      SourceFile(name: "-e", text: text), backend: SimKernel(config: .init(seed: seed)), format: format,
      options: RunOptions(keepGoing: keepGoing, seed: seed), out: out, err: err)
    return (code, out.text, err.text)
  }

  func testPassingRun() {
    let (code, out, _) = run("socket a; bind a 127.0.0.1:0; listen a; expect a.state == LISTEN")
    XCTAssertEqual(code, 0)
    XCTAssertTrue(out.hasSuffix("PASS  -e: 4 statements, 4 expectations held\n"), out)
  }

  func testStopsAtFirstFailure() {
    let (code, out, _) = run("socket a\nbind a 10.9.9.9:80\nlisten a")
    XCTAssertEqual(code, 1)
    XCTAssertTrue(out.contains("EADDRNOTAVAIL  FAIL: expected ok"))
    XCTAssertTrue(out.contains("why: 10.9.9.9 is not an address of this host"))
    XCTAssertFalse(out.contains("listen a"), "nothing runs after the first failure")
  }

  func testIfNeedsACondition() {
    let (code, _, err) = run("let n = 3\nif n { print n }")
    XCTAssertEqual(code, 2)
    XCTAssertTrue(err.contains("-e:2:4: error: 'if' needs a condition, but this is an integer"), err)
  }

  func testLetInsideABodyEndsWithIt() {
    // A new name lives until the body's '}' (each iteration starts without
    // it); an outer name is assigned where it was defined.
    let (code, out, err) = run("let total = 0\nrepeat 3 {\n  let step = i * 2\n  let total = total + step\n}\nexpect total == 6\nprint total")
    XCTAssertEqual(code, 0, err)
    XCTAssertTrue(out.contains("\n6\n"), out)
  }

  func testFailedAcceptNamesASocketThatNeverOpened() {
    let (code, out, err) = run(
      "socket l; bind l 127.0.0.1:8080; listen l; setopt l nonblock\naccept l as x => EAGAIN\nexpect x.result == EAGAIN\nexpect x.state == CLOSED\nclose x => EBADF"
    )
    XCTAssertEqual(code, 0, out + err)
    XCTAssertTrue(out.contains("why: x never opened: its 'accept' failed with EAGAIN"), out)
  }

  func testAddressArithmeticStaysInItsFamily() {
    let (code, _, err) = run("let a = 255.255.255.254\nprint a + 1\nprint a + 2")
    XCTAssertEqual(code, 2)
    XCTAssertTrue(err.contains("-e:3:7: error: 255.255.255.254 + 2 is outside IPv4"), err)
    let (c6, _, e6) = run("print [::] - 1")
    XCTAssertEqual(c6, 2)
    XCTAssertTrue(e6.contains("[::] - 1 is outside IPv6"), e6)
  }

  func testFailedExpectationSaysWhatWasExpected() {
    let (_, out, _) = run("socket a; bind a 127.0.0.1:0; close a\nexpect count(BOUND) == 1\nexpect 3 in 4..5", keepGoing: true)
    XCTAssertTrue(out.contains("FAIL: count(BOUND) is 0, expected 1"), out)
    XCTAssertTrue(out.contains("FAIL: 3 is 3, expected 4..5"), out)
  }

  func testOneLineSourceNumbersByColumn() {
    let (_, out, _) = run("socket a; bind a 127.0.0.1:0")
    XCTAssertTrue(out.contains(" 1:1  socket a"), out)
    XCTAssertTrue(out.contains("1:11  bind a 127.0.0.1:0"), out)
  }

  func testStepBudgetStopsARunawayLoop() {
    let out = StringSink()
    let err = StringSink()
    let code = Runner.run(
      SourceFile(name: "-e", text: "repeat 1000000000 {\n  socket a\n  close a\n}"), backend: SimKernel(), format: .text,
      options: RunOptions(maxSteps: 1000), out: out, err: err)
    XCTAssertEqual(code, 2)
    XCTAssertTrue(err.text.contains("-e:3:3: error: the step budget is used up: 1000 statements have run"), err.text)
    XCTAssertTrue(out.text.contains("ERROR -e: stopped by an error after 999 statements"), out.text)
  }

  func testKeepGoing() {
    let (code, out, _) = run("expect 1 == 2\nexpect 2 == 3\nexpect 3 == 3", keepGoing: true)
    XCTAssertEqual(code, 1)
    XCTAssertTrue(out.contains("FAIL  -e: 2 of 3 expectations failed (first at line 1)"), out)
    XCTAssertTrue(out.contains("FAIL: 1 is 1, expected 2"), out)
  }

  func testShowNamesReuseportGroups() {
    // a and b share a group; c (another owner), w (the wildcard) and u (UDP)
    // start their own; d is bound but not listening, so it is in no group.
    let script = """
      socket a; setopt a reuseport; bind a 127.0.0.1:8080; listen a
      socket b; setopt b reuseport; bind b 127.0.0.1:8080; listen b
      socket c tcp uid 1000; setopt c reuseport; bind c 127.0.0.1:8081; listen c
      socket w; setopt w reuseport; bind w 0.0.0.0:8080; listen w
      socket d; setopt d reuseport; bind d 127.0.0.1:8082
      socket u udp; setopt u reuseport; bind u 127.0.0.1:8080
      show
      """
    let (code, out, _) = run(script)
    XCTAssertEqual(code, 0, out)
    let rows = out.split(separator: "\n").filter { $0.hasPrefix("      ") && !$0.hasPrefix("      why: ") }.map {
      $0.split(separator: " ").map(String.init)
    }
    XCTAssertEqual(rows.first?[6], "GROUP", out)
    let group = Dictionary(rows.dropFirst().map { ($0[0], $0[6]) }, uniquingKeysWith: { a, _ in a })
    XCTAssertEqual(group, ["a": "g1", "b": "g1", "c": "g2", "w": "g3", "d": "-", "u": "g4"], out)
    XCTAssertFalse(run("socket a; bind a 127.0.0.1:80; show").1.contains("GROUP"), "no column without groups")
  }

  func testJSONLines() {
    let (code, out, _) = run("socket c[0]\nrepeat 2 { bind c[0] 127.0.0.1:$(5000 + i) => ok|EINVAL }\nprint c[0].lport\nshow", format: .json)
    XCTAssertEqual(code, 0)
    let lines = out.split(separator: "\n").map(String.init)
    XCTAssertEqual(lines.count, 6, out)
    XCTAssertEqual(
      lines[1],
      #"{"file":"-e","line":2,"column":12,"text":"bind c[0] 127.0.0.1:$(5000 + i) => ok|EINVAL","op":"bind","socket":"c[0]","result":"ok","expected":"ok|EINVAL","pass":true,"local":"127.0.0.1:5000","remote":null,"why":null,"time_ms":0}"#
    )
    XCTAssertTrue(lines[2].contains(#""result":"EINVAL""#))
    XCTAssertEqual(lines[3], #"{"print":"5000"}"#)
    XCTAssertTrue(lines[4].hasPrefix(#"{"show":[{"name":"c[0]","proto":"tcp","state":"BOUND","local":"127.0.0.1:5000""#))
    XCTAssertEqual(lines[5], #"{"summary":{"file":"-e","backend":"sim","kernel":"sim linux-6.18","seed":0,"statements":5,"expectations":3,"failed":0,"exit":0}}"#)
  }

  func testSameSeedSameOutputAndSeedsMatter() {
    let script = "sysctl net.ipv4.ip_local_port_range = 40000 49999\nrepeat 20 { socket c[i]; bind c[i] 127.0.0.1:0; print c[i].lport }"
    let a = run(script, seed: 1).1
    XCTAssertEqual(a, run(script, seed: 1).1)
    XCTAssertNotEqual(a, run(script, seed: 2).1)
  }

  func testRuntimeErrorIsExit2WithCaret() {
    let (code, _, err) = run("socket c[0]\nclose c[1]")
    XCTAssertEqual(code, 2)
    XCTAssertTrue(err.hasPrefix("-e:2:7: error: socket c[1] does not exist\n 2 | close c[1]\n   |       ^~~~"), err)
    let (code2, _, err2) = run("let p = 70000\nsocket a\nbind a 127.0.0.1:$p")
    XCTAssertEqual(code2, 2)
    XCTAssertTrue(err2.contains("port 70000 is out of range"))
  }

  func testCheckErrorsStopBeforeRunning() {
    let (code, out, err) = run("socket a\nsetopt a reuseadr")
    XCTAssertEqual(code, 2)
    XCTAssertEqual(out, "")
    XCTAssertTrue(err.contains("did you mean 'reuseaddr'?"))
  }

  func testPropertiesAndAliases() {
    let (code, out, _) = run(
      """
      socket s; bind s 127.0.0.1:8080; listen s
      socket c; setopt c nonblock; connect c 127.0.0.1:8080 => EINPROGRESS
      connect c 127.0.0.1:8080
      connect c 127.0.0.1:8080 => EISCONN
      accept s as a
      expect a.remote == c.local and a.local == 127.0.0.1:8080 and c.raddr == 127.0.0.1 and c.rport == 8080
      send c "hi"; recv a; expect a.data == "hi"
      recv a => EWOULDBLOCK
      expect a.result == EAGAIN
      close c; recv a; expect a.data == ""
      expect count(CLOSE_WAIT) == 1 and count(FIN_WAIT1) == 1
      sleep 40ms
      expect count(FIN_WAIT2) == 1 and count(FIN_WAIT1) == 0
      """)
    XCTAssertEqual(code, 0, out)
  }
}

final class InterpreterCacheTests: XCTestCase {
  /// Per-statement caches must not leak between two references in one statement.
  func testTwoLiteralsAndTwoSocketsInOneExpect() {
    let out = StringSink()
    let code = Runner.run(
      SourceFile(
        name: "-e",
        text:
          "socket a; bind a 127.0.0.1:5000; socket b; bind b 127.0.0.2:5000\nrepeat 2 { expect a.local == 127.0.0.1:5000 and b.local == 127.0.0.2:5000 and not (a.local == b.local) }"
      ),
      backend: SimKernel(), format: .text, options: RunOptions(), out: out, err: StringSink())
    XCTAssertEqual(code, 0, out.text)
  }

  func testRecreatedNameFollowsTheNewSocket() {
    let out = StringSink()
    let code = Runner.run(
      SourceFile(name: "-e", text: "repeat 3 { socket a; bind a 127.0.0.1:$(6000 + i); expect a.lport == 6000 + i }"),
      backend: SimKernel(), format: .text, options: RunOptions(), out: out, err: StringSink())
    XCTAssertEqual(code, 0, out.text)
  }
}

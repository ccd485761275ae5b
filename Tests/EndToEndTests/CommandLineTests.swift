import Foundation
import SockSyntax
import XCTest

final class CommandLineTests: XCTestCase {
  func testHelpNamesTheCommands() throws {
    let r = try sockscript(["--help"])
    XCTAssertEqual(r.code, 0)
    XCTAssertTrue(r.out.contains("run"))
    XCTAssertTrue(r.out.contains("check"))
    XCTAssertTrue(r.out.contains("kernels"))
    XCTAssertTrue(r.out.contains("--kernel 5.10|6.1|6.12|7.2"), r.out)
    let run = try sockscript(["run", "--help"])
    XCTAssertEqual(run.code, 0)
    for flag in ["--backend", "--format", "--seed", "--keep-going", "--timeout", "-e", "--kernel"] { XCTAssertTrue(run.out.contains(flag), flag) }
  }

  func testUsageErrorsExit2() throws {
    XCTAssertEqual(try sockscript(["run"]).code, 2)
    XCTAssertEqual(try sockscript(["run", "--format", "xml", "-e", "show"]).code, 2)
    XCTAssertEqual(try sockscript(["run", "--timeout", "soon", "-e", "show"]).code, 2)
    XCTAssertEqual(try sockscript(["frobnicate"]).code, 2)
  }

  /// Usage errors name the problem and exit 2, whatever the command line's shape.
  func testRunUsageErrors() throws {
    let forms: [([String], String)] = [
      (["run", "--seed", "-1", "-e", "socket a"], "--seed"),
      (["run", "--format", "xml", "-e", "socket a"], "xml"),
      (["run", "--timeout", "soon", "-e", "socket a"], "--timeout takes a duration"),
      (["run", "--sim-disable", "bogus", "-e", "socket a"], "unknown simulator rule 'bogus'; rules: bind-marks-port"),
      (["run", "-e", "socket a", "examples/linger-reset.sock"], "not both"),
      (["run"], "give a scenario file"),
      (["run", "--bogus", "-e", "socket a"], "--bogus"),
      (["run", "--backend"], "--backend"),
    ]
    for (args, text) in forms {
      let r = try sockscript(args)
      XCTAssertEqual(r.code, 2, "\(args)")
      XCTAssertTrue(r.err.contains(text), "\(args): \(r.err)")
    }
    // And the spellings ArgumentParser allows work: --opt=value, options after files.
    let r = try sockscript(["run", "--seed=4", "-e", "socket a; bind a 127.0.0.1:0; print a.lport"])
    XCTAssertEqual(r.code, 0, r.err)
    XCTAssertEqual(try sockscript(["run", "examples/linger-reset.sock", "--seed", "3"]).code, 0)
  }

  func testUnreadableFile() throws {
    let r = try sockscript(["run", "no/such/file.sock"])
    XCTAssertEqual(r.code, 2)
    XCTAssertTrue(r.err.contains("cannot read 'no/such/file.sock'"), r.err)
  }

  func testInlineScriptAndFailureExitCode() throws {
    let ok = try sockscript(["run", "-e", "socket a; bind a 0.0.0.0:0"])
    XCTAssertEqual(ok.code, 0)
    XCTAssertTrue(ok.out.hasPrefix("== -e  (backend sim, kernel sim linux-6.18, seed 0)\n"), ok.out)
    let bad = try sockscript(["run", "-e", "socket a; listen a; socket b; connect b 127.0.0.1:9 => ok"])
    XCTAssertEqual(bad.code, 1)
    XCTAssertTrue(bad.out.contains("ECONNREFUSED  FAIL: expected ok"))
  }

  func testMaxStepsOnRunAndTest() throws {
    let dir = NSTemporaryDirectory() + "sockscript-steps-\(getpid())"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let loop = dir + "/loop.sock"
    try "repeat 100000000 {\n  socket a\n  close a\n}\n".write(toFile: loop, atomically: true, encoding: .utf8)
    let r = try sockscript(["run", "--max-steps", "500", loop])
    XCTAssertEqual(r.code, 2)
    XCTAssertTrue(r.err.contains("loop.sock:3:3: error: the step budget is used up: 500 statements have run"), r.err)
    for backend in ["sim", "real"] {
      if backend == "real" { try Needs.realBackend() }
      let t = try sockscript(["test", "--backend", backend, "--max-steps", "500", loop])
      XCTAssertNotEqual(t.code, 0, t.out)
      XCTAssertTrue(t.out.contains("step budget is used up"), t.out)
    }
    let zero = try sockscript(["test", "--max-steps", "0", loop])
    XCTAssertEqual(zero.code, 2, zero.err)
    XCTAssertTrue(zero.err.contains("--max-steps must be at least 1"), zero.err)
  }

  func testHighestExitCodeWins() throws {
    let r = try sockscript(["run", "examples/timewait-expires.sock", "Tests/Broken/unknown-names.sock"])
    XCTAssertEqual(r.code, 2)
    XCTAssertTrue(r.out.contains("PASS  examples/timewait-expires.sock"))
  }

  func testJSONFormat() throws {
    let r = try sockscript(["run", "--format", "json", "--seed", "7", "examples/bind-before-connect.sock"])
    XCTAssertEqual(r.code, 0)
    let lines = r.out.split(separator: "\n")
    for l in lines {
      XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(l.utf8)), String(l))
    }
    let last = try JSONSerialization.jsonObject(with: Data(lines.last!.utf8)) as! [String: Any]
    let summary = last["summary"] as! [String: Any]
    XCTAssertEqual(summary["seed"] as? Int, 7)
    XCTAssertEqual(summary["exit"] as? Int, 0)
    XCTAssertEqual(summary["failed"] as? Int, 0)
    let first = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as! [String: Any]
    XCTAssertEqual(Set(first.keys), ["file", "line", "column", "text", "op", "socket", "result", "expected", "pass", "local", "remote", "why", "time_ms"])
  }

  func testSameSeedSameBytes() throws {
    let a = try sockscript(["run", "--seed", "3", "examples/ephemeral-exhaustion.sock"])
    let b = try sockscript(["run", "--seed", "3", "examples/ephemeral-exhaustion.sock"])
    XCTAssertEqual(a.out, b.out)
    XCTAssertTrue(a.out.contains("seed 3"))
  }

  func testTimeoutAdvancesVirtualClock() throws {
    let r = try sockscript(["run", "--timeout", "500ms", "--format", "json", "-e", "socket s; bind s 127.0.0.1:80; listen s; accept s as x => EAGAIN"])
    XCTAssertEqual(r.code, 0)
    XCTAssertTrue(r.out.contains(#""time_ms":500"#), r.out)
  }

  /// Garbage must never crash the program: every input ends in 0, 1 or 2.
  func testNoInputCrashes() throws {
    var rng = SystemRandomNumberGenerator()
    let alphabet = Array("socket bind listen connect [::1]:80 127.0.0.1:0 $( ) { } repeat 3 => | \" ; \n # . .. c[i] expect == 1.5s 0x é \\ = EADDRINUSE ok")
    for _ in 0..<40 {
      let s = String((0..<Int.random(in: 1...80, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! })
      let r = try sockscript(["run", "-e", s])
      XCTAssertTrue([0, 1, 2].contains(r.code), "exit \(r.code) for \(s.debugDescription): \(r.err)")
    }
  }
}

final class DocumentationTests: XCTestCase {
  /// The example block of grammar.md passes `check` and runs.
  func testGrammarExamplesRun() throws {
    let text = try String(contentsOf: Paths.root.appendingPathComponent("grammar.md"), encoding: .utf8)
    let section = text.components(separatedBy: "## Examples").last!
    let code = section.components(separatedBy: "```")[1]
    let check = try sockscript(["check", "-e", code])
    XCTAssertEqual(check.code, 0, check.err)
    let run = try sockscript(["run", "-e", code])
    XCTAssertEqual(run.code, 0, run.out + run.err)
  }

  /// Every statement keyword of the parser appears in grammar.md.
  func testGrammarNamesEveryKeyword() throws {
    let text = try String(contentsOf: Paths.root.appendingPathComponent("grammar.md"), encoding: .utf8)
    for kw in Keywords.statements {
      XCTAssertTrue(text.contains("\"\(kw)\""), kw)
    }
  }
}

final class ReadmeTests: XCTestCase {
  /// The README's language tour is a valid, passing script.
  func testTourRuns() throws {
    let text = try String(contentsOf: Paths.root.appendingPathComponent("README.md"), encoding: .utf8)
    let tour = text.components(separatedBy: "## A short tour of the language").last!.components(separatedBy: "```")[1]
    let run = try sockscript(["run", "-e", tour])
    XCTAssertEqual(run.code, 0, run.out + run.err)
  }
}

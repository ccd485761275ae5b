import Foundation
import XCTest

/// `sockscript test PATH...`: batch runs, a line per file, TAP.
final class TestCommandTests: XCTestCase {
  var dir: URL!

  override func setUpWithError() throws {
    dir = FileManager.default.temporaryDirectory.appendingPathComponent("sockscript-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir.appendingPathComponent("sub"), withIntermediateDirectories: true)
    func write(_ name: String, _ text: String) throws { try text.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8) }
    try write("pass.sock", "socket a\nbind a 127.0.0.1:80\n")
    try write("broken.sock", "sockit a\n")
    try write("sub/fail.sock", "socket a\nbind a 127.0.0.1:80\nsocket b\nbind b 127.0.0.1:80 => ok\n")
    try write("sub/expect.sock", "socket a\nbind a 127.0.0.1:80\nexpect a.lport == 81\n")
    try write("sub/notes.txt", "not a scenario\n")
  }

  override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

  func testOneLinePerFileInOrder() throws {
    let d = dir.path
    let r = try sockscript(["test", d])
    XCTAssertEqual(r.code, 1)
    XCTAssertEqual(
      r.out,
      """
      ERROR \(d)/broken.sock:1:1: error: unknown statement 'sockit'
      ok    \(d)/pass.sock
      FAIL  \(d)/sub/expect.sock:3: expect a.lport == 81: a.lport is 80, expected 81
      FAIL  \(d)/sub/fail.sock:4: bind b 127.0.0.1:80 => ok: got EADDRINUSE, expected ok
      1 passed, 3 failed

      """)
    // One job at a time prints the same.
    XCTAssertEqual(try sockscript(["test", "--jobs", "1", d]).out, r.out)
  }

  func testTAP() throws {
    let d = dir.path
    let r = try sockscript(["test", "--format", "tap", "\(d)/pass.sock", "\(d)/sub"])
    XCTAssertEqual(r.code, 1)
    XCTAssertEqual(
      r.out,
      """
      TAP version 13
      1..3
      ok 1 - \(d)/pass.sock
      not ok 2 - \(d)/sub/expect.sock
        ---
        status: FAIL
        backend: sim
        message: '3: expect a.lport == 81: a.lport is 80, expected 81'
        ...
      not ok 3 - \(d)/sub/fail.sock
        ---
        status: FAIL
        backend: sim
        message: '4: bind b 127.0.0.1:80 => ok: got EADDRINUSE, expected ok'
        ...
      # 1 passed, 2 failed

      """)
  }

  func testBothBackends() throws {
    try Needs.realBackend()
    let files = ["examples/udp-duplicate-binds.sock", "examples/linger-reset.sock", "examples/tcp-tw-reuse.sock"]
    let r = try sockscript(["test", "--backend", "both"] + files)
    XCTAssertEqual(r.code, 0, r.out + r.err)
    XCTAssertEqual(r.out, files.map { "ok    \($0)\n" }.joined() + "3 passed, 0 failed\n")
    // The ports the simulator picks with seed 0; the real kernel picks at
    // random (the odds it picks both: about 1 in 8e8), so only real fails.
    let pinned = dir.appendingPathComponent("pinned.sock")
    try "socket a\nbind a 127.0.0.1:0\nsocket b\nbind b 127.0.0.1:0\nexpect a.lport == 50603 and b.lport == 46887\n".write(
      to: pinned, atomically: true, encoding: .utf8)
    XCTAssertEqual(try sockscript(["test", pinned.path]).code, 0)
    let both = try sockscript(["test", "--backend", "both", pinned.path])
    XCTAssertEqual(both.code, 1)
    XCTAssertTrue(both.out.hasPrefix("FAIL  \(pinned.path):5: expect a.lport == 50603 and b.lport == 46887: "), both.out)
    XCTAssertTrue(both.out.contains(" (real)\n0 passed, 1 failed\n"), both.out)
  }

  func testUsageAndMissingPaths() throws {
    XCTAssertEqual(try sockscript(["test"]).code, 2)
    let r = try sockscript(["test", "no/such/dir"])
    XCTAssertEqual(r.code, 2)
    XCTAssertTrue(r.err.contains("cannot read 'no/such/dir'"), r.err)
    XCTAssertEqual(try sockscript(["test", "--jobs", "0", "examples"]).code, 2)
  }
}

/// `sockscript fuzz` against the real kernel: with a simulator rule switched
/// off it must find the gap and write a shrunk scenario that holds on the
/// real kernel; with the rule on, the same programs agree.
final class FuzzCommandTests: XCTestCase {
  func testFindsASwitchedOffRuleAndShrinksIt() throws {
    try Needs.realBackend()
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sockscript-fuzz-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: dir) }
    let r = try sockscript(["fuzz", "--count", "60", "--seed", "9", "--sim-disable", "self-connect", "--out", dir.path])
    XCTAssertEqual(r.code, 1, r.out + r.err)
    XCTAssertTrue(r.out.contains("fuzz seed 9: 60 programs run"), r.out)
    let files = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
    XCTAssertFalse(files.isEmpty, r.out)
    for f in files {
      let path = dir.appendingPathComponent(f).path
      let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").filter { !$0.hasPrefix("#") }
      XCTAssertLessThanOrEqual(lines.count, 6, "\(f) is not shrunk")
      XCTAssertEqual(try sockscript(["run", "--backend", "real", path]).code, 0, "\(f) must hold on the real kernel")
      XCTAssertEqual(try sockscript(["run", "--sim-disable", "self-connect", path]).code, 1, "\(f) must fail on the broken simulator")
      XCTAssertEqual(try sockscript(["run", path]).code, 0, "\(f) must hold on the simulator")
    }
    let ok = try sockscript(["fuzz", "--count", "60", "--seed", "9", "--out", dir.path + "-none"])
    XCTAssertEqual(ok.code, 0, ok.out + ok.err)
    XCTAssertTrue(ok.out.contains("60 agreed"), ok.out)
  }

  func testUsageErrors() throws {
    XCTAssertEqual(try sockscript(["fuzz", "--count", "-1"]).code, 2)
    XCTAssertEqual(try sockscript(["fuzz", "--time-limit", "soon"]).code, 2)
    XCTAssertEqual(try sockscript(["fuzz", "--known", "/nonexistent"]).code, 2)
  }
}

import Foundation
import XCTest

/// Drives the real readline REPL in a terminal: tmux runs it, send-keys
/// types, capture-pane reads the screen. Fails (does not skip) without tmux.
final class ReplTerminalTests: XCTestCase {
  let session = "sockscript-test-\(getpid())"
  var dir: URL!

  override func setUpWithError() throws {
    dir = FileManager.default.temporaryDirectory.appendingPathComponent("sockscript-repl-\(getpid())")
    try? FileManager.default.removeItem(at: dir)
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
  }

  override func tearDown() {
    _ = try? tmux(["kill-server"])
    try? FileManager.default.removeItem(at: dir)
  }

  /// Runs tmux through system(3), not Foundation's Process: the tmux server
  /// daemon inherits descriptors, and Process.waitUntilExit then waits for
  /// the daemon instead of the client (seen hanging in CI). Only
  /// capture-pane's output is read, from a file.
  @discardableResult
  func tmux(_ args: [String]) throws -> String {
    func quote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }
    let outFile = dir.appendingPathComponent("tmux-out").path
    // A private server (-L), so the test neither sees nor disturbs other tmux users.
    let cmd = (["/usr/bin/tmux", "-L", session] + args).map(quote).joined(separator: " ") + " </dev/null >\(quote(outFile)) 2>/dev/null"
    _ = system(cmd)
    guard args.first == "capture-pane" else { return "" }
    return (try? String(contentsOfFile: outFile, encoding: .utf8)) ?? ""
  }

  func screen() throws -> String { try tmux(["capture-pane", "-p", "-t", session, "-S", "-300"]) }

  /// Waits until the screen satisfies `ok` (10 s at most).
  @discardableResult
  func waitFor(_ what: String, _ ok: (String) -> Bool) throws -> String {
    let deadline = Date().addingTimeInterval(10)
    var s = ""
    while Date() < deadline {
      s = try screen()
      if ok(s) { return s }
      Thread.sleep(forTimeInterval: 0.05)
    }
    XCTFail("timed out waiting for \(what); screen:\n\(s)")
    return s
  }

  func keys(_ k: String...) throws { try tmux(["send-keys", "-t", session] + k) }

  func testReadlineSession() throws {
    try Needs.tools("tmux")
    XCTAssertTrue(FileManager.default.isExecutableFile(atPath: "/usr/bin/tmux"), "tmux is required (.ci/run installs it)")
    let history = dir.appendingPathComponent("history").path
    let saved = dir.appendingPathComponent("saved.sock").path
    try tmux([
      "new-session", "-d", "-s", session, "-x", "160", "-y", "50",
      "env TERM=xterm HOME=\(dir.path) \(Paths.binary.path) repl --history \(history); sleep 30",
    ])
    // capture-pane drops trailing spaces, so "sock> " reads as "sock>".
    try waitFor("the prompt") { $0.contains("sock>") }

    // A statement runs at once.
    try keys("socket srv; bind srv 0.0.0.0:8080; listen srv", "Enter")
    try waitFor("listen's result") { $0.contains("listen srv") && $0.contains("ok  0.0.0.0:8080") }

    // Completion: a keyword, then a socket name that exists now.
    try keys("sock", "Tab")
    try waitFor("keyword completion") { $0.contains("sock> socket") }
    try keys("c2", "Enter")
    try keys("connect c", "Tab")
    try waitFor("socket-name completion") { $0.contains("sock> connect c2") }
    try keys("127.0.0.1:8080", "Enter")
    try waitFor("connect's result") { $0.contains("connect c2 127.0.0.1:8080") && $0.contains("-> 127.0.0.1:8080") }

    // A diagnostic with a caret and a hint; nothing runs.
    try keys("setopt srv reuseadr", "Enter")
    try waitFor("the diagnostic") { $0.contains("repl:1:12: error: unknown option 'reuseadr'") && $0.contains("did you mean 'reuseaddr'?") }

    // Ctrl-C drops the line being typed.
    try keys("bogus line that must not run")
    try waitFor("the typed line") { $0.contains("bogus line that must not run") }
    try keys("C-c")
    try keys("show", "Enter")
    let afterShow = try waitFor("show") { $0.contains("NAME") && $0.contains("c2") }
    XCTAssertFalse(afterShow.contains("unknown statement 'bogus'"), afterShow)

    // History recall: Up brings back the last line.
    try keys("Up")
    try waitFor("history recall") { $0.components(separatedBy: "\n").last(where: { !$0.trimmingCharacters(in: .whitespaces).isEmpty })?.hasSuffix("sock> show") ?? false }
    try keys("C-u")

    // .save, then Ctrl-D ends the session cleanly.
    try keys(".save \(saved)", "Enter")
    try waitFor("save") { $0.contains("saved 6 statements to") }
    try keys("C-d")
    Thread.sleep(forTimeInterval: 0.3)

    let text = try String(contentsOfFile: saved, encoding: .utf8)
    XCTAssertTrue(text.contains("connect c2 127.0.0.1:8080"), text)
    let run = try sockscript(["run", saved])
    XCTAssertEqual(run.code, 0, run.out + run.err)
    let hist = try String(contentsOfFile: history, encoding: .utf8)
    XCTAssertTrue(hist.contains("socket srv; bind srv 0.0.0.0:8080; listen srv"), hist)
  }

  func testNotATerminalReadsPlainly() throws {
    let r = try sockscript(["repl"], stdin: "socket a; bind a 0.0.0.0:0\nshow\n")
    XCTAssertEqual(r.code, 0, r.err)
    XCTAssertFalse(r.out.contains("sock> "), "no prompt in a pipe")
    XCTAssertFalse(r.out.contains("\u{1b}["), "no escape codes in a pipe")
    XCTAssertTrue(r.out.contains("bind a 0.0.0.0:0"))
    XCTAssertTrue(r.out.contains("BOUND"))
  }

  func testRealBackendResetClosesDescriptors() throws {
    try Needs.realBackend()
    let p = Process()
    p.executableURL = Paths.binary
    p.arguments = ["repl", "--backend", "real"]
    let input = Pipe()
    let out = Pipe()
    p.standardInput = input
    p.standardOutput = out
    p.standardError = Pipe()
    try p.run()
    let fdDir = "/proc/\(p.processIdentifier)/fd"
    func fds() -> Int { (try? FileManager.default.contentsOfDirectory(atPath: fdDir).count) ?? -1 }
    input.fileHandleForWriting.write("socket a\n".data(using: .utf8)!)
    Thread.sleep(forTimeInterval: 0.5)
    let base = fds()
    input.fileHandleForWriting.write("repeat 10 { socket c[i]; bind c[i] 127.0.0.1:0 }\n".data(using: .utf8)!)
    Thread.sleep(forTimeInterval: 0.5)
    XCTAssertEqual(fds(), base + 10)
    input.fileHandleForWriting.write(".reset\n".data(using: .utf8)!)
    Thread.sleep(forTimeInterval: 0.5)
    XCTAssertEqual(fds(), base - 1, ".reset closes every socket the session opened")
    input.fileHandleForWriting.write("socket b\n.backend sim\n".data(using: .utf8)!)
    Thread.sleep(forTimeInterval: 0.5)
    XCTAssertEqual(fds(), base - 1, ".backend closes them too")
    try input.fileHandleForWriting.close()
    _ = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    XCTAssertEqual(p.terminationStatus, 0)
  }
}

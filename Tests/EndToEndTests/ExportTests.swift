import Foundation
import XCTest

/// `sockscript export c` and `export python`: every example and every
/// scenario of the differential suite exports, compiles with `cc -Wall
/// -Werror` (the C one), and the programs' results equal the real backend's.
/// Needs root, a C compiler and Python 3.11 or later.
final class ExportTests: XCTestCase {
  var dir: URL!

  override func setUpWithError() throws {
    dir = FileManager.default.temporaryDirectory.appendingPathComponent("sockscript-export-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
  }

  override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

  /// Exports and compiles a scenario; returns the program or the failure.
  struct Failure: Error {
    var why: String
  }

  func build(_ sock: URL, name: String) -> Result<URL, Failure> {
    let c = dir.appendingPathComponent("\(name).c")
    let bin = dir.appendingPathComponent(name)
    guard let e = try? sockscript(["export", "c", sock.path, "-o", c.path]), e.code == 0 else { return .failure(Failure(why: "export failed")) }
    guard let cc = try? execute(URL(fileURLWithPath: "/usr/bin/cc"), ["-Wall", "-Werror", "-O0", "-o", bin.path, c.path]) else {
      return .failure(Failure(why: "cc did not start"))
    }
    guard cc.code == 0 else { return .failure(Failure(why: "cc: \(cc.err)")) }
    return .success(bin)
  }

  /// The transcript lines of calls and expectations (numbered lines).
  static func steps(_ out: String) -> [[Substring]] {
    out.split(separator: "\n").map { $0.split(separator: " ") }.filter { $0.first.map { Int($0) != nil } ?? false }
  }

  /// Two runs agree line by line: the same statements, and where a line
  /// differs, only in what the kernel chooses (an endpoint, a time) or in a
  /// result among the alternatives its `=> a|b` allows.
  static func agree(_ a: String, _ b: String) -> String? {
    let x = steps(a)
    let y = steps(b)
    guard x.count == y.count else { return "\(x.count) steps against \(y.count)" }
    for (l, r) in zip(x, y) where l != r {
      guard l.first == r.first else { return "line \(l.first!) against line \(r.first!)" }
      let k = zip(l, r).prefix { $0 == $1 }.count
      guard k < l.count, k < r.count else { return "line \(l.first!): \(l.joined(separator: " ")) | \(r.joined(separator: " "))" }
      let (p, q) = (l[k], r[k])
      // `let p = c.lport` shows a value the kernel chose.
      let chosen = { (t: Substring) in t.contains(":") || t.hasPrefix("t=") || t == "->" || (l.count > 1 && l[1] == "let") }
      let alternatives = l.contains("=>") && (l.contains { $0.contains("|") } || l.contains("any"))
      if !(chosen(p) && chosen(q)) && !alternatives {
        return "line \(l.first!): '\(p)' against '\(q)' in \(l.joined(separator: " ")) | \(r.joined(separator: " "))"
      }
    }
    return nil
  }

  /// Every file becomes a C program and a Python script; each runs, and so
  /// does the real backend, as separate processes (six at a time: most of
  /// the time is the scenarios' real sleeps), and all three must agree.
  func testEveryScenarioExportsAndAgreesWithTheRealBackend() throws {
    try Needs.realBackend()
    try Needs.tools("cc", "python3")
    let files = DifferentialTests.suite
    XCTAssertGreaterThanOrEqual(files.count, 120)
    let names = files.map { $0.deletingPathExtension().lastPathComponent + ($0.path.contains("/examples/") ? "-example" : "") }
    let built = parallelMap(Array(zip(files, names))) { [self] f, name -> (Result<URL, Failure>, URL?) in
      let py = dir.appendingPathComponent("\(name).py")
      let ok = (try? sockscript(["export", "python", f.path, "-o", py.path]))?.code == 0
      return (build(f, name: name), ok ? py : nil)
    }
    var failures: [String] = []
    enum Job {
      case c(URL), python(URL), real(URL)
    }
    var jobs: [(Int, Job)] = []
    for (i, (c, py)) in built.enumerated() {
      switch c {
      case .failure(let f): failures.append("\(files[i].lastPathComponent): \(f.why)")
      case .success(let bin): jobs.append((i, .c(bin)))
      }
      if let py = py { jobs.append((i, .python(py))) } else { failures.append("\(files[i].lastPathComponent): python export failed") }
      jobs.append((i, .real(files[i])))
    }
    nonisolated(unsafe) let work = jobs
    let runs = parallelMap(Array(work.indices), width: 6) { k -> Exec in
      let r: Exec?
      switch work[k].1 {
      case .c(let bin): r = try? execute(bin, [])
      case .python(let py): r = try? execute(URL(fileURLWithPath: "/usr/bin/env"), ["python3", py.path])
      case .real(let f): r = try? sockscript(["run", "--backend", "real", f.path])
      }
      return r ?? Exec(code: -1, out: "", err: "could not start")
    }
    var byFile: [Int: [String: Exec]] = [:]
    for (k, (i, job)) in jobs.enumerated() {
      let kind: String
      switch job {
      case .c: kind = "C"
      case .python: kind = "Python"
      case .real: kind = "real"
      }
      byFile[i, default: [:]][kind] = runs[k]
    }
    for (i, f) in files.enumerated() {
      guard let real = byFile[i]?["real"], real.code == 0 else {
        let r = byFile[i]?["real"]
        failures.append("\(f.lastPathComponent): the real backend fails (\(r?.code ?? -1)):\n\(r?.out ?? "")\(r?.err ?? "")")
        continue
      }
      for kind in ["C", "Python"] {
        guard let r = byFile[i]?[kind] else { continue }
        if r.code != 0 {
          failures.append("\(f.lastPathComponent): the \(kind) program exits \(r.code):\n\(r.out)\(r.err)")
        } else if let d = Self.agree(r.out, real.out) {
          failures.append("\(f.lastPathComponent) (\(kind)): \(d)")
        }
      }
    }
    XCTAssertTrue(failures.isEmpty, failures.joined(separator: "\n"))
  }

  func testAFalseExpectationFailsTheProgram() throws {
    try Needs.realBackend()
    try Needs.tools("cc", "python3")
    let sock = dir.appendingPathComponent("false.sock")
    try "socket a\nbind a 127.0.0.1:80\nsocket b\nbind b 127.0.0.1:80 => ok\nprint \"not reached\"\n".write(to: sock, atomically: true, encoding: .utf8)
    guard case .success(let bin) = build(sock, name: "false") else { return XCTFail("no program") }
    let r = try execute(bin, [])
    XCTAssertEqual(r.code, 1)
    XCTAssertTrue(r.out.contains("   4  bind b 127.0.0.1:80 => ok"), r.out)
    XCTAssertTrue(r.out.contains("EADDRINUSE  FAIL: expected ok"), r.out)
    XCTAssertFalse(r.out.contains("not reached"))
    XCTAssertTrue(r.out.hasSuffix("FAIL  \(sock.path): 1 of 4 expectations failed\n"), r.out)
    // --keep-going runs on, and the exit is still 1.
    let k = try execute(bin, ["--keep-going"])
    XCTAssertEqual(k.code, 1)
    XCTAssertTrue(k.out.contains("not reached"), k.out)
  }

  func testRuntimeErrorsAndRefusedInput() throws {
    try Needs.realBackend()
    try Needs.tools("cc", "python3")
    let sock = dir.appendingPathComponent("err.sock")
    try "repeat 2 { socket c[i] }\nclose c[5]\n".write(to: sock, atomically: true, encoding: .utf8)
    guard case .success(let bin) = build(sock, name: "err") else { return XCTFail("no program") }
    let r = try execute(bin, [])
    XCTAssertEqual(r.code, 2)
    XCTAssertTrue(r.err.contains("\(sock.path):2:7: error: socket c[5] does not exist"), r.err)
    // A script with a syntax error exports nothing.
    let bad = dir.appendingPathComponent("bad.sock")
    try "sockit a\n".write(to: bad, atomically: true, encoding: .utf8)
    let e = try sockscript(["export", "c", bad.path])
    XCTAssertEqual(e.code, 2)
    XCTAssertEqual(e.out, "")
    XCTAssertTrue(e.err.contains("1:1: error: unknown statement 'sockit'"), e.err)
  }
}

extension ExportTests {
  func testPythonExportFailsAndErrsLikeTheCOne() throws {
    try Needs.realBackend()
    try Needs.tools("cc", "python3")
    let sock = dir.appendingPathComponent("false.sock")
    try "socket a\nbind a 127.0.0.1:80\nsocket b\nbind b 127.0.0.1:80 => ok\nprint \"not reached\"\n".write(to: sock, atomically: true, encoding: .utf8)
    let py = dir.appendingPathComponent("false.py")
    XCTAssertEqual(try sockscript(["export", "python", sock.path, "-o", py.path]).code, 0)
    let python = URL(fileURLWithPath: "/usr/bin/env")
    let r = try execute(python, ["python3", py.path])
    XCTAssertEqual(r.code, 1, r.err)
    XCTAssertTrue(r.out.contains("EADDRINUSE  FAIL: expected ok"), r.out)
    XCTAssertFalse(r.out.contains("not reached"))
    XCTAssertTrue(r.out.hasSuffix("FAIL  \(sock.path): 1 of 4 expectations failed\n"), r.out)
    XCTAssertTrue(try execute(python, ["python3", py.path, "--keep-going"]).out.contains("not reached"))

    let bad = dir.appendingPathComponent("err.sock")
    try "repeat 2 { socket c[i] }\nclose c[5]\n".write(to: bad, atomically: true, encoding: .utf8)
    let badPy = dir.appendingPathComponent("err.py")
    XCTAssertEqual(try sockscript(["export", "python", bad.path, "-o", badPy.path]).code, 0)
    let e = try execute(python, ["python3", badPy.path])
    XCTAssertEqual(e.code, 2)
    XCTAssertTrue(e.err.contains("\(bad.path):2:7: error: socket c[5] does not exist"), e.err)
    // The script is plain Python 3 that the standard library runs: no imports beyond it.
    let text = try String(contentsOf: badPy, encoding: .utf8)
    let imports = Set(text.split(separator: "\n").filter { $0.hasPrefix("import ") }.map { $0.dropFirst(7).split(separator: " ")[0] })
    XCTAssertEqual(imports, ["ctypes", "errno", "fcntl", "os", "socket", "struct", "sys", "time"])
  }
}

extension ExportTests {
  /// `show` in an exported program lists the namespace's sockets (sock_diag)
  /// with the scenario's names for those it holds.
  func testShowNamesTheScenariosSockets() throws {
    try Needs.realBackend()
    try Needs.tools("cc", "python3")
    let sock = dir.appendingPathComponent("show.sock")
    try "socket srv\nbind srv 127.0.0.1:8080\nlisten srv\nsocket c\nconnect c 127.0.0.1:8080\nshow\n".write(
      to: sock, atomically: true, encoding: .utf8)
    guard case .success(let bin) = build(sock, name: "show") else { return XCTFail("no program") }
    let py = dir.appendingPathComponent("show.py")
    XCTAssertEqual(try sockscript(["export", "python", sock.path, "-o", py.path]).code, 0)
    for r in [try execute(bin, []), try execute(URL(fileURLWithPath: "/usr/bin/env"), ["python3", py.path])] {
      XCTAssertEqual(r.code, 0, r.out + r.err)
      let rows = r.out.split(separator: "\n").filter { $0.hasPrefix("      ") }.map { $0.split(separator: " ").map(String.init) }
      XCTAssertEqual(rows.first, ["NAME", "PROTO", "STATE", "LOCAL", "REMOTE"], r.out)
      XCTAssertTrue(rows.contains(["srv", "tcp", "LISTEN", "127.0.0.1:8080", "*"]), r.out)
      XCTAssertTrue(rows.contains { $0.first == "c" && $0[2] == "ESTABLISHED" && $0[4] == "127.0.0.1:8080" }, r.out)
      XCTAssertTrue(rows.contains { $0.first == "-" && $0[2] == "ESTABLISHED" && $0[3] == "127.0.0.1:8080" }, "the unaccepted end: \(r.out)")
    }
  }
}

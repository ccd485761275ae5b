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

  func build(_ sock: URL, name: String, minimal: Bool = false) -> Result<URL, Failure> {
    let c = dir.appendingPathComponent("\(name).c")
    let bin = dir.appendingPathComponent(name)
    guard let e = try? sockscript(["export", "c", sock.path, "-o", c.path] + (minimal ? ["--minimal"] : [])), e.code == 0 else {
      return .failure(Failure(why: "export failed"))
    }
    // No absolute path of this machine in a program meant for a bug report.
    if let text = try? String(contentsOf: c, encoding: .utf8), text.contains(sock.deletingLastPathComponent().path) {
      return .failure(Failure(why: "the program names \(sock.deletingLastPathComponent().path)"))
    }
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

  /// A --minimal program's lines against the real backend's transcript:
  /// each of its lines (a call or an expectation, numbered by the source
  /// line) begins the real one, which goes on with the endpoints; a result
  /// among the alternatives a `=> a|b` allows may differ. `let` and
  /// `sleep` print nothing in it.
  static func minimalAgrees(_ minimal: String, _ real: String) -> String? {
    let x = steps(minimal)
    let y = steps(real).filter { $0.count < 2 || !["let", "sleep"].contains($0[1]) }
    guard x.count == y.count else { return "\(x.count) steps against \(y.count)" }
    for (l, r) in zip(x, y) where Array(r.prefix(l.count)) != l {
      let alternatives = l.contains("=>") && l.contains { $0.contains("|") || $0 == "any" }
      if !(alternatives && l.first == r.first) { return "\(l.joined(separator: " ")) | \(r.joined(separator: " "))" }
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
    let built = parallelMap(Array(zip(files, names))) { [self] f, name -> [(String, Result<URL, Failure>)] in
      func python(_ flags: [String], _ suffix: String) -> Result<URL, Failure> {
        let py = dir.appendingPathComponent("\(name)\(suffix).py")
        guard (try? sockscript(["export", "python", f.path, "-o", py.path] + flags))?.code == 0 else { return .failure(Failure(why: "python export failed")) }
        let text = (try? String(contentsOf: py, encoding: .utf8)) ?? ""
        return text.contains(f.deletingLastPathComponent().path) ? .failure(Failure(why: "the script names its folder")) : .success(py)
      }
      return [
        ("C", build(f, name: name)), ("Python", python([], "")),
        ("minimal C", build(f, name: name + "-min", minimal: true)), ("minimal Python", python(["--minimal"], "-min")),
      ]
    }
    var failures: [String] = []
    enum Job {
      case program(String, URL), real(URL)
    }
    var jobs: [(Int, Job)] = []
    for (i, programs) in built.enumerated() {
      for (kind, r) in programs {
        switch r {
        case .failure(let f): failures.append("\(files[i].lastPathComponent) (\(kind)): \(f.why)")
        case .success(let url): jobs.append((i, .program(kind, url)))
        }
      }
      jobs.append((i, .real(files[i])))
    }
    nonisolated(unsafe) let work = jobs
    let runs = parallelMap(Array(work.indices), width: 6) { k -> Exec in
      let r: Exec?
      switch work[k].1 {
      case .program(let kind, let url):
        r = kind.hasSuffix("Python") ? try? execute(URL(fileURLWithPath: "/usr/bin/env"), ["python3", url.path]) : try? execute(url, [])
      case .real(let f): r = try? sockscript(["run", "--backend", "real", f.path])
      }
      return r ?? Exec(code: -1, out: "", err: "could not start")
    }
    var byFile: [Int: [String: Exec]] = [:]
    for (k, (i, job)) in jobs.enumerated() {
      let kind: String
      switch job {
      case .program(let k, _): kind = k
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
      for kind in ["C", "Python", "minimal C", "minimal Python"] {
        guard let r = byFile[i]?[kind] else { continue }
        if r.code != 0 {
          failures.append("\(f.lastPathComponent): the \(kind) program exits \(r.code):\n\(r.out)\(r.err)")
        } else if let d = kind.hasPrefix("minimal") ? Self.minimalAgrees(r.out, real.out) : Self.agree(r.out, real.out) {
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
    XCTAssertTrue(r.out.hasSuffix("FAIL  \(sock.lastPathComponent): 1 of 4 expectations failed\n"), r.out)
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
    XCTAssertTrue(r.err.contains("err.sock:2:7: error: socket c[5] does not exist"), r.err)
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
    XCTAssertTrue(r.out.hasSuffix("FAIL  \(sock.lastPathComponent): 1 of 4 expectations failed\n"), r.out)
    XCTAssertTrue(try execute(python, ["python3", py.path, "--keep-going"]).out.contains("not reached"))

    let bad = dir.appendingPathComponent("err.sock")
    try "repeat 2 { socket c[i] }\nclose c[5]\n".write(to: bad, atomically: true, encoding: .utf8)
    let badPy = dir.appendingPathComponent("err.py")
    XCTAssertEqual(try sockscript(["export", "python", bad.path, "-o", badPy.path]).code, 0)
    let e = try execute(python, ["python3", badPy.path])
    XCTAssertEqual(e.code, 2)
    XCTAssertTrue(e.err.contains("err.sock:2:7: error: socket c[5] does not exist"), e.err)
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

extension ExportTests {
  /// --minimal: literal syscalls after a short preamble, a result line per
  /// call, exit 1 at the first result that is not as written, and a precise
  /// error for what it cannot write.
  func testMinimalExportIsStraightLineAndFailsLikeTheFullOne() throws {
    try Needs.realBackend()
    try Needs.tools("cc", "python3")
    let sock = dir.appendingPathComponent("min.sock")
    try """
    repeat 2 { socket c[i]
      bind c[i] $(127.0.0.1 + i):8080 }
    expect c[1].lport == 8080
    socket d
    bind d 127.0.0.1:8080 => ok
    print "not reached"

    """.write(to: sock, atomically: true, encoding: .utf8)
    guard case .success(let bin) = build(sock, name: "min", minimal: true) else { return XCTFail("no program") }
    let c = try String(contentsOf: dir.appendingPathComponent("min.c"), encoding: .utf8)
    // The loop is unrolled into the literal calls, each sockaddr spelled out.
    XCTAssertTrue(c.contains(".sin_port = htons(8080), .sin_addr.s_addr = inet_addr(\"127.0.0.2\")"), c)
    XCTAssertTrue(c.contains("check(2, \"bind c[i] $(127.0.0.1 + i):8080\", bind(c[1].fd, (struct sockaddr *)&sa, sizeof sa), \"ok\");"), c)
    XCTAssertFalse(c.contains("sock_diag"), "no state helpers where no state is read")
    // The fixed preamble (includes, the result line, the namespace) is
    // short; the helpers the scenario needs follow it (here: port_of).
    let body = c.components(separatedBy: "/* ---- the scenario ---- */")[0]
    let fixed = body.components(separatedBy: "/* @")[0].split(separator: "\n").drop { $0.hasPrefix("/*") || $0.hasPrefix(" *") }
    XCTAssertLessThanOrEqual(fixed.count, 52, fixed.joined(separator: "\n"))
    XCTAssertTrue(body.contains("static inline int port_of(sock *s, int peer)"))
    let r = try execute(bin, [])
    XCTAssertEqual(r.code, 1, r.out + r.err)
    XCTAssertTrue(r.out.contains("   3  expect c[1].lport == 8080                    holds"), r.out)
    XCTAssertTrue(r.out.contains("   5  bind d 127.0.0.1:8080 => ok                  EADDRINUSE  FAIL: expected ok"), r.out)
    XCTAssertFalse(r.out.contains("not reached"))

    let py = dir.appendingPathComponent("min.py")
    XCTAssertEqual(try sockscript(["export", "python", "--minimal", sock.path, "-o", py.path]).code, 0)
    let p = try execute(URL(fileURLWithPath: "/usr/bin/env"), ["python3", py.path])
    XCTAssertEqual(p.code, 1, p.err)
    XCTAssertTrue(p.out.contains("EADDRINUSE  FAIL: expected ok"), p.out)
    XCTAssertTrue(try String(contentsOf: py, encoding: .utf8).contains("lambda: c[1].bind((\"127.0.0.2\", 8080))"))

    // A loop whose count the kernel decides cannot be unrolled: an error
    // with the position, and no program.
    let bad = dir.appendingPathComponent("bad-min.sock")
    try "socket a\nrepeat count(LISTEN) + 1 { socket b }\n".write(to: bad, atomically: true, encoding: .utf8)
    let e = try sockscript(["export", "c", "--minimal", bad.path])
    XCTAssertEqual(e.code, 2)
    XCTAssertEqual(e.out, "")
    XCTAssertTrue(e.err.contains("bad-min.sock:2:8: error: --minimal cannot write a repeat count the kernel decides"), e.err)
    XCTAssertTrue(e.err.contains("hint: export without --minimal"), e.err)
  }
}

import Foundation
import XCTest

/// The real backend, run as the built binary in its own process and its
/// own network namespace. CI runs as root.
final class RealBackendTests: XCTestCase {
  override func setUpWithError() throws { try Needs.realBackend() }

  func json(_ out: String) -> [[String: Any]] {
    out.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
  }

  func testHeaderNamesTheKernelRelease() throws {
    let r = try sockscript(["run", "--backend", "real", "-e", "socket a; bind a 127.0.0.1:0"])
    XCTAssertEqual(r.code, 0, r.err)
    var u = utsname()
    uname(&u)
    let release = withUnsafeBytes(of: &u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    XCTAssertTrue(r.out.hasPrefix("== -e  (backend real, kernel \(release), seed 0)"), r.out)
  }

  /// State only the kernel knows: an unaccepted connection, the TIME_WAIT an
  /// accepted socket leaves, and a TIME_WAIT timer that runs down.
  func testStateComesFromTheKernel() throws {
    let script = """
      socket srv; bind srv 127.0.0.1:8080; listen srv
      socket c; connect c 127.0.0.1:8080
      expect count(ESTABLISHED) == 2
      accept srv as s
      close s; close c
      expect s.state == TIME_WAIT and c.state == CLOSED
      show
      sleep 1500ms
      show
      """
    let r = try sockscript(["run", "--backend", "real", "--format", "json", "-e", script])
    XCTAssertEqual(r.code, 0, r.out + r.err)
    let shows = json(r.out).compactMap { $0["show"] as? [[String: Any]] }
    XCTAssertEqual(shows.count, 2)
    func timer(_ rows: [[String: Any]]) -> Double? {
      guard let tw = rows.first(where: { $0["state"] as? String == "TIME_WAIT" }), let t = tw["timer"] as? String else { return nil }
      XCTAssertEqual(tw["name"] as? String, "s (closed)")
      return Double(t.replacingOccurrences(of: "s left", with: ""))
    }
    let first = try XCTUnwrap(timer(shows[0]))
    let second = try XCTUnwrap(timer(shows[1]))
    XCTAssertGreaterThan(first, 55)
    XCTAssertLessThanOrEqual(first, 60)
    XCTAssertLessThan(second, first - 1, "the kernel's timer runs down between two shows")
  }

  /// Runs a program (the binary by default), optionally sending Ctrl-C after
  /// `interruptAfter` seconds. Returns the exit code, stderr and the wall time.
  func spawn(
    _ args: [String], executable: URL = Paths.binary, environment: [String: String]? = nil, interruptAfter: TimeInterval? = nil
  ) throws -> (Int32, String, TimeInterval) {
    let p = Process()
    p.executableURL = executable
    p.arguments = args
    if let env = environment { p.environment = env }
    let err = Pipe()
    p.standardError = err
    p.standardOutput = Pipe()
    let started = Date()
    try p.run()
    if let t = interruptAfter {
      Thread.sleep(forTimeInterval: t)
      kill(p.processIdentifier, SIGINT)
    }
    let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    return (p.terminationStatus, text, Date().timeIntervalSince(started))
  }

  func runReportingDescriptors(_ args: [String], interruptAfter: TimeInterval? = nil) throws -> (Int32, String, TimeInterval) {
    try spawn(args, environment: ["SOCKSCRIPT_REPORT_FDS": "1"], interruptAfter: interruptAfter)
  }

  func descriptorCounts(_ text: String) -> [Int] {
    text.split(separator: "\n").filter { $0.hasPrefix("descriptors ") }.compactMap { Int($0.split(separator: " ").last!) }
  }

  func testEveryDescriptorIsClosedAfterAFailure() throws {
    let (code, text, _) = try runReportingDescriptors([
      "run", "--backend", "real", "-e", "repeat 20 { socket c[i]; bind c[i] 127.0.0.1:0 }\nsocket x; bind x 10.1.1.1:80",
    ])
    XCTAssertEqual(code, 1)
    let counts = descriptorCounts(text)
    XCTAssertEqual(counts.count, 2, text)
    XCTAssertEqual(counts.first, counts.last, text)
  }

  func testCtrlCStopsARunAndClosesDescriptors() throws {
    let (code, text, elapsed) = try runReportingDescriptors(
      ["run", "--backend", "real", "-e", "repeat 5 { socket c[i]; bind c[i] 127.0.0.1:0 }\nsleep 30s\nshow"], interruptAfter: 1)
    XCTAssertLessThan(elapsed, 10, "Ctrl-C must not wait for the 30 s sleep")
    XCTAssertEqual(code, 130)
    XCTAssertTrue(text.contains("interrupted"), text)
    let counts = descriptorCounts(text)
    XCTAssertEqual(counts.count, 2, text)
    XCTAssertEqual(counts.first, counts.last, text)
  }

  func testEMFILENamesTheLimit() throws {
    let r = try sockscript(["run", "--backend", "real", "-e", "ulimit nofile 5\nsocket a; socket b; socket c => EMFILE"])
    XCTAssertEqual(r.code, 0, r.out + r.err)
    XCTAssertTrue(r.out.contains("why: the descriptor limit is reached: ulimit nofile 5"), r.out)
  }

  func testHostNetnsRefusesSysctlAndAddr() throws {
    let ok = try sockscript(["run", "--backend", "real", "--host-netns", "-e", "socket a; bind a 127.0.0.1:0; close a"])
    XCTAssertEqual(ok.code, 0, ok.out + ok.err)
    let r = try sockscript(["run", "--backend", "real", "--host-netns", "-e", "sysctl net.core.somaxconn = 5"])
    XCTAssertEqual(r.code, 2)
    XCTAssertTrue(r.err.contains("sysctl is refused with --host-netns"), r.err)
    let a = try sockscript(["run", "--backend", "real", "--host-netns", "-e", "addr add 10.9.9.9"])
    XCTAssertEqual(a.code, 2)
    XCTAssertTrue(a.err.contains("addr add is refused with --host-netns"), a.err)
  }

  /// With no namespace to be had (the limit set to 0 inside a throwaway
  /// user namespace, so the host is untouched), the run exits 3 and says why.
  func testNoNamespaceExits3() throws {
    let (code, text, _) = try spawn(
      ["-U", "-r", "sh", "-c", "echo 0 > /proc/sys/user/max_net_namespaces && exec \"$0\" run --backend real -e 'socket a'", Paths.binary.path],
      executable: URL(fileURLWithPath: "/usr/bin/unshare"))
    XCTAssertEqual(code, 3, text)
    XCTAssertTrue(text.contains("the real backend cannot run: cannot create a network namespace"), text)
    XCTAssertTrue(text.contains("hint: "), text)
  }

  /// An unprivileged user gets a user and network namespace; 'uid N' then
  /// has no mapping and says so.
  func testUnprivilegedRun() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sockscript-\(getpid())")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let bin = dir.appendingPathComponent("sockscript")
    try FileManager.default.copyItem(at: Paths.binary, to: bin)
    chmod(dir.path, 0o755)
    chmod(bin.path, 0o755)
    func asNobody(_ script: String) throws -> (Int32, String) {
      let (code, text, _) = try spawn(
        ["--reuid=65534", "--regid=65534", "--clear-groups", bin.path, "run", "--backend", "real", "-e", script],
        executable: URL(fileURLWithPath: "/usr/bin/setpriv"))
      return (code, text)
    }
    let (ok, _) = try asNobody("sysctl net.ipv4.ip_local_port_range = 40000 40001\nsocket a; bind a 127.0.0.1:0; expect a.lport in 40000..40001")
    XCTAssertEqual(ok, 0)
    let (code, text) = try asNobody("socket a uid 1000")
    XCTAssertEqual(code, 3)
    XCTAssertTrue(text.contains("cannot act as uid 1000"), text)
  }

  /// Two thousand random programs on the real backend, run in process (one
  /// private namespace after another, as inside a user-mode kernel), four
  /// seeds side by side: none hangs (each run has a deadline), none leaves
  /// a descriptor open (fuzz counts /proc/self/fd around every program),
  /// and the host's sysctls and sockets are as they were.
  func testRandomProgramsLeaveNoTraceOnTheHost() throws {
    try Needs.skip(unless: Needs.realBackendWorks, "the real backend needs root or user namespaces")
    let sysctls = Self.hostSysctls()
    let sockets = Self.hostSockets()
    XCTAssertGreaterThan(sysctls.count, 50)
    let runs = parallelMap([11, 12, 13, 14], width: 4) { seed -> (code: Int32, out: String, timedOut: Bool) in
      let out = FileManager.default.temporaryDirectory.appendingPathComponent("sockscript-leak-\(getpid())-\(seed)")
      defer { try? FileManager.default.removeItem(at: out) }
      let p = Process()
      p.executableURL = Paths.binary
      p.currentDirectoryURL = Paths.root
      p.arguments = ["fuzz", "--count", "500", "--seed", "\(seed)", "--jobs", "1", "--known", "Tests/fuzz-known.txt", "--out", out.path]
      let pipe = Pipe()
      p.standardOutput = pipe
      p.standardError = pipe
      guard (try? p.run()) != nil else { return (-1, "could not start", false) }
      final class Fired: @unchecked Sendable { var yes = false }
      let fired = Fired()
      let deadline = DispatchWorkItem {
        fired.yes = true
        kill(p.processIdentifier, SIGKILL)
      }
      DispatchQueue.global().asyncAfter(deadline: .now() + 600, execute: deadline)
      let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
      p.waitUntilExit()
      deadline.cancel()
      return (p.terminationStatus, text, fired.yes)
    }
    for r in runs {
      XCTAssertFalse(r.timedOut, "a run hung: \(r.out)")
      XCTAssertTrue(r.code == 0 || r.code == 1, r.out)
      // The shrinker's runs count too: 500 programs or more.
      let left = r.out.split(separator: "\n").first { $0.hasPrefix("descriptors: none left open by ") }
      XCTAssertNotNil(left, r.out)
      XCTAssertGreaterThanOrEqual(left.flatMap { Int($0.split(separator: " ")[5]) } ?? 0, 500, r.out)
      XCTAssertTrue(r.out.contains("500 programs run"), r.out)
    }
    XCTAssertEqual(Self.hostSysctls(), sysctls, "the host's sysctls changed")
    let added = Self.hostSockets().subtracting(sockets)
    XCTAssertTrue(added.isEmpty, "new sockets on the host: \(added.sorted())")
  }

  /// The host namespace's sysctls a program could write (net.ipv4, net.core
  /// and net.ipv6's top level), as name=value.
  static func hostSysctls() -> [String: String] {
    var out: [String: String] = [:]
    for dir in ["/proc/sys/net/ipv4", "/proc/sys/net/core", "/proc/sys/net/ipv6"] {
      for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
        var isDir: ObjCBool = false
        let path = "\(dir)/\(name)"
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue else { continue }
        if let v = try? String(contentsOfFile: path, encoding: .utf8) { out[path] = v }
      }
    }
    return out
  }

  /// The host's TCP listeners, and its TCP and UDP sockets on the ports
  /// random programs use (9, 8080, 8081, 40000..40010), as "file local state".
  static func hostSockets() -> Set<String> {
    let ports: Set<Int> = Set([9, 8080, 8081] + Array(40000...40010))
    var out: Set<String> = []
    for file in ["tcp", "tcp6", "udp", "udp6"] {
      let text = (try? String(contentsOfFile: "/proc/net/\(file)", encoding: .utf8)) ?? ""
      for line in text.split(separator: "\n").dropFirst() {
        let f = line.split(separator: " ")
        guard f.count > 3, let port = Int(f[1].split(separator: ":").last ?? "", radix: 16) else { continue }
        if ports.contains(port) || (file.hasPrefix("tcp") && f[3] == "0A") { out.insert("\(file) \(f[1]) \(f[3])") }
      }
    }
    return out
  }
}

import Foundation
import XCTest

/// `run --format md`: the report a user pastes into an issue.
final class MarkdownReportTests: XCTestCase {
  func testReportHasEveryPart() throws {
    let file = "Tests/Scenarios/udp/udp-reuseport-owner.sock"
    let r = try sockscript(["run", "--format", "md", file])
    XCTAssertEqual(r.code, 0, r.err)
    let md = r.out
    let source = try String(contentsOf: Paths.root.appendingPathComponent(file), encoding: .utf8)
    XCTAssertTrue(md.hasPrefix("## sockscript: `\(file)`\n"), md)
    XCTAssertTrue(md.contains("| backend | sim |"), md)
    XCTAssertTrue(md.contains("```sock\n\(source)```\n"), "the scenario itself, verbatim")
    XCTAssertTrue(md.contains("| `net.ipv4.ip_local_port_range` | `32768 60999` | default |"), md)
    XCTAssertTrue(md.contains("| line | call | expected | got | local | remote |"), md)
    // The refused bind: its row, and its why line.
    XCTAssertTrue(md.contains("| 10 | `bind c 127.0.0.1:5000 => EADDRINUSE` | EADDRINUSE | EADDRINUSE |  |  |"), md)
    XCTAssertTrue(
      md.contains(
        "- line 10, `bind c 127.0.0.1:5000 => EADDRINUSE`: 127.0.0.1:5000 overlaps a (BOUND on 127.0.0.1:5000) and b (BOUND on 127.0.0.1:5000): both set SO_REUSEPORT, but they belong to different uids (1000 and 1001)"
      ), md)
    XCTAssertTrue(md.hasSuffix("**PASS**: 9 statements, 9 expectations held (backend sim, kernel sim linux-6.18).\n"), md)
  }

  func testFailuresAndPipesAreMarked() throws {
    let r = try sockscript(["run", "--format", "md", "-e", "sysctl net.ipv4.tcp_tw_reuse = 0; socket a; connect a 127.0.0.1:9 => ok|EAGAIN"])
    XCTAssertEqual(r.code, 1)
    XCTAssertTrue(r.out.contains(#"| `connect a 127.0.0.1:9 => ok\|EAGAIN` | ok\|EAGAIN | ECONNREFUSED **FAIL** |"#), r.out)
    XCTAssertTrue(r.out.contains("| `net.ipv4.tcp_tw_reuse` | `0` | set by the scenario |"), r.out)
    // An inline script is repeated in the command that reproduces it.
    XCTAssertTrue(
      r.out.contains(#"| reproduce | `sockscript run --backend sim --seed 0 -e 'sysctl net.ipv4.tcp_tw_reuse = 0; socket a; connect a 127.0.0.1:9 => ok\|EAGAIN'` |"#),
      r.out)
    XCTAssertTrue(r.out.hasSuffix("**FAIL**: 1 of 3 expectations failed (backend sim, kernel sim linux-6.18).\n"), r.out)
  }

  /// The sysctl table read from a fresh namespace of the real kernel equals
  /// the simulator's defaults (and its values after the scenario's sysctls).
  func testSysctlsMatchTheRealKernel() throws {
    try Needs.realBackend()
    let script = "sysctl net.ipv4.ip_local_reserved_ports = 40000-40010,40020; sysctl net.ipv4.ip_local_port_range = 40000 50000"
    func sysctls(_ backend: String) throws -> [String] {
      let r = try sockscript(["run", "--format", "md", "--backend", backend, "-e", script])
      XCTAssertEqual(r.code, 0, r.out + r.err)
      return r.out.split(separator: "\n").filter { $0.hasPrefix("| `net.") }.map(String.init)
    }
    let sim = try sysctls("sim")
    XCTAssertEqual(sim.count, 17)  // every key of the brief and its additions
    XCTAssertEqual(sim, try sysctls("real"))
  }
}

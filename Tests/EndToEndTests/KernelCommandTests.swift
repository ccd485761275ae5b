import Foundation
import XCTest

/// `--kernel`, `sockscript kernels` and the version matrix, as a user runs them.
final class KernelCommandTests: XCTestCase {
  func testListNamesTheHostAndEveryLine() throws {
    let r = try sockscript(["kernels", "list"])
    XCTAssertEqual(r.code, 0, r.err)
    XCTAssertTrue(r.out.contains("host   "), r.out)
    for v in ["5.10", "6.1", "6.12", "7.2"] { XCTAssertTrue(r.out.contains("\n\(v) "), r.out) }
    XCTAssertTrue(r.out.contains("simulator profiles: 5.10, 6.1, 6.12, 6.18, 7.2 (default 6.18)"), r.out)
  }

  func testMissingKernelIsAClearError() throws {
    let empty = FileManager.default.temporaryDirectory.appendingPathComponent("sockscript-no-kernels-\(getpid())")
    try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: empty) }
    let r = try sockscript(["run", "--backend", "real", "--kernel", "7.2", "-e", "socket a"], environment: ["SOCKSCRIPT_KERNELS": empty.path])
    XCTAssertEqual(r.code, 3)
    XCTAssertTrue(r.err.contains("Linux 7.2 is not fetched"), r.err)
    XCTAssertTrue(r.err.contains("run 'sockscript kernels fetch 7.2'"), r.err)
    // The simulator alone needs no kernel.
    XCTAssertEqual(try sockscript(["run", "--kernel", "7.2", "-e", "expect kernel == 7.2"], environment: ["SOCKSCRIPT_KERNELS": empty.path]).code, 0)
    let bad = try sockscript(["run", "--kernel", "4.19", "-e", "socket a"])
    XCTAssertEqual(bad.code, 2)
    XCTAssertTrue(bad.err.contains("unknown kernel '4.19'; known: 5.10, 6.1, 6.12, 6.18, 7.2, host"), bad.err)
  }

  /// The real backend inside a user-mode kernel: the run reports that
  /// kernel's release and its behaviour. Needs the kernels fetched (CI
  /// fetches them; locally: sockscript kernels fetch).
  func testRealBackendRunsInsideAnotherKernel() throws {
    let list = try sockscript(["kernels", "list"]).out
    guard let line = list.split(separator: "\n").first(where: { $0.hasPrefix("6.1 ") }), !line.contains("not fetched") else {
      throw XCTSkip("Linux 6.1 is not fetched (sockscript kernels fetch 6.1)")
    }
    let r = try sockscript([
      "run", "--backend", "real", "--kernel", "6.1", "-e",
      "print kernel; socket a; setopt a reuseaddr; bind a 127.0.0.1:0; expect a.state == BOUND; sysctl net.ipv4.tcp_tw_reuse_delay = 5 => ENOENT",
    ])
    XCTAssertEqual(r.code, 0, r.out + r.err)
    XCTAssertTrue(r.out.contains("kernel 6.1.176"), r.out)
    XCTAssertTrue(r.out.contains("\n6.1.176\n"), r.out)
  }

  func testMatrixShowsWhereAResultChanged() throws {
    let f = Paths.root.appendingPathComponent("Tests/Scenarios/connect/connect-bind0-marks-port.sock").path
    let r = try sockscript(["diff", "--kernel", "all", f])
    XCTAssertEqual(r.code, 0, r.out + r.err)
    let row = r.out.split(separator: "\n").first { $0.contains("connect d 127.0.0.1:8081 => EADDRNOTAVAIL") && $0.contains("5.10") == false }
    XCTAssertNotNil(row, r.out)
    XCTAssertTrue(row!.hasSuffix("6.18"), String(row!))
    XCTAssertTrue(r.out.contains("simulator and kernel agree on each"), r.out)
    let md = try sockscript(["diff", "--kernel", "all", "--format", "md", f])
    XCTAssertTrue(md.out.contains("| line | statement | 5.10 | 6.1 | 6.12 | 6.18 | 7.2 | changed in |"), md.out)
    XCTAssertTrue(md.out.contains("Verdict: the simulator agrees with every kernel."), md.out)
    XCTAssertEqual(try sockscript(["diff", "--kernel", "all", "--format", "json", f]).code, 2, "the matrix prints text or md")
  }
}

/// `diff --format md|json`: a disagreement to paste into an issue.
final class DiffFormatTests: XCTestCase {
  let file = Paths.root.appendingPathComponent("Tests/Scenarios/connect/connect-bind0-marks-port.sock").path

  func testMarkdownNamesKernelsScenarioStepsAndVerdict() throws {
    // A rule switched off makes the simulator disagree at line 20.
    let r = try sockscript(["diff", "--sim-disable", "release-restores-bucket", "--format", "md", file])
    XCTAssertEqual(r.code, 1, r.out + r.err)
    XCTAssertTrue(r.out.contains("| kernel | sim linux-6.18 | "), r.out)
    XCTAssertTrue(r.out.contains("<summary>Scenario</summary>"), r.out)
    XCTAssertTrue(r.out.contains("| 20 | `connect d 127.0.0.1:8081` | `EADDRNOTAVAIL` | `ok` | connect() found no usable source port"), r.out)
    XCTAssertTrue(r.out.contains("Verdict: DIFFER"), r.out)
    XCTAssertFalse(r.out.contains(Paths.root.path + "/Sources"), "no build paths in a report")
  }

  func testJSONLinesHaveEachDifferenceThenASummary() throws {
    let r = try sockscript(["diff", "--sim-disable", "release-restores-bucket", "--format", "json", file])
    XCTAssertEqual(r.code, 1, r.err)
    let lines = r.out.split(separator: "\n").map { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    XCTAssertEqual(lines.count, 2, r.out)
    let d = try XCTUnwrap(lines[0])
    XCTAssertEqual(d["line"] as? Int, 20)
    XCTAssertEqual((d["sim"] as? [String: Any])?["result"] as? String, "EADDRNOTAVAIL")
    XCTAssertEqual((d["real"] as? [String: Any])?["result"] as? String, "ok")
    let summary = try XCTUnwrap(lines[1]?["summary"] as? [String: Any])
    XCTAssertEqual(summary["verdict"] as? String, "differ")
    XCTAssertEqual(summary["differences"] as? Int, 1)
    let agree = try sockscript(["diff", "--format", "json", file])
    XCTAssertEqual(agree.code, 0, agree.out)
    XCTAssertTrue(agree.out.contains("\"verdict\":\"agree\""), agree.out)
  }
}

/// `show` lists the same rows in the same order on both backends.
final class ShowAlikeTests: XCTestCase {
  func testRowsInCreationOrderWithInheritedOptions() throws {
    let text = """
      socket srv
      setopt srv reuseaddr
      bind srv 127.0.0.1:8080
      listen srv
      socket c
      connect c 127.0.0.1:8080
      socket u udp
      bind u 127.0.0.1:9000
      accept srv as s
      socket z
      show
      """
    func rows(_ backend: String) throws -> [[String]] {
      let r = try sockscript(["run", "--backend", backend, "--format", "json", "-e", text])
      XCTAssertEqual(r.code, 0, r.err)
      let line = try XCTUnwrap(r.out.split(separator: "\n").first { $0.hasPrefix("{\"show\"") })
      let obj = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
      let arr = try XCTUnwrap(obj["show"] as? [[String: Any]])
      return arr.map { [($0["name"] as? String) ?? "", (($0["options"] as? [String]) ?? []).joined(separator: ",")] }
    }
    let sim = try rows("sim")
    XCTAssertEqual(sim.map { $0[0] }, ["srv", "c", "u", "s", "z"], "the scenario's creation order, accept as a creation")
    XCTAssertEqual(sim[3][1], "reuseaddr", "the accepted socket shows the option it inherited")
    XCTAssertEqual(try rows("real").map { $0[0] }, sim.map { $0[0] })
    XCTAssertEqual(try rows("real")[3][1], "reuseaddr")
  }
}

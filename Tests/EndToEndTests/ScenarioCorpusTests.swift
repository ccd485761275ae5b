import Foundation
import XCTest

/// The corpus: every example and every scenario under Tests/Scenarios states
/// its own expectations (`=>` and `expect`); each must pass when run by the
/// built binary. Every script under Tests/Broken lists the diagnostics it
/// must produce as `# error: LINE:COL: MESSAGE` lines.
final class ScenarioCorpusTests: XCTestCase {
  func testExamplesPass() throws {
    let files = Paths.files("examples")
    XCTAssertGreaterThanOrEqual(files.count, 7)
    for f in files {
      let r = try sockscript(["run", f.path])
      XCTAssertEqual(r.code, 0, "\(f.lastPathComponent):\n\(r.out)\(r.err)")
      XCTAssertTrue(r.out.contains("PASS  "), f.lastPathComponent)
      XCTAssertEqual(r.err, "")
    }
  }

  func testScenariosPass() throws {
    let files = Paths.files("Tests/Scenarios")
    XCTAssertGreaterThanOrEqual(files.count, 10, "the scenario corpus")
    for f in files {
      let r = try sockscript(["run", f.path])
      XCTAssertEqual(r.code, 0, "\(f.lastPathComponent):\n\(r.out)\(r.err)")
    }
  }

  func testBrokenScriptsReportExactDiagnostics() throws {
    let files = Paths.files("Tests/Broken")
    XCTAssertGreaterThanOrEqual(files.count, 5)
    for f in files {
      let text = try String(contentsOf: f, encoding: .utf8)
      let expected = text.split(separator: "\n").compactMap { line -> String? in
        guard line.hasPrefix("# error: ") else { return nil }
        return "Tests/Broken/\(f.lastPathComponent):" + line.dropFirst("# error: ".count)
      }
      XCTAssertFalse(expected.isEmpty, "\(f.lastPathComponent) states no expected errors")
      let rel = "Tests/Broken/\(f.lastPathComponent)"
      let r = try sockscript(["check", rel])
      XCTAssertEqual(r.code, 2, rel)
      let got = r.err.split(separator: "\n").filter { $0.hasPrefix(rel + ":") && $0.contains(": error: ") }.map { String($0).replacingOccurrences(of: " error: ", with: " ") }
      XCTAssertEqual(got, expected, rel)
      // `run` refuses the same file with the same diagnostics and runs nothing.
      let run = try sockscript(["run", rel])
      XCTAssertEqual(run.code, 2)
      XCTAssertEqual(run.out, "")
      XCTAssertEqual(run.err, r.err.components(separatedBy: "\n").dropLast(2).joined(separator: "\n") + "\n")
    }
  }
}

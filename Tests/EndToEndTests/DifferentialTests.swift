import Foundation
import XCTest

/// The differential suite: every scenario and example runs on the simulator
/// and on the real kernel (in its own network namespace, in its own
/// process), and the two must agree call by call. Needs root (CI is).
final class DifferentialTests: XCTestCase {
  static var suite: [URL] { Paths.files("Tests/Scenarios") + Paths.files("examples") }

  /// Runs `sockscript diff` on each file, four processes at a time.
  final class Results: @unchecked Sendable {
    var items: [(URL, Exec)?]
    init(_ n: Int) { items = Array(repeating: nil, count: n) }
  }

  func diffAll(_ files: [URL], extra: [String] = []) throws -> [(URL, Exec)] {
    let results = Results(files.count)
    let lock = NSLock()
    let queue = OperationQueue()
    queue.maxConcurrentOperationCount = 4
    for (i, f) in files.enumerated() {
      queue.addOperation {
        let r = (try? sockscript(["diff"] + extra + [f.path])) ?? Exec(code: -1, out: "", err: "could not start")
        lock.lock()
        results.items[i] = (f, r)
        lock.unlock()
      }
    }
    queue.waitUntilAllOperationsAreFinished()
    return results.items.map { $0! }
  }

  func testSimulatorAgreesWithTheRealKernel() throws {
    let files = Self.suite
    XCTAssertGreaterThanOrEqual(files.count, 20)
    for (f, r) in try diffAll(files) {
      XCTAssertEqual(r.code, 0, "\(f.lastPathComponent) differs:\n\(r.out)\(r.err)")
      XCTAssertTrue(r.out.contains("AGREE "), f.lastPathComponent)
    }
  }

  /// Files whose real run sleeps 5 s or more are left out of the rule runs.
  static func quick(_ f: URL) -> Bool {
    let text = (try? String(contentsOf: f, encoding: .utf8)) ?? ""
    let long = try! NSRegularExpression(pattern: #"^\s*sleep\s+([5-9]|[1-9][0-9]+)(\.[0-9]+)?s\b|^\s*sleep\s+[0-9.]+m\b"#, options: .anchorsMatchLines)
    return long.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) == nil
  }

  /// A check that cannot fail proves nothing: switching off any one rule of
  /// the simulator must turn some scenario red.
  func testEverySwitchedOffRuleIsCaught() throws {
    let rules = try sockscript(["diff", "--sim-disable", "none", "x"]).err
    XCTAssertTrue(rules.contains("rules: "), rules)
    let line = rules.split(separator: "\n").first { $0.contains("rules: ") }!
    let names = line.components(separatedBy: "rules: ").last!.trimmingCharacters(in: .whitespaces).components(separatedBy: ", ")
    XCTAssertGreaterThanOrEqual(names.count, 9)
    let files = Self.suite.filter(Self.quick)
    for rule in names {
      let results = try diffAll(files, extra: ["--sim-disable", rule])
      let red = results.filter { $0.1.code == 1 }.map { $0.0.lastPathComponent }
      XCTAssertFalse(red.isEmpty, "switching off '\(rule)' turned no scenario red")
    }
  }
}

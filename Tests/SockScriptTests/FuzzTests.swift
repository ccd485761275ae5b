import SockKernel
import SockSyntax
import XCTest

@testable import SockScript

/// The differential tester's parts: the generator, the trace comparison,
/// delta debugging, and the whole loop against a stand-in "real kernel"
/// (a simulator with one rule switched off), so no privileges are needed.
final class FuzzTests: XCTestCase {
  func testSameSeedSameProgramsAndEveryProgramChecks() {
    let g = ScenarioGenerator(seed: 11)
    XCTAssertEqual(g.program(5), ScenarioGenerator(seed: 11).program(5))
    XCTAssertNotEqual(g.program(5), g.program(6))
    XCTAssertNotEqual(g.program(5), ScenarioGenerator(seed: 12).program(5))
    var keywords = Set<String>()
    for i in 0..<400 {
      let lines = g.program(i)
      let (program, diags) = Runner.compile(SourceFile(name: "p\(i)", text: lines.joined(separator: "\n")))
      XCTAssertNotNil(program, "program \(i) does not check: \(diags.map(\.message))\n\(lines.joined(separator: "\n"))")
      for l in lines { keywords.insert(String(l.prefix { $0 != " " })) }
    }
    // Every statement of the language but the ones that need no kernel shows up.
    for kw in ["socket", "setopt", "bind", "listen", "connect", "accept", "send", "recv", "sendto", "recvfrom", "shutdown", "close", "sleep", "sysctl"] {
      XCTAssertTrue(keywords.contains(kw), kw)
    }
  }

  func testShrinkerFindsTheMinimalLines() {
    let lines = (0..<40).map { "line \($0)" }
    var calls = 0
    let out = Shrinker.minimize(lines) { l in
      calls += 1
      return l.contains("line 7") && l.contains("line 31")
    }
    XCTAssertEqual(out, ["line 7", "line 31"])
    XCTAssertLessThan(calls, 120)
  }

  func testTracesDifferByResultOrLength() {
    func t(_ results: [String?], exit: Int32 = 0) -> Trace {
      Trace(steps: results.enumerated().map { Trace.Step(line: $0 + 1, text: "x", result: $1, pass: true) }, exit: exit)
    }
    XCTAssertNil(t(["ok", "EINVAL"]).firstDifference(t(["ok", "EINVAL"])))
    XCTAssertEqual(t(["ok", "EINVAL"]).firstDifference(t(["ok", "ok"])), 1)
    XCTAssertEqual(t(["ok"]).firstDifference(t(["ok", "ok"])), 1)
    XCTAssertEqual(t(["ok"], exit: 2).firstDifference(t(["ok"])), 1)
  }

  /// The loop finds a rule the "real kernel" lacks, shrinks it, and writes
  /// a scenario that holds on that kernel.
  func testFindsAndShrinksAMissingRule() {
    let stand = SimKernel.Config(seed: 9, timeoutMs: 100, disabledRules: [.selfConnect])
    let realByStandIn: ([String]) -> [Trace?] = { texts in
      texts.map { Trace.simulate(SourceFile(name: "fuzz.sock", text: $0), config: stand) }
    }
    let f = Fuzzer(options: .init(seed: 9, count: 150, timeoutMs: 100, timeLimitMs: nil, batch: 8), runReal: realByStandIn, clockMs: { 0 })
    var found: [FuzzFinding] = []
    f.run { found.append($0) }
    XCTAssertGreaterThan(f.disagreed, 0)
    XCTAssertEqual(f.ran, 150)
    XCTAssertEqual(f.agreed + f.disagreed, 150)
    let first = try! XCTUnwrap(found.first)
    XCTAssertLessThanOrEqual(first.minimized.count, 4, first.scenario)
    XCTAssertTrue(first.signature.hasPrefix("connect: sim ok, real ECONNREFUSED"), first.signature)
    // The written scenario passes on the stand-in kernel, and fails on the simulator.
    let file = SourceFile(name: "found.sock", text: first.scenario)
    XCTAssertEqual(Trace.simulate(file, config: stand)?.exit, 0, first.scenario)
    XCTAssertEqual(Trace.simulate(file, config: .init(seed: 9, timeoutMs: 100))?.exit, 1, first.scenario)
  }
}

import Foundation
import SockKernel
import XCTest

@testable import SockScript

/// The export runtimes are real C and Python files (Export/runtime/), checked
/// as themselves, embedded by tools/gen-runtimes.sh; their tables must be
/// the project's.
final class RuntimeSourceTests: XCTestCase {
  static let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Sources/SockScript/Export/runtime")
  static var c: String { (try? String(contentsOf: dir.appendingPathComponent("sockrepro.c"), encoding: .utf8)) ?? "" }
  static var python: String { (try? String(contentsOf: dir.appendingPathComponent("sockrepro.py"), encoding: .utf8)) ?? "" }

  func testEmbeddedTextIsTheSourceFiles() {
    XCTAssertEqual(CRuntime.source + "\n", Self.c, "Runtimes.generated.swift is stale: run tools/gen-runtimes.sh")
    XCTAssertEqual(PythonRuntime.source + "\n", Self.python, "Runtimes.generated.swift is stale: run tools/gen-runtimes.sh")
    for (embedded, file) in [(MinimalRuntime.c, "minimal.c"), (MinimalRuntime.python, "minimal.py")] {
      let text = (try? String(contentsOf: Self.dir.appendingPathComponent(file), encoding: .utf8)) ?? ""
      XCTAssertEqual(embedded + "\n", text, "Runtimes.generated.swift is stale: run tools/gen-runtimes.sh")
    }
  }

  func run(_ args: [String]) throws -> (Int32, String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = args
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    try p.run()
    let out = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: out, as: UTF8.self))
  }

  func need(_ tool: String) throws {
    let found = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").contains {
      FileManager.default.isExecutableFile(atPath: "\($0)/\(tool)")
    }
    if !found && ProcessInfo.processInfo.environment["CI"] == nil { throw XCTSkip("'\(tool)' is not installed") }
  }

  func testCRuntimeCompilesAsC() throws {
    try need("cc")
    let (code, out) = try run(["cc", "-Wall", "-Wextra", "-Werror", "-fsyntax-only", Self.dir.appendingPathComponent("sockrepro.c").path])
    XCTAssertEqual(code, 0, out)
  }

  func testPythonRuntimeCompiles() throws {
    try need("python3")
    let script = "import py_compile, sys, tempfile; py_compile.compile(sys.argv[1], cfile=tempfile.mktemp(), doraise=True)"
    let (code, out) = try run(["python3", "-c", script, Self.dir.appendingPathComponent("sockrepro.py").path])
    XCTAssertEqual(code, 0, out)
  }

  /// The quoted names of a table in the source, from `start` to `end`.
  func names(in text: String, from start: String, to end: String, pattern: String) -> [String] {
    guard let a = text.range(of: start), let b = text.range(of: end, range: a.upperBound..<text.endIndex) else { return [] }
    let part = String(text[a.upperBound..<b.lowerBound])
    let re = try! NSRegularExpression(pattern: pattern)
    return re.matches(in: part, range: NSRange(part.startIndex..., in: part)).map { String(part[Range($0.range(at: 1), in: part)!]) }
  }

  func testErrnoAndStateTablesAreTheProjects() throws {
    let errnos = Errno.allCases.map(\.name)
    let states = SockState.allCases.map(\.rawValue)
    XCTAssertEqual(names(in: Self.c, from: "errnos[] = {", to: "};", pattern: #"\{E\w+, "(E\w+)"\}"#), errnos)
    XCTAssertEqual(names(in: Self.python, from: "ERRNO_NAMES = [", to: "]", pattern: #""(E\w+)""#), errnos)
    XCTAssertEqual(names(in: Self.c, from: "state_names[] = {", to: "};", pattern: #""(\w+)""#), states)
    XCTAssertEqual(names(in: Self.python, from: "STATES = [", to: "]", pattern: #""(\w+)""#), states)
    let cEnum = names(in: Self.c, from: "enum { S_CLOSED", to: "};", pattern: #"S_(\w+)"#)
    XCTAssertEqual(["CLOSED"] + cEnum, states)
    // And Errno's numbers are Linux's (Python's errno module reads them from the C headers).
    try need("python3")
    let (code, out) = try run(["python3", "-c", "import errno, sys; print(' '.join(str(getattr(errno, n)) for n in sys.argv[1:]))"] + errnos)
    XCTAssertEqual(code, 0, out)
    XCTAssertEqual(out.trimmingCharacters(in: .whitespacesAndNewlines), Errno.allCases.map { String($0.rawValue) }.joined(separator: " "))
  }

  /// Every option of the table is handled by both runtimes' c_setopt.
  func testRuntimesKnowEveryOption() {
    for name in SocketOption.allNames {
      XCTAssertTrue(Self.c.contains("!strcmp(opt, \"\(name)\")"), "sockrepro.c: \(name)")
      XCTAssertTrue(Self.python.contains("opt == \"\(name)\""), "sockrepro.py: \(name)")
    }
  }
}

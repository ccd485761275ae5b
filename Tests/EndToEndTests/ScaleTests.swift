import Foundation
import XCTest

/// Issue 14, item 2: memory follows live sockets, and the transcript streams.
final class ScaleTests: XCTestCase {
  func shell(_ script: String) throws -> Exec { try execute(URL(fileURLWithPath: "/bin/sh"), ["-c", script]) }

  func scenario(_ text: String) throws -> String {
    let path = NSTemporaryDirectory() + "scale-\(UUID().uuidString).sock"
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
    return path
  }

  /// 600,000 statements of socket/bind/close: the peak RSS stays under
  /// 40 MiB (it was 212 MB for a million before sockets were forgotten).
  func testChurnPeakFollowsLiveSockets() throws {
    try Needs.skip(unless: FileManager.default.isExecutableFile(atPath: "/usr/bin/time"), "needs /usr/bin/time (Debian: time)")
    let file = try scenario("repeat 200000 {\n  socket a\n  bind a 127.0.0.1:0\n  close a\n}\n")
    let r = try shell("/usr/bin/time -f '%M' -o '\(file).rss' '\(Paths.binary.path)' run '\(file)' | tail -1; cat '\(file).rss'; rm -f '\(file).rss'")
    let lines = r.out.split(separator: "\n")
    XCTAssertEqual(lines.first.map(String.init), "PASS  \(file): 600000 statements, 600000 expectations held", r.out + r.err)
    let kb = Int(lines.last ?? "") ?? Int.max
    XCTAssertLessThan(kb, 40 * 1024, "peak RSS \(kb) KB")
  }

  /// A run killed half way has already written most of its transcript.
  func testTranscriptStreams() throws {
    let file = try scenario("repeat 100000000 {\n  socket a\n  close a\n}\n")
    let r = try shell("timeout -s KILL 3 '\(Paths.binary.path)' run '\(file)' > '\(file).out'; wc -l < '\(file).out'; tail -c 200 '\(file).out'; rm -f '\(file).out'")
    let count = Int(r.out.split(separator: "\n").first ?? "") ?? 0
    XCTAssertGreaterThan(count, 10_000, r.out)
    XCTAssertFalse(r.out.contains("PASS"), "the run was stopped before its end")
  }
}

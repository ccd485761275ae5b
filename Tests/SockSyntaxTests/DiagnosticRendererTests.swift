import XCTest

@testable import SockSyntax

final class DiagnosticRendererTests: XCTestCase {
  func testCaretUnderTheSpot() {
    let f = SourceFile(name: "x.sock", text: "socket a\nsetopt a reuseadr\n")
    let d = Diagnostic("unknown option 'reuseadr'", at: Span(18, 26), hint: "did you mean 'reuseaddr'?")
    XCTAssertEqual(
      DiagnosticRenderer.render(d, in: f),
      """
      x.sock:2:10: error: unknown option 'reuseadr'
       2 | setopt a reuseadr
         |          ^~~~~~~~
         = hint: did you mean 'reuseaddr'?

      """)
  }

  func testCaretAtEndOfLine() {
    let f = SourceFile(name: "y", text: "bind a 127.0.0.1")
    let d = Diagnostic("expected ':PORT'", at: Span(16, 17))
    XCTAssertEqual(DiagnosticRenderer.render(d, in: f), "y:1:17: error: expected ':PORT'\n 1 | bind a 127.0.0.1\n   |                 ^\n")
  }

  func testColumnsCountCharactersNotBytes() {
    let f = SourceFile(name: "z", text: "print \"é\" bad")
    XCTAssertEqual(f.location(of: 11), Location(line: 1, column: 11))
  }

  func testSuggestions() {
    XCTAssertEqual(Suggest.closest(to: "reuseadr", in: ["reuseaddr", "reuseport"]), "reuseaddr")
    XCTAssertEqual(Suggest.closest(to: "EADDRINUSED", in: ["EADDRINUSE", "EINVAL"]), "EADDRINUSE")
    XCTAssertNil(Suggest.closest(to: "zzz", in: ["reuseaddr"]))
    // The length prefilter keeps a word exactly at the limit (three extra
    // letters for a nine-letter option) and drops a line of garbage.
    XCTAssertEqual(Suggest.closest(to: "reuseaddrxyz", in: ["reuseaddr"]), "reuseaddr")
    XCTAssertNil(Suggest.closest(to: "reuseaddrwxyz", in: ["reuseaddr"]))
    XCTAssertNil(Suggest.closest(to: String(repeating: "reuseaddr", count: 200), in: ["reuseaddr"]))
    XCTAssertEqual(Suggest.closest(to: "RéuseAddr", in: ["reuseaddr"]), "reuseaddr")
  }
}

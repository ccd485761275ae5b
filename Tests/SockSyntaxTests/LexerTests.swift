import XCTest

@testable import SockSyntax

final class LexerTests: XCTestCase {
  func lex(_ text: String) -> ([Token], [Diagnostic], SourceFile) {
    let f = SourceFile(name: "t.sock", text: text)
    var lx = Lexer(f)
    var out: [Token] = []
    while true {
      let t = lx.next()
      out.append(t)
      if t.kind == .eof { break }
    }
    return (out, lx.diagnostics, f)
  }

  func kinds(_ text: String) -> [TokenKind] { lex(text).0.map(\.kind) }

  func testTokensCarryByteOffsets() {
    let (toks, diags, f) = lex("bind a 127.0.0.1:80 # comment\nlisten a")
    XCTAssertTrue(diags.isEmpty)
    XCTAssertEqual(toks.map(\.kind), [.ident, .ident, .ipv4, .colon, .number, .newline, .ident, .ident, .eof])
    XCTAssertEqual(toks[2].span, Span(7, 16))
    XCTAssertEqual(f.text(toks[2].span), "127.0.0.1")
    XCTAssertEqual(toks[4].span, Span(17, 19))
    XCTAssertEqual(f.location(of: toks[7].start), Location(line: 2, column: 8))
  }

  func testIndexVersusIPv6() {
    XCTAssertEqual(kinds("c[i+1]"), [.ident, .lbracket, .ident, .plus, .number, .rbracket, .eof])
    XCTAssertEqual(kinds("connect c [::1]:80"), [.ident, .ident, .ipv6, .colon, .number, .eof])
    let (toks, _, _) = lex("[::ffff:127.0.0.1]:80")
    XCTAssertEqual(toks[0].value, "::ffff:127.0.0.1")
  }

  func testDurations() {
    let (toks, diags, _) = lex("250ms 1.5s 61s 2m")
    XCTAssertTrue(diags.isEmpty)
    XCTAssertEqual(toks.prefix(4).map(\.value), ["250", "1500", "61000", "120000"])
  }

  func testRangeIsNotAnAddress() {
    XCTAssertEqual(kinds("40000..40009"), [.number, .dotdot, .number, .eof])
  }

  func testStringsAndEscapes() {
    let (toks, diags, _) = lex(#""a\n\t\"\\b""#)
    XCTAssertTrue(diags.isEmpty)
    XCTAssertEqual(toks[0].value, "a\n\t\"\\b")
  }

  func testInterpolation() {
    XCTAssertEqual(kinds("127.0.0.1:$p $(a.lport + 1)"), [.ipv4, .colon, .dollarIdent, .dollarParen, .ident, .dot, .ident, .plus, .number, .rparen, .eof])
  }

  func testOperators() {
    XCTAssertEqual(kinds("=> | == != <= >= < > = ; , % * /"), [.arrow, .pipe, .eq, .ne, .le, .ge, .lt, .gt, .assign, .semicolon, .comma, .percent, .star, .slash, .eof])
  }

  func testErrorsArePositioned() {
    let (_, diags, f) = lex("bind a 127.0.0:80")
    XCTAssertEqual(diags.count, 1)
    XCTAssertEqual(f.location(of: diags[0].span.start), Location(line: 1, column: 8))
    let (_, d2, f2) = lex("send a \"open")
    XCTAssertEqual(d2.first?.message, "unterminated string")
    XCTAssertEqual(f2.location(of: d2[0].span.start).column, 8)
    let (_, d3, _) = lex("sleep 5x")
    XCTAssertTrue(d3[0].message.contains("unknown duration unit"))
    let (_, d4, _) = lex("a ! b")
    XCTAssertEqual(d4.count, 1)
  }

  func testRawRestStopsAtSemicolonAndComment() {
    let f = SourceFile(name: "t", text: "x = 40000 40009 ; y # c")
    var lx = Lexer(f)
    _ = lx.next()
    let eq = lx.next()
    XCTAssertEqual(eq.kind, .assign)
    let span = lx.rawRest(from: eq.end)
    XCTAssertEqual(f.text(span), "40000 40009")
  }
}

import XCTest

@testable import SockSyntax

final class ParserTests: XCTestCase {
  func parse(_ text: String) -> (Program, [Diagnostic], SourceFile) {
    let f = SourceFile(name: "t.sock", text: text)
    let (p, d) = Parser.parse(f)
    return (p, d, f)
  }

  func one(_ text: String) -> Stmt {
    let (p, d, _) = parse(text)
    XCTAssertEqual(d, [], "\(text)")
    XCTAssertEqual(p.statements.count, 1)
    return p.statements[0]
  }

  func testSocketForms() {
    guard case .socket(let r, let proto, let uid) = one("socket c[i] udp6 uid 1000").kind else { return XCTFail() }
    XCTAssertEqual(r.name, "c")
    XCTAssertNotNil(r.index)
    XCTAssertEqual(proto?.text, "udp6")
    XCTAssertEqual(uid?.kind, .int(1000))
  }

  func testEndpointsAndResults() {
    let s = one("bind a [::1]:$(p + 1) => ok|EADDRINUSE")
    guard case .bind(_, let ep) = s.kind else { return XCTFail() }
    XCTAssertEqual(ep.host, .ipv6("::1"))
    guard case .expr = ep.port else { return XCTFail() }
    XCTAssertEqual(s.result?.names.map(\.0), ["ok", "EADDRINUSE"])
  }

  func testInterpolatedHost() {
    guard case .connect(_, let ep) = one("connect c $(a.laddr):$(a.lport + 1)").kind else { return XCTFail() }
    guard case .expr(let h) = ep.host, case .property(_, "laddr", _) = h.kind else { return XCTFail() }
  }

  func testSysctlValueIsRawAndInterpolated() {
    let s = one("sysctl net.ipv4.ip_local_port_range = $lo 40009")
    guard case .sysctl(let key, let value, _) = s.kind else { return XCTFail() }
    XCTAssertEqual(key.text, "net.ipv4.ip_local_port_range")
    XCTAssertEqual(value.count, 2)
    XCTAssertEqual(value[1], .text(" 40009"))
    guard case .sysctl(_, let empty, _) = one("sysctl net.ipv4.ip_local_reserved_ports =").kind else { return XCTFail() }
    XCTAssertEqual(empty, [])
  }

  func testExpressionsAndPrecedence() {
    guard case .expect(let e) = one("expect not a.lport + 1 * 2 == 5 and c.state == TIME_WAIT or count(LISTEN) in 1..2").kind else { return XCTFail() }
    guard case .binary(.or, let l, let r) = e.kind else { return XCTFail("or binds loosest") }
    guard case .binary(.and, let nl, _) = l.kind, case .unary(.not, let cmp) = nl.kind, case .binary(.eq, let sum, _) = cmp.kind,
      case .binary(.add, _, let prod) = sum.kind, case .binary(.mul, _, _) = prod.kind
    else { return XCTFail("precedence") }
    guard case .inRange = r.kind else { return XCTFail() }
  }

  func testRepeatBlocksAndSemicolons() {
    let (p, d, _) = parse("repeat 3 as k { socket c[k]; bind c[k] 127.0.0.1:0\n close c[k] }\nshow")
    XCTAssertEqual(d, [])
    XCTAssertEqual(p.statements.count, 2)
    guard case .repeatLoop(_, let v, let body) = p.statements[0].kind else { return XCTFail() }
    XCTAssertEqual(v?.text, "k")
    XCTAssertEqual(body.count, 3)
  }

  func testAllStatementsParse() {
    let src = """
      socket a tcp; socket u udp
      setopt a reuseaddr; setopt a linger 0; setopt a local_port_range 40000 40009; setopt a bindtodevice lo
      bind a 0.0.0.0:0; listen a 5; connect a 127.0.0.1:80 => ECONNREFUSED; accept a as b
      send a "x"; recv a 10; recv a; sendto u 127.0.0.1:53 "q"; recvfrom u; shutdown a wr; close a
      sleep 1.5s; sysctl net.core.somaxconn = 16; addr add 10.0.0.1/24; ulimit nofile 64
      let x = 1; expect x == 1; print x, "y"; show
      """
    let (p, d, _) = parse(src)
    XCTAssertEqual(d, [])
    XCTAssertEqual(p.statements.count, 25)
    XCTAssertEqual(Set(p.statements.map(\.keyword)).count, 20, "every keyword but repeat")
  }

  func testReportsEveryErrorAndRecovers() {
    let (p, d, f) = parse("bogus a\nbind a 127.0.0.1\nlisten a\nexpect a.state = LISTEN\nsocket")
    XCTAssertEqual(d.count, 4)
    XCTAssertEqual(d.map { f.location(of: $0.span.start).line }, [1, 2, 4, 5])
    XCTAssertEqual(d[0].message, "unknown statement 'bogus'")
    XCTAssertEqual(d[1].message, "expected ':PORT' right after the address")
    XCTAssertEqual(f.location(of: d[1].span.start), Location(line: 2, column: 17))
    XCTAssertEqual(p.statements.count, 1, "the good line survives")
  }

  func testArrowOnlyAfterCalls() {
    let (_, d, _) = parse("expect 1 == 1 => ok")
    XCTAssertEqual(d.first?.message, "'=>' can only follow a call, not 'expect'")
  }

  func testUnclosedRepeat() {
    let (_, d, _) = parse("repeat 2 {\nsocket a")
    XCTAssertEqual(d.first?.message, "this '{' is never closed")
    XCTAssertEqual(d.first?.span, Span(9, 10))
  }

  func testHintForMisspeltStatement() {
    let (_, d, _) = parse("lisen a")
    XCTAssertEqual(d.first?.hint, "did you mean 'listen'?")
  }
}

import SockSyntax
import XCTest

@testable import SockScript

final class CheckerTests: XCTestCase {
  func diags(_ text: String) -> ([Diagnostic], SourceFile) {
    let f = SourceFile(name: "c.sock", text: text)
    return (Runner.compile(f).1, f)
  }

  func testCleanScript() {
    XCTAssertEqual(diags("socket a; setopt a reuseaddr; bind a 0.0.0.0:80; listen a; expect a.state == LISTEN").0, [])
  }

  func testUnknownSocketAndUseBeforeCreate() {
    let (d, f) = diags("bind a 127.0.0.1:80\nsocket a\nlisten b")
    XCTAssertEqual(d.count, 2)
    XCTAssertEqual(d[0].message, "socket 'a' is used before it is created")
    XCTAssertEqual(f.location(of: d[0].span.start), Location(line: 1, column: 6))
    XCTAssertEqual(d[1].message, "unknown socket 'b'")
  }

  func testPastedAddressPointsToArithmetic() {
    let (d, _) = diags("let i = 1\nsocket c\nbind c 10.60.0.$(i+1):80")
    XCTAssertEqual(d.first?.message, "malformed IPv4 address '10.60.0.'")
    XCTAssertEqual(d.first?.hint, "compute it instead: '$(10.60.0.0 + N)', e.g. 'connect c[i] $(10.60.0.0 + i + 1):80'")
  }

  func testSocketTakesProtocolAndUidInEitherOrder() {
    XCTAssertEqual(diags("socket a uid 1000 udp\nsocket b udp6 uid 7\nsocket c uid 3").0, [])
  }

  func testOptionHint() {
    let (d, f) = diags("socket a\nsetopt a reuseadr")
    XCTAssertEqual(d.first?.message, "unknown option 'reuseadr'")
    XCTAssertEqual(d.first?.hint, "did you mean 'reuseaddr'?")
    XCTAssertEqual(f.location(of: d[0].span.start), Location(line: 2, column: 10))
  }

  func testSysctlErrnoStateHints() {
    let (d, _) = diags("sysctl net.ipv4.ip_local_port_rang = 1 2\nsocket a\nbind a 0.0.0.0:0 => EADDRINUS\nexpect a.state == TIMEWAIT")
    XCTAssertEqual(d.map(\.message), ["unknown sysctl 'net.ipv4.ip_local_port_rang'", "unknown result 'EADDRINUS'", "unknown state or errno 'TIMEWAIT'"])
    XCTAssertEqual(d.map(\.hint), ["did you mean 'net.ipv4.ip_local_port_range'?", "did you mean 'EADDRINUSE'?", "did you mean 'TIME_WAIT'?"])
  }

  func testPortsAndAddresses() {
    let (d, _) = diags("socket a\nbind a 127.0.0.1:70000\nconnect a 300.0.0.1:80\nconnect a [::g]:80\naddr add 10.0.0.1/40")
    XCTAssertEqual(d.count, 4)
    XCTAssertEqual(d[0].message, "port 70000 is out of range 0..65535")
    XCTAssertEqual(d[1].message, "malformed IPv4 address '300.0.0.1'")
    XCTAssertTrue(d[2].message.hasPrefix("malformed IPv6 address"))
    XCTAssertTrue(d[3].message.hasPrefix("malformed address"))
  }

  func testIndexedNames() {
    let (d, _) = diags("socket c[0]\nclose c\nsocket x\nclose x[1]")
    XCTAssertEqual(d.map(\.message), ["'c' is a family of sockets; say which one", "socket 'x' has no index"])
  }

  func testSyntaxAndCheckErrorsTogether() {
    let (d, _) = diags("socket a\nbind a 127.0.0.1\nsetopt a reuseprot\nlisten zz")
    XCTAssertEqual(d.count, 3, "check lists every error of a file")
  }

  func testVariablesAndLoops() {
    XCTAssertEqual(diags("let p = 80\nrepeat 3 as k { socket c[k]; bind c[k] 127.0.0.1:$(p + k) }\nprint k").0.map(\.message), ["unknown variable 'k'"])
  }

  func testOptionValues() {
    let (d, _) = diags("socket a\nsetopt a reuseaddr maybe\nsetopt a linger\nsetopt a local_port_range 1")
    XCTAssertEqual(d.count, 3)
  }
}

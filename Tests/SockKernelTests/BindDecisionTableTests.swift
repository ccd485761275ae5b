import XCTest

@testable import SockKernel

/// One test per row of the bind decision table (docs/kernel-rules.md, section 1):
/// an explicit TCP bind(addr, P) of B against an overlapping owner A.
final class BindDecisionTableTests: XCTestCase {
  // Row 1: A not listening, both SO_REUSEADDR: OK, whatever A's state.
  func testBothReuseAgainstBoundOwner() {
    let n = Net()
    let a = n.sock(reuse: true)
    XCTAssertNil(n.bind(a, "127.0.0.1:5000"))
    XCTAssertNil(n.bind(n.sock(reuse: true), "127.0.0.1:5000"))
  }

  func testBothReuseAgainstEstablishedOwner() {
    let n = Net()
    _ = n.listener("127.0.0.1:8080")
    let a = n.sock(reuse: true)
    XCTAssertNil(n.bind(a, "127.0.0.1:5000"))
    XCTAssertNil(n.connect(a, "127.0.0.1:8080"))
    XCTAssertEqual(n.state(a), .ESTABLISHED)
    XCTAssertNil(n.bind(n.sock(reuse: true), "127.0.0.1:5000"))
  }

  func testBothReuseAgainstTimeWaitOwner() {
    let n = Net()
    let l = n.listener("127.0.0.1:8080")
    let a = n.sock(reuse: true)
    XCTAssertNil(n.bind(a, "127.0.0.1:5000"))
    n.timeWait(a, to: l, at: "127.0.0.1:8080")
    XCTAssertNil(n.bind(n.sock(reuse: true), "0.0.0.0:5000"), "T2: a TIME_WAIT with reuse lets a reuse socket bind")
  }

  // Row 2: A not listening without SO_REUSEADDR: EADDRINUSE.
  func testOwnerWithoutReuse() {
    let n = Net()
    XCTAssertNil(n.bind(n.sock(), "127.0.0.1:5000"))
    XCTAssertEqual(n.bind(n.sock(reuse: true), "127.0.0.1:5000"), .EADDRINUSE)
  }

  func testTimeWaitWithoutReuseBlocksReuseSocket() {
    let n = Net()
    let l = n.listener("127.0.0.1:8080")
    let a = n.sock()
    XCTAssertNil(n.bind(a, "127.0.0.1:5000"))
    n.timeWait(a, to: l, at: "127.0.0.1:8080")
    XCTAssertEqual(n.bind(n.sock(reuse: true), "127.0.0.1:5000"), .EADDRINUSE, "T1b")
    XCTAssertNil(n.bind(n.sock(), "127.0.0.2:5000"), "T1c: another specific address is unaffected")
    XCTAssertEqual(n.bind(n.sock(reuse: true), "0.0.0.0:5000"), .EADDRINUSE, "T1d: the wildcard overlaps")
  }

  // Row 3: B without SO_REUSEADDR: EADDRINUSE.
  func testNewSocketWithoutReuse() {
    let n = Net()
    XCTAssertNil(n.bind(n.sock(reuse: true), "127.0.0.1:5000"))
    XCTAssertEqual(n.bind(n.sock(), "127.0.0.1:5000"), .EADDRINUSE)
  }

  // Row 4: A listening: EADDRINUSE whatever the reuse flags.
  func testListenerBlocksEvenWithReuse() {
    let n = Net()
    let a = n.sock(reuse: true)
    XCTAssertNil(n.bind(a, "0.0.0.0:8080"))
    XCTAssertNil(n.listen(a))
    XCTAssertEqual(n.bind(n.sock(reuse: true), "127.0.0.1:8080"), .EADDRINUSE, "B8")
    let b = n.sock(reuse: true)
    XCTAssertNil(n.bind(b, "127.0.0.1:9090"))
    XCTAssertNil(n.listen(b))
    XCTAssertEqual(n.bind(n.sock(reuse: true), "0.0.0.0:9090"), .EADDRINUSE, "B9: a specific listener blocks a later wildcard")
  }

  // Row 5: both SO_REUSEPORT with the same uid: OK, listening or not.
  func testReuseportSameUidOverridesListener() {
    let n = Net()
    let a = n.sock(uid: 1000, reuseport: true)
    XCTAssertNil(n.bind(a, "0.0.0.0:8080"))
    XCTAssertNil(n.listen(a))
    let b = n.sock(uid: 1000, reuseport: true)
    XCTAssertNil(n.bind(b, "0.0.0.0:8080"), "B12")
    XCTAssertNil(n.listen(b), "B16r")
  }

  func testReuseportAgainstTimeWaitIgnoresUid() {
    let n = Net()
    let l = n.listener("127.0.0.1:8080")
    let a = n.sock(uid: 0, reuseport: true)
    XCTAssertNil(n.bind(a, "127.0.0.1:5000"))
    n.timeWait(a, to: l, at: "127.0.0.1:8080")
    XCTAssertNil(n.bind(n.sock(uid: 1000, reuseport: true), "127.0.0.1:5000"))
  }

  // Row 6: both SO_REUSEPORT but different uids: EADDRINUSE.
  func testReuseportDifferentUids() {
    let n = Net()
    XCTAssertNil(n.bind(n.sock(uid: 1000, reuseport: true), "127.0.0.1:5000"))
    XCTAssertEqual(n.bind(n.sock(uid: 1001, reuseport: true), "127.0.0.1:5000"), .EADDRINUSE, "B13")
  }

  // Row 7: only one side SO_REUSEPORT: the reuseaddr rows decide.
  func testOneSidedReuseportFallsBack() {
    let n = Net()
    XCTAssertNil(n.bind(n.sock(reuseport: true), "127.0.0.1:5000"))
    XCTAssertEqual(n.bind(n.sock(), "127.0.0.1:5000"), .EADDRINUSE)
    XCTAssertNil(n.bind(n.sock(reuse: true, reuseport: true), "127.0.0.1:6000"))
    XCTAssertNil(n.bind(n.sock(reuse: true), "127.0.0.1:6000"), "both reuse, neither listens")
  }

  // Row 8: no overlap: OK.
  func testNoOverlap() {
    let n = Net()
    XCTAssertNil(n.bind(n.sock(), "127.0.0.1:5000"))
    XCTAssertNil(n.bind(n.sock(), "127.0.0.2:5000"), "B10")
    let v6only = n.sock("tcp6", v6only: true)
    XCTAssertNil(n.bind(v6only, "[::]:7000"))
    XCTAssertNil(n.bind(n.sock(), "0.0.0.0:7000"), "V2: a v6only :: does not cover IPv4")
    XCTAssertNil(n.bind(n.sock("tcp6"), "[::1]:7100"))
    XCTAssertNil(n.bind(n.sock(), "0.0.0.0:7100"), "V9: ::1 and IPv4 never overlap")
  }

  func testDualStackWildcardOverlapsIPv4() {
    let n = Net()
    XCTAssertNil(n.bind(n.sock("tcp6"), "[::]:7000"))
    XCTAssertEqual(n.bind(n.sock(), "127.0.0.1:7000"), .EADDRINUSE, "V10")
    XCTAssertNil(n.bind(n.sock(), "127.0.0.1:7001"))
    XCTAssertEqual(n.bind(n.sock("tcp6"), "[::ffff:127.0.0.1]:7001"), .EADDRINUSE, "V6: v4-mapped equals IPv4")
    XCTAssertEqual(n.bind(n.sock("tcp6", v6only: true), "[::]:7002"), nil)
    XCTAssertEqual(n.bind(n.sock("tcp6"), "[::]:7002"), .EADDRINUSE, "V8: two :: always overlap")
  }

  func testListenRecheck() {
    let n = Net()
    let a = n.sock(reuse: true)
    let b = n.sock(reuse: true)
    XCTAssertNil(n.bind(a, "0.0.0.0:8080"))
    XCTAssertNil(n.bind(b, "127.0.0.1:8080"), "B7: both binds work while nobody listens")
    XCTAssertNil(n.listen(a))
    XCTAssertEqual(n.listen(b), .EADDRINUSE, "B7L")
    XCTAssertEqual(n.state(b), .BOUND)
  }

  func testRestartOverTimeWaitChildren() {
    let n = Net()
    let l = n.sock(reuse: true)
    XCTAssertNil(n.bind(l, "0.0.0.0:8080"))
    XCTAssertNil(n.listen(l))
    let c = n.sock()
    XCTAssertNil(n.connect(c, "127.0.0.1:8080"))
    let child = n.accept(l)!
    n.close(child)
    n.close(c)
    n.close(l)
    let l2 = n.sock(reuse: true)
    XCTAssertNil(n.bind(l2, "0.0.0.0:8080"), "T3: the child inherited SO_REUSEADDR")
    XCTAssertNil(n.listen(l2))
  }

  func testPrivilegedPortNeedsRoot() {
    let n = Net()
    XCTAssertEqual(n.bind(n.sock(uid: 1000), "127.0.0.1:80"), .EACCES)
    XCTAssertNil(n.bind(n.sock(uid: 0), "127.0.0.1:80"))
    XCTAssertNil(n.k.sysctl("net.ipv4.ip_unprivileged_port_start", "80").errno)
    XCTAssertNil(n.bind(n.sock(uid: 1000), "127.0.0.1:81"))
  }

  func testBindErrors() {
    let n = Net()
    let a = n.sock()
    XCTAssertNil(n.bind(a, "127.0.0.1:5000"))
    XCTAssertEqual(n.bind(a, "127.0.0.1:5001"), .EINVAL, "B17: a socket binds once")
    XCTAssertEqual(n.bind(n.sock(), "10.0.0.1:5000"), .EADDRNOTAVAIL, "B19")
    let f = n.sock()
    _ = n.k.setsockopt(f, .freebind(true))
    XCTAssertNil(n.bind(f, "10.0.0.1:5000"), "B19b")
    XCTAssertEqual(n.bind(n.sock(), "[::1]:5000"), .EAFNOSUPPORT)
    XCTAssertEqual(n.bind(n.sock("tcp6"), "127.0.0.1:5000"), .EINVAL, "a sockaddr_in is too short for AF_INET6")
  }
}

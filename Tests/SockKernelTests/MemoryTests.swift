import XCTest

@testable import SockKernel

/// Memory follows the sockets the namespace holds (issue 14, item 2).
final class MemoryTests: XCTestCase {
  func testIDTableFreesPagesIdsHaveMovedPast() {
    var t = IDTable<Int>()
    // One value at a time, as a socket/close loop makes them: one page left.
    for id in 1...5000 {
      t[id] = id * 3
      XCTAssertEqual(t[id], id * 3)
      if id > 1 { t[id - 1] = nil }
    }
    XCTAssertEqual(t.count, 1)
    XCTAssertEqual(t.pagesHeld, 1)
    XCTAssertEqual(t[5000], 15000)
    XCTAssertNil(t[4999])
    XCTAssertNil(t[-1])
    XCTAssertNil(t[1 << 40])
    // A value kept in an old page keeps that page, and only that one.
    t[6000] = 1
    t[9000] = 2
    t[6000] = nil
    XCTAssertEqual(t.pagesHeld, 2)  // 5000's and 9000's
    t[5000] = nil
    XCTAssertEqual(t.pagesHeld, 1)
    XCTAssertEqual(t.count, 1)
    // The newest page stays while empty: the next ids land there.
    t[9000] = nil
    XCTAssertEqual(t.pagesHeld, 1)
    t[9001] = 7
    XCTAssertEqual(t[9001], 7)
    XCTAssertEqual(t.count, 1)
  }

  /// A connection both ends closed, its TIME_WAIT entry expired: once
  /// released, every object of it is freed (peer, parent and successor are
  /// strong references, so a missed cycle would keep them).
  func testAForgottenConnectionIsFreed() {
    let n = Net()
    let l = n.listener("127.0.0.1:8080")
    let c = n.sock()
    XCTAssertNil(n.connect(c, "127.0.0.1:8080"))
    let s = n.accept(l)!
    weak var client = n.k.socks[c]
    weak var child = n.k.socks[s]
    weak var entry = n.k.socks[c]?.peer
    XCTAssertNotNil(entry)
    n.close(c)
    n.close(s)
    weak var tw = client?.successor
    XCTAssertNotNil(tw, "the client's close leaves a TIME_WAIT entry")
    XCTAssertFalse(n.k.release(c), "the TIME_WAIT entry still holds c")
    XCTAssertTrue(n.k.release(s))
    n.k.sleep(ms: 61_000)
    XCTAssertTrue(n.k.release(c))
    XCTAssertNil(client)
    XCTAssertNil(child)
    XCTAssertNil(tw)
    XCTAssertEqual(n.k.view(c).state, .CLOSED)
    XCTAssertEqual(n.k.socks.count, 1)  // the listener
  }

  func testASocketConnectedToItselfIsFreed() {
    let n = Net()
    let a = n.sock()
    XCTAssertNil(n.bind(a, "127.0.0.1:40000"))
    XCTAssertNil(n.connect(a, "127.0.0.1:40000"))
    weak var probe = n.k.socks[a]
    XCTAssertTrue(probe?.peer === probe)
    n.close(a)
    n.k.sleep(ms: 200_000)
    XCTAssertTrue(n.k.release(a))
    XCTAssertNil(probe)
  }

  func testAListenersUnacceptedConnectionsGoWithIt() {
    let n = Net()
    let l = n.listener("127.0.0.1:8080")
    let c = n.sock()
    XCTAssertNil(n.connect(c, "127.0.0.1:8080"))
    weak var unaccepted = n.k.socks[c]?.peer
    XCTAssertNotNil(unaccepted)
    n.close(l)
    n.close(c)
    XCTAssertTrue(n.k.release(l))
    XCTAssertTrue(n.k.release(c))
    XCTAssertNil(unaccepted)
    XCTAssertEqual(n.k.socks.count, 0)
  }
}

/// A kernel freed with connections still open frees their sockets too (the
/// cycle of two connected ends, found by the interpreter fuzz target's
/// LeakSanitizer).
final class KernelTeardownTests: XCTestCase {
  func testAFreedKernelFreesItsConnections() {
    weak var client: SimSock?
    weak var child: SimSock?
    weak var unaccepted: SimSock?
    weak var selfConnected: SimSock?
    do {
      let n = Net()
      let l = n.listener("127.0.0.1:8080")
      let c = n.sock()
      XCTAssertNil(n.connect(c, "127.0.0.1:8080"))
      let s = n.accept(l)!
      let u = n.sock()
      XCTAssertNil(n.connect(u, "127.0.0.1:8080"))
      let a = n.sock()
      XCTAssertNil(n.bind(a, "127.0.0.1:40000"))
      XCTAssertNil(n.connect(a, "127.0.0.1:40000"))
      client = n.k.socks[c]
      child = n.k.socks[s]
      unaccepted = n.k.socks[u]?.peer
      selfConnected = n.k.socks[a]
      XCTAssertNotNil(client)
      XCTAssertNotNil(unaccepted)
    }
    XCTAssertNil(client)
    XCTAssertNil(child)
    XCTAssertNil(unaccepted)
    XCTAssertNil(selfConnected)
  }
}

extension MemoryTests {
  /// The descriptor count a `ulimit` checks is kept as descriptors come and
  /// go; it must equal the live sockets that have one.
  func testDescriptorCountFollowsTheSockets() {
    let n = Net()
    func check(_ what: String) { XCTAssertEqual(n.k.openDescriptors, n.k.live.values.filter(\.hasFd).count, what) }
    let l = n.listener("127.0.0.1:8080")
    check("listener")
    var accepted: [SockID] = []
    for i in 0..<5 {
      let c = n.sock()
      XCTAssertNil(n.connect(c, "127.0.0.1:8080"))
      check("connect \(i)")
      if i % 2 == 0, let s = n.accept(l) { accepted.append(s) }
      check("accept \(i)")
      if i % 3 == 0 { n.close(c) }
      check("close \(i)")
    }
    let a = n.sock()
    XCTAssertNil(n.bind(a, "127.0.0.1:40000"))
    _ = n.k.shutdown(a, .wr)
    _ = n.k.connect(a, Endpoint("127.0.0.1:40000")!)
    check("aborted self-connect")
    n.close(l)
    check("listener closed")
    for s in accepted { n.close(s) }
    n.k.sleep(ms: 120_000)
    check("after the timers")
    XCTAssertEqual(n.k.openDescriptors, 4)  // three clients and a
  }
}

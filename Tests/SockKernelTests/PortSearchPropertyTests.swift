import XCTest

@testable import SockKernel

/// The simulator's fast port searches must pick exactly the port that the
/// literal transcription of the kernel's loops picks, from the same random
/// draws, in any state of the bind table.
final class PortSearchPropertyTests: XCTestCase {
  static let v4 = ["0.0.0.0", "127.0.0.1", "127.0.0.2", "127.0.0.3"]
  static let v6 = ["::", "::1", "::ffff:127.0.0.1"]

  /// Builds a random namespace: a small range, reserved ports, and sockets
  /// bound explicitly, by bind(0), listening, connected and in TIME_WAIT.
  func randomNet(_ rng: inout SeededRandom) -> (Net, lo: Int, hi: Int) {
    let lo = 40000 + Int(rng.below(8))
    let hi = lo + 3 + Int(rng.below(60))
    // A quarter of the namespaces run with some search rules switched off:
    // the two searches must agree whatever the rules say.
    let switchable: [SimRule] = [.connectEvenFirst, .bind0OddFirst, .reuseaddrLowerHalf, .bindMarksPort]
    let off = rng.below(4) == 0 ? Set(switchable.filter { _ in rng.below(2) == 0 }) : []
    let n = Net(seed: rng.next(), range: (lo, hi), disabled: off)
    if rng.below(3) == 0 {
      let r = (0..<Int(rng.below(6))).map { _ in String(lo + Int(rng.below(UInt32(hi - lo + 1)))) }
      XCTAssertNil(n.k.sysctl("net.ipv4.ip_local_reserved_ports", r.joined(separator: ",")).errno)
    }
    if rng.below(4) == 0 { _ = n.k.sysctl("net.ipv4.ip_autobind_reuse", "1") }
    let listener = n.sock()
    XCTAssertNil(n.bind(listener, "127.0.0.1:8080"))
    XCTAssertNil(n.listen(listener, 4096))
    let ops = Int(rng.below(UInt32((hi - lo) * 2 + 4)))
    for _ in 0..<ops {
      let six = rng.below(4) == 0
      let s = n.sock(six ? "tcp6" : "tcp", uid: rng.below(5) == 0 ? 1000 : 0, reuse: rng.below(2) == 0, reuseport: rng.below(4) == 0, v6only: six && rng.below(2) == 0)
      let addr = six ? "[\(Self.v6[Int(rng.below(3))])]" : Self.v4[Int(rng.below(4))]
      let port = rng.below(3) == 0 ? 0 : lo + Int(rng.below(UInt32(hi - lo + 1)))
      switch rng.below(5) {
      case 0:
        _ = n.bind(s, "\(addr):\(port)")
        if rng.below(3) == 0 { _ = n.listen(s) }
      case 1:
        _ = n.connect(s, six ? "[::ffff:127.0.0.1]:8080" : "127.0.0.1:8080")
      case 2:
        if n.connect(s, "127.0.0.1:8080") == nil, let a = n.accept(listener) {
          n.close(s)
          n.close(a)
        }
      case 3:
        _ = n.listen(s)
      default:
        _ = n.bind(s, "\(addr):0")
      }
      if rng.below(6) == 0 { n.k.sleep(ms: Int64(rng.below(3000))) }
    }
    return (n, lo, hi)
  }

  func testBindZeroFastMatchesLiteral() {
    var rng = SeededRandom(seed: 20261127)
    var decided = 0
    for _ in 0..<300 {
      let (n, lo, hi) = randomNet(&rng)
      for _ in 0..<4 {
        let six = rng.below(4) == 0
        let s = n.sock(six ? "tcp6" : "tcp", reuse: rng.below(2) == 0, reuseport: rng.below(4) == 0, v6only: six && rng.below(2) == 0)
        let sk = n.k.socks[s]!
        sk.laddr = six ? IPAddress(Self.v6[Int(rng.below(3))])! : IPAddress(Self.v4[Int(rng.below(4))])!
        if rng.below(4) == 0 { sk.portRange = (lo + Int(rng.below(4)), hi - Int(rng.below(4))) }
        var a = rng
        var b = rng
        let literal = n.k.findOpenPortLiteral(sk, rng: &a)
        let fast = n.k.findOpenPort(sk, rng: &b)
        XCTAssertEqual(literal, fast, "bind(0) for \(sk.laddr) reuse=\(sk.reuse) in \(lo)-\(hi)")
        XCTAssertEqual(a.state, b.state, "both searches draw the same random numbers")
        if literal != nil { decided += 1 }
        _ = rng.next()
      }
    }
    XCTAssertGreaterThan(decided, 100, "the scenarios must exercise successful searches")
  }

  func testConnectFastMatchesLiteral() {
    var rng = SeededRandom(seed: 7)
    var found = 0
    var exhausted = 0
    for _ in 0..<300 {
      let (n, lo, hi) = randomNet(&rng)
      for _ in 0..<4 {
        let s = n.sock()
        let sk = n.k.socks[s]!
        if rng.below(4) == 0 { sk.portRange = (lo + Int(rng.below(4)), hi - Int(rng.below(4))) }
        let dst = Endpoint(IPAddress("127.0.0.1")!, rng.below(2) == 0 ? 8080 : 8081)
        let literal = assertSearchesAgree(n, sk, dst: dst, rng: rng, "connect() in \(lo)-\(hi)")
        if literal == nil { exhausted += 1 } else { found += 1 }
        // Really connect, so later searches see a fuller table.
        _ = n.connect(s, "\(dst)")
        _ = rng.next()
      }
    }
    XCTAssertGreaterThan(found, 100)
    XCTAssertGreaterThan(exhausted, 0, "some scenarios must run the range dry")
  }

  /// Runs the literal and the fast connect() search from the same state and
  /// the same random draws, and asserts they agree: the port, the TIME_WAIT
  /// entry taken over, the draws used and table_perturb after. Returns the
  /// literal search's pick.
  @discardableResult
  func assertSearchesAgree(_ n: Net, _ sk: SimSock, dst: Endpoint, rng: SeededRandom, _ what: String) -> SimKernel.ConnectPick? {
    let perturb = n.k.tablePerturb
    var a = rng
    var b = rng
    let literal = n.k.connectSearchLiteral(sk, saddr: .loopback4, dst: dst, rng: &a)
    let afterLiteral = n.k.tablePerturb
    n.k.tablePerturb = perturb
    let fast = n.k.connectSearch(sk, saddr: .loopback4, dst: dst, rng: &b)
    XCTAssertEqual(literal?.port, fast?.port, what)
    XCTAssertTrue(literal?.recycle === fast?.recycle, what)
    XCTAssertEqual(a.state, b.state, "both searches draw the same random numbers; \(what)")
    XCTAssertEqual(afterLiteral, n.k.tablePerturb, "both advance table_perturb alike; \(what)")
    return literal
  }

  /// The word skipping (busyPorts) over the whole default range: thousands
  /// of connections to one destination put that peer's port set into its
  /// dense bitmap, closes (as passive and as active closer, so some ports
  /// go back free and some sit in TIME_WAIT) empty words again, and closing
  /// everything drops the bitmap. At each checkpoint the fast search must
  /// pick what the literal loop picks.
  func testConnectFastMatchesLiteralOverTheWholeRange() {
    var rng = SeededRandom(seed: 2026_12_04)
    let n = Net(seed: 3)
    let listener = n.sock()
    XCTAssertNil(n.bind(listener, "127.0.0.1:8080"))
    XCTAssertNil(n.listen(listener, 65535))
    var pairs: [(SockID, SockID)] = []
    let sk = n.k.socks[n.sock()]!
    let dst = Endpoint(IPAddress("127.0.0.1")!, 8080)
    // Many searches (from as many start points) per checkpoint, none
    // connecting: one stale word must be met by some of them.
    func check(_ what: String) { for _ in 0..<400 { search(what) } }
    func search(_ what: String) {
      // Each search starts elsewhere: table_perturb moves the start point.
      n.k.tablePerturb.mapSet { $0 &+ UInt32(truncatingIfNeeded: rng.next()) }
      XCTAssertNotNil(assertSearchesAgree(n, sk, dst: dst, rng: rng, what), what)
      _ = rng.next()
    }
    for round in 0..<4 {
      for _ in 0..<1500 {
        let c = n.sock()
        XCTAssertNil(n.connect(c, "127.0.0.1:8080"))
        guard let a = n.accept(listener) else { return XCTFail("accept") }
        pairs.append((c, a))
      }
      check("after round \(round)'s connects, \(pairs.count) connections")
      for _ in 0..<700 {
        let (c, a) = pairs.remove(at: Int(rng.below(UInt32(pairs.count))))
        if rng.below(2) == 0 {
          n.close(a)
          n.close(c)
        } else {
          n.close(c)
          n.close(a)
        }
      }
      check("after round \(round)'s closes, \(pairs.count) connections")
    }
    for (c, a) in pairs {
      n.close(a)
      n.close(c)
    }
    check("with every connection closed")
    n.k.sleep(ms: 61_000)
    check("after TIME_WAIT ran out")
  }
}

import XCTest

@testable import SockKernel

/// The fastreuse / fastreuseport transitions of inet_csk_update_fastreuse
/// (docs/kernel-rules.md, section 1) and the 6.18 release rule (section 4).
final class BucketStateTests: XCTestCase {
  func testFirstOwnerWithoutOptions() {
    let n = Net()
    XCTAssertNil(n.bind(n.sock(), "127.0.0.1:5000"))
    let tb = n.bucket(5000)!
    XCTAssertEqual(tb.fastreuse, 0)
    XCTAssertEqual(tb.fastreuseport, 0)
    XCTAssertTrue(n.k.tcp.marked.contains(5000))
  }

  func testFirstOwnerWithReuseaddr() {
    let n = Net()
    XCTAssertNil(n.bind(n.sock(reuse: true), "127.0.0.1:5000"))
    XCTAssertEqual(n.bucket(5000)!.fastreuse, 1)
  }

  func testFirstOwnerWithReuseportRecordsOwner() {
    let n = Net()
    XCTAssertNil(n.bind(n.sock(uid: 42, reuseport: true), "127.0.0.1:5000"))
    let tb = n.bucket(5000)!
    XCTAssertEqual(tb.fastreuseport, FastReusePort.any)
    XCTAssertEqual(tb.fastuid, 42)
    XCTAssertEqual(tb.fastAddr, .v4(0x7F00_0001))
  }

  func testSecondOwnerWithoutReuseClearsFastreuse() {
    let n = Net()
    XCTAssertNil(n.bind(n.sock(reuse: true), "127.0.0.1:5000"))
    XCTAssertNil(n.bind(n.sock(), "127.0.0.2:5000"))
    XCTAssertEqual(n.bucket(5000)!.fastreuse, 0)
  }

  func testFastreuseIsNeverRaisedAgain() {
    let n = Net()
    XCTAssertNil(n.bind(n.sock(), "127.0.0.1:5000"))
    XCTAssertNil(n.bind(n.sock(reuse: true), "127.0.0.2:5000"))
    XCTAssertEqual(n.bucket(5000)!.fastreuse, 0)
  }

  func testReuseportMismatchGoesStrict() {
    let n = Net()
    XCTAssertNil(n.bind(n.sock(reuse: true), "127.0.0.1:5000"))
    XCTAssertEqual(n.bucket(5000)!.fastreuseport, 0)
    XCTAssertNil(n.bind(n.sock(uid: 7, reuse: true, reuseport: true), "127.0.0.1:5000"))
    let tb = n.bucket(5000)!
    XCTAssertEqual(tb.fastreuseport, FastReusePort.strict)
    XCTAssertEqual(tb.fastuid, 7)
  }

  func testReuseportMatchKeepsAny() {
    let n = Net()
    XCTAssertNil(n.bind(n.sock(reuseport: true), "127.0.0.1:5000"))
    XCTAssertNil(n.bind(n.sock(reuseport: true), "127.0.0.1:5000"))
    XCTAssertEqual(n.bucket(5000)!.fastreuseport, FastReusePort.any)
  }

  func testOwnerWithoutReuseportClearsFastreuseport() {
    let n = Net()
    XCTAssertNil(n.bind(n.sock(reuse: true, reuseport: true), "127.0.0.1:5000"))
    XCTAssertNil(n.bind(n.sock(reuse: true), "127.0.0.2:5000"))
    XCTAssertEqual(n.bucket(5000)!.fastreuseport, 0)
  }

  func testListenClearsFastreuse() {
    let n = Net()
    let a = n.sock(reuse: true)
    XCTAssertNil(n.bind(a, "127.0.0.1:5000"))
    XCTAssertEqual(n.bucket(5000)!.fastreuse, 1)
    XCTAssertNil(n.listen(a))
    XCTAssertEqual(n.bucket(5000)!.fastreuse, 0, "the listen() re-check updates the bucket as a LISTEN socket")
  }

  func testAddressBucketCopiesPortBucket() {
    let n = Net()
    XCTAssertNil(n.bind(n.sock(reuse: true), "127.0.0.1:5000"))
    XCTAssertNil(n.bind(n.sock(reuse: true, reuseport: true), "127.0.0.2:5000"))
    let tb = n.bucket(5000)!
    let last = tb.tb2[IPAddress("127.0.0.2")!.asV6]!
    XCTAssertEqual(last.fastreuse, tb.fastreuse)
    XCTAssertEqual(last.fastreuseport, tb.fastreuseport)
  }

  func testConnectCreatesUnmarkedBucket() {
    let n = Net(range: (40000, 40000))
    let l = n.listener("127.0.0.1:8080")
    let c = n.sock()
    XCTAssertNil(n.connect(c, "127.0.0.1:8080"))
    let tb = n.bucket(40000)!
    XCTAssertEqual(tb.fastreuse, -1)
    XCTAssertEqual(tb.fastreuseport, -1)
    XCTAssertFalse(n.k.tcp.marked.contains(40000))
  }

  func testBindMarksConnectCreatedBucket() {
    let n = Net(range: (40000, 40000))
    let l = n.listener("127.0.0.1:8080")
    let c = n.sock()
    XCTAssertNil(n.connect(c, "127.0.0.1:8080"))
    // A reuse socket binds the connect()-created port on another address.
    let b = n.sock(reuse: true)
    XCTAssertNil(n.bind(b, "127.0.0.2:40000"))
    let tb = n.bucket(40000)!
    XCTAssertEqual(tb.fastreuse, -1, "a -1 bucket stays -1 when a reuse socket binds")
    XCTAssertEqual(tb.fastreuseport, 0)
    XCTAssertTrue(n.k.tcp.marked.contains(40000))
    // connect() now skips the port, even to another destination.
    let l2 = n.sock()
    XCTAssertNil(n.bind(l2, "127.0.0.1:8081"))
    XCTAssertNil(n.listen(l2))
    XCTAssertEqual(n.connect(n.sock(), "127.0.0.1:8081"), .EADDRNOTAVAIL)
    // 6.18: once only connect()-bound sockets remain, the port is usable again.
    n.close(b)
    XCTAssertEqual(tb.fastreuse, -1)
    XCTAssertEqual(tb.fastreuseport, -1)
    XCTAssertNil(n.connect(n.sock(), "127.0.0.1:8081"))
  }

  func testReuseportBindOnConnectBucketGoesStrict() {
    let n = Net(range: (40000, 40000))
    let l = n.listener("127.0.0.1:8080")
    XCTAssertNil(n.connect(n.sock(), "127.0.0.1:8080"))
    XCTAssertNil(n.bind(n.sock(reuseport: true), "127.0.0.2:40000"))
    XCTAssertEqual(n.bucket(40000)!.fastreuseport, FastReusePort.strict)
  }

  func testBucketDisappearsWithLastOwner() {
    let n = Net()
    let a = n.sock()
    XCTAssertNil(n.bind(a, "127.0.0.1:5000"))
    n.close(a)
    XCTAssertNil(n.bucket(5000))
    XCTAssertFalse(n.k.tcp.exists.contains(5000))
  }

  func testTimeWaitKeepsBucketUntilExpiry() {
    let n = Net()
    let l = n.listener("127.0.0.1:8080")
    let c = n.sock()
    XCTAssertNil(n.bind(c, "127.0.0.1:5000"))
    n.timeWait(c, to: l, at: "127.0.0.1:8080")
    XCTAssertNotNil(n.bucket(5000))
    n.k.sleep(ms: 59_999)
    XCTAssertNotNil(n.bucket(5000))
    n.k.sleep(ms: 1)
    XCTAssertNil(n.bucket(5000), "TIME_WAIT lasts exactly 60 s in the simulator")
    XCTAssertEqual(n.state(c), .CLOSED)
  }
}

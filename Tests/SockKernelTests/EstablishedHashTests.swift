import XCTest

@testable import SockKernel

/// The established hash against a Dictionary, over random inserts,
/// replacements and removals (wrapping probe runs and backward shifts
/// included: the key space is small and the table grows from 16 slots).
final class EstablishedHashTests: XCTestCase {
  func testAgreesWithADictionary() {
    // Few keys keep the table at 16 slots, where runs wrap past the end.
    check(seed: 14, keys: 3000)
    for seed in 15..<45 { check(seed: UInt64(seed), keys: 8, steps: 4000) }
  }

  func check(seed: UInt64, keys n: Int, steps: Int = 60_000) {
    var rng = SeededRandom(seed: seed)
    var table = EstablishedHash()
    var reference: [FourTuple: SimSock] = [:]
    let keys = (0..<n).map { i in
      FourTuple(IPAddress.v4(0x7F00_0001 &+ UInt32(i % 7)), 32768 + Int(rng.below(28232)), .loopback4, 8080 + i % 3)
    }
    let socks = (0..<50).map { SimSock(id: $0 + 1, kind: SocketKind(name: "tcp")!, uid: 0) }
    for step in 0..<steps {
      let k = keys[Int(rng.below(UInt32(keys.count)))]
      switch rng.below(3) {
      case 0, 1:
        let s = socks[Int(rng.below(UInt32(socks.count)))]
        XCTAssertTrue(table.updateValue(s, forKey: k) === reference.updateValue(s, forKey: k), "step \(step)")
      default:
        let s = reference[k] ?? socks[0]
        // Only the socket that holds the entry takes it out.
        let other = socks[(s.id) % socks.count]
        XCTAssertFalse(table.remove(k, ifHeldBy: other) && other !== s, "step \(step)")
        if reference[k] === other { reference[k] = nil }
        if table.remove(k, ifHeldBy: s) { reference[k] = nil }
        XCTAssertNil(table[k], "step \(step)")
        XCTAssertNil(reference[k], "step \(step)")
      }
      if step % 500 == 0 {
        for key in keys { XCTAssertTrue(table[key] === reference[key], "step \(step)") }
      }
    }
    XCTAssertEqual(table.count, reference.count)
    for key in keys { XCTAssertTrue(table[key] === reference[key]) }
  }
}

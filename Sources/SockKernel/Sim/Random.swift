/// The simulator's only source of randomness: a SplitMix64 stream seeded by
/// `--seed`. Where Linux draws a random number (bind(0)'s offset, connect()'s
/// jitter) the simulator draws from this stream at the same point.
public struct SeededRandom: Sendable {
  public private(set) var state: UInt64
  public init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }

  public mutating func next() -> UInt64 {
    state = state &+ 0x9E37_79B9_7F4A_7C15
    return SeededRandom.mix(state)
  }

  /// get_random_u32_below(n): uniform in 0..<n (n > 0).
  public mutating func below(_ n: UInt32) -> UInt32 {
    guard n > 1 else { return 0 }
    return UInt32(truncatingIfNeeded: (UInt64(UInt32(truncatingIfNeeded: next())) &* UInt64(n)) >> 32)
  }

  public static func mix(_ x0: UInt64) -> UInt64 {
    var z = x0
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

/// A keyed hash standing in for the kernel's siphash with `net_secret`, fed
/// a word at a time (connect() hashes its 4-tuple on every call).
struct KeyedHash {
  private(set) var value: UInt64
  init(_ key: UInt64) { value = SeededRandom.mix(key ^ 0x6A09_E667_F3BC_C908) }
  mutating func add(_ w: UInt64) { value = SeededRandom.mix(value ^ SeededRandom.mix(w &+ 0x3C6E_F372_FE94_F82B)) }
  mutating func add(_ a: IPAddress) {
    switch a {
    case .v4(let x): add(UInt64(x))
    case .v6(let hi, let lo):
      add(hi)
      add(lo)
    }
  }
}

extension IPAddress {
  static func fold(_ a: UInt64, _ b: UInt64) -> UInt64 {
    (a &* 0x9E37_79B9_7F4A_7C15 ^ b) &* 0xBF58_476D_1CE4_E5B9
  }

  /// Two addresses (as v6Words) and a fifth word folded into one: the hash
  /// of the established table's and busyPorts' keys.
  static func fold(_ lhi: UInt64, _ llo: UInt64, _ rhi: UInt64, _ rlo: UInt64, _ tail: UInt64) -> UInt64 {
    fold(fold(fold(lhi, llo), fold(rhi, rlo)), tail)
  }

  /// The address in its IPv6 (v4-mapped) form, as two words.
  var v6Words: (UInt64, UInt64) {
    switch self {
    case .v4(let a): return (0, 0xFFFF_0000_0000 | UInt64(a))
    case .v6(let hi, let lo): return (hi, lo)
    }
  }
}

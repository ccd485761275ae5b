/// The established hash (`inet_ehash`, net/ipv4/inet_hashtables.c): a
/// 4-tuple to the socket holding it. Open addressing with linear probing
/// over a power-of-two table at most half full, a multiplicative hash of
/// the key's words (Hasher's SipHash and Dictionary's rehashing were a
/// third of connect() at a million connections, each looked up several
/// times per connect), and backward-shift deletion, so no tombstones pile
/// up as connections come and go.
struct EstablishedHash {
  private var keys: [FourTuple]
  private var socks: [SimSock?]
  /// 64 - log2(capacity): the hash's top bits pick the slot.
  private var shift: UInt64
  private(set) var count = 0

  init() {
    keys = [FourTuple](repeating: .empty, count: 16)
    socks = [SimSock?](repeating: nil, count: 16)
    shift = 60
  }

  private var mask: Int { socks.count - 1 }
  private func home(_ k: FourTuple) -> Int { Int(truncatingIfNeeded: k.fold >> shift) }

  subscript(k: FourTuple) -> SimSock? {
    var i = home(k)
    while let s = socks[i] {
      if keys[i] == k { return s }
      i = (i + 1) & mask
    }
    return nil
  }

  /// Puts `s` at `k`; returns the socket that was there.
  mutating func updateValue(_ s: SimSock, forKey k: FourTuple) -> SimSock? {
    if (count + 1) * 2 > socks.count { grow() }
    var i = home(k)
    while let o = socks[i] {
      if keys[i] == k {
        socks[i] = s
        return o
      }
      i = (i + 1) & mask
    }
    keys[i] = k
    socks[i] = s
    count += 1
    return nil
  }

  /// Takes the entry at `k` out if `s` is the socket there.
  @discardableResult
  mutating func remove(_ k: FourTuple, ifHeldBy s: SimSock) -> Bool {
    var i = home(k)
    while let o = socks[i] {
      if keys[i] == k {
        guard o === s else { return false }
        socks[i] = nil
        count -= 1
        // Pull back the entries after the gap that may not sit past it.
        var j = i
        while true {
          j = (j + 1) & mask
          guard let m = socks[j] else { break }
          let h = home(keys[j])
          let inRange = i <= j ? (i < h && h <= j) : (i < h || h <= j)
          if !inRange {
            keys[i] = keys[j]
            socks[i] = m
            socks[j] = nil
            i = j
          }
        }
        return true
      }
      i = (i + 1) & mask
    }
    return false
  }

  private mutating func grow() {
    let oldKeys = keys
    let oldSocks = socks
    let size = socks.count * 2
    keys = [FourTuple](repeating: .empty, count: size)
    socks = [SimSock?](repeating: nil, count: size)
    shift -= 1
    for (k, s) in zip(oldKeys, oldSocks) {
      guard let s else { continue }
      var i = home(k)
      while socks[i] != nil { i = (i + 1) & mask }
      keys[i] = k
      socks[i] = s
    }
  }
}

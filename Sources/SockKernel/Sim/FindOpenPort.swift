/// bind(port 0) and listen()'s autobind: `inet_csk_find_open_port`
/// (net/ipv4/inet_connection_sock.c, Linux 6.18).
///
/// The search exists twice: `findOpenPortLiteral`, a literal transcription
/// of the kernel's loop (its labels as loops), and `findOpenPort`, the one
/// the simulator runs, which finds the next free candidate of a strict pass
/// with bitmap words. Both ask the same port tester, draw the same random
/// numbers and must pick the same port (PortSearchPropertyTests). The
/// search loops know nothing of the rules: `openPortUsable` decides.
extension SimKernel {
  /// The port tester: may `sk` take `port` in this pass? Reserved ports are
  /// skipped (inet_is_local_reserved_port); a port with no bucket is free;
  /// otherwise no overlapping owner may conflict (inet_csk_bind_conflict
  /// with reuseport_ok = false).
  func openPortUsable(_ sk: SimSock, _ port: Int, relax: Bool) -> Bool {
    if reservedPorts.contains(port) { return false }
    guard tcp.bucket(port) != nil else { return true }
    return conflicts(sk, port: port, relax: relax, reuseportOK: false).isEmpty
  }

  /// The kernel's loop, line for line.
  func findOpenPortLiteral(_ sk: SimSock, rng: inout SeededRandom) -> Int? {
    var relax = false
    while true {  // ports_exhausted:
      var attemptHalf = sk.reuse && rule(.reuseaddrLowerHalf) ? 1 : 0
      while true {  // other_half_scan:
        var (low, high, _) = localPortRange(sk)
        high += 1
        if high - low < 4 { attemptHalf = 0 }
        if attemptHalf != 0 {
          let half = low + (((high - low) >> 2) << 1)
          if attemptHalf == 1 { high = half } else { low = half }
        }
        var remaining = UInt32(high - low)
        if remaining > 1 { remaining &= ~1 }
        var offset = rng.below(remaining)
        if rule(.bind0OddFirst) { offset |= 1 }
        while true {  // other_parity_scan:
          var port = low + Int(offset)
          var i: UInt32 = 0
          while i < remaining {
            if port >= high { port -= Int(remaining) }
            if openPortUsable(sk, port, relax: relax) { return port }
            i += 2
            port += 2
          }
          offset = offset &- 1
          if offset & 1 == 0 { continue }
          break
        }
        if attemptHalf == 1 {
          attemptHalf = 2
          continue
        }
        break
      }
      if autobindReuse != 0 && !relax {
        relax = true
        continue
      }
      return nil
    }
  }

  /// The search the simulator runs: the kernel's passes and random draws,
  /// with each strict pass (relax off, no bound device) answered from the
  /// bind table's bitmaps instead of probing port by port.
  func findOpenPort(_ sk: SimSock, rng: inout SeededRandom) -> Int? {
    // (The bitmaps know overlap only; 6.1's v4-mapped bug needs the probe.)
    let bitmaps = sk.device == nil && !missesMappedAny(sk)
    // The passes: strict, then relaxed with ip_autobind_reuse; in each, the
    // lower then the upper half for SO_REUSEADDR; in each window, the
    // starting parity then the other. (Counted loops: no arrays per call.)
    for pass in 0..<(autobindReuse != 0 ? 2 : 1) {
      let relax = pass == 1
      let (lo, hi, _) = localPortRange(sk)
      let split = sk.reuse && rule(.reuseaddrLowerHalf) && hi + 1 - lo >= 4
      for h in 0..<(split ? 2 : 1) {
        var (low, high) = (lo, hi + 1)
        if split {
          let mid = low + (((high - low) >> 2) << 1)
          if h == 0 { high = mid } else { low = mid }
        }
        var remaining = UInt32(high - low)
        if remaining > 1 { remaining &= ~1 }
        let first = rule(.bind0OddFirst) ? rng.below(remaining) | 1 : rng.below(remaining)
        // The first pass starts at `first`; a second one at first - 1 when that is even.
        for k in 0..<(first & 1 == 1 ? 2 : 1) {
          let start = low + Int(first &- UInt32(k))
          if bitmaps && !relax {
            if let p = strictPassFree(sk, low: low, high: high, start: start, remaining: Int(remaining)) { return p }
            continue
          }
          var port = start
          for _ in stride(from: 0, to: Int(remaining), by: 2) {
            if port >= high { port -= Int(remaining) }
            if openPortUsable(sk, port, relax: relax) { return port }
            port += 2
          }
        }
      }
    }
    return nil
  }

  /// One strict pass from the bitmaps. The kernel's step-2 loop visits
  /// `start, start+2, ...` below `high`, then wraps by `remaining`: two runs
  /// of ports. With relax off every overlapping owner conflicts, so a port
  /// is free exactly when no overlapping owner's bit (nor a reserved bit) is set.
  private func strictPassFree(_ sk: SimSock, low: Int, high: Int, start: Int, remaining: Int) -> Int? {
    let t = tcp
    let cls = sk.addrClass
    let exactWords = t.exact[sk.laddr.asV6]?.words
    let reserved = reservedPorts.words
    let v6 = sk.isV6
    let blocked: (Int) -> UInt64 = { w in t.overlapWord(cls, exactWords, w, v6: v6) | reserved[w] }
    let firstRun = max(0, min((high - 1 - start) / 2 + 1, (remaining + 1) / 2))
    if start < high, let p = PortScan.firstClear(start: start, step: 2, count: firstRun, blocked: blocked) { return p }
    let total = (remaining + 1) / 2
    let rest = total - (start < high ? firstRun : 0)
    guard rest > 0 else { return nil }
    let wrapStart = (start < high ? start + 2 * firstRun : start) - remaining
    return PortScan.firstClear(start: wrapStart, step: 2, count: rest, blocked: blocked)
  }
}

/// connect()'s source port: `__inet_hash_connect` and
/// `__inet_check_established` (net/ipv4/inet_hashtables.c),
/// `secure_ipv4_port_ephemeral` (net/core/secure_seq.c) and
/// `tcp_twsk_unique` (net/ipv4/tcp_ipv4.c, the 6.14+ form with
/// tcp_tw_reuse_delay).
///
/// The search exists twice: a literal transcription of the kernel's loop,
/// and the fast one the simulator runs, which skips reserved and
/// bind()-marked ports a bitmap word at a time. Both must pick the same
/// port and advance table_perturb alike (PortSearchPropertyTests).
extension SimKernel {
  // MARK: connect(): __inet_hash_connect

  struct ConnectPick {
    var port: Int
    var recycle: SimSock?
  }

  /// secure_ipv4_port_ephemeral: a keyed hash of source, destination and
  /// destination port, plus the 10-second time slot.
  func portOffset(_ saddr: IPAddress, _ daddr: IPAddress, _ dport: Int) -> UInt64 {
    flowHash(netSecret, saddr, daddr, UInt64(dport), UInt64(nowMs / 10_000))
  }

  /// The keyed hash of a flow: two addresses, then two more words (ports,
  /// or a port and a time slot).
  func flowHash(_ key: UInt64, _ a: IPAddress, _ b: IPAddress, _ p: UInt64, _ q: UInt64) -> UInt64 {
    var h = KeyedHash(key)
    h.add(a)
    h.add(b)
    h.add(p)
    h.add(q)
    return h.value
  }

  func perturb(_ idx: Int) -> UInt32 {
    if let v = tablePerturb[idx] { return v }
    var h = KeyedHash(netSecret ^ 0x7AB1E)
    h.add(UInt64(idx))
    return UInt32(truncatingIfNeeded: h.value)
  }

  /// What one ephemeral search is for: the socket, the 4-tuple it will
  /// have apart from the port, and the window of ports it may take.
  struct ConnectRequest {
    let sk: SimSock
    let saddr: IPAddress
    let dst: Endpoint
    let low: Int
    /// One past the last port.
    let high: Int
    let step: Int
    let remaining: UInt32
    /// Where the first pass starts (an offset from `low`).
    let offset: UInt32
    /// The table_perturb slot this destination uses.
    let index: Int
  }

  /// inet_sk_get_local_port_range, the step, and the per-destination start
  /// point (table_perturb[index] + the hash's upper half).
  func connectRequest(_ sk: SimSock, saddr: IPAddress, dst: Endpoint) -> ConnectRequest {
    let (low, hiIncl, socketRange) = localPortRange(sk)
    // Before 6.8 a per-socket range is searched like the global one.
    let localPorts = socketRange && rule(.connectRangeStepOne)
    let high = hiIncl + 1
    var remaining = UInt32(high - low)
    if !localPorts && remaining > 1 { remaining &= ~1 }
    let h = portOffset(saddr, dst.addr, Int(dst.port))
    let index = Int(h & 0xFFFF)
    var offset = (perturb(index) &+ UInt32(truncatingIfNeeded: h >> 32)) % remaining
    if !localPorts && rule(.connectEvenFirst) { offset &= ~1 }
    return ConnectRequest(sk: sk, saddr: saddr, dst: dst, low: low, high: high, step: localPorts ? 1 : 2, remaining: remaining, offset: offset, index: index)
  }

  /// The port tester: may the request take `port`, and does it take over a
  /// TIME_WAIT entry? Reserved ports are skipped; so is a port whose bucket
  /// some socket bind()ed explicitly; on a connect()-only bucket the 4-tuple
  /// must be free or held by a reusable TIME_WAIT entry.
  func connectPortProbe(_ q: ConnectRequest, _ port: Int) -> ConnectPick? {
    if reservedPorts.contains(port) { return nil }
    guard let tb = tcp.bucket(port) else {
      // No bucket: nothing holds the port, so nothing holds its 4-tuple.
      if case .busy = checkEstablished(q.sk, saddr: q.saddr, sport: port, dst: q.dst, autobind: true) { return nil }
      return ConnectPick(port: port, recycle: nil)
    }
    if (tb.fastreuse >= 0 || tb.fastreuseport >= 0) && rule(.bindMarksPort) { return nil }
    switch checkEstablished(q.sk, saddr: q.saddr, sport: port, dst: q.dst, autobind: true) {
    case .free: return ConnectPick(port: port, recycle: nil)
    case .recycle(let tw): return ConnectPick(port: port, recycle: tw)
    case .busy: return nil
    }
  }

  /// The kernel's loop, line for line: from the start point, every `step`-th
  /// port, wrapping, then (without a per-socket range) the other parity.
  func connectSearchLiteral(_ sk: SimSock, saddr: IPAddress, dst: Endpoint, rng: inout SeededRandom) -> ConnectPick? {
    let q = connectRequest(sk, saddr: saddr, dst: dst)
    var offset = q.offset
    while true {  // other_parity_scan:
      var port = q.low + Int(offset)
      var i = 0
      while i < Int(q.remaining) {
        if port >= q.high { port -= Int(q.remaining) }
        if let pick = connectPortProbe(q, port) { return finishPick(pick, i: i, q, rng: &rng) }
        i += q.step
        port += q.step
      }
      if q.step == 2 {
        offset = offset &+ 1
        if offset & 1 != 0 && q.remaining > 1 { continue }
      }
      return nil
    }
  }

  /// The search the simulator runs: the same passes and the same tester,
  /// but ports that are reserved, bind()-marked, or held toward this
  /// destination by a full socket (which the tester would find busy) are
  /// skipped a bitmap word at a time, so a crowded range costs words, not
  /// ports, and the cost of a connect() stays flat as connections grow.
  func connectSearch(_ sk: SimSock, saddr: IPAddress, dst: Endpoint, rng: inout SeededRandom) -> ConnectPick? {
    let q = connectRequest(sk, saddr: saddr, dst: dst)
    let t = tcp
    let marks = rule(.bindMarksPort)
    let busy = busyPorts[PeerKey(laddr: q.saddr, raddr: q.dst.addr, rport: Int(q.dst.port))] ?? PeerPorts()
    let skip: (Int) -> UInt64 = { w in self.reservedPorts.words[w] | (marks ? t.marked.words[w] : 0) | busy.word(w) }
    // Without a per-socket range, a second pass takes the other parity
    // (when the first started on an even offset, as the literal loop's test says).
    for k in 0..<(q.step == 2 && q.remaining > 1 && (q.offset &+ 1) & 1 != 0 ? 2 : 1) {
      var port = q.low + Int(q.offset &+ UInt32(k))
      var i = 0
      while i < Int(q.remaining) {
        if port >= q.high { port -= Int(q.remaining) }
        // The run of candidates up to `high` (or the end of the pass).
        let runEnd = min(q.high, port + q.step * ((Int(q.remaining) - i + q.step - 1) / q.step))
        let count = (runEnd - port + q.step - 1) / q.step
        guard let p = PortScan.firstClear(start: port, step: q.step, count: count, blocked: skip) else {
          i += count * q.step
          port += count * q.step
          continue
        }
        i += p - port
        port = p
        if let pick = connectPortProbe(q, port) { return finishPick(pick, i: i, q, rng: &rng) }
        i += q.step
        port += q.step
      }
    }
    return nil
  }

  /// The randomness added to the next search to this destination:
  /// table_perturb[index] += max(i, random(0..7) * step) + step.
  private func finishPick(_ pick: ConnectPick, i: Int, _ q: ConnectRequest, rng: inout SeededRandom) -> ConnectPick {
    let jitter = Int(rng.below(8)) * q.step
    let inc = max(i, jitter) + q.step
    tablePerturb[q.index] = perturb(q.index) &+ UInt32(truncatingIfNeeded: inc)
    return pick
  }

  enum Established {
    case free
    case busy(SimSock)
    case recycle(SimSock)
  }

  /// __inet_check_established: is the 4-tuple free, held by a live socket, or
  /// held by a TIME_WAIT entry that tcp_twsk_unique lets us take over?
  func checkEstablished(_ sk: SimSock, saddr: IPAddress, sport: Int, dst: Endpoint, autobind: Bool) -> Established {
    guard let other = ehash[FourTuple(saddr, sport, dst.addr, Int(dst.port))], other !== sk else { return .free }
    guard other.isTW else { return .busy(other) }
    return twUnique(other, autobind: autobind) ? .recycle(other) : .busy(other)
  }

  /// tcp_twsk_unique.
  func twUnique(_ tw: SimSock, autobind: Bool) -> Bool {
    var reuse = twReuse
    if tw.state == .FIN_WAIT2 && rule(.finWait2NotReused) { reuse = 0 }
    if reuse == 2 {
      let loop = tw.device == "lo" || (tw.raddr?.isLoopback ?? false) || tw.laddr.isLoopback
      if !loop { reuse = 0 }
    }
    guard tw.timestamps else { return false }
    if !autobind { return true }
    guard reuse != 0 else { return false }
    if !has(.twReuseDelay) {
      // Before 6.14: once the clock's whole second is past the one of the
      // last timestamp the entry saw (ktime_get_seconds() > tw_ts_recent_stamp).
      return nowMs / 1000 > tw.twEntryMs / 1000 || config.disabledRules.contains(.twReuseDelay)
    }
    return nowMs > tw.twEntryMs + Int64(twReuseDelayMs) || !rule(.twReuseDelay)
  }
}

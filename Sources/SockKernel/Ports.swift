/// The port rules: the conflict predicate (spec section 4), explicit bind and
/// the listen() re-check (section 5), bind(0)/listen() autobind (section 6),
/// and connect()'s ephemeral search (section 7.3). Each search exists twice: a
/// literal transcription of the kernel's loop, and the fast version the
/// simulator runs, which must pick the same port from the same random draws.
extension SimKernel {
  func table(for s: SimSock) -> BindTable { s.isTCP ? tcp : udp }

  func devicesCompatible(_ a: SimSock, _ b: SimSock) -> Bool {
    a.device == nil || b.device == nil || a.device == b.device
  }

  /// inet_bind_conflict(sk, sk2, relax, reuseport_ok), for overlapping owners.
  func conflict(_ sk: SimSock, _ sk2: SimSock, relax: Bool, reuseportOK: Bool) -> Bool {
    if sk === sk2 { return false }
    guard devicesCompatible(sk, sk2) else { return false }
    let sk2TW = sk2.isTW
    let rpPair = sk.reuseport && sk2.reuseport && (sk2TW || sk.uid == sk2.uid || !rule("reuseport-uid"))
    if sk.reuse && sk2.reuse && (sk2.state != .LISTEN || !rule("listen-blocks-reuseaddr")) {
      return !relax || (!reuseportOK && rpPair)
    }
    return !(reuseportOK && rpPair)
  }

  /// Every owner of `port` that overlaps `sk` and conflicts with it.
  func conflicts(_ sk: SimSock, port: Int, relax: Bool, reuseportOK: Bool) -> [SimSock] {
    guard let tb = table(for: sk).bucket(port) else { return [] }
    let cls = sk.addrClass
    return tb.owners.filter { o in
      guard let oc = o.boundClass else { return false }
      return cls.overlaps(oc) && conflict(sk, o, relax: relax, reuseportOK: reuseportOK)
    }
  }

  /// UDP's rule (udp_lib_lport_inuse): both SO_REUSEADDR, or a reuseport pair
  /// with the same owner, may share; anything else that overlaps conflicts.
  func udpConflicts(_ sk: SimSock, port: Int) -> [SimSock] {
    guard let tb = udp.bucket(port) else { return [] }
    let cls = sk.addrClass
    return tb.owners.filter { o in
      guard o !== sk, let oc = o.boundClass, cls.overlaps(oc), devicesCompatible(sk, o) else { return false }
      if sk.reuse && o.reuse && rule("udp-reuseaddr-shares") { return false }
      if sk.reuseport && o.reuseport && sk.uid == o.uid { return false }
      return true
    }
  }

  /// inet_sk_get_local_port_range: the namespace range narrowed by
  /// IP_LOCAL_PORT_RANGE where its bounds lie inside it.
  func localPortRange(_ s: SimSock) -> (lo: Int, hi: Int, local: Bool) {
    var lo = portLo
    var hi = portHi
    let (slo, shi) = s.portRange
    if slo == 0 && shi == 0 { return (lo, hi, false) }
    if slo >= lo && slo <= hi { lo = slo }
    if shi != 0 && shi >= lo && shi <= hi { hi = shi }
    return (lo, hi, true)
  }

  // MARK: fast reuse state (inet_csk_update_fastreuse)

  func reuseportMatch(_ tb: PortBucket, _ sk: SimSock) -> Bool {
    guard tb.fastreuseport > 0, sk.reuseport, tb.fastuid == sk.uid else { return false }
    if tb.fastreuseport == FastReusePort.any { return true }
    // STRICT: the address must match, a wildcard on the bucket's side matching any.
    if tb.fastAddr.isAny && !(tb.fastFamily == .inet6 && tb.fastV6only && sk.laddr.effectiveV4 != nil) { return true }
    return tb.fastAddr.asV6 == sk.laddr.asV6
  }

  func updateFastreuse(_ sk: SimSock, _ tb: PortBucket) {
    let reuse = sk.reuse && sk.state != .LISTEN
    if tb.tb2.isEmpty {
      tb.fastreuse = reuse ? 1 : 0
      if sk.reuseport {
        tb.fastreuseport = FastReusePort.any
        recordFast(tb, sk)
      } else {
        tb.fastreuseport = 0
      }
    } else {
      if !reuse { tb.fastreuse = 0 }
      if sk.reuseport {
        if !reuseportMatch(tb, sk) {
          tb.fastreuseport = FastReusePort.strict
          recordFast(tb, sk)
        }
      } else {
        tb.fastreuseport = 0
      }
    }
    table(for: sk).refreshMark(tb)
  }

  func recordFast(_ tb: PortBucket, _ sk: SimSock) {
    tb.fastuid = sk.uid
    tb.fastAddr = sk.laddr
    tb.fastV6only = sk.v6only
    tb.fastFamily = sk.kind.family
  }

  /// Binds `sk` into `port`'s buckets after a successful get_port.
  func hashBind(_ sk: SimSock, port: Int) {
    let t = table(for: sk)
    let tb = t.bucket(port) ?? t.createBucket(port)
    updateFastreuse(sk, tb)
    if sk.boundPort == nil { t.add(sk, tb) }
    if let tb2 = tb.tb2[sk.laddr.asV6] {
      tb2.fastreuse = tb.fastreuse
      tb2.fastreuseport = tb.fastreuseport
    }
  }

  // MARK: get_port

  enum PortFailure {
    case inUse([SimSock], port: Int)
    case exhausted(lo: Int, hi: Int)
  }

  /// inet_csk_get_port / udp_lib_get_port: an explicit port, or 0 for autobind.
  func getPort(_ sk: SimSock, _ snum: Int) -> PortFailure? {
    if !sk.isTCP { return udpGetPort(sk, snum) }
    if snum != 0 {
      let blockers = conflicts(sk, port: snum, relax: true, reuseportOK: true)
      if !blockers.isEmpty { return .inUse(blockers, port: snum) }
      hashBind(sk, port: snum)
      return nil
    }
    guard let port = findOpenPort(sk) else {
      let r = localPortRange(sk)
      return .exhausted(lo: r.lo, hi: r.hi)
    }
    hashBind(sk, port: port)
    return nil
  }

  func udpGetPort(_ sk: SimSock, _ snum: Int) -> PortFailure? {
    if snum != 0 {
      let blockers = udpConflicts(sk, port: snum)
      if !blockers.isEmpty { return .inUse(blockers, port: snum) }
      udpHash(sk, port: snum)
      return nil
    }
    let (lo, hi, _) = localPortRange(sk)
    guard let port = udpFindPort(sk, lo: lo, hi: hi, rand: UInt32(truncatingIfNeeded: random.next())) else {
      return .exhausted(lo: lo, hi: hi)
    }
    udpHash(sk, port: port)
    return nil
  }

  /// The UDP hash table's size on these machines ("UDP hash table entries:
  /// 16384" at boot; a namespace shares it while udp_child_hash_entries is 0).
  static let udpHashSize = 16384

  /// udp_lib_get_port's search for snum 0: from a random first port, one
  /// hash slot at a time; inside a slot, every port of that slot in steps of
  /// an odd multiple of the table size (16-bit arithmetic, as the kernel's
  /// unsigned short). A port is free when no conflicting owner holds it.
  func udpFindPort(_ sk: SimSock, lo: Int, hi: Int, rand r: UInt32) -> Int? {
    let size = SimKernel.udpHashSize
    let remaining = hi - lo + 1
    var first = UInt16(truncatingIfNeeded: Int((UInt64(r) &* UInt64(remaining)) >> 32) + lo)
    if !rule("udp-bind0-slot-walk") {
      // A plain linear walk from the random start (not what the kernel does).
      for i in 0..<remaining {
        let port = lo + (Int(first) - lo + i) % remaining
        if !reservedPorts.contains(port) && udpConflicts(sk, port: port).isEmpty { return port }
      }
      return nil
    }
    let step = UInt16(truncatingIfNeeded: (r | 1) &* UInt32(size))
    let last = first &+ UInt16(truncatingIfNeeded: size)
    repeat {
      var snum = first
      repeat {
        let p = Int(snum)
        if lo <= p && p <= hi && !reservedPorts.contains(p) && udpConflicts(sk, port: p).isEmpty { return p }
        snum = snum &+ step
      } while snum != first
      first = first &+ 1
    } while first != last
    return nil
  }

  /// Hashes a UDP socket on its port; a SO_REUSEPORT socket joins the group
  /// of an owner with exactly its address, family, v6only, device and uid
  /// (udp_reuseport_add_sock), or starts one.
  func udpHash(_ sk: SimSock, port: Int) {
    let tb = udp.bucket(port) ?? udp.createBucket(port)
    udp.add(sk, tb)
    guard sk.reuseport else { return }
    let mate = tb.owners.first { o in
      o !== sk && o.udpGroup != nil && o.isV6 == sk.isV6 && o.v6only == sk.v6only && o.device == sk.device
        && o.uid == sk.uid && o.laddr == sk.laddr
    }
    if let g = mate?.udpGroup {
      udpGroups[g, default: []].append(sk)
      sk.udpGroup = g
    } else {
      udpGroups[nextGroup] = [sk]
      sk.udpGroup = nextGroup
      nextGroup += 1
    }
  }

  /// reuseport_detach_sock: the last member takes the leaving one's place.
  func udpUnhash(_ sk: SimSock) {
    udp.remove(sk)
    guard let g = sk.udpGroup, var members = udpGroups[g], let i = members.firstIndex(where: { $0 === sk }) else { return }
    members[i] = members[members.count - 1]
    members.removeLast()
    udpGroups[g] = members.isEmpty ? nil : members
    sk.udpGroup = nil
  }

  // MARK: bind(0) and listen() autobind: inet_csk_find_open_port

  /// The fast search: identical control flow and random draws to
  /// `findOpenPortLiteral`, but the strict first pass finds the next
  /// candidate port with bitmap words instead of probing each port.
  func findOpenPort(_ sk: SimSock) -> Int? {
    findOpenPortImpl(sk, fast: sk.device == nil, rng: &random)
  }

  /// A literal transcription of the kernel loop (kept for the property test).
  func findOpenPortLiteral(_ sk: SimSock, rng: inout SeededRandom) -> Int? {
    findOpenPortImpl(sk, fast: false, rng: &rng)
  }

  func findOpenPortFast(_ sk: SimSock, rng: inout SeededRandom) -> Int? {
    findOpenPortImpl(sk, fast: sk.device == nil, rng: &rng)
  }

  private func findOpenPortImpl(_ sk: SimSock, fast: Bool, rng: inout SeededRandom) -> Int? {
    var relax = false
    let t = tcp
    while true {  // ports_exhausted:
      var attemptHalf = sk.reuse ? 1 : 0
      if !rule("reuseaddr-lower-half") { attemptHalf = 0 }
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
        if rule("bind0-odd-first") { offset |= 1 }
        while true {  // other_parity_scan:
          let start = low + Int(offset)
          if fast && !relax {
            if let p = fastScan(sk, t, low: low, high: high, start: start, remaining: Int(remaining)) { return p }
          } else {
            var port = start
            var i = 0
            while i < Int(remaining) {
              if port >= high { port -= Int(remaining) }
              if !reservedPorts.contains(port) {
                if t.bucket(port) == nil { return port }
                if conflicts(sk, port: port, relax: relax, reuseportOK: false).isEmpty { return port }
              }
              i += 2
              port += 2
            }
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

  /// The kernel's step-2 loop visits `start, start+2, ...` below `high`, then
  /// wraps by `remaining`: two runs of ports. With relax off, every owner that
  /// overlaps conflicts, so a port is free exactly when no overlapping owner's
  /// bit is set.
  private func fastScan(_ sk: SimSock, _ t: BindTable, low: Int, high: Int, start: Int, remaining: Int) -> Int? {
    let cls = sk.addrClass
    let exactWords = t.exact[sk.laddr.asV6]?.words
    let reserved = reservedPorts.words
    let blocked: (Int) -> UInt64 = { w in t.overlapWord(cls, exactWords, w) | reserved[w] }
    let firstRun = max(0, min((high - 1 - start) / 2 + 1, (remaining + 1) / 2))
    if start < high, let p = PortScan.firstClear(start: start, step: 2, count: firstRun, blocked: blocked) { return p }
    let total = (remaining + 1) / 2
    let rest = total - (start < high ? firstRun : 0)
    guard rest > 0 else { return nil }
    let wrapStart = (start < high ? start + 2 * firstRun : start) - remaining
    return PortScan.firstClear(start: wrapStart, step: 2, count: rest, blocked: blocked)
  }

  // MARK: connect(): __inet_hash_connect

  struct ConnectPick {
    var port: Int
    var recycle: SimSock?
  }

  /// secure_ipv4_port_ephemeral: a keyed hash of source, destination and
  /// destination port, plus the 10-second time slot.
  func portOffset(_ saddr: IPAddress, _ daddr: IPAddress, _ dport: Int) -> UInt64 {
    let slot = UInt64(nowMs / 10_000)
    return SeededRandom.keyedHash(netSecret, saddr.hashWords + daddr.hashWords + [UInt64(dport), slot])
  }

  func perturb(_ idx: Int) -> UInt32 {
    if let v = tablePerturb[idx] { return v }
    return UInt32(truncatingIfNeeded: SeededRandom.keyedHash(netSecret ^ 0x7AB1E, [UInt64(idx)]))
  }

  /// Searches a source port for `sk` connecting from `saddr` to `dst`.
  /// The literal transcription walks every port; the fast one skips ports in
  /// bitmap words (reserved, or marked by an explicit bind()).
  func connectSearch(_ sk: SimSock, saddr: IPAddress, dst: Endpoint, fast: Bool, rng: inout SeededRandom) -> ConnectPick? {
    let (low, hiIncl, localPorts) = localPortRange(sk)
    let step = localPorts ? 1 : 2
    let high = hiIncl + 1
    var remaining = UInt32(high - low)
    if !localPorts && remaining > 1 { remaining &= ~1 }
    let h = portOffset(saddr, dst.addr, Int(dst.port))
    let index = Int(h & 0xFFFF)
    var offset = (perturb(index) &+ UInt32(truncatingIfNeeded: h >> 32)) % remaining
    if !localPorts && rule("connect-even-first") { offset &= ~1 }
    while true {  // other_parity_scan:
      var port = low + Int(offset)
      var i = 0
      while i < Int(remaining) {
        if port >= high { port -= Int(remaining) }
        if fast {
          // Skip, a word at a time, ports that are reserved or bind()-marked.
          let t = tcp
          let skipW: (Int) -> UInt64 = { w in self.reservedPorts.words[w] | (self.rule("bind-marks-port") ? t.marked.words[w] : 0) }
          let itersLeft = (Int(remaining) - i + step - 1) / step
          let runEnd = min(high, port + step * itersLeft)
          let count = (runEnd - port + step - 1) / step
          if let p = PortScan.firstClear(start: port, step: step, count: count, blocked: skipW) {
            i += p - port
            port = p
          } else {
            i += count * step
            port += count * step
            continue
          }
        } else {
          if reservedPorts.contains(port) {
            i += step
            port += step
            continue
          }
        }
        if let tb = tcp.bucket(port) {
          if (tb.fastreuse >= 0 || tb.fastreuseport >= 0) && rule("bind-marks-port") {
            i += step
            port += step
            continue
          }
          switch checkEstablished(sk, saddr: saddr, sport: port, dst: dst, autobind: true) {
          case .free:
            return finishPick(ConnectPick(port: port, recycle: nil), i: i, step: step, index: index, rng: &rng)
          case .recycle(let tw):
            return finishPick(ConnectPick(port: port, recycle: tw), i: i, step: step, index: index, rng: &rng)
          case .busy:
            break
          }
          i += step
          port += step
          continue
        }
        return finishPick(ConnectPick(port: port, recycle: nil), i: i, step: step, index: index, rng: &rng)
      }
      if !localPorts {
        offset = offset &+ 1
        if offset & 1 != 0 && remaining > 1 { continue }
      }
      return nil
    }
  }

  private func finishPick(_ pick: ConnectPick, i: Int, step: Int, index: Int, rng: inout SeededRandom) -> ConnectPick {
    let jitter = Int(rng.below(8)) * step
    let inc = max(i, jitter) + step
    tablePerturb[index] = perturb(index) &+ UInt32(truncatingIfNeeded: inc)
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

  /// tcp_twsk_unique (6.14+).
  func twUnique(_ tw: SimSock, autobind: Bool) -> Bool {
    var reuse = twReuse
    if tw.state == .FIN_WAIT2 { reuse = 0 }
    if reuse == 2 {
      let loop = tw.device == "lo" || (tw.raddr?.isLoopback ?? false) || tw.laddr.isLoopback
      if !loop { reuse = 0 }
    }
    guard tw.timestamps else { return false }
    if !autobind { return true }
    return reuse != 0 && (nowMs > tw.twEntryMs + Int64(twReuseDelayMs) || !rule("tw-reuse-delay"))
  }
}

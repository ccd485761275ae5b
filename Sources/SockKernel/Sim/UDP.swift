/// UDP on the simulated kernel: ports, SO_REUSEPORT groups, datagrams.
///
/// Models: `udp_lib_lport_inuse` (who may share a port), `udp_lib_get_port`
/// (explicit port and the hash-slot walk of port 0),
/// `udp_reuseport_add_sock` and `reuseport_detach_sock` (groups),
/// `udp4_lib_lookup2` / `compute_score` / `lookup_reuseport` (which socket
/// a datagram reaches), `inet_dgram_connect` and `inet_autobind`, and
/// `udp_sendmsg` / `udp_recvmsg` (net/ipv4/udp.c, net/core/sock_reuseport.c).
extension SimKernel {
  /// The owners of `port` that udp_lib_lport_inuse looks at for `sk`: those
  /// whose address overlaps and device is compatible, unless both set
  /// SO_REUSEADDR. Each either shares through SO_REUSEPORT (same uid) or
  /// conflicts.
  func udpContenders(_ sk: SimSock, port: Int) -> [(owner: SimSock, shares: Bool)] {
    guard let tb = udp.bucket(port) else { return [] }
    let cls = sk.addrClass
    return tb.owners.compactMap { o in
      guard o !== sk, let oc = o.boundClass, AddrClass.overlap(cls, v6: sk.isV6, oc, v6Other: o.isV6), devicesCompatible(sk, o) else {
        return nil
      }
      if sk.reuse && o.reuse && rule(.udpReuseaddrShares) { return nil }
      return (o, sk.reuseport && o.reuseport && sk.uid == o.uid)
    }
  }

  /// Port 0's test (udp_lib_lport_inuse with a bitmap): every contender
  /// that does not share marks the port used.
  func udpConflicts(_ sk: SimSock, port: Int) -> [SimSock] {
    udpContenders(sk, port: port).filter { !$0.shares }.map(\.owner)
  }

  /// An explicit port's test (udp_lib_lport_inuse without a bitmap): the
  /// walk returns at the first contender, so a SO_REUSEPORT mate ahead of a
  /// conflicting socket lets the bind through.
  func udpExplicitConflict(_ sk: SimSock, port: Int) -> [SimSock] {
    let cs = udpContenders(sk, port: port)
    if rule(.udpFirstContenderDecides) {
      // Only here does the slot's order matter (bind(0) tests every port of its walk).
      guard let first = cs.min(by: { $0.owner.udpSlotKey < $1.owner.udpSlotKey }), !first.shares else { return [] }
      return [first.owner]
    }
    return cs.filter { !$0.shares }.map(\.owner)
  }

  func udpGetPort(_ sk: SimSock, _ snum: Int) -> PortFailure? {
    if snum != 0 {
      let blockers = udpExplicitConflict(sk, port: snum)
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
    if !rule(.udpBind0SlotWalk) {
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
    // udp_lib_get_port adds a socket at the head of its slot's list, an
    // IPv6 SO_REUSEPORT one at the tail.
    udpSlotSeq += 1
    sk.udpSlotKey = sk.isV6 && sk.reuseport ? udpSlotSeq : -udpSlotSeq
    sk.udpAddrKey = sk.udpSlotKey
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
  /// inet_autobind, as inet_dgram_connect and inet_send_prepare run it
  /// before anything else: an unbound socket gets a port, or the call fails
  /// with EAGAIN.
  func udpAutobind(_ s: SimSock) -> CallResult? {
    guard s.lport == 0, let f = udpGetPort(s, 0) else { return nil }
    return failure(f, for: s, call: "connect()")
  }

  enum Destination {
    case to(Endpoint)
    case refused(CallResult)
  }

  /// Where a datagram socket's connect() or sendto() goes, as
  /// ip4_datagram_connect, ip6_datagram_connect, udp_sendmsg and
  /// udpv6_sendmsg read the address: an IPv6 socket takes an IPv4 sockaddr
  /// as its v4-mapped form (not when v6only); a wildcard means this host.
  func udpDestination(_ s: SimSock, _ ep: Endpoint, sending: Bool) -> Destination {
    var dst = ep
    if !s.isV6 {
      guard ep.addr.isV4 else { return .refused(.fail(.EAFNOSUPPORT, "an IPv4 socket cannot use an IPv6 address", remedy: .ipv6Socket)) }
    } else {
      if ep.addr.isV4 { dst.addr = ep.addr.asV6 }
      dst.addr = localDestination(s, dst.addr)
      if dst.addr.isV4Mapped && s.v6only {
        return .refused(
          .fail(ep.addr.isV4 && !sending ? .EAFNOSUPPORT : .ENETUNREACH, "a v6only socket cannot reach an IPv4 (v4-mapped) address"))
      }
      if s.addrLock && !s.laddr.isAny && !s.laddr.isV4Mapped && dst.addr.isV4Mapped {
        // An IPv4 sockaddr goes to __ip4_datagram_connect, which refuses the family; a v4-mapped one finds no route.
        let e: Errno = ep.addr.isV4 && !sending ? .EAFNOSUPPORT : .ENETUNREACH
        return .refused(.fail(e, "a socket bound to the IPv6 address \(s.laddr) cannot reach an IPv4 (v4-mapped) address"))
      }
      if s.laddr.isV4Mapped && !dst.addr.isV4Mapped {
        return .refused(.fail(.EAFNOSUPPORT, "a socket bound to the v4-mapped address \(s.laddr) cannot reach an IPv6 address"))
      }
    }
    if !s.isV6 { dst.addr = localDestination(s, dst.addr) }
    return .to(dst)
  }

  func udpConnect(_ s: SimSock, _ ep: Endpoint) -> CallResult {
    if let e = udpAutobind(s) { return e }
    let dst: Endpoint
    switch udpDestination(s, ep, sending: false) {
    case .to(let d): dst = d
    case .refused(let e): return e
    }
    guard var src = routeSource(dst.addr) else { return .fail(.ENETUNREACH, "there is no route to \(dst.addr)") }
    if s.isV6 && dst.addr.isV4Mapped { src = src.asV6 }
    if s.laddrIsWildcard {
      s.v4RcvAny = s.isV6 && !src.isV4Mapped
      udp.rehash(s, to: src)
      // udp_lib_rehash: to the head of the new address's slot.
      udpSlotSeq += 1
      s.udpAddrKey = -udpSlotSeq
    }
    s.raddr = dst.addr
    s.rport = Int(dst.port)
    s.state = .ESTABLISHED
    return CallResult(local: s.local, remote: s.remote)
  }

  public func sendto(_ id: SockID, _ ep: Endpoint, _ data: [UInt8]) -> CallResult {
    guard let s = sock(id) else { return badf() }
    if s.isTCP {
      // tcp_sendmsg ignores the address: sendto() is send().
      return send(id, data)
    }
    if let e = udpAutobind(s) { return e }
    let dst: Endpoint
    switch udpDestination(s, ep, sending: true) {
    case .to(let d): dst = d
    case .refused(let e): return e
    }
    if let e = s.pendingError {
      // An ICMP error (port unreachable) is reported by the next send to a valid address.
      s.pendingError = nil
      return .fail(e, "an earlier datagram was refused: nothing listens on \(s.remote.map { "\($0)" } ?? "the destination")")
    }
    if s.wrShut { return .fail(.EPIPE, "the socket was shut down for writing") }
    guard let src0 = routeSource(dst.addr) else { return .fail(.ENETUNREACH, "there is no route to \(dst.addr)") }
    let src = Endpoint(s.laddrIsWildcard ? (s.isV6 && dst.addr.isV4Mapped ? src0.asV6 : src0) : s.laddr, UInt16(s.lport))
    if let r = udpReceiver(dst, from: src) {
      r.datagrams.append((src, data))
    } else if s.raddr != nil && s.remote == dst && !(s.isV6 && dst.addr.isV4Mapped && !s.laddr.isV4Mapped && !s.laddrIsWildcard) {
      // The port-unreachable error comes back to a socket whose source is of
      // the destination's family; an IPv6 source sending to a v4-mapped
      // address never hears it (seed 14 program 2004).
      s.pendingError = .ECONNREFUSED
    }
    var res = CallResult.ok
    res.local = s.local
    res.remote = dst
    return res
  }

  /// The socket a datagram to `dst` reaches: the exact address before the
  /// wildcard; among equals the most recently bound; within a SO_REUSEPORT
  /// group (none of it connected), the member a hash of the 4-tuple picks.
  func udpReceiver(_ dst: Endpoint, from src: Endpoint) -> SimSock? {
    guard let tb = udp.bucket(Int(dst.port)) else { return nil }
    let isV4 = dst.addr.effectiveV4 != nil
    // udp4_lib_lookup2 searches the destination address's slot, then the
    // wildcard's; compute_score: 2 for an IPv4 socket, 1 for a dual-stack
    // IPv6 one, +8 when connected to the sender, +4 for a bound device; ties
    // go to the first in the slot's list (the most recently hashed, IPv6
    // SO_REUSEPORT sockets after the others, oldest first).
    func score(_ o: SimSock, exact: Bool) -> Int {
      if isV4 {
        let mine = o.laddr.effectiveV4
        let wildcard = o.laddr == .any4 || (o.isV6 && (o.laddr == .any6 || (o.laddr.isV4Mapped && mine == 0)) && !o.v6only)
        if exact ? (mine != dst.addr.effectiveV4 || mine == 0) : !wildcard { return -1 }
        if o.isV6 && o.v6only { return -1 }
      } else {
        guard o.isV6 else { return -1 }
        if exact ? o.laddr != dst.addr : o.laddr != .any6 { return -1 }
      }
      if let r = o.remote {
        if r != src { return -1 }
      }
      return (isV4 && !o.isV6 ? 2 : 1) + (o.remote != nil ? 8 : 0) + (o.device != nil ? 4 : 0)
    }
    let owners = tb.owners.filter(\.hasFd).sorted { $0.udpAddrKey < $1.udpAddrKey }
    var best: (SimSock, Int)?
    let passes: [[Bool]] = rule(.udpExactAddressFirst) ? [[true], [false]] : [[true, false]]
    for pass in passes where best == nil {
      for o in owners {
        let sc = pass.map { score(o, exact: $0) }.max()!
        if sc >= 0 && (best == nil || sc > best!.1) { best = (o, sc) }
      }
    }
    guard let (first, _) = best else { return nil }
    // reuseport_select_sock by udp_ehashfn; a group with a connected member
    // (reuseport_has_conns) is scored like any other sockets.
    if rule(.udpReuseportSpread), let g = first.udpGroup, let members = udpGroups[g],
      members.count > 1, !members.contains(where: { $0.state == .ESTABLISHED })
    {
      let h = flowHash(netSecret ^ 0x0D9E, dst.addr, src.addr, UInt64(src.port), UInt64(dst.port))
      return members[Int((UInt64(UInt32(truncatingIfNeeded: h)) &* UInt64(members.count)) >> 32)]
    }
    return first
  }

  public func recvfrom(_ id: SockID) -> CallResult {
    guard let s = sock(id) else { return badf() }
    if s.isTCP {
      var r = recv(id, max: nil)
      r.from = s.remote
      return r
    }
    if let e = s.pendingError {
      s.pendingError = nil
      return .fail(e, "an earlier datagram was refused: nothing listens on \(s.remote.map { "\($0)" } ?? "the destination")")
    }
    guard !s.datagrams.isEmpty else {
      if s.nonblock { return .fail(.EAGAIN, "no datagram is waiting") }
      if s.rdShut {
        // __skb_wait_for_more_packets: shut down for reading, a blocking wait ends at once with 0 bytes.
        var r = CallResult.ok
        r.data = []
        return r
      }
      advance(to: nowMs + config.timeoutMs)
      return .fail(.EAGAIN, "no datagram arrived within \(formatMs(config.timeoutMs))")
    }
    let d = s.datagrams.removeFirst()
    var r = CallResult.ok
    r.data = d.data
    r.from = d.from
    return r
  }
}

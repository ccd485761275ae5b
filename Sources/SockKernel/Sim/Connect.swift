/// connect(2) for TCP on the simulated kernel, and the established hash.
///
/// Models: `__inet_stream_connect` (net/ipv4/af_inet.c: SS_CONNECTED,
/// SS_CONNECTING and the non-blocking sequence), `tcp_v4_connect` /
/// `tcp_v6_connect` (routing the destination, choosing the source address,
/// an explicit port's 4-tuple check), `inet_ehash_insert` /
/// `inet_ehash_nolisten` (the established hash). The ephemeral search is
/// in HashConnect.swift, the SYN's delivery in Accept.swift.
extension SimKernel {
  // MARK: connect

  public func connect(_ id: SockID, _ ep: Endpoint) -> CallResult {
    guard let s = sock(id) else { return badf() }
    if s.isTCP && s.ssConnected {
      // sock->state stays SS_CONNECTED after the connection ends (a reset,
      // TIME_WAIT): __inet_stream_connect answers EISCONN whatever sk_state is.
      return .fail(.EISCONN, "the socket was connected\(s.state == .ESTABLISHED ? "" : " (its connection has ended since)"); a socket connects once")
    }
    if !s.isTCP { return udpConnect(s, ep) }
    if s.ssDisconnecting { return .fail(.EINVAL, "shutdown() after a failed connect() left the socket disconnecting (SS_DISCONNECTING)") }
    let r = tcpConnect(s, ep)
    if r.errno == nil { s.ssConnected = true }
    return r
  }

  func tcpConnect(_ s: SimSock, _ ep: Endpoint) -> CallResult {
    switch s.state {
    case .ESTABLISHED, .CLOSE_WAIT, .FIN_WAIT1, .FIN_WAIT2, .CLOSING, .LAST_ACK, .TIME_WAIT:
      if s.connecting {
        s.connecting = false
        return CallResult(local: s.local, remote: s.remote)
      }
      return .fail(.EISCONN, "the socket is already connected to \(s.remote.map { "\($0)" } ?? "a peer")")
    case .SYN_SENT, .SYN_RECV:
      // __inet_stream_connect: a blocking call waits for the handshake; if
      // it ends in time, the call reports how (0, or the error).
      if !s.nonblock && advance(to: nowMs + config.timeoutMs, until: { s.state != .SYN_SENT }) { return tcpConnect(s, ep) }
      return .fail(.EALREADY, "a connect() is still in progress (SYN_SENT)")
    case .LISTEN:
      return .fail(.EISCONN, "a listening socket cannot connect")
    case .CLOSED, .BOUND:
      if s.connecting {
        // SS_CONNECTING on a socket the reset closed: report it once.
        s.connecting = false
        let e = s.pendingError ?? .ECONNABORTED
        s.pendingError = nil
        s.rdShut = false  // tcp_disconnect clears sk_shutdown
        s.wrShut = false
        giveBackAddress(s)  // and inet_reset_saddr
        return .fail(e, e == .ECONNREFUSED ? "the earlier non-blocking connect() was refused: nothing listens there" : nil)
      }
    }
    if let err = s.pendingError {
      s.pendingError = nil
      if s.raddr != nil { return .fail(err) }
    }
    // __inet_stream_connect checks the socket's state first; tcp_v4_connect
    // and tcp_v6_connect then check the address family.
    if let e = familyCheck(s, ep.addr) { return e }
    // Routing: 0.0.0.0 means this host; multicast and broadcast are refused.
    var dst = ep
    dst.addr = localDestination(s, dst.addr)
    if s.isV6 && dst.addr.isV4Mapped && s.v6only {
      return .fail(.ENETUNREACH, "a v6only socket cannot reach an IPv4 (v4-mapped) address")
    }
    if s.isV6 && s.laddr.isV4Mapped && !dst.addr.isV4Mapped {
      return .fail(.EAFNOSUPPORT, "a socket bound to the v4-mapped address \(s.laddr) cannot reach an IPv6 address")
    }
    if s.isV6 && s.addrLock && !s.laddr.isAny && !s.laddr.isV4Mapped && dst.addr.isV4Mapped {
      return .fail(.ENETUNREACH, "a socket bound to the IPv6 address \(s.laddr) cannot reach an IPv4 (v4-mapped) address")
    }
    // After the address checks (seed 11 program 3373: EAFNOSUPPORT first).
    if s.listenerShutDown && rule(.shutListenerCannotConnect) {
      // The attempt still ends in tcp_set_state(TCP_CLOSE): a port bind(0)
      // gave it since is released (seed 33 program 534 on 6.18).
      if !s.portLock && s.lport != 0 {
        tcp.remove(s)
        s.lport = 0
        s.connectBind = false
        giveBackAddress(s)
      }
      return .fail(.EINVAL, "the socket was a listener shut down for reading; it cannot connect (an automatic port it held is given back)")
    }
    if dst.addr.isMulticastOrBroadcast {
      return .fail(.ENETUNREACH, "TCP cannot connect to a multicast or broadcast address")
    }
    guard var src = routeSource(dst.addr) else {
      return .fail(.ENETUNREACH, "there is no route to \(dst.addr): this namespace has only loopback\(addedAddrs.isEmpty ? "" : " and the added addresses")")
    }
    if s.isV6 && dst.addr.isV4Mapped { src = src.asV6 }
    let hadAddr = !s.laddrIsWildcard
    if hadAddr { src = s.laddr }
    let port: Int
    var recycled: SimSock?
    if s.lport != 0 {
      // Port already set: only the 4-tuple is checked (twp == NULL).
      switch checkEstablished(s, saddr: src, sport: s.lport, dst: dst, autobind: false) {
      case .free: break
      case .recycle(let tw): recycled = tw
      case .busy(let other):
        return .fail(
          .EADDRNOTAVAIL,
          "the 4-tuple \(Endpoint(src, UInt16(s.lport))) -> \(dst) is already used by \(describe(other))\(other.isTW ? ", and without TCP timestamps its TIME_WAIT cannot be taken over" : "")."
        )
      }
      port = s.lport
      if !hadAddr {
        s.v4RcvAny = s.isV6 && !src.isV4Mapped
        tcp.rehash(s, to: src)
      }
    } else {
      var rng = random
      let pick = connectSearch(s, saddr: src, dst: dst, rng: &rng)
      random = rng
      guard let p = pick else {
        // Since bhash2 (6.1) the failed search gives back the source address
        // it chose (inet_bhash2_reset_saddr); 5.10 keeps it.
        if !rule(.failedConnectResetsSource) {
          // tcp_v4_connect set the source (sk_rcv_saddr_set writes the
          // v4-mapped form into an IPv6 socket's address too, over ::1,
          // seed 31 program 744 on 5.10).
          if !hadAddr {
            s.laddr = src
          } else if s.isV6 && dst.addr.isV4Mapped && !s.laddr.isV4Mapped && !s.addrLock, let v4 = routeSource(dst.addr) {
            s.laddr = v4.asV6
          }
        }
        return .fail(.EADDRNOTAVAIL, connectWhy(s, src: src, dst: dst))
      }
      port = p.port
      recycled = p.recycle
      s.laddr = src
      s.v4RcvAny = s.isV6 && !src.isV4Mapped && !hadAddr
      let tb = tcp.bucket(port) ?? tcp.createBucket(port, fastreuse: -1, fastreuseport: -1)
      tcp.add(s, tb, newTb2Fields: (-1, -1))
      s.connectBind = true
    }
    var takeover = recycled.map { takeoverWhy($0, explicitPort: s.portLock || s.lport != 0 && !s.connectBind) }
    if let tw = recycled {
      s.inheritedTimestamp = true
      if tw.state == .FIN_WAIT2, let p = tw.peer, p.peer === tw, p.state == .CLOSE_WAIT {
        // Before 0d9e5df4a257 (5.10.227, 6.1.113, 6.12) an orphaned
        // FIN_WAIT2 entry is taken over although its peer is still in
        // CLOSE_WAIT: the SYN reaches that peer, whose challenge ACK draws
        // a reset; the SYN resent a second later finds the listener
        // (measured on 5.10.46).
        resetByPeer(p)
        _ = advance(to: nowMs + 1000)
        takeover =
          String((takeover ?? "").dropLast(takeover?.hasSuffix(".") == true ? 1 : 0))
          + "; the SYN reset \(name(p)), the peer still in CLOSE_WAIT, and the one resent a second later connected."
      }
      killTW(tw)
    }
    s.laddr = src
    s.raddr = dst.addr
    s.rport = Int(dst.port)
    s.state = .SYN_SENT
    hashEstablished(s)
    if s.isV6 && s.mappedOps && !dst.addr.isV4Mapped && rule(.mappedOpsStay) {
      // An earlier connect() to a v4-mapped address switched the socket to
      // the ipv6_mapped operations, and a reset does not switch them back
      // (tcp_v6_connect restores them only when tcp_v4_connect itself
      // fails): this SYN goes out through the IPv4 path and is lost.
      return synLost(
        s, "the socket still uses the IPv4 (v4-mapped) operations of an earlier connect(), so its SYN to \(dst) is lost", neverArrives: true)
    }
    if s.isV6 && dst.addr.isV4Mapped { s.mappedOps = true }
    var r = deliverSYN(s, dst)
    if let t = takeover, r.why == nil { r.why = t.prefix(1).uppercased() + t.dropFirst() }
    return r
  }
  func hashEstablished(_ s: SimSock) {
    guard let r = s.raddr else { return }
    let key = FourTuple(s.laddr, s.lport, r, s.rport)
    let old = ehash.updateValue(s, forKey: key)
    s.inEhash = key
    if s.marksBusy || old?.marksBusy == true { indexEstablished(key, held: s.marksBusy) }
  }

  func unhashEstablished(_ s: SimSock) {
    if let k = s.inEhash, ehash.remove(k, ifHeldBy: s), s.marksBusy { indexEstablished(k, held: false) }
    s.inEhash = nil
  }

  /// Keeps `busyPorts` true to the established hash at `key`: its port bit is
  /// set while the socket there marks it busy (SimSock.marksBusy); `held`
  /// says whether the one there now does.
  private func indexEstablished(_ key: FourTuple, held: Bool) {
    let peer = PeerKey(key)
    let w = key.lport >> 6
    let bit = UInt64(1) << UInt64(key.lport & 63)
    guard let i = busyPorts.index(forKey: peer) else {
      if held { busyPorts[peer] = PeerPorts(word: w, bit) }
      return
    }
    let word = busyPorts.values[i].word(w)
    busyPorts.values[i].set(w, held ? word | bit : word & ~bit)
    if busyPorts.values[i].isEmpty { busyPorts.remove(at: i) }
  }

  /// Finds the listener for a SYN: the exact address first, then the
  /// wildcard; within a SO_REUSEPORT group, by a hash of the 4-tuple.

  /// ip_route_output_key_hash_rcu and ip6_datagram_connect / tcp_v6_connect
  /// for a wildcard destination: this host, at the socket's own bound
  /// address if it has one, else loopback (in the socket's flavour: a
  /// v4-mapped source makes `::` mean ::ffff:127.0.0.1).
  func localDestination(_ s: SimSock, _ a: IPAddress) -> IPAddress {
    let laddrMappedAny = s.laddr.isV4Mapped && s.laddr.effectiveV4 == 0
    let bound = !s.laddr.isAny && !laddrMappedAny
    switch a {
    case .any4: return bound ? s.laddr : .loopback4
    case .any6:
      if bound { return s.laddr }
      return laddrMappedAny ? IPAddress.loopback4.asV6 : .loopback6
    default:
      guard a.isV4Mapped && a.effectiveV4 == 0 else { return a }
      return bound && s.laddr.isV4Mapped ? s.laddr : IPAddress.loopback4.asV6
    }
  }

}

/// The end of a TCP connection: shutdown(2), close(2), FIN, TIME_WAIT, resets.
///
/// Models: `tcp_shutdown`, `tcp_close` (SO_LINGER {1,0} and unread data
/// reset instead of a FIN), `tcp_fin` / `tcp_rcv_state_process` (the FIN
/// state machine, FIN_WAIT1 until the peer's delayed ACK), `tcp_time_wait`
/// and `inet_twsk_alloc` (the minisocket, tcp_max_tw_buckets overflow),
/// `inet_twsk_kill`, `tcp_reset` and `tcp_done`
/// (net/ipv4/tcp.c, tcp_input.c, tcp_minisocks.c, inet_timewait_sock.c).
extension SimKernel {
  func tcpDone(_ s: SimSock) {
    s.state = .CLOSED
    s.connecting = false
    unhashEstablished(s)
    // SOCK_BINDPORT_LOCK keeps an explicit port while the descriptor lives.
    if !s.portLock || !s.hasFd {
      table(for: s).remove(s)
      s.lport = 0
      s.connectBind = false
      if !s.addrLock {
        s.laddr = s.isV6 ? .any6 : .any4
        s.v4RcvAny = false
      }
    }
    if !s.hasFd { dropLive(s) }
  }
  func resetByPeer(_ s: SimSock) {
    s.pendingError = s.state == .CLOSE_WAIT ? .EPIPE : .ECONNRESET
    s.rdShut = true  // tcp_done: sk_shutdown = SHUTDOWN_MASK
    if let p = s.peer, p.peer === s { p.peer = nil }
    s.peer = nil
    tcpDone(s)
  }

  /// tcp_recvmsg's order: queued data first, then end of stream once the
  /// peer's FIN came (SOCK_DONE), then a pending error (a reset), then a
  /// shutdown or closed socket.
  // MARK: shutdown and close

  public func shutdown(_ id: SockID, _ how: ShutdownHow) -> CallResult {
    guard let s = sock(id) else { return badf() }
    // inet_shutdown sets sk_shutdown even where it answers ENOTCONN (an
    // unconnected socket): a later recv() sees end of stream, a send() EPIPE.
    if s.isTCP && s.state == .CLOSED && s.connecting {
      // inet_shutdown on an SS_CONNECTING socket whose connect() failed:
      // sock->state becomes SS_DISCONNECTING, so connect() and listen() are
      // EINVAL from now on (observed on 6.18).
      s.connecting = false
      s.ssDisconnecting = true  // its pending error stays (a send reports it)
    }
    if !s.isTCP || s.state == .CLOSED {
      if how != .wr { s.rdShut = true }
      if how != .rd { s.wrShut = true }
      let connected = !s.isTCP && s.state == .ESTABLISHED
      return connected ? .ok : .fail(.ENOTCONN, "the socket is not connected (shutdown() still marks it)")
    }
    switch s.state {
    case .LISTEN:
      if how == .wr { return .ok }
      // tcp_disconnect of a listener (inet_csk_listen_stop): it stops
      // listening and gives back an automatic port; listen() and bind() work
      // again, connect() is EINVAL (observed on 6.18).
      closeListener(s)
      s.listenerShutDown = true
      // tcp_disconnect clears sk_shutdown, an earlier shutdown()'s marks too:
      // recv() is ENOTCONN again, not end of stream (seed 21).
      s.rdShut = false
      s.wrShut = false
      return .ok
    case .SYN_SENT:
      // inet_shutdown disconnects a connecting socket, whatever `how`:
      // CLOSED again, an autobound port released, sk_shutdown cleared.
      s.connecting = false
      tcpDone(s)
      s.raddr = nil
      s.rport = 0
      // tcp_disconnect of a SYN_SENT socket sets sk_err: the next recv()
      // or send() reports ECONNRESET (seed 22).
      s.pendingError = .ECONNRESET
      return .ok
    default: break
    }
    if how != .wr { s.rdShut = true }
    if how != .rd {
      // tcp_shutdown sends a FIN from ESTABLISHED or CLOSE_WAIT whatever
      // sk_shutdown says: a socket marked before it connected (5.10 lets
      // such a socket connect to itself) still closes (seed 33 on 5.10).
      s.wrShut = true
      sendFIN(from: s)
    }
    return .ok
  }

  /// The active or passive half of a close: FIN to the peer.
  func sendFIN(from s: SimSock) {
    let p = s.peer
    switch s.state {
    case .ESTABLISHED:
      // FIN_WAIT1 until the peer's delayed ACK (40 ms: the peer is in
      // pingpong mode after a FIN) or the peer's own FIN.
      s.state = .FIN_WAIT1
      s.finAckDueMs = nowMs + SimKernel.delayedAckMs
      if let p = p { receiveFIN(p) }
    case .CLOSE_WAIT:
      s.state = .LAST_ACK
      if let p = p { receiveFIN(p) }
      // The peer ACKs at once: LAST_ACK -> CLOSED.
      if s.state == .LAST_ACK { tcpDone(s) }
    default:
      break
    }
  }

  func receiveFIN(_ p: SimSock) {
    p.rxEOF = true
    if p.isTW {
      if p.state == .FIN_WAIT2 {
        p.state = .TIME_WAIT
        p.twExpireMs = nowMs + SimKernel.timeWaitMs
      }
      return
    }
    switch p.state {
    case .ESTABLISHED:
      p.state = .CLOSE_WAIT
    case .FIN_WAIT1, .FIN_WAIT2:
      p.finAckDueMs = nil
      // A FIN in FIN_WAIT2 ends in TIME_WAIT; the socket itself is done.
      enterTimeWait(p, substate: .TIME_WAIT, timeoutMs: SimKernel.timeWaitMs)
    default:
      break
    }
  }

  /// tcp_time_wait: hands the socket's place in the tables to a minisocket.
  func enterTimeWait(_ s: SimSock, substate: SockState, timeoutMs: Int64) {
    // inet_twsk_alloc compares the count with the sysctl as unsigned: a
    // negative limit is no limit.
    let limit = rule(.twLimitUnsigned) ? Int(UInt32(truncatingIfNeeded: maxTwBuckets)) : maxTwBuckets
    if twCount >= limit && rule(.twOverflow) {
      // TCPTimeWaitOverflow: no TIME_WAIT; the port is free at once.
      s.peer = nil
      tcpDone(s)
      return
    }
    let tw = newSock(s.kind, uid: s.uid, hasFd: false)
    twCount += 1
    socks[tw.id] = nil
    tw.isTW = true
    tw.state = substate
    tw.reuse = s.reuse
    tw.reuseport = s.reuseport
    tw.v6only = s.v6only
    tw.device = s.device
    tw.connectBind = s.connectBind
    tw.v4RcvAny = s.v4RcvAny
    tw.laddr = s.laddr
    tw.raddr = s.raddr
    tw.rport = s.rport
    tw.timestamps = s.timestamps
    tw.inheritedTimestamp = s.inheritedTimestamp
    tw.twEntryMs = nowMs
    tw.twExpireMs = nowMs + timeoutMs
    tw.origin = s.origin ?? s.id
    tw.peer = s.peer
    if let p = s.peer, p.peer === s { p.peer = tw }
    s.successor = tw
    tcp.replace(s, with: tw)
    unhashEstablished(s)
    hashEstablished(tw)
    s.state = .CLOSED
    s.peer = nil
    if s.hasFd {
      // The descriptor stays, on a CLOSED socket; an explicit port stays bound.
      if s.portLock, let tb = tcp.bucket(tw.lport) { tcp.add(s, tb) } else { s.lport = 0 }
    } else {
      dropLive(s)
    }
  }

  func closeListener(_ s: SimSock) {
    for c in s.queue {
      // Unaccepted connections are reset.
      if let p = c.peer { resetByPeer(p) }
      c.peer = nil
      c.parent = nil
      unhashEstablished(c)
      tcp.remove(c)
      c.state = .CLOSED
      dropLive(c)
      socks[c.id] = nil  // it never had a descriptor nor a name
    }
    s.queue = []
    tcpDone(s)
  }

  public func close(_ id: SockID) -> CallResult {
    guard let s = sock(id) else { return badf() }
    setHasFd(s, false)
    if !s.isTCP {
      udpUnhash(s)
      s.state = .CLOSED
      dropLive(s)
      return .ok
    }
    let abort = s.linger == 0 || !s.rx.isEmpty
    if abort && (s.state == .ESTABLISHED || s.state == .CLOSE_WAIT) {
      // SO_LINGER {on, 0}, or unread data: a reset instead of a FIN, no TIME_WAIT.
      if let p = s.peer { resetByPeer(p) }
      s.peer = nil
      tcpDone(s)
      return .ok
    }
    switch s.state {
    case .LISTEN:
      closeListener(s)
    case .ESTABLISHED:
      s.wrShut = true
      sendFIN(from: s)  // an orphan in FIN_WAIT1 until the ACK comes
    case .CLOSE_WAIT:
      s.wrShut = true
      sendFIN(from: s)
    case .FIN_WAIT1:
      break  // already orphaned by the pending ACK
    case .FIN_WAIT2:
      orphanFinWait2(s)
    default:
      tcpDone(s)
    }
    return .ok
  }

  /// The peer's delayed ACK of our FIN arrives: FIN_WAIT1 -> FIN_WAIT2.
  func finAcked(_ s: SimSock) {
    s.finAckDueMs = nil
    guard s.state == .FIN_WAIT1 else { return }
    s.state = .FIN_WAIT2
    if !s.hasFd { orphanFinWait2(s) }
  }

  /// An orphaned FIN_WAIT2 socket becomes a minisocket that lives for tcp_fin_timeout.
  func orphanFinWait2(_ s: SimSock) {
    if s.state == .CLOSED { return }
    enterTimeWait(s, substate: .FIN_WAIT2, timeoutMs: Int64(finTimeoutS) * 1000)
  }
  func killTW(_ tw: SimSock) {
    twCount -= 1
    unhashEstablished(tw)
    tcp.remove(tw)
    tw.state = .CLOSED
    tw.isTW = false
    tw.peer = nil  // a peer still pointing here keeps the entry until it goes
    dropLive(tw)
  }

  func dropLive(_ s: SimSock) {
    if live[s.id] === s { live[s.id] = nil }
  }
}

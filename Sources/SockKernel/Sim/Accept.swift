/// A SYN's way to a listener, and accept(2).
///
/// Models: `__inet_lookup_listener` / `inet_lhash2_lookup` and
/// `compute_score` (net/ipv4/inet_hashtables.c: the exact address before
/// the wildcard, the family term), `reuseport_select_sock_by_hash`
/// (net/core/sock_reuseport.c), `tcp_conn_request` and
/// `sk_acceptq_is_full` (a full queue drops the SYN), `inet_csk_accept`.
extension SimKernel {
  func lookupListener(_ dst: Endpoint, from src: Endpoint) -> SimSock? {
    let isV4 = dst.addr.effectiveV4 != nil
    func matches(_ l: SimSock, exact: Bool) -> Bool {
      guard l.state == .LISTEN, l.lport == Int(dst.port), l.hasFd else { return false }
      if isV4 {
        if l.isV6 {
          if exact { return l.laddr.effectiveV4 == dst.addr.effectiveV4 }
          return (l.laddr == .any6 || (l.laddr.isV4Mapped && l.laddr.effectiveV4 == 0)) && !l.v6only
        }
        return exact ? l.laddr.effectiveV4 == dst.addr.effectiveV4 : l.laddr == .any4
      }
      guard l.isV6 else { return false }
      return exact ? l.laddr == dst.addr : l.laddr == .any6
    }
    if listeners.count > 64 && listeners.count > 2 * listeners.filter(\.isListening).count {
      listeners = listeners.filter(\.isListening)
    }
    for exact in [true, false] {
      let cands = listeners.filter { matches($0, exact: exact) }
      guard !cands.isEmpty else { continue }
      // Score: an IPv4 socket beats a dual-stack IPv6 one for IPv4 traffic.
      let score: (SimSock) -> Int = { l in (isV4 && !l.isV6 ? 1 : 0) + (l.device != nil ? 1 : 0) }
      let best = cands.map(score).max()!
      let top = cands.filter { score($0) == best }.sorted { $0.listenOrder < $1.listenOrder }
      let first = top[0]
      let group = top.filter { $0.reuseport && first.reuseport && $0.uid == first.uid && $0.laddr == first.laddr }
      if group.count > 1 {
        let h = flowHash(netSecret ^ 0xE4A5, src.addr, dst.addr, UInt64(src.port), UInt64(dst.port))
        let idx = Int((UInt64(UInt32(truncatingIfNeeded: h)) &* UInt64(group.count)) >> 32)
        return group[idx]
      }
      return first
    }
    return nil
  }

  /// A connect() refused with `e`. A non-blocking one has returned by the
  /// time the answer arrives: EINPROGRESS, and the next connect() reports `e`.
  /// `socketError`: whether the refusal sets sk_err (a reset does); without
  /// it the next connect() finds the socket closed and says ECONNABORTED.
  func refuse(_ s: SimSock, _ e: Errno, _ why: String, later: String, socketError: Bool = true) -> CallResult {
    guard s.nonblock else { return .fail(e, why) }
    s.connecting = true
    if socketError { s.pendingError = e }
    return CallResult(errno: .EINPROGRESS, why: later)
  }

  /// A SYN nobody answers: a blocking connect() waits out its timeout and
  /// returns EINPROGRESS, the socket staying in SYN_SENT.
  func synLost(_ s: SimSock, _ why: String, neverArrives: Bool = false) -> CallResult {
    // The SYN is resent on a timer; a blocking connect() waits out its
    // timeout (SO_SNDTIMEO) and leaves the socket SS_CONNECTING.
    s.synDst = s.remote
    s.synFirstMs = nowMs
    s.synRtoMs = SimKernel.initialRtoMs
    s.synRetriesDone = 0
    s.synRetryAtMs = nowMs + s.synRtoMs
    s.synNeverArrives = neverArrives
    s.connecting = true
    if !s.nonblock { advance(to: nowMs + config.timeoutMs, until: { s.state != .SYN_SENT }) }
    if s.state == .ESTABLISHED {
      // A resent SYN found room while connect() waited.
      s.connecting = false
      return CallResult(local: s.local, remote: s.remote)
    }
    return CallResult(
      errno: .EINPROGRESS, why: why + (s.nonblock ? "" : " and connect() gave up after \(formatMs(config.timeoutMs))"), local: s.local,
      remote: s.remote)
  }

  func deliverSYN(_ s: SimSock, _ dst: Endpoint) -> CallResult {
    let src = Endpoint(s.laddr, UInt16(s.lport))
    if s.laddr.asV6 == dst.addr.asV6 && s.lport == Int(dst.port) && rule(.selfConnect) {
      if s.wrShut && rule(.wrShutSelfConnectAborts) {
        // shutdown(SHUT_WR) came first: the crossing SYN is refused
        // (ECONNABORTED), and what is left behind holds the port and the
        // 4-tuple (a later bind() of that port, listen()'s autobind and a
        // connect() to the same endpoint all fail) while the socket itself
        // is disconnected (sk_shutdown cleared) and free to bind another
        // port (observed on 6.18). It behaves as a TIME_WAIT entry: bind()
        // and autobind conflict with it, connect()'s search finds it too
        // young to reuse, and an explicitly bound port takes it over
        // (timestamps); the simulator keeps an unnamed one.
        let ghost = newSock(s.kind, uid: s.uid, hasFd: false)
        socks[ghost.id] = nil
        twCount += 1
        ghost.isTW = true
        ghost.state = .TIME_WAIT
        ghost.laddr = s.laddr
        ghost.raddr = s.laddr
        ghost.rport = s.lport
        ghost.connectBind = s.connectBind
        ghost.reuse = s.reuse  // a TIME_WAIT entry keeps both (seed 21)
        ghost.reuseport = s.reuseport
        ghost.v4RcvAny = s.v4RcvAny
        ghost.timestamps = tcpTimestamps != 0
        ghost.twEntryMs = nowMs
        ghost.twExpireMs = nowMs + SimKernel.timeWaitMs
        if let tb = tcp.bucket(s.lport) { tcp.add(ghost, tb) }
        unhashEstablished(s)
        hashEstablished(ghost)
        s.state = .CLOSED
        // tcp_disconnect gives back what connect() chose: an automatic port,
        // and an address (an explicitly bound port stays bound to the
        // wildcard, seed 22; an IPv6 socket reaches [::] as ::1 again, seed 24).
        if !s.portLock {
          tcp.remove(s)
          s.lport = 0
          s.connectBind = false
        }
        giveBackAddress(s)
        s.raddr = nil
        s.rport = 0
        // As for a reset: a non-blocking connect() leaves tcp_done's
        // sk_shutdown (recv() reads end of file, seed 3) until the next
        // connect(), which finds the socket closed with no socket error
        // (__inet_stream_connect: sock_error() ?: -ECONNABORTED).
        s.rdShut = s.nonblock
        s.wrShut = s.nonblock
        s.connectRefused = true
        return refuse(
          s, .ECONNABORTED, "the socket would connect to itself, but it was shut down for writing first",
          later: "a non-blocking connect() returns at once; the refusal is reported by the next connect()", socketError: false)
      }
      // The SYN comes back to the socket that sent it: __inet_lookup finds
      // it in the established hash before any listener, and a SYN in
      // SYN_SENT is a simultaneous open (tcp_rcv_synsent_state_process):
      // the socket is connected to itself.
      s.state = .ESTABLISHED
      s.peer = s
      s.timestamps = tcpTimestamps != 0
      var r = CallResult(local: s.local, remote: s.remote)
      r.why = "the source endpoint is the destination: the SYN came back to this socket, which is now connected to itself (a simultaneous open)."
      if s.nonblock {
        s.connecting = true
        r.errno = .EINPROGRESS
      }
      return r
    }
    // A SYN that lands on a TIME_WAIT entry of its own 4-tuple (the other
    // side closed first): tcp_timewait_state_process answers TCP_TW_SYN,
    // the entry is dropped and the listener takes the SYN.
    var replaced: String?
    if let tw = ehash[FourTuple(dst.addr, Int(dst.port), src.addr, Int(src.port))], tw.isTW, tw !== s, rule(.synReplacesTimeWait) {
      replaced = "the SYN reached \(describe(tw)); the entry was dropped and the listener took the SYN"
      killTW(tw)
    }
    var r = deliverSYNToListener(s, dst, src: src)
    if let why = replaced, r.why == nil { r.why = why.prefix(1).uppercased() + why.dropFirst() + "." }
    return r
  }

  func deliverSYNToListener(_ s: SimSock, _ dst: Endpoint, src: Endpoint) -> CallResult {
    guard let l = lookupListener(dst, from: src) else {
      tcpDone(s)
      s.raddr = nil  // never connected: getpeername() has nothing to say
      s.rport = 0
      s.connectRefused = true
      // tcp_disconnect, run by __inet_stream_connect: at once for a
      // blocking connect(), by the next connect() for a non-blocking one,
      // which keeps the address connect() chose until then (fuzz seed 12).
      if !s.nonblock { giveBackAddress(s) }
      // The reset's tcp_done sets sk_shutdown; a blocking connect() reports
      // it at once and __inet_stream_connect's tcp_disconnect clears it
      // again, while a non-blocking one leaves it (recv() then reads end of
      // stream) until the next connect().
      s.rdShut = s.nonblock
      s.wrShut = s.nonblock
      return refuse(
        s, .ECONNREFUSED, "nothing listens on \(dst): the SYN was answered with a reset",
        later: "a non-blocking connect() returns at once; the reset from \(dst) is reported by the next connect()")
    }
    if l.queue.count > l.backlog {
      return synLost(s, "the accept queue of \(describe(l)) is full (\(l.queue.count) connections, backlog \(l.backlog)); the SYN was dropped")
    }
    establish(s, with: l, dst: dst, src: src)
    var r = CallResult(local: s.local, remote: s.remote)
    if s.nonblock {
      s.connecting = true
      r.errno = .EINPROGRESS
      r.why = "a non-blocking connect() returns at once; on loopback the handshake is already done, so the next connect() returns 0"
    }
    return r
  }

  /// tcp_disconnect's inet_reset_saddr: an address connect() chose (no
  /// SOCK_BINDADDR_LOCK) goes back to the wildcard; a port that stays bound
  /// is rehashed there.
  func giveBackAddress(_ s: SimSock) {
    guard !s.addrLock && !s.laddrIsWildcard else { return }
    let any: IPAddress = s.isV6 ? .any6 : .any4
    if s.boundPort != nil { tcp.rehash(s, to: any) } else { s.laddr = any }
    s.v4RcvAny = false
  }

  /// The handshake with listener `l`: a child in its accept queue, both ends ESTABLISHED.
  func establish(_ s: SimSock, with l: SimSock, dst: Endpoint, src: Endpoint) {
    let c = newSock(l.kind, uid: l.uid, hasFd: false)
    c.reuse = l.reuse
    c.reuseport = l.reuseport
    c.v6only = l.v6only
    c.device = l.device
    // sk_clone_lock copies the listener's socket: SO_LINGER (a close of the
    // accepted socket then resets) and IP_FREEBIND come along too.
    c.linger = l.linger
    c.freebind = l.freebind
    c.laddr = l.isV6 && dst.addr.isV4 ? dst.addr.asV6 : dst.addr
    c.raddr = l.isV6 && src.addr.isV4 ? src.addr.asV6 : src.addr
    c.rport = s.lport
    c.state = .ESTABLISHED
    c.passive = true
    c.parent = l
    let ts = tcpTimestamps != 0
    c.timestamps = ts
    // A stamp inherited from a TIME_WAIT entry stays, even when this
    // connection goes without timestamps (tcp_timestamps = 0 since).
    s.timestamps = ts || (s.inheritedTimestamp && rule(.takeoverKeepsTimestamp))
    if let tb = tcp.bucket(l.lport) { tcp.add(c, tb) }
    hashEstablished(c)
    l.queue.append(c)
    c.peer = s
    s.peer = c
    s.state = .ESTABLISHED
    s.synRetryAtMs = nil
  }

  /// TCP_TIMEOUT_INIT and TCP_RTO_MAX (include/net/tcp.h).
  static let initialRtoMs: Int64 = 1000
  static let maxRtoMs: Int64 = 120_000

  /// tcp_model_timeout: how long `retries` resends take when each doubles
  /// the timeout from 1 s up to TCP_RTO_MAX.
  static func modelTimeoutMs(retries: Int) -> Int64 {
    let thresh = 6  // ilog2(TCP_RTO_MAX / TCP_TIMEOUT_INIT)
    if retries <= thresh { return ((2 << Int64(retries)) - 1) * initialRtoMs }
    return ((2 << Int64(thresh)) - 1) * initialRtoMs + Int64(retries - thresh) * maxRtoMs
  }

  /// The retransmission timer of a SYN nobody answered
  /// (tcp_retransmit_timer, tcp_write_timeout): the first
  /// tcp_syn_linear_timeouts resends keep the 1 s timeout, later ones double
  /// it. An expiry fails the connect with ETIMEDOUT once
  /// tcp_syn_retries + tcp_syn_linear_timeouts resends went out, or once the
  /// time since the first SYN reaches what tcp_syn_retries exponential
  /// resends would take (retransmits_timed_out, tcp_model_timeout). With
  /// the defaults (6, 4) the SYN is resent 1, 2, 3, 4, 5, 7, 11, 19, 35 and
  /// 67 s after the first, and the connect fails at 131 s; with (1, 3) it
  /// fails at 3 s.
  func synRetry(_ s: SimSock) {
    guard s.state == .SYN_SENT, let dst = s.synDst else {
      s.synRetryAtMs = nil
      return
    }
    // Before 6.5 (ccce324dabfe) every resend doubles the timeout.
    let linear = rule(.synLinearTimeouts) ? synLinearTimeouts : 0
    let resentEnough = s.synRetriesDone >= synRetries + linear
    let timedOut = s.synRetriesDone > 0 && nowMs - s.synFirstMs >= SimKernel.modelTimeoutMs(retries: synRetries)
    if resentEnough || timedOut {
      // tcp_write_err: the connection times out; the next call reports it.
      connectFailed(s, .ETIMEDOUT)
      return
    }
    s.synRetriesDone += 1
    if s.synRetriesDone > linear { s.synRtoMs = min(2 * s.synRtoMs, SimKernel.maxRtoMs) }
    s.synRetryAtMs = nowMs + s.synRtoMs
    guard rule(.synRetransmit), !s.synNeverArrives else { return }
    let src = Endpoint(s.laddr, UInt16(s.lport))
    guard let l = lookupListener(dst, from: src) else {
      // The listener is gone: the resent SYN meets a reset.
      connectFailed(s, .ECONNREFUSED)
      s.connectRefused = true
      return
    }
    if l.queue.count <= l.backlog { establish(s, with: l, dst: dst, src: src) }
  }

  /// A connection attempt that ended after connect() returned: the socket is
  /// CLOSED, never connected, and the next connect() reports `e`.
  func connectFailed(_ s: SimSock, _ e: Errno) {
    s.synRetryAtMs = nil
    tcpDone(s)
    s.raddr = nil
    s.rport = 0
    s.pendingError = e
    s.connecting = true
  }

  /// tcp_done: the socket is CLOSED and leaves the hashes; an autobound port
  /// is released (SOCK_BINDPORT_LOCK keeps an explicit one).
  // MARK: accept

  public func accept(_ id: SockID) -> CallResult {
    guard let s = sock(id) else { return badf() }
    guard s.isTCP else { return .fail(.EOPNOTSUPP, "UDP sockets do not accept") }
    guard s.state == .LISTEN else { return .fail(.EINVAL, "accept() needs a listening socket") }
    if s.queue.isEmpty && !s.nonblock {
      // A resent SYN may find the room while accept() waits.
      advance(to: nowMs + config.timeoutMs, until: { !s.queue.isEmpty })
    }
    guard !s.queue.isEmpty else {
      return .fail(.EAGAIN, s.nonblock ? "no connection is waiting, and the socket is non-blocking" : "no connection arrived within \(formatMs(config.timeoutMs))")
    }
    guard descriptorAvailable() else {
      return .fail(.EMFILE, "the descriptor limit (ulimit nofile \(descriptorLimit!)) is reached")
    }
    let c = s.queue.removeFirst()
    c.parent = nil
    setHasFd(c, true)
    c.ssConnected = true
    var r = CallResult(local: c.local, remote: c.remote)
    r.created = c.id
    return r
  }
}

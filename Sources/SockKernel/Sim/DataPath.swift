/// Stream data on the simulated kernel: send(2) and recv(2) on TCP.
///
/// Models: `tcp_sendmsg_locked` (EPIPE after shutdown, data to a peer that
/// closed for reading resets it: `tcp_rcv_state_process` in FIN_WAIT1/2,
/// TCP_TW_RST from a FIN_WAIT2 minisocket) and `tcp_recvmsg_locked` (queued
/// data, then end of stream, then a pending error).
extension SimKernel {
  // MARK: data

  public func send(_ id: SockID, _ data: [UInt8]) -> CallResult {
    guard let s = sock(id) else { return badf() }
    if !s.isTCP {
      // inet_send_prepare autobinds before udp_sendmsg looks for a destination.
      if let e = udpAutobind(s) { return e }
      guard let r = s.remote else { return .fail(.EDESTADDRREQ, "an unconnected UDP socket needs sendto") }
      return sendto(id, r, data)
    }
    if let e = s.pendingError {
      s.pendingError = nil
      return .fail(e, "the peer reset the connection")
    }
    if s.state == .SYN_SENT && !s.wrShut {
      // sk_stream_wait_connect: a send waits for the handshake to finish.
      if !s.nonblock { advance(to: nowMs + config.timeoutMs) }
      return .fail(.EAGAIN, "the connection is still being set up (SYN_SENT)")
    }
    guard s.state == .ESTABLISHED || s.state == .CLOSE_WAIT, !s.wrShut else {
      return .fail(.EPIPE, s.wrShut ? "the socket was shut down for writing" : "the socket is not connected")
    }
    guard let p = s.peer else { return .ok }
    if p.isTW || p.state == .CLOSED || ((!p.hasFd || p.rdShut) && (p.state == .FIN_WAIT1 || p.state == .FIN_WAIT2)) {
      // New data for a socket closed for reading after its FIN (RFC 1122:
      // tcp_rcv_state_process resets in FIN_WAIT1/2; a FIN_WAIT2 entry
      // answers TCP_TW_RST): the peer is gone, and this side is reset.
      if p.isTW {
        killTW(p)
      } else if p.state != .CLOSED {
        p.peer = nil
        tcpDone(p)
      }
      resetByPeer(s)
      return .ok
    }
    p.rx += data
    return .ok
  }

  /// tcp_reset: the error the next call reports is EPIPE in CLOSE_WAIT
  /// (the peer had already sent its FIN), ECONNRESET otherwise.
  public func recv(_ id: SockID, max: Int?) -> CallResult {
    guard let s = sock(id) else { return badf() }
    if !s.isTCP { return recvfrom(id) }
    if s.state == .LISTEN { return .fail(.ENOTCONN, "the socket is not connected") }
    if !s.rx.isEmpty {
      let n = Swift.min(max ?? s.rx.count, s.rx.count)
      var r = CallResult.ok
      r.data = Array(s.rx.prefix(n))
      s.rx.removeFirst(n)
      return r
    }
    let eof: CallResult = {
      var r = CallResult.ok
      r.data = []
      return r
    }()
    if s.rxEOF { return eof }
    if let e = s.pendingError {
      s.pendingError = nil
      return .fail(e, "the peer reset the connection")
    }
    if s.rdShut { return eof }
    if s.state == .CLOSED && s.raddr == nil {
      return .fail(.ENOTCONN, "the socket is not connected")
    }
    if s.state == .CLOSED { return eof }
    if !s.nonblock { advance(to: nowMs + config.timeoutMs) }
    return .fail(.EAGAIN, s.nonblock ? "no data is waiting, and the socket is non-blocking" : "no data arrived within \(formatMs(config.timeoutMs))")
  }
}

/// listen(2) on the simulated kernel.
///
/// Models: `inet_listen` and `__inet_listen_sk` (net/ipv4/af_inet.c: state
/// checks, backlog capped by somaxconn), `inet_csk_listen_start`
/// (net/ipv4/inet_connection_sock.c: autobind through get_port(0), and the
/// re-check of an explicit port with the LISTEN state set).
extension SimKernel {
  // MARK: listen

  public func listen(_ id: SockID, backlog: Int?) -> CallResult {
    guard let s = sock(id) else { return badf() }
    guard s.isTCP else { return .fail(.EOPNOTSUPP, "UDP sockets do not listen") }
    var bl = backlog ?? somaxconn
    if bl < 0 || bl > somaxconn { bl = somaxconn }
    if s.state == .LISTEN {
      s.backlog = bl
      return .ok
    }
    if s.ssDisconnecting { return .fail(.EINVAL, "shutdown() after a failed connect() left the socket disconnecting (SS_DISCONNECTING)") }
    guard s.state == .CLOSED, !s.connecting, s.raddr == nil else {
      return .fail(.EINVAL, "listen() needs an unconnected socket; this one is \(stateOf(s))")
    }
    if s.connectRefused && rule(.refusedConnectBlocksListen) {
      // After a refused connect(), inet_csk_listen_start still takes a port
      // (get_port with the socket in LISTEN) but cannot hash the socket: the
      // call fails with EINVAL and the port stays bound (observed on 6.18).
      if s.lport == 0 {
        s.state = .LISTEN
        let f = getPort(s, 0)
        s.state = .CLOSED
        if let f = f { return failure(f, for: s, call: "listen()'s automatic bind") }
      } else {
        // An explicit port is checked again, as listen() does (seed 12: an
        // aborted self-connect's entry makes it EADDRINUSE).
        s.state = .LISTEN
        let blockers = conflicts(s, port: s.lport, relax: true, reuseportOK: true)
        s.state = .CLOSED
        if !blockers.isEmpty { return .fail(.EADDRINUSE, bindWhy(s, blockers, port: s.lport)) }
      }
      return .fail(.EINVAL, "listen() fails on a socket whose connect() was refused (it keeps the port it took)")
    }
    s.state = .LISTEN
    if s.lport == 0 {
      if let f = getPort(s, 0) {
        s.state = .CLOSED
        return failure(f, for: s, call: "listen()'s automatic bind")
      }
    } else if rule(.listenRecheck) {
      let blockers = conflicts(s, port: s.lport, relax: true, reuseportOK: true)
      if !blockers.isEmpty {
        s.state = .CLOSED
        return .fail(.EADDRINUSE, bindWhy(s, blockers, port: s.lport))
      }
      if let tb = tcp.bucket(s.lport) {
        updateFastreuse(s, tb)
        if let tb2 = tb.tb2[s.laddr.asV6] {
          tb2.fastreuse = tb.fastreuse
          tb2.fastreuseport = tb.fastreuseport
        }
      }
    }
    s.backlog = bl
    listenSeq += 1
    s.listenOrder = listenSeq
    listeners.append(s)
    var r = CallResult.ok
    r.local = s.local
    return r
  }
}

/// bind(2) and setsockopt(2) on the simulated kernel.
///
/// Models: `__inet_bind` / `__inet6_bind` (net/ipv4/af_inet.c,
/// net/ipv6/af_inet6.c: family, local-address, privileged-port and
/// already-bound checks, the lock bits), `do_ip_setsockopt`,
/// `sk_setsockopt` and `do_ipv6_setsockopt` for the options of the brief.
/// The port itself comes from `getPort` (BindConflict.swift).
extension SimKernel {
  func badf() -> CallResult { .fail(.EBADF, "the socket is closed") }

  // MARK: setsockopt

  public func setsockopt(_ id: SockID, _ opt: SocketOption) -> CallResult {
    guard let s = sock(id) else { return badf() }
    switch opt {
    case .reuseaddr(let on): s.reuse = on
    case .reuseport(let on): s.reuseport = on
    case .bindAddressNoPort(let on): s.noPort = on
    case .v6only(let on):
      guard s.isV6 else { return .fail(.ENOPROTOOPT, "IPV6_V6ONLY exists only on IPv6 sockets") }
      guard s.lport == 0 else { return .fail(.EINVAL, "IPV6_V6ONLY cannot change once the socket is bound") }
      s.v6only = on
    case .nonblock(let on): s.nonblock = on
    case .freebind(let on): s.freebind = on
    case .linger(let secs): s.linger = secs
    case .localPortRange(let lo, let hi):
      guard rule(.localPortRangeOption) else {
        return .fail(.ENOPROTOOPT, "IP_LOCAL_PORT_RANGE does not exist before Linux 6.3 (6.1.32 as a backport); this is \(config.version.line)")
      }
      guard lo <= 65535 && hi <= 65535 && lo >= 0 && hi >= 0 else { return .fail(.EINVAL) }
      if lo != 0 && hi != 0 && lo > hi { return .fail(.EINVAL, "IP_LOCAL_PORT_RANGE needs lo <= hi (got \(lo) > \(hi))") }
      s.portRange = (lo, hi)
    case .bindToDevice(let dev):
      if dev.isEmpty {
        s.device = nil
      } else {
        guard dev == "lo" else { return .fail(.ENODEV, "this namespace has only the device 'lo'") }
        s.device = dev
      }
    }
    return .ok
  }

  // MARK: bind

  /// Checks the address family the way inet_bind / inet6_bind do.
  func familyCheck(_ s: SimSock, _ addr: IPAddress) -> CallResult? {
    if s.isV6 && addr.isV4 {
      return .fail(.EINVAL, "an IPv6 socket needs an IPv6 address (a sockaddr_in is too short for it)", remedy: .v4MappedAddress(addr))
    }
    if !s.isV6 && !addr.isV4 {
      return .fail(.EAFNOSUPPORT, "an IPv4 socket cannot use an IPv6 address", remedy: .ipv6Socket)
    }
    return nil
  }

  public func bind(_ id: SockID, _ ep: Endpoint) -> CallResult {
    guard let s = sock(id) else { return badf() }
    if let e = familyCheck(s, ep.addr) { return e }
    if s.isV6 && ep.addr.isV4Mapped && s.v6only {
      return .fail(.EINVAL, "a v6only socket cannot bind a v4-mapped address")
    }
    if s.isV6 && ep.addr.isV4Mapped && s.addrLock && !s.laddr.isAny && !s.laddr.isV4Mapped {
      // Bound to an IPv6 address before (its port released by a failed
      // connect()): a v4-mapped address is EINVAL (observed on 6.18).
      return .fail(.EINVAL, "the socket keeps its IPv6 address \(s.laddr) and cannot bind a v4-mapped one")
    }
    let nonlocalOK = s.freebind || (nonlocalBind != 0 && ep.addr.effectiveV4 != nil)
    if !ep.addr.isAny && !(ep.addr.isV4Mapped && ep.addr.effectiveV4 == 0) && !isLocal(ep.addr) && !nonlocalOK && !ep.addr.isMulticastOrBroadcast {
      return .fail(.EADDRNOTAVAIL, "\(ep.addr) is not an address of this host", remedy: .addLocalAddress(ep.addr))
    }
    let port = Int(ep.port)
    if port != 0 && port < unprivilegedPortStart && s.uid != 0 && rule(.privilegedPorts) {
      return .fail(.EACCES, "port \(port) is below net.ipv4.ip_unprivileged_port_start (\(unprivilegedPortStart)) and uid \(s.uid) lacks CAP_NET_BIND_SERVICE")
    }
    if s.state != .CLOSED || s.lport != 0 || (!s.isTCP && s.boundPort != nil) {
      return .fail(.EINVAL, "the socket is already bound (to \(s.local.map { "\($0)" } ?? "an address")); a socket binds once")
    }
    s.laddr = ep.addr
    if port != 0 || !s.noPort {
      if let f = getPort(s, port) {
        let r = failure(f, for: s, call: "bind()")
        s.laddr = s.isV6 ? .any6 : .any4
        return r
      }
    }
    if !ep.addr.isAny { s.addrLock = true }
    if port != 0 { s.portLock = true }
    if !s.isTCP { s.state = .CLOSED }
    var r = CallResult.ok
    r.local = Endpoint(s.laddr, UInt16(s.lport))
    if s.lport != 0 { r.why = sharedWhy(s) }
    return r
  }
}

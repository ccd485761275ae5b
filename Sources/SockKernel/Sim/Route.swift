/// Local addresses and routes of the simulated namespace: `addr add` on lo,
/// which addresses are this host's (`inet_addr_type` / RTN_LOCAL, including
/// the prefix route of an IPv4 address on lo: `fib_add_ifaddr`), and the
/// preferred source of a route (`ip_route_connect`, `fib_select_addr`).
extension SimKernel {
  // MARK: addresses and routes

  func isLocal(_ a: IPAddress) -> Bool {
    if let v4 = a.effectiveV4 {
      if v4 >> 24 == 127 { return true }
      // On lo the prefix route of an added IPv4 address is a local route
      // (fib_add_ifaddr: RTN_LOCAL for IFF_LOOPBACK), like 127.0.0.0/8: every
      // address of the subnet is this host's. IPv6 prefixes stay unicast.
      return addedAddrs.contains { $0.addr.isV4 && IPAddress.v4(v4).masked($0.prefix) == $0.addr.masked($0.prefix) }
    }
    if a == .loopback6 { return true }
    return addedAddrs.contains { $0.addr == a }
  }

  /// The route's preferred source for a destination, or nil when there is no route.
  func routeSource(_ dst: IPAddress) -> IPAddress? {
    if let v4 = dst.effectiveV4 {
      if addedAddrs.contains(where: { $0.addr.effectiveV4 == v4 }) { return .v4(v4) }
      if v4 >> 24 == 127 { return .loopback4 }
      for (a, p) in addedAddrs where a.isV4 && IPAddress.v4(v4).masked(p) == a.masked(p) { return a }
      return nil
    }
    if dst == .loopback6 { return .loopback6 }
    if addedAddrs.contains(where: { $0.addr == dst }) { return dst }
    for (a, p) in addedAddrs where !a.isV4 && dst.masked(p) == a.masked(p) { return a }
    return nil
  }

  public func addAddress(_ addr: IPAddress, prefix: Int) -> CallResult {
    let maxLen = addr.isV4 ? 32 : 128
    guard prefix >= 0 && prefix <= maxLen, !addr.isAny, !addr.isV4Mapped else { return .fail(.EINVAL) }
    if addr == .loopback4 || addr == .loopback6 || addedAddrs.contains(where: { $0.addr == addr }) {
      return .fail(.EEXIST, "\(addr) is already an address of this namespace")
    }
    addedAddrs.append((addr, prefix))
    return .ok
  }
}

/// The TCP bind table's rules: who conflicts with whom, and get_port.
///
/// Models: `inet_bind_conflict`, `inet_bhash2_conflict` and
/// `inet_csk_bind_conflict` (the pairwise predicate over overlapping,
/// device-compatible owners), `inet_rcv_saddr_equal` (through `AddrClass`),
/// `inet_csk_get_port` for an explicit port, `inet_csk_update_fastreuse`
/// and `sk_reuseport_match`, and `inet_sk_get_local_port_range`
/// (net/ipv4/inet_connection_sock.c, Linux 6.18).
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
    let rpPair = sk.reuseport && sk2.reuseport && (sk2TW || sk.uid == sk2.uid || !rule(.reuseportUID))
    if sk.reuse && sk2.reuse && (sk2.state != .LISTEN || !rule(.listenBlocksReuseaddr)) {
      return !relax || (!reuseportOK && rpPair)
    }
    return !(reuseportOK && rpPair)
  }

  /// 6.1's bhash2 bug applies: `sk` binds a v4-mapped specific address.
  func missesMappedAny(_ sk: SimSock) -> Bool {
    sk.isV6 && sk.laddr.isV4Mapped && sk.laddr.mappedV4 != .any4 && rule(.bhash2MappedAnyMiss)
  }

  /// Every owner of `port` that overlaps `sk` and conflicts with it.
  func conflicts(_ sk: SimSock, port: Int, relax: Bool, reuseportOK: Bool) -> [SimSock] {
    guard let tb = table(for: sk).bucket(port) else { return [] }
    let cls = sk.addrClass
    let mappedSpecific = missesMappedAny(sk)
    return tb.owners.filter { o in
      guard let oc = o.boundClass else { return false }
      // 6.1's bhash2 looks a v4-mapped address up among the IPv4 buckets,
      // where an IPv6 socket on [::ffff:0.0.0.0] is not (seed 31 on 6.1).
      if mappedSpecific && o.isV6 && o.laddr.isV4Mapped && o.laddr.mappedV4 == .any4 { return false }
      return AddrClass.overlap(cls, v6: sk.isV6, oc, v6Other: o.isV6) && conflict(sk, o, relax: relax, reuseportOK: reuseportOK)
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
    guard let port = findOpenPort(sk, rng: &random) else {
      let r = localPortRange(sk)
      return .exhausted(lo: r.lo, hi: r.hi)
    }
    hashBind(sk, port: port)
    return nil
  }
}

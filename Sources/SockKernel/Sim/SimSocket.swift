/// Where an owner sits in the address-overlap matrix (docs/kernel-rules.md, section 1).
enum AddrClass: Hashable {
  case v4any
  case v4spec(UInt32)
  case v6anyDual
  case v6anyOnly
  case v6spec(IPAddress)
  /// A TCP IPv6 socket (not v6only) whose address came from connect():
  /// inet_bhash2_update_saddr sets its IPv6 address only, so to an IPv4
  /// wildcard bind, which compares every owner's IPv4 rcv_saddr, it is
  /// still a wildcard (observed on 6.18: 0.0.0.0:P is EADDRINUSE, 127.0.0.1:P is not).
  case v6specDual(IPAddress)

  func overlaps(_ o: AddrClass) -> Bool {
    switch (self, o) {
    case (.v6anyDual, _), (_, .v6anyDual): return true
    case (.v6specDual, .v4any), (.v4any, .v6specDual): return true
    case (.v6specDual(let a), .v6specDual(let b)), (.v6specDual(let a), .v6spec(let b)), (.v6spec(let a), .v6specDual(let b)): return a == b
    case (.v6specDual, .v6anyOnly), (.v6anyOnly, .v6specDual): return true
    case (.v4any, .v4any), (.v4any, .v4spec), (.v4spec, .v4any): return true
    case (.v4spec(let a), .v4spec(let b)): return a == b
    case (.v6anyOnly, .v6anyOnly), (.v6anyOnly, .v6spec), (.v6spec, .v6anyOnly): return true
    case (.v6spec(let a), .v6spec(let b)): return a == b
    default: return false
    }
  }
}

extension AddrClass {
  /// inet_rcv_saddr_equal between two sockets: only an IPv4 socket compares
  /// a v6specDual owner's IPv4 rcv_saddr; an IPv6 socket compares IPv6 addresses.
  static func overlap(_ a: AddrClass, v6: Bool, _ b: AddrClass, v6Other: Bool) -> Bool {
    var a = a
    var b = b
    if case .v6specDual(let x) = a, v6Other { a = .v6spec(x) }
    if case .v6specDual(let x) = b, v6 { b = .v6spec(x) }
    return a.overlaps(b)
  }
}

/// A socket of the simulated kernel: a full socket, or a TIME_WAIT minisocket.
final class SimSock {
  let id: SockID
  let kind: SocketKind
  let uid: UInt32
  var state: SockState = .CLOSED
  var hasFd = true

  // Options.
  var reuse = false
  var reuseport = false
  var noPort = false
  var v6only = false
  var nonblock = false
  var freebind = false
  var linger: Int? {
    get { rare?.linger }
    set { setRare(\.linger, newValue, unset: newValue == nil) }
  }
  var portRange: (lo: Int, hi: Int) {
    get { rare?.portRange ?? (0, 0) }
    set { setRare(\.portRange, newValue, unset: newValue == (0, 0)) }
  }
  var device: String? {
    get { rare?.device }
    set { setRare(\.device, newValue, unset: newValue == nil) }
  }

  // Addresses: rcv_saddr and inet_num as the kernel keeps them.
  var laddr: IPAddress
  var lport = 0
  var sport = 0
  var raddr: IPAddress?
  var rport = 0
  var addrLock = false
  var portLock = false
  var connectBind = false
  /// The IPv6 address came from connect() (tcp_v6_connect), leaving the
  /// IPv4 rcv_saddr a wildcard (AddrClass.v6specDual).
  var v4RcvAny = false
  /// SimRule.connectSourceV4Wildcard is in force (set by the kernel at creation).
  var dualRule = true
  /// icsk_af_ops is ipv6_mapped: a v4-mapped connect() reached the SYN.
  var mappedOps = false

  // Bind-table membership (recorded so removal undoes exactly what insertion did).
  var boundPort: Int?
  var boundKey: IPAddress?
  var boundClass: AddrClass?
  var inEhash: FourTuple?
  /// Made by a listener for a connection (sk_clone_lock), not by socket():
  /// its local port is the listener's, so connect()'s search rarely meets
  /// it, and busyPorts leaves it out (the search's tester still checks it).
  var passive = false
  /// The UDP SO_REUSEPORT group this socket joined at bind (sk_reuseport_cb).
  var udpGroup: Int? {
    get { rare?.udpGroup }
    set { setRare(\.udpGroup, newValue, unset: newValue == nil) }
  }
  /// Where the socket sits in its UDP port slot's list (udp_table.hash) and
  /// in its address-and-port slot's (hash2), both walked in ascending order
  /// (see SimKernel.udpHash).
  var udpSlotKey: Int {
    get { rare?.udpSlotKey ?? 0 }
    set { setRare(\.udpSlotKey, newValue, unset: newValue == 0) }
  }
  var udpAddrKey: Int {
    get { rare?.udpAddrKey ?? 0 }
    set { setRare(\.udpAddrKey, newValue, unset: newValue == 0) }
  }

  // Connections. Strong references (a weak one costs every retain and
  // release of the socket a side table); the cycles they make are broken
  // when a socket is forgotten (SimKernel.release, killTW, closeListener).
  var peer: SimSock?
  var parent: SimSock?
  var queue: [SimSock] = []
  var backlog = 0
  var listenOrder = 0
  var rx: [UInt8] = []
  var rxEOF = false
  var rdShut = false
  var wrShut = false
  var pendingError: Errno?
  var connecting = false  // SS_CONNECTING after a non-blocking connect
  var ssConnected = false  // SS_CONNECTED: a connect() or accept() succeeded
  var ssDisconnecting = false  // sock->state SS_DISCONNECTING: connect() and listen() are EINVAL
  var listenerShutDown = false  // shutdown(RD) stopped it listening: connect() is EINVAL
  var connectRefused = false  // a connect() was answered with a reset: listen() is EINVAL since
  var finAckDueMs: Int64? {
    get { rare?.finAckDueMs }
    set { setRare(\.finAckDueMs, newValue, unset: newValue == nil) }
  }
  // A SYN nobody answered, resent on the retransmission timer.
  var synRetryAtMs: Int64? {
    get { rare?.synRetryAtMs }
    set { setRare(\.synRetryAtMs, newValue, unset: newValue == nil) }
  }
  var synFirstMs: Int64 {
    get { rare?.synFirstMs ?? 0 }
    set { setRare(\.synFirstMs, newValue, unset: newValue == 0) }
  }
  /// The retransmission timeout of the SYN (icsk_rto).
  var synRtoMs: Int64 {
    get { rare?.synRtoMs ?? 1000 }
    set { setRare(\.synRtoMs, newValue, unset: newValue == 1000) }
  }
  var synRetriesDone: Int {
    get { rare?.synRetriesDone ?? 0 }
    set { setRare(\.synRetriesDone, newValue, unset: newValue == 0) }
  }
  var synDst: Endpoint? {
    get { rare?.synDst }
    set { setRare(\.synDst, newValue, unset: newValue == nil) }
  }
  var synNeverArrives = false
  /// The socket holds a TCP timestamp stamp (rx_opt.ts_recent_stamp): its
  /// connection used timestamps, or its connect() took over a TIME_WAIT
  /// entry that had one (tcp_twsk_unique copies it). A TIME_WAIT entry
  /// without one is never taken over.
  var timestamps = false
  /// connect() took over a TIME_WAIT entry, and with it its stamp.
  var inheritedTimestamp = false
  var datagrams: [(from: Endpoint, data: [UInt8])] = []

  // TIME_WAIT / orphan FIN_WAIT2 minisocket.
  var isTW = false
  var twEntryMs: Int64 {
    get { rare?.twEntryMs ?? 0 }
    set { setRare(\.twEntryMs, newValue, unset: newValue == 0) }
  }
  var twExpireMs: Int64 {
    get { rare?.twExpireMs ?? 0 }
    set { setRare(\.twExpireMs, newValue, unset: newValue == 0) }
  }
  /// The named socket this entry came from (for `why` lines and NAME.state).
  var origin: SockID? {
    get { rare?.origin }
    set { setRare(\.origin, newValue, unset: newValue == nil) }
  }
  var successor: SimSock? {
    get { rare?.successor }
    set { setRare(\.successor, newValue, unset: newValue == nil) }
  }

  /// What most sockets never use (options set rarely, UDP's slots, the
  /// SYN retransmission timer, the FIN and TIME_WAIT timers), allocated on
  /// the first write of a value other than the default: it halves a
  /// socket, and a million connections are two million sockets.
  final class Rare {
    var linger: Int? = nil
    var portRange: (lo: Int, hi: Int) = (0, 0)
    var device: String? = nil
    var udpGroup: Int? = nil
    var udpSlotKey: Int = 0
    var udpAddrKey: Int = 0
    var finAckDueMs: Int64? = nil
    var synRetryAtMs: Int64? = nil
    var synFirstMs: Int64 = 0
    var synRtoMs: Int64 = 1000
    var synRetriesDone: Int = 0
    var synDst: Endpoint? = nil
    var twEntryMs: Int64 = 0
    var twExpireMs: Int64 = 0
    var origin: SockID? = nil
    var successor: SimSock? = nil
  }
  private var rare: Rare?
  /// Writes a rare field, making the side object unless the value is the
  /// default and there is none yet.
  private func setRare<T>(_ field: ReferenceWritableKeyPath<Rare, T>, _ value: T, unset: Bool) {
    if rare == nil {
      if unset { return }
      rare = Rare()
    }
    rare![keyPath: field] = value
  }

  init(id: SockID, kind: SocketKind, uid: UInt32) {
    self.id = id
    self.kind = kind
    self.uid = uid
    self.laddr = kind.family == .inet ? .any4 : .any6
  }

  /// Drops the references that can make cycles (the socket is forgotten).
  func unlink() {
    peer = nil
    parent = nil
    successor = nil
    queue = []
  }

  /// Whether busyPorts counts this socket's 4-tuple: a full socket's (not a
  /// TIME_WAIT entry, which connect() may take over), unless it is an
  /// accepted connection's (a million of those would cost a million
  /// bitmaps, for ports the search rarely tries; its tester checks them
  /// one by one). Neither flag changes while the socket is in the hash.
  var marksBusy: Bool { !isTW && !passive }

  var isV6: Bool { kind.family == .inet6 }
  var isTCP: Bool { kind.transport == .tcp }
  var isListening: Bool { state == .LISTEN }
  /// No address of its own yet: `0.0.0.0`, `::`, or `::ffff:0.0.0.0`.
  var laddrIsWildcard: Bool { laddr.isAny || (laddr.isV4Mapped && laddr.effectiveV4 == 0) }

  var addrClass: AddrClass {
    if let a = laddr.effectiveV4 { return a == 0 ? .v4any : .v4spec(a) }
    if laddr == .any6 { return v6only ? .v6anyOnly : .v6anyDual }
    return v4RcvAny && !v6only && dualRule ? .v6specDual(laddr) : .v6spec(laddr)
  }

  /// What getsockname() shows: the address and inet_sport, which keeps its
  /// value after an autobound port is released (as Linux does).
  var local: Endpoint? { Endpoint(laddr, UInt16(sport)) }
  var remote: Endpoint? { raddr.map { Endpoint($0, UInt16(rport)) } }

  /// The options in force, as a `show` row lists them.
  var options: [SocketOption] {
    let all: [SocketOption] = [
      .reuseaddr(reuse), .reuseport(reuseport), .bindAddressNoPort(noPort), .v6only(v6only), .nonblock(nonblock), .freebind(freebind),
      .linger(linger), .localPortRange(portRange.lo, portRange.hi), .bindToDevice(device ?? ""),
    ]
    return all.filter(\.isSet)
  }
}

/// The established-hash key: both addresses in their IPv6 (v4-mapped)
/// form, as four words and the two ports in a fifth (40 bytes: the hash of
/// a million connections holds two million of them).
struct FourTuple: Hashable {
  let lhi: UInt64
  let llo: UInt64
  let rhi: UInt64
  let rlo: UInt64
  /// lport << 16 | rport.
  let ports: UInt32
  init(_ la: IPAddress, _ lp: Int, _ ra: IPAddress, _ rp: Int) {
    (lhi, llo) = la.v6Words
    (rhi, rlo) = ra.v6Words
    ports = UInt32(truncatingIfNeeded: lp) << 16 | UInt32(truncatingIfNeeded: rp & 0xFFFF)
  }
  var lport: Int { Int(ports >> 16) }
  var rport: Int { Int(ports & 0xFFFF) }
  /// The key's five words folded into one (EstablishedHash takes its top bits).
  var fold: UInt64 { IPAddress.fold(lhi, llo, rhi, rlo, UInt64(ports)) }
  /// A filler for the hash's empty slots.
  static let empty = FourTuple(.any6, 0, .any6, 0)
  /// One word into the hasher, not five.
  func hash(into h: inout Hasher) { h.combine(fold) }
}

/// A local address and a peer: the part of a 4-tuple connect()'s search
/// holds fixed while it tries source ports.
struct PeerKey: Hashable {
  let lhi: UInt64
  let llo: UInt64
  let rhi: UInt64
  let rlo: UInt64
  let rport: UInt32
  init(_ t: FourTuple) {
    (lhi, llo, rhi, rlo) = (t.lhi, t.llo, t.rhi, t.rlo)
    rport = t.ports & 0xFFFF
  }
  init(laddr: IPAddress, raddr: IPAddress, rport: Int) {
    (lhi, llo) = laddr.v6Words
    (rhi, rlo) = raddr.v6Words
    self.rport = UInt32(truncatingIfNeeded: rport & 0xFFFF)
  }
  func hash(into h: inout Hasher) {
    h.combine(IPAddress.fold(lhi, llo, rhi, rlo, UInt64(rport)))
  }
}

/// The local ports full sockets hold toward one peer, as 64-port words:
/// a few (word, bits) pairs while they are few (an accepted socket's peer
/// is usually its own), the whole 1,024-word bitmap beyond.
struct PeerPorts {
  private var small: [UInt64]
  private var dense: [UInt64]?
  /// How many words of `dense` are nonzero: the bitmap goes when none is.
  private var denseWords = 0
  init() { small = [] }
  init(word w: Int, _ bits: UInt64) { small = [UInt64(w), bits] }
  var isEmpty: Bool { small.isEmpty && dense == nil }

  func word(_ w: Int) -> UInt64 {
    if let d = dense { return d[w] }
    var i = 0
    while i < small.count {
      if small[i] == UInt64(w) { return small[i + 1] }
      i += 2
    }
    return 0
  }

  mutating func set(_ w: Int, _ bits: UInt64) {
    if dense != nil {
      denseWords += (bits != 0 ? 1 : 0) - (dense![w] != 0 ? 1 : 0)
      dense![w] = bits
      if denseWords == 0 { dense = nil }
      return
    }
    var i = 0
    while i < small.count {
      if small[i] == UInt64(w) {
        if bits == 0 { small.removeSubrange(i..<i + 2) } else { small[i + 1] = bits }
        return
      }
      i += 2
    }
    guard bits != 0 else { return }
    if small.count < 16 {
      small += [UInt64(w), bits]
      return
    }
    var d = [UInt64](repeating: 0, count: 1024)
    for j in stride(from: 0, to: small.count, by: 2) { d[Int(small[j])] = small[j + 1] }
    d[w] = bits
    dense = d
    denseWords = small.count / 2 + 1
    small = []
  }
}

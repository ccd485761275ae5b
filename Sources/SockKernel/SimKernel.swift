/// The simulated Linux 6.18 kernel: one network namespace, virtual time, and
/// the port rules of `linux-port-semantics.md`. Deterministic for a seed.
public final class SimKernel: KernelBackend {
  public struct Config: Sendable {
    public var seed: UInt64
    /// How long a blocking call waits before it gives up (virtual time).
    public var timeoutMs: Int64
    /// Test-only: rules switched off, to prove that a test can catch them.
    public var disabledRules: Set<String>
    public init(seed: UInt64 = 0, timeoutMs: Int64 = 2000, disabledRules: Set<String> = []) {
      self.seed = seed
      self.timeoutMs = timeoutMs
      self.disabledRules = disabledRules
    }
  }

  public let config: Config
  public var kernelName: String { "sim linux-6.18" }
  public var backendName: String { "sim" }
  public private(set) var nowMs: Int64 = 0
  public var namer: (SockID) -> String? = { _ in nil }
  public var random: SeededRandom

  // Per-namespace sysctls (defaults of Linux 6.18).
  public internal(set) var portLo = 32768
  public internal(set) var portHi = 60999
  var reservedPorts = PortSet()
  var autobindReuse = 0
  var nonlocalBind = 0
  var unprivilegedPortStart = 1024
  var twReuse = 2
  var twReuseDelayMs = 1000
  var maxTwBuckets = 131_072  // a new namespace: half the established hash (262,144 here)
  var tcpTimestamps = 1
  var finTimeoutS = 60
  var somaxconn = 4096
  var descriptorLimit: Int?

  /// Added addresses (`addr add`) with their prefix lengths.
  var addedAddrs: [(addr: IPAddress, prefix: Int)] = []

  var nextID = 1
  /// Sockets by id (index); TIME_WAIT entries are not here.
  var socks: [SimSock?] = [nil]
  /// Every socket the namespace holds, by id (ids grow in creation order).
  var live: [SockID: SimSock] = [:]
  /// Sockets that called listen() (some may have stopped listening since).
  var listeners: [SimSock] = []
  var twCount = 0
  let tcp = BindTable()
  let udp = BindTable()
  var ehash: [FourTuple: SimSock] = [:]
  var listenSeq = 0
  /// UDP SO_REUSEPORT groups (struct sock_reuseport), members in the
  /// kernel's array order, by group id.
  var udpGroups: [Int: [SimSock]] = [:]
  var nextGroup = 1
  var tablePerturb: [Int: UInt32] = [:]
  let netSecret: UInt64

  public init(config: Config = Config()) {
    self.config = config
    self.random = SeededRandom(seed: config.seed)
    self.netSecret = SeededRandom.mix(config.seed ^ 0x5EC2_E7)
  }

  func rule(_ name: String) -> Bool { !config.disabledRules.contains(name) }

  /// The rules a test may switch off (`sockscript diff --sim-disable RULE`),
  /// to show that the differential suite notices each one.
  public static let ruleNames = [
    "bind-marks-port", "bind0-odd-first", "connect-even-first", "listen-blocks-reuseaddr", "listen-recheck", "privileged-ports",
    "reuseaddr-lower-half", "reuseport-uid", "tw-overflow", "tw-reuse-delay", "udp-bind0-slot-walk", "udp-exact-address-first",
    "udp-reuseaddr-shares", "udp-reuseport-spread",
  ]

  // MARK: naming, for why lines

  func name(_ s: SimSock) -> String {
    if s.isTW, let o = s.origin { return namer(o).map { "\($0)'s TIME_WAIT entry" } ?? "a TIME_WAIT entry" }
    if let n = namer(s.id) { return n }
    if let p = s.parent { return "an unaccepted connection of \(name(p))" }
    return "an unnamed socket"
  }

  func describe(_ s: SimSock) -> String {
    var d = "\(name(s)) (\(s.isTW ? (s.state == .FIN_WAIT2 ? "FIN_WAIT2" : "TIME_WAIT") : stateOf(s).rawValue)"
    if let l = s.local { d += " on \(l)" }
    if let r = s.remote, s.isTW || s.state != .LISTEN { d += " -> \(r)" }
    return d + ")"
  }

  func stateOf(_ s: SimSock) -> SockState {
    // BOUND: holds a local port and neither listens nor is connected.
    if s.state == .CLOSED && s.lport != 0 && !s.isTW { return .BOUND }
    return s.state
  }

  // MARK: sockets and descriptors

  var openDescriptors: Int { live.values.filter { $0.hasFd }.count }

  func sock(_ id: SockID) -> SimSock? {
    guard id > 0 && id < socks.count, let s = socks[id], s.hasFd else { return nil }
    return s
  }

  func newSock(_ kind: SocketKind, uid: UInt32) -> SimSock {
    let s = SimSock(id: nextID, kind: kind, uid: uid)
    nextID += 1
    socks.append(s)
    live[s.id] = s
    return s
  }

  /// The simulated process has stdin, stdout and stderr open, as a real one does.
  func descriptorAvailable() -> Bool {
    guard let lim = descriptorLimit else { return true }
    return openDescriptors + 3 < lim
  }

  public func socket(_ kind: SocketKind, uid: UInt32) -> CallResult {
    guard descriptorAvailable() else {
      return .fail(.EMFILE, "the descriptor limit (ulimit nofile \(descriptorLimit!)) is reached: 3 standard descriptors and \(openDescriptors) sockets are open")
    }
    let s = newSock(kind, uid: uid)
    var r = CallResult.ok
    r.created = s.id
    return r
  }

  public func setDescriptorLimit(_ n: Int) -> CallResult {
    guard n >= 0 else { return .fail(.EINVAL) }
    descriptorLimit = n
    return .ok
  }

  // MARK: time

  public func sleep(ms: Int64) {
    advance(to: nowMs + max(0, ms))
  }

  /// A FIN received in ESTABLISHED puts Linux in pingpong mode, so its ACK
  /// waits for the delayed-ACK timer (TCP_ATO_MIN, 40 ms).
  static let delayedAckMs: Int64 = 40

  func advance(to t: Int64) {
    // Timers fire in time order (ties by socket id), so a transcript is deterministic.
    func due(_ s: SimSock) -> Int64 { s.isTW ? s.twExpireMs : (s.finAckDueMs ?? Int64.max) }
    while true {
      let events = live.values.filter { due($0) <= t }.sorted { (due($0), $0.id) < (due($1), $1.id) }
      if events.isEmpty { break }
      for s in events {
        let at = due(s)
        guard at <= t, live[s.id] === s else { continue }
        nowMs = max(nowMs, at)
        if s.isTW { killTW(s) } else { finAcked(s) }
      }
    }
    nowMs = t
  }

  func killTW(_ tw: SimSock) {
    twCount -= 1
    unhashEstablished(tw)
    tcp.remove(tw)
    tw.state = .CLOSED
    tw.isTW = false
    dropLive(tw)
  }

  func dropLive(_ s: SimSock) {
    if live[s.id] === s { live[s.id] = nil }
  }

  /// Nothing to release: the simulated namespace is only memory.
  public func shutdownBackend() {}

  /// Sockets in creation order.
  var liveInOrder: [SimSock] { live.values.sorted { $0.id < $1.id } }

  public func count(_ state: SockState) -> Int {
    live.values.reduce(0) { $0 + (stateOf($1) == state ? 1 : 0) }
  }

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

  // MARK: sysctl

  public func sysctl(_ key: String, _ value: String) -> CallResult {
    let v = value.trimmed
    let ints = v.split(whereSeparator: { $0 == " " || $0 == "\t" }).map { Int($0) }
    func one(_ range: ClosedRange<Int>) -> Int? {
      guard ints.count == 1, let x = ints[0], range.contains(x) else { return nil }
      return x
    }
    let bad = CallResult.fail(.EINVAL, "'\(v)' is not a valid value for \(key)")
    switch key {
    case "net.ipv4.ip_local_port_range":
      guard ints.count == 2, let lo = ints[0], let hi = ints[1], (1...65535).contains(lo), (1...65535).contains(hi) else { return bad }
      guard hi >= lo, lo >= unprivilegedPortStart else {
        return .fail(.EINVAL, hi < lo ? "the upper bound is below the lower" : "the range may not start below net.ipv4.ip_unprivileged_port_start (\(unprivilegedPortStart))")
      }
      portLo = lo
      portHi = hi
    case "net.ipv4.ip_local_reserved_ports":
      var set = PortSet()
      for item in v.split(separator: ",", omittingEmptySubsequences: true) {
        let parts = String(item).trimmed.split(separator: "-")
        guard parts.count == 1 || parts.count == 2, let a = Int(parts[0]), let b = Int(parts.last!), a <= b, (0...65535).contains(a), (0...65535).contains(b) else { return bad }
        for p in a...b { set.insert(p) }
      }
      reservedPorts = set
    case "net.ipv4.ip_autobind_reuse":
      guard let x = one(0...1) else { return bad }
      autobindReuse = x
    case "net.ipv4.ip_nonlocal_bind":
      guard let x = one(0...1) else { return bad }
      nonlocalBind = x
    case "net.ipv4.ip_unprivileged_port_start":
      guard let x = one(0...65535) else { return bad }
      guard x <= portLo else { return .fail(.EINVAL, "it may not exceed the start of ip_local_port_range (\(portLo))") }
      unprivilegedPortStart = x
    case "net.ipv4.tcp_tw_reuse":
      guard let x = one(0...2) else { return bad }
      twReuse = x
    case "net.ipv4.tcp_tw_reuse_delay":
      guard let x = one(1...600_000) else { return bad }
      twReuseDelayMs = x
    case "net.ipv4.tcp_max_tw_buckets":
      guard let x = one(0...Int(Int32.max)) else { return bad }
      maxTwBuckets = x
    case "net.ipv4.tcp_timestamps":
      guard let x = one(0...2) else { return bad }
      tcpTimestamps = x
    case "net.ipv4.tcp_fin_timeout":
      guard let x = one(0...Int(Int32.max) / 1000) else { return bad }
      finTimeoutS = x
    case "net.core.somaxconn":
      guard let x = one(0...Int(Int32.max)) else { return bad }
      somaxconn = x
    default:
      return .fail(.ENOENT, "no such sysctl")
    }
    return .ok
  }

  public func readSysctl(_ key: String) -> String? {
    switch key {
    case "net.ipv4.ip_local_port_range": return "\(portLo) \(portHi)"
    case "net.ipv4.ip_local_reserved_ports":
      // As the kernel prints it: ranges joined by commas.
      var parts: [String] = []
      var p = 0
      while p <= 65535 {
        guard reservedPorts.contains(p) else {
          p += 1
          continue
        }
        var q = p
        while q < 65535 && reservedPorts.contains(q + 1) { q += 1 }
        parts.append(p == q ? "\(p)" : "\(p)-\(q)")
        p = q + 1
      }
      return parts.joined(separator: ",")
    case "net.ipv4.ip_autobind_reuse": return "\(autobindReuse)"
    case "net.ipv4.ip_nonlocal_bind": return "\(nonlocalBind)"
    case "net.ipv4.ip_unprivileged_port_start": return "\(unprivilegedPortStart)"
    case "net.ipv4.tcp_tw_reuse": return "\(twReuse)"
    case "net.ipv4.tcp_tw_reuse_delay": return "\(twReuseDelayMs)"
    case "net.ipv4.tcp_max_tw_buckets": return "\(maxTwBuckets)"
    case "net.ipv4.tcp_timestamps": return "\(tcpTimestamps)"
    case "net.ipv4.tcp_fin_timeout": return "\(finTimeoutS)"
    case "net.core.somaxconn": return "\(somaxconn)"
    default: return nil
    }
  }

  // MARK: views

  public func view(_ id: SockID) -> SocketView {
    guard id > 0 && id < socks.count, var s = socks[id] else { return SocketView(state: .CLOSED, local: nil, remote: nil) }
    let ownLocal = s.local
    let ownRemote = s.remote
    if !s.hasFd {
      // After close: whatever the kernel still holds for the socket.
      while let next = s.successor { s = next }
      let held = live[s.id] === s
      return SocketView(state: held ? stateOf(s) : .CLOSED, local: ownLocal, remote: ownRemote)
    }
    // getpeername() answers only while connected (or closing).
    let st = stateOf(s)
    let connected = ![.CLOSED, .BOUND, .LISTEN].contains(st)
    return SocketView(state: st, local: ownLocal, remote: connected ? ownRemote : nil)
  }

  public func table() -> [SocketRow] {
    liveInOrder.map { s in
      SocketRow(
        id: s.isTW ? s.origin : s.id, kind: s.kind, state: stateOf(s), local: s.local, remote: s.remote,
        options: s.optionNames, timeLeftMs: s.isTW ? max(0, s.twExpireMs - nowMs) : nil, uid: s.uid,
        hasDescriptor: s.hasFd)
    }
  }
}

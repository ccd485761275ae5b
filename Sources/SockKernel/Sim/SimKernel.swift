/// The simulated Linux 6.18 kernel: one network namespace, virtual time, and
/// the rules of docs/kernel-rules.md, one file per kernel area in this
/// folder. Deterministic for a seed.
public final class SimKernel: KernelBackend {
  public struct Config: Sendable {
    public var seed: UInt64
    /// How long a blocking call waits before it gives up (virtual time).
    public var timeoutMs: Int64
    /// Test-only: rules switched off, to prove that a test can catch them.
    public var disabledRules: Set<SimRule>
    /// The Linux release whose rules the simulator follows (a profile of
    /// KernelVersion.profiles).
    public var version: KernelVersion
    /// Test-only: rules in force even where the profile's kernel lacks them,
    /// to prove that a version-aware scenario tells the versions apart.
    public var forcedRules: Set<SimRule>
    public init(
      seed: UInt64 = 0, timeoutMs: Int64 = SimKernel.defaultTimeoutMs, disabledRules: Set<SimRule> = [], version: KernelVersion = .latestModelled,
      forcedRules: Set<SimRule> = []
    ) {
      self.seed = seed
      self.timeoutMs = timeoutMs
      self.disabledRules = disabledRules
      self.version = version
      self.forcedRules = forcedRules
    }
  }

  public let config: Config
  public var kernelName: String { "sim linux-\(config.version.line)" }
  public var kernelVersion: KernelVersion { config.version }
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
  var bindv6only = 0
  /// Read and checked, without effect on loopback (see docs/kernel-rules.md).
  var syncookies = 1
  var abortOnOverflow = 0
  var maxSynBacklog = 2048  // max(128, established hash size / 128)
  var synRetries = 6
  var synLinearTimeouts = 4
  var descriptorLimit: Int?

  /// Added addresses (`addr add`) with their prefix lengths.
  var addedAddrs: [(addr: IPAddress, prefix: Int)] = []

  var nextID = 1
  /// Sockets by id, while the driver may still ask about them (see
  /// release); TIME_WAIT entries are not here.
  var socks = IDTable<SimSock>()
  /// Every socket the namespace holds, by id (ids grow in creation order).
  var live = IDTable<SimSock>()
  /// Sockets that called listen() (some may have stopped listening since).
  var listeners: [SimSock] = []
  var twCount = 0
  let tcp = BindTable()
  let udp = BindTable()
  var ehash = EstablishedHash()
  /// The established hash's full sockets as port bitmaps per (local
  /// address, peer): what lets connect()'s search skip the source ports
  /// already taken toward a destination.
  var busyPorts: [PeerKey: PeerPorts] = [:]
  var listenSeq = 0
  var udpSlotSeq = 0
  /// UDP SO_REUSEPORT groups (struct sock_reuseport), members in the
  /// kernel's array order, by group id.
  var udpGroups: [Int: [SimSock]] = [:]
  var nextGroup = 1
  var tablePerturb = PortArray<UInt32?>(nil)
  let netSecret: UInt64

  public init(config: Config = Config()) {
    self.config = config
    self.random = SeededRandom(seed: config.seed)
    self.netSecret = SeededRandom.mix(config.seed ^ 0x5EC2_E7)
    tcp.releaseRestoresBucket = rule(.releaseRestoresBucket)
  }

  /// peer, parent and successor are strong references: the cycles they
  /// make among the sockets still known are broken here.
  deinit {
    live.forEach { $0.unlink() }
    socks.forEach { $0.unlink() }
  }

  /// Whether the profile's kernel has a rule (or a test forces it in).
  func has(_ r: SimRule) -> Bool { r.exists(in: config.version) || config.forcedRules.contains(r) }

  /// Whether a rule is in force: part of the profile's kernel, and not
  /// switched off by a test (--sim-disable).
  func rule(_ r: SimRule) -> Bool { !config.disabledRules.contains(r) && has(r) }

  /// How long a blocking call waits by default (virtual time on the simulator,
  /// SO_SNDTIMEO/SO_RCVTIMEO on the real kernel).
  public static let defaultTimeoutMs: Int64 = 2000

  /// TCP_TIMEWAIT_LEN (include/net/tcp.h): 60 s, not a sysctl.
  public static let timeWaitMs: Int64 = 60_000

  func stateOf(_ s: SimSock) -> SockState {
    // BOUND: holds a local port and neither listens nor is connected.
    if s.state == .CLOSED && s.lport != 0 && !s.isTW { return .BOUND }
    return s.state
  }

  // MARK: sockets and descriptors

  /// Sockets with a descriptor (all of them live), counted as descriptors
  /// come and go (setHasFd), so a `ulimit` check costs nothing.
  private(set) var openDescriptors = 0

  func setHasFd(_ s: SimSock, _ has: Bool) {
    if s.hasFd != has { openDescriptors += has ? 1 : -1 }
    s.hasFd = has
  }

  func sock(_ id: SockID) -> SimSock? {
    guard let s = socks[id], s.hasFd else { return nil }
    return s
  }

  /// A socket with the next id; `hasFd: false` for what the kernel makes
  /// without a descriptor (an accepted connection before accept(), a
  /// TIME_WAIT entry).
  func newSock(_ kind: SocketKind, uid: UInt32, hasFd: Bool = true) -> SimSock {
    let s = SimSock(id: nextID, kind: kind, uid: uid)
    s.dualRule = rule(.connectSourceV4Wildcard)
    nextID += 1
    s.hasFd = hasFd
    if hasFd { openDescriptors += 1 }
    socks[s.id] = s
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
    // inet6_create: a new IPv6 socket starts v6only when bindv6only is set.
    if kind.family == .inet6 { s.v6only = bindv6only != 0 }
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

  /// Moves virtual time to `t`, firing the timers due on the way. With
  /// `until`, a blocking call's wait: time stops at the first timer after
  /// which the condition holds, and the result says whether it did.
  @discardableResult
  func advance(to t: Int64, until done: (() -> Bool)? = nil) -> Bool {
    // Timers fire in time order (ties by socket id), so a transcript is deterministic.
    func due(_ s: SimSock) -> Int64 { s.isTW ? s.twExpireMs : min(s.finAckDueMs ?? Int64.max, s.synRetryAtMs ?? Int64.max) }
    if let done, done() { return true }
    while true {
      let events = live.values.filter { due($0) <= t }.sorted { (due($0), $0.id) < (due($1), $1.id) }
      if events.isEmpty { break }
      for s in events {
        let at = due(s)
        guard at <= t, live[s.id] === s else { continue }
        nowMs = max(nowMs, at)
        if s.isTW {
          killTW(s)
        } else if let f = s.finAckDueMs, f == at {
          finAcked(s)
        } else {
          synRetry(s)
        }
        if let done, done() { return true }
      }
    }
    nowMs = t
    return false
  }

  /// Nothing to release: the simulated namespace is only memory.
  public func shutdownBackend() {}

  /// The driver no longer names socket `id`. Once it has no descriptor and
  /// nothing of it is left in the namespace (no orphan still closing, no
  /// TIME_WAIT entry it became), it is forgotten: the socket and its links
  /// to a peer, a listener and a successor go, so closed sockets do not
  /// accumulate. While something is left, it stays (and `false` says so).
  public func release(_ id: SockID) -> Bool {
    guard let s = socks[id] else { return true }
    if s.hasFd { return false }
    var last = s
    while let next = last.successor { last = next }
    if live[last.id] === last { return false }
    socks[id] = nil
    s.unlink()
    return true
  }

  /// Sockets in creation order.
  var liveInOrder: [SimSock] { live.values }

  public func count(_ state: SockState) -> Int {
    var n = 0
    live.forEach { if stateOf($0) == state { n += 1 } }
    return n
  }

  // MARK: views

  public func view(_ id: SockID) -> SocketView {
    guard var s = socks[id] else { return SocketView(state: .CLOSED, local: nil, remote: nil) }
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
    var rows = liveInOrder.map { s in
      SocketRow(
        id: s.isTW ? s.origin : s.id, kind: s.kind, state: stateOf(s), local: s.local, remote: s.remote,
        options: s.options, timeLeftMs: s.isTW ? max(0, s.twExpireMs - nowMs) : nil, uid: s.uid,
        hasDescriptor: s.hasFd)
    }
    SocketRow.numberReuseportGroups(&rows)
    return rows
  }
}

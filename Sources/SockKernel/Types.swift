public enum Transport: String, Sendable {
  case tcp
  case udp
}

public enum Family: String, Sendable {
  case inet  // AF_INET
  case inet6  // AF_INET6
}

/// `tcp`, `udp`, `tcp6`, `udp6`.
public struct SocketKind: Equatable, Sendable, CustomStringConvertible {
  public var transport: Transport
  public var family: Family
  public init(_ transport: Transport, _ family: Family) {
    self.transport = transport
    self.family = family
  }
  public init?(name: String) {
    switch name {
    case "tcp": self.init(.tcp, .inet)
    case "udp": self.init(.udp, .inet)
    case "tcp6": self.init(.tcp, .inet6)
    case "udp6": self.init(.udp, .inet6)
    default: return nil
    }
  }
  public var description: String { transport.rawValue + (family == .inet6 ? "6" : "") }
}

/// Socket states as `ss` names them, plus BOUND (a bound, idle socket).
public enum SockState: String, CaseIterable, Sendable, CustomStringConvertible {
  case CLOSED, BOUND, LISTEN, SYN_SENT, SYN_RECV, ESTABLISHED, FIN_WAIT1, FIN_WAIT2, CLOSE_WAIT, CLOSING, LAST_ACK, TIME_WAIT
  public var description: String { rawValue }
}

public enum ShutdownHow: String, Sendable {
  case rd, wr, rdwr
}

/// The sysctl keys both backends accept.
public enum Sysctl {
  public static let keys = [
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.ip_autobind_reuse",
    "net.ipv4.ip_nonlocal_bind",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_tw_reuse",
    "net.ipv4.tcp_tw_reuse_delay",
    "net.ipv4.tcp_max_tw_buckets",
    "net.ipv4.tcp_timestamps",
    "net.ipv4.tcp_fin_timeout",
    "net.core.somaxconn",
    "net.ipv6.bindv6only",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.tcp_abort_on_overflow",
    "net.ipv4.tcp_syn_retries",
    "net.ipv4.tcp_syn_linear_timeouts",
    "net.ipv4.tcp_max_syn_backlog",
  ]

  /// Keys newer than the oldest modelled kernel, with the rule that came
  /// with each: on a kernel without the rule, writing the key fails with
  /// ENOENT (there is no such /proc/sys file).
  public static let addedWith: [String: SimRule] = [
    "net.ipv4.tcp_tw_reuse_delay": .twReuseDelay,
    "net.ipv4.tcp_syn_linear_timeouts": .synLinearTimeouts,
  ]

  /// Whether a key exists on a version.
  public static func exists(_ key: String, in v: KernelVersion) -> Bool { addedWith[key]?.exists(in: v) ?? true }
}

/// What a call returned: success or an errno, plus what the caller may want
/// to print (the endpoints involved) and, on the simulator, why it failed.
/// The rarely set fields live in one box, so that passing a result around
/// (a million times a second) copies no strings.
public struct CallResult: Sendable {
  public var errno: Errno?
  public var local: Endpoint?
  public var remote: Endpoint?
  /// A socket the call created (socket, accept).
  public var created: SockID?
  private var extra: Extra?

  final class Extra: @unchecked Sendable {
    var why: String?
    var data: [UInt8]?
    var from: Endpoint?
    var refusal: String?
    var fatal: String?
    var remedy: Remedy?
    func copy() -> Extra {
      let e = Extra()
      e.why = why
      e.remedy = remedy
      e.data = data
      e.from = from
      e.refusal = refusal
      e.fatal = fatal
      return e
    }
  }

  private mutating func box() -> Extra {
    if let e = extra {
      if !isKnownUniquelyReferenced(&extra) { extra = e.copy() }
      return extra!
    }
    let e = Extra()
    extra = e
    return e
  }

  /// Why the call failed, in a sentence or two (the simulator explains).
  public var why: String? {
    get { extra?.why }
    set { if newValue != nil || extra != nil { box().why = newValue } }
  }
  /// Bytes received (recv/recvfrom); empty at end of stream.
  public var data: [UInt8]? {
    get { extra?.data }
    set { if newValue != nil || extra != nil { box().data = newValue } }
  }
  /// Sender of a datagram (recvfrom).
  public var from: Endpoint? {
    get { extra?.from }
    set { if newValue != nil || extra != nil { box().from = newValue } }
  }
  /// What would have made the call work, as a fact for the caller to put in
  /// its own words (the kernel knows no script syntax).
  public var remedy: Remedy? {
    get { extra?.remedy }
    set { if newValue != nil || extra != nil { box().remedy = newValue } }
  }
  /// The call cannot be made here (bad input for this backend): exit 2.
  public var refusal: String? {
    get { extra?.refusal }
    set { if newValue != nil || extra != nil { box().refusal = newValue } }
  }
  /// The backend itself failed (e.g. cannot act as a uid): exit 3.
  public var fatal: String? {
    get { extra?.fatal }
    set { if newValue != nil || extra != nil { box().fatal = newValue } }
  }

  public init(errno: Errno? = nil, why: String? = nil, local: Endpoint? = nil, remote: Endpoint? = nil) {
    self.errno = errno
    self.local = local
    self.remote = remote
    if let w = why { self.why = w }
  }

  public static let ok = CallResult()
  public static func fail(_ e: Errno, _ why: String? = nil, remedy: Remedy? = nil) -> CallResult {
    var r = CallResult(errno: e, why: why)
    if let m = remedy { r.remedy = m }
    return r
  }
  public var isOK: Bool { errno == nil }
}

/// What would have made a refused call work, in kernel terms.
public enum Remedy: Sendable, Equatable {
  /// The address is not this host's: it needs adding (or IP_FREEBIND / ip_nonlocal_bind).
  case addLocalAddress(IPAddress)
  /// An IPv4 address through an IPv6 socket needs its v4-mapped form.
  case v4MappedAddress(IPAddress)
  /// An IPv6 address needs an AF_INET6 socket.
  case ipv6Socket
}

public typealias SockID = Int

/// One row of the socket table (`show`, `count(...)`).
public struct SocketRow: Sendable {
  public var id: SockID?
  public var kind: SocketKind
  public var state: SockState
  public var local: Endpoint?
  public var remote: Endpoint?
  /// The options in force, in the order `show` lists them.
  public var options: [SocketOption]
  /// Milliseconds until a TIME_WAIT / FIN_WAIT2 entry expires.
  public var timeLeftMs: Int64?
  public var uid: UInt32
  /// Whether a descriptor refers to it (false for TIME_WAIT entries, unaccepted connections, orphans).
  public var hasDescriptor: Bool
  /// The SO_REUSEPORT group the socket is in (1, 2, ... in order of appearance).
  public var group: Int?
  public init(
    id: SockID?, kind: SocketKind, state: SockState, local: Endpoint?, remote: Endpoint?, options: [SocketOption], timeLeftMs: Int64?,
    uid: UInt32, hasDescriptor: Bool
  ) {
    self.id = id
    self.kind = kind
    self.state = state
    self.local = local
    self.remote = remote
    self.options = options
    self.timeLeftMs = timeLeftMs
    self.uid = uid
    self.hasDescriptor = hasDescriptor
  }

  /// The options column: each option's label, then the owner when it is not root.
  public var optionLabels: [String] { options.compactMap(\.label) + (uid != 0 ? ["uid=\(uid)"] : []) }

  func has(_ name: String) -> Bool { options.contains { $0.name == name && $0.isSet } }

  /// Numbers the SO_REUSEPORT groups of a table by the kernel's joining rule
  /// (inet_reuseport_add_sock, udp_reuseport_add_sock): SO_REUSEPORT, the
  /// same protocol and family, exactly the same local address and port, the
  /// same owner, v6only and device; a TCP socket joins when it listens, a
  /// UDP one when it binds. Groups are numbered in order of appearance. Both
  /// backends number their tables this way (the real kernel reports no groups).
  public static func numberReuseportGroups(_ rows: inout [SocketRow]) {
    var numbers: [String: Int] = [:]
    for i in rows.indices {
      let r = rows[i]
      guard r.hasDescriptor, r.has("reuseport"), let local = r.local, local.port != 0 else { continue }
      if r.kind.transport == .tcp && r.state != .LISTEN { continue }
      let device = r.options.first { $0.name == "bindtodevice" }?.label ?? ""
      let key = "\(r.kind) \(local) \(r.uid) \(r.has("v6only")) \(device)"
      if numbers[key] == nil { numbers[key] = numbers.count + 1 }
      rows[i].group = numbers[key]
    }
  }
}

/// What a socket looks like to `NAME.state`, `NAME.local`, ...
public struct SocketView: Sendable {
  public var state: SockState
  public var local: Endpoint?
  public var remote: Endpoint?
}

/// The interface both kernels implement: socket calls in, result or errno out.
public protocol KernelBackend: AnyObject {
  /// "sim linux-6.18", or the release of the real kernel.
  var kernelName: String { get }
  /// The Linux version the backend runs or models (a scenario's `kernel`).
  var kernelVersion: KernelVersion { get }
  var backendName: String { get }
  /// The scenario clock in milliseconds.
  var nowMs: Int64 { get }
  /// Names sockets in `why` lines and tables (set by the interpreter).
  var namer: (SockID) -> String? { get set }

  func socket(_ kind: SocketKind, uid: UInt32) -> CallResult
  func setsockopt(_ s: SockID, _ opt: SocketOption) -> CallResult
  func bind(_ s: SockID, _ ep: Endpoint) -> CallResult
  func listen(_ s: SockID, backlog: Int?) -> CallResult
  func connect(_ s: SockID, _ ep: Endpoint) -> CallResult
  func accept(_ s: SockID) -> CallResult
  func send(_ s: SockID, _ data: [UInt8]) -> CallResult
  func recv(_ s: SockID, max: Int?) -> CallResult
  func sendto(_ s: SockID, _ ep: Endpoint, _ data: [UInt8]) -> CallResult
  func recvfrom(_ s: SockID) -> CallResult
  func shutdown(_ s: SockID, _ how: ShutdownHow) -> CallResult
  func close(_ s: SockID) -> CallResult
  func sleep(ms: Int64)
  func sysctl(_ key: String, _ value: String) -> CallResult
  func addAddress(_ addr: IPAddress, prefix: Int) -> CallResult
  func setDescriptorLimit(_ n: Int) -> CallResult

  /// The state and endpoints of a socket; after close, of what the kernel still holds for it.
  func view(_ s: SockID) -> SocketView
  /// Every socket of the namespace, named or not.
  func table() -> [SocketRow]
  /// How many sockets of the namespace are in `state` (`count(STATE)`).
  func count(_ state: SockState) -> Int
  /// A sysctl's current value, blanks collapsed to one space (nil: unreadable).
  func readSysctl(_ key: String) -> String?
  /// Releases everything (end of run).
  func shutdownBackend()
  /// The driver no longer names socket `s` and will not ask about it again.
  /// Returns whether the backend has forgotten it (nothing of it is left in
  /// the namespace); `false` while something is (an open descriptor, a
  /// connection still closing, a TIME_WAIT entry), and the driver asks again
  /// later.
  func release(_ s: SockID) -> Bool
}

extension String {
  /// The string without leading and trailing blanks and newlines.
  public var trimmed: String {
    let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
    guard let first = firstIndex(where: { !isBlank($0) }), let last = lastIndex(where: { !isBlank($0) }) else { return "" }
    return String(self[first...last])
  }
}

extension KernelBackend {
  public func count(_ state: SockState) -> Int { table().filter { $0.state == state }.count }
}

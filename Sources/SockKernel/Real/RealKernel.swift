import CLinux

#if canImport(Glibc)
  import Glibc
#endif

/// Why the real backend cannot run here, and what to do about it.
public struct BackendUnavailable: Error, Sendable {
  public var message: String
  public var hint: String
  public init(message: String, hint: String) {
    self.message = message
    self.hint = hint
  }
}

/// The real Linux kernel, in a private network namespace (or, with
/// `hostNetns`, the current one). Every call is the real syscall; state is
/// read back from the kernel (TCP_INFO, getsockname, sock_diag), never kept.
public final class RealKernel: KernelBackend {
  final class Record {
    let fd: Int32
    let kind: SocketKind
    let uid: UInt32
    var id: SockID = 0
    var open = true
    /// The socket's inode, to find it in sock_diag (fstat, on first use).
    lazy var inode: UInt64 = Sys.inode(fd)
    var options: [SocketOption] = []
    /// The last endpoints seen, kept for after close: they find what the
    /// kernel still holds for the socket (its TIME_WAIT, say).
    var lastLocal: Endpoint?
    var lastRemote: Endpoint?
    /// Whether a peer may exist (connect or accept was called).
    var mayHavePeer = false
    /// bind() to a nonzero port succeeded (SOCK_BINDPORT_LOCK: the port stays
    /// when a connection ends); listen() succeeded once.
    var portLocked = false
    var listened = false
    /// SO_RCVTIMEO/SO_SNDTIMEO are set before the first call that can block.
    var timeoutsSet = false
    init(fd: Int32, kind: SocketKind, uid: UInt32) {
      self.fd = fd
      self.kind = kind
      self.uid = uid
    }
  }

  public let backendName = "real"
  public let kernelName: String
  public var kernelVersion: KernelVersion { KernelVersion(kernelName) ?? .latestModelled }
  public let hostNetns: Bool
  public var namer: (SockID) -> String? = { _ in nil }
  let timeoutMs: Int64
  let startMs: Int64
  /// Sockets by id (the index); id 0 is unused.
  var records = IDTable<Record>()
  var nextID: SockID = 1
  /// The kernel reports rlimit failures; this is the limit a scenario set.
  var descriptorLimit: Int?

  public var nowMs: Int64 { Sys.monotonicMs() - startMs }

  /// Whoever drives the backend says whether the user asked to stop (Ctrl-C):
  /// a `sleep` ends early then. (Blocking calls return EINTR by themselves.)
  let interrupted: () -> Bool

  /// The release of the kernel this process runs on (uname -r).
  public static var hostRelease: String {
    var u = utsname()
    uname(&u)
    return withUnsafeBytes(of: &u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
  }

  /// Enters a fresh network namespace (unless `hostNetns`) with `lo` up.
  public init(timeoutMs: Int64, hostNetns: Bool = false, interrupted: @escaping () -> Bool = { false }) throws {
    self.timeoutMs = timeoutMs
    self.interrupted = interrupted
    self.hostNetns = hostNetns
    kernelName = RealKernel.hostRelease
    if !hostNetns { try RealKernel.enterNamespace() }
    // Descriptors inherited from the parent would count against 'ulimit
    // nofile'; like the simulator's process, a run starts with 0, 1 and 2.
    RealKernel.closeInherited()
    startMs = Sys.monotonicMs()
  }

  nonisolated(unsafe) static var closedInherited = false

  static func closeInherited() {
    guard !closedInherited else { return }
    closedInherited = true
    _ = clinux_close_inherited()
  }

  static func enterNamespace() throws {
    if geteuid() == 0 {
      guard clinux_unshare_net() == 0 else {
        let e = errno
        throw BackendUnavailable(
          message: "cannot create a network namespace: \(String(cString: strerror(e)))",
          hint: e == ENOSPC
            ? "the limit on network namespaces (user.max_net_namespaces) is reached; --host-netns runs in the current namespace instead"
            : "the real backend needs CAP_SYS_ADMIN (run as root) or unprivileged user namespaces; --host-netns runs in the current namespace instead")
      }
    } else {
      let uid = getuid()
      let gid = getgid()
      guard clinux_unshare_user_net() == 0 else {
        throw BackendUnavailable(
          message: "cannot create a user and network namespace: \(String(cString: strerror(errno)))",
          hint: "enable unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1), run as root, or use --host-netns")
      }
      _ = Sys.writeFile("/proc/self/setgroups", "deny")
      if let e = Sys.writeFile("/proc/self/uid_map", "0 \(uid) 1") ?? Sys.writeFile("/proc/self/gid_map", "0 \(gid) 1") {
        throw BackendUnavailable(message: "cannot map the user into the new namespace (\(e))", hint: "run as root, or use --host-netns")
      }
    }
    guard clinux_loopback_up() == 0 else {
      throw BackendUnavailable(message: "cannot bring 'lo' up in the new namespace: \(String(cString: strerror(errno)))", hint: "run as root")
    }
  }

  // MARK: helpers

  func rec(_ id: SockID) -> Record? {
    guard let r = records[id], r.open else { return nil }
    return r
  }

  var openRecords: [(SockID, Record)] {
    var out: [(SockID, Record)] = []
    records.forEach { if $0.open { out.append(($0.id, $0)) } }
    return out
  }

  /// Files a new socket's record under the next id.
  func add(_ r: Record) -> SockID {
    r.id = nextID
    records[nextID] = r
    nextID += 1
    return r.id
  }

  func badf() -> CallResult { .fail(.EBADF, "the socket is closed") }

  /// Runs `body` as `uid` (euid, so effective capabilities drop for it).
  enum AsUser<T> {
    case success(T)
    case failure(CallResult)
  }

  func asUser<T>(_ uid: UInt32, _ body: () -> T) -> AsUser<T> {
    guard uid != 0 else { return .success(body()) }
    guard clinux_seteuid(uid_t(uid)) == 0 else {
      let reason = String(cString: strerror(errno))
      var r = CallResult.fail(.EPERM)
      r.fatal = "cannot act as uid \(uid): \(reason); in an unprivileged run the namespace maps only your own uid (run as root for 'uid N')"
      return .failure(r)
    }
    let v = body()
    let saved = errno
    _ = clinux_seteuid(0)
    errno = saved
    return .success(v)
  }

  /// A syscall result: 0 or more is success, -1 reads errno. With
  /// `endpoints`, a success reports the socket's endpoints (for the transcript).
  func result(_ rc: Int, _ r: Record, endpoints: Bool) -> CallResult {
    if rc >= 0 {
      guard endpoints else { return .ok }
      r.lastLocal = Sys.name(r.fd, peer: false)
      if r.mayHavePeer { r.lastRemote = Sys.name(r.fd, peer: true) }
      return CallResult(local: r.lastLocal, remote: r.lastRemote)
    }
    return .fail(Sys.errnoValue)
  }

  /// Every call that can block is bounded by --timeout.
  func blocking(_ r: Record) {
    if !r.timeoutsSet {
      Sys.setTimeouts(r.fd, ms: timeoutMs)
      r.timeoutsSet = true
    }
  }

  func call(_ id: SockID, endpoints: Bool = false, mayBlock: Bool = false, _ body: (Record) -> Int) -> CallResult {
    guard let r = rec(id) else { return badf() }
    if mayBlock { blocking(r) }
    switch asUser(r.uid, { body(r) }) {
    case .success(let rc):
      return result(rc, r, endpoints: endpoints)
    case .failure(let f):
      return f
    }
  }

  // MARK: calls

  public func socket(_ kind: SocketKind, uid: UInt32) -> CallResult {
    let family = kind.family == .inet ? AF_INET : AF_INET6
    let type = kind.transport == .tcp ? Int32(SOCK_STREAM.rawValue) : Int32(SOCK_DGRAM.rawValue)
    switch asUser(uid, { Glibc.socket(family, type | Int32(SOCK_CLOEXEC.rawValue), 0) }) {
    case .failure(let f):
      return f
    case .success(let fd):
      guard fd >= 0 else {
        let e = Sys.errnoValue
        var limit = descriptorLimit.map { "ulimit nofile \($0)" } ?? "the process's limit"
        var rl = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &rl) == 0 { limit += " (\(rl.rlim_cur) descriptors)" }
        return .fail(e, e == .EMFILE ? "the descriptor limit is reached: \(limit)" : nil)
      }
      let id = add(Record(fd: fd, kind: kind, uid: uid))
      var r = CallResult.ok
      r.created = id
      return r
    }
  }

  public func setsockopt(_ id: SockID, _ opt: SocketOption) -> CallResult {
    guard let r = rec(id) else { return badf() }
    let fd = r.fd
    let spec = opt.spec
    let res = call(id) { _ -> Int in
      switch opt {
      case .reuseaddr(let on), .reuseport(let on), .bindAddressNoPort(let on), .v6only(let on), .freebind(let on):
        return Int(Sys.setInt(fd, spec.levelValue, spec.optnameValue, on ? 1 : 0))
      case .nonblock(let on):
        let flags = fcntl(fd, F_GETFL)
        return Int(fcntl(fd, F_SETFL, on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK))
      case .linger(let secs):
        var l = linger(l_onoff: secs == nil ? 0 : 1, l_linger: Int32(secs ?? 0))
        return Int(Glibc.setsockopt(fd, spec.levelValue, spec.optnameValue, &l, socklen_t(MemoryLayout<linger>.size)))
      case .localPortRange(let lo, let hi):
        var v = UInt32(lo) | UInt32(hi) << 16
        return Int(Glibc.setsockopt(fd, spec.levelValue, spec.optnameValue, &v, 4))
      case .bindToDevice(let dev):
        var name = Array(dev.utf8) + [0]
        return Int(Glibc.setsockopt(fd, spec.levelValue, spec.optnameValue, &name, socklen_t(name.count)))
      }
    }
    if res.isOK {
      // The options in force, in the order they were set.
      r.options.removeAll { $0.name == opt.name }
      if opt.isSet { r.options.append(opt) }
    }
    return CallResult(errno: res.errno, why: res.why)
  }

  public func bind(_ id: SockID, _ ep: Endpoint) -> CallResult {
    let res = call(id, endpoints: true) { r in Int(Sys.withSockaddr(ep) { Glibc.bind(r.fd, $0, $1) }) }
    if res.errno == nil && ep.port != 0 { rec(id)?.portLocked = true }
    return res
  }

  public func listen(_ id: SockID, backlog: Int?) -> CallResult {
    // No backlog: -1, which the kernel caps to net.core.somaxconn.
    let res = call(id, endpoints: true) { r in Int(Glibc.listen(r.fd, Int32(clamping: backlog ?? -1))) }
    if res.errno == nil { rec(id)?.listened = true }
    return res
  }

  public func connect(_ id: SockID, _ ep: Endpoint) -> CallResult {
    rec(id)?.mayHavePeer = true
    var res = call(id, endpoints: true, mayBlock: true) { r in Int(Sys.withSockaddr(ep) { Glibc.connect(r.fd, $0, $1) }) }
    if let r = rec(id), res.errno == .EINPROGRESS {
      res.local = Sys.name(r.fd, peer: false)
      res.remote = ep
    }
    return res
  }

  public func accept(_ id: SockID) -> CallResult {
    guard let r = rec(id) else { return badf() }
    var fd: Int32 = -1
    let res = call(id, mayBlock: true) { r in
      fd = Glibc.accept(r.fd, nil, nil)
      if fd >= 0 { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
      return Int(fd)
    }
    guard fd >= 0 else { return res }
    let child = Record(fd: fd, kind: r.kind, uid: r.uid)
    child.mayHavePeer = true
    // The kernel clones the listener (sk_clone_lock): the options `show`
    // lists come along, all but O_NONBLOCK, a flag of the file.
    child.options = r.options.filter { if case .nonblock = $0 { return false } else { return true } }
    var out = CallResult(local: Sys.name(fd, peer: false), remote: Sys.name(fd, peer: true))
    out.created = add(child)
    return out
  }

  public func send(_ id: SockID, _ data: [UInt8]) -> CallResult {
    call(id, mayBlock: true) { r in data.withUnsafeBytes { Glibc.send(r.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } }
  }

  public func recv(_ id: SockID, max: Int?) -> CallResult {
    var buf = [UInt8](repeating: 0, count: Swift.max(1, max ?? 65536))
    var n = 0
    var res = call(id, mayBlock: true) { r in
      n = Glibc.recv(r.fd, &buf, max ?? 65536, 0)
      return n
    }
    if res.isOK { res.data = Array(buf.prefix(n)) }
    return res
  }

  public func sendto(_ id: SockID, _ ep: Endpoint, _ data: [UInt8]) -> CallResult {
    var res = call(id, mayBlock: true) { r in
      Sys.withSockaddr(ep) { sa, len in data.withUnsafeBytes { Glibc.sendto(r.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), sa, len) } }
    }
    if res.isOK, let r = rec(id) {
      // The source the datagram left from (an unbound socket was just autobound).
      res.local = Sys.name(r.fd, peer: false)
      res.remote = ep
    }
    return res
  }

  public func recvfrom(_ id: SockID) -> CallResult {
    var buf = [UInt8](repeating: 0, count: 65536)
    var ss = sockaddr_storage()
    var n = 0
    var res = call(id, mayBlock: true) { r in
      var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
      n = withUnsafeMutablePointer(to: &ss) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.recvfrom(r.fd, &buf, buf.count, 0, $0, &len) } }
      return n
    }
    if res.isOK {
      res.data = Array(buf.prefix(n))
      res.from = Sys.endpoint(ss)
    }
    return res
  }

  public func shutdown(_ id: SockID, _ how: ShutdownHow) -> CallResult {
    let h: Int32
    switch how {
    case .rd: h = Int32(SHUT_RD)
    case .wr: h = Int32(SHUT_WR)
    case .rdwr: h = Int32(SHUT_RDWR)
    }
    return call(id) { r in Int(Glibc.shutdown(r.fd, h)) }
  }

  public func close(_ id: SockID) -> CallResult {
    guard let r = rec(id) else { return badf() }
    // Refresh what an autobind (listen, sendto, connect) may have changed.
    if r.lastLocal == nil || r.lastLocal!.port == 0 || r.mayHavePeer || r.kind.transport == .udp {
      r.lastLocal = Sys.name(r.fd, peer: false)
    }
    if r.mayHavePeer || r.kind.transport == .udp { r.lastRemote = Sys.name(r.fd, peer: true) }
    r.open = false
    return Glibc.close(r.fd) == 0 ? .ok : .fail(Sys.errnoValue)
  }

  public func sleep(ms: Int64) {
    var left = ms
    while left > 0 && !interrupted() {
      let step = min(left, 100)
      var ts = timespec(tv_sec: 0, tv_nsec: Int(step) * 1_000_000)
      nanosleep(&ts, nil)
      left -= step
    }
  }

  public func sysctl(_ key: String, _ value: String) -> CallResult {
    if hostNetns {
      var r = CallResult.fail(.EPERM)
      r.refusal = "sysctl is refused with --host-netns: it would change the host's namespace"
      return r
    }
    if let e = Sys.writeFile(Self.sysctlPath(key), value + "\n") { return .fail(e, "the kernel refused '\(value)' for \(key)") }
    return .ok
  }

  /// net.ipv4.tcp_tw_reuse -> /proc/sys/net/ipv4/tcp_tw_reuse (this namespace's).
  static func sysctlPath(_ key: String) -> String { "/proc/sys/" + key.split(separator: ".").joined(separator: "/") }

  public func readSysctl(_ key: String) -> String? {
    guard let text = Sys.readFile(Self.sysctlPath(key)) else { return nil }
    return text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).joined(separator: " ")
  }

  public func addAddress(_ addr: IPAddress, prefix: Int) -> CallResult {
    if hostNetns {
      var r = CallResult.fail(.EPERM)
      r.refusal = "addr add is refused with --host-netns: it would change the host's interfaces"
      return r
    }
    if let e = Netlink.addAddress(addr, prefix: prefix) { return .fail(e, e == .EEXIST ? "\(addr) is already an address of this namespace" : nil) }
    return .ok
  }

  public func setDescriptorLimit(_ n: Int) -> CallResult {
    var rl = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &rl) == 0 else { return .fail(Sys.errnoValue) }
    rl.rlim_cur = rlim_t(n)
    if rl.rlim_max < rl.rlim_cur { rl.rlim_max = rl.rlim_cur }
    guard setrlimit(Int32(RLIMIT_NOFILE.rawValue), &rl) == 0 else { return .fail(Sys.errnoValue) }
    descriptorLimit = n
    return .ok
  }

  // MARK: state, from the kernel

  /// Whether sock_diag lists TCP sockets that only hold a port (bound, not
  /// listening or connected): Linux 6.10 and later (91051f003948, "tcp: Dump
  /// bound-only sockets in inet_diag"). Probed the first time a state needs
  /// it (most runs never do: the probe's dump was a tenth of the real
  /// backend's overhead on a socket/bind/close loop), with a socket bound
  /// to 127.0.0.1; where a scenario has left no port to bind, the version
  /// decides.
  lazy var diagListsBound: Bool = RealKernel.probeDiagListsBound() ?? (kernelVersion >= KernelVersion(6, 10))

  static func probeDiagListsBound() -> Bool? {
    let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { return nil }
    defer { Glibc.close(fd) }
    guard Sys.withSockaddr(Endpoint(.loopback4, 0), { Glibc.bind(fd, $0, $1) }) == 0 else { return nil }
    let inode = UInt32(truncatingIfNeeded: Sys.inode(fd))
    // One dump, TCP over IPv4 (a run pays for this probe at start).
    return Netlink.dump(transport: .tcp, family: .inet, af: UInt8(AF_INET), proto: UInt8(IPPROTO_TCP)).contains { $0.inode == inode }
  }

  /// Whether a TCP socket in CLOSE holds a port: sock_diag lists it, or, on a
  /// kernel whose sock_diag does not list bound-only sockets, getsockname
  /// shows one that the socket cannot have given back. (getsockname keeps
  /// showing a port tcp_set_state(TCP_CLOSE) released: one that connect(),
  /// accept() or listen() took without an explicit bind.)
  func holdsPort(_ r: Record, _ rows: () -> [DiagRow]) -> Bool {
    if rows().contains(where: { $0.inode == UInt32(truncatingIfNeeded: r.inode) && $0.transport == .tcp }) { return true }
    guard !diagListsBound, (Sys.name(r.fd, peer: false)?.port ?? 0) != 0 else { return false }
    return r.portLocked || !(r.mayHavePeer || r.listened)
  }

  /// The state of an open descriptor: TCP_INFO; a TCP socket in CLOSE is
  /// BOUND when it holds a port.
  func ownState(_ r: Record, _ rows: () -> [DiagRow]) -> SockState {
    if r.kind.transport == .udp {
      if Sys.name(r.fd, peer: true) != nil { return .ESTABLISHED }
      return rows().contains { $0.inode == UInt32(truncatingIfNeeded: r.inode) } ? .BOUND : .CLOSED
    }
    let s = LinuxTCPState.state(Sys.tcpState(r.fd) ?? 7)
    if s == .CLOSED && holdsPort(r, rows) { return .BOUND }
    return s
  }

  public func view(_ id: SockID) -> SocketView {
    guard let r = records[id] else { return SocketView(state: .CLOSED, local: nil, remote: nil) }
    var cached: [DiagRow]?
    let rows: () -> [DiagRow] = {
      if cached == nil { cached = Netlink.dump() }
      return cached!
    }
    if r.open {
      return SocketView(state: ownState(r, rows), local: Sys.name(r.fd, peer: false), remote: Sys.name(r.fd, peer: true))
    }
    // Closed: whatever the kernel still holds for its 4-tuple.
    var state = SockState.CLOSED
    if let l = r.lastLocal, let rm = r.lastRemote, r.kind.transport == .tcp {
      let ours = Set(openRecords.map { UInt32(truncatingIfNeeded: $0.1.inode) })
      if let row = rows().first(where: { $0.transport == .tcp && $0.local == l && $0.remote == rm && ($0.inode == 0 || !ours.contains($0.inode)) }) {
        state = LinuxTCPState.state(row.state)
      }
    }
    return SocketView(state: state, local: r.lastLocal, remote: r.lastRemote)
  }

  public func count(_ state: SockState) -> Int { table().filter { $0.state == state }.count }

  public func table() -> [SocketRow] {
    let rows = Netlink.dump()
    var out: [SocketRow] = []
    var listed = Set<UInt32>()
    let open = openRecords
    let byInode = Dictionary(open.map { (UInt32(truncatingIfNeeded: $0.1.inode), $0.0) }, uniquingKeysWith: { a, _ in a })
    // What closed sockets left (TIME_WAIT entries) is named after the
    // latest closed record with its endpoints.
    let closed = records.values.filter { !$0.open }
    for row in rows {
      let kind = SocketKind(row.transport, row.family)
      var state = LinuxTCPState.state(row.state)
      if row.transport == .udp { state = row.state == 1 ? .ESTABLISHED : .BOUND }
      if state == .CLOSED { state = .BOUND }  // listed by sock_diag: it holds a port
      var id: SockID?
      var options: [SocketOption] = []
      var hasFd = false
      if row.inode != 0, let mine = byInode[row.inode] {
        id = mine
        options = records[mine]!.options
        hasFd = true
        listed.insert(row.inode)
      } else if row.inode == 0 || row.state == 6 {
        id = closed.last(where: { $0.lastLocal == row.local && $0.lastRemote == row.remote })?.id
      }
      let remote: Endpoint? = row.remote.port == 0 && row.remote.addr.isAny ? nil : row.remote
      out.append(
        SocketRow(
          id: id, kind: kind, state: state, local: row.local, remote: remote, options: options,
          timeLeftMs: row.state == 6 || (row.state == 5 && row.inode == 0) ? Int64(row.expiresMs) : nil, uid: row.uid, hasDescriptor: hasFd))
    }
    // Descriptors sock_diag does not list: sockets that hold no port (or,
    // before 6.10, TCP sockets that only hold one).
    for (id, r) in open where !listed.contains(UInt32(truncatingIfNeeded: r.inode)) {
      let l = Sys.name(r.fd, peer: false)
      out.append(
        SocketRow(
          id: id, kind: r.kind, state: r.kind.transport == .tcp ? ownState(r, { rows }) : .CLOSED, local: l,
          remote: Sys.name(r.fd, peer: true), options: r.options, timeLeftMs: nil, uid: r.uid, hasDescriptor: true))
    }
    SocketRow.numberReuseportGroups(&out)
    return out
  }

  /// Closes every descriptor the run opened.
  public func shutdownBackend() {
    records.forEach { r in
      guard r.open else { return }
      r.open = false
      _ = Glibc.close(r.fd)
    }
  }

  /// Forgets a closed socket that cannot have left anything behind: a UDP
  /// one, or a TCP one that never connected, accepted or listened. What
  /// any other left (a TIME_WAIT entry, say) is known only from a
  /// sock_diag dump, too dear to take at every rebinding of a name, so its
  /// record stays.
  public func release(_ id: SockID) -> Bool {
    guard let r = records[id] else { return true }
    guard !r.open, r.kind.transport == .udp || !(r.mayHavePeer || r.listened) else { return false }
    records[id] = nil
    return true
  }

  deinit { shutdownBackend() }
}

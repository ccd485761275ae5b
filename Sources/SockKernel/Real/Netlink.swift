#if canImport(Glibc)
  import Glibc
#endif

/// One socket as sock_diag reports it (`ss` reads the same).
struct DiagRow {
  var transport: Transport
  var family: Family
  var state: UInt8
  var local: Endpoint
  var remote: Endpoint
  var expiresMs: UInt32
  var inode: UInt32
  var uid: UInt32
}

/// Netlink: the sock_diag dump (inet_diag, TCP_BOUND_INACTIVE = 13) and RTM_NEWADDR.
enum Netlink {
  static let NETLINK_ROUTE: Int32 = 0
  static let NETLINK_SOCK_DIAG: Int32 = 4
  static let SOCK_DIAG_BY_FAMILY: UInt16 = 20
  static let RTM_NEWADDR: UInt16 = 20
  static let NLMSG_ERROR: UInt16 = 2
  static let NLMSG_DONE: UInt16 = 3
  static let NLM_F_REQUEST: UInt16 = 0x1
  static let NLM_F_ACK: UInt16 = 0x4
  static let NLM_F_EXCL: UInt16 = 0x200
  static let NLM_F_CREATE: UInt16 = 0x400
  static let NLM_F_DUMP: UInt16 = 0x300

  static func put16(_ b: inout [UInt8], _ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { b += $0 } }
  static func put32(_ b: inout [UInt8], _ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { b += $0 } }
  static func get16(_ b: ArraySlice<UInt8>, _ at: Int) -> UInt16 { UInt16(b[b.startIndex + at]) | UInt16(b[b.startIndex + at + 1]) << 8 }
  static func get32(_ b: ArraySlice<UInt8>, _ at: Int) -> UInt32 {
    (0..<4).reduce(UInt32(0)) { $0 | UInt32(b[b.startIndex + at + $1]) << (8 * UInt32($1)) }
  }
  static func getBE16(_ b: ArraySlice<UInt8>, _ at: Int) -> UInt16 { UInt16(b[b.startIndex + at]) << 8 | UInt16(b[b.startIndex + at + 1]) }
  static func getBE64(_ b: ArraySlice<UInt8>, _ at: Int) -> UInt64 {
    (0..<8).reduce(UInt64(0)) { $0 << 8 | UInt64(b[b.startIndex + at + $1]) }
  }

  static func header(_ b: inout [UInt8], length: Int, type: UInt16, flags: UInt16, seq: UInt32) {
    put32(&b, UInt32(length))
    put16(&b, type)
    put16(&b, flags)
    put32(&b, seq)
    put32(&b, 0)
  }

  /// Opens a netlink socket with a receive timeout, so no read can hang.
  /// When a scenario's `ulimit` has used up the descriptors, the limit is
  /// raised for this one open and put back: reading state (`count()`,
  /// `show`) must not depend on the scenario leaving a descriptor free.
  static func open(_ proto: Int32) -> Int32? {
    var fd = socket(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), proto)
    if fd < 0 && errno == EMFILE {
      var saved = rlimit()
      if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &saved) == 0 {
        var more = saved
        more.rlim_cur = saved.rlim_cur + 1
        if more.rlim_max < more.rlim_cur { more.rlim_max = more.rlim_cur }
        if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &more) == 0 {
          fd = socket(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), proto)
          var back = saved
          back.rlim_max = more.rlim_max  // an unprivileged process cannot lower and raise it again
          setrlimit(Int32(RLIMIT_NOFILE.rawValue), &back)
        }
      }
    }
    if fd < 0 { return nil }
    Sys.setTimeouts(fd, ms: 2000)
    return fd
  }

  /// Sends to the kernel (an unbound netlink socket's default destination).
  static func send(_ fd: Int32, _ msg: [UInt8]) -> Bool {
    let n = msg.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
    return n == msg.count
  }

  /// Dumps every TCP and UDP socket of the namespace, IPv4 and IPv6.
  static func dump() -> [DiagRow] {
    var rows: [DiagRow] = []
    for (transport, proto) in [(Transport.tcp, UInt8(IPPROTO_TCP)), (.udp, UInt8(IPPROTO_UDP))] {
      for (family, af) in [(Family.inet, UInt8(AF_INET)), (.inet6, UInt8(AF_INET6))] {
        rows += dump(transport: transport, family: family, af: af, proto: proto)
      }
    }
    return rows
  }

  static func dump(transport: Transport, family: Family, af: UInt8, proto: UInt8) -> [DiagRow] {
    guard let fd = open(NETLINK_SOCK_DIAG) else { return [] }
    defer { _ = Glibc.close(fd) }
    var msg: [UInt8] = []
    header(&msg, length: 16 + 56, type: SOCK_DIAG_BY_FAMILY, flags: NLM_F_REQUEST | NLM_F_DUMP, seq: 1)
    msg += [af, proto, 0, 0]
    put32(&msg, 0xFFFF_FFFF)  // every state, TCP_BOUND_INACTIVE (1 << 13) included
    msg += [UInt8](repeating: 0, count: 48)
    guard send(fd, msg) else { return [] }
    var rows: [DiagRow] = []
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
      let n = recv(fd, &buf, buf.count, 0)
      if n <= 0 { return rows }
      var off = 0
      while off + 16 <= n {
        let m = buf[off..<n]
        let len = Int(get32(m, 0))
        let type = get16(m, 4)
        if len < 16 { return rows }
        if type == NLMSG_DONE || type == NLMSG_ERROR { return rows }
        if len >= 16 + 72 {
          let d = buf[(off + 16)..<(off + len)]
          let state = d[d.startIndex + 1]
          let sport = getBE16(d, 4)
          let dport = getBE16(d, 6)
          func addr(_ at: Int) -> IPAddress {
            af == UInt8(AF_INET) ? .v4(UInt32(getBE16(d, at)) << 16 | UInt32(getBE16(d, at + 2))) : .v6(getBE64(d, at), getBE64(d, at + 8))
          }
          rows.append(
            DiagRow(
              transport: transport, family: family, state: state, local: Endpoint(addr(8), sport), remote: Endpoint(addr(24), dport),
              expiresMs: get32(d, 52), inode: get32(d, 68), uid: get32(d, 64)))
        }
        off += (len + 3) & ~3
      }
    }
  }

  /// `ip addr add ADDR/PREFIX dev lo`; returns the kernel's errno, if any.
  static func addAddress(_ addr: IPAddress, prefix: Int) -> Errno? {
    guard let fd = open(NETLINK_ROUTE) else { return Sys.errnoValue }
    defer { _ = Glibc.close(fd) }
    let bytes: [UInt8]
    let af: UInt8
    switch addr {
    case .v4(let a):
      af = UInt8(AF_INET)
      bytes = withUnsafeBytes(of: a.bigEndian) { Array($0) }
    case .v6(let hi, let lo):
      af = UInt8(AF_INET6)
      bytes = withUnsafeBytes(of: hi.bigEndian) { Array($0) } + withUnsafeBytes(of: lo.bigEndian) { Array($0) }
    }
    let attrLen = 4 + bytes.count
    let total = 16 + 8 + 2 * attrLen
    var msg: [UInt8] = []
    header(&msg, length: total, type: RTM_NEWADDR, flags: NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, seq: 1)
    let scope: UInt8 = addr.isLoopback ? 254 : 0
    msg += [af, UInt8(prefix), 0x02 /* IFA_F_NODAD */, scope]
    put32(&msg, UInt32(if_nametoindex("lo")))
    for type: UInt16 in [2 /* IFA_LOCAL */, 1 /* IFA_ADDRESS */] {
      put16(&msg, UInt16(attrLen))
      put16(&msg, type)
      msg += bytes
    }
    guard send(fd, msg) else { return Sys.errnoValue }
    var buf = [UInt8](repeating: 0, count: 4096)
    let n = recv(fd, &buf, buf.count, 0)
    guard n >= 20 else { return n < 0 ? Sys.errnoValue : .EINVAL }
    let m = buf[0..<n]
    guard get16(m, 4) == NLMSG_ERROR else { return nil }
    let code = Int32(bitPattern: get32(m, 16))
    return code == 0 ? nil : (Errno(rawValue: -code) ?? .EINVAL)
  }
}

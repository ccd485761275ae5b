import CLinux

#if canImport(Glibc)
  import Glibc
#endif

/// Thin, typed wrappers over the socket syscalls the real backend makes.
enum Sys {
  /// The current errno; one outside the table reads as EINVAL (none of the
  /// calls made here is documented to return such a value).
  static var errnoValue: Errno { Errno(rawValue: errno) ?? .EINVAL }

  /// Calls `body` with `ep` as a `sockaddr_in` (IPv4) or `sockaddr_in6`
  /// (IPv6): the family written is the family passed.
  static func withSockaddr<R>(_ ep: Endpoint, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
    switch ep.addr {
    case .v4(let a):
      var sin = sockaddr_in()
      sin.sin_family = sa_family_t(AF_INET)
      sin.sin_port = ep.port.bigEndian
      sin.sin_addr.s_addr = a.bigEndian
      return withUnsafePointer(to: &sin) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
      }
    case .v6(let hi, let lo):
      var sin6 = sockaddr_in6()
      sin6.sin6_family = sa_family_t(AF_INET6)
      sin6.sin6_port = ep.port.bigEndian
      withUnsafeMutableBytes(of: &sin6.sin6_addr) { raw in
        raw.storeBytes(of: hi.bigEndian, toByteOffset: 0, as: UInt64.self)
        raw.storeBytes(of: lo.bigEndian, toByteOffset: 8, as: UInt64.self)
      }
      return withUnsafePointer(to: &sin6) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
      }
    }
  }

  static func endpoint(_ ss: sockaddr_storage) -> Endpoint? {
    var s = ss
    switch Int32(s.ss_family) {
    case AF_INET:
      return withUnsafePointer(to: &s) {
        $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { p in
          Endpoint(.v4(UInt32(bigEndian: p.pointee.sin_addr.s_addr)), UInt16(bigEndian: p.pointee.sin_port))
        }
      }
    case AF_INET6:
      return withUnsafePointer(to: &s) {
        $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { p in
          var a = p.pointee.sin6_addr
          let (hi, lo) = withUnsafeBytes(of: &a) { raw in
            (UInt64(bigEndian: raw.load(fromByteOffset: 0, as: UInt64.self)), UInt64(bigEndian: raw.load(fromByteOffset: 8, as: UInt64.self)))
          }
          return Endpoint(.v6(hi, lo), UInt16(bigEndian: p.pointee.sin6_port))
        }
      }
    default:
      return nil
    }
  }

  static func name(_ fd: Int32, peer: Bool) -> Endpoint? {
    var ss = sockaddr_storage()
    var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
    let rc = withUnsafeMutablePointer(to: &ss) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { peer ? getpeername(fd, $0, &len) : getsockname(fd, $0, &len) }
    }
    return rc == 0 ? endpoint(ss) : nil
  }

  static func setInt(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32) -> Int32 {
    var v = value
    return setsockopt(fd, level, name, &v, socklen_t(MemoryLayout<Int32>.size))
  }

  static func setTimeouts(_ fd: Int32, ms: Int64) {
    var tv = timeval(tv_sec: Int(ms / 1000), tv_usec: Int((ms % 1000) * 1000))
    _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
  }

  /// The TCP state byte of TCP_INFO (include/net/tcp_states.h numbering).
  static func tcpState(_ fd: Int32) -> UInt8? {
    var buf = [UInt8](repeating: 0, count: 8)
    var len = socklen_t(8)
    let rc = getsockopt(fd, Int32(IPPROTO_TCP), TCP_INFO, &buf, &len)
    return rc == 0 ? buf[0] : nil
  }

  static func inode(_ fd: Int32) -> UInt64 {
    var st = stat()
    return fstat(fd, &st) == 0 ? UInt64(st.st_ino) : 0
  }

  static func monotonicMs() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
  }

  /// Writes `text` to a file (a sysctl under /proc/sys, a uid_map).
  static func writeFile(_ path: String, _ text: String) -> Errno? {
    let fd = open(path, O_WRONLY | O_CLOEXEC)
    if fd < 0 { return errnoValue }
    defer { _ = Glibc.close(fd) }
    let bytes = Array(text.utf8)
    let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    return n < 0 ? errnoValue : nil
  }

  static func readFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    if fd < 0 { return nil }
    defer { _ = Glibc.close(fd) }
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 4096)
    while true {
      let n = read(fd, &buf, buf.count)
      if n <= 0 { break }
      out += buf[0..<n]
    }
    return String(decoding: out, as: UTF8.self)
  }
}

/// The linux/tcp_states.h numbering, as TCP_INFO and sock_diag report it.
enum LinuxTCPState {
  static func state(_ v: UInt8) -> SockState {
    switch v {
    case 1: return .ESTABLISHED
    case 2: return .SYN_SENT
    case 3, 12: return .SYN_RECV
    case 4: return .FIN_WAIT1
    case 5: return .FIN_WAIT2
    case 6: return .TIME_WAIT
    case 8: return .CLOSE_WAIT
    case 9: return .LAST_ACK
    case 10: return .LISTEN
    case 11: return .CLOSING
    case 13: return .BOUND
    default: return .CLOSED
    }
  }
}

/// Facts about this process that tests and the CLI report.
public enum ProcessFacts {
  /// How many descriptors the process has open now (/proc/self/fd).
  public static func openDescriptors() -> Int { Int(clinux_count_fds()) }
}

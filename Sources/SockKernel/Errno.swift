/// Linux errno values the socket calls of a scenario can return.
public enum Errno: Int32, CaseIterable, Sendable, CustomStringConvertible {
  case EPERM = 1
  case ENOENT = 2
  case EINTR = 4
  case EBADF = 9
  case EAGAIN = 11
  case ENOMEM = 12
  case EACCES = 13
  case EFAULT = 14
  case EBUSY = 16
  case EEXIST = 17
  case ENODEV = 19
  case EINVAL = 22
  case ENFILE = 23
  case EMFILE = 24
  case ENOSPC = 28
  case EPIPE = 32
  case ERANGE = 34
  case ENOPROTOOPT = 92
  case EPROTONOSUPPORT = 93
  case EOPNOTSUPP = 95
  case EAFNOSUPPORT = 97
  case EADDRINUSE = 98
  case EADDRNOTAVAIL = 99
  case ENETDOWN = 100
  case ENETUNREACH = 101
  case ECONNABORTED = 103
  case ECONNRESET = 104
  case ENOBUFS = 105
  case EISCONN = 106
  case ENOTCONN = 107
  case ETIMEDOUT = 110
  case ECONNREFUSED = 111
  case EHOSTUNREACH = 113
  case EALREADY = 114
  case EINPROGRESS = 115
  case EDESTADDRREQ = 89
  case EMSGSIZE = 90
  case ENXIO = 6
  case E2BIG = 7
  case ENOTDIR = 20
  case EROFS = 30
  case ENOSYS = 38
  case ENOTSOCK = 88
  case EPROTOTYPE = 91
  case ESOCKTNOSUPPORT = 94
  case EPFNOSUPPORT = 96
  case ENETRESET = 102
  case ESHUTDOWN = 108
  case EHOSTDOWN = 112

  public var name: String { Errno.byCode[Int(rawValue)]! }
  /// Names by errno value: an array lookup (the transcript names one per call).
  static let byCode: [String?] = {
    var t = [String?](repeating: nil, count: 128)
    for (e, n) in names { t[Int(e.rawValue)] = n }
    return t
  }()
  public var description: String { name }

  static let names: [Errno: String] = [
    .EPERM: "EPERM", .ENOENT: "ENOENT", .EINTR: "EINTR", .EBADF: "EBADF", .EAGAIN: "EAGAIN", .ENOMEM: "ENOMEM",
    .EACCES: "EACCES", .EFAULT: "EFAULT", .EBUSY: "EBUSY", .EEXIST: "EEXIST", .ENODEV: "ENODEV", .EINVAL: "EINVAL",
    .ENFILE: "ENFILE", .EMFILE: "EMFILE", .ENOSPC: "ENOSPC", .EPIPE: "EPIPE", .ERANGE: "ERANGE",
    .ENOPROTOOPT: "ENOPROTOOPT", .EPROTONOSUPPORT: "EPROTONOSUPPORT", .EOPNOTSUPP: "EOPNOTSUPP",
    .EAFNOSUPPORT: "EAFNOSUPPORT", .EADDRINUSE: "EADDRINUSE", .EADDRNOTAVAIL: "EADDRNOTAVAIL", .ENETDOWN: "ENETDOWN",
    .ENETUNREACH: "ENETUNREACH", .ECONNABORTED: "ECONNABORTED", .ECONNRESET: "ECONNRESET", .ENOBUFS: "ENOBUFS",
    .EISCONN: "EISCONN", .ENOTCONN: "ENOTCONN", .ETIMEDOUT: "ETIMEDOUT", .ECONNREFUSED: "ECONNREFUSED",
    .EHOSTUNREACH: "EHOSTUNREACH", .EALREADY: "EALREADY", .EINPROGRESS: "EINPROGRESS", .EDESTADDRREQ: "EDESTADDRREQ",
    .EMSGSIZE: "EMSGSIZE", .ENXIO: "ENXIO", .E2BIG: "E2BIG", .ENOTDIR: "ENOTDIR", .EROFS: "EROFS", .ENOSYS: "ENOSYS",
    .ENOTSOCK: "ENOTSOCK", .EPROTOTYPE: "EPROTOTYPE", .ESOCKTNOSUPPORT: "ESOCKTNOSUPPORT", .EPFNOSUPPORT: "EPFNOSUPPORT",
    .ENETRESET: "ENETRESET", .ESHUTDOWN: "ESHUTDOWN", .EHOSTDOWN: "EHOSTDOWN",
  ]
  static let byName: [String: Errno] = Dictionary(uniqueKeysWithValues: names.map { ($1, $0) })

  /// Alternative spellings accepted in scripts; output uses the first name.
  public static let aliases: [String: Errno] = [
    "EWOULDBLOCK": .EAGAIN,
    "ENOTSUP": .EOPNOTSUPP,
  ]

  public init?(name: String) {
    if let a = Errno.aliases[name] {
      self = a
      return
    }
    guard let e = Errno.byName[name] else { return nil }
    self = e
  }

  public static var allNames: [String] { allCases.map(\.name) + aliases.keys.sorted() }

  /// A short plain-English meaning, for `why` lines and help.
  public var meaning: String {
    switch self {
    case .EADDRINUSE: return "address already in use"
    case .EADDRNOTAVAIL: return "cannot assign requested address"
    case .EINVAL: return "invalid argument"
    case .EACCES: return "permission denied"
    case .EAFNOSUPPORT: return "address family not supported by this socket"
    case .EISCONN: return "socket is already connected"
    case .EINPROGRESS: return "operation now in progress"
    case .EALREADY: return "operation already in progress"
    case .ECONNREFUSED: return "connection refused"
    case .EAGAIN: return "resource temporarily unavailable"
    case .ENETUNREACH: return "network is unreachable"
    case .ECONNRESET: return "connection reset by peer"
    case .EOPNOTSUPP: return "operation not supported"
    case .ENOTCONN: return "socket is not connected"
    case .EPIPE: return "broken pipe"
    case .EBADF: return "bad file descriptor"
    case .EMFILE: return "too many open files"
    default: return name
    }
  }
}

/// An IPv4 or IPv6 address. IPv4 is kept as a host-order UInt32; IPv6 as two
/// host-order halves.
public enum IPAddress: Hashable, Sendable, CustomStringConvertible {
  case v4(UInt32)
  case v6(UInt64, UInt64)

  public static let any4 = IPAddress.v4(0)
  public static let any6 = IPAddress.v6(0, 0)
  public static let loopback4 = IPAddress.v4(0x7F00_0001)
  public static let loopback6 = IPAddress.v6(0, 1)

  public var isV4: Bool { if case .v4 = self { return true } else { return false } }

  /// The address `n` further on (or back, for a negative `n`), within its
  /// family; nil past the first or last address.
  public func adding(_ n: Int) -> IPAddress? {
    switch self {
    case .v4(let a):
      let (r, o) = Int64(a).addingReportingOverflow(Int64(n))
      guard !o, r >= 0, r <= Int64(UInt32.max) else { return nil }
      return .v4(UInt32(r))
    case .v6(let hi, let lo):
      let mag = n.magnitude
      if n >= 0 {
        let (l, carry) = lo.addingReportingOverflow(UInt64(mag))
        let (h, o) = hi.addingReportingOverflow(carry ? 1 : 0)
        return o ? nil : .v6(h, l)
      }
      let (l, borrow) = lo.subtractingReportingOverflow(UInt64(mag))
      let (h, o) = hi.subtractingReportingOverflow(borrow ? 1 : 0)
      return o ? nil : .v6(h, l)
    }
  }

  public var isAny: Bool { self == .any4 || self == .any6 }

  /// `::ffff:a.b.c.d`
  public var isV4Mapped: Bool {
    if case .v6(let hi, let lo) = self { return hi == 0 && (lo >> 32) == 0xFFFF }
    return false
  }

  /// The IPv4 address a v4-mapped IPv6 address stands for.
  public var mappedV4: IPAddress? {
    if case .v6(_, let lo) = self, isV4Mapped { return .v4(UInt32(truncatingIfNeeded: lo)) }
    return nil
  }

  /// IPv4 as v4-mapped IPv6 (how the kernel keys bhash2 buckets).
  public var asV6: IPAddress {
    switch self {
    case .v4(let a): return .v6(0, 0xFFFF_0000_0000 | UInt64(a))
    case .v6: return self
    }
  }

  /// IPv4, or the IPv4 behind a v4-mapped address.
  public var effectiveV4: UInt32? {
    switch self {
    case .v4(let a): return a
    case .v6: if case .v4(let a)? = mappedV4 { return a } else { return nil }
    }
  }

  public var isLoopback: Bool {
    if let a = effectiveV4 { return a >> 24 == 127 }
    return self == .loopback6
  }

  public var isMulticastOrBroadcast: Bool {
    if let a = effectiveV4 { return (a >> 28) == 0xE || a == 0xFFFF_FFFF }
    if case .v6(let hi, _) = self { return hi >> 56 == 0xFF }
    return false
  }

  public var description: String {
    switch self {
    case .v4(let a):
      return "\(a >> 24).\((a >> 16) & 255).\((a >> 8) & 255).\(a & 255)"
    case .v6(let hi, let lo):
      if isV4Mapped, case .v4(let a)? = mappedV4 { return "::ffff:" + IPAddress.v4(a).description }
      var groups: [UInt16] = []
      for i in 0..<4 { groups.append(UInt16(truncatingIfNeeded: hi >> (48 - 16 * UInt64(i)))) }
      for i in 0..<4 { groups.append(UInt16(truncatingIfNeeded: lo >> (48 - 16 * UInt64(i)))) }
      // The longest run of two or more zero groups becomes "::" (RFC 5952).
      var bestStart = -1
      var bestLen = 0
      var i = 0
      while i < 8 {
        if groups[i] == 0 {
          var j = i
          while j < 8 && groups[j] == 0 { j += 1 }
          if j - i > bestLen && j - i >= 2 {
            bestStart = i
            bestLen = j - i
          }
          i = j
        } else {
          i += 1
        }
      }
      func hex(_ r: ArraySlice<UInt16>) -> String { r.map { String($0, radix: 16) }.joined(separator: ":") }
      if bestStart < 0 { return hex(groups[0..<8]) }
      return hex(groups[0..<bestStart]) + "::" + hex(groups[(bestStart + bestLen)..<8])
    }
  }

  /// Parses `127.0.0.1`, `::1`, `::ffff:127.0.0.1`, `fd00::1` (no brackets).
  public init?(_ s: String) {
    if let v4 = IPAddress.parseV4(Substring(s)) {
      self = .v4(v4)
      return
    }
    guard let v6 = IPAddress.parseV6(s) else { return nil }
    self = v6
  }

  static func parseV4(_ s: Substring) -> UInt32? {
    let parts = s.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count == 4 else { return nil }
    var v: UInt32 = 0
    for p in parts {
      guard !p.isEmpty, p.count <= 3, p.allSatisfy({ $0.isASCII && $0.isNumber }), let n = UInt32(p), n <= 255 else { return nil }
      v = v << 8 | n
    }
    return v
  }

  static func parseV6(_ s: String) -> IPAddress? {
    guard s.contains(":"), s.count <= 45 else { return nil }
    var groups: [UInt16] = []
    var tailGroups: [UInt16] = []
    var halves: [String] = []
    let chars = Array(s)
    if let i = chars.indices.dropLast().first(where: { chars[$0] == ":" && chars[$0 + 1] == ":" }) {
      halves = [String(chars[..<i]), String(chars[(i + 2)...])]
      if halves[1].hasPrefix(":") || halves[1].contains("::") { return nil }
    } else {
      halves = [s]
    }
    func parseGroups(_ part: String, allowV4Tail: Bool) -> [UInt16]? {
      if part.isEmpty { return [] }
      var out: [UInt16] = []
      let items = part.split(separator: ":", omittingEmptySubsequences: false)
      for (i, it) in items.enumerated() {
        if i == items.count - 1 && allowV4Tail && it.contains(".") {
          guard let v4 = parseV4(it) else { return nil }
          out.append(UInt16(v4 >> 16))
          out.append(UInt16(v4 & 0xFFFF))
        } else {
          guard !it.isEmpty, it.count <= 4, let g = UInt16(it, radix: 16) else { return nil }
          out.append(g)
        }
      }
      return out
    }
    if halves.count == 2 {
      guard let a = parseGroups(halves[0], allowV4Tail: false), let b = parseGroups(halves[1], allowV4Tail: true) else { return nil }
      guard a.count + b.count <= 7 else { return nil }
      groups = a
      tailGroups = b
      groups += Array(repeating: 0, count: 8 - a.count - b.count) + tailGroups
    } else {
      guard let a = parseGroups(halves[0], allowV4Tail: true), a.count == 8 else { return nil }
      groups = a
    }
    var hi: UInt64 = 0
    var lo: UInt64 = 0
    for i in 0..<4 { hi = hi << 16 | UInt64(groups[i]) }
    for i in 4..<8 { lo = lo << 16 | UInt64(groups[i]) }
    return .v6(hi, lo)
  }

  /// The network prefix of `bits` length containing this address.
  public func masked(_ bits: Int) -> IPAddress {
    switch self {
    case .v4(let a):
      let m: UInt32 = bits <= 0 ? 0 : bits >= 32 ? ~0 : ~UInt32(0) << UInt32(32 - bits)
      return .v4(a & m)
    case .v6(let hi, let lo):
      let mh: UInt64 = bits <= 0 ? 0 : bits >= 64 ? ~0 : ~UInt64(0) << UInt64(64 - bits)
      let ml: UInt64 = bits <= 64 ? 0 : bits >= 128 ? ~0 : ~UInt64(0) << UInt64(128 - bits)
      return .v6(hi & mh, lo & ml)
    }
  }
}

/// An address and port, printed as `127.0.0.1:80` or `[::1]:80`.
public struct Endpoint: Hashable, Sendable, CustomStringConvertible {
  public var addr: IPAddress
  public var port: UInt16
  public init(_ addr: IPAddress, _ port: UInt16) {
    self.addr = addr
    self.port = port
  }
  public var description: String {
    var b: [UInt8] = []
    write(to: &b)
    return String(decoding: b, as: UTF8.self)
  }

  /// Appends `127.0.0.1:80` or `[::1]:80` as UTF-8 (the transcript's hot path).
  public func write(to b: inout [UInt8]) {
    func num(_ v: Int) {
      if v >= 10 { num(v / 10) }
      b.append(UInt8(48 + v % 10))
    }
    switch addr {
    case .v4(let a):
      num(Int(a >> 24))
      b.append(46)
      num(Int((a >> 16) & 255))
      b.append(46)
      num(Int((a >> 8) & 255))
      b.append(46)
      num(Int(a & 255))
    case .v6:
      b.append(91)
      b.append(contentsOf: addr.description.utf8)
      b.append(93)
    }
    b.append(58)
    num(Int(port))
  }
  /// Parses `127.0.0.1:80` or `[::1]:80`.
  public init?(_ s: String) {
    if s.hasPrefix("[") {
      guard let close = s.firstIndex(of: "]") else { return nil }
      let host = String(s[s.index(after: s.startIndex)..<close])
      let rest = s[s.index(after: close)...]
      guard rest.hasPrefix(":"), let p = UInt16(rest.dropFirst()), let a = IPAddress.parseV6(host) else { return nil }
      self.init(a, p)
    } else {
      guard let colon = s.lastIndex(of: ":"), let v4 = IPAddress.parseV4(s[..<colon]), let p = UInt16(s[s.index(after: colon)...]) else { return nil }
      self.init(.v4(v4), p)
    }
  }
}

/// A minimal JSON writer (the reporters need no more, and no Foundation).
public indirect enum JSON: Equatable, Sendable {
  case null
  case bool(Bool)
  case int(Int)
  case string(String)
  case array([JSON])
  case object([(String, JSON)])

  public static func == (a: JSON, b: JSON) -> Bool { a.render() == b.render() }

  public static func str(_ s: String?) -> JSON { s.map { .string($0) } ?? .null }

  public func render() -> String {
    var out = ""
    write(&out)
    return out
  }

  func write(_ out: inout String) {
    switch self {
    case .null: out += "null"
    case .bool(let b): out += b ? "true" : "false"
    case .int(let i): out += String(i)
    case .string(let s): JSON.quote(s, &out)
    case .array(let a):
      out += "["
      for (i, v) in a.enumerated() {
        if i > 0 { out += "," }
        v.write(&out)
      }
      out += "]"
    case .object(let fields):
      out += "{"
      for (i, (k, v)) in fields.enumerated() {
        if i > 0 { out += "," }
        JSON.quote(k, &out)
        out += ":"
        v.write(&out)
      }
      out += "}"
    }
  }

  static func quote(_ s: String, _ out: inout String) {
    out += "\""
    for u in s.unicodeScalars {
      switch u {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      default:
        if u.value < 0x20 {
          let h = String(u.value, radix: 16)
          out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
        } else {
          out.unicodeScalars.append(u)
        }
      }
    }
    out += "\""
  }
}

/// A minimal JSON reader: enough for the JSON Lines that `run --format json`
/// writes (objects, arrays, strings, integers, booleans, null), so `test`
/// reads a child's verdict instead of scraping its text transcript.
extension JSON {
  /// Parses one JSON value; nil when the text is not JSON of these kinds.
  public static func parse(_ text: String) -> JSON? {
    var p = Reader(bytes: Array(text.utf8))
    guard let v = p.value() else { return nil }
    p.blank()
    return p.i == p.bytes.count ? v : nil
  }

  /// A field of an object.
  public subscript(key: String) -> JSON? {
    guard case .object(let fields) = self else { return nil }
    return fields.first { $0.0 == key }?.1
  }

  public var stringValue: String? {
    if case .string(let s) = self { return s }
    return nil
  }

  public var intValue: Int? {
    if case .int(let i) = self { return i }
    return nil
  }

  public var boolValue: Bool? {
    if case .bool(let b) = self { return b }
    return nil
  }

  struct Reader {
    let bytes: [UInt8]
    var i = 0

    mutating func blank() {
      while i < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) { i += 1 }
    }

    mutating func literal(_ word: String, _ v: JSON) -> JSON? {
      let w = Array(word.utf8)
      guard i + w.count <= bytes.count, Array(bytes[i..<i + w.count]) == w else { return nil }
      i += w.count
      return v
    }

    mutating func value() -> JSON? {
      blank()
      guard i < bytes.count else { return nil }
      switch bytes[i] {
      case UInt8(ascii: "{"):
        i += 1
        var fields: [(String, JSON)] = []
        blank()
        if i < bytes.count, bytes[i] == UInt8(ascii: "}") {
          i += 1
          return .object(fields)
        }
        while true {
          blank()
          guard case .string(let k)? = string() else { return nil }
          blank()
          guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { return nil }
          i += 1
          guard let v = value() else { return nil }
          fields.append((k, v))
          blank()
          guard i < bytes.count else { return nil }
          if bytes[i] == UInt8(ascii: ",") {
            i += 1
            continue
          }
          guard bytes[i] == UInt8(ascii: "}") else { return nil }
          i += 1
          return .object(fields)
        }
      case UInt8(ascii: "["):
        i += 1
        var items: [JSON] = []
        blank()
        if i < bytes.count, bytes[i] == UInt8(ascii: "]") {
          i += 1
          return .array(items)
        }
        while true {
          guard let v = value() else { return nil }
          items.append(v)
          blank()
          guard i < bytes.count else { return nil }
          if bytes[i] == UInt8(ascii: ",") {
            i += 1
            continue
          }
          guard bytes[i] == UInt8(ascii: "]") else { return nil }
          i += 1
          return .array(items)
        }
      case UInt8(ascii: "\""): return string()
      case UInt8(ascii: "t"): return literal("true", .bool(true))
      case UInt8(ascii: "f"): return literal("false", .bool(false))
      case UInt8(ascii: "n"): return literal("null", .null)
      default:
        let start = i
        if bytes[i] == UInt8(ascii: "-") { i += 1 }
        while i < bytes.count, bytes[i] >= 0x30 && bytes[i] <= 0x39 { i += 1 }
        guard let n = Int(String(decoding: bytes[start..<i], as: UTF8.self)) else { return nil }
        return .int(n)
      }
    }

    mutating func string() -> JSON? {
      guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { return nil }
      i += 1
      var out: [UInt8] = []
      while i < bytes.count {
        let b = bytes[i]
        i += 1
        if b == UInt8(ascii: "\"") { return .string(String(decoding: out, as: UTF8.self)) }
        guard b == UInt8(ascii: "\\") else {
          out.append(b)
          continue
        }
        guard i < bytes.count else { return nil }
        let e = bytes[i]
        i += 1
        switch e {
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "u"):
          guard i + 4 <= bytes.count, let v = UInt32(String(decoding: bytes[i..<i + 4], as: UTF8.self), radix: 16),
            let u = Unicode.Scalar(v)
          else { return nil }
          i += 4
          out += Array(String(Character(u)).utf8)
        default: out.append(e)  // \" \\ \/
        }
      }
      return nil
    }
  }
}

import SockKernel

/// A run-time value of the language.
public enum Value: Equatable, Sendable {
  case int(Int)
  case string(String)
  case duration(Int64)
  case address(IPAddress)
  case endpoint(Endpoint)
  case state(SockState)
  /// A call's result: nil is `ok`.
  case result(Errno?)
  case bool(Bool)
  /// A kernel version: `kernel`, or a literal such as 6.18.
  case version(KernelVersion)
  case none

  public var typeName: String {
    switch self {
    case .int: return "integer"
    case .string: return "string"
    case .duration: return "duration"
    case .address: return "address"
    case .endpoint: return "endpoint"
    case .state: return "state"
    case .result: return "result"
    case .bool: return "boolean"
    case .version: return "version"
    case .none: return "nothing"
    }
  }

  /// The type name with its article, for messages ("an integer", "nothing").
  public var aTypeName: String {
    let n = typeName
    if self == .none { return n }
    return ("aeiou".contains(n.first!) ? "an " : "a ") + n
  }

  /// How `print` and `$(...)` show a value.
  public var text: String {
    switch self {
    case .int(let v): return String(v)
    case .string(let s): return s
    case .duration(let ms): return Value.formatDuration(ms)
    case .address(let a): return a.isV4 ? a.description : "[\(a)]"
    case .endpoint(let e): return e.description
    case .state(let s): return s.rawValue
    case .result(let e): return e?.name ?? "ok"
    case .bool(let b): return b ? "true" : "false"
    case .version(let v): return v.description
    case .none: return "none"
    }
  }

  /// Orders two versions as precisely as both are written: `kernel < 6.3`
  /// compares lines (6.1.176 is below 6.3, and equal to 6.1), `kernel >=
  /// 6.1.32` point releases too.
  public static func versionOrder(_ a: KernelVersion, _ b: KernelVersion) -> Int {
    let (x, y) = a.patch == nil || b.patch == nil ? (a.line, b.line) : (a, b)
    return x < y ? -1 : (x == y ? 0 : 1)
  }

  public static func formatDuration(_ ms: Int64) -> String {
    if ms % 1000 == 0 { return "\(ms / 1000)s" }
    if ms < 1000 { return "\(ms)ms" }
    var s = String(Double(ms) / 1000)
    if s.hasSuffix(".0") { s.removeLast(2) }
    return s + "s"
  }
}

/// The socket options of the brief, in one table: each option's script name,
/// the shape of its argument, the setsockopt level and name it becomes, and
/// how `show` lists it. The checker, the interpreter, both kernels, the
/// exporters, the REPL and the editor-grammar test all read this table.
/// (Like packetdrill's symbols table: one list of names to numbers.)
public struct OptionSpec: Sendable {
  /// What `setopt NAME ...` takes after the name.
  public enum Shape: Sendable {
    /// `on`/`off`/`1`/`0`, or nothing (on).
    case flag
    /// SECONDS, or `off`.
    case secondsOrOff
    /// LO HI (two ports; `0 0` clears).
    case portPair
    /// IFNAME (`""` clears).
    case device
  }
  public let name: String
  public let shape: Shape
  /// The C spelling of the call: level and option name (`fcntl` for O_NONBLOCK).
  public let level: String
  public let optname: String
  /// Their numbers on Linux (0 where the option is not a setsockopt).
  public let levelValue: Int32
  public let optnameValue: Int32
  /// What the argument looks like, for help and hints.
  public let argument: String
  public let example: String
}

/// One option with its value, as a script sets it and a kernel applies it.
public enum SocketOption: Equatable, Sendable {
  case reuseaddr(Bool)
  case reuseport(Bool)
  case bindAddressNoPort(Bool)
  case v6only(Bool)
  case nonblock(Bool)
  case freebind(Bool)
  /// SO_LINGER: nil turns it off; a number of seconds turns it on.
  case linger(Int?)
  /// IP_LOCAL_PORT_RANGE; (0, 0) clears it.
  case localPortRange(Int, Int)
  case bindToDevice(String)

  /// The table, in the order help and `show` list options.
  public static let table: [OptionSpec] = [
    OptionSpec(
      name: "reuseaddr", shape: .flag, level: "SOL_SOCKET", optname: "SO_REUSEADDR", levelValue: 1, optnameValue: 2, argument: "on|off",
      example: "setopt a reuseaddr"),
    OptionSpec(
      name: "reuseport", shape: .flag, level: "SOL_SOCKET", optname: "SO_REUSEPORT", levelValue: 1, optnameValue: 15, argument: "on|off",
      example: "setopt a reuseport"),
    OptionSpec(
      name: "bind_address_no_port", shape: .flag, level: "IPPROTO_IP", optname: "IP_BIND_ADDRESS_NO_PORT", levelValue: 0, optnameValue: 24,
      argument: "on|off", example: "setopt a bind_address_no_port"),
    OptionSpec(
      name: "v6only", shape: .flag, level: "IPPROTO_IPV6", optname: "IPV6_V6ONLY", levelValue: 41, optnameValue: 26, argument: "on|off",
      example: "setopt a v6only"),
    OptionSpec(
      name: "nonblock", shape: .flag, level: "fcntl", optname: "O_NONBLOCK", levelValue: 0, optnameValue: 0, argument: "on|off",
      example: "setopt a nonblock"),
    OptionSpec(
      name: "freebind", shape: .flag, level: "IPPROTO_IP", optname: "IP_FREEBIND", levelValue: 0, optnameValue: 15, argument: "on|off",
      example: "setopt a freebind"),
    OptionSpec(
      name: "linger", shape: .secondsOrOff, level: "SOL_SOCKET", optname: "SO_LINGER", levelValue: 1, optnameValue: 13,
      argument: "SECONDS|off", example: "setopt a linger 0"),
    OptionSpec(
      name: "local_port_range", shape: .portPair, level: "IPPROTO_IP", optname: "IP_LOCAL_PORT_RANGE", levelValue: 0, optnameValue: 51,
      argument: "LO HI", example: "setopt a local_port_range 40000 40009"),
    OptionSpec(
      name: "bindtodevice", shape: .device, level: "SOL_SOCKET", optname: "SO_BINDTODEVICE", levelValue: 1, optnameValue: 25,
      argument: "IFNAME", example: "setopt a bindtodevice lo"),
  ]

  public static let allNames = table.map(\.name)

  public static func spec(named name: String) -> OptionSpec? { table.first { $0.name == name } }

  /// What a decoded argument holds, by the option's shape.
  public enum Argument: Sendable {
    case flag(Bool)
    case seconds(Int?)
    case ports(Int, Int)
    case device(String)
  }

  /// The option `name` set to `arg`; nil when the name is unknown or the
  /// argument does not fit the option's shape.
  public init?(name: String, _ arg: Argument) {
    switch (name, arg) {
    case ("reuseaddr", .flag(let on)): self = .reuseaddr(on)
    case ("reuseport", .flag(let on)): self = .reuseport(on)
    case ("bind_address_no_port", .flag(let on)): self = .bindAddressNoPort(on)
    case ("v6only", .flag(let on)): self = .v6only(on)
    case ("nonblock", .flag(let on)): self = .nonblock(on)
    case ("freebind", .flag(let on)): self = .freebind(on)
    case ("linger", .seconds(let s)): self = .linger(s)
    case ("local_port_range", .ports(let lo, let hi)): self = .localPortRange(lo, hi)
    case ("bindtodevice", .device(let d)): self = .bindToDevice(d)
    default: return nil
    }
  }

  public var name: String {
    switch self {
    case .reuseaddr: return "reuseaddr"
    case .reuseport: return "reuseport"
    case .bindAddressNoPort: return "bind_address_no_port"
    case .v6only: return "v6only"
    case .nonblock: return "nonblock"
    case .freebind: return "freebind"
    case .linger: return "linger"
    case .localPortRange: return "local_port_range"
    case .bindToDevice: return "bindtodevice"
    }
  }

  public var spec: OptionSpec { Self.spec(named: name)! }

  /// Whether the option is in force (a flag that is on, linger set, a range, a device).
  public var isSet: Bool { label != nil }

  /// How `show` lists the option while it is in force; nil when it is off.
  public var label: String? {
    switch self {
    case .reuseaddr(let on), .reuseport(let on), .bindAddressNoPort(let on), .v6only(let on), .nonblock(let on), .freebind(let on):
      return on ? name : nil
    case .linger(let secs): return secs.map { "linger=\($0)" }
    case .localPortRange(let lo, let hi): return lo == 0 && hi == 0 ? nil : "local_port_range=\(lo)-\(hi)"
    case .bindToDevice(let dev): return dev.isEmpty ? nil : "dev=\(dev)"
    }
  }
}

import SockKernel

/// Random scenarios for differential testing (`sockscript fuzz`), in the
/// spirit of csmith: programs from the language's grammar with few ports,
/// few addresses and tiny ephemeral ranges, so that collisions, exhaustion
/// and odd states are common. Program `index` of a seed is always the same
/// text, whatever order programs run in.
///
/// Where the kernel chooses at random, the generator forces the choice:
/// the ephemeral range has one or two ports (bind(0) and connect() then
/// have a single candidate order), and a UDP program gets a single port,
/// because UDP's bind(0) starts at a random port.
public struct ScenarioGenerator: Sendable {
  public let seed: UInt64
  public init(seed: UInt64) { self.seed = seed }

  struct Sock {
    var name: String
    var tcp: Bool
    var v6: Bool
  }

  /// The statements of program `index`, one per line.
  public func program(_ index: Int) -> [String] {
    var rng = SeededRandom(seed: SeededRandom.mix(seed ^ SeededRandom.mix(UInt64(index) &+ 0x51ED)))
    func pick<T>(_ xs: [T]) -> T { xs[Int(rng.below(UInt32(xs.count)))] }
    func chance(_ n: UInt32) -> Bool { rng.below(n) == 0 }
    var lines: [String] = []
    let udp = chance(3)
    let lo = 40000 + 2 * Int(rng.below(4))
    let hi = udp || chance(2) ? lo : lo + 1
    lines.append("sysctl net.ipv4.ip_local_port_range = \(lo) \(hi)")
    if chance(4) { lines.append("sysctl net.ipv4.tcp_tw_reuse = \(pick([0, 1]))") }
    if chance(6) { lines.append("sysctl net.ipv4.ip_autobind_reuse = 1") }
    if chance(8) { lines.append("sysctl net.ipv4.tcp_timestamps = 0") }
    if chance(8) { lines.append("sysctl net.ipv4.ip_nonlocal_bind = 1") }
    if chance(10) { lines.append("sysctl net.ipv6.bindv6only = 1") }
    if chance(10) {
      // SYN resends that give up within a program's sleeps (3 or 4 s).
      lines.append("sysctl net.ipv4.tcp_syn_retries = 1")
      lines.append("sysctl net.ipv4.tcp_syn_linear_timeouts = \(pick([0, 1]))")
    }
    if chance(12) { lines.append("sysctl net.ipv4.tcp_abort_on_overflow = 1") }
    if chance(12) { lines.append("sysctl net.ipv4.tcp_syncookies = \(pick([0, 2]))") }
    if chance(16) { lines.append("sysctl net.ipv4.tcp_max_syn_backlog = \(pick([0, 1, 128]))") }
    let ports = [0, 0, 8080, 8080, 8081, lo, hi]
    let destPorts = [8080, 8080, 8081, lo, hi, 9]
    let v4 = ["0.0.0.0", "127.0.0.1", "127.0.0.1", "127.0.0.2"]
    let v6 = ["[::]", "[::1]", "[::1]", "[::ffff:127.0.0.1]", "[::ffff:0.0.0.0]"]
    var socks: [Sock] = []
    var accepted = 0
    func kind() -> (String, Bool, Bool) {
      if udp { return chance(3) ? ("udp6", false, true) : ("udp", false, false) }
      // No UDP in a two-port program: UDP's bind(0) starts at a random port.
      return rng.below(3) == 0 ? ("tcp6", true, true) : ("tcp", true, false)
    }
    func addr(_ s: Sock) -> String {
      // Now and then the other family, for the family checks.
      if chance(12) { return s.v6 ? pick(v4) : pick(v6) }
      return s.v6 ? pick(v6) : pick(v4)
    }
    func newSocket() {
      let (k, tcp, six) = kind()
      let name = "s\(socks.count)"
      socks.append(Sock(name: name, tcp: tcp, v6: six))
      lines.append("socket \(name) \(k)")
    }
    newSocket()
    newSocket()
    let count = 6 + Int(rng.below(14))
    for _ in 0..<count {
      let s = pick(socks)
      switch rng.below(100) {
      case 0..<8:
        if socks.count < 5 { newSocket() } else { lines.append("socket \(s.name) \(kind().0)") }
      case 8..<22:
        var opts = ["reuseaddr", "reuseaddr", "reuseport", "nonblock", "linger 0", "bind_address_no_port", "freebind"]
        if s.v6 { opts.append("v6only") }
        lines.append("setopt \(s.name) \(pick(opts))")
      case 22..<40: lines.append("bind \(s.name) \(addr(s)):\(pick(ports))")
      case 40..<50: lines.append("listen \(s.name)\(chance(3) ? " \(pick([0, 1]))" : "")")
      case 50..<66: lines.append("connect \(s.name) \(addr(s)):\(pick(destPorts))")
      case 66..<74:
        let n = "a\(accepted)"
        accepted += 1
        lines.append("accept \(s.name) as \(n)")
        socks.append(Sock(name: n, tcp: s.tcp, v6: s.v6))
      case 74..<79: lines.append("send \(s.name) \"x\"")
      case 79..<84: lines.append("recv \(s.name)")
      case 84..<87: lines.append("sendto \(s.name) \(addr(s)):\(pick(destPorts)) \"d\"")
      case 87..<89: lines.append("recvfrom \(s.name)")
      case 89..<92: lines.append("shutdown \(s.name) \(pick(["wr", "rd", "rdwr"]))")
      case 92..<98: lines.append("close \(s.name)")
      default: lines.append("sleep \(pick(["50ms", "1100ms"]))")
      }
    }
    return lines
  }
}

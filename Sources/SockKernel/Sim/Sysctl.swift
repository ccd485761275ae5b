/// The per-namespace sysctls of the brief: writing one checks its value as
/// the kernel's proc handler does (`proc_dointvec_minmax`,
/// `ipv4_local_port_range`, `proc_do_large_bitmap` for the reserved ports),
/// and reading one prints it as /proc/sys does.
extension SimKernel {
  // MARK: sysctl

  public func sysctl(_ key: String, _ value: String) -> CallResult {
    let v = value.trimmed
    let ints = v.split(whereSeparator: { $0 == " " || $0 == "\t" }).map { Int($0) }
    func one(_ range: ClosedRange<Int>) -> Int? {
      guard ints.count == 1, let x = ints[0], range.contains(x) else { return nil }
      return x
    }
    let bad = CallResult.fail(.EINVAL, "'\(v)' is not a valid value for \(key)")
    switch key {
    case "net.ipv4.ip_local_port_range":
      guard ints.count == 2, let lo = ints[0], let hi = ints[1], (1...65535).contains(lo), (1...65535).contains(hi) else { return bad }
      guard hi >= lo, lo >= unprivilegedPortStart else {
        return .fail(.EINVAL, hi < lo ? "the upper bound is below the lower" : "the range may not start below net.ipv4.ip_unprivileged_port_start (\(unprivilegedPortStart))")
      }
      portLo = lo
      portHi = hi
    case "net.ipv4.ip_local_reserved_ports":
      var set = PortSet()
      for item in v.split(separator: ",", omittingEmptySubsequences: true) {
        let parts = String(item).trimmed.split(separator: "-")
        guard parts.count == 1 || parts.count == 2, let a = Int(parts[0]), let b = Int(parts.last!), a <= b, (0...65535).contains(a), (0...65535).contains(b) else { return bad }
        for p in a...b { set.insert(p) }
      }
      reservedPorts = set
    case "net.ipv4.ip_autobind_reuse":
      guard let x = one(0...1) else { return bad }
      autobindReuse = x
    case "net.ipv4.ip_nonlocal_bind":
      guard let x = one(0...1) else { return bad }
      nonlocalBind = x
    case "net.ipv4.ip_unprivileged_port_start":
      guard let x = one(0...65535) else { return bad }
      guard x <= portLo else { return .fail(.EINVAL, "it may not exceed the start of ip_local_port_range (\(portLo))") }
      unprivilegedPortStart = x
    case "net.ipv4.tcp_tw_reuse":
      guard let x = one(0...2) else { return bad }
      twReuse = x
    case "net.ipv4.tcp_tw_reuse_delay":
      guard let x = one(1...600_000) else { return bad }
      twReuseDelayMs = x
    case "net.ipv4.tcp_max_tw_buckets":
      guard let x = one(0...Int(Int32.max)) else { return bad }
      maxTwBuckets = x
    case "net.ipv4.tcp_timestamps":
      guard let x = one(0...2) else { return bad }
      tcpTimestamps = x
    case "net.ipv4.tcp_fin_timeout":
      guard let x = one(0...Int(Int32.max) / 1000) else { return bad }
      finTimeoutS = x
    case "net.core.somaxconn":
      guard let x = one(0...Int(Int32.max)) else { return bad }
      somaxconn = x
    default:
      return .fail(.ENOENT, "no such sysctl")
    }
    return .ok
  }

  public func readSysctl(_ key: String) -> String? {
    switch key {
    case "net.ipv4.ip_local_port_range": return "\(portLo) \(portHi)"
    case "net.ipv4.ip_local_reserved_ports":
      // As the kernel prints it: ranges joined by commas.
      var parts: [String] = []
      var p = 0
      while p <= 65535 {
        guard reservedPorts.contains(p) else {
          p += 1
          continue
        }
        var q = p
        while q < 65535 && reservedPorts.contains(q + 1) { q += 1 }
        parts.append(p == q ? "\(p)" : "\(p)-\(q)")
        p = q + 1
      }
      return parts.joined(separator: ",")
    case "net.ipv4.ip_autobind_reuse": return "\(autobindReuse)"
    case "net.ipv4.ip_nonlocal_bind": return "\(nonlocalBind)"
    case "net.ipv4.ip_unprivileged_port_start": return "\(unprivilegedPortStart)"
    case "net.ipv4.tcp_tw_reuse": return "\(twReuse)"
    case "net.ipv4.tcp_tw_reuse_delay": return "\(twReuseDelayMs)"
    case "net.ipv4.tcp_max_tw_buckets": return "\(maxTwBuckets)"
    case "net.ipv4.tcp_timestamps": return "\(tcpTimestamps)"
    case "net.ipv4.tcp_fin_timeout": return "\(finTimeoutS)"
    case "net.core.somaxconn": return "\(somaxconn)"
    default: return nil
    }
  }
}

/// The per-namespace sysctls of the brief: writing one parses and checks its
/// value as the kernel's proc handler does (`proc_get_long` under
/// `proc_dointvec_minmax`, `proc_dou8vec_minmax`, `proc_douintvec_minmax`,
/// `proc_dointvec_jiffies`; `ipv4_local_port_range`,
/// `ipv4_privileged_ports`, `proc_do_large_bitmap` for the reserved ports),
/// and reading one prints it as /proc/sys does.
extension SimKernel {
  /// How a proc handler reads a number (kernel/sysctl.c).
  enum ProcInt {
    /// `int` (proc_dointvec*): a sign is allowed, "-0" too.
    case int
    /// `u8` / `unsigned int` (proc_dou8vec_minmax, proc_douintvec_minmax):
    /// any "-" is EINVAL.
    case unsigned
  }

  /// One integer sysctl: its parser, its bounds, where the value lives.
  struct IntSysctl {
    let key: String
    let kind: ProcInt
    let range: ClosedRange<Int>
    let value: ReferenceWritableKeyPath<SimKernel, Int>
  }

  /// HZ of the kernel modelled; it bounds the seconds a jiffies sysctl takes
  /// (INT_MAX / HZ). A build setting, not a version's: this machine's 6.18
  /// has 250 (as Debian's kernels do), Debian's user-mode builds, which the
  /// other profiles are checked against, 100.
  var hz: Int { config.version.line == KernelVersion(6, 18) ? 250 : 100 }
  static let intMax = Int(Int32.max)
  static let u8 = 0...255

  /// The integer sysctls, with the bounds measured on Linux 6.18 (see
  /// Tests/Scenarios/sysctl/values.sock).
  static let intSysctls: [IntSysctl] = [
    IntSysctl(key: "net.ipv4.ip_autobind_reuse", kind: .unsigned, range: 0...1, value: \.autobindReuse),
    IntSysctl(key: "net.ipv4.ip_nonlocal_bind", kind: .unsigned, range: u8, value: \.nonlocalBind),
    IntSysctl(key: "net.ipv4.tcp_tw_reuse", kind: .unsigned, range: 0...2, value: \.twReuse),
    // 1 ms .. TCP_PAWS_MSL seconds.
    IntSysctl(key: "net.ipv4.tcp_tw_reuse_delay", kind: .unsigned, range: 1...60_000, value: \.twReuseDelayMs),
    IntSysctl(key: "net.ipv4.tcp_max_tw_buckets", kind: .int, range: -intMax - 1...intMax, value: \.maxTwBuckets),
    IntSysctl(key: "net.ipv4.tcp_timestamps", kind: .unsigned, range: u8, value: \.tcpTimestamps),
    // Seconds as jiffies: the bounds are ±INT_MAX / HZ (see `intSysctl`).
    IntSysctl(key: "net.ipv4.tcp_fin_timeout", kind: .int, range: -intMax...intMax, value: \.finTimeoutS),
    IntSysctl(key: "net.core.somaxconn", kind: .int, range: 0...intMax, value: \.somaxconn),
    IntSysctl(key: "net.ipv6.bindv6only", kind: .unsigned, range: u8, value: \.bindv6only),
    IntSysctl(key: "net.ipv4.tcp_syncookies", kind: .unsigned, range: u8, value: \.syncookies),
    IntSysctl(key: "net.ipv4.tcp_abort_on_overflow", kind: .unsigned, range: u8, value: \.abortOnOverflow),
    // MAX_TCP_SYNCNT is 127.
    IntSysctl(key: "net.ipv4.tcp_syn_retries", kind: .unsigned, range: 1...127, value: \.synRetries),
    IntSysctl(key: "net.ipv4.tcp_syn_linear_timeouts", kind: .unsigned, range: 0...127, value: \.synLinearTimeouts),
    IntSysctl(key: "net.ipv4.tcp_max_syn_backlog", kind: .int, range: -intMax - 1...intMax, value: \.maxSynBacklog),
  ]

  /// A key's parser and bounds on this profile's kernel. Before 5.13 (the
  /// series that added proc_dou8vec_minmax) the u8 sysctls were ints read by
  /// proc_dointvec: a sign is allowed and only the minmax ones are bounded.
  func intSysctl(_ key: String) -> IntSysctl? {
    guard var spec = SimKernel.intSysctls.first(where: { $0.key == key }) else { return nil }
    if key == "net.ipv4.tcp_fin_timeout" {
      spec = IntSysctl(key: key, kind: .int, range: -(SimKernel.intMax / hz)...(SimKernel.intMax / hz), value: spec.value)
    }
    if config.version < KernelVersion(5, 13) && spec.kind == .unsigned {
      let range = spec.range == SimKernel.u8 ? -SimKernel.intMax - 1...SimKernel.intMax : spec.range
      spec = IntSysctl(key: key, kind: .int, range: range, value: spec.value)
    }
    return spec
  }

  /// Up to `count` numbers as `__do_proc_dointvec` reads them: leading blanks
  /// skipped, each number in C notation (`0x10`, `017`), separated by blanks;
  /// what follows the last one wanted is ignored. Nil: EINVAL.
  static func procInts(_ text: String, count: Int, kind: ProcInt) -> [Int]? {
    let blank: Set<Character> = [" ", "\t", "\n"]
    var rest = Substring(text)
    var out: [Int] = []
    while out.count < count {
      rest = rest.drop(while: { blank.contains($0) })
      if rest.isEmpty { break }
      let word = rest.prefix(while: { !blank.contains($0) })
      rest = rest.dropFirst(word.count)
      var digits = Substring(word)
      let negative = digits.first == "-"
      if negative {
        guard kind == .int else { return nil }
        digits = digits.dropFirst()
      }
      var radix = 10
      if digits.count > 1, digits.hasPrefix("0x") || digits.hasPrefix("0X") {
        radix = 16
        digits = digits.dropFirst(2)
      } else if digits.count > 1, digits.hasPrefix("0") {
        radix = 8
        digits = digits.dropFirst()
      }
      guard !digits.isEmpty, digits.first != "+", digits.first != "-", let magnitude = Int(digits, radix: radix) else { return nil }
      let limit = kind == .int ? (negative ? intMax + 1 : intMax) : Int(UInt32.max)
      guard magnitude <= limit else { return nil }
      out.append(negative ? -magnitude : magnitude)
    }
    return out.isEmpty ? nil : out
  }

  // MARK: sysctl

  public func sysctl(_ key: String, _ value: String) -> CallResult {
    if let rule = Sysctl.addedWith[key], !has(rule) {
      return .fail(.ENOENT, "\(key) does not exist before Linux \(rule.since!) (it came with \(rule.rawValue)); this is \(config.version.line)")
    }
    let bad = CallResult.fail(.EINVAL, "'\(value.trimmed)' is not a valid value for \(key)")
    if let spec = intSysctl(key) {
      guard let x = SimKernel.procInts(value, count: 1, kind: spec.kind)?.first, spec.range.contains(x) else {
        return .fail(.EINVAL, "'\(value.trimmed)' is not a valid value for \(key) (\(spec.range.lowerBound)..\(spec.range.upperBound))")
      }
      self[keyPath: spec.value] = x
      return .ok
    }
    switch key {
    case "net.ipv4.ip_local_port_range":
      // ipv4_local_port_range: two ints of 1..65535; one alone keeps the upper bound.
      guard let ints = SimKernel.procInts(value, count: 2, kind: .int), ints.allSatisfy({ (1...65535).contains($0) }) else { return bad }
      let lo = ints[0]
      let hi = ints.count > 1 ? ints[1] : portHi
      guard hi >= lo, lo >= unprivilegedPortStart else {
        return .fail(.EINVAL, hi < lo ? "the upper bound is below the lower" : "the range may not start below net.ipv4.ip_unprivileged_port_start (\(unprivilegedPortStart))")
      }
      portLo = lo
      portHi = hi
    case "net.ipv4.ip_local_reserved_ports":
      let v = value.trimmed
      var set = PortSet()
      for item in v.split(separator: ",", omittingEmptySubsequences: true) {
        let parts = String(item).trimmed.split(separator: "-")
        guard parts.count == 1 || parts.count == 2, let a = Int(parts[0]), let b = Int(parts.last!), a <= b, (0...65535).contains(a), (0...65535).contains(b) else { return bad }
        for p in a...b { set.insert(p) }
      }
      reservedPorts = set
    case "net.ipv4.ip_unprivileged_port_start":
      // ipv4_privileged_ports: 0..65535, and not above the port range's start.
      guard let x = SimKernel.procInts(value, count: 1, kind: .int)?.first, (0...65535).contains(x) else { return bad }
      guard x <= portLo else { return .fail(.EINVAL, "it may not exceed the start of ip_local_port_range (\(portLo))") }
      unprivilegedPortStart = x
    default:
      return .fail(.ENOENT, "no such sysctl")
    }
    return .ok
  }

  public func readSysctl(_ key: String) -> String? {
    if let rule = Sysctl.addedWith[key], !has(rule) { return nil }
    if let spec = intSysctl(key) { return "\(self[keyPath: spec.value])" }
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
    case "net.ipv4.ip_unprivileged_port_start": return "\(unprivilegedPortStart)"
    default: return nil
    }
  }
}

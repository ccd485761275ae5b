/// The simulator's explanations: the `why` text of a refusal, in kernel
/// terms (who holds the port, which rule refused it). Script-level hints
/// (how to write a fix in a scenario) belong to the script layer.
extension SimKernel {
  func failure(_ f: PortFailure, for s: SimSock, call: String) -> CallResult {
    switch f {
    case .inUse(let blockers, let port):
      return .fail(.EADDRINUSE, bindWhy(s, blockers, port: port))
    case .exhausted(let lo, let hi):
      if !s.isTCP && call == "connect()" {
        return .fail(.EAGAIN, "no port of \(lo)-\(hi) is free for an automatic UDP bind")
      }
      return .fail(.EADDRINUSE, exhaustedWhy(s, lo: lo, hi: hi, call: call))
    }
  }

  /// One or two sentences: who holds the port, and which rule fired.
  func bindWhy(_ s: SimSock, _ blockers: [SimSock], port: Int) -> String {
    let shown = blockers.prefix(2).map(describe).joined(separator: " and ")
    let more = blockers.count > 2 ? " and \(blockers.count - 2) more" : ""
    let b = blockers[0]
    var ruleText: String
    if !s.isTCP {
      if s.reuseport && b.reuseport && s.uid != b.uid {
        ruleText = "both set SO_REUSEPORT, but they belong to different uids (\(b.uid) and \(s.uid)); UDP shares a port within one owner only"
      } else if s.reuse != b.reuse {
        ruleText = "only \(s.reuse ? "this socket" : name(b)) sets SO_REUSEADDR; UDP shares a port when both set it (or both set SO_REUSEPORT, same owner)"
      } else {
        ruleText = "UDP sockets share a port only when both set SO_REUSEADDR, or both set SO_REUSEPORT with the same owner"
      }
    } else if b.state == .LISTEN {
      ruleText = "a listening socket blocks every overlapping address on its port, even when both set SO_REUSEADDR; only SO_REUSEPORT on both (same uid) shares it"
    } else if s.reuseport && b.reuseport && !b.isTW && s.uid != b.uid && !(s.reuse && b.reuse) {
      ruleText = "both set SO_REUSEPORT, but they belong to different uids (\(b.uid) and \(s.uid)), and SO_REUSEPORT only shares a port within one owner"
    } else if s.state == .LISTEN && s.reuse && b.reuse {
      ruleText = "SO_REUSEADDR lets sockets share a port only while none of them listens; listen() checks the port again"
    } else if !s.reuse && !b.reuse {
      ruleText = "neither socket sets SO_REUSEADDR"
    } else if !s.reuse {
      ruleText = "this socket does not set SO_REUSEADDR (both sockets need it)"
    } else {
      ruleText = "\(name(b)) was not created with SO_REUSEADDR (both sockets need it)"
    }
    let addr = s.laddr.isAny ? "port \(port)" : "\(Endpoint(s.laddr, UInt16(port)))"
    return "\(addr) overlaps \(shown)\(more): \(ruleText)."
  }

  func exhaustedWhy(_ s: SimSock, lo: Int, hi: Int, call: String) -> String {
    var reserved = 0
    var holders: [String] = []
    var used = 0
    for p in lo...hi {
      if reservedPorts.contains(p) {
        reserved += 1
        continue
      }
      let cs = s.isTCP ? conflicts(s, port: p, relax: false, reuseportOK: false) : udpConflicts(s, port: p)
      if !cs.isEmpty {
        used += 1
        if holders.count < 3 { holders.append(describe(cs[0])) }
      }
    }
    var text = "\(call) found no free port in \(lo)-\(hi)"
    text += s.laddr.isAny ? "" : " for \(s.laddr)"
    text += ": \(used) held by overlapping sockets"
    if !holders.isEmpty { text += " (\(holders.joined(separator: ", "))\(used > holders.count ? ", ..." : ""))" }
    if reserved > 0 { text += ", \(reserved) in ip_local_reserved_ports" }
    return text + "."
  }
  func connectWhy(_ s: SimSock, src: IPAddress, dst: Endpoint) -> String {
    let (lo, hi, socketRange) = localPortRange(s)
    let local = socketRange && rule(.connectRangeStepOne)
    var reserved = 0
    var marked: [String] = []
    var markedCount = 0
    var markOutlived = false
    var busy: [String] = []
    var busyCount = 0
    var youngTW: String?
    let n = hi - lo + 1
    let usable = local || n <= 1 ? n : n & ~1
    for p in lo..<(lo + usable) {
      if reservedPorts.contains(p) {
        reserved += 1
        continue
      }
      guard let tb = tcp.bucket(p) else { continue }
      if tb.fastreuse >= 0 || tb.fastreuseport >= 0 {
        markedCount += 1
        let binder = tb.owners.first { !$0.connectBind }
        // Before 6.18 the mark outlives the bind(): only connect()-bound
        // sockets may hold the port now.
        if binder == nil { markOutlived = true }
        if marked.count < 2, let o = binder ?? tb.owners.first { marked.append(describe(o)) }
        continue
      }
      if case .busy(let o) = checkEstablished(s, saddr: src, sport: p, dst: dst, autobind: true) {
        busyCount += 1
        if busy.count < 2 { busy.append(describe(o)) }
        if o.isTW && youngTW == nil { youngTW = twWhy(o) }
      }
    }
    var parts: [String] = []
    if busyCount > 0 {
      parts.append(
        "\(busyCount) already \(busyCount == 1 ? "carries" : "carry") a connection \(src) -> \(dst) (\(busy.joined(separator: ", "))\(busyCount > busy.count ? ", ..." : ""))")
    }
    if markedCount > 0 {
      let holders = "\(marked.joined(separator: ", "))\(markedCount > marked.count ? ", ..." : "")"
      parts.append(
        markOutlived
          ? "\(markedCount) \(markedCount == 1 ? "keeps" : "keep") the mark of an explicit bind() that has gone, since \(holders) still \(markedCount == 1 && marked.count == 1 ? "holds" : "hold") the port (before 6.18 a port is given back to connect() only once no socket holds it), so connect() skips \(markedCount == 1 ? "it" : "them")"
          : "\(markedCount) were reserved by an explicit bind() (\(holders)), so connect() skips them")
    }
    if reserved > 0 { parts.append("\(reserved) are in ip_local_reserved_ports") }
    var text = "connect() found no usable source port in \(lo)-\(hi)\(usable < n ? " (an odd-sized range loses one port)" : "")"
    text += parts.isEmpty ? "." : ": " + parts.joined(separator: "; ") + "."
    if let t = youngTW { text += " " + t }
    return text
  }

  func twWhy(_ tw: SimSock) -> String {
    if !tw.timestamps { return "TIME_WAIT entries without TCP timestamps are never reused." }
    if tw.state == .FIN_WAIT2 && rule(.finWait2NotReused) { return "An orphaned FIN_WAIT2 entry is not reused." }
    if twReuse == 0 { return "net.ipv4.tcp_tw_reuse is 0, so TIME_WAIT entries are not reused." }
    if twReuse == 2 && !(tw.laddr.isLoopback || (tw.raddr?.isLoopback ?? false)) { return "net.ipv4.tcp_tw_reuse is 2 (loopback only) and this entry is not loopback." }
    let age = nowMs - tw.twEntryMs
    let tuple = [tw.local, tw.remote].compactMap { $0.map { "\($0)" } }.joined(separator: " -> ")
    return "The entry (\(name(tw)), \(tuple)) is \(formatMs(age)) old; \(twDelayRule)."
  }

  /// The TIME_WAIT reuse delay of this version, in words.
  var twDelayRule: String {
    has(.twReuseDelay)
      ? "tcp_tw_reuse_delay is \(twReuseDelayMs) ms"
      : "before Linux 6.14 an entry is reused once the clock's second has moved past the one of its last timestamp (the simulator's clock starts at a second boundary)"
  }

  func formatMs(_ ms: Int64) -> String {
    ms % 1000 == 0 ? "\(ms / 1000) s" : "\(Double(ms) / 1000) s"
  }
  // MARK: naming, for why lines

  func name(_ s: SimSock) -> String {
    if s.isTW, let o = s.origin { return namer(o).map { "\($0)'s TIME_WAIT entry" } ?? "a TIME_WAIT entry" }
    if let n = namer(s.id) { return n }
    if let p = s.parent { return "an unaccepted connection of \(name(p))" }
    return "an unnamed socket"
  }

  func describe(_ s: SimSock) -> String {
    var d = "\(name(s)) (\(s.isTW ? (s.state == .FIN_WAIT2 ? "FIN_WAIT2" : "TIME_WAIT") : stateOf(s).rawValue)"
    if let l = s.local { d += " on \(l)" }
    if let r = s.remote, s.isTW || s.state != .LISTEN { d += " -> \(r)" }
    return d + ")"
  }

  // MARK: surprising successes

  /// A bind() that succeeded although others hold the port: with whom it
  /// shares, and which rule allowed it.
  func sharedWhy(_ s: SimSock) -> String? {
    guard let tb = table(for: s).bucket(s.lport), let cls = s.boundClass else { return nil }
    let others: [SimSock] = tb.owners.filter { o in
      o !== s && (o.boundClass.map { AddrClass.overlap(cls, v6: s.isV6, $0, v6Other: o.isV6) } ?? false) && devicesCompatible(s, o)
    }
    guard let o = others.first else { return nil }
    let rp = s.reuseport && o.reuseport && (o.isTW || s.uid == o.uid)
    let rule: String
    if rp {
      rule = o.isTW ? "both set SO_REUSEPORT (a TIME_WAIT entry's owner does not matter)" : "both set SO_REUSEPORT with the same owner"
    } else if s.reuse && o.reuse {
      rule = s.isTCP ? "both set SO_REUSEADDR and \(o.isTW ? "the other is a TIME_WAIT entry" : "neither listens")" : "both set SO_REUSEADDR"
    } else {
      return nil
    }
    let more = others.count > 1 ? " and \(others.count - 1) more" : ""
    return "\(Endpoint(s.laddr, UInt16(s.lport))) is shared with \(describe(o))\(more): \(rule)."
  }

  /// A connect() that took over a TIME_WAIT entry of its 4-tuple.
  func takeoverWhy(_ tw: SimSock, explicitPort: Bool) -> String {
    let tuple = [tw.local, tw.remote].compactMap { $0.map { "\($0)" } }.joined(separator: " -> ")
    let stamp =
      tw.inheritedTimestamp && tcpTimestamps == 0
      ? "with the TCP timestamp its connection kept from the TIME_WAIT entry it took over (tcp_timestamps = 0 does not clear it)"
      : "with TCP timestamps"
    if explicitPort {
      return "took over \(name(tw)) (\(tuple)): the port was bound explicitly, and \(stamp) that is allowed whatever tcp_tw_reuse says."
    }
    return
      "took over \(name(tw)) (\(tuple)): tcp_tw_reuse is \(twReuse) and the entry is \(formatMs(nowMs - tw.twEntryMs)) old (\(has(.twReuseDelay) ? "over tcp_tw_reuse_delay, \(twReuseDelayMs) ms" : "in a later second than its last timestamp")), \(stamp)."
  }
}

/// The socket calls of the simulated kernel.
extension SimKernel {
  func badf() -> CallResult { .fail(.EBADF, "the socket is closed") }

  // MARK: setsockopt

  public func setsockopt(_ id: SockID, _ opt: SocketOption) -> CallResult {
    guard let s = sock(id) else { return badf() }
    switch opt {
    case .reuseaddr(let on): s.reuse = on
    case .reuseport(let on): s.reuseport = on
    case .bindAddressNoPort(let on): s.noPort = on
    case .v6only(let on):
      guard s.isV6 else { return .fail(.ENOPROTOOPT, "IPV6_V6ONLY exists only on IPv6 sockets") }
      guard s.lport == 0 else { return .fail(.EINVAL, "IPV6_V6ONLY cannot change once the socket is bound") }
      s.v6only = on
    case .nonblock(let on): s.nonblock = on
    case .freebind(let on): s.freebind = on
    case .linger(let secs): s.linger = secs
    case .localPortRange(let lo, let hi):
      guard lo <= 65535 && hi <= 65535 && lo >= 0 && hi >= 0 else { return .fail(.EINVAL) }
      if lo != 0 && hi != 0 && lo > hi { return .fail(.EINVAL, "IP_LOCAL_PORT_RANGE needs lo <= hi (got \(lo) > \(hi))") }
      s.portRange = (lo, hi)
    case .bindToDevice(let dev):
      if dev.isEmpty {
        s.device = nil
      } else {
        guard dev == "lo" else { return .fail(.ENODEV, "this namespace has only the device 'lo'") }
        s.device = dev
      }
    }
    return .ok
  }

  // MARK: bind

  /// Checks the address family the way inet_bind / inet6_bind do.
  func familyCheck(_ s: SimSock, _ addr: IPAddress, connect: Bool) -> CallResult? {
    if s.isV6 && addr.isV4 {
      return .fail(.EINVAL, "an IPv6 socket needs an IPv6 address (a sockaddr_in is too short for it); write [::ffff:\(addr)] for IPv4 through an IPv6 socket")
    }
    if !s.isV6 && !addr.isV4 {
      return .fail(.EAFNOSUPPORT, "an IPv4 socket cannot use an IPv6 address; create it with 'tcp6' or 'udp6'")
    }
    return nil
  }

  public func bind(_ id: SockID, _ ep: Endpoint) -> CallResult {
    guard let s = sock(id) else { return badf() }
    if let e = familyCheck(s, ep.addr, connect: false) { return e }
    if s.isV6 && ep.addr.isV4Mapped && s.v6only {
      return .fail(.EINVAL, "a v6only socket cannot bind a v4-mapped address")
    }
    let nonlocalOK = s.freebind || (nonlocalBind != 0 && ep.addr.effectiveV4 != nil)
    if !ep.addr.isAny && !(ep.addr.isV4Mapped && ep.addr.effectiveV4 == 0) && !isLocal(ep.addr) && !nonlocalOK && !ep.addr.isMulticastOrBroadcast {
      return .fail(.EADDRNOTAVAIL, "\(ep.addr) is not an address of this host; add it with 'addr add \(ep.addr)', or set freebind (or net.ipv4.ip_nonlocal_bind) to bind it anyway")
    }
    let port = Int(ep.port)
    if port != 0 && port < unprivilegedPortStart && s.uid != 0 && rule("privileged-ports") {
      return .fail(.EACCES, "port \(port) is below net.ipv4.ip_unprivileged_port_start (\(unprivilegedPortStart)) and uid \(s.uid) lacks CAP_NET_BIND_SERVICE")
    }
    if s.state != .CLOSED || s.lport != 0 || (!s.isTCP && s.boundPort != nil) {
      return .fail(.EINVAL, "the socket is already bound (to \(s.local.map { "\($0)" } ?? "an address")); a socket binds once")
    }
    s.laddr = ep.addr
    if port != 0 || !s.noPort {
      if let f = getPort(s, port) {
        let r = failure(f, for: s, call: "bind()")
        s.laddr = s.isV6 ? .any6 : .any4
        return r
      }
    }
    if !ep.addr.isAny { s.addrLock = true }
    if port != 0 { s.portLock = true }
    if !s.isTCP { s.state = .CLOSED }
    var r = CallResult.ok
    r.local = Endpoint(s.laddr, UInt16(s.lport))
    return r
  }

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

  // MARK: listen

  public func listen(_ id: SockID, backlog: Int?) -> CallResult {
    guard let s = sock(id) else { return badf() }
    guard s.isTCP else { return .fail(.EOPNOTSUPP, "UDP sockets do not listen") }
    var bl = backlog ?? somaxconn
    if bl < 0 || bl > somaxconn { bl = somaxconn }
    if s.state == .LISTEN {
      s.backlog = bl
      return .ok
    }
    guard s.state == .CLOSED, !s.connecting, s.raddr == nil else {
      return .fail(.EINVAL, "listen() needs an unconnected socket; this one is \(stateOf(s))")
    }
    s.state = .LISTEN
    if s.lport == 0 {
      if let f = getPort(s, 0) {
        s.state = .CLOSED
        return failure(f, for: s, call: "listen()'s automatic bind")
      }
    } else if rule("listen-recheck") {
      let blockers = conflicts(s, port: s.lport, relax: true, reuseportOK: true)
      if !blockers.isEmpty {
        s.state = .CLOSED
        return .fail(.EADDRINUSE, bindWhy(s, blockers, port: s.lport))
      }
      if let tb = tcp.bucket(s.lport) {
        updateFastreuse(s, tb)
        if let tb2 = tb.tb2[s.laddr.asV6] {
          tb2.fastreuse = tb.fastreuse
          tb2.fastreuseport = tb.fastreuseport
        }
      }
    }
    s.backlog = bl
    listenSeq += 1
    s.listenOrder = listenSeq
    listeners.append(s)
    var r = CallResult.ok
    r.local = s.local
    return r
  }

  // MARK: connect

  public func connect(_ id: SockID, _ ep: Endpoint) -> CallResult {
    guard let s = sock(id) else { return badf() }
    if s.isTCP && s.ssConnected {
      // sock->state stays SS_CONNECTED after the connection ends (a reset,
      // TIME_WAIT): __inet_stream_connect answers EISCONN whatever sk_state is.
      return .fail(.EISCONN, "the socket was connected\(s.state == .ESTABLISHED ? "" : " (its connection has ended since)"); a socket connects once")
    }
    if let e = familyCheck(s, ep.addr, connect: true) { return e }
    if !s.isTCP { return udpConnect(s, ep) }
    let r = tcpConnect(s, ep)
    if r.errno == nil { s.ssConnected = true }
    return r
  }

  func tcpConnect(_ s: SimSock, _ ep: Endpoint) -> CallResult {
    switch s.state {
    case .ESTABLISHED, .CLOSE_WAIT, .FIN_WAIT1, .FIN_WAIT2, .CLOSING, .LAST_ACK, .TIME_WAIT:
      if s.connecting {
        s.connecting = false
        return CallResult(local: s.local, remote: s.remote)
      }
      return .fail(.EISCONN, "the socket is already connected to \(s.remote.map { "\($0)" } ?? "a peer")")
    case .SYN_SENT, .SYN_RECV:
      if !s.nonblock { advance(to: nowMs + config.timeoutMs) }
      return .fail(.EALREADY, "a connect() is still in progress (SYN_SENT)")
    case .LISTEN:
      return .fail(.EISCONN, "a listening socket cannot connect")
    case .CLOSED, .BOUND:
      if s.connecting {
        // SS_CONNECTING on a socket the reset closed: report it once.
        s.connecting = false
        let e = s.pendingError ?? .ECONNABORTED
        s.pendingError = nil
        return .fail(e, e == .ECONNREFUSED ? "the earlier non-blocking connect() was refused: nothing listens there" : nil)
      }
    }
    if let err = s.pendingError {
      s.pendingError = nil
      if s.raddr != nil { return .fail(err) }
    }
    // Routing: 0.0.0.0 means this host; multicast and broadcast are refused.
    var dst = ep
    if dst.addr.isAny || (dst.addr.isV4Mapped && dst.addr.effectiveV4 == 0) {
      dst.addr = dst.addr == .any6 ? .loopback6 : (s.isV6 ? IPAddress.loopback4.asV6 : .loopback4)
    }
    if s.isV6 && dst.addr.isV4Mapped && s.v6only {
      return .fail(.ENETUNREACH, "a v6only socket cannot reach an IPv4 (v4-mapped) address")
    }
    if dst.addr.isMulticastOrBroadcast {
      return .fail(.ENETUNREACH, "TCP cannot connect to a multicast or broadcast address")
    }
    guard var src = routeSource(dst.addr) else {
      return .fail(.ENETUNREACH, "there is no route to \(dst.addr): this namespace has only loopback\(addedAddrs.isEmpty ? "" : " and the added addresses")")
    }
    if s.isV6 && dst.addr.isV4Mapped { src = src.asV6 }
    let hadAddr = !s.laddr.isAny
    if hadAddr { src = s.laddr }
    let port: Int
    var recycled: SimSock?
    if s.lport != 0 {
      // Port already set: only the 4-tuple is checked (twp == NULL).
      switch checkEstablished(s, saddr: src, sport: s.lport, dst: dst, autobind: false) {
      case .free: break
      case .recycle(let tw): recycled = tw
      case .busy(let other):
        return .fail(
          .EADDRNOTAVAIL,
          "the 4-tuple \(Endpoint(src, UInt16(s.lport))) -> \(dst) is already used by \(describe(other))\(other.isTW ? ", and without TCP timestamps its TIME_WAIT cannot be taken over" : "")."
        )
      }
      port = s.lport
      if !hadAddr { tcp.rehash(s, to: src) }
    } else {
      var rng = random
      let pick = connectSearch(s, saddr: src, dst: dst, fast: true, rng: &rng)
      random = rng
      guard let p = pick else {
        return .fail(.EADDRNOTAVAIL, connectWhy(s, src: src, dst: dst))
      }
      port = p.port
      recycled = p.recycle
      s.laddr = src
      let tb = tcp.bucket(port) ?? tcp.createBucket(port, fastreuse: -1, fastreuseport: -1)
      tcp.add(s, tb, newTb2Fields: (-1, -1))
      s.connectBind = true
    }
    if let tw = recycled { killTW(tw) }
    s.laddr = src
    s.raddr = dst.addr
    s.rport = Int(dst.port)
    s.state = .SYN_SENT
    hashEstablished(s)
    return deliverSYN(s, dst)
  }

  func connectWhy(_ s: SimSock, src: IPAddress, dst: Endpoint) -> String {
    let (lo, hi, local) = localPortRange(s)
    var reserved = 0
    var marked: [String] = []
    var markedCount = 0
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
        if marked.count < 2, let o = tb.owners.first(where: { !$0.connectBind }) ?? tb.owners.first { marked.append(describe(o)) }
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
      parts.append("\(markedCount) were reserved by an explicit bind() (\(marked.joined(separator: ", "))\(markedCount > marked.count ? ", ..." : "")), so connect() skips them")
    }
    if reserved > 0 { parts.append("\(reserved) are in ip_local_reserved_ports") }
    var text = "connect() found no usable source port in \(lo)-\(hi)\(usable < n ? " (an odd-sized range loses one port)" : "")"
    text += parts.isEmpty ? "." : ": " + parts.joined(separator: "; ") + "."
    if let t = youngTW { text += " " + t }
    return text
  }

  func twWhy(_ tw: SimSock) -> String {
    if !tw.timestamps { return "TIME_WAIT entries without TCP timestamps are never reused." }
    if tw.state == .FIN_WAIT2 { return "An orphaned FIN_WAIT2 entry is not reused." }
    if twReuse == 0 { return "net.ipv4.tcp_tw_reuse is 0, so TIME_WAIT entries are not reused." }
    if twReuse == 2 && !(tw.laddr.isLoopback || (tw.raddr?.isLoopback ?? false)) { return "net.ipv4.tcp_tw_reuse is 2 (loopback only) and this entry is not loopback." }
    let age = nowMs - tw.twEntryMs
    var who = name(tw)
    who = who.prefix(1).uppercased() + who.dropFirst()
    let tuple = [tw.local, tw.remote].compactMap { $0.map { "\($0)" } }.joined(separator: " -> ")
    return "\(who) (\(tuple)) is \(formatMs(age)) old; tcp_tw_reuse_delay is \(twReuseDelayMs) ms."
  }

  func formatMs(_ ms: Int64) -> String {
    ms % 1000 == 0 ? "\(ms / 1000) s" : "\(Double(ms) / 1000) s"
  }

  func hashEstablished(_ s: SimSock) {
    guard let r = s.raddr else { return }
    let key = FourTuple(s.laddr, s.lport, r, s.rport)
    ehash[key] = s
    s.inEhash = key
  }

  func unhashEstablished(_ s: SimSock) {
    if let k = s.inEhash, ehash[k] === s { ehash[k] = nil }
    s.inEhash = nil
  }

  /// Finds the listener for a SYN: the exact address first, then the
  /// wildcard; within a SO_REUSEPORT group, by a hash of the 4-tuple.
  func lookupListener(_ dst: Endpoint, from src: Endpoint) -> SimSock? {
    let isV4 = dst.addr.effectiveV4 != nil
    func matches(_ l: SimSock, exact: Bool) -> Bool {
      guard l.state == .LISTEN, l.lport == Int(dst.port), l.hasFd else { return false }
      if isV4 {
        if l.isV6 {
          if exact { return l.laddr.effectiveV4 == dst.addr.effectiveV4 }
          return l.laddr == .any6 && !l.v6only
        }
        return exact ? l.laddr.effectiveV4 == dst.addr.effectiveV4 : l.laddr == .any4
      }
      guard l.isV6 else { return false }
      return exact ? l.laddr == dst.addr : l.laddr == .any6
    }
    if listeners.count > 64 && listeners.count > 2 * listeners.filter(\.isListening).count {
      listeners = listeners.filter(\.isListening)
    }
    for exact in [true, false] {
      let cands = listeners.filter { matches($0, exact: exact) }
      guard !cands.isEmpty else { continue }
      // Score: an IPv4 socket beats a dual-stack IPv6 one for IPv4 traffic.
      let score: (SimSock) -> Int = { l in (isV4 && !l.isV6 ? 1 : 0) + (l.device != nil ? 1 : 0) }
      let best = cands.map(score).max()!
      let top = cands.filter { score($0) == best }.sorted { $0.listenOrder < $1.listenOrder }
      let first = top[0]
      let group = top.filter { $0.reuseport && first.reuseport && $0.uid == first.uid && $0.laddr == first.laddr }
      if group.count > 1 {
        let h = SeededRandom.keyedHash(netSecret ^ 0xE4A5, src.addr.hashWords + dst.addr.hashWords + [UInt64(src.port), UInt64(dst.port)])
        let idx = Int((UInt64(UInt32(truncatingIfNeeded: h)) &* UInt64(group.count)) >> 32)
        return group[idx]
      }
      return first
    }
    return nil
  }

  func deliverSYN(_ s: SimSock, _ dst: Endpoint) -> CallResult {
    let src = Endpoint(s.laddr, UInt16(s.lport))
    guard let l = lookupListener(dst, from: src) else {
      tcpDone(s)
      s.raddr = nil  // never connected: getpeername() has nothing to say
      s.rport = 0
      if s.nonblock {
        // The reset arrives after connect() returned; the next connect() reports it.
        s.connecting = true
        s.pendingError = .ECONNREFUSED
        return CallResult(errno: .EINPROGRESS, why: "a non-blocking connect() returns at once; the reset from \(dst) is reported by the next connect()")
      }
      return .fail(.ECONNREFUSED, "nothing listens on \(dst): the SYN was answered with a reset")
    }
    if l.queue.count > l.backlog {
      // The accept queue is full: the SYN is dropped and connect() waits.
      if !s.nonblock { advance(to: nowMs + config.timeoutMs) }
      s.connecting = s.nonblock
      return CallResult(
        errno: .EINPROGRESS,
        why:
          "the accept queue of \(describe(l)) is full (\(l.queue.count) connections, backlog \(l.backlog)); the SYN was dropped\(s.nonblock ? "" : " and connect() gave up after \(formatMs(config.timeoutMs))")",
        local: s.local, remote: s.remote)
    }
    let c = newSock(l.kind, uid: l.uid)
    c.hasFd = false
    c.reuse = l.reuse
    c.reuseport = l.reuseport
    c.v6only = l.v6only
    c.device = l.device
    c.laddr = l.isV6 && dst.addr.isV4 ? dst.addr.asV6 : dst.addr
    c.raddr = l.isV6 && src.addr.isV4 ? src.addr.asV6 : src.addr
    c.rport = s.lport
    c.state = .ESTABLISHED
    c.parent = l
    let ts = tcpTimestamps != 0
    c.timestamps = ts
    s.timestamps = ts
    if let tb = tcp.bucket(l.lport) { tcp.add(c, tb) }
    hashEstablished(c)
    l.queue.append(c)
    c.peer = s
    s.peer = c
    s.state = .ESTABLISHED
    var r = CallResult(local: s.local, remote: s.remote)
    if s.nonblock {
      s.connecting = true
      r.errno = .EINPROGRESS
      r.why = "a non-blocking connect() returns at once; on loopback the handshake is already done, so the next connect() returns 0"
    }
    return r
  }

  /// tcp_done: the socket is CLOSED and leaves the hashes; an autobound port
  /// is released (SOCK_BINDPORT_LOCK keeps an explicit one).
  func tcpDone(_ s: SimSock) {
    s.state = .CLOSED
    s.connecting = false
    unhashEstablished(s)
    // SOCK_BINDPORT_LOCK keeps an explicit port while the descriptor lives.
    if !s.portLock || !s.hasFd {
      table(for: s).remove(s)
      s.lport = 0
      s.connectBind = false
      if !s.addrLock { s.laddr = s.isV6 ? .any6 : .any4 }
    }
    if !s.hasFd { dropLive(s) }
  }

  func udpConnect(_ s: SimSock, _ ep: Endpoint) -> CallResult {
    var dst = ep
    if dst.addr.isAny { dst.addr = dst.addr == .any6 ? .loopback6 : .loopback4 }
    guard var src = routeSource(dst.addr) else { return .fail(.ENETUNREACH, "there is no route to \(dst.addr)") }
    if s.isV6 && dst.addr.isV4Mapped { src = src.asV6 }
    if s.lport == 0 {
      if let f = udpGetPort(s, 0) { return failure(f, for: s, call: "connect()") }
    }
    if s.laddr.isAny { udp.rehash(s, to: src) }
    s.raddr = dst.addr
    s.rport = Int(dst.port)
    s.state = .ESTABLISHED
    return CallResult(local: s.local, remote: s.remote)
  }

  // MARK: accept

  public func accept(_ id: SockID) -> CallResult {
    guard let s = sock(id) else { return badf() }
    guard s.isTCP else { return .fail(.EOPNOTSUPP, "UDP sockets do not accept") }
    guard s.state == .LISTEN else { return .fail(.EINVAL, "accept() needs a listening socket") }
    guard !s.queue.isEmpty else {
      if !s.nonblock { advance(to: nowMs + config.timeoutMs) }
      return .fail(.EAGAIN, s.nonblock ? "no connection is waiting, and the socket is non-blocking" : "no connection arrived within \(formatMs(config.timeoutMs))")
    }
    guard descriptorAvailable() else {
      return .fail(.EMFILE, "the descriptor limit (ulimit nofile \(descriptorLimit!)) is reached")
    }
    let c = s.queue.removeFirst()
    c.parent = nil
    c.hasFd = true
    c.ssConnected = true
    var r = CallResult(local: c.local, remote: c.remote)
    r.created = c.id
    return r
  }

  // MARK: data

  public func send(_ id: SockID, _ data: [UInt8]) -> CallResult {
    guard let s = sock(id) else { return badf() }
    if !s.isTCP {
      guard let r = s.remote else { return .fail(.EDESTADDRREQ, "an unconnected UDP socket needs sendto") }
      return sendto(id, r, data)
    }
    if let e = s.pendingError {
      s.pendingError = nil
      return .fail(e, "the peer reset the connection")
    }
    guard s.state == .ESTABLISHED || s.state == .CLOSE_WAIT, !s.wrShut else {
      return .fail(.EPIPE, s.wrShut ? "the socket was shut down for writing" : "the socket is not connected")
    }
    guard let p = s.peer else { return .ok }
    if p.isTW || p.state == .CLOSED || ((!p.hasFd || p.rdShut) && (p.state == .FIN_WAIT1 || p.state == .FIN_WAIT2)) {
      // New data for a socket closed for reading after its FIN (RFC 1122:
      // tcp_rcv_state_process resets in FIN_WAIT1/2; a FIN_WAIT2 entry
      // answers TCP_TW_RST): the peer is gone, and this side is reset.
      if p.isTW {
        killTW(p)
      } else if p.state != .CLOSED {
        p.peer = nil
        tcpDone(p)
      }
      resetByPeer(s)
      return .ok
    }
    p.rx += data
    return .ok
  }

  /// tcp_reset: the error the next call reports is EPIPE in CLOSE_WAIT
  /// (the peer had already sent its FIN), ECONNRESET otherwise.
  func resetByPeer(_ s: SimSock) {
    s.pendingError = s.state == .CLOSE_WAIT ? .EPIPE : .ECONNRESET
    s.rdShut = true  // tcp_done: sk_shutdown = SHUTDOWN_MASK
    if let p = s.peer, p.peer === s { p.peer = nil }
    s.peer = nil
    tcpDone(s)
  }

  /// tcp_recvmsg's order: queued data first, then end of stream once the
  /// peer's FIN came (SOCK_DONE), then a pending error (a reset), then a
  /// shutdown or closed socket.
  public func recv(_ id: SockID, max: Int?) -> CallResult {
    guard let s = sock(id) else { return badf() }
    if !s.isTCP { return recvfrom(id) }
    if s.state == .LISTEN { return .fail(.ENOTCONN, "the socket is not connected") }
    if !s.rx.isEmpty {
      let n = Swift.min(max ?? s.rx.count, s.rx.count)
      var r = CallResult.ok
      r.data = Array(s.rx.prefix(n))
      s.rx.removeFirst(n)
      return r
    }
    let eof: CallResult = {
      var r = CallResult.ok
      r.data = []
      return r
    }()
    if s.rxEOF { return eof }
    if let e = s.pendingError {
      s.pendingError = nil
      return .fail(e, "the peer reset the connection")
    }
    if s.rdShut { return eof }
    if (s.state == .CLOSED && s.raddr == nil) || s.state == .SYN_SENT && s.peer == nil {
      return .fail(.ENOTCONN, "the socket is not connected")
    }
    if s.state == .CLOSED { return eof }
    if !s.nonblock { advance(to: nowMs + config.timeoutMs) }
    return .fail(.EAGAIN, s.nonblock ? "no data is waiting, and the socket is non-blocking" : "no data arrived within \(formatMs(config.timeoutMs))")
  }

  public func sendto(_ id: SockID, _ ep: Endpoint, _ data: [UInt8]) -> CallResult {
    guard let s = sock(id) else { return badf() }
    if s.isTCP {
      if s.state == .ESTABLISHED || s.state == .CLOSE_WAIT { return send(id, data) }
      return .fail(.EPIPE, "the TCP socket is not connected")
    }
    if let e = familyCheck(s, ep.addr, connect: true) { return e }
    var dst = ep
    if dst.addr.isAny { dst.addr = dst.addr == .any6 ? .loopback6 : .loopback4 }
    guard let src0 = routeSource(dst.addr) else { return .fail(.ENETUNREACH, "there is no route to \(dst.addr)") }
    if s.lport == 0 {
      if let f = udpGetPort(s, 0) { return failure(f, for: s, call: "connect()") }
    }
    let src = Endpoint(s.laddr.isAny ? (s.isV6 && dst.addr.isV4Mapped ? src0.asV6 : src0) : s.laddr, UInt16(s.lport))
    if let r = udpReceiver(dst, from: src) {
      r.datagrams.append((src, data))
    } else if s.raddr != nil && s.remote == dst {
      s.pendingError = .ECONNREFUSED
    }
    var res = CallResult.ok
    res.local = s.local
    res.remote = dst
    return res
  }

  /// The socket a datagram to `dst` reaches: the exact address before the
  /// wildcard; among equals the most recently bound; within a SO_REUSEPORT
  /// group (none of it connected), the member a hash of the 4-tuple picks.
  func udpReceiver(_ dst: Endpoint, from src: Endpoint) -> SimSock? {
    guard let tb = udp.bucket(Int(dst.port)) else { return nil }
    let isV4 = dst.addr.effectiveV4 != nil
    var best: (SimSock, Int)?
    for o in tb.owners.sorted(by: { $0.bindSeq > $1.bindSeq }) where o.hasFd {
      var score = -1
      if isV4 {
        if o.laddr.effectiveV4 == dst.addr.effectiveV4 {
          score = rule("udp-exact-address-first") ? 2 : 1
        } else if o.laddr == .any4 || (o.isV6 && o.laddr == .any6 && !o.v6only) {
          score = 1
        }
      } else if o.isV6 {
        if o.laddr == dst.addr { score = 2 } else if o.laddr == .any6 { score = 1 }
      }
      if let r = o.remote, r != src { score = -1 }
      if score >= 0 && (best == nil || score > best!.1) { best = (o, score) }
    }
    guard let (first, _) = best else { return nil }
    // reuseport_select_sock by udp_ehashfn; a group with a connected member
    // (reuseport_has_conns) is scored like any other sockets.
    if rule("udp-reuseport-spread"), let g = first.udpGroup, let members = udpGroups[g],
      members.count > 1, !members.contains(where: { $0.state == .ESTABLISHED })
    {
      let h = SeededRandom.keyedHash(netSecret ^ 0x0D9E, dst.addr.hashWords + src.addr.hashWords + [UInt64(src.port), UInt64(dst.port)])
      return members[Int((UInt64(UInt32(truncatingIfNeeded: h)) &* UInt64(members.count)) >> 32)]
    }
    return first
  }

  public func recvfrom(_ id: SockID) -> CallResult {
    guard let s = sock(id) else { return badf() }
    if s.isTCP {
      var r = recv(id, max: nil)
      r.from = s.remote
      return r
    }
    if let e = s.pendingError {
      s.pendingError = nil
      return .fail(e, "an earlier datagram was refused: nothing listens on \(s.remote.map { "\($0)" } ?? "the destination")")
    }
    guard !s.datagrams.isEmpty else {
      if !s.nonblock { advance(to: nowMs + config.timeoutMs) }
      return .fail(.EAGAIN, s.nonblock ? "no datagram is waiting" : "no datagram arrived within \(formatMs(config.timeoutMs))")
    }
    let d = s.datagrams.removeFirst()
    var r = CallResult.ok
    r.data = d.data
    r.from = d.from
    return r
  }

  // MARK: shutdown and close

  public func shutdown(_ id: SockID, _ how: ShutdownHow) -> CallResult {
    guard let s = sock(id) else { return badf() }
    if !s.isTCP {
      guard s.state == .ESTABLISHED else { return .fail(.ENOTCONN, "the socket is not connected") }
      if how != .wr { s.rdShut = true }
      return .ok
    }
    switch s.state {
    case .CLOSED:
      return .fail(.ENOTCONN, "the socket is not connected")
    case .LISTEN:
      if how == .wr { return .ok }
      closeListener(s)
      return .ok
    default: break
    }
    if how != .wr { s.rdShut = true }
    if how != .rd && !s.wrShut {
      s.wrShut = true
      sendFIN(from: s)
    }
    return .ok
  }

  /// The active or passive half of a close: FIN to the peer.
  func sendFIN(from s: SimSock) {
    let p = s.peer
    switch s.state {
    case .ESTABLISHED:
      // FIN_WAIT1 until the peer's delayed ACK (40 ms: the peer is in
      // pingpong mode after a FIN) or the peer's own FIN.
      s.state = .FIN_WAIT1
      s.finAckDueMs = nowMs + SimKernel.delayedAckMs
      if let p = p { receiveFIN(p) }
    case .CLOSE_WAIT:
      s.state = .LAST_ACK
      if let p = p { receiveFIN(p) }
      // The peer ACKs at once: LAST_ACK -> CLOSED.
      if s.state == .LAST_ACK { tcpDone(s) }
    default:
      break
    }
  }

  func receiveFIN(_ p: SimSock) {
    p.rxEOF = true
    if p.isTW {
      if p.state == .FIN_WAIT2 {
        p.state = .TIME_WAIT
        p.twExpireMs = nowMs + 60_000
      }
      return
    }
    switch p.state {
    case .ESTABLISHED:
      p.state = .CLOSE_WAIT
    case .FIN_WAIT1, .FIN_WAIT2:
      p.finAckDueMs = nil
      // A FIN in FIN_WAIT2 ends in TIME_WAIT; the socket itself is done.
      enterTimeWait(p, substate: .TIME_WAIT, timeoutMs: 60_000)
    default:
      break
    }
  }

  /// tcp_time_wait: hands the socket's place in the tables to a minisocket.
  func enterTimeWait(_ s: SimSock, substate: SockState, timeoutMs: Int64) {
    if twCount >= maxTwBuckets && rule("tw-overflow") {
      // TCPTimeWaitOverflow: no TIME_WAIT; the port is free at once.
      s.peer = nil
      tcpDone(s)
      return
    }
    let tw = newSock(s.kind, uid: s.uid)
    twCount += 1
    socks[tw.id] = nil
    tw.hasFd = false
    tw.isTW = true
    tw.state = substate
    tw.reuse = s.reuse
    tw.reuseport = s.reuseport
    tw.v6only = s.v6only
    tw.device = s.device
    tw.connectBind = s.connectBind
    tw.laddr = s.laddr
    tw.raddr = s.raddr
    tw.rport = s.rport
    tw.timestamps = s.timestamps
    tw.twEntryMs = nowMs
    tw.twExpireMs = nowMs + timeoutMs
    tw.origin = s.origin ?? s.id
    tw.peer = s.peer
    if let p = s.peer, p.peer === s { p.peer = tw }
    s.successor = tw
    tcp.replace(s, with: tw)
    unhashEstablished(s)
    hashEstablished(tw)
    s.state = .CLOSED
    s.peer = nil
    if s.hasFd {
      // The descriptor stays, on a CLOSED socket; an explicit port stays bound.
      if s.portLock, let tb = tcp.bucket(tw.lport) { tcp.add(s, tb) } else { s.lport = 0 }
    } else {
      dropLive(s)
    }
  }

  func closeListener(_ s: SimSock) {
    for c in s.queue {
      // Unaccepted connections are reset.
      if let p = c.peer { resetByPeer(p) }
      c.peer = nil
      c.parent = nil
      unhashEstablished(c)
      tcp.remove(c)
      c.state = .CLOSED
      dropLive(c)
    }
    s.queue = []
    tcpDone(s)
  }

  public func close(_ id: SockID) -> CallResult {
    guard let s = sock(id) else { return badf() }
    s.hasFd = false
    if !s.isTCP {
      udpUnhash(s)
      s.state = .CLOSED
      dropLive(s)
      return .ok
    }
    let abort = s.linger == 0 || !s.rx.isEmpty
    if abort && (s.state == .ESTABLISHED || s.state == .CLOSE_WAIT) {
      // SO_LINGER {on, 0}, or unread data: a reset instead of a FIN, no TIME_WAIT.
      if let p = s.peer { resetByPeer(p) }
      s.peer = nil
      tcpDone(s)
      return .ok
    }
    switch s.state {
    case .LISTEN:
      closeListener(s)
    case .ESTABLISHED:
      s.wrShut = true
      sendFIN(from: s)  // an orphan in FIN_WAIT1 until the ACK comes
    case .CLOSE_WAIT:
      s.wrShut = true
      sendFIN(from: s)
    case .FIN_WAIT1:
      break  // already orphaned by the pending ACK
    case .FIN_WAIT2:
      orphanFinWait2(s)
    default:
      tcpDone(s)
    }
    return .ok
  }

  /// The peer's delayed ACK of our FIN arrives: FIN_WAIT1 -> FIN_WAIT2.
  func finAcked(_ s: SimSock) {
    s.finAckDueMs = nil
    guard s.state == .FIN_WAIT1 else { return }
    s.state = .FIN_WAIT2
    if !s.hasFd { orphanFinWait2(s) }
  }

  /// An orphaned FIN_WAIT2 socket becomes a minisocket that lives for tcp_fin_timeout.
  func orphanFinWait2(_ s: SimSock) {
    if s.state == .CLOSED { return }
    enterTimeWait(s, substate: .FIN_WAIT2, timeoutMs: Int64(finTimeoutS) * 1000)
  }
}

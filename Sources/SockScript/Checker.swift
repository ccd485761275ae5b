import SockKernel
import SockSyntax

/// Static checks run before anything executes (`sockscript check` runs only
/// these): names of sockets, options, sysctls, errnos and states; literal
/// ports and addresses. Every problem is reported, not just the first.
public struct Checker {
  public static let stateNames = SockState.allCases.map(\.rawValue)
  public static let resultWords = ["ok", "any"]

  let file: SourceFile
  var diags: [Diagnostic] = []
  /// Socket names created anywhere in the file, with whether they are indexed.
  var everDeclared: [String: Bool] = [:]
  var declared: [String: Bool] = [:]
  var vars: Set<String> = []

  public static func check(_ program: Program, in file: SourceFile) -> [Diagnostic] {
    var c = Checker(file: file)
    c.collect(program.statements)
    c.block(program.statements)
    return Diagnostic.sortedByPosition(c.diags)
  }

  mutating func collect(_ stmts: [Stmt]) {
    for s in stmts {
      switch s.kind {
      case .socket(let r, _, _): everDeclared[r.name] = r.index != nil
      case .accept(_, let r): everDeclared[r.name] = r.index != nil
      case .repeatLoop(_, _, let body): collect(body)
      case .ifElse(let branches, let elseBody):
        branches.forEach { collect($0.body) }
        collect(elseBody ?? [])
      default: break
      }
    }
  }

  mutating func error(_ msg: String, _ span: Span, hint: String? = nil) {
    diags.append(Diagnostic(msg, at: span, hint: hint))
  }

  mutating func block(_ stmts: [Stmt]) {
    for s in stmts { statement(s) }
  }

  /// A body's own variables end with it: a `let` of a name defined outside
  /// assigns that variable, a new name lives until the closing '}'.
  mutating func scoped(_ stmts: [Stmt], with loopVar: String? = nil) {
    let outer = vars
    if let v = loopVar { vars.insert(v) }
    block(stmts)
    vars = outer
  }

  mutating func declare(_ r: SockRef) {
    if let idx = r.index { expr(idx) }
    if let prev = declared[r.name], prev != (r.index != nil) {
      error(prev ? "'\(r.name)' names a family of indexed sockets; it cannot also name a single socket" : "'\(r.name)' names a single socket; it cannot also be indexed", r.span)
      return
    }
    declared[r.name] = r.index != nil
  }

  mutating func use(_ r: SockRef) {
    if let idx = r.index { expr(idx) }
    guard let indexed = declared[r.name] else {
      if everDeclared[r.name] != nil {
        error("socket '\(r.name)' is used before it is created", r.nameSpan, hint: "create it first with 'socket \(r.name)\(everDeclared[r.name]! ? "[...]" : "")'")
      } else {
        error("unknown socket '\(r.name)'", r.nameSpan, hint: Suggest.hint(for: r.name, in: Array(declared.keys).sorted()) ?? "create it with 'socket \(r.name)'")
      }
      return
    }
    if indexed && r.index == nil {
      error("'\(r.name)' is a family of sockets; say which one", r.span, hint: "e.g. \(r.name)[0] or \(r.name)[i]")
    } else if !indexed && r.index != nil {
      error("socket '\(r.name)' has no index", r.span, hint: "it was created as 'socket \(r.name)'")
    }
  }

  mutating func statement(_ s: Stmt) {
    if let res = s.result {
      for (name, span) in res.names where !Checker.resultWords.contains(name) && Errno(name: name) == nil {
        error(
          "unknown result '\(name)'", span, hint: Suggest.hint(for: name, in: Checker.resultWords + Errno.allNames) ?? "a result is 'ok', 'any' or an errno name such as EADDRINUSE"
        )
      }
    }
    switch s.kind {
    case .socket(let r, let proto, let uid):
      if let p = proto, SocketKind(name: p.text) == nil {
        error("unknown protocol '\(p.text)'", p.span, hint: Suggest.hint(for: p.text, in: Keywords.protocols) ?? "use tcp, udp, tcp6 or udp6")
      }
      if let u = uid {
        expr(u)
        if case .int(let v) = u.kind, v > Int(UInt32.max) { error("uid \(v) is out of range", u.span) }
      }
      declare(r)
    case .setopt(let r, let opt, let args):
      use(r)
      setopt(opt, args, stmtSpan: s.span)
    case .bind(let r, let ep), .connect(let r, let ep):
      use(r)
      endpoint(ep)
    case .listen(let r, let backlog):
      use(r)
      if let b = backlog { expr(b) }
    case .accept(let l, let n):
      use(l)
      declare(n)
    case .send(let r, let e):
      use(r)
      expr(e)
    case .recv(let r, let e):
      use(r)
      if let e = e { expr(e) }
    case .sendto(let r, let ep, let e):
      use(r)
      endpoint(ep)
      expr(e)
    case .recvfrom(let r), .close(let r):
      use(r)
    case .shutdown(let r, let how):
      use(r)
      if ShutdownHow(rawValue: how.text) == nil {
        error("unknown shutdown mode '\(how.text)'", how.span, hint: Suggest.hint(for: how.text, in: Keywords.shutdownModes) ?? "use rd, wr or rdwr")
      }
    case .sleep(let e):
      expr(e)
      if case .int = e.kind { error("sleep needs a duration", e.span, hint: "add a unit, e.g. '65s' or '250ms'") }
    case .sysctl(let key, let value, _):
      if !Sysctl.keys.contains(key.text) {
        error("unknown sysctl '\(key.text)'", key.span, hint: Suggest.hint(for: key.text, in: Sysctl.keys) ?? "known keys: \(Sysctl.keys.joined(separator: ", "))")
      }
      template(value)
    case .addrAdd(let value, let span):
      template(value)
      if value.count == 1, case .text(let t) = value[0], AddressSpec.parse(t) == nil {
        error("malformed address '\(t)'", span, hint: "write e.g. 'addr add 127.0.0.2', 'addr add 10.1.0.1/24' or 'addr add [fd00::1]/64'")
      }
    case .ulimit(let res, let e):
      if res.text != "nofile" { error("unknown limit '\(res.text)'", res.span, hint: "the only limit is 'nofile'") }
      expr(e)
    case .letVar(let name, let e):
      expr(e)
      if Keywords.literals.contains(name.text) {
        error("'\(name.text)' is a literal, not a variable name", name.span, hint: "choose another name")
      }
      vars.insert(name.text)
    case .expect(let e):
      expr(e)
    case .repeatLoop(let count, let v, let body):
      expr(count)
      scoped(body, with: v?.text ?? "i")
    case .ifElse(let branches, let elseBody):
      for b in branches {
        expr(b.condition)
        scoped(b.body)
      }
      scoped(elseBody ?? [])
    case .print(let items):
      items.forEach { expr($0) }
    case .show:
      break
    }
  }

  mutating func setopt(_ opt: Word, _ args: [Expr], stmtSpan: Span) {
    let name = opt.text
    guard let spec = SocketOption.spec(named: name) else {
      error("unknown option '\(name)'", opt.span, hint: Suggest.hint(for: name, in: SocketOption.allNames) ?? "options: \(SocketOption.allNames.joined(separator: ", "))")
      return
    }
    func isOnOff(_ e: Expr) -> Bool {
      if case .name(let n) = e.kind { return ["on", "off"].contains(n) || vars.contains(n) }
      if case .int(let v) = e.kind { return v == 0 || v == 1 }
      if case .bool = e.kind { return true }
      return false
    }
    let after = Span(opt.span.end, opt.span.end + 1)
    switch spec.shape {
    case .secondsOrOff:
      guard args.count == 1 else {
        error("'\(name)' takes one value: seconds, or 'off'", args.count > 1 ? args[1].span : after, hint: "e.g. '\(spec.example)'")
        return
      }
      if case .name(let n) = args[0].kind, n == "off" { return }
      expr(args[0])
    case .portPair:
      guard args.count == 2 else {
        error("'\(name)' takes two ports: LO HI", args.count > 2 ? args[2].span : after, hint: "e.g. '\(spec.example)' ('0 0' clears it)")
        return
      }
      for a in args {
        expr(a)
        if case .int(let v) = a.kind, !(0...65535).contains(v) { error("port \(v) is out of range 0..65535", a.span) }
      }
    case .device:
      guard args.count == 1 else {
        error("'\(name)' takes one device name", args.count > 1 ? args[1].span : after, hint: "e.g. '\(spec.example)'")
        return
      }
    case .flag:
      if args.count > 1 { error("'\(name)' takes at most one value", args[1].span) }
      if let a = args.first, !isOnOff(a) {
        error("'\(name)' is on or off", a.span, hint: "write 'on', 'off', 1 or 0 (or nothing, meaning on)")
      }
    }
  }

  mutating func template(_ parts: [TemplatePart]) {
    for p in parts { if case .expr(let e) = p { expr(e) } }
  }

  mutating func endpoint(_ ep: EndpointSyntax) {
    switch ep.host {
    case .ipv4(let s):
      if IPAddress(s) == nil { error("malformed IPv4 address '\(s)'", ep.hostSpan, hint: "each part is 0..255, e.g. 127.0.0.1") }
    case .ipv6(let s):
      if IPAddress(s) == nil || IPAddress(s)!.isV4 { error("malformed IPv6 address '\(s)'", ep.hostSpan, hint: "e.g. [::1]:80 or [::ffff:127.0.0.1]:80") }
    case .expr(let e): expr(e)
    }
    switch ep.port {
    case .number(let p):
      if !(0...65535).contains(p) { error("port \(p) is out of range 0..65535", ep.portSpan) }
    case .expr(let e): expr(e)
    case .inHost: break
    }
  }

  /// The bare name `kernel` (not a variable of that name).
  func isKernel(_ e: Expr) -> Bool {
    if case .name("kernel") = e.kind { return !vars.contains("kernel") }
    return false
  }

  mutating func expr(_ e: Expr) {
    switch e.kind {
    case .int, .bool, .string, .duration: break
    case .ipv4(let s):
      if IPAddress(s) == nil { error("malformed IPv4 address '\(s)'", e.span) }
    case .ipv6(let s):
      if IPAddress(s) == nil || IPAddress(s)!.isV4 { error("malformed IPv6 address '\(s)'", e.span) }
    case .endpoint(let ep): endpoint(ep)
    case .version(let s):
      error(
        "a version such as \(s) is only compared with 'kernel'", e.span,
        hint: "e.g. 'if kernel >= \(s) { ... }'; a duration needs its unit, e.g. '\(s)s'")
    case .name(let n):
      if vars.contains(n) || Checker.stateNames.contains(n) || Errno(name: n) != nil || n == "ok" || n == "kernel" { return }
      let candidates = Array(vars).sorted() + Checker.stateNames + Errno.allNames + ["ok", "kernel"]
      let isUpper = n == n.uppercased()
      error(
        isUpper ? "unknown state or errno '\(n)'" : "unknown variable '\(n)'", e.span,
        hint: Suggest.hint(for: n, in: candidates) ?? (isUpper ? nil : "define it with 'let \(n) = ...'"))
    case .property(let r, let p, let span):
      use(r)
      if !Keywords.properties.contains(p) {
        error("unknown property '\(p)'", span, hint: Suggest.hint(for: p, in: Keywords.properties) ?? "properties: \(Keywords.properties.joined(separator: ", "))")
      }
    case .call(let f, let args):
      guard f == "count" else {
        error("unknown function '\(f)'", e.span)
        return
      }
      guard args.count == 1 else {
        error("count() takes one state, e.g. count(TIME_WAIT)", e.span)
        return
      }
      if case .name(let n) = args[0].kind, Checker.stateNames.contains(n) { return }
      if case .name(let n) = args[0].kind {
        error("unknown state '\(n)'", args[0].span, hint: Suggest.hint(for: n, in: Checker.stateNames))
      } else {
        error("count() takes a state name", args[0].span, hint: "e.g. count(TIME_WAIT)")
      }
    case .binary(let op, let a, let b):
      // `kernel OP 6.18`, either way round: the one place a version goes.
      if [.eq, .ne, .lt, .le, .gt, .ge].contains(op) {
        if case .version(let s) = b.kind, isKernel(a) {
          if KernelVersion(s) == nil { error("malformed version '\(s)'", b.span) }
          return
        }
        if case .version(let s) = a.kind, isKernel(b) {
          if KernelVersion(s) == nil { error("malformed version '\(s)'", a.span) }
          return
        }
      }
      expr(a)
      expr(b)
    case .unary(_, let a): expr(a)
    case .inRange(let a, let lo, let hi):
      expr(a)
      expr(lo)
      expr(hi)
    }
  }
}

/// `ADDRESS[/PREFIX]` as `addr add` takes it; IPv6 with or without brackets.
public enum AddressSpec {
  public static func parse(_ text: String) -> (IPAddress, Int)? {
    var t = text.trimmed
    var prefix: Int?
    if let slash = t.lastIndex(of: "/") {
      guard let p = Int(t[t.index(after: slash)...]) else { return nil }
      prefix = p
      t = String(t[..<slash])
    }
    if t.hasPrefix("[") && t.hasSuffix("]") { t = String(t.dropFirst().dropLast()) }
    guard let a = IPAddress(t) else { return nil }
    let maxLen = a.isV4 ? 32 : 128
    let p = prefix ?? maxLen
    guard (0...maxLen).contains(p) else { return nil }
    return (a, p)
  }
}

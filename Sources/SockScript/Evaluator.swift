/// The interpreter's values: socket names, expressions, endpoints, option
/// arguments, properties read from the backend, and the `show` table.
import SockKernel
import SockSyntax

extension Interpreter {
  /// `show`'s rows, alike on both backends: the named sockets in the order
  /// the scenario created them (`socket`, `accept ... as`), then what no
  /// name holds (unaccepted connections) in the kernel's order.
  public func showRows() -> [ShowRow] {
    let rows = backend.table().enumerated().sorted { a, b in
      let x = a.element.id.flatMap { names[$0]?.born } ?? Int.max
      let y = b.element.id.flatMap { names[$0]?.born } ?? Int.max
      return (x, a.offset) < (y, b.offset)
    }.map(\.element)
    return rows.map { row in
      var label = "-"
      if let id = row.id, let n = name(of: id) {
        label = row.hasDescriptor ? n : "\(n) (closed)"
      } else if !row.hasDescriptor && row.state != .TIME_WAIT && row.state != .FIN_WAIT2 {
        label = "(unaccepted)"
      }
      let timer = row.timeLeftMs.map { "\(Value.formatDuration(($0 + 99) / 100 * 100)) left" }
      return ShowRow(
        name: label, proto: row.kind.description, state: row.state.rawValue, local: endpointCell(row.local),
        remote: endpointCell(row.remote), options: row.optionLabels, timer: timer, group: row.group.map { "g\($0)" })
    }
  }

  func endpointCell(_ e: Endpoint?) -> String {
    guard let e = e, !(e.port == 0 && e.addr.isAny) else { return "*" }
    return e.description
  }

  /// For a failed expect: the values that made it false.
  func explainFalse(_ e: Expr) throws -> String {
    try FalseExplanation.pieces(e, source: file.text, isVariable: { self.vars[$0] != nil }).map { p in
      switch p {
      case .text(let t): return t
      case .value(let x): return try eval(x).text
      }
    }.joined()
  }

  // MARK: names and values

  /// Points a name at the socket its `socket` or `accept ... as` created,
  /// or, when that failed, at a socket that never opened (`failedBy`).
  func bind(_ slot: Slot, to id: SockID?, failedBy call: String) {
    slot.data = nil
    slot.from = nil
    if let old = slot.id, old != Slot.neverOpened, old != id { retire(old) }
    guard let id = id else {
      slot.id = Slot.neverOpened
      slot.failedBy = call
      return
    }
    slot.failedBy = nil
    slot.id = id
    names[id] = (slot.name, namesGiven)
    namesGiven += 1
  }

  /// No name points to socket `id` any more: its name goes with it once the
  /// backend has forgotten it (a closed socket's TIME_WAIT entry keeps the
  /// name `show` gives it). So memory follows the sockets the namespace
  /// holds, not the sockets a long loop ever made.
  /// The ones it still holds are asked again after as many more retirements
  /// as are waiting (at least 64): a sweep costs no more than the calls
  /// before it.
  func retire(_ id: SockID) {
    if backend.release(id) {
      names[id] = nil
    } else {
      retired.append(id)
    }
    retiresSinceSweep += 1
    guard retiresSinceSweep >= max(64, retired.count) else { return }
    retiresSinceSweep = 0
    retired.removeAll { id in
      guard backend.release(id) else { return false }
      names[id] = nil
      return true
    }
  }

  /// The slot a socket reference names; unindexed names are cached per statement.
  func resolve(_ r: SockRef, creating: Bool, second: Bool = false) throws -> Slot {
    guard let idx = r.index else {
      // A statement's own socket names are cached on it; names inside its
      // expressions (several per statement) are looked up.
      if let inf = currentInfo, let cached = second ? inf.slot2 : inf.slot, cached.name == r.name { return cached }
      let slot = sockets[r.name] ?? Slot(name: r.name)
      sockets[r.name] = slot
      if let inf = currentInfo {
        if second { inf.slot2 = slot } else { inf.slot = slot }
      }
      return slot
    }
    let i = try int(idx)
    let n = "\(r.name)[\(i)]"
    if let slot = sockets[n] { return slot }
    guard creating else {
      throw RuntimeError("socket \(n) does not exist", r.span, hint: "no 'socket \(r.name)[...]' created index \(i)")
    }
    let slot = Slot(name: n)
    sockets[n] = slot
    return slot
  }

  func target(_ r: SockRef) throws -> (Slot, SockID) {
    let slot = try resolve(r, creating: false)
    guard let id = slot.id else {
      throw RuntimeError("socket \(slot.name) does not exist yet", r.span, hint: "create it with 'socket \(r.name)' first")
    }
    return (slot, id)
  }

  func int(_ e: Expr) throws -> Int {
    let v = try eval(e)
    guard case .int(let i) = v else { throw RuntimeError("expected an integer, but this is \(v.aTypeName) (\(v.text))", e.span) }
    return i
  }

  func bytes(_ e: Expr) throws -> [UInt8] {
    let v = try eval(e)
    if case .string(let s) = v { return Array(s.utf8) }
    return Array(v.text.utf8)
  }

  func render(_ parts: [TemplatePart]) throws -> String {
    var out = ""
    for p in parts {
      switch p {
      case .text(let t): out += t
      case .expr(let e): out += try eval(e).text
      }
    }
    return out
  }

  /// Decodes setopt's arguments by the option's shape (SocketOption.table).
  func option(_ opt: Word, _ args: [Expr]) throws -> SocketOption {
    guard let spec = SocketOption.spec(named: opt.text) else { throw RuntimeError("unknown option '\(opt.text)'", opt.span) }
    func bareWord(_ e: Expr) -> String? {
      if case .name(let n) = e.kind, vars[n] == nil { return n }
      return nil
    }
    let arg: SocketOption.Argument
    switch spec.shape {
    case .flag:
      guard let a = args.first else {
        arg = .flag(true)
        break
      }
      if bareWord(a) == "on" {
        arg = .flag(true)
      } else if bareWord(a) == "off" {
        arg = .flag(false)
      } else {
        let v = try eval(a)
        switch v {
        case .int(0), .bool(false): arg = .flag(false)
        case .int(1), .bool(true): arg = .flag(true)
        default: throw RuntimeError("'\(opt.text)' is on or off, not \(v.text)", a.span)
        }
      }
    case .secondsOrOff:
      if bareWord(args[0]) == "off" {
        arg = .seconds(nil)
        break
      }
      let secs = try int(args[0])
      guard secs >= 0 else { throw RuntimeError("linger needs 0 or more seconds", args[0].span) }
      arg = .seconds(secs)
    case .portPair:
      let lo = try int(args[0])
      let hi = try int(args[1])
      for (v, a) in [(lo, args[0]), (hi, args[1])] where !(0...65535).contains(v) {
        throw RuntimeError("port \(v) is out of range 0..65535", a.span)
      }
      arg = .ports(lo, hi)
    case .device:
      arg = .device(try bareWord(args[0]) ?? eval(args[0]).text)
    }
    return SocketOption(name: spec.name, arg)!
  }

  func endpoint(_ ep: EndpointSyntax) throws -> Endpoint {
    if case .inHost = ep.port, case .expr(let e) = ep.host {
      let v = try eval(e)
      guard case .endpoint(let whole) = v else {
        throw RuntimeError("'\(v.text)' is not an endpoint", ep.hostSpan, hint: "add a port, e.g. $(a.laddr):80, or interpolate an endpoint such as $(a.remote)")
      }
      return whole
    }
    let addr: IPAddress
    switch ep.host {
    case .ipv4(let s), .ipv6(let s):
      addr = try literalAddress(s, ep.hostSpan)
    case .expr(let e):
      addr = try address(e)
    }
    let port: Int
    switch ep.port {
    case .number(let p): port = p
    case .expr(let e): port = try int(e)
    case .inHost: port = 0
    }
    guard (0...65535).contains(port) else {
      throw RuntimeError("port \(port) is out of range 0..65535", ep.portSpan)
    }
    return Endpoint(addr, UInt16(port))
  }

  func address(_ e: Expr) throws -> IPAddress {
    let v = try eval(e)
    switch v {
    case .address(let a): return a
    case .string(let s):
      var t = s
      if t.hasPrefix("[") && t.hasSuffix("]") { t = String(t.dropFirst().dropLast()) }
      if let a = IPAddress(t) { return a }
    default: break
    }
    throw RuntimeError("'\(v.text)' is not an address", e.span, hint: "interpolate an address, e.g. $(a.laddr)")
  }

  func property(_ r: SockRef, _ p: String, _ span: Span) throws -> Value {
    let (slot, id) = try target(r)
    let view = backend.view(id)
    switch p {
    case "state": return .state(view.state)
    case "laddr": return view.local.map { .address($0.addr) } ?? .none
    case "lport": return .int(Int(view.local?.port ?? 0))
    case "raddr": return view.remote.map { .address($0.addr) } ?? .none
    case "rport": return .int(Int(view.remote?.port ?? 0))
    case "local": return view.local.map { .endpoint($0) } ?? .none
    case "remote": return view.remote.map { .endpoint($0) } ?? .none
    case "result": return .result(slot.result)
    case "data": return .string(String(decoding: slot.data ?? [], as: UTF8.self))
    case "from": return slot.from.map { .endpoint($0) } ?? .none
    default: throw RuntimeError("unknown property '\(p)'", span)
    }
  }

  /// An address literal, parsed once per interpreter (one inside a loop,
  /// `connect c 127.0.0.1:80` or `$(127.0.0.1 + i)`, is met many times).
  func literalAddress(_ s: String, _ span: Span) throws -> IPAddress {
    if let a = literalAddrs[s] { return a }
    guard let a = IPAddress(s) else { throw RuntimeError("malformed address '\(s)'", span) }
    literalAddrs[s] = a
    return a
  }

  public func eval(_ e: Expr) throws -> Value {
    switch e.kind {
    case .int(let i): return .int(i)
    case .bool(let b): return .bool(b)
    case .string(let s): return .string(s)
    case .duration(let d): return .duration(d)
    case .ipv4(let s), .ipv6(let s):
      return .address(try literalAddress(s, e.span))
    case .endpoint(let ep): return .endpoint(try endpoint(ep))
    case .version(let s):
      guard let v = KernelVersion(s) else { throw RuntimeError("malformed version '\(s)'", e.span) }
      return .version(v)
    case .name(let n):
      if let v = vars[n] { return v }
      if n == "ok" { return .result(nil) }
      if n == "kernel" { return .version(backend.kernelVersion) }
      if let st = SockState(rawValue: n) { return .state(st) }
      if let er = Errno(name: n) { return .result(er) }
      throw RuntimeError("unknown name '\(n)'", e.span)
    case .property(let r, let p, let span): return try property(r, p, span)
    case .call(_, let args):
      guard case .name(let n) = args.first?.kind, let st = SockState(rawValue: n) else {
        throw RuntimeError("count() takes a state name", e.span)
      }
      return .int(backend.count(st))
    case .unary(.neg, let a):
      let v = try eval(a)
      guard case .int(let i) = v else { throw RuntimeError("cannot negate \(v.aTypeName)", a.span) }
      return .int(-i)
    case .unary(.not, let a):
      let v = try eval(a)
      guard case .bool(let b) = v else { throw RuntimeError("'not' needs a comparison, not \(v.aTypeName)", a.span) }
      return .bool(!b)
    case .inRange(let a, let lo, let hi):
      let x = try int(a)
      let l = try int(lo)
      let h = try int(hi)
      return .bool(x >= l && x <= h)
    case .binary(let op, let a, let b):
      return try binary(op, a, b, e.span)
    }
  }

  func binary(_ op: BinaryOp, _ a: Expr, _ b: Expr, _ span: Span) throws -> Value {
    if op == .and || op == .or {
      guard case .bool(let x) = try eval(a) else { throw RuntimeError("'\(op.rawValue)' needs comparisons on both sides", a.span) }
      if op == .and && !x { return .bool(false) }
      if op == .or && x { return .bool(true) }
      guard case .bool(let y) = try eval(b) else { throw RuntimeError("'\(op.rawValue)' needs comparisons on both sides", b.span) }
      return .bool(y)
    }
    let x = try eval(a)
    let y = try eval(b)
    switch op {
    case .eq, .ne:
      let same = try equal(x, y, span)
      return .bool(op == .eq ? same : !same)
    case .lt, .le, .gt, .ge:
      let (p, q): (Int64, Int64)
      switch (x, y) {
      case (.int(let i), .int(let j)): (p, q) = (Int64(i), Int64(j))
      case (.duration(let i), .duration(let j)): (p, q) = (i, j)
      case (.version(let i), .version(let j)): (p, q) = (Int64(Value.versionOrder(i, j)), 0)
      default: throw RuntimeError("cannot order \(x.aTypeName) and \(y.aTypeName)", span)
      }
      switch op {
      case .lt: return .bool(p < q)
      case .le: return .bool(p <= q)
      case .gt: return .bool(p > q)
      default: return .bool(p >= q)
      }
    case .add, .sub:
      if case .address(let a) = x, case .int(let n) = y {
        // Address arithmetic: 127.0.0.1 + 3 is 127.0.0.4.
        let step = op == .add ? n : 0 &- n
        guard let r = a.adding(step) else {
          throw RuntimeError("\(x.text) \(op.rawValue) \(n) is outside \(a.isV4 ? "IPv4" : "IPv6")", span)
        }
        return .address(r)
      }
      guard op == .add else { fallthrough }
      if case .string(let s) = x { return .string(s + y.text) }
      if case .string(let s) = y { return .string(x.text + s) }
      if case .duration(let i) = x, case .duration(let j) = y { return .duration(i + j) }
      fallthrough
    default:
      guard case .int(let i) = x, case .int(let j) = y else {
        throw RuntimeError("'\(op.rawValue)' needs integers, not \(x.aTypeName) and \(y.aTypeName)", span)
      }
      switch op {
      case .add: return .int(i &+ j)
      case .sub: return .int(i &- j)
      case .mul: return .int(i &* j)
      case .div, .mod:
        guard j != 0 else { throw RuntimeError("division by zero", b.span) }
        return .int(op == .div ? i / j : i % j)
      default: throw RuntimeError("unsupported operator", span)
      }
    }
  }

  func equal(_ x: Value, _ y: Value, _ span: Span) throws -> Bool {
    switch (x, y) {
    case (.none, _), (_, .none): return x == y
    case (.address(let a), .address(let b)): return a == b
    case (.version(let a), .version(let b)): return Value.versionOrder(a, b) == 0
    case (.string(let s), _) where !(y.typeName == "string"): return s == y.text
    case (_, .string(let s)) where !(x.typeName == "string"): return x.text == s
    default:
      guard x.typeName == y.typeName else { throw RuntimeError("cannot compare \(x.aTypeName) with \(y.aTypeName)", span) }
      return x == y
    }
  }
}

import SockKernel
import SockSyntax

/// What never changes between two executions of one statement: computed
/// once and shared by every event of that statement.
public final class StmtInfo: @unchecked Sendable {
  /// The statement itself, as parsed.
  public let stmt: Stmt
  public let file: String
  public let line: Int
  public let text: String
  /// The accepted results as written; "ok" with no `=>`; nil for no call.
  public let expected: String?
  /// Reporters may keep a rendering of the statement here (e.g. the padded text).
  public var cache: [UInt8]?
  /// The interpreter's caches: the slots of unindexed socket names, the
  /// parsed literal address.
  var slot: Slot?
  var slot2: Slot?
  var literalAddr: IPAddress?
  var socketKind: SocketKind?
  init(stmt: Stmt, file: String, line: Int, text: String, expected: String?) {
    self.stmt = stmt
    self.file = file
    self.line = line
    self.text = text
    self.expected = expected
    let k = stmt.statementKeyword
    self.showsPair = k == .connect || k == .accept || k == .sendto
    self.showsLocal = k == .bind || k == .listen
  }

  public var keyword: Keyword { stmt.statementKeyword }
  /// The keyword as JSON's `op` names it (`addr add`).
  public var op: String { keyword.spelling }
  /// Whether the statement names its socket with an index (`c[i]`).
  public var indexed: Bool { stmt.socketRef?.index != nil }
  /// Whether the transcript shows local -> remote (connect, accept, sendto),
  /// or the local endpoint (bind, listen).
  public let showsPair: Bool
  public let showsLocal: Bool
}

/// One executed statement, as every reporter sees it.
public struct StepEvent: Sendable {
  public var info: StmtInfo
  public var file: String { info.file }
  public var line: Int { info.line }
  public var text: String { info.text }
  /// The statement that ran (typed: reporters match on its kind, not on text).
  public var stmt: Stmt { info.stmt }
  public var keyword: Keyword { info.keyword }
  public var op: String { info.op }
  public var expected: String? { info.expected }
  /// The resolved socket name (`c[3]`), if the statement names one.
  public var socket: String?
  /// Whether the statement is a call with a result.
  public var isCall: Bool
  /// The call's errno; nil is `ok`.
  public var errno: Errno?
  /// "ok" or an errno name; nil for a statement that is no call.
  public var result: String? { isCall ? (errno?.name ?? "ok") : nil }
  public var pass: Bool
  public var local: Endpoint?
  public var remote: Endpoint?
  public var why: String?
  /// The scenario clock after the statement (0 when the reporter does not
  /// want it: reading a real clock costs a call per statement).
  public var timeMs: Int64
  /// For a failed `expect`: what the operands were. For `sleep`: the new time.
  public var detail: String?
}

extension StepEvent {
  /// The endpoints a transcript shows for a call: local -> remote for
  /// connect, accept and sendto; the local one for a successful bind or listen.
  public var shownEndpoints: (local: Endpoint, remote: Endpoint?)? {
    guard isCall, let l = local else { return nil }
    if info.showsPair, let r = remote { return (l, r) }
    if errno == nil && info.showsLocal { return (l, nil) }
    return nil
  }
}

extension Reporter {
  public var wantsTime: Bool { true }
}

/// A row of `show`.
public struct ShowRow: Sendable {
  public var name: String
  public var proto: String
  public var state: String
  public var local: String
  public var remote: String
  public var options: [String]
  public var timer: String?
  /// The SO_REUSEPORT group (`g1`, `g2`, ... in order of appearance).
  public var group: String?
}

public struct RunSummary: Sendable {
  public var file: String
  public var backend: String
  public var kernel: String
  public var seed: UInt64
  public var statements: Int
  public var expectations: Int
  public var failed: Int
  public var exit: Int32
}

public protocol Reporter: AnyObject {
  /// Whether events need `timeMs` (JSON does; the text transcript does not).
  var wantsTime: Bool { get }
  func begin(file: String, backend: KernelBackend, seed: UInt64)
  func step(_ e: StepEvent)
  func printed(_ values: [Value])
  func show(_ rows: [ShowRow])
  /// A run-time error in the script, already rendered with its caret.
  func error(_ rendered: String)
  func end(_ s: RunSummary)
}

public struct RunOptions: Sendable {
  public var keepGoing = false
  public var seed: UInt64 = 0
  public init(keepGoing: Bool = false, seed: UInt64 = 0) {
    self.keepGoing = keepGoing
    self.seed = seed
  }
}

struct RuntimeError: Error {
  var diagnostic: Diagnostic
  init(_ msg: String, _ span: Span, hint: String? = nil) { diagnostic = Diagnostic(msg, at: span, hint: hint) }
}

struct StopRun: Error {}

/// The backend failed in a way the script cannot cause (exit 3).
struct BackendFailure: Error {
  var message: String
}

/// Ctrl-C arrived (exit 130).
struct Interrupted: Error {}

/// A socket name's binding: its current socket and what its last calls left.
final class Slot {
  let name: String
  var id: SockID?
  var result: Errno?
  var data: [UInt8]?
  var from: Endpoint?
  init(name: String) { self.name = name }
}

/// Walks the AST and drives a backend, reporting every step.
public final class Interpreter {
  public private(set) var file: SourceFile
  let program: Program
  public let backend: KernelBackend
  let reporter: Reporter
  let options: RunOptions

  var vars: [String: Value] = [:]
  var sockets: [String: Slot] = [:]
  /// Socket names by id (ids are small and dense on both backends).
  var names: [String?] = []

  func name(of id: SockID) -> String? { id >= 0 && id < names.count ? names[id] : nil }
  var statements = 0
  var expectations = 0
  var failed = 0

  public init(file: SourceFile, program: Program, backend: KernelBackend, reporter: Reporter, options: RunOptions) {
    self.file = file
    self.program = program
    self.backend = backend
    self.reporter = reporter
    self.options = options
    backend.namer = { [unowned self] id in self.name(of: id) }
  }

  /// Runs the program; returns the exit code (0, 1, 2, 3 or 130).
  public func run() -> Int32 {
    reporter.begin(file: file.name, backend: backend, seed: options.seed)
    let exit = execute(program.statements, errorPrefix: "\(file.name): ")
    reporter.end(
      RunSummary(
        file: file.name, backend: backend.backendName, kernel: backend.kernelName, seed: options.seed, statements: statements, expectations: expectations, failed: failed,
        exit: exit))
    return exit
  }

  /// Runs later statements from another source (the REPL's next line).
  func setChunk(_ f: SourceFile) {
    file = f
    infos = []
  }

  /// Runs more statements on the same state (the REPL).
  public func runMore(_ stmts: [Stmt]) -> Int32 { execute(stmts, errorPrefix: "") }

  /// Runs statements and reports what stopped them: 2 for an error in the
  /// script, 3 for the backend, 130 for Ctrl-C; else 1 if an expectation
  /// has failed so far, 0 if none has.
  func execute(_ stmts: [Stmt], errorPrefix: String) -> Int32 {
    do {
      try block(stmts)
    } catch let e as RuntimeError {
      reporter.error(DiagnosticRenderer.render(e.diagnostic, in: file))
      return Exit.badInput
    } catch let e as BackendFailure {
      reporter.error("\(errorPrefix)error: the \(backend.backendName) backend failed: \(e.message)\n")
      return Exit.backendUnavailable
    } catch is Interrupted {
      reporter.error("\(errorPrefix)interrupted\n")
      return Exit.interrupted
    } catch {}  // StopRun: the first failed expectation
    return failed > 0 ? Exit.failed : Exit.ok
  }

  /// Set (from a signal handler) to stop the run between statements.
  public var interrupted: () -> Bool = { false }

  func block(_ stmts: [Stmt]) throws {
    for s in stmts {
      if interrupted() { throw Interrupted() }
      try statement(s)
    }
  }

  // MARK: statements

  lazy var wantsTime = reporter.wantsTime
  var infos: [StmtInfo?] = []

  func info(_ s: Stmt) -> StmtInfo {
    if s.id < infos.count, let i = infos[s.id] { return i }
    let expected = s.isCall ? (s.result.map { $0.names.map(\.0).joined(separator: "|") } ?? "ok") : nil
    let i = StmtInfo(stmt: s, file: file.name, line: file.line(of: s.span.start), text: file.text(s.span), expected: expected)
    if s.id >= infos.count { infos += [StmtInfo?](repeating: nil, count: s.id - infos.count + 1) }
    infos[s.id] = i
    return i
  }

  func event(_ s: Stmt, socket: String? = nil) -> StepEvent {
    StepEvent(
      info: currentInfo ?? info(s), socket: socket, isCall: false, errno: nil, pass: true, local: nil, remote: nil, why: nil,
      timeMs: wantsTime ? backend.nowMs : 0, detail: nil)
  }

  func finish(_ e: StepEvent) throws {
    reporter.step(e)
    if !e.pass {
      failed += 1
      if !options.keepGoing { throw StopRun() }
    }
  }

  /// Reports a call's result against its `=>` and remembers it for NAME.result.
  func call(_ s: Stmt, socket slot: Slot?, _ r: CallResult) throws {
    if let f = r.fatal { throw BackendFailure(message: f) }
    if let why = r.refusal { throw RuntimeError(why, s.keywordSpan) }
    statements += 1
    expectations += 1
    var e = event(s, socket: slot?.name)
    e.isCall = true
    e.errno = r.errno
    e.pass = accepts(s.result, r.errno)
    e.local = r.local
    e.remote = r.remote
    e.why = r.errno == nil ? nil : Interpreter.explain(r)
    if wantsTime { e.timeMs = backend.nowMs }
    slot?.result = r.errno
    try finish(e)
  }

  /// The kernel's why, with its remedy put in the script's terms.
  static func explain(_ r: CallResult) -> String? {
    guard let why = r.why, let remedy = r.remedy else { return r.why }
    switch remedy {
    case .addLocalAddress(let a):
      return why + "; add it with 'addr add \(a)', or set freebind (or net.ipv4.ip_nonlocal_bind) to bind it anyway"
    case .v4MappedAddress(let a): return why + "; write [::ffff:\(a)] for IPv4 through an IPv6 socket"
    case .ipv6Socket: return why + "; create it with 'tcp6' or 'udp6'"
    }
  }

  func accepts(_ spec: ResultSpec?, _ got: Errno?) -> Bool {
    guard let spec = spec else { return got == nil }
    for (n, _) in spec.names {
      if n == "any" { return true }
      if n == "ok" { if got == nil { return true } else { continue } }
      if let e = Errno(name: n), e == got { return true }
    }
    return false
  }

  var currentInfo: StmtInfo?

  func statement(_ s: Stmt) throws {
    let inf = info(s)
    currentInfo = inf
    defer { currentInfo = nil }
    switch s.kind {
    case .socket(let r, let proto, let uidExpr):
      let slot = try resolve(r, creating: true)
      let kind = inf.socketKind ?? SocketKind(name: proto?.text ?? "tcp")!
      inf.socketKind = kind
      var uid: UInt32 = 0
      if let u = uidExpr {
        let v = try int(u)
        guard v >= 0 && v <= Int(UInt32.max) else { throw RuntimeError("uid \(v) is out of range", u.span) }
        uid = UInt32(v)
      }
      let res = backend.socket(kind, uid: uid)
      bind(slot, to: res.created)
      try call(s, socket: slot, res)
    case .setopt(let r, let opt, let args):
      let (slot, id) = try target(r)
      let o = try option(opt, args)
      try call(s, socket: slot, backend.setsockopt(id, o))
    case .bind(let r, let ep):
      let (slot, id) = try target(r)
      let e = try endpoint(ep, cached: true)
      try call(s, socket: slot, backend.bind(id, e))
    case .listen(let r, let bl):
      let (slot, id) = try target(r)
      let b = try bl.map { try int($0) }
      try call(s, socket: slot, backend.listen(id, backlog: b))
    case .connect(let r, let ep):
      let (slot, id) = try target(r)
      let e = try endpoint(ep, cached: true)
      try call(s, socket: slot, backend.connect(id, e))
    case .accept(let l, let newRef):
      let (listener, id) = try target(l)
      let slot = try resolve(newRef, creating: true, second: true)
      let res = backend.accept(id)
      bind(slot, to: res.created)
      try call(s, socket: listener, res)
    case .send(let r, let e):
      let (slot, id) = try target(r)
      let data = try bytes(e)
      try call(s, socket: slot, backend.send(id, data))
    case .recv(let r, let n):
      let (slot, id) = try target(r)
      let max = try n.map { try int($0) }
      if let m = max, m < 0 { throw RuntimeError("recv needs a positive size", n!.span) }
      let res = backend.recv(id, max: max)
      if let d = res.data { slot.data = d }
      try call(s, socket: slot, res)
    case .sendto(let r, let ep, let e):
      let (slot, id) = try target(r)
      let dst = try endpoint(ep, cached: true)
      try call(s, socket: slot, backend.sendto(id, dst, try bytes(e)))
    case .recvfrom(let r):
      let (slot, id) = try target(r)
      let res = backend.recvfrom(id)
      if let d = res.data { slot.data = d }
      if let f = res.from { slot.from = f }
      try call(s, socket: slot, res)
    case .shutdown(let r, let how):
      let (slot, id) = try target(r)
      try call(s, socket: slot, backend.shutdown(id, ShutdownHow(rawValue: how.text)!))
    case .close(let r):
      let (slot, id) = try target(r)
      try call(s, socket: slot, backend.close(id))
    case .sleep(let d):
      guard case .duration(let ms) = try eval(d) else { throw RuntimeError("sleep needs a duration", d.span, hint: "e.g. 'sleep 65s'") }
      backend.sleep(ms: ms)
      statements += 1
      var e = event(s)
      e.detail = "t=\(Value.formatDuration(backend.nowMs))"
      try finish(e)
    case .sysctl(let key, let value, _):
      let v = try render(value)
      try call(s, socket: nil as Slot?, backend.sysctl(key.text, v))
    case .addrAdd(let value, let span):
      let text = try render(value)
      guard let (addr, prefix) = AddressSpec.parse(text) else {
        throw RuntimeError("malformed address '\(text)'", span, hint: "write e.g. 127.0.0.2, 10.1.0.1/24 or [fd00::1]/64")
      }
      try call(s, socket: nil as Slot?, backend.addAddress(addr, prefix: prefix))
    case .ulimit(_, let e):
      let n = try int(e)
      try call(s, socket: nil as Slot?, backend.setDescriptorLimit(n))
    case .letVar(let name, let e):
      let v = try eval(e)
      vars[name.text] = v
      statements += 1
      var ev = event(s)
      ev.detail = v.text
      try finish(ev)
    case .expect(let e):
      statements += 1
      expectations += 1
      let v = try eval(e)
      guard case .bool(let ok) = v else {
        throw RuntimeError("expect needs a comparison, but this is a \(v.typeName)", e.span, hint: "e.g. 'expect c.state == TIME_WAIT'")
      }
      var ev = event(s)
      ev.pass = ok
      if !ok { ev.detail = try explainFalse(e) }
      try finish(ev)
    case .repeatLoop(let countExpr, let v, let body):
      let n = try int(countExpr)
      guard n >= 0 else { throw RuntimeError("repeat needs a count of 0 or more, got \(n)", countExpr.span) }
      let loopVar = v?.text ?? "i"
      let saved = vars[loopVar]
      for i in 0..<n {
        vars[loopVar] = .int(i)
        try block(body)
      }
      vars[loopVar] = saved
    case .print(let items):
      statements += 1
      let vals = try items.map { try eval($0) }
      reporter.printed(vals)
    case .show:
      statements += 1
      reporter.show(showRows())
    }
  }

  public func showRows() -> [ShowRow] {
    backend.table().map { row in
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
    switch e.kind {
    case .binary(let op, let a, let b) where [.eq, .ne, .lt, .le, .gt, .ge].contains(op):
      return "\(file.text(a.span)) is \(try eval(a).text), \(file.text(b.span)) is \(try eval(b).text)"
    case .inRange(let a, _, _):
      return "\(file.text(a.span)) is \(try eval(a).text)"
    default:
      return "\(file.text(e.span)) is false"
    }
  }

  // MARK: names and values

  /// Points a name at a socket the call created (socket, accept); a new
  /// socket starts with no data received.
  func bind(_ slot: Slot, to id: SockID?) {
    guard let id = id else { return }
    slot.id = id
    if id >= names.count { names += [String?](repeating: nil, count: max(id + 1 - names.count, names.count)) }
    names[id] = slot.name
    slot.data = nil
    slot.from = nil
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
    guard case .int(let i) = v else { throw RuntimeError("expected an integer, but this is a \(v.typeName) (\(v.text))", e.span) }
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

  /// `cached`: the statement's own endpoint, whose literal address is parsed once.
  func endpoint(_ ep: EndpointSyntax, cached: Bool = false) throws -> Endpoint {
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
      if cached, let a = currentInfo?.literalAddr {
        addr = a
      } else {
        guard let a = IPAddress(s) else { throw RuntimeError("malformed address '\(s)'", ep.hostSpan) }
        if cached { currentInfo?.literalAddr = a }
        addr = a
      }
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

  public func eval(_ e: Expr) throws -> Value {
    switch e.kind {
    case .int(let i): return .int(i)
    case .string(let s): return .string(s)
    case .duration(let d): return .duration(d)
    case .ipv4(let s), .ipv6(let s):
      guard let a = IPAddress(s) else { throw RuntimeError("malformed address '\(s)'", e.span) }
      return .address(a)
    case .endpoint(let ep): return .endpoint(try endpoint(ep))
    case .name(let n):
      if let v = vars[n] { return v }
      if n == "ok" { return .result(nil) }
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
      guard case .int(let i) = v else { throw RuntimeError("cannot negate a \(v.typeName)", a.span) }
      return .int(-i)
    case .unary(.not, let a):
      let v = try eval(a)
      guard case .bool(let b) = v else { throw RuntimeError("'not' needs a comparison, not a \(v.typeName)", a.span) }
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
      default: throw RuntimeError("cannot order a \(x.typeName) and a \(y.typeName)", span)
      }
      switch op {
      case .lt: return .bool(p < q)
      case .le: return .bool(p <= q)
      case .gt: return .bool(p > q)
      default: return .bool(p >= q)
      }
    case .add:
      if case .string(let s) = x { return .string(s + y.text) }
      if case .string(let s) = y { return .string(x.text + s) }
      if case .duration(let i) = x, case .duration(let j) = y { return .duration(i + j) }
      fallthrough
    default:
      guard case .int(let i) = x, case .int(let j) = y else {
        throw RuntimeError("'\(op.rawValue)' needs integers, not a \(x.typeName) and a \(y.typeName)", span)
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
    case (.string(let s), _) where !(y.typeName == "string"): return s == y.text
    case (_, .string(let s)) where !(x.typeName == "string"): return x.text == s
    default:
      guard x.typeName == y.typeName else { throw RuntimeError("cannot compare a \(x.typeName) with a \(y.typeName)", span) }
      return x == y
    }
  }
}

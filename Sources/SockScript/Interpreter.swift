import SockKernel
import SockSyntax

/// Walks the AST and drives a backend, reporting every step.
public final class Interpreter {
  public private(set) var file: SourceFile
  let program: Program
  public let backend: KernelBackend
  let reporter: Reporter
  let options: RunOptions

  var vars: [String: Value] = [:]
  /// Address literals already parsed (Evaluator.eval).
  var literalAddrs: [String: IPAddress] = [:]
  var sockets: [String: Slot] = [:]
  /// Each socket's name and when it got it (its place in `show`), by id,
  /// while the backend holds something of it (see retire).
  var names = IDTable<(name: String, born: Int)>()
  var namesGiven = 0
  /// Sockets no name points to any more that the backend still held when
  /// asked (see retire).
  var retired: [SockID] = []
  var retiresSinceSweep = 0

  func name(of id: SockID) -> String? { names[id]?.name }
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
    isOneLine = false  // the REPL's lines: numbered by line
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
      steps += 1
      if let budget = options.maxSteps, steps > budget {
        throw RuntimeError(
          "the step budget is used up: \(budget) statements have run", s.keywordSpan,
          hint: "a loop that runs too long? raise --max-steps, or lower the repeat count")
      }
      try statement(s)
    }
  }

  /// The boolean an `expect` or `if` tests; anything else is a run-time error.
  func condition(_ e: Expr, _ needs: String, hint: String) throws -> Bool {
    let v = try eval(e)
    guard case .bool(let b) = v else { throw RuntimeError("\(needs), but this is \(v.aTypeName)", e.span, hint: hint) }
    return b
  }

  /// Statements started, for the step budget.
  var steps = 0

  /// Variables a `let` created, innermost last; a body's own ones are
  /// dropped when it ends (a `let` of an outer name assigns that one).
  var scopeNames: [String] = []

  func scoped(_ stmts: [Stmt]) throws {
    let mark = scopeNames.count
    defer {
      while scopeNames.count > mark { vars[scopeNames.removeLast()] = nil }
    }
    try block(stmts)
  }

  // MARK: statements

  lazy var wantsTime = reporter.wantsTime
  var infos: [StmtInfo?] = []
  /// The source is a single line: the transcript numbers statements by column.
  lazy var isOneLine = file.lineCount == 1

  func info(_ s: Stmt) -> StmtInfo {
    if s.id < infos.count, let i = infos[s.id] { return i }
    let expected = s.isCall ? (s.result.map { $0.names.map(\.0).joined(separator: "|") } ?? "ok") : nil
    let loc = file.location(of: s.span.start)
    let i = StmtInfo(
      stmt: s, file: file.name, line: loc.line, column: loc.column, oneLine: isOneLine, text: file.text(s.span), expected: expected)
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
    e.pass = (options.exploring && s.result == nil) || accepts(s.result, r.errno)
    e.local = r.local
    e.remote = r.remote
    e.why = Interpreter.explain(r)
    if r.errno == .EBADF, let slot, let how = slot.failedBy {
      e.why = "\(slot.name) never opened: its '\(how)' failed with \(slot.result?.name ?? "an error")"
    }
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
      bind(slot, to: res.created, failedBy: "socket")
      try call(s, socket: slot, res)
    case .setopt(let r, let opt, let args):
      let (slot, id) = try target(r)
      let o = try option(opt, args)
      try call(s, socket: slot, backend.setsockopt(id, o))
    case .bind(let r, let ep):
      let (slot, id) = try target(r)
      let e = try endpoint(ep)
      try call(s, socket: slot, backend.bind(id, e))
    case .listen(let r, let bl):
      let (slot, id) = try target(r)
      let b = try bl.map { try int($0) }
      try call(s, socket: slot, backend.listen(id, backlog: b))
    case .connect(let r, let ep):
      let (slot, id) = try target(r)
      let e = try endpoint(ep)
      try call(s, socket: slot, backend.connect(id, e))
    case .accept(let l, let newRef):
      let (listener, id) = try target(l)
      let slot = try resolve(newRef, creating: true, second: true)
      let res = backend.accept(id)
      bind(slot, to: res.created, failedBy: "accept")
      slot.result = res.errno  // NEW.result: how its accept went
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
      let dst = try endpoint(ep)
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
      if vars.updateValue(v, forKey: name.text) == nil { scopeNames.append(name.text) }
      statements += 1
      var ev = event(s)
      ev.detail = v.text
      try finish(ev)
    case .expect(let e):
      statements += 1
      expectations += 1
      let ok = try condition(e, "expect needs a comparison", hint: "e.g. 'expect c.state == TIME_WAIT'")
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
        try scoped(body)
      }
      vars[loopVar] = saved
    case .ifElse(let branches, let elseBody):
      for b in branches where try condition(b.condition, "'if' needs a condition", hint: "e.g. 'if s[i].result == ok { ... }'") {
        return try scoped(b.body)
      }
      if let body = elseBody { try scoped(body) }
    case .print(let items):
      statements += 1
      let vals = try items.map { try eval($0) }
      reporter.printed(vals)
    case .show:
      statements += 1
      reporter.show(showRows())
    }
  }
}

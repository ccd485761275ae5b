import SockKernel
import SockSyntax

/// The two export languages: C and Python share the runtime's function
/// names (as_int, prop, mk_ep, ...), so one writer renders expressions,
/// endpoints and socket names for both, differing only in literals.
public enum Dialect: Sendable {
  case c, python
}

extension SourceFile {
  /// The file as an export names it: by its last path component, so no
  /// absolute path of the user's machine ends up in a bug report.
  var forExport: SourceFile {
    let base = name.split(separator: "/").last.map(String.init) ?? name
    return base == name ? self : SourceFile(name: base, text: String(decoding: bytes, as: UTF8.self))
  }
}

/// What the C and Python exports decide alike: positions, variables,
/// expressions, endpoints, socket names, option arguments, accepted results.
struct ExportWriter {
  let file: SourceFile
  let dialect: Dialect
  /// Names a `let` or a `repeat ... as` binds: variables in the program.
  let variables: Set<String>

  init(file: SourceFile, program: Program, dialect: Dialect) {
    self.file = file
    self.dialect = dialect
    var vars: Set<String> = []
    func collect(_ stmts: [Stmt]) {
      for s in stmts {
        switch s.kind {
        case .letVar(let w, _): vars.insert(w.text)
        case .repeatLoop(_, let v, let body):
          vars.insert(v?.text ?? "i")
          collect(body)
        case .ifElse(let branches, let elseBody):
          branches.forEach { collect($0.body) }
          collect(elseBody ?? [])
        default: break
        }
      }
    }
    collect(program.statements)
    variables = vars
  }

  func pos(_ span: Span) -> String {
    let l = file.location(of: span.start)
    return "\(l.line), \(l.column)"
  }

  func line(_ s: Stmt) -> Int { file.location(of: s.span.start).line }

  func text(_ span: Span) -> String { file.text(span) }

  func literal(_ s: String) -> String { dialect == .c ? CExporter.literal(s) : PythonExporter.literal(s) }

  func bool(_ b: Bool) -> String { dialect == .c ? (b ? "1" : "0") : (b ? "True" : "False") }

  func int(_ e: Expr) -> String { "as_int(\(expr(e)), \(pos(e.span)))" }

  /// An `if` condition, as the interpreter checks it.
  func condition(_ e: Expr) -> String { "as_bool(\(expr(e)), \(pos(e.span)), \"'if' needs a condition\")" }

  /// The slot of a socket name (`c`, `c[i+1]`).
  func slot(_ r: SockRef, creating: Bool) -> String {
    "S(\(literal(r.name)), \(bool(r.index != nil)), \(r.index.map(int) ?? "0"), \(bool(creating)), \(pos(r.span)))"
  }

  /// The accepted results of a call: canonical errno names or "ok", whether
  /// `any` is among them, and the `=>` as written.
  static func accepted(_ s: Stmt) -> (codes: [String], any: Bool, written: String) {
    guard let spec = s.result else { return (["ok"], false, "ok") }
    var codes: [String] = []
    var any = false
    for (n, _) in spec.names {
      if n == "any" {
        any = true
      } else if n == "ok" {
        codes.append("ok")
      } else if let e = Errno(name: n) {
        codes.append(e.name)
      }
    }
    return (codes, any, spec.names.map(\.0).joined(separator: "|"))
  }

  /// A bare word such as `on`, `off` (when no variable has that name).
  func isWord(_ e: Expr, _ w: String) -> Bool {
    if case .name(let n) = e.kind, n == w, !variables.contains(n) { return true }
    return false
  }

  /// setopt's arguments as the runtime's c_setopt takes them: the value, a
  /// second value (local_port_range's hi), the device name, and a check to
  /// run first (linger's seconds).
  func optionArgs(_ opt: Word, _ args: [Expr]) -> (v: String, v2: String, dev: String, lingerCheck: (value: String, pos: String)?) {
    switch SocketOption.spec(named: opt.text)?.shape ?? .flag {
    case .secondsOrOff:
      let a = args[0]
      return (isWord(a, "off") ? "-1" : int(a), "0", "\"\"", (isWord(a, "off") ? "-1" : int(a), pos(a.span)))
    case .portPair:
      return ("port_arg(\(expr(args[0])), \(pos(args[0].span)))", "port_arg(\(expr(args[1])), \(pos(args[1].span)))", "\"\"", nil)
    case .device:
      let a = args[0]
      if case .name(let n) = a.kind, !variables.contains(n) { return ("1", "0", literal(n), nil) }
      return ("1", "0", "text(\(expr(a)))", nil)
    case .flag:
      guard let a = args.first, !isWord(a, "on") else { return ("1", "0", "\"\"", nil) }
      if isWord(a, "off") { return ("0", "0", "\"\"", nil) }
      return ("flag_of(\(expr(a)), \(literal(opt.text)), \(pos(a.span)))", "0", "\"\"", nil)
    }
  }

  func endpoint(_ ep: EndpointSyntax) -> String {
    if case .inHost = ep.port, case .expr(let e) = ep.host {
      return "whole_ep(\(expr(e)), \(pos(ep.hostSpan)))"
    }
    let host: String
    switch ep.host {
    case .ipv4(let s), .ipv6(let s): host = dialect == .c ? "v_addr(\(literal(s))).a" : "addr_literal(\(literal(s)))"
    case .expr(let e): host = "as_addr(\(expr(e)), \(pos(e.span)))"
    }
    let port: String
    switch ep.port {
    case .number(let p): port = "\(p)"
    case .expr(let e): port = int(e)
    case .inHost: port = "0"
    }
    return "mk_ep(\(host), \(port), \(pos(ep.portSpan)))"
  }

  /// A value of the language, as the runtime represents it.
  func expr(_ e: Expr) -> String {
    let c = dialect == .c
    switch e.kind {
    case .int(let i): return c ? "v_int(\(i)LL)" : "\(i)"
    case .bool(let b): return c ? "v_bool(\(b ? 1 : 0))" : (b ? "True" : "False")
    case .string(let s): return c ? "v_str(\(literal(s)))" : literal(s)
    case .duration(let ms): return c ? "v_dur(\(ms)LL)" : "Dur(\(ms))"
    case .ipv4(let s), .ipv6(let s): return c ? "v_addr(\(literal(s)))" : "addr_literal(\(literal(s)), \(pos(e.span)))"
    case .endpoint(let ep): return endpoint(ep)
    case .version(let s): return c ? "v_str(\(literal(s)))" : literal(s)
    case .name(let n):
      let fallback: String
      if n == "kernel" {
        fallback = c ? "v_str(kernel_release())" : "kernel_release()"
      } else if n == "ok" {
        fallback = c ? "v_res(0)" : "Res(0)"
      } else if let st = SockState(rawValue: n) {
        fallback = state(st)
      } else if let er = Errno(name: n) {
        fallback = c ? "v_res(\(er.name))" : "Res(_errno.\(er.name))"
      } else {
        fallback = c ? "rt_unknown_name(\(literal(n)), \(pos(e.span)))" : "unknown_name(\(literal(n)), \(pos(e.span)))()"
      }
      guard variables.contains(n) else { return fallback }
      return c ? "(var_\(n).t != V_UNSET ? var_\(n) : \(fallback))" : "var(\(literal(n)), lambda: \(fallback))"
    case .property(let r, let p, let span):
      return "prop(\(slot(r, creating: false)), \(literal(p)), \(pos(span)))"
    case .call(_, let args):
      if case .name(let n)? = args.first?.kind, let st = SockState(rawValue: n) {
        return c ? "count_state(S_\(st.rawValue))" : "count_state(\(SockState.allCases.firstIndex(of: st)!))"
      }
      return c ? "rt_unknown_name(\"count\", \(pos(e.span)))" : "unknown_name(\"count\", \(pos(e.span)))()"
    case .unary(.neg, let a):
      return "neg(\(expr(a)), \(pos(a.span)))"
    case .unary(.not, let a):
      let b = "as_bool(\(expr(a)), \(pos(a.span)), \"'not' needs a comparison\")"
      return c ? "v_bool(!\(b))" : "(not \(b))"
    case .inRange(let a, let lo, let hi):
      let call = "in_range(\(int(a)), \(int(lo)), \(int(hi)))"
      return c ? "v_bool(\(call))" : call
    case .binary(let op, let a, let b):
      switch op {
      case .and, .or:
        let what = literal("'\(op.rawValue)' needs comparisons on both sides")
        let x = "as_bool(\(expr(a)), \(pos(a.span)), \(what))"
        let y = "as_bool(\(expr(b)), \(pos(b.span)), \(what))"
        return c ? "v_bool(\(x) \(op == .and ? "&&" : "||") \(y))" : "(\(x) \(op.rawValue) \(y))"
      case .eq, .ne, .lt, .le, .gt, .ge:
        if let k = kernelComparison(op, a, b) { return c ? "v_bool(\(k))" : "(\(k))" }
        return "compare(\"\(op.rawValue)\", \(expr(a)), \(expr(b)), \(pos(e.span)))"
      default:
        return "arith(\(c ? "'\(op.rawValue)'" : "\"\(op.rawValue)\""), \(expr(a)), \(expr(b)), \(pos(e.span)))"
      }
    }
  }

  /// `kernel OP 6.18` (either way round) as the runtime's kernel_cmp test.
  func kernelComparison(_ op: BinaryOp, _ a: Expr, _ b: Expr) -> String? {
    func isKernel(_ e: Expr) -> Bool {
      if case .name("kernel") = e.kind { return !variables.contains("kernel") }
      return false
    }
    var op = op
    var literal: String
    if case .version(let s) = b.kind, isKernel(a) {
      literal = s
    } else if case .version(let s) = a.kind, isKernel(b) {
      literal = s
      // 6.18 <= kernel is kernel >= 6.18.
      op = [.lt: .gt, .le: .ge, .gt: .lt, .ge: .le][op] ?? op
    } else {
      return nil
    }
    guard let v = KernelVersion(literal) else { return nil }
    return "kernel_cmp(\(v.major), \(v.minor), \(v.patch ?? -1)) \(op.rawValue) 0"
  }

  func state(_ st: SockState) -> String {
    dialect == .c ? "v_state(S_\(st.rawValue))" : "State(\(SockState.allCases.firstIndex(of: st)!))"
  }

  /// For a failed `expect`: the operands to show, as in the transcript.
  /// A failed expectation's message as a printf-style format (`%s` for each
  /// value) and the expressions whose text fills it (FalseExplanation).
  func explanation(_ e: Expr) -> (format: String, values: [Expr]) {
    var format = ""
    var values: [Expr] = []
    for p in FalseExplanation.pieces(e, source: text, isVariable: variables.contains) {
      switch p {
      case .text(let t): format += t.split(separator: "%", omittingEmptySubsequences: false).joined(separator: "%%")
      case .value(let x):
        format += "%s"
        values.append(x)
      }
    }
    return (format, values)
  }
}

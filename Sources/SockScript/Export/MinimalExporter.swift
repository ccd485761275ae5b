import SockKernel
import SockSyntax

/// `sockscript export c --minimal` and `export python --minimal`: the
/// scenario as straight-line code to paste into a bug report. Every call is
/// the literal syscall (its sockaddr and option value spelled out) and is
/// followed by the line that prints its result; loops are unrolled, values
/// the script computes are worked out here, and only what the kernel decides
/// (a port it chose, a state, a count) is left for the program to read. A
/// short fixed preamble (runtime/minimal.c, minimal.py) makes the network
/// namespace and prints; helpers for states, names and sysctls come only
/// when the scenario uses them.
public struct MinimalExporter {
  /// How a value the kernel decides is held in the program.
  enum Kind: Equatable {
    case int, bool, state, result, string, endpoint, address, version

    var isText: Bool { self == .string || self == .endpoint || self == .address }
  }

  /// A value: worked out here, or code the program evaluates.
  enum Sym {
    case known(Value)
    case code(String, Kind)
  }

  let file: SourceFile
  let program: Program
  let dialect: Dialect
  let scratch: Interpreter
  var out: [String] = []
  var depth = 1
  var sections: Set<String> = []
  /// Variables, innermost scope last.
  var scopes: [[String: Sym]] = [[:]]
  /// Variables the program holds (declared at the top), by program name.
  var declared: [String: (ident: String, kind: Kind)] = [:]
  /// Sockets by their name in the scenario ("c[2]"): kind and uid.
  var sockets: [String: (kind: SocketKind, uid: Int)] = [:]
  var order: [String] = []
  var arrays: [String: Int] = [:]
  var idents: Set<String> = []
  var identOf: [String: String] = [:]
  var emitted = 0
  /// Whether a recv or recvfrom was written (Python keeps what they got).
  var receives = false
  let uses: Set<String>

  static let stepLimit = 5000

  /// The program, or the diagnostic for what --minimal cannot write.
  public static func export(_ file: SourceFile, _ program: Program, dialect: Dialect) throws(Diagnostic) -> String {
    var e = MinimalExporter(file: file.forExport, program: program, dialect: dialect)
    do {
      return try e.render()
    } catch let x as RuntimeError {
      throw x.diagnostic
    } catch {
      throw Diagnostic("\(error)", at: program.statements.first?.span ?? Span(0, 0))
    }
  }

  init(file: SourceFile, program: Program, dialect: Dialect) {
    self.file = file
    self.program = program
    self.dialect = dialect
    scratch = Interpreter(file: file, program: program, backend: SimKernel(), reporter: CollectingReporter(), options: RunOptions())
    let text = String(decoding: file.bytes, as: UTF8.self)
    // The properties the scenario reads (`.lport`), and whether it counts.
    var props: Set<String> = text.contains("count(") ? ["count("] : []
    var rest = Substring(text)
    while let dot = rest.firstIndex(of: ".") {
      rest = rest[rest.index(after: dot)...]
      props.insert(String(rest.prefix { $0.isLetter }))
    }
    uses = props
    idents = dialect == .c ? Self.cReserved : Self.pythonReserved
  }

  var c: Bool { dialect == .c }

  // MARK: the program

  mutating func render() throws -> String {
    out = []
    c ? emit("setup();") : emit("setup()")
    try block(program.statements)
    let name = file.name
    let scenario = String(decoding: file.bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
    var text = ""
    if c {
      text += "/* \(CExporter.commentSafe(name)), exported by `sockscript export c --minimal`.\n"
      text += " * Build and run as root: cc -Wall -Werror -o repro repro.c && sudo ./repro\n"
      text += " * It makes the scenario's calls in a fresh network namespace and prints each\n"
      text += " * result; exit 0 when every result is as written, 1 when one is not.\n *\n"
      for l in scenario { text += " *   \(CExporter.commentSafe(String(l)))\n" }
      text += " */\n"
    } else {
      text += "#!/usr/bin/env python3\n"
      text += "# \(name), exported by `sockscript export python --minimal`.\n"
      text += "# Run as root: sudo python3 repro.py. It makes the scenario's calls in a fresh network\n"
      text += "# namespace and prints each result; exit 0 when every result is as written, 1 when one is not.\n#\n"
      for l in scenario { text += "#   \(l)\n" }
    }
    text += Self.preamble(c ? MinimalRuntime.c : MinimalRuntime.python, comment: c ? "/* @" : "# @", sections: sections)
    text += "\n" + (c ? "/* ---- the scenario ---- */\n" : "# ---- the scenario ----\n")
    text += declarations()
    if c {
      text += "\nint main(void) {\n" + out.joined(separator: "\n") + "\n  printf(\"PASS\\n\");\n  return 0;\n}\n"
    } else {
      text += "\n" + out.map { $0.hasPrefix("    ") ? String($0.dropFirst(4)) : $0 }.joined(separator: "\n") + "\nprint(\"PASS\")\n"
    }
    return text
  }

  /// The fixed part of a runtime (without its opening comment) and the
  /// sections asked for, in the file's order.
  static func preamble(_ source: String, comment: String, sections: Set<String>) -> String {
    var text = ""
    var keep = true
    var opening = true
    for line in source.split(separator: "\n", omittingEmptySubsequences: false) {
      if opening {
        if line.hasPrefix("/*") || line.hasPrefix(" ") || line.hasPrefix("#") && !line.hasPrefix("#include") && !line.hasPrefix("#define") {
          continue
        }
        opening = false
      }
      if line.hasPrefix(comment) {
        let name = line.dropFirst(comment.count).prefix { $0.isLetter }
        keep = sections.contains(String(name))
      }
      if keep { text += line + "\n" }
    }
    while text.hasSuffix("\n\n") { text.removeLast() }
    return text
  }

  mutating func declarations() -> String {
    var text = ""
    for (name, d) in declared.sorted(by: { $0.value.ident < $1.value.ident }) {
      _ = name
      if c {
        text += d.kind.isText ? "static const char *\(d.ident) = \"\";\n" : "static long long \(d.ident);\n"
      }
    }
    let plain = order.filter { !$0.contains("[") }
    if c {
      if !plain.isEmpty || !arrays.isEmpty {
        var items: [String] = []
        for p in plain { items.append("\(ident(p)) = {.fd = -1}") }
        for (a, n) in arrays.sorted(by: { $0.key < $1.key }) {
          items.append("\(ident(a))[\(n)] = {" + Array(repeating: "{.fd = -1}", count: n).joined(separator: ", ") + "}")
        }
        text += "static sock " + items.joined(separator: ", ") + ";\n"
      }
      if sections.contains("state") {
        var all: [String] = []
        for n in order { all.append("&" + ref(n)) }
        all.append("NULL")
        text += "static sock *all[] = {\(all.joined(separator: ", "))};\n"
      }
    } else {
      for p in plain { text += "\(ident(p)) = DEAD\n" }
      for (a, n) in arrays.sorted(by: { $0.key < $1.key }) { text += "\(ident(a)) = [DEAD] * \(n)\n" }
      if uses.contains("result") { text += "result = {}  # each name's last result\n" }
      if receives { text += "data, origin = {}, {}  # what recv and recvfrom got\n" }
      if sections.contains("state") {
        var items: [String] = []
        for p in plain { items.append(ident(p)) }
        for a in arrays.keys.sorted() { items.append("*" + ident(a)) }
        text += "\n\ndef every():\n    return [\(items.joined(separator: ", "))]\n"
      }
    }
    return text
  }

  // MARK: names

  static let cReserved: Set<String> = [
    "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else", "enum", "extern", "float", "for", "goto", "if",
    "inline", "int", "long", "register", "restrict", "return", "short", "signed", "sizeof", "static", "struct", "switch", "typedef", "union",
    "unsigned", "void", "volatile", "while", "main", "socket", "bind", "listen", "connect", "accept", "send", "recv", "sendto", "recvfrom",
    "shutdown", "close", "check", "expect", "setup", "timeouts", "all", "count", "rows", "nrows", "row", "sock", "dump", "keep", "join",
    "as_user", "addr_add", "write_sysctl", "kernel_cmp", "ep_text", "name_of", "port_of", "sockaddr_of", "state_of", "own_state", "listed",
    "same", "is_tcp", "inode_of", "from_tcp", "diag_socket", "state_names", "errno", "printf", "system", "fcntl", "setsockopt", "exit",
    "CLOSED", "BOUND", "LISTEN", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT1", "FIN_WAIT2", "CLOSE_WAIT", "CLOSING", "LAST_ACK",
    "TIME_WAIT", "sa", "rl", "n", "got", "len", "state_name", "open", "write", "read", "strcmp", "strlen", "strdup", "htons", "ntohs",
    "inet_addr", "inet_pton", "inet_ntop", "memset", "memcpy", "getsockopt", "getsockname", "getpeername", "nanosleep", "getrlimit",
    "setrlimit", "fstat", "unshare", "ioctl", "seteuid", "snprintf", "sscanf", "uname", "perror", "strstr", "strcpy", "strchr", "strerrorname_np",
    "NULL", "stdin", "stdout", "stderr", "time", "select", "poll", "signal", "abort", "free", "malloc",
  ]
  static let pythonReserved: Set<String> = [
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del", "elif", "else", "except",
    "finally", "for", "from", "global", "if", "import", "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try",
    "while", "with", "yield", "ctypes", "errno", "fcntl", "os", "socket", "struct", "sys", "time", "resource", "LIBC", "DEAD", "check",
    "expect", "new_socket", "setup", "As", "raw", "write_sysctl", "addr_add", "kernel_cmp", "KEPT", "ep_text", "name_of", "keep", "host_of",
    "port_of", "endpoint", "join", "STATES", "FROM_TCP", "diag_socket", "dump", "listed", "own_state", "state_of", "count", "every", "result",
    "data", "origin", "got", "LAST", "tdiv", "tmod", "IP_BIND_ADDRESS_NO_PORT", "IP_LOCAL_PORT_RANGE", "IP_FREEBIND", "SO_BINDTODEVICE",
    "AF_INET", "AF_INET6", "SOCK_DGRAM", "SOCK_STREAM", "SOL_SOCKET", "IPPROTO_IP", "IPPROTO_IPV6", "IPPROTO_TCP",
    // builtins the preamble and the program call
    "abs", "all", "any", "bool", "dict", "getattr", "int", "isinstance", "len", "list", "max", "min", "open", "print", "range", "set",
    "str", "sum", "tuple", "type", "bytes", "object", "super", "id", "iter", "next", "map", "filter", "zip", "format", "hash",
  ]

  /// A program identifier for a scenario name: itself unless taken.
  mutating func ident(_ name: String) -> String {
    if let i = identOf[name] { return i }
    var i = name
    while idents.contains(i) { i += "_" }
    idents.insert(i)
    identOf[name] = i
    return i
  }

  /// A socket as an lvalue: `a`, `c[2]`.
  mutating func ref(_ name: String) -> String {
    guard let open = name.firstIndex(of: "[") else { return ident(name) }
    return ident(String(name[..<open])) + name[open...]
  }

  /// The scenario's name of a socket reference, with its index worked out.
  mutating func slotName(_ r: SockRef) throws -> String {
    guard let index = r.index else { return r.name }
    guard case .known(let v) = try sym(index) else { throw refuse("a socket index the kernel decides", index.span) }
    guard case .int(let i) = v, i >= 0 else { throw RuntimeError("socket index must be an integer of 0 or more, got \(v.text)", index.span) }
    return "\(r.name)[\(i)]"
  }

  mutating func existing(_ r: SockRef) throws -> String {
    let n = try slotName(r)
    guard sockets[n] != nil else {
      throw RuntimeError("socket \(n) does not exist", r.span, hint: "create it with 'socket \(n)' first")
    }
    return n
  }

  mutating func created(_ n: String, _ kind: SocketKind, uid: Int) {
    if sockets[n] == nil { order.append(n) }
    sockets[n] = (kind, uid)
    if let open = n.firstIndex(of: "["), let i = Int(n[n.index(after: open)..<n.index(before: n.endIndex)]) {
      let base = String(n[..<open])
      arrays[base] = max(arrays[base] ?? 0, i + 1)
    }
  }

  func refuse(_ what: String, _ span: Span) -> RuntimeError {
    RuntimeError("--minimal cannot write \(what)", span, hint: "export without --minimal: the full export's runtime handles it")
  }

  // MARK: emitting

  mutating func emit(_ line: String) { out.append(String(repeating: c ? "  " : "    ", count: depth) + line) }

  func line(_ s: Stmt) -> Int { file.location(of: s.span.start).line }

  func text(_ s: Stmt) -> String { str(file.text(s.span)) }

  func str(_ s: String) -> String { c ? CExporter.literal(s) : PythonExporter.literal(s) }

  mutating func block(_ stmts: [Stmt]) throws {
    for s in stmts {
      emitted += 1
      if emitted > Self.stepLimit {
        throw RuntimeError(
          "the unrolled program is longer than \(Self.stepLimit) statements", s.keywordSpan, hint: "lower the repeat count, or export without --minimal")
      }
      try statement(s)
    }
  }

  mutating func scoped(_ stmts: [Stmt]) throws {
    scopes.append([:])
    defer { scopes.removeLast() }
    try block(stmts)
  }

  /// The `=> ...` of a call as the check function takes it.
  func allowed(_ s: Stmt) -> String {
    let (codes, any, _) = ExportWriter.accepted(s)
    return str(any ? "any" : codes.joined(separator: "|"))
  }

  /// Emits a call and the line that checks it; `target` is the socket whose
  /// `.result` it sets.
  mutating func check(_ s: Stmt, _ call: String, target: String? = nil, assign: String? = nil, orDead: Bool = false) {
    let args = "\(line(s)), \(text(s)), \(call), \(allowed(s))"
    if c {
      let head = target.map { uses.contains("result") ? "\(ref($0)).result = " : "" } ?? ""
      emit("\(head)check(\(args));")
    } else {
      emit("\(assign.map { "\($0) = " } ?? "")check(\(args))\(orDead ? " or DEAD" : "")")
      if let t = target, uses.contains("result") { emit("result[\(str(t))] = LAST") }
    }
  }

  /// Calls on a socket made as another user run as that user: what
  /// leaveUser takes back.
  mutating func enterUser(_ name: String) -> Int {
    let uid = sockets[name]?.uid ?? 0
    guard uid != 0 else { return 0 }
    sections.insert("uid")
    if c {
      emit("as_user(\(uid));")
    } else {
      emit("with As(\(uid)):")
      depth += 1
    }
    return uid
  }

  mutating func leaveUser(_ uid: Int) {
    guard uid != 0 else { return }
    if c { emit("as_user(0);") } else { depth -= 1 }
  }

  mutating func comment(_ s: Stmt) {
    let t = file.text(s.span).split(separator: "\n").first.map(String.init) ?? ""
    emit(c ? "/* \(line(s)): \(CExporter.commentSafe(t)) */" : "# \(line(s)): \(t)")
  }

  mutating func statement(_ s: Stmt) throws {
    switch s.kind {
    case .socket(let r, let proto, let uid):
      let kind = SocketKind(name: proto?.text ?? "tcp") ?? SocketKind(.tcp, .inet)
      var owner = 0
      if let e = uid {
        guard case .known(.int(let v)) = try sym(e) else { throw refuse("a uid the kernel decides", e.span) }
        guard (0...4_294_967_295).contains(v) else { throw RuntimeError("uid \(v) is out of range", e.span) }
        owner = v
      }
      let n = try slotName(r)
      created(n, kind, uid: owner)
      let fam = kind.family == .inet6 ? "AF_INET6" : "AF_INET"
      let type = kind.transport == .tcp ? "SOCK_STREAM" : "SOCK_DGRAM"
      let x = ref(n)
      let u = enterUser(n)
      if c {
        emit("\(x).fd = socket(\(fam), \(type), 0);")
        check(s, "\(x).fd", target: n)
        emit("timeouts(\(x).fd);")
      } else {
        check(s, "lambda: new_socket(\(fam), \(type))", target: n, assign: x, orDead: true)
      }
      leaveUser(u)
    case .setopt(let r, let opt, let args):
      let n = try existing(r)
      for a in args where !isStatic(a) { throw refuse("an option value the kernel decides", a.span) }
      scratch.vars = knownVars()
      let o = try scratch.option(opt, args)
      let x = ref(n)
      let u = enterUser(n)
      check(s, setopt(x, o), target: n)
      leaveUser(u)
    case .bind(let r, let ep), .connect(let r, let ep):
      let n = try existing(r)
      let isBind: Bool
      if case .bind = s.kind { isBind = true } else { isBind = false }
      let u = enterUser(n)
      try addressCall(s, n, ep, isBind ? "bind" : "connect")
      leaveUser(u)
    case .listen(let r, let backlog):
      let n = try existing(r)
      var b: Int? = nil
      if let e = backlog {
        guard case .known(.int(let v)) = try sym(e) else { throw refuse("a backlog the kernel decides", e.span) }
        b = v
      }
      let x = ref(n)
      let u = enterUser(n)
      if c {
        let v = b.map { $0 > Int(Int32.max) ? "2147483647" : $0 < -Int(Int32.max) ? "-2147483647" : "\($0)" } ?? "-1"
        check(s, "listen(\(x).fd, \(v)\(b == nil ? " /* net.core.somaxconn */" : ""))", target: n)
      } else if let v = b, v >= 0, v <= Int(Int32.max) {
        check(s, "lambda: \(x).listen(\(v))", target: n)
      } else {
        check(s, "lambda: \(x).listen(int(open(\"/proc/sys/net/core/somaxconn\").read()))", target: n)
      }
      leaveUser(u)
    case .accept(let r, let into):
      let n = try existing(r)
      let m = try slotName(into)
      created(m, sockets[n]!.kind, uid: sockets[n]!.uid)
      let (x, y) = (ref(n), ref(m))
      let u = enterUser(n)
      if c {
        emit("\(y).fd = accept(\(x).fd, NULL, NULL);")
        check(s, "\(y).fd", target: m)
      } else {
        check(s, "lambda: \(x).accept()[0]", target: m, assign: y, orDead: true)
      }
      leaveUser(u)
    case .send(let r, let data):
      let n = try existing(r)
      let d = try textCode(data)
      let x = ref(n)
      let u = enterUser(n)
      if c {
        check(s, "send(\(x).fd, \(d), strlen(\(d)), MSG_NOSIGNAL)", target: n)
      } else {
        check(s, "lambda: \(x).send(\(d).encode(), socket.MSG_NOSIGNAL)", target: n)
      }
      leaveUser(u)
    case .recv(let r, let max):
      let n = try existing(r)
      var size = 65536
      if let e = max {
        guard case .known(.int(let v)) = try sym(e) else { throw refuse("a size the kernel decides", e.span) }
        guard v >= 0 else { throw RuntimeError("recv needs a positive size", e.span) }
        size = min(v, 65536)
      }
      let x = ref(n)
      let u = enterUser(n)
      if c {
        emit("{")
        depth += 1
        emit("long got = recv(\(x).fd, \(x).data, \(size), 0);")
        emit("if (got >= 0) \(x).data[got] = 0;")
        check(s, "got", target: n)
        depth -= 1
        emit("}")
      } else {
        receives = true
        check(s, "lambda: \(x).recv(\(size))", target: n, assign: "got")
        emit("if got is not None: data[\(str(n))] = got.decode(errors=\"replace\")")
      }
      leaveUser(u)
    case .sendto(let r, let ep, let data):
      let n = try existing(r)
      let u = enterUser(n)
      try addressCall(s, n, ep, "sendto", data: try textCode(data))
      leaveUser(u)
    case .recvfrom(let r):
      let n = try existing(r)
      let x = ref(n)
      let u = enterUser(n)
      if c {
        emit("{")
        depth += 1
        emit("long got = recvfrom(\(x).fd, \(x).data, 65536, 0, (struct sockaddr *)&\(x).from, &(socklen_t){sizeof \(x).from});")
        emit("if (got >= 0) \(x).data[got] = 0;")
        check(s, "got", target: n)
        depth -= 1
        emit("}")
      } else {
        receives = true
        check(s, "lambda: \(x).recvfrom(65536)", target: n, assign: "got")
        emit("if got is not None: data[\(str(n))], origin[\(str(n))] = got[0].decode(errors=\"replace\"), got[1]")
      }
      leaveUser(u)
    case .shutdown(let r, let how):
      let n = try existing(r)
      let h = how.text == "rd" ? "SHUT_RD" : how.text == "wr" ? "SHUT_WR" : "SHUT_RDWR"
      let x = ref(n)
      let u = enterUser(n)
      check(s, c ? "shutdown(\(x).fd, \(h))" : "lambda: \(x).shutdown(socket.\(h))", target: n)
      leaveUser(u)
    case .close(let r):
      let n = try existing(r)
      let x = ref(n)
      if needsNames {
        sections.insert("names")
        emit(c ? "keep(&\(x));" : "keep(\(x))")
      }
      let u = enterUser(n)
      if c {
        check(s, "close(\(x).fd)", target: n)
        emit("\(x).fd = -1;")
      } else {
        check(s, "lambda: os.close(\(x).detach())", target: n)
      }
      leaveUser(u)
    case .sleep(let d):
      guard case .known(let v) = try sym(d) else { throw refuse("a sleep the kernel decides", d.span) }
      guard case .duration(let ms) = v else { throw RuntimeError("sleep needs a duration", d.span, hint: "e.g. 'sleep 65s'") }
      comment(s)
      if c {
        emit("nanosleep(&(struct timespec){\(ms / 1000), \((ms % 1000) * 1_000_000)}, NULL);")
      } else {
        emit("time.sleep(\(Double(ms) / 1000))")
      }
    case .sysctl(let key, let parts, _):
      sections.insert("sysctl")
      let path = "/proc/sys/" + String(key.text.map { $0 == "." ? "/" : $0 })
      let v = try template(parts, newline: true)
      check(s, c ? "write_sysctl(\(str(path)), \(v))" : "lambda: write_sysctl(\(str(path)), \(v))")
    case .addrAdd(let parts, let span):
      for case .expr(let e) in parts where !isStatic(e) { throw refuse("an address the kernel decides", e.span) }
      scratch.vars = knownVars()
      let t = try scratch.render(parts)
      guard let (addr, prefix) = AddressSpec.parse(t) else {
        throw RuntimeError("malformed address '\(t)'", span, hint: "write e.g. 127.0.0.2, 10.1.0.1/24 or [fd00::1]/64")
      }
      sections.insert("addr")
      let call = "addr_add(\(addr.isV4 ? "AF_INET" : "AF_INET6"), \(str(addr.description)), \(prefix))"
      check(s, c ? call : "lambda: " + call)
    case .ulimit(_, let e):
      guard case .known(.int(let v)) = try sym(e) else { throw refuse("a limit the kernel decides", e.span) }
      if c {
        emit("{")
        depth += 1
        emit("struct rlimit rl;")
        emit("getrlimit(RLIMIT_NOFILE, &rl);")
        emit("rl.rlim_cur = \(v);")
        emit("rl.rlim_max = rl.rlim_max > \(v) ? rl.rlim_max : \(v);")
        check(s, "setrlimit(RLIMIT_NOFILE, &rl)")
        depth -= 1
        emit("}")
      } else {
        sections.insert("ulimit")
        check(s, "lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (\(v), max(\(v), resource.getrlimit(resource.RLIMIT_NOFILE)[1])))")
      }
    case .letVar(let name, let e):
      let v = try sym(e)
      try assign(name.text, v, e.span)
    case .expect(let e):
      let v = try sym(e)
      let cond: String
      switch v {
      case .known(.bool(let b)): cond = c ? (b ? "1" : "0") : (b ? "True" : "False")
      case .known(let other): throw RuntimeError("expect needs a comparison, but this is \(other.aTypeName)", e.span)
      case .code(let t, .bool): cond = t
      case .code: throw RuntimeError("expect needs a comparison", e.span)
      }
      emit(c ? "expect(\(line(s)), \(text(s)), \(cond));" : "expect(\(line(s)), \(text(s)), \(cond))")
    case .repeatLoop(let count, let v, let body):
      guard case .known(let cv) = try sym(count) else { throw refuse("a repeat count the kernel decides", count.span) }
      guard case .int(let n) = cv else { throw RuntimeError("repeat needs an integer count, not \(cv.aTypeName)", count.span) }
      guard n >= 0 else { throw RuntimeError("repeat needs a count of 0 or more, got \(n)", count.span) }
      let name = v?.text ?? "i"
      for k in 0..<n {
        scopes.append([name: .known(.int(k))])
        defer { scopes.removeLast() }
        try block(body)
      }
    case .ifElse(let branches, let elseBody):
      try ifElse(s, branches, elseBody)
    case .print(let items):
      let vs = try items.map { try sym($0) }
      if c {
        var fmt = ""
        var args: [String] = []
        for (k, v) in vs.enumerated() {
          if k > 0 { fmt += " " }
          switch v {
          case .known(let x): fmt += x.text.split(separator: "%", omittingEmptySubsequences: false).joined(separator: "%%")
          case .code(let t, let kind):
            if kind.isText {
              fmt += "%s"
              args.append(t)
            } else if kind == .state {
              fmt += "%s"
              args.append("state_name(\(t))")
            } else if kind == .result {
              fmt += "%s"
              args.append("(\(t) ? strerrorname_np(\(t)) : \"ok\")")
            } else if kind == .version {
              throw refuse("the kernel's release in print", items[k].span)
            } else {
              fmt += kind == .bool ? "%s" : "%lld"
              args.append(kind == .bool ? "(\(t) ? \"true\" : \"false\")" : "(long long)(\(t))")
            }
          }
        }
        emit("printf(\(str(fmt + "\n"))\(args.map { ", " + $0 }.joined()));")
      } else {
        let parts = try vs.enumerated().map { k, v -> String in
          switch v {
          case .known(let x): return str(x.text)
          case .code(let t, .bool): return "(\"true\" if \(t) else \"false\")"
          case .code(_, .version): throw refuse("the kernel's release in print", items[k].span)
          case .code(let t, _): return t
          }
        }
        emit("print(\(parts.joined(separator: ", ")))")
      }
    case .show:
      comment(s)
      emit(c ? "if (system(\"ss -tuan\")) {}" : "os.system(\"ss -tuan\")")
    }
  }

  /// Whether a closed socket's endpoints may be read (its state after
  /// close is looked up by them).
  var needsNames: Bool { !uses.isDisjoint(with: ["state", "count(", "local", "remote", "laddr", "raddr", "lport", "rport"]) }

  // MARK: calls with an endpoint

  /// bind, connect or sendto: the sockaddr written out when the scenario
  /// fixes it, else made from the text of what the kernel decided.
  mutating func addressCall(_ s: Stmt, _ n: String, _ ep: EndpointSyntax, _ call: String, data: String? = nil) throws {
    let x = ref(n)
    let kind = sockets[n]!.kind
    if let e = try staticEndpoint(ep) {
      let v6 = !e.addr.isV4
      if c {
        emit("{")
        depth += 1
        if v6 {
          emit("struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_port = htons(\(e.port))};")
          emit("inet_pton(AF_INET6, \(str(e.addr.description)), &sa.sin6_addr);")
        } else {
          emit("struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(\(e.port)), .sin_addr.s_addr = inet_addr(\(str(e.addr.description)))};")
        }
        let head = call == "sendto" ? "sendto(\(x).fd, \(data!), strlen(\(data!)), MSG_NOSIGNAL, " : "\(call)(\(x).fd, "
        check(s, head + "(struct sockaddr *)&sa, sizeof sa)", target: n)
        depth -= 1
        emit("}")
      } else {
        let host = str(e.addr.description)
        if v6 != (kind.family == .inet6) {
          sections.insert("foreign")
          check(s, "lambda: raw(\"\(call)\", \(x), \(host), \(e.port)\(data.map { ", \($0).encode()" } ?? ""))", target: n)
        } else if call == "sendto" {
          check(s, "lambda: \(x).sendto(\(data!).encode(), socket.MSG_NOSIGNAL, (\(host), \(e.port)))", target: n)
        } else {
          check(s, "lambda: \(x).\(call)((\(host), \(e.port)))", target: n)
        }
      }
      return
    }
    let text = try endpointText(ep)
    sections.insert("endpoint")
    if c {
      emit("{")
      depth += 1
      emit("struct sockaddr_storage sa;")
      emit("socklen_t len = sockaddr_of(\(text), &sa);")
      let head = call == "sendto" ? "sendto(\(x).fd, \(data!), strlen(\(data!)), MSG_NOSIGNAL, " : "\(call)(\(x).fd, "
      check(s, head + "(struct sockaddr *)&sa, len)", target: n)
      depth -= 1
      emit("}")
    } else if call == "sendto" {
      check(s, "lambda: \(x).sendto(\(data!).encode(), socket.MSG_NOSIGNAL, endpoint(\(text)))", target: n)
    } else {
      check(s, "lambda: \(x).\(call)(endpoint(\(text)))", target: n)
    }
  }

  /// The endpoint, when nothing in it is the kernel's to decide.
  mutating func staticEndpoint(_ ep: EndpointSyntax) throws -> Endpoint? {
    var parts: [Expr] = []
    if case .expr(let e) = ep.host { parts.append(e) }
    if case .expr(let e) = ep.port { parts.append(e) }
    guard parts.allSatisfy(isStatic) else { return nil }
    scratch.vars = knownVars()
    return try scratch.endpoint(ep)
  }

  /// An endpoint with a part the kernel decides, as text code.
  mutating func endpointText(_ ep: EndpointSyntax) throws -> String {
    if case .inHost = ep.port, case .expr(let e) = ep.host {
      switch try sym(e) {
      case .code(let t, .endpoint): return t
      case .known(.endpoint(let v)): return str(v.description)
      default: throw RuntimeError("this is not an endpoint", ep.hostSpan, hint: "add a port, e.g. $(a.laddr):80, or interpolate an endpoint such as $(a.remote)")
      }
    }
    let host: String
    switch ep.host {
    case .ipv4(let s), .ipv6(let s): host = str(s)
    case .expr(let e):
      switch try sym(e) {
      case .known(.address(let a)): host = str(a.description)
      case .code(let t, .address), .code(let t, .string): host = t
      default: throw RuntimeError("this is not an address", e.span, hint: "interpolate an address, e.g. $(a.laddr)")
      }
    }
    let port: String
    switch ep.port {
    case .number(let p): port = "\(p)"
    case .inHost: port = "0"
    case .expr(let e):
      switch try sym(e) {
      case .known(.int(let p)): port = "\(p)"
      case .code(let t, .int): port = t
      default: throw RuntimeError("a port needs an integer", e.span)
      }
    }
    return "join(\(host), \(port))"
  }

  /// setsockopt as written in C or Python.
  mutating func setopt(_ x: String, _ o: SocketOption) -> String {
    func flag(_ b: Bool) -> String { b ? "1" : "0" }
    if c {
      func int(_ level: String, _ name: String, _ v: Bool) -> String { "setsockopt(\(x).fd, \(level), \(name), &(int){\(flag(v))}, sizeof(int))" }
      switch o {
      case .reuseaddr(let v): return int("SOL_SOCKET", "SO_REUSEADDR", v)
      case .reuseport(let v): return int("SOL_SOCKET", "SO_REUSEPORT", v)
      case .bindAddressNoPort(let v):
        sections.insert("ipopts")
        return int("IPPROTO_IP", "IP_BIND_ADDRESS_NO_PORT", v)
      case .v6only(let v): return int("IPPROTO_IPV6", "IPV6_V6ONLY", v)
      case .freebind(let v): return int("IPPROTO_IP", "IP_FREEBIND", v)
      case .nonblock(let v): return "fcntl(\(x).fd, F_SETFL, fcntl(\(x).fd, F_GETFL) \(v ? "| O_NONBLOCK" : "& ~O_NONBLOCK"))"
      case .linger(let s):
        return "setsockopt(\(x).fd, SOL_SOCKET, SO_LINGER, &(struct linger){\(s == nil ? 0 : 1), \(s ?? 0)}, sizeof(struct linger))"
      case .localPortRange(let lo, let hi):
        sections.insert("ipopts")
        return "setsockopt(\(x).fd, IPPROTO_IP, IP_LOCAL_PORT_RANGE, &(unsigned){\(lo) | \(hi)u << 16}, sizeof(unsigned))"
      case .bindToDevice(let d): return "setsockopt(\(x).fd, SOL_SOCKET, SO_BINDTODEVICE, \(str(d)), \(d.utf8.count + 1))"
      }
    }
    func int(_ level: String, _ name: String, _ v: Bool) -> String { "lambda: \(x).setsockopt(\(level), \(name), \(flag(v)))" }
    switch o {
    case .reuseaddr(let v): return int("SOL_SOCKET", "socket.SO_REUSEADDR", v)
    case .reuseport(let v): return int("SOL_SOCKET", "socket.SO_REUSEPORT", v)
    case .bindAddressNoPort(let v):
      sections.insert("ipopts")
      return int("IPPROTO_IP", "IP_BIND_ADDRESS_NO_PORT", v)
    case .v6only(let v): return int("IPPROTO_IPV6", "socket.IPV6_V6ONLY", v)
    case .freebind(let v):
      sections.insert("ipopts")
      return int("IPPROTO_IP", "IP_FREEBIND", v)
    case .nonblock(let v): return "lambda: \(x).setblocking(\(v ? "False" : "True"))"
    case .linger(let s): return "lambda: \(x).setsockopt(SOL_SOCKET, socket.SO_LINGER, struct.pack(\"ii\", \(s == nil ? 0 : 1), \(s ?? 0)))"
    case .localPortRange(let lo, let hi):
      sections.insert("ipopts")
      return "lambda: \(x).setsockopt(IPPROTO_IP, IP_LOCAL_PORT_RANGE, struct.pack(\"I\", \(lo) | \(hi) << 16))"
    case .bindToDevice(let d):
      sections.insert("ipopts")
      return "lambda: \(x).setsockopt(SOL_SOCKET, SO_BINDTODEVICE, \(str(d)).encode() + b\"\\0\")"
    }
  }

  /// A sysctl value or other template as a string expression.
  mutating func template(_ parts: [TemplatePart], newline: Bool) throws -> String {
    if parts.allSatisfy({ if case .expr(let e) = $0 { return isStatic(e) } else { return true } }) {
      scratch.vars = knownVars()
      return str(try scratch.render(parts) + (newline ? "\n" : ""))
    }
    throw refuse("a sysctl value the kernel decides", parts.compactMap { if case .expr(let e) = $0 { return e.span } else { return nil } }.first!)
  }

  /// Data to send, as a string expression.
  mutating func textCode(_ e: Expr) throws -> String {
    switch try sym(e) {
    case .known(let v): return str(v.text)
    case .code(let t, let k) where k.isText: return t
    default: throw refuse("data of this kind the kernel decides", e.span)
    }
  }

  // MARK: conditionals

  mutating func ifElse(_ s: Stmt, _ branches: [IfBranch], _ elseBody: [Stmt]?) throws {
    var opened = false
    for b in branches {
      let v = try sym(b.condition)
      switch v {
      case .known(.bool(let t)):
        if !t { continue }
        if opened {
          emit(c ? "} else {" : "else:")
          depth += 1
          try scoped(b.body)
          depth -= 1
          if c { emit("}") }
        } else {
          try scoped(b.body)
        }
        return
      case .code(let t, .bool):
        if !opened {
          // What a branch may assign must be held by the program.
          try materialize(assigned(in: branches.map(\.body) + [elseBody ?? []]), s)
        }
        emit(c ? "\(opened ? "} else " : "")if (\(t)) {" : "\(opened ? "elif" : "if") \(t):")
        opened = true
        depth += 1
        try scoped(b.body)
        if !c && out.last?.hasSuffix(":") == true { emit("pass") }
        depth -= 1
      case .known(let other):
        throw RuntimeError("'if' needs a condition, but this is \(other.aTypeName)", b.condition.span)
      case .code:
        throw RuntimeError("'if' needs a condition", b.condition.span)
      }
    }
    if let body = elseBody {
      if opened {
        emit(c ? "} else {" : "else:")
        depth += 1
        try scoped(body)
        if !c && out.last?.hasSuffix(":") == true { emit("pass") }
        depth -= 1
      } else {
        try scoped(body)
        return
      }
    }
    if opened && c { emit("}") }
  }

  /// Names a `let` in these bodies may assign (at any depth).
  func assigned(in bodies: [[Stmt]]) -> [String] {
    var names: [String] = []
    func walk(_ ss: [Stmt]) {
      for s in ss {
        switch s.kind {
        case .letVar(let w, _): names.append(w.text)
        case .repeatLoop(_, _, let b): walk(b)
        case .ifElse(let bs, let e):
          bs.forEach { walk($0.body) }
          walk(e ?? [])
        default: break
        }
      }
    }
    bodies.forEach(walk)
    return names
  }

  /// Makes each existing variable among these one the program holds.
  mutating func materialize(_ names: [String], _ s: Stmt) throws {
    for n in names {
      guard let k = scopes.lastIndex(where: { $0[n] != nil }), case .known(let v) = scopes[k][n]! else { continue }
      guard let kind = Self.kind(of: v) else { throw refuse("a \(v.typeName) that a condition the kernel decides may change", s.keywordSpan) }
      let id = declare(n, kind, s.keywordSpan)
      emit(c ? "\(id) = \(code(v));" : "\(id) = \(code(v))")
      scopes[k][n] = .code(id, kind)
    }
  }

  mutating func declare(_ name: String, _ kind: Kind, _ span: Span) -> String {
    if let d = declared[name], d.kind == kind { return d.ident }
    var id = ident(name)
    if let d = declared[name], d.kind != kind { id = ident(name + "_\(declared.count)") }
    declared[name] = (id, kind)
    return id
  }

  /// `let`: assigns the innermost variable of that name, else makes one.
  mutating func assign(_ name: String, _ v: Sym, _ span: Span) throws {
    let k = scopes.lastIndex { $0[name] != nil } ?? scopes.count - 1
    switch (scopes[k][name], v) {
    case (.code(let id, let kind)?, _):
      let (t, vk) = try code(v, span)
      guard vk == kind || (kind.isText && vk.isText) else { throw refuse("a variable that changes its kind (\(kind) to \(vk))", span) }
      emit(c ? "\(id) = \(kind.isText ? "strdup(\(t))" : t);" : "\(id) = \(t)")
    case (_, .known):
      scopes[k][name] = v
    case (_, .code(let t, let kind)):
      if kind == .version { throw refuse("the kernel's release in a variable", span) }
      let id = declare(name, kind, span)
      emit(c ? "\(id) = \(kind.isText ? "strdup(\(t))" : t);" : "\(id) = \(t)")
      scopes[k][name] = .code(id, kind)
    }
  }

  // MARK: expressions

  func knownVars() -> [String: Value] {
    var vars: [String: Value] = [:]
    for scope in scopes {
      for (n, v) in scope {
        if case .known(let x) = v { vars[n] = x } else { vars[n] = nil }
      }
    }
    return vars
  }

  func lookup(_ n: String) -> Sym? {
    for scope in scopes.reversed() { if let v = scope[n] { return v } }
    return nil
  }

  /// Whether the script alone decides the expression's value.
  func isStatic(_ e: Expr) -> Bool {
    switch e.kind {
    case .int, .bool, .string, .duration, .ipv4, .ipv6, .version: return true
    case .endpoint(let ep):
      if case .expr(let h) = ep.host, !isStatic(h) { return false }
      if case .expr(let p) = ep.port, !isStatic(p) { return false }
      return true
    case .name(let n):
      if let v = lookup(n) {
        if case .known = v { return true }
        return false
      }
      return n != "kernel"
    case .property, .call: return false
    case .binary(_, let a, let b): return isStatic(a) && isStatic(b)
    case .unary(_, let a): return isStatic(a)
    case .inRange(let a, let b, let d): return isStatic(a) && isStatic(b) && isStatic(d)
    }
  }

  static func kind(of v: Value) -> Kind? {
    switch v {
    case .int: return .int
    case .bool: return .bool
    case .state: return .state
    case .result: return .result
    case .string: return .string
    case .endpoint: return .endpoint
    case .address: return .address
    default: return nil
    }
  }

  /// A known value as code of its kind.
  func code(_ v: Value) -> String {
    switch v {
    case .int(let i): return "\(i)"
    case .bool(let b): return c ? (b ? "1" : "0") : (b ? "True" : "False")
    case .state(let s): return c ? s.rawValue : str(s.rawValue)
    case .result(let e): return c ? (e?.name ?? "0") : str(e?.name ?? "ok")
    case .address(let a): return str(a.description)
    case .endpoint(let e): return str(e.description)
    default: return str(v.text)
    }
  }

  func code(_ s: Sym, _ span: Span) throws -> (String, Kind) {
    switch s {
    case .code(let t, let k): return (t, k)
    case .known(let v):
      guard let k = Self.kind(of: v) else { throw refuse("a \(v.typeName) next to a value the kernel decides", span) }
      return (code(v), k)
    }
  }

  mutating func sym(_ e: Expr) throws -> Sym {
    if isStatic(e) {
      scratch.vars = knownVars()
      return .known(try scratch.eval(e))
    }
    switch e.kind {
    case .name(let n):
      if let v = lookup(n) { return v }
      if n == "kernel" { return .code("kernel", .version) }
      throw RuntimeError("unknown name '\(n)'", e.span)
    case .property(let r, let p, let span):
      let n = try existing(r)
      let x = ref(n)
      if p == "state" {
        sections.formUnion(["names", "state"])
        return .code(c ? "state_of(&\(x), all)" : "state_of(\(x), every())", .state)
      }
      if p == "result" { return .code(c ? "\(x).result" : "result.get(\(str(n)), \"ok\")", .result) }
      if p == "data" { return .code(c ? "\(x).data" : "data.get(\(str(n)), \"\")", .string) }
      sections.insert("names")
      if p == "from" { return .code(c ? "ep_text(&\(x).from, 1)" : "ep_text(origin.get(\(str(n))))", .endpoint) }
      let peer = p.hasPrefix("r")
      let flag = c ? (peer ? "1" : "0") : (peer ? "True" : "False")
      let target = c ? "&\(x)" : x
      switch p {
      case "lport", "rport": return .code("port_of(\(target), \(flag))", .int)
      case "laddr", "raddr": return .code(c ? "ep_text(name_of(\(target), \(flag)), 0)" : "host_of(\(target), \(flag))", .address)
      case "local", "remote": return .code(c ? "ep_text(name_of(\(target), \(flag)), 1)" : "ep_text(name_of(\(target), \(flag)))", .endpoint)
      default: throw RuntimeError("unknown property '\(p)'", span)
      }
    case .call(_, let args):
      guard case .name(let n) = args.first?.kind, let st = SockState(rawValue: n) else { throw RuntimeError("count() takes a state name", e.span) }
      sections.formUnion(["names", "state"])
      return .code(c ? "count(\(st.rawValue), all)" : "count(\(str(st.rawValue)), every())", .int)
    case .unary(.neg, let a):
      let (t, k) = try code(try sym(a), a.span)
      guard k == .int else { throw RuntimeError("cannot negate this", a.span) }
      return .code("(-\(t))", .int)
    case .unary(.not, let a):
      let (t, k) = try code(try sym(a), a.span)
      guard k == .bool else { throw RuntimeError("'not' needs a comparison", a.span) }
      return .code(c ? "!(\(t))" : "(not \(t))", .bool)
    case .inRange(let a, let lo, let hi):
      let x = try int(a)
      let l = try int(lo)
      let h = try int(hi)
      return .code(c ? "(\(x) >= \(l) && \(x) <= \(h))" : "(\(l) <= \(x) <= \(h))", .bool)
    case .binary(let op, let a, let b):
      return try binary(op, a, b, e.span)
    case .endpoint(let ep):
      let t = try endpointText(ep)
      sections.insert("endpoint")
      return .code(t, .endpoint)
    default:
      throw refuse("this expression", e.span)
    }
  }

  mutating func int(_ e: Expr) throws -> String {
    let (t, k) = try code(try sym(e), e.span)
    guard k == .int else { throw RuntimeError("this needs an integer", e.span) }
    return t
  }

  mutating func binary(_ op: BinaryOp, _ a: Expr, _ b: Expr, _ span: Span) throws -> Sym {
    if op == .and || op == .or {
      let x = try sym(a)
      if case .known(.bool(let v)) = x {
        if op == .and && !v { return x }
        if op == .or && v { return x }
        return try sym(b)
      }
      let (p, pk) = try code(x, a.span)
      let (q, qk) = try code(try sym(b), b.span)
      guard pk == .bool, qk == .bool else { throw RuntimeError("'\(op.rawValue)' needs comparisons on both sides", span) }
      return .code(c ? "(\(p) \(op == .and ? "&&" : "||") \(q))" : "(\(p) \(op.rawValue) \(q))", .bool)
    }
    if let k = kernelComparison(op, a, b) { return .code(k, .bool) }
    let (p, pk) = try code(try sym(a), a.span)
    let (q, qk) = try code(try sym(b), b.span)
    switch op {
    case .eq, .ne:
      if pk.isText && qk.isText {
        return .code(c ? "(\(op == .eq ? "!" : "")strcmp(\(p), \(q)))" : "(\(p) \(op.rawValue) \(q))", .bool)
      }
      guard pk == qk else { throw RuntimeError("cannot compare these", span) }
      return .code("(\(p) \(op.rawValue) \(q))", .bool)
    case .lt, .le, .gt, .ge:
      guard pk == .int, qk == .int else { throw refuse("this comparison", span) }
      return .code("(\(p) \(op.rawValue) \(q))", .bool)
    case .add, .sub, .mul:
      guard pk == .int, qk == .int else { throw refuse("this arithmetic on a value the kernel decides", span) }
      return .code("(\(p) \(op.rawValue) \(q))", .int)
    default:
      guard pk == .int, qk == .int else { throw refuse("this arithmetic on a value the kernel decides", span) }
      if c { return .code("(\(p) \(op.rawValue) \(q))", .int) }
      sections.insert("arith")
      return .code("\(op == .div ? "tdiv" : "tmod")(\(p), \(q))", .int)
    }
  }

  /// `kernel OP 6.18` (either way round) as a test of the running kernel.
  mutating func kernelComparison(_ op: BinaryOp, _ a: Expr, _ b: Expr) -> String? {
    func isKernel(_ e: Expr) -> Bool {
      if case .name("kernel") = e.kind { return lookup("kernel") == nil }
      return false
    }
    var op = op
    let literal: String
    if case .version(let s) = b.kind, isKernel(a) {
      literal = s
    } else if case .version(let s) = a.kind, isKernel(b) {
      literal = s
      op = [.lt: .gt, .le: .ge, .gt: .lt, .ge: .le][op] ?? op
    } else {
      return nil
    }
    guard let v = KernelVersion(literal) else { return nil }
    sections.insert("kernel")
    return "(kernel_cmp(\(v.major), \(v.minor), \(v.patch ?? -1)) \(op.rawValue) 0)"
  }
}

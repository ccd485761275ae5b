import SockKernel
import SockSyntax

/// Where the REPL's lines come from: readline on a terminal, plain stdin in
/// a pipe, a list of lines in tests.
public protocol LineReader: AnyObject {
  /// The next line without its newline, or nil at end of input (Ctrl-D).
  func readLine(prompt: String) -> String?
}

/// The REPL's state and line handling, independent of the terminal: the
/// statements typed so far, a continuation buffer for open `repeat { ... }`
/// blocks, meta commands, and what `.save` writes.
public final class ReplSession {
  public enum BackendKind: String, CaseIterable, Sendable {
    case sim
    case real
  }

  let out: OutputSink
  let err: OutputSink
  let seed: UInt64
  let makeBackend: (BackendKind, KernelVersion?) throws -> KernelBackend
  public private(set) var backendKind: BackendKind
  /// The Linux version asked for (`--kernel`, `.kernel`); nil: the default.
  public private(set) var kernel: KernelVersion?
  public private(set) var backend: KernelBackend?
  var interp: Interpreter?
  let recorder: RecordingReporter
  var declared: [String: Bool] = [:]
  var vars: Set<String> = []
  /// Accepted statements, in order, with the file they came from.
  var accepted: [(Stmt, SourceFile)] = []
  var pending = ""
  var chunk = 0
  /// Set by the terminal's Ctrl-C handler; checked between statements.
  public var interrupted: () -> Bool = { false }

  public init(
    backend kind: BackendKind, kernel: KernelVersion? = nil, seed: UInt64, out: OutputSink, err: OutputSink,
    makeBackend: @escaping (BackendKind, KernelVersion?) throws -> KernelBackend
  ) {
    self.kernel = kernel
    self.out = out
    self.err = err
    self.seed = seed
    self.backendKind = kind
    self.makeBackend = makeBackend
    self.recorder = RecordingReporter(inner: TextReporter(out: out, err: err))
  }

  public var prompt: String { pending.isEmpty ? "sock> " : "....> " }

  /// The socket names that exist now (for completion).
  public var socketNames: [String] { interp.map { $0.sockets.filter { $0.value.id != nil }.keys.sorted() } ?? [] }

  /// Starts (or restarts) on a backend; false when it cannot run.
  @discardableResult
  public func start(_ kind: BackendKind, kernel version: KernelVersion?? = .none) -> Bool {
    close()
    let wanted = version ?? kernel
    do {
      let b = try makeBackend(kind, wanted)
      backend = b
      backendKind = kind
      kernel = wanted
      let empty = Program(statements: [])
      let i = Interpreter(
        file: SourceFile(name: "repl", text: ""), program: empty, backend: b, reporter: recorder, options: RunOptions(keepGoing: true, seed: seed, exploring: true))
      i.interrupted = { [unowned self] in self.interrupted() }
      interp = i
      out.write("sockscript repl: backend \(b.backendName) (\(b.kernelName)), seed \(seed). Type .help for help, .quit to leave.\n")
      return true
    } catch let e as BackendUnavailable {
      err.write("the \(kind.rawValue) backend cannot run: \(e.message)\n  hint: \(e.hint)\n")
    } catch {
      err.write("the \(kind.rawValue) backend cannot run: \(error)\n")
    }
    return false
  }

  /// Closes every descriptor of the current backend and forgets its state.
  public func close() {
    backend?.shutdownBackend()
    backend = nil
    interp = nil
    declared = [:]
    vars = []
    accepted = []
    pending = ""
  }

  /// Handles one line; returns false when the session should end.
  public func feed(_ line: String) -> Bool {
    if pending.isEmpty {
      let t = line.trimmed
      if t.hasPrefix(".") { return meta(t) }
      if t.isEmpty { return true }
    }
    pending += (pending.isEmpty ? "" : "\n") + line
    if openBraces(pending) > 0 { return true }
    let text = pending
    pending = ""
    run(text, name: "repl")
    return true
  }

  /// How many `{` are still open (a `repeat` block continues on more lines).
  func openBraces(_ text: String) -> Int {
    var lx = Lexer(SourceFile(name: "repl", text: text))
    var depth = 0
    while true {
      let t = lx.next()
      if t.kind == .eof { return depth }
      if t.kind == .lbrace { depth += 1 }
      if t.kind == .rbrace { depth -= 1 }
    }
  }

  /// Parses, checks and runs a chunk of statements; a chunk with an error
  /// changes nothing.
  func run(_ text: String, name: String) {
    guard let interp = interp else {
      err.write("no backend is running; use .backend sim\n")
      return
    }
    chunk += 1
    let file = SourceFile(name: name, text: text)
    let (program, syntax) = Parser.parse(file)
    var checker = Checker(file: file)
    checker.declared = declared
    checker.everDeclared = declared
    checker.vars = vars
    checker.collect(program.statements)
    checker.block(program.statements)
    let diags = Diagnostic.combine(syntax: syntax, checks: checker.diags)
    if !diags.isEmpty {
      err.write(DiagnosticRenderer.render(diags, in: file))
      return
    }
    interp.setChunk(file)
    for s in program.statements {
      let code = interp.runMore([s])
      if code >= 2 { break }
      accepted.append((s, file))
      // What the statement declared is known from now on.
      var c = Checker(file: file)
      c.declared = declared
      c.vars = vars
      c.everDeclared = declared
      c.collect([s])
      c.block([s])
      declared = c.declared
      vars = c.vars
    }
  }

  // MARK: meta commands

  static let metaCommands = [".help", ".show", ".backend", ".kernel", ".reset", ".save", ".load", ".quit"]

  func meta(_ line: String) -> Bool {
    let words = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
    let arg = words.count > 1 ? words[1...].joined(separator: " ") : nil
    switch words[0] {
    case ".quit", ".exit":
      return false
    case ".help":
      out.write(ReplHelp.text(topic: arg))
    case ".show":
      if let i = interp { recorder.inner.show(i.showRows()) }
    case ".reset":
      start(backendKind)
    case ".backend":
      guard let a = arg, let k = BackendKind(rawValue: a) else {
        err.write(".backend takes sim or real\n")
        return true
      }
      start(k)
    case ".kernel":
      guard let a = arg, let v = KernelVersion(a), KernelVersion.profile(for: v) != nil else {
        err.write(".kernel takes a version: \(KernelVersion.profiles.map { $0.line.description }.joined(separator: ", "))\n")
        return true
      }
      start(backendKind, kernel: .some(v.line))
    case ".save":
      guard let path = arg else {
        err.write(".save takes a file name\n")
        return true
      }
      if let e = ReplFiles.write(path, saveText()) {
        err.write("cannot write '\(path)': \(e)\n")
      } else {
        out.write("saved \(accepted.count) statements to \(path)\n")
      }
    case ".load":
      guard let path = arg else {
        err.write(".load takes a file name\n")
        return true
      }
      guard let text = ReplFiles.read(path) else {
        err.write("cannot read '\(path)'\n")
        return true
      }
      run(text, name: path)
    default:
      err.write("unknown command '\(words[0])'\(Suggest.hint(for: words[0], in: ReplSession.metaCommands).map { "; \($0)" } ?? ""); .help lists the commands\n")
    }
    return true
  }

  // MARK: .save

  /// The session as a runnable scenario: each accepted statement, every call
  /// annotated with the result it got, so `sockscript run` replays and checks it.
  public func saveText() -> String {
    let k = kernel.map { ", kernel \($0)" } ?? ""
    var out = "# Saved by sockscript repl (backend \(backendKind.rawValue)\(k), seed \(seed)).\n"
    out += "# Replay: sockscript run FILE\(seed == 0 ? "" : " --seed \(seed)")\(kernel.map { " --kernel \($0)" } ?? "")\n"
    for (s, file) in accepted { out += annotated(s, file, indent: "") + "\n" }
    return out
  }

  func annotated(_ s: Stmt, _ file: SourceFile, indent: String) -> String {
    if case .repeatLoop(let count, let v, let body) = s.kind {
      var text = indent + "repeat \(file.text(count.span))\(v.map { " as \($0.text)" } ?? "") {\n"
      for b in body { text += annotated(b, file, indent: indent + "  ") + "\n" }
      return text + indent + "}"
    }
    if case .ifElse(let branches, let elseBody) = s.kind {
      var text = ""
      for (k, b) in branches.enumerated() {
        text += (k == 0 ? indent + "if " : " else if ") + file.text(b.condition.span) + " {\n"
        for st in b.body { text += annotated(st, file, indent: indent + "  ") + "\n" }
        text += indent + "}"
      }
      if let body = elseBody {
        text += " else {\n"
        for st in body { text += annotated(st, file, indent: indent + "  ") + "\n" }
        text += indent + "}"
      }
      return text
    }
    let results = recorder.results[ObjectIdentifier(s)] ?? []
    if case .expect = s.kind, recorder.failedExpects.contains(ObjectIdentifier(s)) {
      return indent + "# " + file.text(s.span) + "    (did not hold in the session)"
    }
    guard s.isCall else { return indent + file.text(s.span) }
    let base = file.text(Span(s.span.start, s.result?.span.start ?? s.span.end)).trimmed
    var unique: [String] = []
    for r in results where !unique.contains(r) { unique.append(r) }
    if unique.isEmpty || unique == ["ok"] { return indent + base }
    return indent + base + " => " + unique.joined(separator: "|")
  }
}

/// Passes events to the text reporter and remembers, per statement, the
/// results its executions got (for `.save`).
final class RecordingReporter: Reporter {
  let inner: TextReporter
  var results: [ObjectIdentifier: [String]] = [:]
  var failedExpects: Set<ObjectIdentifier> = []
  init(inner: TextReporter) { self.inner = inner }
  var wantsTime: Bool { false }
  func begin(file: String, backend: KernelBackend, seed: UInt64) {}
  func step(_ e: StepEvent) {
    inner.step(e)
    let s = ObjectIdentifier(e.stmt)
    if let r = e.result { results[s, default: []].append(r) }
    if e.keyword == .expect && !e.pass { failedExpects.insert(s) }
  }
  func printed(_ values: [Value]) { inner.printed(values) }
  func show(_ rows: [ShowRow]) { inner.show(rows) }
  func error(_ rendered: String) { inner.error(rendered) }
  func end(_ s: RunSummary) {}
}

/// File access for `.save` and `.load` (no Foundation in this module).
public enum ReplFiles {
  nonisolated(unsafe) public static var write: (String, String) -> String? = { _, _ in "file access is not set up" }
  nonisolated(unsafe) public static var read: (String) -> String? = { _ in nil }
}

/// Tab completion that knows the language.
public enum Completer {
  static let socketStatements = Set(Keyword.allCases.filter(\.takesSocket).map(\.word))

  /// The words that may complete `prefix`, the partial word at the end of `line`.
  public static func complete(_ line: String, sockets: [String]) -> [String] {
    // Only the current statement matters (after the last ';').
    let stmt = line.split(separator: ";", omittingEmptySubsequences: false).last.map(String.init) ?? line
    var words = stmt.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
    let partial = stmt.hasSuffix(" ") || stmt.isEmpty ? "" : (words.popLast() ?? "")
    let candidates: [String]
    if partial.contains("|") && words.last == "=>" {
      // Alternatives: complete the part after the last '|'.
      let head = String(partial[...partial.lastIndex(of: "|")!])
      return (Checker.resultWords + Errno.allNames).filter { (head + $0).hasPrefix(partial) }.map { head + $0 }
    } else if words.last == "=>" {
      candidates = Checker.resultWords + Errno.allNames
    } else if let last = words.last, ["==", "!="].contains(last) {
      candidates = Checker.stateNames + Errno.allNames + ["ok"]
    } else if words.isEmpty {
      candidates = partial.hasPrefix(".") ? ReplSession.metaCommands : Keywords.statements
    } else {
      let kw = words[0]
      switch (kw, words.count) {
      case ("socket", 2): candidates = Keywords.protocols + ["uid"]
      case ("setopt", 2): candidates = SocketOption.allNames
      case ("setopt", 3): candidates = ["on", "off"]
      case ("shutdown", 2): candidates = Keywords.shutdownModes
      case ("accept", 2): candidates = ["as"]
      case ("sysctl", 1): candidates = Sysctl.keys
      case ("addr", 1): candidates = ["add"]
      case ("ulimit", 1): candidates = ["nofile"]
      case (".backend", 1): candidates = ReplSession.BackendKind.allCases.map(\.rawValue)
      case (".kernel", 1): candidates = KernelVersion.profiles.map { $0.line.description }
      case (".help", 1): candidates = ReplHelp.topics
      case ("expect", _), ("print", _), ("let", _):
        candidates = sockets + Checker.stateNames + ["count(", "and", "or", "not", "in"]
      default:
        candidates = socketStatements.contains(kw) && words.count == 1 ? sockets : []
      }
    }
    return candidates.filter { $0.hasPrefix(partial) }
  }
}

/// `.help [topic]`.
public enum ReplHelp {
  public static let topics = ["statements", "options", "sysctls", "states", "errno", "meta"]

  public static func text(topic: String?) -> String {
    switch topic {
    case nil:
      return """
        Statements: \(Keywords.statements.joined(separator: " "))
        A call may end with '=> RESULT' (ok, an errno name, a|b, any). ';' separates statements.
        At the prompt a call without '=>' just shows its result. 'if C { ... } else { ... }' branches;
        values: numbers, durations, strings, true/false, addresses (127.0.0.1 + i), endpoints; kernel (kernel >= 6.18).
        Meta commands: .help [statements|options|sysctls|states|errno NAME|meta], .show, .backend sim|real, .kernel VERSION,
          .reset, .save FILE, .load FILE, .quit (or Ctrl-D). Tab completes; Ctrl-C drops the line.

        """
    case "statements":
      // The keyword table's forms, three spaces apart, in lines of at most 100 columns.
      var lines: [String] = []
      for u in Keyword.allCases.map(\.usage) {
        if let last = lines.last, last.count + 3 + u.count <= 100 { lines[lines.count - 1] += "   " + u } else { lines.append(u) }
      }
      return lines.map { $0 + "\n" }.joined() + "\n"
    case "options":
      let valued = SocketOption.table.filter { $0.shape != .flag }.map { "\($0.name) \($0.argument)" }
      return "Options: " + SocketOption.allNames.joined(separator: " ") + " (" + (["booleans take on/off/1/0"] + valued).joined(separator: "; ") + ")\n"
    case "sysctls":
      return "sysctl keys:\n" + Sysctl.keys.map { "  \($0)\n" }.joined()
    case "states":
      return "States: " + Checker.stateNames.joined(separator: " ") + "\n"
    case "meta":
      return ".help [topic]  .show  .backend sim|real  .kernel VERSION  .reset  .save FILE  .load FILE  .quit\n"
    default:
      let words = topic!.split(separator: " ").map(String.init)
      let name = words.count > 1 && words[0] == "errno" ? words[1] : words[0]
      if let e = Errno(name: name.uppercased()) {
        return "\(e.name) (\(e.rawValue)): \(e.meaning)\n"
      }
      if words[0] == "errno" { return "errno names: " + Errno.allNames.joined(separator: " ") + "\n" }
      return "no help on '\(topic!)'; topics: \(topics.joined(separator: ", ")), or an errno name\n"
    }
  }
}

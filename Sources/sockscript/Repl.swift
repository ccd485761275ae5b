import ArgumentParser
import CReadline
import SockKernel
import SockScript

#if canImport(Glibc)
  import Glibc
#endif

/// Lines from GNU readline: editing, history, completion, Ctrl-C.
final class ReadlineReader: LineReader {
  let historyPath: String?
  init(historyPath: String?) {
    self.historyPath = historyPath
    rl_readline_name = UnsafePointer(strdup("sockscript"))
    // Our own SIGINT handler drops the line; readline must not take the signal.
    rl_catch_signals = 0
    rl_attempted_completion_function = { text, start, _ in
      rl_attempted_completion_over = 1
      let line = String(cString: rl_line_buffer).prefix(Int(rl_point))
      completionMatches = Completer.complete(String(line), sockets: currentSockets())
      // Readline completes the word at `start`; hand it the whole word.
      let word = String(line.dropFirst(Int(start)))
      completionMatches = completionMatches.map { m in
        m.hasPrefix(word) ? m : word + m
      }
      if completionMatches.count == 1 && completionMatches[0].hasSuffix("(") { rl_completion_append_character = 0 }
      return rl_completion_matches(text) { _, state in
        if state == 0 { completionIndex = 0 }
        guard completionIndex < completionMatches.count else { return nil }
        completionIndex += 1
        return strdup(completionMatches[completionIndex - 1])
      }
    }
    // Word breaks: spaces and ';' only, so 'net.ipv4.x', 'c[1]' and '=>' stay whole.
    rl_completer_word_break_characters = UnsafePointer(strdup(" \t\n;"))
    stifle_history(1000)
    if let p = historyPath { read_history(p) }
  }

  func readLine(prompt: String) -> String? {
    atPrompt = 1
    defer { atPrompt = 0 }
    guard let raw = readline(prompt) else { return nil }
    defer { free(raw) }
    let line = String(cString: raw)
    if !line.trimmed.isEmpty {
      add_history(raw)
      if let p = historyPath { append_to_history(p) }
    }
    return line
  }

  func append_to_history(_ p: String) {
    // Create the file on first use, then append one entry at a time.
    if access(p, F_OK) != 0 { write_history(p) } else { append_history(1, p) }
  }
}

/// Lines from a pipe: no prompt, no escape codes.
final class PlainReader: LineReader {
  func readLine(prompt: String) -> String? { Swift.readLine(strippingNewline: true) }
}

nonisolated(unsafe) var completionMatches: [String] = []
nonisolated(unsafe) var completionIndex = 0
nonisolated(unsafe) var atPrompt: sig_atomic_t = 0
nonisolated(unsafe) var currentSession: ReplSession?

func currentSockets() -> [String] { currentSession?.socketNames ?? [] }

/// Ctrl-C at the prompt drops the line; during a call it interrupts it.
func installReplInterruptHandler() {
  var sa = sigaction()
  sa.__sigaction_handler.sa_handler = { _ in
    if atPrompt != 0 {
      _ = write(1, "\n", 1)
      rl_on_new_line()
      rl_replace_line("", 0)
      rl_redisplay()
    } else {
      interruptRequested = 1
    }
  }
  sigemptyset(&sa.sa_mask)
  sa.sa_flags = 0
  sigaction(SIGINT, &sa, nil)
}

/// `$XDG_STATE_HOME/sockscript/history`, else `~/.sockscript_history`.
func defaultHistoryPath() -> String? {
  if let x = getenv("XDG_STATE_HOME").map({ String(cString: $0) }), !x.isEmpty {
    let dir = x + "/sockscript"
    mkdir(x, 0o700)
    mkdir(dir, 0o700)
    return dir + "/history"
  }
  if let h = getenv("HOME").map({ String(cString: $0) }), !h.isEmpty { return h + "/.sockscript_history" }
  return nil
}

struct Repl: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "repl",
    abstract: "Explore interactively, call by call (also: 'sockscript' with no arguments on a terminal).",
    discussion: """
      Every statement works at the prompt; a 'repeat {' continues on the next lines.
      .help lists the meta commands; .save FILE writes the session as a scenario
      that 'sockscript run FILE' replays and checks. With stdin not a terminal,
      lines are read plainly (no prompt), so the REPL works in pipes.
      """)

  @Option(help: "The kernel to start on: sim or real.")
  var backend: BackendChoice = .sim

  @Option(help: "Seed for the simulator's random choices.")
  var seed: UInt64 = 0

  @Option(help: "How long a blocking call waits (e.g. 2s, 500ms).")
  var timeout: String = defaultTimeout

  @Option(help: "The history file (default: $XDG_STATE_HOME/sockscript/history, else ~/.sockscript_history).")
  var history: String?

  @OptionGroup var kernelOption: KernelOption

  func validate() throws {
    try validateTimeout(timeout)
    if kernelOption.kernel == "all" { throw ValidationError("--kernel all is for diff; the REPL takes one version") }
  }

  func run() throws {
    try runRepl(backend: backend, seed: seed, timeoutMs: parseDuration(timeout)!, history: history, kernel: kernelOption.line)
  }
}

func runRepl(backend: BackendChoice, seed: UInt64, timeoutMs: Int64, history: String?, kernel: KernelVersion? = nil) throws {
  let out = StreamSink(stdout)
  let err = StreamSink(stderr)
  ReplFiles.write = { path, text in
    guard let f = fopen(path, "w") else { return errnoText() }
    defer { fclose(f) }
    return fputs(text, f) < 0 ? errnoText() : nil
  }
  ReplFiles.read = { readFile($0) }
  let session = ReplSession(
    backend: backend == .real ? .real : .sim, kernel: kernel, seed: seed, out: out, err: err,
    makeBackend: { kind, version in
      // The REPL's real backend is this machine's kernel: another version
      // runs as user-mode Linux only for whole commands (run, test, diff, fuzz).
      if kind == .real, let v = version, v.line != KernelStore.hostLine {
        throw BackendUnavailable(
          message: "the REPL's real backend is this machine's Linux \(RealKernel.hostRelease), not \(v)",
          hint: "'.backend sim' explores Linux \(v)'s rules; 'sockscript run --backend real --kernel \(v) FILE' runs a saved session on it")
      }
      return try makeBackend(
        kind == .real ? .real : .sim, seed: seed, timeoutMs: timeoutMs, hostNetns: false,
        version: version.map(KernelVersion.nearestProfile) ?? .latestModelled)
    })
  session.interrupted = isInterrupted
  currentSession = session
  let terminal = isatty(0) != 0
  let reader: LineReader = terminal ? ReadlineReader(historyPath: history ?? defaultHistoryPath()) : PlainReader()
  if terminal { installReplInterruptHandler() } else { installInterruptHandler() }
  guard session.start(session.backendKind) else {
    err.flush()
    throw ExitCode(Exit.backendUnavailable)
  }
  out.flush()
  while true {
    out.flush()
    err.flush()
    guard let line = reader.readLine(prompt: terminal ? session.prompt : "") else {
      if terminal { out.write("\n") }
      break
    }
    interruptRequested = 0
    if !session.feed(line) { break }
  }
  session.close()
  out.flush()
  err.flush()
}

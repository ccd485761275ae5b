import ArgumentParser
import SockKernel
import SockScript
import SockSyntax

#if canImport(Glibc)
  import Glibc
#endif

enum BackendChoice: String, ExpressibleByArgument, CaseIterable {
  case sim
  case real
}

/// Set by the SIGINT handler; blocking calls return EINTR and the run stops.
nonisolated(unsafe) var interruptRequested: sig_atomic_t = 0

/// Ctrl-C: stop between statements (a blocking call returns EINTR at once).
func installInterruptHandler() {
  var sa = sigaction()
  sa.__sigaction_handler.sa_handler = { _ in interruptRequested = 1 }
  sigemptyset(&sa.sa_mask)
  sa.sa_flags = 0  // no SA_RESTART: blocking calls return EINTR
  sigaction(SIGINT, &sa, nil)
}

func isInterrupted() -> Bool { interruptRequested != 0 }

/// Makes the backend a run asks for; the real one enters a fresh network
/// namespace each time.
func makeBackend(
  _ choice: BackendChoice, seed: UInt64, timeoutMs: Int64, hostNetns: Bool, disabled: Set<SimRule> = [], version: KernelVersion = .latestModelled,
  forced: Set<SimRule> = []
) throws -> KernelBackend {
  switch choice {
  case .sim: return SimKernel(config: .init(seed: seed, timeoutMs: timeoutMs, disabledRules: disabled, version: version, forcedRules: forced))
  case .real: return try RealKernel(timeoutMs: timeoutMs, hostNetns: hostNetns, interrupted: isInterrupted)
  }
}

func reportUnavailable(_ e: BackendUnavailable, _ err: OutputSink) {
  err.write("sockscript: the real backend cannot run: \(e.message)\n  hint: \(e.hint)\n")
}

/// With SOCKSCRIPT_REPORT_FDS set, the run reports its open descriptors at
/// start and end (the leak test reads this).
func reportDescriptors(_ when: String, _ err: OutputSink) {
  if getenv("SOCKSCRIPT_REPORT_FDS") != nil { err.write("descriptors \(when): \(ProcessFacts.openDescriptors())\n") }
}

extension OutputFormat: ExpressibleByArgument {}

/// The scripts a command was given: the `-e` text, then each readable file.
/// Unreadable files are reported; the second value is 2 if there was one.
func loadSources(files: [String], expression: String?, err: OutputSink) -> ([SourceFile], Int32) {
  var sources: [SourceFile] = expression.map { [SourceFile(name: "-e", text: $0)] } ?? []
  var code: Int32 = 0
  for path in files {
    guard let text = readFile(path) else {
      err.write("sockscript: cannot read '\(path)': \(errnoText())\n")
      code = Exit.badInput
      continue
    }
    sources.append(SourceFile(name: path, text: text))
  }
  return (sources, code)
}

/// `--timeout`'s default: SimKernel.defaultTimeoutMs, as a duration.
let defaultTimeout = "\(SimKernel.defaultTimeoutMs / 1000)s"

func validateTimeout(_ timeout: String) throws {
  guard parseDuration(timeout) != nil else { throw ValidationError("--timeout takes a duration such as 2s or 500ms, not '\(timeout)'") }
}

/// Runs a command body with buffered stdout and stderr, flushed however it ends.
func withOutput(_ body: (StreamSink, StreamSink) throws -> Void) throws {
  let out = StreamSink(stdout)
  let err = StreamSink(stderr)
  defer {
    out.flush()
    err.flush()
  }
  try body(out, err)
}

/// Parses `2s`, `500ms`, `1.5s`, `1m` into milliseconds.
func parseDuration(_ s: String) -> Int64? {
  let file = SourceFile(name: "--timeout", text: s)
  var lx = Lexer(file)
  let t = lx.next()
  guard t.kind == .duration, lx.next().kind == .eof, let v = t.value.flatMap({ Int64($0) }) else { return nil }
  return v
}

struct Sockscript: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "sockscript",
    abstract: "State a Linux socket scenario and see what the kernel does with it.",
    discussion: """
      A .sock scenario is a list of socket calls (socket, setopt, bind, listen,
      connect, accept, close, ...) with the expected result of each written
      inline ('=> EADDRINUSE'). It runs on a simulated Linux kernel with
      virtual time (6.18's rules, or --kernel 5.10|6.1|6.12|7.2), where every
      refusal comes with a 'why:' line, or with --backend real on this
      machine's kernel in a private network namespace (or another version
      booted as user-mode Linux: see 'sockscript kernels'); 'diff' compares
      the two, 'diff --kernel all' across every version. 'test' runs whole folders of scenarios (TAP
      with --format tap); 'run --format md' writes a report for an issue
      tracker and 'export c|python' a standalone program that reproduces the
      scenario; 'fuzz' holds random scenarios against the real kernel and
      shrinks every disagreement. With no arguments on a terminal, sockscript starts the REPL.

      Exit codes: 0 every expectation held (diff: the backends agree),
      1 an expectation failed (diff: they differ), 2 bad input (usage, syntax,
      check or run-time error in the script), 3 the backend could not run,
      130 interrupted.
      """,
    subcommands: [Run.self, Check.self, Diff.self, Test.self, Fuzz.self, Export.self, Repl.self, Kernels.self]
  )
}

/// `--sim-disable RULE` (hidden, for tests): switches off one rule of the
/// simulator, to show that the scenarios notice.
struct StepBudget: ParsableArguments {
  @Option(help: "Stop a scenario with an error (exit 2) once this many statements have run (loop bodies count each round).")
  var maxSteps: Int?

  func validate() throws {
    if let m = maxSteps, m < 1 { throw ValidationError("--max-steps must be at least 1") }
  }

  /// The option as a child process is given it.
  var arguments: [String] { maxSteps.map { ["--max-steps", String($0)] } ?? [] }
}

struct SimRules: ParsableArguments {
  @Option(name: .customLong("sim-disable"), parsing: .singleValue, help: ArgumentHelp("Test only: switch off a simulator rule.", visibility: .hidden))
  var simDisable: [String] = []

  @Option(
    name: .customLong("sim-enable"), parsing: .singleValue, help: ArgumentHelp("Test only: keep a simulator rule in force on a profile whose kernel lacks it.", visibility: .hidden)
  )
  var simEnable: [String] = []

  var disabled: Set<SimRule> { Set(simDisable.compactMap(SimRule.init(rawValue:))) }
  var forced: Set<SimRule> { Set(simEnable.compactMap(SimRule.init(rawValue:))) }

  func validate() throws {
    for r in simDisable + simEnable where SimRule(rawValue: r) == nil {
      throw ValidationError("unknown simulator rule '\(r)'; rules: \(SimRule.allCases.map(\.rawValue).joined(separator: ", "))")
    }
  }
}

struct Run: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "run",
    abstract: "Run scenarios and print a transcript.",
    discussion: "Examples:\n  sockscript run examples/timewait-expires.sock\n  sockscript run -e 'socket a; bind a 0.0.0.0:0'")

  @Argument(help: "Scenario files (.sock).")
  var files: [String] = []

  @Option(name: .shortAndLong, help: "Run this script text instead of a file (';' separates statements).")
  var expression: String?

  @Option(help: "The kernel to run on: sim (simulated Linux 6.18) or real (this machine's, in a private network namespace).")
  var backend: BackendChoice = .sim

  @Flag(help: "With --backend real: run in the current network namespace (sysctl and addr add are then refused).")
  var hostNetns = false

  @Option(help: "Output format: text, json (JSON Lines) or md (a Markdown report for an issue).")
  var format: OutputFormat = .text

  @Option(help: "Seed for the simulator's random choices (ephemeral ports).")
  var seed: UInt64 = 0

  @Flag(help: "Run on after a failed expectation.")
  var keepGoing = false

  @Option(help: "How long a blocking call waits (e.g. 2s, 500ms).")
  var timeout: String = defaultTimeout

  @OptionGroup var rules: SimRules
  @OptionGroup var budget: StepBudget
  @OptionGroup var kernelOption: KernelOption

  func validate() throws {
    if files.isEmpty && expression == nil { throw ValidationError("give a scenario file, or a script with -e") }
    if !files.isEmpty && expression != nil { throw ValidationError("give either files or -e, not both") }
    if kernelOption.kernel == "all" { throw ValidationError("--kernel all is for diff; run takes one version") }
    try validateTimeout(timeout)
  }

  func run() throws {
    try withOutput { out, err in
      if let code = try kernelOption.runInGuestIfNeeded(needsReal: backend == .real, out: out, err: err) {
        if code != 0 { throw ExitCode(code) }
        return
      }
      let timeoutMs = parseDuration(timeout)!
      var (sources, worst) = loadSources(files: files, expression: expression, err: err)
      installInterruptHandler()
      for (n, src) in sources.enumerated() {
        let kernel: KernelBackend
        do {
          kernel = try makeBackend(
            backend, seed: seed, timeoutMs: timeoutMs, hostNetns: hostNetns, disabled: rules.disabled, version: kernelOption.simVersion,
            forced: rules.forced)
        } catch let e as BackendUnavailable {
          reportUnavailable(e, err)
          worst = max(worst, Exit.backendUnavailable)
          continue
        }
        reportDescriptors("before \(src.name)", err)
        let code = Runner.run(
          src, backend: kernel, format: format, options: RunOptions(keepGoing: keepGoing, seed: seed, maxSteps: budget.maxSteps, endsProcess: n == sources.count - 1), out: out,
          err: err,
          interrupted: isInterrupted)
        reportDescriptors("after \(src.name)", err)
        worst = max(worst, code)
        if isInterrupted() { break }
      }
      out.flush()
      if worst != 0 { throw ExitCode(worst) }
    }
  }
}

struct Check: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "check", abstract: "Parse and check scenarios; nothing is run.")

  @Argument(help: "Scenario files (.sock).")
  var files: [String] = []

  @Option(name: .shortAndLong, help: "Check this script text instead of a file.")
  var expression: String?

  func validate() throws {
    if files.isEmpty && expression == nil { throw ValidationError("give a scenario file, or a script with -e") }
  }

  func run() throws {
    try withOutput { out, err in
      var (sources, worst) = loadSources(files: files, expression: expression, err: err)
      for src in sources {
        let (_, diags) = Runner.compile(src)
        if diags.isEmpty {
          out.write("ok    \(src.name)\n")
        } else {
          err.write(DiagnosticRenderer.render(diags, in: src))
          err.write("\(src.name): \(diags.count) error\(diags.count == 1 ? "" : "s")\n")
          worst = Exit.badInput
        }
      }
      if worst != 0 { throw ExitCode(worst) }
    }
  }
}

struct Diff: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "diff",
    abstract: "Run scenarios on the simulator and on the real kernel, and compare them call by call.",
    discussion: """
      Both runs keep going after a failed expectation. A call agrees when both
      results are equal; an expect agrees when it holds on both or fails on
      both. Exit 0 when every file agrees, 1 when one differs.

      --kernel all runs each file on every kernel line (5.10, 6.1, 6.12,
      6.18, 7.2), simulated and, where the kernel is here (the host's, or
      fetched with 'sockscript kernels fetch'), real; it prints each statement
      whose result varies, with the result on every line and the first line
      where it changed (--format md: a Markdown table for an issue). Exit 1
      when a simulator result differs from its kernel's.
      """)

  @Argument(help: "Scenario files (.sock).")
  var files: [String]

  @Option(help: "Seed for the simulator's random choices.")
  var seed: UInt64 = 0

  @Option(help: "How long a blocking call waits (e.g. 2s, 500ms).")
  var timeout: String = defaultTimeout

  @OptionGroup var rules: SimRules
  @OptionGroup var kernelOption: KernelOption

  @Option(help: "Output: text, md (a Markdown report for an issue) or json (JSON Lines: each differing step, then a summary).")
  var format: OutputFormat = .text

  func validate() throws {
    try validateTimeout(timeout)
    if format == .json && kernelOption.kernel == "all" { throw ValidationError("the version matrix prints text or md") }
  }

  func run() throws {
    if kernelOption.kernel == "all" {
      try withOutput { out, err in
        installInterruptHandler()
        let code = runMatrix(files: files, seed: seed, timeout: timeout, format: format, out: out, err: err)
        if code != 0 { throw ExitCode(code) }
      }
      return
    }
    try withOutput { out, err in
      if let code = try kernelOption.runInGuestIfNeeded(needsReal: true, out: out, err: err) {
        if code != 0 { throw ExitCode(code) }
        return
      }
      installInterruptHandler()
      let timeoutMs = parseDuration(timeout)!
      var (sources, worst) = loadSources(files: files, expression: nil, err: err)
      for src in sources {
        let sim = SimKernel(config: .init(seed: seed, timeoutMs: timeoutMs, disabledRules: rules.disabled, version: kernelOption.simVersion))
        do {
          let code = try Differ.diff(
            src, left: sim, right: { try RealKernel(timeoutMs: timeoutMs, interrupted: isInterrupted) }, options: RunOptions(seed: seed),
            format: format, out: out, err: err)
          worst = max(worst, code)
        } catch let e as BackendUnavailable {
          reportUnavailable(e, err)
          worst = max(worst, Exit.backendUnavailable)
        }
        out.flush()
        if isInterrupted() { break }
      }
      if worst != 0 { throw ExitCode(worst) }
    }
  }
}

// Usage errors exit with 2 (the brief's "bad input"), not ArgumentParser's 64.
// 'sockscript' alone on a terminal starts the REPL.
if CommandLine.arguments.count == 1 && isatty(0) != 0 {
  do {
    try runRepl(backend: .sim, seed: 0, timeoutMs: SimKernel.defaultTimeoutMs, history: nil)
    exit(0)
  } catch let e as ExitCode {
    exit(e.rawValue)
  }
}

do {
  var command = try Sockscript.parseAsRoot()
  try command.run()
} catch let e as ExitCode {
  exit(e.rawValue)
} catch {
  let code = Sockscript.exitCode(for: error)
  if code == .success {
    print(Sockscript.fullMessage(for: error))
    exit(0)
  }
  let msg = Sockscript.fullMessage(for: error)
  fputs("sockscript: " + msg + "\n", stderr)
  exit(Exit.badInput)
}

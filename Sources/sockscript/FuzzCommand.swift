import ArgumentParser
import SockKernel
import SockScript
import SockSyntax

#if canImport(Glibc)
  import Glibc
#endif

struct Fuzz: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "fuzz",
    abstract: "Differential testing: random scenarios on the simulator and on the real kernel, every disagreement shrunk.",
    discussion: """
      Generates random scenarios from the language's grammar (both protocols
      and families, options, sysctls, few ports and one- or two-port
      ephemeral ranges, so collisions are common), runs each on the simulator
      and on the real kernel (a private network namespace per program, as
      'run --backend real'), and compares them call by call. A disagreement
      counts only if the real kernel answers the same way twice more; it is
      then shrunk by delta debugging to the fewest lines that still disagree,
      and written to --out with the real kernel's results filled in, ready
      for the suite (one file per kind of disagreement). The same seed gives
      the same programs. Prints programs run, agreed, disagreed. Exit 1 when
      any program disagreed (with --known, in a way the file does not list).

      Examples:
        sockscript fuzz --count 2000 --seed 1
        sockscript fuzz --time-limit 2m --out fuzz-found
      """)

  @Option(help: "How many programs to generate.")
  var count: Int = 1000

  @Option(help: "Seed of the program generator (and of the simulator).")
  var seed: UInt64 = 1

  @Option(help: "Where shrunk disagreements are written (one .sock file each).")
  var out: String = "fuzz-found"

  @Option(help: "Stop starting programs after this long (e.g. 2m, 90s).")
  var timeLimit: String?

  @Option(help: "Real-kernel runs at a time (default: the number of cores).")
  var jobs: Int?

  @Option(help: "How long a blocking call waits, on both backends.")
  var timeout: String = "100ms"

  @Option(help: "A file of programs known to disagree ('SEED:INDEX' a line, '#' comments): reported, but only others make the exit code 1.")
  var known: String?

  @OptionGroup var rules: SimRules
  @OptionGroup var budget: StepBudget
  @OptionGroup var kernelOption: KernelOption

  func validate() throws {
    if count < 0 { throw ValidationError("--count must be 0 or more") }
    if let j = jobs, j < 1 { throw ValidationError("--jobs must be at least 1") }
    try validateTimeout(timeout)
    if kernelOption.kernel == "all" { throw ValidationError("--kernel all is for diff; fuzz takes one version") }
    if let t = timeLimit, parseDuration(t) == nil { throw ValidationError("--time-limit takes a duration such as 2m or 90s, not '\(t)'") }
  }

  func run() throws {
    try withOutput { stdout, err in
      if let code = try kernelOption.runInGuestIfNeeded(needsReal: true, out: stdout, err: err) {
        if code != 0 { throw ExitCode(code) }
        return
      }
      installInterruptHandler()
      let width = max(1, jobs ?? Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
      guard let dir = makeTempDir("fuzz") else {
        err.write("sockscript: cannot make a temporary folder: \(errnoText())\n")
        throw ExitCode(Exit.badInput)
      }
      defer { removeTree(dir) }
      // With one job, or inside a user-mode kernel (one CPU, where starting
      // a process costs most of a program's time), the real runs happen in
      // this process, each in a fresh network namespace.
      let inProcess = width == 1 || KernelStore.env("SOCKSCRIPT_GUEST") != nil
      let runner = RealRunner(dir: dir, width: width, timeout: timeout, extra: budget.arguments)
      let local = InProcessRunner(timeoutMs: parseDuration(timeout)!, maxSteps: budget.maxSteps)
      var options = Fuzzer.Options(
        seed: seed, count: count, timeoutMs: parseDuration(timeout)!, timeLimitMs: timeLimit.flatMap(parseDuration), batch: width * 4)
      options.disabledRules = rules.disabled
      options.maxSteps = budget.maxSteps
      options.version = kernelOption.simVersion
      if let path = known {
        guard let text = readFile(path) else {
          err.write("sockscript: cannot read '\(path)': \(errnoText())\n")
          throw ExitCode(Exit.badInput)
        }
        options.known = Set(
          text.split(separator: "\n").map { String($0.prefix { $0 != "#" }).trimmed }.filter { !$0.isEmpty })
      }
      let fuzzer = Fuzzer(options: options, runReal: inProcess ? local.run : runner.run, clockMs: monotonicMs, interrupted: isInterrupted)
      var wrote = false
      fuzzer.run { f in
        if !wrote {
          _ = mkdir(out, 0o755)
          wrote = true
        }
        let path = "\(out)/fuzz-\(seed)-\(f.index).sock"
        if writeFile(path, f.scenario) {
          stdout.write("DISAGREE \(f.signature)  -> \(path)\n")
        } else {
          err.write("sockscript: cannot write '\(path)': \(errnoText())\n")
        }
        stdout.flush()
      }
      if !local.leaks.isEmpty {
        let list = local.leaks.prefix(10).map { "program \($0.program) left \($0.count)" }.joined(separator: ", ")
        err.write("sockscript: \(local.leaks.count) of \(local.ran) programs left descriptors open on the real backend: \(list)\n")
      }
      if inProcess && local.ran > 0 && local.leaks.isEmpty {
        stdout.write("descriptors: none left open by \(local.ran) programs on the real backend\n")
      }
      if runner.unavailable || local.unavailable {
        err.write("sockscript: the real backend could not run (no network namespace?); see 'sockscript run --backend real'\n")
        throw ExitCode(Exit.backendUnavailable)
      }
      for (sig, n) in fuzzer.signatures.sorted(by: { ($0.value, $1.key) > ($1.value, $0.key) }) {
        stdout.write("  \(n) program\(n == 1 ? "" : "s"): \(sig)\n")
      }
      for d in fuzzer.disagreements {
        let tag = options.known.contains("\(seed):\(d.index)") ? "known" : "new"
        stdout.write("  \(tag) \(seed):\(d.index)  \(d.signature)\n")
      }
      let pct = fuzzer.ran == 0 ? 100.0 : Double(fuzzer.agreed) * 100 / Double(max(1, fuzzer.ran - fuzzer.unstable - fuzzer.failedToRun))
      stdout.write(
        "fuzz seed \(seed): \(fuzzer.ran) programs run, \(fuzzer.agreed) agreed, \(fuzzer.disagreed) disagreed"
          + " (\(fuzzer.knownDisagreements) known; \(fuzzer.unstable) unstable on the real kernel, \(fuzzer.failedToRun) not run);"
          + " \(formatPercent(pct)) agree\n")
      if isInterrupted() { throw ExitCode(Exit.interrupted) }
      if fuzzer.disagreed > fuzzer.knownDisagreements || !local.leaks.isEmpty { throw ExitCode(Exit.failed) }
    }
  }
}

func formatPercent(_ p: Double) -> String {
  let tenths = Int((p * 100).rounded())
  return "\(tenths / 100).\(String(tenths % 100).count == 1 ? "0" : "")\(tenths % 100)%"
}

/// Runs fuzz programs on the real kernel: each in a child `sockscript run
/// --backend real --format json --keep-going`, `width` at a time.
final class RealRunner {
  let dir: String
  let width: Int
  let timeout: String
  /// More options for every child run (the step budget).
  let extra: [String]
  var serial = 0
  var unavailable = false

  init(dir: String, width: Int, timeout: String, extra: [String] = []) {
    self.dir = dir
    self.width = width
    self.timeout = timeout
    self.extra = extra
  }

  func run(_ texts: [String]) -> [Trace?] {
    var results = [Trace?](repeating: nil, count: texts.count)
    let pool = ChildPool()
    var next = 0
    var paths: [String] = []
    while next < texts.count || pool.running > 0 {
      while next < texts.count && pool.running < width && !isInterrupted() {
        serial += 1
        let path = "\(dir)/p\(serial).sock"
        paths.append(path)
        if writeFile(path, texts[next]) {
          _ = pool.start(["run", "--backend", "real", "--format", "json", "--keep-going", "--timeout", timeout] + extra + [path], tag: next)
        }
        next += 1
      }
      if pool.running == 0 { break }
      if let done = pool.waitOne() {
        if done.exit == Exit.backendUnavailable { unavailable = true }
        results[done.tag] = Trace(jsonLines: done.out, exit: done.exit)
      }
    }
    for p in paths { unlink(p) }
    return results
  }
}

/// Runs fuzz programs on the real kernel in this process, one after the
/// other, each in a fresh network namespace (RealKernel enters one), with
/// the descriptor limit put back after each. A program that leaves a
/// descriptor open (counted in /proc/self/fd before and after) is a leak.
final class InProcessRunner {
  let timeoutMs: Int64
  let maxSteps: Int?
  var unavailable = false
  /// Programs run so far, and those that left descriptors open (program
  /// number, descriptors left).
  var ran = 0
  var leaks: [(program: Int, count: Int)] = []

  init(timeoutMs: Int64, maxSteps: Int?) {
    self.timeoutMs = timeoutMs
    self.maxSteps = maxSteps
  }

  func run(_ texts: [String]) -> [Trace?] {
    texts.enumerated().map { (i, text) -> Trace? in
      guard !isInterrupted() else { return nil }
      var saved = rlimit()
      getrlimit(Int32(RLIMIT_NOFILE.rawValue), &saved)
      defer { setrlimit(Int32(RLIMIT_NOFILE.rawValue), &saved) }
      let before = ProcessFacts.openDescriptors()
      ran += 1
      guard let kernel = try? RealKernel(timeoutMs: timeoutMs, interrupted: isInterrupted) else {
        unavailable = true
        return nil
      }
      var trace = Trace.run(SourceFile(name: "p\(i).sock", text: text), on: kernel, seed: 0, maxSteps: maxSteps)
      trace?.kernel = kernel.kernelName
      kernel.shutdownBackend()
      let left = ProcessFacts.openDescriptors() - before
      if left > 0 { leaks.append((ran, left)) }
      return trace
    }
  }
}

func makeTempDir(_ kind: String) -> String? {
  var template = Array("/tmp/sockscript-\(kind)-XXXXXX".utf8CString)
  guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else { return nil }
  return String(cString: template)
}

func removeTree(_ dir: String) {
  for name in listDir(dir) ?? [] { unlink("\(dir)/\(name)") }
  rmdir(dir)
}

func monotonicMs() -> Int64 {
  var ts = timespec()
  clock_gettime(CLOCK_MONOTONIC, &ts)
  return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}

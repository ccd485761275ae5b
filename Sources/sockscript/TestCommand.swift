import ArgumentParser
import SockKernel
import SockScript
import SockSyntax

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

enum TestBackend: String, ExpressibleByArgument, CaseIterable {
  case sim, real, both
}

extension TestBackend {
  var choices: [BackendChoice] { self == .both ? [.sim, .real] : [self == .sim ? .sim : .real] }
}

extension BatchFormat: ExpressibleByArgument {}

struct Test: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "test",
    abstract: "Run every .sock file under the paths, in parallel, and report pass or fail per file.",
    discussion: """
      Simulator runs happen in this process, real-backend runs each in a
      process of their own (and its own network namespace), as many at a time
      as there are cores (--jobs). One line per
      file: ok, FAIL with the first failing step, or ERROR with the first line
      of the error; then 'N passed, M failed'. With --backend both a file
      passes only when it passes on both. Exit 1 if any file failed or erred.

      Examples:
        sockscript test examples Tests/Scenarios
        sockscript test --backend both --format tap examples
      """)

  @Argument(help: "Files and directories (searched recursively for *.sock).")
  var paths: [String] = []

  @Option(help: "sim, real, or both.")
  var backend: TestBackend = .sim

  @Option(help: "Output: text (a line per file) or tap (TAP version 13).")
  var format: BatchFormat = .text

  @Option(help: "Files run at a time (default: the number of cores).")
  var jobs: Int?

  @Option(help: "Seed for the simulator's random choices.")
  var seed: UInt64 = 0

  @Option(help: "How long a blocking call waits (e.g. 2s, 500ms).")
  var timeout: String = defaultTimeout

  @OptionGroup var budget: StepBudget
  @OptionGroup var kernelOption: KernelOption

  func validate() throws {
    if paths.isEmpty { throw ValidationError("give the files or directories to test, e.g. 'sockscript test examples'") }
    if let j = jobs, j < 1 { throw ValidationError("--jobs must be at least 1") }
    if kernelOption.kernel == "all" { throw ValidationError("--kernel all is for diff; test takes one version") }
    try validateTimeout(timeout)
  }

  func run() throws {
    try withOutput { out, err in
      if let code = try kernelOption.runInGuestIfNeeded(needsReal: backend.choices.contains(.real), out: out, err: err) {
        if code != 0 { throw ExitCode(code) }
        return
      }
      var files: [String] = []
      var bad = false
      for p in paths {
        switch collectScenarios(p) {
        case .success(let found):
          if found.isEmpty { err.write("sockscript: no .sock files under '\(p)'\n") }
          files += found
        case .failure(let e):
          err.write("sockscript: cannot read '\(p)': \(e.text)\n")
          bad = true
        }
      }
      if files.isEmpty { throw ExitCode(Exit.badInput) }
      installInterruptHandler()
      let backends = backend.choices
      let report = BatchReport(format: format, total: files.count)
      out.write(report.start())
      out.flush()
      let width = max(1, jobs ?? Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
      let timeoutMs = parseDuration(timeout)!
      // Simulator runs happen in this process, on worker threads.
      let sim = backends.contains(.sim) ? SimBatch(files: files, seed: seed, timeoutMs: timeoutMs, maxSteps: budget.maxSteps, width: width, version: kernelOption.simVersion) : nil
      // Real-backend runs are children (each needs its own network
      // namespace, which belongs to a thread) writing JSON Lines.
      var real = [BatchOutcome?](repeating: nil, count: files.count)
      let pool = ChildPool()
      var next = 0
      var printed = 0
      var passed = 0
      var failed = 0
      func outcomes(_ i: Int, wait: Bool) -> [BatchOutcome]? {
        var o: [BatchOutcome] = []
        if let sim = sim {
          guard let s = wait ? sim.wait(i) : sim.result(i) else { return nil }
          o.append(s)
        }
        if backends.contains(.real) {
          guard let r = real[i] else { return nil }
          o.append(r)
        }
        return o
      }
      // Prints the files that are complete, in order.
      func printReady(wait: Bool) {
        while printed < files.count, let o = outcomes(printed, wait: wait) {
          let r = BatchResult(file: files[printed], outcomes: o)
          if r.passed { passed += 1 } else { failed += 1 }
          out.write(report.result(r, number: printed + 1))
          out.flush()
          printed += 1
        }
      }
      if backends.contains(.real) {
        while next < files.count || pool.running > 0 {
          while next < files.count && pool.running < width && !isInterrupted() {
            let args = ["run", "--backend", "real", "--format", "json", "--seed", String(seed), "--timeout", timeout] + budget.arguments + [files[next]]
            if !pool.start(args, tag: next) {
              real[next] = BatchOutcome(status: .error, backend: "real", detail: "could not start a run: \(errnoText())")
            }
            next += 1
          }
          if isInterrupted() && pool.running == 0 { break }
          if let done = pool.waitOne() {
            real[done.tag] = BatchOutcome.fromJSONRun(exit: done.exit, out: done.out, err: done.err, backend: "real")
          }
          printReady(wait: false)
        }
      }
      printReady(wait: true)
      sim?.join()
      let interrupted = isInterrupted()
      out.write(report.end(passed: passed, failed: failed, interrupted: interrupted))
      out.flush()
      if interrupted { throw ExitCode(Exit.interrupted) }
      if failed > 0 { throw ExitCode(Exit.failed) }
      if bad { throw ExitCode(Exit.badInput) }
    }
  }
}

/// Simulator runs of a batch on worker threads, each file in its own
/// SimKernel; results in file order.
final class SimBatch: @unchecked Sendable {
  let files: [String]
  let seed: UInt64
  let timeoutMs: Int64
  let maxSteps: Int?
  let version: KernelVersion
  var mutex = pthread_mutex_t()
  var cond = pthread_cond_t()
  var next = 0
  /// Written by one worker per index, read under the mutex once `done`.
  let results: UnsafeMutableBufferPointer<BatchOutcome?>
  let done: UnsafeMutableBufferPointer<Bool>
  var threads: [pthread_t] = []

  init(files: [String], seed: UInt64, timeoutMs: Int64, maxSteps: Int?, width: Int, version: KernelVersion) {
    self.version = version
    self.files = files
    self.seed = seed
    self.timeoutMs = timeoutMs
    self.maxSteps = maxSteps
    results = .allocate(capacity: files.count)
    results.initialize(repeating: nil)
    done = .allocate(capacity: files.count)
    done.initialize(repeating: false)
    pthread_mutex_init(&mutex, nil)
    pthread_cond_init(&cond, nil)
    for _ in 0..<min(width, files.count) {
      var t = pthread_t()
      let ctx = Unmanaged.passRetained(self).toOpaque()
      if pthread_create(
        &t, nil,
        { ctx in
          let batch = Unmanaged<SimBatch>.fromOpaque(ctx!).takeRetainedValue()
          batch.work()
          return nil
        }, ctx) == 0
      {
        threads.append(t)
      } else {
        Unmanaged<SimBatch>.fromOpaque(ctx).release()
      }
    }
    if threads.isEmpty { work() }  // no thread could start: run here
  }

  deinit {
    results.deinitialize()
    results.deallocate()
    done.deallocate()
  }

  func work() {
    while true {
      pthread_mutex_lock(&mutex)
      let i = next
      next += 1
      pthread_mutex_unlock(&mutex)
      guard i < files.count else { return }
      // After Ctrl-C the remaining files are not run (they stay nil).
      let outcome = isInterrupted() ? nil : run(files[i])
      pthread_mutex_lock(&mutex)
      results[i] = outcome
      done[i] = true
      pthread_cond_broadcast(&cond)
      pthread_mutex_unlock(&mutex)
    }
  }

  func run(_ path: String) -> BatchOutcome {
    guard let text = readFile(path) else {
      return BatchOutcome(status: .error, backend: "sim", detail: "sockscript: cannot read '\(path)': \(errnoText())")
    }
    let kernel = SimKernel(config: .init(seed: seed, timeoutMs: timeoutMs, version: version))
    return BatchCollector.run(SourceFile(name: path, text: text), backend: kernel, options: RunOptions(seed: seed, maxSteps: maxSteps), interrupted: isInterrupted)
  }

  /// The outcome of file `i` if its run has finished.
  func result(_ i: Int) -> BatchOutcome? {
    pthread_mutex_lock(&mutex)
    defer { pthread_mutex_unlock(&mutex) }
    return done[i] ? results[i] : nil
  }

  /// Waits for file `i`'s run; nil if it was not run (interrupted).
  func wait(_ i: Int) -> BatchOutcome? {
    pthread_mutex_lock(&mutex)
    while !done[i] { pthread_cond_wait(&cond, &mutex) }
    let r = results[i]
    pthread_mutex_unlock(&mutex)
    return r
  }

  func join() {
    for t in threads { pthread_join(t, nil) }
    threads = []
  }
}

/// The .sock files at a path: the file itself, or every *.sock below a
/// directory, sorted.
func collectScenarios(_ path: String) -> Result<[String], ErrnoError> {
  var st = stat()
  guard stat(path, &st) == 0 else { return .failure(ErrnoError(errno)) }
  if (st.st_mode & S_IFMT) != S_IFDIR { return .success([path]) }
  guard let names = listDir(path) else { return .failure(ErrnoError(errno)) }
  var found: [String] = []
  let base = path.hasSuffix("/") ? path : path + "/"
  for name in names {
    let full = base + name
    var s = stat()
    guard stat(full, &s) == 0 else { continue }
    if (s.st_mode & S_IFMT) == S_IFDIR {
      if case .success(let more) = collectScenarios(full) { found += more }
    } else if name.hasSuffix(".sock") {
      found.append(full)
    }
  }
  return .success(found)
}

struct ErrnoError: Error {
  let code: Int32
  init(_ code: Int32) { self.code = code }
  var text: String { String(cString: strerror(code)) }
}

/// Children of this executable, each with its stdout and stderr in an
/// unlinked temporary file, reaped one at a time.
final class ChildPool {
  struct Finished {
    var tag: Int
    var exit: Int32
    var out: String
    var err: String
  }
  var children: [pid_t: (tag: Int, out: Int32, err: Int32)] = [:]
  var running: Int { children.count }

  func start(_ args: [String], tag: Int) -> Bool {
    guard let outFd = tempFile(), let errFd = tempFile() else { return false }
    var fa = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&fa)
    defer { posix_spawn_file_actions_destroy(&fa) }
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_adddup2(&fa, outFd, 1)
    posix_spawn_file_actions_adddup2(&fa, errFd, 2)
    let exe = "/proc/self/exe"
    let argv: [UnsafeMutablePointer<CChar>?] = ([exe] + args).map { strdup($0) } + [nil]
    defer { for p in argv { free(p) } }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, exe, &fa, nil, argv, environ)
    guard rc == 0 else {
      close(outFd)
      close(errFd)
      errno = rc
      return false
    }
    children[pid] = (tag, outFd, errFd)
    return true
  }

  /// Waits for any child; nil when interrupted before one ended.
  func waitOne() -> Finished? {
    var status: Int32 = 0
    let pid = waitpid(-1, &status, 0)
    guard pid > 0, let c = children.removeValue(forKey: pid) else { return nil }
    let code: Int32
    if status & 0x7f == 0 {
      code = (status >> 8) & 0xff
    } else {
      code = -(status & 0x7f)
    }
    let f = Finished(tag: c.tag, exit: code, out: readAll(c.out), err: readAll(c.err))
    close(c.out)
    close(c.err)
    return f
  }

  func tempFile() -> Int32? {
    var template = Array("/tmp/sockscript-test-XXXXXX".utf8CString)
    let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
    guard fd >= 0 else { return nil }
    // Other children must not inherit it; dup2 onto 1 and 2 clears the flag there.
    _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
    template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
    return fd
  }

  func readAll(_ fd: Int32) -> String {
    lseek(fd, 0, SEEK_SET)
    var bytes: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
      let n = read(fd, &buf, buf.count)
      if n <= 0 { break }
      bytes += buf[0..<n]
    }
    return String(decoding: bytes, as: UTF8.self)
  }
}

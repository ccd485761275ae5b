import ArgumentParser
import SockKernel
import SockScript
import SockSyntax

#if canImport(Glibc)
  import Glibc
#endif

enum BackendChoice: String, ExpressibleByArgument, CaseIterable {
  case sim
}

extension OutputFormat: ExpressibleByArgument {}

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
      inline ('=> EADDRINUSE'). It runs on a simulated Linux 6.18 kernel with
      virtual time; every refusal comes with a 'why:' line.

      Exit codes: 0 every expectation held, 1 an expectation failed,
      2 bad input (usage, syntax, check or run-time error in the script),
      3 the backend could not run.
      """,
    subcommands: [Run.self, Check.self]
  )
}

struct Run: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Run scenarios and print a transcript.",
    discussion: "Examples:\n  sockscript run examples/timewait-expires.sock\n  sockscript run -e 'socket a; bind a 0.0.0.0:0'")

  @Argument(help: "Scenario files (.sock).")
  var files: [String] = []

  @Option(name: .shortAndLong, help: "Run this script text instead of a file (';' separates statements).")
  var expression: String?

  @Option(help: "The kernel to run on: sim (simulated Linux 6.18).")
  var backend: BackendChoice = .sim

  @Option(help: "Output format: text or json (JSON Lines).")
  var format: OutputFormat = .text

  @Option(help: "Seed for the simulator's random choices (ephemeral ports).")
  var seed: UInt64 = 0

  @Flag(help: "Run on after a failed expectation.")
  var keepGoing = false

  @Option(help: "How long a blocking call waits (e.g. 2s, 500ms).")
  var timeout: String = "2s"

  func validate() throws {
    if files.isEmpty && expression == nil { throw ValidationError("give a scenario file, or a script with -e") }
    if !files.isEmpty && expression != nil { throw ValidationError("give either files or -e, not both") }
    guard parseDuration(timeout) != nil else { throw ValidationError("--timeout takes a duration such as 2s or 500ms, not '\(timeout)'") }
  }

  func run() throws {
    let out = StreamSink(stdout)
    let err = StreamSink(stderr)
    defer {
      out.flush()
      err.flush()
    }
    let timeoutMs = parseDuration(timeout)!
    var sources: [SourceFile] = []
    var worst: Int32 = 0
    if let e = expression {
      sources.append(SourceFile(name: "-e", text: e))
    }
    for path in files {
      guard let text = readFile(path) else {
        err.write("sockscript: cannot read '\(path)': \(errnoText())\n")
        worst = max(worst, Exit.badInput)
        continue
      }
      sources.append(SourceFile(name: path, text: text))
    }
    for src in sources {
      let kernel = SimKernel(config: .init(seed: seed, timeoutMs: timeoutMs))
      let code = Runner.run(src, backend: kernel, format: format, options: RunOptions(keepGoing: keepGoing, seed: seed), out: out, err: err)
      worst = max(worst, code)
    }
    out.flush()
    if worst != 0 { throw ExitCode(worst) }
  }
}

struct Check: ParsableCommand {
  static let configuration = CommandConfiguration(abstract: "Parse and check scenarios; nothing is run.")

  @Argument(help: "Scenario files (.sock).")
  var files: [String] = []

  @Option(name: .shortAndLong, help: "Check this script text instead of a file.")
  var expression: String?

  func validate() throws {
    if files.isEmpty && expression == nil { throw ValidationError("give a scenario file, or a script with -e") }
  }

  func run() throws {
    let err = StreamSink(stderr)
    let out = StreamSink(stdout)
    defer {
      err.flush()
      out.flush()
    }
    var worst: Int32 = 0
    var sources: [SourceFile] = expression.map { [SourceFile(name: "-e", text: $0)] } ?? []
    for path in files {
      guard let text = readFile(path) else {
        err.write("sockscript: cannot read '\(path)': \(errnoText())\n")
        worst = 2
        continue
      }
      sources.append(SourceFile(name: path, text: text))
    }
    for src in sources {
      let (_, diags) = Runner.compile(src)
      if diags.isEmpty {
        out.write("ok    \(src.name)\n")
      } else {
        err.write(DiagnosticRenderer.render(diags, in: src))
        err.write("\(src.name): \(diags.count) error\(diags.count == 1 ? "" : "s")\n")
        worst = 2
      }
    }
    if worst != 0 { throw ExitCode(worst) }
  }
}

// Usage errors exit with 2 (the brief's "bad input"), not ArgumentParser's 64.
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
  exit(2)
}

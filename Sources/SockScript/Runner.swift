import SockKernel
import SockSyntax

public enum OutputFormat: String, CaseIterable, Sendable {
  case text
  case json
  case md
}

/// Exit codes of the command line.
public enum Exit {
  public static let ok: Int32 = 0
  public static let failed: Int32 = 1
  public static let badInput: Int32 = 2
  public static let backendUnavailable: Int32 = 3
  /// Stopped by Ctrl-C (128 + SIGINT).
  public static let interrupted: Int32 = 130
}

/// Parse, check and (optionally) run one script.
public enum Runner {
  /// Parses and checks; returns the program or the rendered diagnostics.
  public static func compile(_ file: SourceFile) -> (Program?, [Diagnostic]) {
    let (program, syntax) = Parser.parse(file)
    if !syntax.isEmpty {
      // Still run the checker, so `check` lists every error of the file.
      let more = Checker.check(program, in: file)
      return (nil, Diagnostic.combine(syntax: syntax, checks: more))
    }
    let diags = Checker.check(program, in: file)
    return diags.isEmpty ? (program, []) : (nil, diags)
  }

  public static func run(
    _ file: SourceFile, backend: KernelBackend, format: OutputFormat, options: RunOptions, out: OutputSink, err: OutputSink,
    interrupted: @escaping () -> Bool = { false }
  ) -> Int32 {
    let (program, diags) = compile(file)
    guard let prog = program else {
      err.write(DiagnosticRenderer.render(diags, in: file))
      if format == .json {
        for d in diags {
          let loc = file.location(of: d.span.start)
          out.write(JSON.object([("error", .string(d.message)), ("file", .string(file.name)), ("line", .int(loc.line)), ("column", .int(loc.column))]).render() + "\n")
        }
      }
      return Exit.badInput
    }
    let reporter: Reporter
    switch format {
    case .text: reporter = TextReporter(out: out, err: err)
    case .json: reporter = JSONReporter(out: out, err: err)
    case .md: reporter = MarkdownReporter(out: out, err: err, source: String(decoding: file.bytes, as: UTF8.self))
    }
    return execute(prog, file, backend: backend, reporter: reporter, options: options, interrupted: interrupted)
  }

  /// Compiles and runs one script with any reporter (diagnostics go to `err`).
  public static func run(
    _ file: SourceFile, backend: KernelBackend, reporter: Reporter, options: RunOptions, err: OutputSink, interrupted: @escaping () -> Bool
  ) -> Int32 {
    let (program, diags) = compile(file)
    guard let prog = program else {
      err.write(DiagnosticRenderer.render(diags, in: file))
      return Exit.badInput
    }
    return execute(prog, file, backend: backend, reporter: reporter, options: options, interrupted: interrupted)
  }

  static func execute(
    _ prog: Program, _ file: SourceFile, backend: KernelBackend, reporter: Reporter, options: RunOptions, interrupted: @escaping () -> Bool
  ) -> Int32 {
    let interp = Interpreter(file: file, program: prog, backend: backend, reporter: reporter, options: options)
    interp.interrupted = interrupted
    let code = interp.run()
    backend.shutdownBackend()
    if options.endsProcess { _ = Unmanaged.passRetained(interp) }
    return code
  }
}

import ArgumentParser
import SockScript
import SockSyntax

struct Export: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "export",
    abstract: "Turn a scenario into a standalone program for a bug report.",
    subcommands: [ExportC.self, ExportPython.self])
}

/// What both export commands share: read, check, render, write.
struct ExportOptions: ParsableArguments {
  @Argument(help: "The scenario (.sock).")
  var file: String

  @Option(name: .shortAndLong, help: "Write the program here instead of to standard output.")
  var output: String?

  @Flag(
    help: ArgumentHelp(
      "Straight-line code to paste into an issue: each call as the literal syscall, then its result.",
      discussion: "Loops are unrolled and the script's own values worked out; what the kernel decides (a chosen port, a state, a count) is read when the program runs. Needs root."
    ))
  var minimal = false

  func export(_ full: (SourceFile, Program) -> String, dialect: Dialect) throws {
    try export { src, prog throws(Diagnostic) in minimal ? try MinimalExporter.export(src, prog, dialect: dialect) : full(src, prog) }
  }

  func export(_ render: (SourceFile, Program) throws(Diagnostic) -> String) throws {
    try withOutput { out, err in
      let (sources, code) = loadSources(files: [file], expression: nil, err: err)
      guard let src = sources.first else { throw ExitCode(code) }
      let (program, diags) = Runner.compile(src)
      guard let prog = program else {
        err.write(DiagnosticRenderer.render(diags, in: src))
        throw ExitCode(Exit.badInput)
      }
      let text: String
      do {
        text = try render(src, prog)
      } catch let d as Diagnostic {
        err.write(DiagnosticRenderer.render([d], in: src))
        throw ExitCode(Exit.badInput)
      }
      if let path = output {
        guard writeFile(path, text) else {
          err.write("sockscript: cannot write '\(path)': \(errnoText())\n")
          throw ExitCode(Exit.badInput)
        }
      } else {
        out.write(text)
      }
    }
  }
}

struct ExportC: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "c",
    abstract: "A single C file (libc and kernel headers only) that makes the scenario's calls on the real kernel.",
    discussion: """
      The program creates its own network namespace (as root; otherwise a user
      namespace too), sets the scenario's sysctls and addresses there, checks
      every expected result, prints one line per call, and exits 0 when every
      expectation holds, 1 when one fails, 2 on an error in the script.

        sockscript export c examples/tcp-tw-reuse.sock > repro.c
        cc -Wall -Werror -o repro repro.c && sudo ./repro

      With --minimal the same calls come as straight-line code, short enough
      to paste into a bug report:

        sockscript export c --minimal examples/tcp-tw-reuse.sock > repro.c
      """)

  @OptionGroup var options: ExportOptions

  func run() throws { try options.export(CExporter.export, dialect: .c) }
}

struct ExportPython: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "python",
    abstract: "A Python 3 script (standard library only) that makes the scenario's calls on the real kernel.",
    discussion: """
      The same program as 'export c', on Python's socket module (3.11 or
      later; the namespace comes from libc's unshare through ctypes).

        sockscript export python examples/tcp-tw-reuse.sock > repro.py
        sudo python3 repro.py

      With --minimal, straight-line code to paste into a bug report:

        sockscript export python --minimal examples/tcp-tw-reuse.sock > repro.py
      """)

  @OptionGroup var options: ExportOptions

  func run() throws { try options.export(PythonExporter.export, dialect: .python) }
}

import SockKernel

/// `sockscript diff --kernel all`: one scenario on every kernel line, each
/// simulated and real, folded into the statements whose result varies.
public struct VersionMatrix: Sendable {
  /// One kernel line's two runs (a missing real run: the kernel is not here).
  public struct Column: Sendable {
    public var line: KernelVersion
    /// The release that ran ("6.1.176"), for the header.
    public var release: String
    public var sim: Trace?
    public var real: Trace?
    public init(line: KernelVersion, release: String, sim: Trace?, real: Trace?) {
      self.line = line
      self.release = release
      self.sim = sim
      self.real = real
    }
  }

  /// A statement's result on one line: the simulator's and the kernel's.
  public struct Cell: Equatable, Sendable {
    public var sim: String?
    public var real: String?
    public var agrees: Bool { sim == real }
    /// "ok", "EADDRINUSE", "holds"; "sim X / real Y" where they differ; "-"
    /// where the statement did not run (another `if` branch).
    public var text: String {
      if agrees { return sim ?? "-" }
      return "sim \(sim ?? "-") / real \(real ?? "-")"
    }
  }

  public struct Row: Sendable {
    public var line: Int
    public var statement: String
    public var cells: [Cell]
    /// The first line whose result differs from the oldest line's.
    public var changedIn: KernelVersion?
  }

  public var file: String
  public var seed: UInt64
  public var columns: [Column]
  public var rows: [Row]
  /// Statements compared in all (each run of a loop body counts).
  public var statements: Int

  /// Every simulator result agrees with its kernel's.
  public var agrees: Bool { rows.allSatisfy { $0.cells.allSatisfy(\.agrees) } }

  public init(file: String, seed: UInt64, columns: [Column]) {
    self.file = file
    self.seed = seed
    self.columns = columns
    // Steps are matched by line and by how often that line ran before (a
    // loop body runs many times), in the order of their first appearance.
    struct Key: Hashable {
      var line: Int
      var nth: Int
    }
    func keyed(_ t: Trace?) -> [Key: Trace.Step] {
      var seen: [Int: Int] = [:]
      var out: [Key: Trace.Step] = [:]
      for s in t?.steps ?? [] {
        let n = seen[s.line, default: 0]
        seen[s.line] = n + 1
        out[Key(line: s.line, nth: n)] = s
      }
      return out
    }
    let sims = columns.map { keyed($0.sim) }
    let reals = columns.map { keyed($0.real) }
    var order: [Key] = []
    var texts: [Key: String] = [:]
    for m in sims + reals {
      for (k, s) in m where texts[k] == nil {
        texts[k] = s.text
        order.append(k)
      }
    }
    order.sort { ($0.line, $0.nth) < ($1.line, $1.nth) }
    func shown(_ s: Trace.Step?) -> String? { s.map { $0.result ?? ($0.pass ? "holds" : "fails") } }
    var rows: [Row] = []
    for k in order {
      let cells = columns.indices.map { i in
        Cell(sim: shown(sims[i][k]), real: columns[i].real == nil ? shown(sims[i][k]) : shown(reals[i][k]))
      }
      // What each line does: the kernel's result where it ran, else the simulator's.
      let results = cells.map { $0.real ?? $0.sim }
      let varies = Set(results.map { $0 ?? "-" }).count > 1
      guard varies || !cells.allSatisfy(\.agrees) else { continue }
      let changed = results.indices.first { results[$0] != results[0] }.map { columns[$0].line }
      rows.append(Row(line: k.line, statement: texts[k]!, cells: cells, changedIn: changed))
    }
    self.rows = rows
    self.statements = order.count
  }

  /// The matrix as text: a header naming each kernel, then one row per
  /// statement whose result varies (or where simulator and kernel differ).
  public func text() -> String {
    var out = "== \(file)  (seed \(seed); kernels \(columns.map { "\($0.release)\($0.real == nil ? " (sim only)" : "")" }.joined(separator: ", ")))\n"
    if rows.isEmpty {
      out += "SAME  \(file): \(statements) statements give the same result on every kernel\n"
      return out
    }
    let heads = ["LINE", "STATEMENT"] + columns.map { $0.line.description } + ["CHANGED IN"]
    let cells = rows.map { r in
      ["\(r.line)", r.statement] + r.cells.map { $0.agrees ? $0.text : $0.text + " !" } + [r.changedIn.map { "\($0)" } ?? "-"]
    }
    for line in alignedTable(heads, cells, indent: "  ") { out += line + "\n" }
    let disagree = rows.filter { !$0.cells.allSatisfy(\.agrees) }.count
    out +=
      (disagree == 0
        ? "VARIES  \(file): \(rows.count) of \(statements) statements differ between kernels; simulator and kernel agree on each\n"
        : "DIFFER  \(file): \(disagree) statements where the simulator and the kernel disagree (marked !)\n")
    return out
  }

  /// The matrix as a Markdown report for an issue.
  public func markdown() -> String {
    var out = "### `\(file)` on \(columns.count) kernels\n\n"
    out += "| kernel | release | runs |\n|---|---|---|\n"
    for c in columns { out += "| \(c.line) | \(c.release) | \(c.real == nil ? "simulator only (not fetched)" : "simulator and real") |\n" }
    out += "\nSeed \(seed). "
    if rows.isEmpty { return out + "Every statement (\(statements)) gives the same result on every kernel.\n" }
    out += "Statements whose result varies between kernels (a cell reads \"sim X / real Y\" where the simulator and the kernel disagree):\n\n"
    out += "| line | statement | " + columns.map { $0.line.description }.joined(separator: " | ") + " | changed in |\n"
    out += "|---|---|" + columns.map { _ in "---|" }.joined() + "---|\n"
    for r in rows {
      let cells = r.cells.map { $0.agrees ? "`\($0.text)`" : "**\($0.text)**" }
      out += "| \(r.line) | `\(r.statement.replacingPipes)` | " + cells.joined(separator: " | ") + " | \(r.changedIn.map { "\($0)" } ?? "-") |\n"
    }
    out += agrees ? "\nVerdict: the simulator agrees with every kernel.\n" : "\nVerdict: the simulator and a kernel disagree (bold cells).\n"
    return out
  }
}

extension String {
  fileprivate var replacingPipes: String { split(separator: "|", omittingEmptySubsequences: false).joined(separator: "\\|") }
}

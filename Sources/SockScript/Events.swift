/// What the interpreter tells its reporters: one event per executed statement,
/// `print` and `show` output, and a summary.
import SockKernel
import SockSyntax

/// What never changes between two executions of one statement: computed
/// once and shared by every event of that statement.
public final class StmtInfo: @unchecked Sendable {
  /// The statement itself, as parsed.
  public let stmt: Stmt
  public let file: String
  public let line: Int
  public let column: Int
  /// How the transcript numbers the statement: its line, or line:column
  /// when the whole source is one line (`run -e 'a; b'`).
  public let label: String
  public let text: String
  /// The accepted results as written; "ok" with no `=>`; nil for no call.
  public let expected: String?
  /// Reporters may keep a rendering of the statement here (e.g. the padded text).
  public var cache: [UInt8]?
  /// The interpreter's caches: the slots of unindexed socket names.
  var slot: Slot?
  var slot2: Slot?
  var socketKind: SocketKind?
  init(stmt: Stmt, file: String, line: Int, column: Int = 1, oneLine: Bool = false, text: String, expected: String?) {
    self.stmt = stmt
    self.file = file
    self.line = line
    self.column = column
    self.label = oneLine ? "\(line):\(column)" : "\(line)"
    self.text = text
    self.expected = expected
    let k = stmt.statementKeyword
    self.keyword = k
    self.indexed = stmt.socketRef?.index != nil
    self.showsPair = k == .connect || k == .accept || k == .sendto
    self.showsLocal = k == .bind || k == .listen
  }

  public let keyword: Keyword
  /// The keyword as JSON's `op` names it (`addr add`).
  public var op: String { keyword.spelling }
  /// Whether the statement names its socket with an index (`c[i]`).
  public let indexed: Bool
  /// Whether the transcript shows local -> remote (connect, accept, sendto),
  /// or the local endpoint (bind, listen).
  public let showsPair: Bool
  public let showsLocal: Bool
}

/// One executed statement, as every reporter sees it.
public struct StepEvent: Sendable {
  public var info: StmtInfo
  public var file: String { info.file }
  public var line: Int { info.line }
  public var column: Int { info.column }
  public var label: String { info.label }
  public var text: String { info.text }
  /// The statement that ran (typed: reporters match on its kind, not on text).
  public var stmt: Stmt { info.stmt }
  public var keyword: Keyword { info.keyword }
  public var op: String { info.op }
  public var expected: String? { info.expected }
  /// The resolved socket name (`c[3]`), if the statement names one.
  public var socket: String?
  /// Whether the statement is a call with a result.
  public var isCall: Bool
  /// The call's errno; nil is `ok`.
  public var errno: Errno?
  /// "ok" or an errno name; nil for a statement that is no call.
  public var result: String? { isCall ? (errno?.name ?? "ok") : nil }
  public var pass: Bool
  public var local: Endpoint?
  public var remote: Endpoint?
  public var why: String?
  /// The scenario clock after the statement (0 when the reporter does not
  /// want it: reading a real clock costs a call per statement).
  public var timeMs: Int64
  /// For a failed `expect`: what the operands were. For `sleep`: the new time.
  public var detail: String?
}

extension StepEvent {
  /// The endpoints a transcript shows for a call: local -> remote for
  /// connect, accept and sendto; the local one for a successful bind or listen.
  public var shownEndpoints: (local: Endpoint, remote: Endpoint?)? {
    guard isCall, let l = local else { return nil }
    if info.showsPair, let r = remote { return (l, r) }
    if errno == nil && info.showsLocal { return (l, nil) }
    return nil
  }
}

extension Reporter {
  public var wantsTime: Bool { true }
}

/// A row of `show`.
public struct ShowRow: Sendable {
  public var name: String
  public var proto: String
  public var state: String
  public var local: String
  public var remote: String
  public var options: [String]
  public var timer: String?
  /// The SO_REUSEPORT group (`g1`, `g2`, ... in order of appearance).
  public var group: String?
}

public struct RunSummary: Sendable {
  public var file: String
  public var backend: String
  public var kernel: String
  public var seed: UInt64
  public var statements: Int
  public var expectations: Int
  public var failed: Int
  public var exit: Int32
}

public protocol Reporter: AnyObject {
  /// Whether events need `timeMs` (JSON does; the text transcript does not).
  var wantsTime: Bool { get }
  func begin(file: String, backend: KernelBackend, seed: UInt64)
  func step(_ e: StepEvent)
  func printed(_ values: [Value])
  func show(_ rows: [ShowRow])
  /// A run-time error in the script, already rendered with its caret.
  func error(_ rendered: String)
  func end(_ s: RunSummary)
}

public struct RunOptions: Sendable {
  public var keepGoing = false
  public var seed: UInt64 = 0
  /// The REPL: a call written without `=> RESULT` only shows its result
  /// (in a file it expects `ok`).
  public var exploring = false
  /// A step budget (`--max-steps`): the run stops with an error once this
  /// many statements have run, loop bodies counted each round.
  public var maxSteps: Int?
  /// The process ends with this run: its state (a million sockets, say) is
  /// left for the exit to reclaim at once instead of being freed one
  /// object at a time, which took a tenth of such a run (clang's
  /// -disable-free does the same).
  public var endsProcess = false
  public init(keepGoing: Bool = false, seed: UInt64 = 0, exploring: Bool = false, maxSteps: Int? = nil, endsProcess: Bool = false) {
    self.keepGoing = keepGoing
    self.seed = seed
    self.exploring = exploring
    self.maxSteps = maxSteps
    self.endsProcess = endsProcess
  }
}

struct RuntimeError: Error {
  var diagnostic: Diagnostic
  init(_ msg: String, _ span: Span, hint: String? = nil) { diagnostic = Diagnostic(msg, at: span, hint: hint) }
}

struct StopRun: Error {}

/// The backend failed in a way the script cannot cause (exit 3).
struct BackendFailure: Error {
  var message: String
}

/// Ctrl-C arrived (exit 130).
struct Interrupted: Error {}

/// A socket name's binding: its current socket and what its last calls left.
final class Slot {
  /// The id of a socket that never opened: its `socket` or `accept ... as`
  /// failed. Both backends answer EBADF for it and read it as CLOSED.
  static let neverOpened: SockID = -1
  let name: String
  var id: SockID?
  /// The statement whose failure left the name without a socket.
  var failedBy: String?
  var result: Errno?
  var data: [UInt8]?
  var from: Endpoint?
  init(name: String) { self.name = name }
}

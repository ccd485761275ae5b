/// A socket name with an optional index: `c`, `c[i+1]`.
public struct SockRef: Equatable, Sendable {
  public var name: String
  public var nameSpan: Span
  public var index: Expr?
  public var span: Span
}

public enum BinaryOp: String, Sendable {
  case add = "+", sub = "-", mul = "*", div = "/", mod = "%"
  case eq = "==", ne = "!=", lt = "<", le = "<=", gt = ">", ge = ">="
  case and, or
}

public enum UnaryOp: String, Sendable {
  case neg = "-"
  case not
}

/// The host half of an endpoint: a literal address or an interpolated value.
public enum HostPart: Equatable, Sendable {
  case ipv4(String)
  case ipv6(String)
  case expr(Expr)
}

public enum PortPart: Equatable, Sendable {
  case number(Int)
  case expr(Expr)
  /// No `:PORT`: the host interpolation is a whole endpoint (`$(b.from)`).
  case inHost
}

public struct EndpointSyntax: Equatable, Sendable {
  public var host: HostPart
  public var hostSpan: Span
  public var port: PortPart
  public var portSpan: Span
  public var span: Span
}

public indirect enum ExprKind: Equatable, Sendable {
  case int(Int)
  /// `true` or `false`.
  case bool(Bool)
  case string(String)
  case duration(Int64)  // milliseconds
  case ipv4(String)
  case ipv6(String)
  /// A kernel version literal, as written (`6.18`, `6.1.32`).
  case version(String)
  case endpoint(EndpointSyntax)
  /// A bare name: a variable, a state (TIME_WAIT) or an errno (EADDRINUSE).
  case name(String)
  case property(SockRef, String, Span)
  case call(String, [Expr])
  case binary(BinaryOp, Expr, Expr)
  case unary(UnaryOp, Expr)
  case inRange(Expr, Expr, Expr)
}

public struct Expr: Equatable, Sendable {
  public var kind: ExprKind
  public var span: Span
  public init(_ kind: ExprKind, _ span: Span) {
    self.kind = kind
    self.span = span
  }
}

/// `=> ok|EADDRINUSE`, `=> any`.
public struct ResultSpec: Equatable, Sendable {
  public var names: [(String, Span)]
  public var span: Span
  public static func == (a: ResultSpec, b: ResultSpec) -> Bool {
    a.span == b.span && a.names.map(\.0) == b.names.map(\.0)
  }
}

/// One piece of a raw value: literal text or a `$` interpolation.
public enum TemplatePart: Equatable, Sendable {
  case text(String)
  case expr(Expr)
}

/// One `if` or `else if` of an `if` statement.
public struct IfBranch: Equatable, Sendable {
  public var condition: Expr
  public var body: [Stmt]
  public init(condition: Expr, body: [Stmt]) {
    self.condition = condition
    self.body = body
  }
}

public struct Word: Equatable, Sendable {
  public var text: String
  public var span: Span
}

public enum StmtKind: Equatable, Sendable {
  case socket(SockRef, proto: Word?, uid: Expr?)
  case setopt(SockRef, option: Word, args: [Expr])
  case bind(SockRef, EndpointSyntax)
  case listen(SockRef, backlog: Expr?)
  case connect(SockRef, EndpointSyntax)
  case accept(SockRef, SockRef)
  case send(SockRef, Expr)
  case recv(SockRef, Expr?)
  case sendto(SockRef, EndpointSyntax, Expr)
  case recvfrom(SockRef)
  case shutdown(SockRef, Word)
  case close(SockRef)
  case sleep(Expr)
  case sysctl(key: Word, value: [TemplatePart], valueSpan: Span)
  case addrAdd(value: [TemplatePart], valueSpan: Span)
  case ulimit(Word, Expr)
  case letVar(Word, Expr)
  case expect(Expr)
  case repeatLoop(count: Expr, variable: Word?, body: [Stmt])
  /// `if C { ... } else if C { ... } else { ... }`: the first branch whose
  /// condition holds runs, else `elseBody`.
  case ifElse(branches: [IfBranch], elseBody: [Stmt]?)
  case print([Expr])
  case show
}

/// A statement. A class, so that running a loop body a million times
/// passes references instead of copying every statement's payload.
public final class Stmt: Equatable, @unchecked Sendable {
  /// Numbers the statements of one parse in source order (0, 1, ...).
  public var id: Int = 0
  public let kind: StmtKind
  /// The whole statement, without a trailing comment.
  public let span: Span
  public let keywordSpan: Span
  public let result: ResultSpec?

  public static func == (a: Stmt, b: Stmt) -> Bool {
    a.kind == b.kind && a.span == b.span && a.keywordSpan == b.keywordSpan && a.result == b.result
  }

  public init(kind: StmtKind, span: Span, keywordSpan: Span, result: ResultSpec?) {
    self.kind = kind
    self.span = span
    self.keywordSpan = keywordSpan
    self.result = result
  }

  /// The statement's entry in the keyword table.
  public var statementKeyword: Keyword {
    switch kind {
    case .socket: return .socket
    case .setopt: return .setopt
    case .bind: return .bind
    case .listen: return .listen
    case .connect: return .connect
    case .accept: return .accept
    case .send: return .send
    case .recv: return .recv
    case .sendto: return .sendto
    case .recvfrom: return .recvfrom
    case .shutdown: return .shutdown
    case .close: return .close
    case .sleep: return .sleep
    case .sysctl: return .sysctl
    case .addrAdd: return .addrAdd
    case .ulimit: return .ulimit
    case .letVar: return .letVar
    case .expect: return .expect
    case .repeatLoop: return .repeatLoop
    case .ifElse: return .ifElse
    case .print: return .print
    case .show: return .show
    }
  }

  /// The statement keyword as written: `bind`, `addr add`, ...
  public var keyword: String { statementKeyword.spelling }

  /// The socket the statement acts on (`accept`: the listener), if any.
  public var socketRef: SockRef? {
    switch kind {
    case .socket(let r, _, _), .setopt(let r, _, _), .bind(let r, _), .listen(let r, _), .connect(let r, _), .accept(let r, _),
      .send(let r, _), .recv(let r, _), .sendto(let r, _, _), .recvfrom(let r), .shutdown(let r, _), .close(let r):
      return r
    default:
      return nil
    }
  }

  /// Whether the statement is a call with a result (may carry `=> RESULT`).
  public var isCall: Bool { statementKeyword.isCall }
}

public struct Program: Equatable, Sendable {
  public var statements: [Stmt]
  public init(statements: [Stmt]) { self.statements = statements }
}

/// The statements of the language, one table (as go/token has one token
/// table): the parser dispatches on it, and the checker, the REPL's
/// completion and help, and the editor-grammar test read it.
public enum Keyword: String, CaseIterable, Sendable {
  case socket, setopt, bind, listen, connect, accept, send, recv, sendto, recvfrom, shutdown, close, sleep, sysctl
  case addrAdd = "addr"
  case ulimit
  case letVar = "let"
  case expect
  case repeatLoop = "repeat"
  case ifElse = "if"
  case print, show

  /// The word a statement starts with.
  public var word: String { rawValue }
  /// The keyword as a transcript names it (`addr add`).
  public var spelling: String { self == .addrAdd ? "addr add" : rawValue }

  /// A call with a result, which may end with `=> RESULT`.
  public var isCall: Bool {
    switch self {
    case .sleep, .ulimit, .letVar, .expect, .repeatLoop, .ifElse, .print, .show: return false
    default: return true
    }
  }

  /// Whether its first operand is an existing socket (what completion offers there).
  public var takesSocket: Bool {
    switch self {
    case .setopt, .bind, .listen, .connect, .accept, .send, .recv, .sendto, .recvfrom, .shutdown, .close: return true
    default: return false
    }
  }

  /// The statement's form, for help.
  public var usage: String {
    switch self {
    case .socket: return "socket NAME [tcp|udp|tcp6|udp6] [uid N]"
    case .setopt: return "setopt NAME OPTION [VALUE]"
    case .bind: return "bind NAME ENDPOINT"
    case .listen: return "listen NAME [BACKLOG]"
    case .connect: return "connect NAME ENDPOINT"
    case .accept: return "accept NAME as NEW"
    case .send: return "send NAME STRING"
    case .recv: return "recv NAME [N]"
    case .sendto: return "sendto NAME ENDPOINT STRING"
    case .recvfrom: return "recvfrom NAME"
    case .shutdown: return "shutdown NAME rd|wr|rdwr"
    case .close: return "close NAME"
    case .sleep: return "sleep DURATION"
    case .sysctl: return "sysctl KEY = VALUE"
    case .addrAdd: return "addr add ADDRESS[/PREFIX]"
    case .ulimit: return "ulimit nofile N"
    case .letVar: return "let NAME = EXPR"
    case .expect: return "expect EXPR"
    case .repeatLoop: return "repeat N [as VAR] { ... }"
    case .ifElse: return "if EXPR { ... } [else if EXPR { ... }] [else { ... }]"
    case .print: return "print EXPR[, EXPR...]"
    case .show: return "show"
    }
  }
}

/// The other word tables, shared with the checker, the REPL and editor grammars.
public enum Keywords {
  public static let statements = Keyword.allCases.map(\.word)
  public static let protocols = ["tcp", "udp", "tcp6", "udp6"]
  public static let shutdownModes = ["rd", "wr", "rdwr"]
  public static let properties = ["state", "laddr", "lport", "raddr", "rport", "local", "remote", "result", "data", "from"]
  public static let functions = ["count"]
  public static let wordOperators = ["and", "or", "not", "in", "as", "uid", "ok", "any", "on", "off", "else"]
  public static let literals = ["true", "false"]
}

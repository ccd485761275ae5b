public enum TokenKind: Equatable, Sendable {
  case ident
  case number  // decimal integer
  case duration  // 250ms, 1.5s, 2m
  case ipv4  // 127.0.0.1
  case version  // 6.18, 6.1.32 (a kernel version, compared with `kernel`)
  case ipv6  // [::1] (the span includes the brackets)
  case string  // "..." (decoded value in Token.value)
  case dollarIdent  // $name
  case dollarParen  // $(
  case colon, lparen, rparen, lbrace, rbrace, lbracket, rbracket, comma, dot, dotdot
  case arrow  // =>
  case pipe, assign, eq, ne, lt, le, gt, ge, plus, minus, star, slash, percent
  case semicolon, newline, eof
  case invalid
}

/// A token carries only byte offsets; line and column are computed when printing.
public struct Token: Equatable, Sendable {
  public var kind: TokenKind
  public var span: Span
  /// Decoded value for strings; the name for `$name`; milliseconds for durations.
  public var value: String?
  public var start: Int { span.start }
  public var end: Int { span.end }
}

extension TokenKind {
  public var display: String {
    switch self {
    case .ident: return "name"
    case .number: return "number"
    case .duration: return "duration"
    case .ipv4: return "IPv4 address"
    case .version: return "version"
    case .ipv6: return "IPv6 address"
    case .string: return "string"
    case .dollarIdent, .dollarParen: return "interpolation"
    case .colon: return "':'"
    case .lparen: return "'('"
    case .rparen: return "')'"
    case .lbrace: return "'{'"
    case .rbrace: return "'}'"
    case .lbracket: return "'['"
    case .rbracket: return "']'"
    case .comma: return "','"
    case .dot: return "'.'"
    case .dotdot: return "'..'"
    case .arrow: return "'=>'"
    case .pipe: return "'|'"
    case .assign: return "'='"
    case .eq: return "'=='"
    case .ne: return "'!='"
    case .lt: return "'<'"
    case .le: return "'<='"
    case .gt: return "'>'"
    case .ge: return "'>='"
    case .plus: return "'+'"
    case .minus: return "'-'"
    case .star: return "'*'"
    case .slash: return "'/'"
    case .percent: return "'%'"
    case .semicolon: return "';'"
    case .newline: return "end of line"
    case .eof: return "end of file"
    case .invalid: return "invalid input"
    }
  }
}

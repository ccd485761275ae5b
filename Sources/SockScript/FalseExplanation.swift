import SockSyntax

/// What a failed `expect` says, as pieces of text and values to show, so
/// the interpreter and both exporters word it alike: `count(TIME_WAIT) is
/// 2, expected 1` when the right side is a literal, `a.lport is 40001,
/// b.lport is 40001` when both sides are computed.
enum FalseExplanation {
  enum Piece: Equatable {
    case text(String)
    /// An expression whose value is shown.
    case value(Expr)
  }

  static func pieces(_ e: Expr, source: (Span) -> String, isVariable: (String) -> Bool) -> [Piece] {
    func isLiteral(_ x: Expr) -> Bool {
      switch x.kind {
      case .int, .bool, .string, .duration, .ipv4, .ipv6: return true
      case .endpoint(let ep):
        if case .expr = ep.host { return false }
        if case .expr = ep.port { return false }
        return true
      case .name(let n): return !isVariable(n)
      case .unary(.neg, let a): return isLiteral(a)
      default: return false
      }
    }
    switch e.kind {
    case .binary(let op, let a, let b) where [.eq, .ne, .lt, .le, .gt, .ge].contains(op):
      if isLiteral(b) {
        let want = op == .eq ? source(b.span) : "\(op.rawValue) \(source(b.span))"
        return [.text("\(source(a.span)) is "), .value(a), .text(", expected \(want)")]
      }
      return [.text("\(source(a.span)) is "), .value(a), .text(", \(source(b.span)) is "), .value(b)]
    case .inRange(let a, let lo, let hi):
      return [.text("\(source(a.span)) is "), .value(a), .text(", expected \(source(lo.span))..\(source(hi.span))")]
    default:
      return [.text("\(source(e.span)) is false")]
    }
  }
}

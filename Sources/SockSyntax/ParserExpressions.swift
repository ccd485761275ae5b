/// The expression grammar: `or`, `and`, `not`, comparisons and `in LO..HI`,
/// `+ -`, `* / %`, unary minus, and primaries (literals, endpoints, names,
/// properties, `count(...)`, parentheses), in precedence order.
extension Parser {
  // MARK: expressions

  public mutating func expr() throws -> Expr { try orExpr() }

  mutating func orExpr() throws -> Expr {
    var l = try andExpr()
    while isWord("or") {
      advance()
      let r = try andExpr()
      l = Expr(.binary(.or, l, r), l.span.to(r.span))
    }
    return l
  }

  mutating func andExpr() throws -> Expr {
    var l = try notExpr()
    while isWord("and") {
      advance()
      let r = try notExpr()
      l = Expr(.binary(.and, l, r), l.span.to(r.span))
    }
    return l
  }

  mutating func notExpr() throws -> Expr {
    if isWord("not") {
      let s = tok.start
      advance()
      let e = try notExpr()
      return Expr(.unary(.not, e), Span(s, e.span.end))
    }
    return try comparison()
  }

  mutating func comparison() throws -> Expr {
    let l = try additive()
    let op: BinaryOp
    switch tok.kind {
    case .eq: op = .eq
    case .ne: op = .ne
    case .lt: op = .lt
    case .le: op = .le
    case .gt: op = .gt
    case .ge: op = .ge
    case .assign:
      throw fail("'=' is not a comparison", hint: "use '==' to compare")
    case .ident where tokText == "in":
      advance()
      let lo = try additive()
      _ = try expect(.dotdot, "'..' in a range", hint: "write 'x in 40000..40009'")
      let hi = try additive()
      return Expr(.inRange(l, lo, hi), l.span.to(hi.span))
    default:
      return l
    }
    advance()
    let r = try additive()
    return Expr(.binary(op, l, r), l.span.to(r.span))
  }

  mutating func additive() throws -> Expr {
    var l = try multiplicative()
    while tok.kind == .plus || tok.kind == .minus {
      let op: BinaryOp = tok.kind == .plus ? .add : .sub
      advance()
      let r = try multiplicative()
      l = Expr(.binary(op, l, r), l.span.to(r.span))
    }
    return l
  }

  mutating func multiplicative() throws -> Expr {
    var l = try unary()
    while tok.kind == .star || tok.kind == .slash || tok.kind == .percent {
      let op: BinaryOp = tok.kind == .star ? .mul : tok.kind == .slash ? .div : .mod
      advance()
      let r = try unary()
      l = Expr(.binary(op, l, r), l.span.to(r.span))
    }
    return l
  }

  mutating func unary() throws -> Expr {
    if tok.kind == .minus {
      let s = tok.start
      advance()
      let e = try unary()
      return Expr(.unary(.neg, e), Span(s, e.span.end))
    }
    return try primary()
  }

  /// An address literal or interpolation followed, with no space, by `:PORT`.
  mutating func maybeEndpoint(_ host: HostPart, start: Int, hostExpr: Expr) throws -> Expr {
    guard tok.kind == .colon && tok.start == prevEnd else { return hostExpr }
    let hostSpan = Span(start, prevEnd)
    advance()
    let (port, portSpan) = try portAfterColon()
    let ep = EndpointSyntax(host: host, hostSpan: hostSpan, port: port, portSpan: portSpan, span: Span(start, prevEnd))
    return Expr(.endpoint(ep), ep.span)
  }

  mutating func primary() throws -> Expr {
    let t = tok
    switch t.kind {
    case .number:
      advance()
      guard let v = Int(text(t)) else { throw fail("number '\(text(t))' is too large", t.span) }
      return Expr(.int(v), t.span)
    case .duration:
      advance()
      return Expr(.duration(Int64(t.value ?? "0") ?? 0), t.span)
    case .version:
      advance()
      return Expr(.version(text(t)), t.span)
    case .string:
      advance()
      return Expr(.string(t.value ?? ""), t.span)
    case .ipv4:
      advance()
      let s = text(t)
      return try maybeEndpoint(.ipv4(s), start: t.start, hostExpr: Expr(.ipv4(s), t.span))
    case .ipv6:
      advance()
      let s = t.value ?? ""
      return try maybeEndpoint(.ipv6(s), start: t.start, hostExpr: Expr(.ipv6(s), t.span))
    case .dollarIdent, .dollarParen:
      let e = try interpolation()
      return try maybeEndpoint(.expr(e), start: t.start, hostExpr: e)
    case .lparen:
      advance()
      var e = try expr()
      _ = try expect(.rparen, "')'")
      e.span = Span(t.start, prevEnd)
      return e
    case .ident:
      let name = text(t)
      if ["and", "or", "in"].contains(name) { throw fail("expected an expression, found '\(name)'") }
      advance()
      if name == "true" || name == "false" { return Expr(.bool(name == "true"), t.span) }
      if name == "count" && tok.kind == .lparen {
        advance()
        var args: [Expr] = []
        if tok.kind != .rparen {
          args.append(try expr())
          while tok.kind == .comma {
            advance()
            args.append(try expr())
          }
        }
        _ = try expect(.rparen, "')'")
        return Expr(.call(name, args), Span(t.start, prevEnd))
      }
      var index: Expr?
      if tok.kind == .lbracket {
        advance()
        index = try expr()
        _ = try expect(.rbracket, "']' to close the index")
      }
      let r = SockRef(name: name, nameSpan: t.span, index: index, span: Span(t.start, prevEnd))
      if tok.kind == .dot && tok.start == prevEnd {
        advance()
        guard tok.kind == .ident else { throw fail("expected a property name after '.'", hint: "properties: \(Keywords.properties.joined(separator: ", "))") }
        let p = tokText
        let ps = tok.span
        advance()
        return Expr(.property(r, p, ps), Span(t.start, prevEnd))
      }
      if index != nil {
        throw fail("expected '.PROPERTY' after '\(file.text(r.span))'", Span(prevEnd, prevEnd + 1), hint: "e.g. \(file.text(r.span)).state")
      }
      return Expr(.name(name), t.span)
    case .colon:
      throw fail("expected an expression, found \(found())", hint: "write an IPv6 address in brackets, e.g. [::1]")
    default:
      throw fail("expected an expression, found \(found())")
    }
  }
}

/// A recursive-descent parser over the on-demand lexer. It never stops at the
/// first error: a bad statement is reported and skipped to the next `;` or
/// line, so `sockscript check` can list every error of a file.
public struct Parser {
  enum Failure: Error {
    case reported
  }

  let file: SourceFile
  var lx: Lexer
  var tok: Token
  var prevEnd: Int
  var diags: [Diagnostic] = []
  var nextStmtID = 0

  init(_ file: SourceFile, start: Int = 0, limit: Int? = nil) {
    self.file = file
    self.lx = Lexer(file, start: start, limit: limit)
    self.prevEnd = start
    self.tok = Token(kind: .newline, span: Span(start, start), value: nil)
    self.tok = lx.next()
  }

  /// Parses a whole file. Diagnostics come back sorted by position.
  public static func parse(_ file: SourceFile) -> (Program, [Diagnostic]) {
    var p = Parser(file)
    let stmts = p.block(inBraces: false)
    return (Program(statements: stmts), Diagnostic.sortedByPosition(p.lx.diagnostics + p.diags))
  }

  // MARK: helpers

  func text(_ t: Token) -> String { file.text(t.span) }
  var tokText: String { text(tok) }

  mutating func advance() {
    prevEnd = tok.end
    tok = lx.next()
  }

  func isWord(_ w: String) -> Bool { tok.kind == .ident && tokText == w }

  mutating func fail(_ msg: String, _ span: Span? = nil, hint: String? = nil) -> Failure {
    // An invalid token was already reported by the lexer; say nothing more.
    if tok.kind != .invalid || span != nil {
      diags.append(Diagnostic(msg, at: span ?? tok.span, hint: hint))
    }
    return .reported
  }

  func found() -> String {
    switch tok.kind {
    case .ident, .number, .ipv4, .ipv6, .duration: return "'\(tokText)'"
    default: return tok.kind.display
    }
  }

  mutating func expect(_ k: TokenKind, _ what: String, hint: String? = nil) throws -> Token {
    guard tok.kind == k else { throw fail("expected \(what), found \(found())", hint: hint) }
    let t = tok
    advance()
    return t
  }

  mutating func word(_ what: String, hint: String? = nil) throws -> Word {
    let t = try expect(.ident, what, hint: hint)
    return Word(text: text(t), span: t.span)
  }

  var atEnd: Bool {
    switch tok.kind {
    case .newline, .semicolon, .eof, .rbrace, .arrow: return true
    default: return false
    }
  }

  mutating func sync(inBraces: Bool) {
    while true {
      switch tok.kind {
      case .eof: return
      case .newline, .semicolon:
        advance()
        return
      case .rbrace where inBraces: return
      default: advance()
      }
    }
  }

  // MARK: statements

  mutating func block(inBraces: Bool, opening: Span? = nil) -> [Stmt] {
    var out: [Stmt] = []
    while true {
      while tok.kind == .newline || tok.kind == .semicolon { advance() }
      if tok.kind == .eof {
        if inBraces { _ = fail("this '{' is never closed", opening, hint: "every 'repeat ... {' and 'if ... {' needs a matching '}'") }
        return out
      }
      if tok.kind == .rbrace {
        if inBraces {
          advance()
          return out
        }
        _ = fail("unexpected '}'", hint: "there is no open 'repeat' or 'if' block here")
        advance()
        continue
      }
      do {
        let s = try statement()
        out.append(s)
        switch tok.kind {
        case .newline, .semicolon: advance()
        case .eof: break
        case .rbrace where inBraces: break
        default:
          throw fail("expected end of statement, found \(found())", hint: "put one statement per line, or separate them with ';'")
        }
      } catch {
        sync(inBraces: inBraces)
      }
    }
  }

  /// `{ ... }` after `if EXPR`, `else if EXPR` or `else` (the brace may
  /// start the next line).
  mutating func braced(_ what: String) throws -> [Stmt] {
    while tok.kind == .newline { advance() }
    let brace = try expect(.lbrace, "'{' to open the '\(what)' body", hint: "write e.g. 'if n == 3 { print n } else { print 0 }'")
    return block(inBraces: true, opening: brace.span)
  }

  mutating func statement() throws -> Stmt {
    guard tok.kind == .ident else {
      throw fail("expected a statement, found \(found())")
    }
    let kwTok = tok
    let kw = tokText
    let start = tok.start
    guard let keyword = Keyword(rawValue: kw) else {
      advance()
      if kw == "else" {
        throw fail("'else' without an 'if'", kwTok.span, hint: "write it on the line of the '}' that closes the 'if' body: '} else {'")
      }
      throw fail("unknown statement '\(kw)'", kwTok.span, hint: Suggest.hint(for: kw, in: Keywords.statements))
    }
    advance()
    var kind: StmtKind
    switch keyword {
    case .socket:
      let r = try ref()
      var proto: Word?
      var uid: Expr?
      // PROTO and `uid N` in either order.
      for _ in 0..<2 {
        if isWord("uid") && uid == nil {
          advance()
          uid = try unary()
        } else if tok.kind == .ident && proto == nil && !isWord("uid") {
          proto = try word("a protocol")
        }
      }
      kind = .socket(r, proto: proto, uid: uid)
    case .setopt:
      let r = try ref()
      let opt = try word("an option name", hint: "e.g. 'setopt a reuseaddr'")
      var args: [Expr] = []
      while !atEnd { args.append(try unary()) }
      kind = .setopt(r, option: opt, args: args)
    case .bind:
      kind = .bind(try ref(), try endpoint())
    case .connect:
      kind = .connect(try ref(), try endpoint())
    case .listen:
      let r = try ref()
      kind = .listen(r, backlog: atEnd ? nil : try expr())
    case .accept:
      let r = try ref()
      guard isWord("as") else { throw fail("expected 'as NAME' after 'accept \(file.text(r.span))'", hint: "e.g. 'accept srv as s'") }
      advance()
      kind = .accept(r, try ref())
    case .send:
      kind = .send(try ref(), try expr())
    case .recv:
      let r = try ref()
      kind = .recv(r, atEnd ? nil : try expr())
    case .sendto:
      kind = .sendto(try ref(), try endpoint(), try expr())
    case .recvfrom:
      kind = .recvfrom(try ref())
    case .shutdown:
      kind = .shutdown(try ref(), try word("'rd', 'wr' or 'rdwr'"))
    case .close:
      kind = .close(try ref())
    case .sleep:
      kind = .sleep(try expr())
    case .sysctl:
      kind = try sysctl()
    case .addrAdd:
      guard isWord("add") else { throw fail("expected 'add' after 'addr'", hint: "write 'addr add 127.0.0.2' or 'addr add [fd00::1]/64'") }
      let addStart = tok.end
      let span = lx.rawRest(from: addStart)
      if span.start == span.end {
        tok = lx.next()
        throw fail("expected an address after 'addr add'", Span(span.start, span.start + 1), hint: "e.g. 'addr add 127.0.0.2' or 'addr add 10.1.0.1/24'")
      }
      let parts = template(span)
      prevEnd = span.end
      tok = lx.next()
      kind = .addrAdd(value: parts, valueSpan: span)
    case .ulimit:
      let res = try word("a resource name", hint: "e.g. 'ulimit nofile 64'")
      kind = .ulimit(res, try expr())
    case .letVar:
      let name = try word("a variable name")
      _ = try expect(.assign, "'='", hint: "write 'let NAME = EXPRESSION'")
      kind = .letVar(name, try expr())
    case .expect:
      kind = .expect(try expr())
    case .repeatLoop:
      let count = try expr()
      var v: Word?
      if isWord("as") {
        advance()
        v = try word("a loop variable name")
      }
      while tok.kind == .newline { advance() }
      let brace = try expect(.lbrace, "'{' to open the loop body", hint: "write 'repeat 10 { ... }'")
      let body = block(inBraces: true, opening: brace.span)
      kind = .repeatLoop(count: count, variable: v, body: body)
    case .ifElse:
      var branches = [IfBranch(condition: try expr(), body: try braced("if"))]
      var elseBody: [Stmt]?
      while isWord("else") {
        advance()
        if isWord("if") {
          advance()
          branches.append(IfBranch(condition: try expr(), body: try braced("else if")))
        } else {
          elseBody = try braced("else")
          break
        }
      }
      kind = .ifElse(branches: branches, elseBody: elseBody)
    case .print:
      var items = [try expr()]
      while tok.kind == .comma {
        advance()
        items.append(try expr())
      }
      kind = .print(items)
    case .show:
      kind = .show
    }
    var result: ResultSpec?
    if tok.kind == .arrow {
      let arrowTok = tok
      advance()
      var names: [(String, Span)] = []
      repeat {
        if tok.kind == .pipe { advance() }
        guard tok.kind == .ident else { throw fail("expected a result after '=>': 'ok', 'any' or an errno name", hint: "e.g. '=> EADDRINUSE' or '=> ok|EADDRNOTAVAIL'") }
        names.append((tokText, tok.span))
        advance()
      } while tok.kind == .pipe
      result = ResultSpec(names: names, span: Span(arrowTok.start, prevEnd))
    }
    let stmt = Stmt(kind: kind, span: Span(start, prevEnd), keywordSpan: kwTok.span, result: result)
    stmt.id = nextStmtID
    nextStmtID += 1
    if result != nil && !stmt.isCall {
      throw fail("'=>' can only follow a call, not '\(stmt.keyword)'", result!.span, hint: "use 'expect' to check a value")
    }
    return stmt
  }

  mutating func sysctl() throws -> StmtKind {
    guard tok.kind == .ident else { throw fail("expected a sysctl key", hint: "e.g. 'sysctl net.ipv4.ip_local_port_range = 40000 40009'") }
    let ks = tok.start
    advance()
    while tok.kind == .dot && tok.start == prevEnd {
      advance()
      guard tok.kind == .ident && tok.start == prevEnd else { throw fail("malformed sysctl key") }
      advance()
    }
    let key = Word(text: file.text(Span(ks, prevEnd)), span: Span(ks, prevEnd))
    guard tok.kind == .assign else { throw fail("expected '=' after the sysctl key", hint: "write 'sysctl \(key.text) = VALUE'") }
    let span = lx.rawRest(from: tok.end)
    let parts = template(span)
    prevEnd = span.end
    tok = lx.next()
    return .sysctl(key: key, value: parts, valueSpan: span)
  }

  /// Splits raw text into literal parts and `$name` / `$(expr)` interpolations.
  mutating func template(_ span: Span) -> [TemplatePart] {
    var parts: [TemplatePart] = []
    var lit: [UInt8] = []
    let b = file.bytes
    var i = span.start
    func flush() {
      if !lit.isEmpty { parts.append(.text(String(decoding: lit, as: UTF8.self))) }
      lit = []
    }
    while i < span.end {
      let c = b[i]
      if c == UInt8(ascii: "$") && i + 1 < span.end && Lexer.isAlpha(b[i + 1]) {
        flush()
        var j = i + 1
        while j < span.end && Lexer.isAlnum(b[j]) { j += 1 }
        parts.append(.expr(Expr(.name(file.text(Span(i + 1, j))), Span(i, j))))
        i = j
      } else if c == UInt8(ascii: "$") && i + 1 < span.end && b[i + 1] == UInt8(ascii: "(") {
        flush()
        var depth = 0
        var j = i + 1
        while j < span.end {
          if b[j] == UInt8(ascii: "(") { depth += 1 }
          if b[j] == UInt8(ascii: ")") {
            depth -= 1
            if depth == 0 { break }
          }
          j += 1
        }
        if j >= span.end {
          diags.append(Diagnostic("unclosed '$('", at: Span(i, i + 2), hint: "close the interpolation with ')'"))
          return parts
        }
        var sub = Parser(file, start: i + 2, limit: j)
        if let e = try? sub.expr() {
          if sub.tok.kind != .eof { sub.diags.append(Diagnostic("unexpected \(sub.tok.kind.display) in interpolation", at: sub.tok.span)) }
          parts.append(.expr(e))
        }
        diags += sub.lx.diagnostics + sub.diags
        i = j + 1
      } else {
        lit.append(c)
        i += 1
      }
    }
    flush()
    return parts
  }

  mutating func ref() throws -> SockRef {
    guard tok.kind == .ident else { throw fail("expected a socket name, found \(found())") }
    let nameTok = tok
    advance()
    var index: Expr?
    if tok.kind == .lbracket {
      advance()
      index = try expr()
      _ = try expect(.rbracket, "']' to close the index")
    }
    return SockRef(name: text(nameTok), nameSpan: nameTok.span, index: index, span: Span(nameTok.start, prevEnd))
  }

  mutating func endpoint() throws -> EndpointSyntax {
    let start = tok.start
    let host: HostPart
    switch tok.kind {
    case .ipv4:
      host = .ipv4(tokText)
      advance()
    case .ipv6:
      host = .ipv6(tok.value ?? "")
      advance()
    case .dollarIdent, .dollarParen:
      host = .expr(try interpolation())
    default:
      throw fail("expected an endpoint such as 127.0.0.1:80 or [::1]:80, found \(found())")
    }
    let hostSpan = Span(start, prevEnd)
    guard tok.kind == .colon && tok.start == prevEnd else {
      if case .expr = host {
        return EndpointSyntax(host: host, hostSpan: hostSpan, port: .inHost, portSpan: hostSpan, span: hostSpan)
      }
      throw fail("expected ':PORT' right after the address", Span(prevEnd, prevEnd + 1), hint: "write the port with no space, e.g. \(file.text(hostSpan)):8080")
    }
    advance()
    let (port, portSpan) = try portAfterColon()
    return EndpointSyntax(host: host, hostSpan: hostSpan, port: port, portSpan: portSpan, span: Span(start, prevEnd))
  }

  /// The port of an endpoint, right after its ':' (a number or an interpolation).
  mutating func portAfterColon() throws -> (PortPart, Span) {
    guard tok.start == prevEnd else { throw fail("expected a port right after ':'", Span(prevEnd, prevEnd + 1)) }
    let ps = tok.start
    let port: PortPart
    switch tok.kind {
    case .number:
      guard let v = Int(tokText) else { throw fail("port '\(tokText)' is out of range 0..65535") }
      port = .number(v)
      advance()
    case .dollarIdent, .dollarParen:
      port = .expr(try interpolation())
    default:
      throw fail("expected a port number after ':', found \(found())")
    }
    return (port, Span(ps, prevEnd))
  }

  mutating func interpolation() throws -> Expr {
    let start = tok.start
    if tok.kind == .dollarIdent {
      let name = tok.value ?? ""
      advance()
      return Expr(.name(name), Span(start, prevEnd))
    }
    _ = try expect(.dollarParen, "'$('")
    var e = try expr()
    _ = try expect(.rparen, "')' to close '$('")
    e.span = Span(start, prevEnd)
    return e
  }
}

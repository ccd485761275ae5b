/// An on-demand scanner: the parser pulls one token at a time, and may ask for
/// the raw rest of a statement (the value of `sysctl KEY = VALUE`).
public struct Lexer {
  public let file: SourceFile
  let b: [UInt8]
  public private(set) var pos: Int
  public let limit: Int
  public private(set) var diagnostics: [Diagnostic] = []
  private var lastKind: TokenKind = .newline
  private var lastEnd: Int = -1

  public init(_ file: SourceFile, start: Int = 0, limit: Int? = nil) {
    self.file = file
    self.b = file.bytes
    self.pos = start
    self.limit = min(limit ?? file.bytes.count, file.bytes.count)
  }

  @inline(__always) func at(_ i: Int) -> UInt8 { i < limit ? b[i] : 0 }

  static func isDigit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }
  static func isAlpha(_ c: UInt8) -> Bool { (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 95 }
  static func isAlnum(_ c: UInt8) -> Bool { isAlpha(c) || isDigit(c) }
  static func isHex(_ c: UInt8) -> Bool { isDigit(c) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102) }

  mutating func skipTrivia() {
    while pos < limit {
      let c = b[pos]
      if c == 32 || c == 9 || c == 13 {
        pos += 1
      } else if c == UInt8(ascii: "#") {
        while pos < limit && b[pos] != 10 { pos += 1 }
      } else {
        break
      }
    }
  }

  mutating func make(_ kind: TokenKind, _ start: Int, _ value: String? = nil) -> Token {
    lastKind = kind
    lastEnd = pos
    return Token(kind: kind, span: Span(start, pos), value: value)
  }

  mutating func error(_ msg: String, _ start: Int, hint: String? = nil) -> Token {
    diagnostics.append(Diagnostic(msg, at: Span(start, max(pos, start + 1)), hint: hint))
    return make(.invalid, start)
  }

  /// Takes the raw rest of a statement from `offset`: up to `;`, `#`, `=>`, or
  /// the end of the line, trimmed. Returns its span.
  public mutating func rawRest(from offset: Int) -> Span {
    var i = offset
    while i < limit && (b[i] == 32 || b[i] == 9) { i += 1 }
    let start = i
    var inString = false
    while i < limit {
      let c = b[i]
      if c == 10 { break }
      if c == UInt8(ascii: "\"") { inString.toggle() }
      if !inString {
        if c == UInt8(ascii: ";") || c == UInt8(ascii: "#") { break }
        if c == UInt8(ascii: "=") && at(i + 1) == UInt8(ascii: ">") { break }
        if c == UInt8(ascii: "$") && at(i + 1) == UInt8(ascii: "(") {
          // Skip a balanced $( ... ) so that ';' inside it cannot end the value.
          var depth = 0
          i += 1
          while i < limit && b[i] != 10 {
            if b[i] == UInt8(ascii: "(") { depth += 1 }
            if b[i] == UInt8(ascii: ")") {
              depth -= 1
              if depth == 0 { break }
            }
            i += 1
          }
        }
      }
      i += 1
    }
    var end = min(i, limit)
    while end > start && (b[end - 1] == 32 || b[end - 1] == 9 || b[end - 1] == 13) { end -= 1 }
    pos = i
    lastKind = .invalid
    return Span(start, end)
  }

  public mutating func next() -> Token {
    skipTrivia()
    let start = pos
    guard pos < limit else { return make(.eof, start) }
    let c = b[pos]
    let adjacent = start == lastEnd
    switch c {
    case 10:
      pos += 1
      return make(.newline, start)
    case _ where Lexer.isDigit(c):
      return number(start)
    case _ where Lexer.isAlpha(c):
      while pos < limit && Lexer.isAlnum(b[pos]) { pos += 1 }
      return make(.ident, start)
    case UInt8(ascii: "["):
      // `c[i]`: an index written directly after a name. After a space: IPv6.
      if adjacent && (lastKind == .ident || lastKind == .rbracket) {
        pos += 1
        return make(.lbracket, start)
      }
      return ipv6(start)
    case UInt8(ascii: "\""):
      return string(start)
    case UInt8(ascii: "$"):
      pos += 1
      if at(pos) == UInt8(ascii: "(") {
        pos += 1
        return make(.dollarParen, start)
      }
      if Lexer.isAlpha(at(pos)) {
        while pos < limit && Lexer.isAlnum(b[pos]) { pos += 1 }
        return make(.dollarIdent, start, file.text(Span(start + 1, pos)))
      }
      return error("'$' must be followed by a name or '('", start, hint: "write $name or $(expression)")
    default:
      break
    }
    pos += 1
    let n = at(pos)
    func two(_ k: TokenKind) -> Token {
      pos += 1
      return make(k, start)
    }
    switch c {
    case UInt8(ascii: "="):
      if n == UInt8(ascii: ">") { return two(.arrow) }
      if n == UInt8(ascii: "=") { return two(.eq) }
      return make(.assign, start)
    case UInt8(ascii: "!"):
      if n == UInt8(ascii: "=") { return two(.ne) }
      return error("unexpected '!'", start, hint: "use 'not' for negation and '!=' for inequality")
    case UInt8(ascii: "<"):
      return n == UInt8(ascii: "=") ? two(.le) : make(.lt, start)
    case UInt8(ascii: ">"):
      return n == UInt8(ascii: "=") ? two(.ge) : make(.gt, start)
    case UInt8(ascii: "."):
      return n == UInt8(ascii: ".") ? two(.dotdot) : make(.dot, start)
    case UInt8(ascii: ":"): return make(.colon, start)
    case UInt8(ascii: "("): return make(.lparen, start)
    case UInt8(ascii: ")"): return make(.rparen, start)
    case UInt8(ascii: "{"): return make(.lbrace, start)
    case UInt8(ascii: "}"): return make(.rbrace, start)
    case UInt8(ascii: "]"): return make(.rbracket, start)
    case UInt8(ascii: ","): return make(.comma, start)
    case UInt8(ascii: "|"): return make(.pipe, start)
    case UInt8(ascii: "+"): return make(.plus, start)
    case UInt8(ascii: "-"): return make(.minus, start)
    case UInt8(ascii: "*"): return make(.star, start)
    case UInt8(ascii: "/"): return make(.slash, start)
    case UInt8(ascii: "%"): return make(.percent, start)
    case UInt8(ascii: ";"): return make(.semicolon, start)
    default:
      // Consume a whole UTF-8 scalar so the caret covers one character.
      while pos < limit && (b[pos] & 0xC0) == 0x80 { pos += 1 }
      return error("unexpected character '\(file.text(Span(start, pos)))'", start)
    }
  }

  mutating func digits() -> Int {
    let s = pos
    while pos < limit && Lexer.isDigit(b[pos]) { pos += 1 }
    return pos - s
  }

  mutating func number(_ start: Int) -> Token {
    _ = digits()
    // IPv4: four dot-separated groups of digits.
    if at(pos) == UInt8(ascii: ".") && Lexer.isDigit(at(pos + 1)) {
      let save = pos
      var groups = 1
      while at(pos) == UInt8(ascii: ".") && Lexer.isDigit(at(pos + 1)) && groups < 4 {
        pos += 1
        _ = digits()
        groups += 1
      }
      if groups == 4 {
        if at(pos) == UInt8(ascii: ".") || Lexer.isAlpha(at(pos)) {
          while pos < limit && (Lexer.isAlnum(b[pos]) || b[pos] == UInt8(ascii: ".")) { pos += 1 }
          return error("malformed IPv4 address '\(file.text(Span(start, pos)))'", start)
        }
        return make(.ipv4, start)
      }
      if groups == 2 && Lexer.isAlpha(at(pos)) {
        return durationUnit(start)
      }
      let parts = file.text(Span(start, pos)).split(separator: ".")
      if (groups == 2 || groups == 3) && parts[0].count <= 2 && parts[1].count <= 3 && ![UInt8(ascii: "."), UInt8(ascii: ":")].contains(at(pos))
        && !Lexer.isAlpha(at(pos))
      {
        // A kernel version: 6.18, 6.1.32 (an address has four parts, a
        // duration its unit).
        return make(.version, start)
      }
      if groups == 2 {
        pos = save
        pos += 1
        _ = digits()
        return error("fractional numbers are only allowed in durations", start, hint: "write e.g. '1.5s'")
      }
      while pos < limit && (Lexer.isAlnum(b[pos]) || b[pos] == UInt8(ascii: ".")) { pos += 1 }
      let written = file.text(Span(start, pos))
      if written.hasSuffix("."), at(pos) == UInt8(ascii: "$") {
        // 10.60.0.$(i+1): an address is built by arithmetic, not by pasting text.
        let parts = written.split(separator: ".").map(String.init)
        let base = (parts + Array(repeating: "0", count: max(0, 4 - parts.count))).prefix(4).joined(separator: ".")
        return error(
          "malformed IPv4 address '\(written)'", start,
          hint: "compute it instead: '$(\(base) + N)', e.g. 'connect c[i] $(\(base) + i + 1):80'")
      }
      return error("malformed IPv4 address '\(written)'", start, hint: "an IPv4 address has four parts, e.g. 127.0.0.1")
    }
    if Lexer.isAlpha(at(pos)) { return durationUnit(start) }
    return make(.number, start)
  }

  mutating func durationUnit(_ start: Int) -> Token {
    let us = pos
    while pos < limit && Lexer.isAlnum(b[pos]) { pos += 1 }
    let unit = file.text(Span(us, pos))
    let numText = file.text(Span(start, us))
    let mult: Double
    switch unit {
    case "ms": mult = 1
    case "s": mult = 1000
    case "m": mult = 60_000
    case "h": mult = 3_600_000
    default:
      return error("unknown duration unit '\(unit)' in '\(file.text(Span(start, pos)))'", start, hint: "units are ms, s, m and h, e.g. '250ms' or '61s'")
    }
    guard let v = Double(numText), v * mult <= 1e15 else { return error("duration is too large", start) }
    let ms = v * mult
    if ms != ms.rounded() {
      return error("duration '\(file.text(Span(start, pos)))' is not a whole number of milliseconds", start)
    }
    return make(.duration, start, String(Int64(ms)))
  }

  mutating func ipv6(_ start: Int) -> Token {
    pos += 1
    while pos < limit {
      let c = b[pos]
      if Lexer.isHex(c) || c == UInt8(ascii: ":") || c == UInt8(ascii: ".") { pos += 1 } else { break }
    }
    if at(pos) != UInt8(ascii: "]") {
      while pos < limit && b[pos] != 10 && b[pos] != 32 && b[pos] != UInt8(ascii: "]") { pos += 1 }
      if at(pos) == UInt8(ascii: "]") { pos += 1 }
      return error("malformed IPv6 address '\(file.text(Span(start, pos)))'", start, hint: "write an IPv6 endpoint as [::1]:80; an index goes right after its name, as c[1]")
    }
    pos += 1
    return make(.ipv6, start, file.text(Span(start + 1, pos - 1)))
  }

  mutating func string(_ start: Int) -> Token {
    pos += 1
    var out: [UInt8] = []
    while pos < limit {
      let c = b[pos]
      if c == UInt8(ascii: "\"") {
        pos += 1
        return make(.string, start, String(decoding: out, as: UTF8.self))
      }
      if c == 10 { break }
      if c == UInt8(ascii: "\\") {
        let e = at(pos + 1)
        switch e {
        case UInt8(ascii: "n"): out.append(10)
        case UInt8(ascii: "t"): out.append(9)
        case UInt8(ascii: "\""): out.append(34)
        case UInt8(ascii: "\\"): out.append(92)
        default:
          let es = pos
          pos += 2
          diagnostics.append(Diagnostic("unknown escape '\\\(String(decoding: [e], as: UTF8.self))' in string", at: Span(es, pos), hint: "strings know \\n \\t \\\" \\\\"))
          continue
        }
        pos += 2
        continue
      }
      out.append(c)
      pos += 1
    }
    return error("unterminated string", start, hint: "close it with '\"' on the same line")
  }
}

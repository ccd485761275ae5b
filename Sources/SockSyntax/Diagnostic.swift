public enum Severity: String, Sendable {
  case error
  case warning
  case note
}

/// One problem found in a script, anchored at a byte span.
public struct Diagnostic: Error, Equatable, Sendable {
  public var severity: Severity
  public var message: String
  public var span: Span
  public var hint: String?

  public init(_ message: String, at span: Span, hint: String? = nil, severity: Severity = .error) {
    self.severity = severity
    self.message = message
    self.span = span
    self.hint = hint
  }
}

/// Ordering and merging of diagnostics live here and nowhere else (as
/// go/scanner's ErrorList owns its sorting).
extension Diagnostic {
  /// By position in the file (the lexer's, parser's and checker's findings interleaved).
  public static func sortedByPosition(_ list: [Diagnostic]) -> [Diagnostic] {
    list.sorted { $0.span.start < $1.span.start }
  }

  /// A script's diagnostics from both stages: the checker still runs after a
  /// syntax error, so that every error of a file is listed, but what it says
  /// at a position the parser already reported is dropped.
  public static func combine(syntax: [Diagnostic], checks: [Diagnostic]) -> [Diagnostic] {
    sortedByPosition(syntax + checks.filter { d in !syntax.contains { $0.span.start == d.span.start } })
  }
}

/// Renders diagnostics in the style of swift-syntax's formatter:
///
///     file.sock:3:10: error: unknown option 'reuseadr'
///      3 | setopt a reuseadr
///        |          ^~~~~~~~
///        = hint: did you mean 'reuseaddr'?
public enum DiagnosticRenderer {
  public static func render(_ d: Diagnostic, in file: SourceFile) -> String {
    let loc = file.location(of: d.span.start)
    var out = "\(file.name):\(loc.line):\(loc.column): \(d.severity.rawValue): \(d.message)\n"
    let text = file.lineText(loc.line)
    let gutter = String(loc.line)
    let pad = String(repeating: " ", count: gutter.count)
    out += " \(gutter) | \(text)\n"
    // Underline to the end of the span, but never past the end of the line.
    let endLoc = file.location(of: d.span.end)
    let lineLen = text.count
    let startCol = min(loc.column, lineLen + 1)
    var width = 1
    if endLoc.line == loc.line { width = max(1, endLoc.column - loc.column) } else { width = max(1, lineLen + 1 - startCol) }
    let marker = "^" + String(repeating: "~", count: width - 1)
    out += " \(pad) | \(String(repeating: " ", count: startCol - 1))\(marker)\n"
    if let hint = d.hint { out += " \(pad) = hint: \(hint)\n" }
    return out
  }

  public static func render(_ ds: [Diagnostic], in file: SourceFile) -> String {
    ds.map { render($0, in: file) }.joined()
  }
}

/// Suggests the closest candidate to a misspelt word (Levenshtein distance).
public enum Suggest {
  public static func closest(to word: String, in candidates: [String]) -> String? {
    let w = Array(word.lowercased().unicodeScalars)
    var best: (String, Int)?
    for c in candidates {
      let b = Array(c.lowercased().unicodeScalars)
      let limit = max(1, min(3, b.count / 3 + 1))
      // The distance is at least the difference in length: a long word
      // (a line of garbage, say) is not compared letter by letter.
      guard abs(w.count - b.count) <= limit else { continue }
      let d = distance(w, b)
      if d <= limit, best == nil || d < best!.1 { best = (c, d) }
    }
    return best?.0
  }

  static func distance(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar]) -> Int {
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var prev = Array(0...b.count)
    var cur = Array(repeating: 0, count: b.count + 1)
    for i in 1...a.count {
      cur[0] = i
      for j in 1...b.count {
        cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
      }
      swap(&prev, &cur)
    }
    return prev[b.count]
  }

  /// "did you mean 'x'?" or nil.
  public static func hint(for word: String, in candidates: [String]) -> String? {
    closest(to: word, in: candidates).map { "did you mean '\($0)'?" }
  }
}

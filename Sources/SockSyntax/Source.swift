/// A half-open range of byte offsets into a source file.
public struct Span: Equatable, Hashable, Sendable {
  public var start: Int
  public var end: Int
  public init(_ start: Int, _ end: Int) {
    self.start = start
    self.end = max(start, end)
  }
  public func to(_ other: Span) -> Span { Span(start, max(end, other.end)) }
}

/// A 1-based line and column, computed only when a position is printed.
public struct Location: Equatable, Sendable, CustomStringConvertible {
  public var line: Int
  public var column: Int
  public init(line: Int, column: Int) {
    self.line = line
    self.column = column
  }
  public var description: String { "\(line):\(column)" }
}

/// The bytes of one script plus the name used in diagnostics.
public final class SourceFile: @unchecked Sendable {
  public let name: String
  public let bytes: [UInt8]
  private let lineStarts: [Int]

  public init(name: String, text: String) {
    self.name = name
    self.bytes = Array(text.utf8)
    var starts = [0]
    for (i, b) in bytes.enumerated() where b == UInt8(ascii: "\n") { starts.append(i + 1) }
    self.lineStarts = starts
  }

  /// The line containing `offset` (1-based) by binary search over line starts.
  public func line(of offset: Int) -> Int {
    var lo = 0
    var hi = lineStarts.count - 1
    while lo < hi {
      let mid = (lo + hi + 1) / 2
      if lineStarts[mid] <= offset { lo = mid } else { hi = mid - 1 }
    }
    return lo + 1
  }

  public func location(of offset: Int) -> Location {
    let line = line(of: offset)
    let start = lineStarts[line - 1]
    // Columns count characters, not bytes, so a caret lines up under UTF-8 text.
    let prefix = bytes[start..<min(offset, bytes.count)]
    let col = String(decoding: prefix, as: UTF8.self).count + 1
    return Location(line: line, column: col)
  }

  /// How many lines hold text (a final newline opens none).
  public var lineCount: Int { lineStarts.last == bytes.count && lineStarts.count > 1 ? lineStarts.count - 1 : lineStarts.count }

  /// The text of a 1-based line without its newline.
  public func lineText(_ line: Int) -> String {
    guard line >= 1 && line <= lineStarts.count else { return "" }
    let start = lineStarts[line - 1]
    var end = line < lineStarts.count ? lineStarts[line] - 1 : bytes.count
    if end > start && bytes[end - 1] == UInt8(ascii: "\r") { end -= 1 }
    return String(decoding: bytes[start..<max(start, end)], as: UTF8.self)
  }

  public func text(_ span: Span) -> String {
    let s = min(max(0, span.start), bytes.count)
    let e = min(max(s, span.end), bytes.count)
    return String(decoding: bytes[s..<e], as: UTF8.self)
  }
}

/// A set of the 65,536 port numbers as a bitmap, with a word-at-a-time search
/// for the first port of a step-2 (or step-1) sequence that is not in any of
/// several sets. This is what lets the simulator find the port the kernel's
/// linear scan would find without visiting every busy port.
public struct PortSet: Equatable, Sendable {
  public private(set) var words: [UInt64]
  public init() { words = [UInt64](repeating: 0, count: 1024) }

  @inline(__always) public func contains(_ p: Int) -> Bool { words[p >> 6] & (1 << UInt64(p & 63)) != 0 }
  @inline(__always) public mutating func insert(_ p: Int) { words[p >> 6] |= 1 << UInt64(p & 63) }
  @inline(__always) public mutating func remove(_ p: Int) { words[p >> 6] &= ~(1 << UInt64(p & 63)) }
  public mutating func removeAll() { for i in words.indices { words[i] = 0 } }
  public var count: Int { words.reduce(0) { $0 + $1.nonzeroBitCount } }
  public var elements: [Int] {
    var out: [Int] = []
    for (w, word) in words.enumerated() where word != 0 {
      var x = word
      while x != 0 {
        out.append(w << 6 | x.trailingZeroBitCount)
        x &= x - 1
      }
    }
    return out
  }
}

/// A value per port (0-65535), in 256 pages of 256 allocated on first
/// write: a new namespace costs 2 KB, not a 65,536-entry array (which made
/// creating and freeing a simulated kernel dearer than most scenarios).
struct PortArray<Element> {
  private var pages: [[Element]]
  private let empty: Element
  init(_ empty: Element) {
    self.empty = empty
    pages = [[Element]](repeating: [], count: 256)
  }
  @inline(__always) subscript(p: Int) -> Element {
    get {
      let page = p >> 8
      return pages[page].isEmpty ? empty : pages[page][p & 255]
    }
    set {
      let page = p >> 8
      if pages[page].isEmpty { pages[page] = [Element](repeating: empty, count: 256) }
      pages[page][p & 255] = newValue
    }
  }
}

extension PortArray: Equatable where Element: Equatable {
  static func == (a: PortArray, b: PortArray) -> Bool {
    for page in 0..<256 where !(a.pages[page].isEmpty && b.pages[page].isEmpty) {
      for p in page << 8..<(page + 1) << 8 where a[p] != b[p] { return false }
    }
    return true
  }
}

extension PortArray {
  /// Applies `f` to every value that is set (tests move table_perturb).
  mutating func mapSet<T>(_ f: (T) -> T) where Element == T? {
    for page in 0..<256 where !pages[page].isEmpty {
      for i in 0..<256 { if let v = pages[page][i] { pages[page][i] = f(v) } }
    }
  }
}

/// Counts per port; the port is in `set` while its count is above zero.
public struct PortCounter {
  public private(set) var set = PortSet()
  var counts = PortArray<UInt32>(0)
  public init() {}
  public mutating func add(_ p: Int) {
    if counts[p] == 0 { set.insert(p) }
    counts[p] += 1
  }
  public mutating func remove(_ p: Int) {
    counts[p] -= 1
    if counts[p] == 0 { set.remove(p) }
  }
  public func count(_ p: Int) -> Int { Int(counts[p]) }
}

enum PortScan {
  static let evenBits: UInt64 = 0x5555_5555_5555_5555

  /// The first port `p` in `start, start+step, ..., start+step*(count-1)`
  /// (all below 65536) whose bit is clear in `blocked(word)`; nil if none.
  static func firstClear(start: Int, step: Int, count: Int, blocked: (Int) -> UInt64) -> Int? {
    guard count > 0 else { return nil }
    let last = start + step * (count - 1)
    var p = start
    let parityMask: UInt64 = step == 1 ? ~0 : ((start & 1) == 0 ? evenBits : ~evenBits)
    while p <= last {
      let w = p >> 6
      var allowed = ~blocked(w) & parityMask & (~UInt64(0) << UInt64(p & 63))
      if w == last >> 6 {
        let lb = last & 63
        allowed &= lb == 63 ? ~UInt64(0) : (UInt64(1) << UInt64(lb + 1)) - 1
      }
      if allowed != 0 { return w << 6 | allowed.trailingZeroBitCount }
      p = (w + 1) << 6 | (step == 1 ? 0 : (start & 1))
    }
    return nil
  }
}

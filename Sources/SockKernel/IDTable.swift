/// Values by socket id, for ids handed out in increasing order (both
/// backends count them from 1). The ids are split into pages of 1,024
/// slots, and a page goes once the last value in it is removed and ids
/// have moved past it, so the memory follows the values held, not the ids
/// ever handed out: a million sockets opened and closed one after another
/// leave one page.
public struct IDTable<Value> {
  static var pageBits: Int { 10 }
  static var pageSize: Int { 1 << pageBits }

  struct Page {
    var slots: [Value?]
    var used = 0
  }

  private var pages: [Page?] = []
  /// How many values the table holds.
  public private(set) var count = 0
  /// The highest id ever set: its page stays, empty or not (the next ids
  /// land there).
  private var top = 0

  public init() {}

  public subscript(id: SockID) -> Value? {
    get {
      let p = id >> Self.pageBits
      guard id >= 0, p < pages.count, let page = pages[p] else { return nil }
      return page.slots[id & (Self.pageSize - 1)]
    }
    set {
      guard id >= 0 else { return }
      let p = id >> Self.pageBits
      let i = id & (Self.pageSize - 1)
      if p >= pages.count {
        guard newValue != nil else { return }
        pages += [Page?](repeating: nil, count: p + 1 - pages.count)
      }
      if pages[p] == nil {
        guard newValue != nil else { return }
        pages[p] = Page(slots: [Value?](repeating: nil, count: Self.pageSize))
      }
      let had = pages[p]!.slots[i] != nil
      let has = newValue != nil
      pages[p]!.slots[i] = newValue
      if had != has {
        pages[p]!.used += has ? 1 : -1
        count += has ? 1 : -1
        if !has { freeIfDone(p) }
      }
      if has && id > top {
        let old = top >> Self.pageBits
        top = id
        if old < p { freeIfDone(old) }
      }
    }
  }

  private mutating func freeIfDone(_ p: Int) {
    if p < top >> Self.pageBits, pages[p]?.used == 0 { pages[p] = nil }
  }

  /// Calls `body` with every value, in id order.
  public func forEach(_ body: (Value) -> Void) {
    for case let page? in pages {
      for case let v? in page.slots { body(v) }
    }
  }

  /// Pages held (what the table costs, in units of 1,024 slots).
  public var pagesHeld: Int { pages.reduce(0) { $0 + ($1 == nil ? 0 : 1) } }
}

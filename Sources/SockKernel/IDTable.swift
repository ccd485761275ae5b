/// Values by socket id, for ids handed out in increasing order (both
/// backends count them from 1). The ids are split into pages of 1,024
/// slots, and a page goes once the last value in it is removed and ids
/// have moved past it, so the memory follows the values held, not the ids
/// ever handed out: a million sockets opened and closed one after another
/// leave one page. Inlinable, so that the interpreter's table of names is
/// specialized in its own module.
public struct IDTable<Value> {
  @usableFromInline static var pageBits: Int { 10 }
  @usableFromInline static var pageSize: Int { 1 << pageBits }

  @usableFromInline
  final class Page {
    @usableFromInline let slots: UnsafeMutablePointer<Value?>
    @usableFromInline var used = 0
    @usableFromInline init() {
      slots = .allocate(capacity: IDTable.pageSize)
      slots.initialize(repeating: nil, count: IDTable.pageSize)
    }
    deinit {
      slots.deinitialize(count: IDTable.pageSize)
      slots.deallocate()
    }
  }

  @usableFromInline var pages: [Page?] = []
  /// How many values the table holds.
  @usableFromInline var _count = 0
  public var count: Int { _count }
  /// The highest id ever set: its page stays, empty or not (the next ids
  /// land there).
  @usableFromInline var top = 0

  public init() {}

  @inlinable public subscript(id: SockID) -> Value? {
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
      let page: Page
      if let pg = pages[p] {
        page = pg
      } else {
        guard newValue != nil else { return }
        page = Page()
        pages[p] = page
      }
      let had = page.slots[i] != nil
      let has = newValue != nil
      page.slots[i] = newValue
      if had != has {
        page.used += has ? 1 : -1
        _count += has ? 1 : -1
        if !has { freeIfDone(p) }
      }
      if has && id > top {
        let old = top >> Self.pageBits
        top = id
        if old < p { freeIfDone(old) }
      }
    }
  }

  @usableFromInline mutating func freeIfDone(_ p: Int) {
    if p < top >> Self.pageBits, pages[p]?.used == 0 { pages[p] = nil }
  }

  /// Calls `body` with every value, in id order.
  public func forEach(_ body: (Value) -> Void) {
    for case let page? in pages {
      for i in 0..<Self.pageSize { if let v = page.slots[i] { body(v) } }
    }
  }

  /// Every value, in id order.
  public var values: [Value] {
    var out: [Value] = []
    out.reserveCapacity(count)
    forEach { out.append($0) }
    return out
  }

  /// Pages held (what the table costs, in units of 1,024 slots).
  public var pagesHeld: Int { pages.reduce(0) { $0 + ($1 == nil ? 0 : 1) } }
}

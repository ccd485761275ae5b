/// `inet_bind2_bucket`: the owners of one (port, address).
final class AddrBucket {
  var owners: [SimSock] = []
  var fastreuse = 0
  var fastreuseport = 0
}

/// `inet_bind_bucket`: one port, with its fast-reuse state and address buckets.
final class PortBucket {
  let port: Int
  var fastreuse = 0
  var fastreuseport = 0
  var fastuid: UInt32 = 0
  var fastAddr: IPAddress = .any4
  var fastV6only = false
  var fastFamily: Family = .inet
  var tb2 = AddrBucketList()
  init(port: Int) { self.port = port }

  /// Every owner, address bucket by address bucket, walked in place (no
  /// array is built: a bind() checks its port's owners every time).
  var owners: LazySequence<FlattenSequence<LazyMapSequence<[(key: IPAddress, bucket: AddrBucket)], [SimSock]>>> {
    tb2.items.lazy.flatMap(\.bucket.owners)
  }
}

/// The address buckets of one port, in creation order. A port rarely has
/// more than a few, so a list beats hashing.
struct AddrBucketList {
  private(set) var items: [(key: IPAddress, bucket: AddrBucket)] = []

  subscript(key: IPAddress) -> AddrBucket? {
    get {
      for it in items where it.key == key { return it.bucket }
      return nil
    }
    set {
      if let i = items.firstIndex(where: { $0.key == key }) {
        if let v = newValue { items[i].bucket = v } else { items.remove(at: i) }
      } else if let v = newValue {
        items.append((key, v))
      }
    }
  }
  var isEmpty: Bool { items.isEmpty }
  var values: [AddrBucket] { items.map(\.bucket) }
}

public enum FastReusePort {
  public static let any = 1
  public static let strict = 2
}

/// The per-namespace bind table of one transport, with bitmaps indexing which
/// ports hold owners of each address class (used by the fast bind(0) search).
final class BindTable {
  var buckets = PortArray<PortBucket?>(nil)
  var exists = PortSet()
  /// Ports whose bucket some socket bind()ed explicitly (fastreuse or fastreuseport >= 0).
  var marked = PortSet()
  var v4any = PortCounter()
  var v4spec = PortCounter()
  var v6dual = PortCounter()
  var v6only = PortCounter()
  var v6spec = PortCounter()
  var v6specDual = PortCounter()
  var exact: [IPAddress: PortSet] = [:]
  /// SimRule.releaseRestoresBucket (d57f4b874946, 6.18).
  var releaseRestoresBucket = true

  func bucket(_ port: Int) -> PortBucket? { buckets[port] }

  func createBucket(_ port: Int, fastreuse: Int = 0, fastreuseport: Int = 0) -> PortBucket {
    let tb = PortBucket(port: port)
    tb.fastreuse = fastreuse
    tb.fastreuseport = fastreuseport
    buckets[port] = tb
    exists.insert(port)
    refreshMark(tb)
    return tb
  }

  func refreshMark(_ tb: PortBucket) {
    if tb.fastreuse >= 0 || tb.fastreuseport >= 0 { marked.insert(tb.port) } else { marked.remove(tb.port) }
  }

  /// inet_bind_hash: adds `s` as an owner of (port, its address).
  func add(_ s: SimSock, _ tb: PortBucket, newTb2Fields: (Int, Int)? = nil) {
    let key = s.laddr.asV6
    let tb2: AddrBucket
    if let b = tb.tb2[key] {
      tb2 = b
    } else {
      tb2 = AddrBucket()
      if let f = newTb2Fields {
        tb2.fastreuse = f.0
        tb2.fastreuseport = f.1
      } else {
        tb2.fastreuse = tb.fastreuse
        tb2.fastreuseport = tb.fastreuseport
      }
      tb.tb2[key] = tb2
    }
    tb2.owners.append(s)
    s.boundPort = tb.port
    s.boundKey = key
    let cls = s.addrClass
    s.boundClass = cls
    s.lport = tb.port
    s.sport = tb.port
    index(cls, tb.port, key, +1)
  }

  func index(_ cls: AddrClass, _ port: Int, _ key: IPAddress, _ delta: Int) {
    func bump(_ c: inout PortCounter) { if delta > 0 { c.add(port) } else { c.remove(port) } }
    switch cls {
    case .v4any: bump(&v4any)
    case .v4spec: bump(&v4spec)
    case .v6anyDual: bump(&v6dual)
    case .v6anyOnly: bump(&v6only)
    case .v6spec: bump(&v6spec)
    case .v6specDual: bump(&v6specDual)
    }
    switch cls {
    case .v4spec, .v6spec, .v6specDual:
      if delta > 0 {
        exact[key, default: PortSet()].insert(port)
      } else if buckets[port]?.tb2[key] == nil {
        exact[key]?.remove(port)
      }
    default: break
    }
  }

  /// __inet_put_port: removes `s`; applies the 6.18 release rule
  /// (d57f4b874946) and destroys empty buckets.
  func remove(_ s: SimSock, releaseRule: Bool = true) {
    guard let port = s.boundPort, let key = s.boundKey, let tb = buckets[port], let tb2 = tb.tb2[key] else { return }
    tb2.owners.removeAll { $0 === s }
    if tb2.owners.isEmpty { tb.tb2[key] = nil }
    if let cls = s.boundClass { index(cls, port, key, -1) }
    s.boundPort = nil
    s.boundKey = nil
    s.boundClass = nil
    if tb.tb2.isEmpty {
      buckets[port] = nil
      exists.remove(port)
      marked.remove(port)
      return
    }
    if releaseRule && releaseRestoresBucket {
      // A bucket goes back to "connect()-usable" once only connect()-bound sockets remain.
      if !tb2.owners.isEmpty && tb2.owners.allSatisfy({ $0.connectBind }) {
        tb2.fastreuse = -1
        tb2.fastreuseport = -1
      }
      if tb.tb2.values.allSatisfy({ $0.fastreuse == -1 && $0.fastreuseport == -1 }) {
        tb.fastreuse = -1
        tb.fastreuseport = -1
        refreshMark(tb)
      }
    }
  }

  /// Moves an owner to the bucket of its new address (inet_bhash2_update_saddr).
  func rehash(_ s: SimSock, to addr: IPAddress) {
    guard let port = s.boundPort, let tb = buckets[port] else {
      s.laddr = addr
      return
    }
    let key = s.boundKey!
    let tb2 = tb.tb2[key]!
    tb2.owners.removeAll { $0 === s }
    if tb2.owners.isEmpty { tb.tb2[key] = nil }
    if let cls = s.boundClass { index(cls, port, key, -1) }
    s.laddr = addr
    add(s, tb, newTb2Fields: (tb2.fastreuse, tb2.fastreuseport))
  }

  /// Replaces `old` by `new` at the same place (a socket handing its binding to its TIME_WAIT entry).
  func replace(_ old: SimSock, with new: SimSock) {
    guard let port = old.boundPort, let tb = buckets[port] else { return }
    add(new, tb)
    remove(old, releaseRule: false)
  }

  /// Which ports hold an owner that overlaps an owner of class `cls`, one
  /// 64-port word at a time. `exactWords` is `exact[key]`, fetched once per search.
  /// `v6`: the searching socket is an IPv6 one (v4-mapped), which does not
  /// see a v6specDual owner as an IPv4 wildcard.
  func overlapWord(_ cls: AddrClass, _ exactWords: [UInt64]?, _ w: Int, v6: Bool) -> UInt64 {
    switch cls {
    case .v4any:
      return v4any.set.words[w] | v4spec.set.words[w] | v6dual.set.words[w] | (v6 ? 0 : v6specDual.set.words[w])
    case .v4spec:
      return (exactWords?[w] ?? 0) | v4any.set.words[w] | v6dual.set.words[w]
    case .v6anyDual:
      return v4any.set.words[w] | v4spec.set.words[w] | v6dual.set.words[w] | v6only.set.words[w] | v6spec.set.words[w]
        | v6specDual.set.words[w]
    case .v6anyOnly:
      return v6dual.set.words[w] | v6only.set.words[w] | v6spec.set.words[w] | v6specDual.set.words[w]
    case .v6spec, .v6specDual:
      return (exactWords?[w] ?? 0) | v6dual.set.words[w] | v6only.set.words[w]
    }
  }
}

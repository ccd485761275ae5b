import XCTest

@testable import SockKernel

/// A small driver over the kernel API for tests.
final class Net {
  let k: SimKernel
  init(seed: UInt64 = 0, range: (Int, Int)? = nil, disabled: Set<SimRule> = []) {
    k = SimKernel(config: .init(seed: seed, disabledRules: disabled))
    if let r = range { XCTAssertNil(k.sysctl("net.ipv4.ip_local_port_range", "\(r.0) \(r.1)").errno) }
  }

  @discardableResult
  func sock(_ kind: String = "tcp", uid: UInt32 = 0, reuse: Bool = false, reuseport: Bool = false, v6only: Bool = false) -> SockID {
    let id = k.socket(SocketKind(name: kind)!, uid: uid).created!
    if reuse { _ = k.setsockopt(id, .reuseaddr(true)) }
    if reuseport { _ = k.setsockopt(id, .reuseport(true)) }
    if v6only { _ = k.setsockopt(id, .v6only(true)) }
    return id
  }

  func bind(_ s: SockID, _ ep: String) -> Errno? { k.bind(s, Endpoint(ep)!).errno }

  /// A plain listener on `ep` (no options).
  func listener(_ ep: String, backlog: Int? = nil) -> SockID {
    let l = sock()
    XCTAssertNil(bind(l, ep))
    XCTAssertNil(listen(l, backlog))
    return l
  }
  func listen(_ s: SockID, _ backlog: Int? = nil) -> Errno? { k.listen(s, backlog: backlog).errno }
  func connect(_ s: SockID, _ ep: String) -> Errno? { k.connect(s, Endpoint(ep)!).errno }
  func accept(_ s: SockID) -> SockID? { k.accept(s).created }
  func close(_ s: SockID) { XCTAssertNil(k.close(s).errno) }
  func lport(_ s: SockID) -> Int { Int(k.view(s).local?.port ?? 0) }
  func state(_ s: SockID) -> SockState { k.view(s).state }
  func bucket(_ port: Int) -> PortBucket? { k.tcp.bucket(port) }

  /// A connection from `client` to a fresh listener port, closed so that
  /// `client` ends in TIME_WAIT.
  func timeWait(_ client: SockID, to listener: SockID, at ep: String) {
    XCTAssertNil(connect(client, ep))
    let a = accept(listener)!
    close(client)
    close(a)
    XCTAssertEqual(state(client), .TIME_WAIT)
  }
}

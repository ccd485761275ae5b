import Glibc
import XCTest

@testable import SockKernel

/// The option table is what every layer reads; its numbers must be Linux's.
final class OptionTableTests: XCTestCase {
  func testLevelsAndNamesAreTheKernelsNumbers() {
    let expected: [String: (Int32, Int32)] = [
      "reuseaddr": (SOL_SOCKET, SO_REUSEADDR), "reuseport": (SOL_SOCKET, SO_REUSEPORT),
      "bind_address_no_port": (Int32(IPPROTO_IP), 24), "v6only": (Int32(IPPROTO_IPV6), IPV6_V6ONLY),
      "freebind": (Int32(IPPROTO_IP), IP_FREEBIND), "linger": (SOL_SOCKET, SO_LINGER),
      "local_port_range": (Int32(IPPROTO_IP), 51), "bindtodevice": (SOL_SOCKET, SO_BINDTODEVICE), "nonblock": (0, 0),
    ]
    XCTAssertEqual(Set(SocketOption.allNames), Set(expected.keys))
    for spec in SocketOption.table {
      let (level, name) = expected[spec.name]!
      XCTAssertEqual(spec.levelValue, level, spec.name)
      XCTAssertEqual(spec.optnameValue, name, spec.name)
    }
  }

  /// Every option decodes from its shape's argument and reports its own name
  /// and spec; a mismatched argument is refused.
  func testDecodeNameAndLabelRoundTrip() {
    for spec in SocketOption.table {
      let arg: SocketOption.Argument
      switch spec.shape {
      case .flag: arg = .flag(true)
      case .secondsOrOff: arg = .seconds(3)
      case .portPair: arg = .ports(40000, 40009)
      case .device: arg = .device("lo")
      }
      let opt = SocketOption(name: spec.name, arg)
      XCTAssertEqual(opt?.name, spec.name)
      XCTAssertEqual(opt?.spec.optname, spec.optname)
      XCTAssertNotNil(opt?.label, spec.name)
      XCTAssertNil(SocketOption(name: spec.name, spec.shape == .flag ? .device("lo") : .flag(true)), spec.name)
    }
    XCTAssertNil(SocketOption(name: "reuse_addr", .flag(true)))
    XCTAssertEqual(SocketOption.linger(0).label, "linger=0")
    XCTAssertNil(SocketOption.localPortRange(0, 0).label)
    XCTAssertEqual(SocketOption.bindToDevice("lo").label, "dev=lo")
  }

  /// Groups follow the joining rule: same kind, exact address, uid, v6only
  /// and device; TCP only while listening.
  func testReuseportGroupsNumberedByJoiningRule() {
    func row(_ kind: String, _ ep: String, _ state: SockState, _ opts: [SocketOption], uid: UInt32 = 0) -> SocketRow {
      SocketRow(
        id: nil, kind: SocketKind(name: kind)!, state: state, local: Endpoint(ep)!, remote: nil, options: opts, timeLeftMs: nil,
        uid: uid, hasDescriptor: true)
    }
    var rows = [
      row("tcp", "127.0.0.1:80", .LISTEN, [.reuseport(true)]),
      row("tcp", "127.0.0.1:80", .LISTEN, [.reuseport(true)]),
      row("tcp", "0.0.0.0:80", .LISTEN, [.reuseport(true)]),
      row("tcp", "127.0.0.1:80", .LISTEN, [.reuseport(true)], uid: 1000),
      row("tcp", "127.0.0.1:80", .BOUND, [.reuseport(true)]),
      row("udp", "127.0.0.1:80", .BOUND, [.reuseport(true)]),
      row("udp", "127.0.0.1:80", .BOUND, [.reuseport(true), .bindToDevice("lo")]),
      row("udp", "127.0.0.1:81", .BOUND, [.reuseaddr(true)]),
    ]
    SocketRow.numberReuseportGroups(&rows)
    XCTAssertEqual(rows.map(\.group), [1, 1, 2, 3, nil, 4, 5, nil])
  }
}

import SockKernel
import SockSyntax
import XCTest

@testable import SockScript

final class KernelVersionTests: XCTestCase {
  func testParsesReleasesAndComparesLines() {
    XCTAssertEqual(KernelVersion("6.18.44-fc-v1147"), KernelVersion(6, 18, 44))
    XCTAssertEqual(KernelVersion("6.1"), KernelVersion(6, 1))
    XCTAssertNil(KernelVersion("6"))
    XCTAssertNil(KernelVersion("x.1"))
    XCTAssertTrue(KernelVersion(6, 1, 176) < KernelVersion(6, 3))
    XCTAssertTrue(KernelVersion(6, 1, 176) > KernelVersion(6, 1, 32))
    // A literal without a point release compares the line only.
    XCTAssertEqual(Value.versionOrder(KernelVersion(6, 1, 176), KernelVersion(6, 1)), 0)
    XCTAssertEqual(Value.versionOrder(KernelVersion(6, 1, 176), KernelVersion(6, 1, 32)), 1)
    XCTAssertEqual(KernelVersion.nearestProfile(to: KernelVersion(6, 6)), KernelVersion(6, 1, 176))
    XCTAssertEqual(KernelVersion.nearestProfile(to: KernelVersion(4, 19)), KernelVersion(5, 10, 46))
  }

  func testRulesBelongToTheirVersions() {
    XCTAssertFalse(SimRule.releaseRestoresBucket.exists(in: KernelVersion(6, 12, 113)))
    XCTAssertTrue(SimRule.releaseRestoresBucket.exists(in: KernelVersion(6, 18, 44)))
    XCTAssertTrue(SimRule.localPortRangeOption.exists(in: KernelVersion(6, 1, 176)))
    XCTAssertFalse(SimRule.localPortRangeOption.exists(in: KernelVersion(6, 1, 31)))
    XCTAssertTrue(SimRule.shutListenerCannotConnect.exists(in: KernelVersion(6, 18, 44)))
    // Measured per build: this machine's 6.18.44 lacks two rules its
    // neighbours on both sides have.
    XCTAssertFalse(SimRule.mappedOpsStay.exists(in: KernelVersion(6, 18, 44)))
    XCTAssertTrue(SimRule.mappedOpsStay.exists(in: KernelVersion(6, 12, 113)))
    XCTAssertTrue(SimRule.mappedOpsStay.exists(in: KernelVersion(7, 2, 7)))
    XCTAssertFalse(SimRule.udpFirstContenderDecides.exists(in: KernelVersion(6, 18)))
    XCTAssertTrue(SimRule.udpFirstContenderDecides.exists(in: KernelVersion(5, 10, 46)))
    XCTAssertFalse(SimRule.shutListenerCannotConnect.exists(in: KernelVersion(7, 2, 7)))
    XCTAssertFalse(Sysctl.exists("net.ipv4.tcp_tw_reuse_delay", in: KernelVersion(6, 12, 113)))
    XCTAssertTrue(Sysctl.exists("net.ipv4.tcp_tw_reuse", in: KernelVersion(5, 10, 46)))
  }

  func run(_ text: String, version: KernelVersion) -> (Int32, String) {
    let out = StringSink()
    let err = StringSink()
    let kernel = SimKernel(config: .init(version: version))
    let code = Runner.run(SourceFile(name: "t.sock", text: text), backend: kernel, format: .text, options: RunOptions(), out: out, err: err)
    return (code, out.text + err.text)
  }

  func testKernelExpressionFollowsTheProfile() {
    let text = """
      if kernel >= 6.18 {
        print "new"
      } else if kernel < 6.3 {
        print "old"
      } else {
        print "between"
      }
      expect kernel >= 5.10 and 7.2 >= kernel
      """
    XCTAssertTrue(run(text, version: KernelVersion(6, 18, 44)).1.contains("\nnew\n"))
    XCTAssertTrue(run(text, version: KernelVersion(6, 1, 176)).1.contains("\nold\n"))
    XCTAssertTrue(run(text, version: KernelVersion(6, 12, 113)).1.contains("\nbetween\n"))
    XCTAssertEqual(run("expect kernel == 6.1.176", version: KernelVersion(6, 1, 176)).0, 0)
    XCTAssertEqual(run("expect kernel == 6.1.175", version: KernelVersion(6, 1, 176)).0, 1)
  }

  func testAVersionGoesOnlyWithKernel() {
    let (code, text) = run("sleep 1.5", version: .latestModelled)
    XCTAssertEqual(code, 2)
    XCTAssertTrue(text.contains("a version such as 1.5 is only compared with 'kernel'"), text)
    XCTAssertTrue(text.contains("'1.5s'"), text)
    // Addresses with too few parts keep their own error.
    XCTAssertTrue(run("socket a; bind a 127.0.0:80", version: .latestModelled).1.contains("malformed IPv4 address"))
  }

  func testProfilesSeeTheirKernelsRules() {
    // IP_LOCAL_PORT_RANGE: ENOPROTOOPT on 5.10, with the why naming the version.
    let (code, text) = run("socket a\nsetopt a local_port_range 40000 40001 => ENOPROTOOPT", version: KernelVersion(5, 10, 46))
    XCTAssertEqual(code, 0, text)
    XCTAssertTrue(text.contains("does not exist before Linux 6.3"), text)
    // tcp_tw_reuse_delay does not exist before 6.14.
    XCTAssertEqual(run("sysctl net.ipv4.tcp_tw_reuse_delay = 100 => ENOENT", version: KernelVersion(6, 12, 113)).0, 0)
    XCTAssertEqual(run("sysctl net.ipv4.tcp_tw_reuse_delay = 100", version: KernelVersion(6, 18, 44)).0, 0)
    // Before 5.13 a u8 sysctl takes any int.
    XCTAssertEqual(run("sysctl net.ipv4.tcp_timestamps = 256", version: KernelVersion(5, 10, 46)).0, 0)
    XCTAssertEqual(run("sysctl net.ipv4.tcp_timestamps = 256 => EINVAL", version: KernelVersion(6, 1, 176)).0, 0)
  }
}

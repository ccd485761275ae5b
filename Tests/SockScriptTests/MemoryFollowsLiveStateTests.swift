import SockKernel
import SockSyntax
import XCTest

@testable import SockKernel
@testable import SockScript

/// The interpreter forgets a socket's name once the kernel holds nothing
/// of it, and the kernel forgets the socket (issue 14, item 2).
final class MemoryFollowsLiveStateTests: XCTestCase {
  func run(_ text: String) -> (Interpreter, SimKernel, String) {
    let sim = SimKernel()
    let out = StringSink()
    let file = SourceFile(name: "-e", text: text)
    let (prog, diags) = Runner.compile(file)
    XCTAssertTrue(diags.isEmpty, "\(diags)")
    let interp = Interpreter(file: file, program: prog!, backend: sim, reporter: TextReporter(out: out, err: StringSink()), options: RunOptions())
    XCTAssertEqual(interp.run(), 0, out.text)
    return (interp, sim, out.text)
  }

  func testChurnLeavesOneSocket() {
    let (interp, sim, _) = run("repeat 20000 {\n  socket a\n  bind a 127.0.0.1:0\n  close a\n}\nsocket last")
    // The last a (closed, still named) and last.
    XCTAssertEqual(interp.names.count, 2)
    XCTAssertEqual(sim.socks.count, 2)
    XCTAssertLessThanOrEqual(sim.socks.pagesHeld, 1)
    XCTAssertLessThanOrEqual(interp.names.pagesHeld, 1)
  }

  func testTimeWaitKeepsItsNameUntilItExpires() {
    let script = """
      socket srv
      bind srv 127.0.0.1:8080
      listen srv
      repeat 300 {
        socket c
        connect c 127.0.0.1:8080
        accept srv as s
        close c
        close s
      }
      socket c
      show
      expect count(TIME_WAIT) == 300
      sleep 61s
      repeat 400 {
        socket x
        close x
      }
      expect count(TIME_WAIT) == 0
      """
    let (interp, sim, out) = run(script)
    // 300 entries, each shown with the name of the socket it came from.
    XCTAssertEqual(out.components(separatedBy: "c (closed)").count - 1, 300, out)
    // After they expired: srv, the last s, c and x (nothing of the loop).
    XCTAssertEqual(interp.retired.count, 0)
    XCTAssertEqual(interp.names.count, 4)
    XCTAssertEqual(sim.socks.count, 4)
  }
}

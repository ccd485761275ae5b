import SockKernel
import SockScript
import SockSyntax

/// Discards what it is given.
final class NullSink: OutputSink {
  func write(_ s: String) {}
  func writeBytes(_ b: [UInt8]) {}
  func appending(_ body: (inout [UInt8]) -> Void) {
    var b: [UInt8] = []
    body(&b)
  }
}

/// One input: a scenario that checks runs on the simulated kernel under a
/// step budget (a runaway `repeat` stops with exit 2), every failure kept
/// going past, in one of the three transcript formats (by the input's
/// length, so that an input always runs the same way).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzInterpreter(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
  let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
  let file = SourceFile(name: "fuzz.sock", text: text)
  let format: OutputFormat = [.text, .json, .md][size % 3]
  let sim = SimKernel(config: .init(seed: UInt64(size)))
  let options = RunOptions(keepGoing: true, seed: UInt64(size), maxSteps: 400)
  _ = Runner.run(file, backend: sim, format: format, options: options, out: NullSink(), err: NullSink())
  return 0
}

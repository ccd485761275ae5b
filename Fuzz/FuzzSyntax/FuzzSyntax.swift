import SockScript
import SockSyntax

/// One input: the bytes as a scenario file through the lexer, parser and
/// checker, and every diagnostic rendered with its caret (the positions of
/// a diagnostic on a line of arbitrary bytes are where a renderer would
/// trap).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSyntax(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
  let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
  let file = SourceFile(name: "fuzz.sock", text: text)
  let (_, diags) = Runner.compile(file)
  _ = DiagnosticRenderer.render(diags, in: file)
  return 0
}

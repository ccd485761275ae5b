import SockScript

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// A buffered writer on a C stream (stdout or stderr).
final class StreamSink: OutputSink {
  let stream: UnsafeMutablePointer<FILE>
  var buffer: [UInt8] = []
  init(_ stream: UnsafeMutablePointer<FILE>) {
    self.stream = stream
    buffer.reserveCapacity(1 << 16)
  }
  func write(_ s: String) {
    buffer.append(contentsOf: s.utf8)
    if buffer.count >= 1 << 16 { flush() }
  }
  func writeBytes(_ b: [UInt8]) {
    buffer.append(contentsOf: b)
    if buffer.count >= 1 << 16 { flush() }
  }
  func appending(_ body: (inout [UInt8]) -> Void) {
    body(&buffer)
    if buffer.count >= 1 << 16 { flush() }
  }
  func flush() {
    if !buffer.isEmpty {
      buffer.withUnsafeBytes { _ = fwrite($0.baseAddress, 1, $0.count, stream) }
      buffer.removeAll(keepingCapacity: true)
    }
    fflush(stream)
  }
  deinit { flush() }
}

func readFile(_ path: String) -> String? {
  guard let f = fopen(path, "rb") else { return nil }
  defer { fclose(f) }
  var bytes: [UInt8] = []
  var chunk = [UInt8](repeating: 0, count: 65536)
  while true {
    let n = fread(&chunk, 1, chunk.count, f)
    if n > 0 { bytes.append(contentsOf: chunk[0..<n]) }
    if n < chunk.count {
      if ferror(f) != 0 { return nil }
      break
    }
  }
  return String(decoding: bytes, as: UTF8.self)
}

func writeFile(_ path: String, _ text: String) -> Bool {
  guard let f = fopen(path, "wb") else { return false }
  let bytes = Array(text.utf8)
  let n = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) }
  return fclose(f) == 0 && n == bytes.count
}

func errnoText() -> String { String(cString: strerror(errno)) }

/// The names in a folder, sorted ("." and ".." left out); nil if it cannot be read.
func listDir(_ path: String) -> [String]? {
  guard let dir = opendir(path) else { return nil }
  defer { closedir(dir) }
  var names: [String] = []
  while let ent = readdir(dir) {
    let name = withUnsafeBytes(of: ent.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    if name != "." && name != ".." { names.append(name) }
  }
  return names.sorted()
}

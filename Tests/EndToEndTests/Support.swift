import Foundation
import XCTest

/// Runs the built `sockscript` binary and captures what it prints.
struct Exec {
  var code: Int32
  var out: String
  var err: String
}

enum Paths {
  /// The package root, from this file's path.
  static let root: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

  /// The executable next to the test bundle (or $SOCKSCRIPT_BIN).
  static let binary: URL = {
    if let p = ProcessInfo.processInfo.environment["SOCKSCRIPT_BIN"] { return URL(fileURLWithPath: p) }
    var dir = Bundle.main.bundleURL
    for _ in 0..<3 {
      let candidate = dir.appendingPathComponent("sockscript")
      if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
      dir = dir.deletingLastPathComponent()
    }
    return root.appendingPathComponent(".build/debug/sockscript")
  }()

  /// Every `.sock` file under `folder`, searched recursively, in path order.
  static func files(_ folder: String) -> [URL] {
    let dir = root.appendingPathComponent(folder)
    let names = FileManager.default.enumerator(atPath: dir.path)?.compactMap { $0 as? String } ?? []
    return names.filter { $0.hasSuffix(".sock") }.sorted().map { dir.appendingPathComponent($0) }
  }
}

func sockscript(_ args: [String], stdin: String? = nil, environment: [String: String] = [:]) throws -> Exec {
  try execute(Paths.binary, args, stdin: stdin, environment: environment)
}

/// Runs `items` through `body`, `width` at a time, results in input order.
final class ParallelResults<R>: @unchecked Sendable {
  var items: [R?]
  init(_ n: Int) { items = Array(repeating: nil, count: n) }
}

func parallelMap<T, R>(_ items: [T], width: Int = 4, _ body: @escaping @Sendable (T) -> R) -> [R] {
  let results = ParallelResults<R>(items.count)
  let lock = NSLock()
  let queue = OperationQueue()
  queue.maxConcurrentOperationCount = width
  for (i, item) in items.enumerated() {
    nonisolated(unsafe) let it = item
    queue.addOperation {
      let r = body(it)
      lock.lock()
      results.items[i] = r
      lock.unlock()
    }
  }
  queue.waitUntilAllOperationsAreFinished()
  return results.items.map { $0! }
}

/// Runs a program (from the package root) and collects its output.
func execute(_ program: URL, _ args: [String], stdin: String? = nil, environment: [String: String] = [:]) throws -> Exec {
  let p = Process()
  if !environment.isEmpty { p.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new } }
  p.executableURL = program
  p.arguments = args
  p.currentDirectoryURL = Paths.root
  let out = Pipe()
  let err = Pipe()
  p.standardOutput = out
  p.standardError = err
  let input = Pipe()
  p.standardInput = input
  try p.run()
  if let s = stdin { input.fileHandleForWriting.write(s.data(using: .utf8)!) }
  try input.fileHandleForWriting.close()
  // Read both pipes before waiting, so a large output cannot block the child.
  final class Box: @unchecked Sendable { var data = Data() }
  let errBox = Box()
  let group = DispatchGroup()
  group.enter()
  DispatchQueue.global().async {
    errBox.data = err.fileHandleForReading.readDataToEndOfFile()
    group.leave()
  }
  let outData = out.fileHandleForReading.readDataToEndOfFile()
  group.wait()
  p.waitUntilExit()
  return Exec(code: p.terminationStatus, out: String(decoding: outData, as: UTF8.self), err: String(decoding: errBox.data, as: UTF8.self))
}

/// What some tests need beyond Swift: the real backend (root, or
/// unprivileged user namespaces), a C compiler, Python 3.11+, tmux. Where a
/// need is missing the test is skipped with the reason, except in CI
/// (CI=true), which installs everything: there a missing need fails the test.
enum Needs {
  static let inCI = ProcessInfo.processInfo.environment["CI"] != nil

  static let realBackendWorks: Bool = {
    (try? sockscript(["run", "--backend", "real", "-e", "socket a"]))?.code == 0
  }()

  static func onPath(_ tool: String) -> Bool {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    return path.split(separator: ":").contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(tool)") }
  }

  static func skip(unless ok: Bool, _ reason: String) throws {
    if !ok && !inCI { throw XCTSkip(reason) }
  }

  /// The real backend: a private network namespace (root, or unprivileged user namespaces).
  static func realBackend() throws {
    try skip(unless: realBackendWorks, "the real backend cannot make a network namespace here (run as root, or enable unprivileged user namespaces)")
  }

  static func tools(_ names: String...) throws {
    for n in names { try skip(unless: onPath(n), "'\(n)' is not installed (.ci/run installs it)") }
  }
}

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

  static func files(_ folder: String) -> [URL] {
    let dir = root.appendingPathComponent(folder)
    let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
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

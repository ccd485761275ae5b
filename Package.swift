// swift-tools-version:6.0
import PackageDescription

// The simulator and interpreter run millions of statements a second; dynamic
// exclusivity checks cost ~15% there, and the code does no overlapping access.
let fast: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
  name: "sockscript",
  products: [
    .executable(name: "sockscript", targets: ["sockscript"]),
    .library(name: "SockKernel", targets: ["SockKernel"]),
    .library(name: "SockSyntax", targets: ["SockSyntax"]),
    .library(name: "SockScript", targets: ["SockScript"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0")
  ],
  targets: [
    // Tokens, lexer, AST, parser and diagnostics rendering. Knows nothing of sockets.
    .target(name: "SockSyntax"),
    // The backend protocol, shared socket types and the simulated Linux kernel.
    // Knows nothing of syntax; usable as a library.
    .target(name: "SockKernel", dependencies: ["CLinux"], swiftSettings: fast),
    // Linux calls that need _GNU_SOURCE (unshare, seteuid), for the real backend.
    .target(name: "CLinux"),
    // The checker, the interpreter that drives a backend, and the reporters.
    // The export runtimes are C and Python source files, embedded through
    // Export/Runtimes.generated.swift (tools/gen-runtimes.sh).
    .target(name: "SockScript", dependencies: ["SockSyntax", "SockKernel"], exclude: ["Export/runtime"], swiftSettings: fast),
    // GNU readline, for the REPL only (Debian: libreadline-dev).
    .systemLibrary(name: "CReadline", providers: [.apt(["libreadline-dev"])]),
    .executableTarget(
      name: "sockscript",
      dependencies: [
        "SockSyntax",
        "SockKernel",
        "SockScript",
        "CReadline",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]
    ),
    .testTarget(name: "SockSyntaxTests", dependencies: ["SockSyntax"]),
    .testTarget(name: "SockKernelTests", dependencies: ["SockKernel"]),
    .testTarget(name: "SockScriptTests", dependencies: ["SockScript", "SockKernel", "SockSyntax"]),
    // Runs the built executable; depending on it makes `swift test` build it.
    .testTarget(name: "EndToEndTests", dependencies: ["sockscript", "SockSyntax"]),
  ],
  swiftLanguageModes: [.v5]
)

// The libFuzzer targets (Fuzz/): only with SOCKSCRIPT_FUZZ set, so the
// normal build never sees them. Each is a library defining
// LLVMFuzzerTestOneInput; Fuzz/run.sh builds it and every module it uses
// with -sanitize=fuzzer,address and links it with libFuzzer's main.
if Context.environment["SOCKSCRIPT_FUZZ"] != nil {
  package.targets += [
    // Lexer, parser, checker and diagnostics on arbitrary bytes.
    .target(name: "FuzzSyntax", dependencies: ["SockSyntax", "SockScript"], path: "Fuzz/FuzzSyntax"),
    // The interpreter on the simulator, under a step budget.
    .target(name: "FuzzInterpreter", dependencies: ["SockSyntax", "SockScript", "SockKernel"], path: "Fuzz/FuzzInterpreter"),
  ]
}

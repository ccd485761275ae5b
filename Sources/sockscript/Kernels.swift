import ArgumentParser
import SockKernel
import SockScript
import SockSyntax

#if canImport(Glibc)
  import Glibc
#endif

/// Real kernels of other versions: Debian's user-mode Linux builds
/// (`linux.uml`, Linux as an ordinary program), fetched into a cache folder
/// with a private apt setup and booted with the host's filesystem as root.
/// A command that needs the real backend on another line re-runs itself
/// inside that kernel, where the line is the host's own.
struct UMLPackage: Sendable {
  /// The kernel line, and the Debian suite whose user-mode-linux has it.
  let line: KernelVersion
  let suite: String
  /// Built against glibc 2.38 or newer: that suite's libc6 is unpacked
  /// beside it and the binary pointed at it with patchelf.
  let newGlibc: Bool

  static let all: [UMLPackage] = [
    UMLPackage(line: KernelVersion(5, 10), suite: "bullseye", newGlibc: false),
    UMLPackage(line: KernelVersion(6, 1), suite: "bookworm", newGlibc: false),
    UMLPackage(line: KernelVersion(6, 12), suite: "trixie", newGlibc: true),
    UMLPackage(line: KernelVersion(7, 2), suite: "sid", newGlibc: true),
  ]

  static func named(_ v: KernelVersion) -> UMLPackage? { all.first { $0.line == v.line } }
}

/// A fetched kernel: its folder holds the unpacked package and `release`.
struct InstalledKernel {
  let line: KernelVersion
  let release: String
  let folder: String
  var binary: String { folder + "/usr/bin/linux.uml" }
  var modules: String { folder + "/usr/lib/uml/modules/" + release }
}

enum KernelStore {
  /// $SOCKSCRIPT_KERNELS, else $XDG_CACHE_HOME/sockscript/kernels, else ~/.cache/sockscript/kernels.
  static var folder: String {
    if let d = env("SOCKSCRIPT_KERNELS") { return d }
    if let d = env("XDG_CACHE_HOME") { return d + "/sockscript/kernels" }
    return (env("HOME") ?? "/root") + "/.cache/sockscript/kernels"
  }

  static func env(_ name: String) -> String? {
    guard let p = getenv(name) else { return nil }
    let s = String(cString: p)
    return s.isEmpty ? nil : s
  }

  static func installed(_ line: KernelVersion) -> InstalledKernel? {
    let dir = folder + "/" + line.line.description
    guard let release = readFile(dir + "/release")?.trimmed, !release.isEmpty, access(dir + "/usr/bin/linux.uml", X_OK) == 0 else { return nil }
    return InstalledKernel(line: line.line, release: release, folder: dir)
  }

  /// The host's kernel line.
  static var hostLine: KernelVersion { (KernelVersion(RealKernel.hostRelease) ?? .latestModelled).line }

  /// The lines a run can use: the host's and every fetched one.
  static var available: [KernelVersion] {
    var lines = UMLPackage.all.map(\.line).filter { installed($0) != nil }
    if !lines.contains(hostLine) { lines.append(hostLine) }
    return lines.sorted()
  }

  /// Fetches and unpacks one package; progress goes to `log`.
  static func fetch(_ pkg: UMLPackage, log: StreamSink) throws {
    guard let mirror = debianMirror() else {
      throw KernelError(
        "no Debian mirror found in /etc/apt/sources.list or /etc/apt/sources.list.d",
        hint: "set SOCKSCRIPT_DEBIAN_MIRROR to a Debian archive URI (the one 'deb' lines name)")
    }
    for tool in ["apt-get", "apt-cache", "dpkg-deb"] + (pkg.newGlibc ? ["patchelf"] : []) where !onPath(tool) {
      throw KernelError("'\(tool)' is not installed", hint: "install it (apt-get install \(tool == "patchelf" ? "patchelf" : "apt dpkg"))")
    }
    let base = folder
    try makeDirs(base)
    let apt = base + "/.apt-" + pkg.suite
    for d in ["/lists/partial", "/cache/archives/partial", "/debs"] { try makeDirs(apt + d) }
    let keyring = mirror.signedBy.map { "[signed-by=\($0)] " } ?? ""
    guard writeFile(apt + "/sources.list", "deb \(keyring)\(mirror.uri) \(pkg.suite) main\n") else { throw KernelError("cannot write \(apt)/sources.list: \(errnoText())") }
    let opts = [
      "-o", "Dir::Etc::sourcelist=\(apt)/sources.list", "-o", "Dir::Etc::sourceparts=/dev/null", "-o", "Dir::State::Lists=\(apt)/lists",
      "-o", "Dir::Cache=\(apt)/cache", "-o", "Debug::NoLocking=1", "-o", "APT::Sandbox::User=root",
    ]
    log.write("fetching Linux \(pkg.line) (Debian \(pkg.suite)'s user-mode-linux) from \(mirror.uri)\n")
    log.flush()
    try runTool(["apt-get", "-q", "update"] + opts, in: apt)
    let wanted = ["user-mode-linux"] + (pkg.newGlibc ? ["libc6"] : [])
    var debs: [String: String] = [:]
    for name in wanted {
      let madison = try runTool(["apt-cache"] + opts + ["madison", name], in: apt)
      // "user-mode-linux |   6.1um4+b13 | http://... bookworm/main amd64 Packages"
      guard
        let version = madison.split(separator: "\n").map({ $0.split(separator: "|").map { String($0).trimmed } }).first(where: {
          $0.count >= 3 && $0[2].contains(" \(pkg.suite)/")
        })?[1]
      else { throw KernelError("Debian \(pkg.suite) has no package \(name) at \(mirror.uri)") }
      try runTool(["apt-get", "-q"] + opts + ["download", "\(name)=\(version)"], in: apt + "/debs")
      let file = "\(apt)/debs/\(name)_\(version.replacingColons)_amd64.deb"
      guard access(file, R_OK) == 0 else { throw KernelError("apt-get download left no \(file)") }
      debs[name] = file
    }
    let target = base + "/" + pkg.line.description
    let tmp = target + ".partial"
    try runTool(["rm", "-rf", tmp], in: base)
    try makeDirs(tmp)
    try runTool(["dpkg-deb", "-x", debs["user-mode-linux"]!, tmp], in: base)
    if let libc = debs["libc6"] {
      try runTool(["dpkg-deb", "-x", libc, tmp + "/libc"], in: base)
      let lib = target + "/libc/usr/lib/x86_64-linux-gnu"
      try runTool(["patchelf", "--set-interpreter", lib + "/ld-linux-x86-64.so.2", "--set-rpath", lib, tmp + "/usr/bin/linux.uml"], in: base)
    }
    guard let release = listDir(tmp + "/usr/lib/uml/modules")?.first else { throw KernelError("the package has no /usr/lib/uml/modules/RELEASE folder") }
    guard writeFile(tmp + "/release", release + "\n") else { throw KernelError("cannot write \(tmp)/release: \(errnoText())") }
    try runTool(["rm", "-rf", target], in: base)
    guard rename(tmp, target) == 0 else { throw KernelError("cannot rename \(tmp) to \(target): \(errnoText())") }
    try runTool(["rm", "-rf", apt + "/debs"], in: base)
    log.write("Linux \(release) is in \(target)\n")
    log.flush()
  }

  /// The machine's own Debian archive: the first `deb` entry of a Debian
  /// suite in its apt sources (SOCKSCRIPT_DEBIAN_MIRROR overrides).
  static func debianMirror() -> (uri: String, signedBy: String?)? {
    if let m = env("SOCKSCRIPT_DEBIAN_MIRROR") { return (m, nil) }
    let suites: Set<String> = ["buster", "bullseye", "bookworm", "trixie", "forky", "duke", "sid", "stable", "testing", "unstable"]
    var files = ["/etc/apt/sources.list"]
    for d in ["/etc/apt/sources.list.d"] { files += (listDir(d) ?? []).filter { $0.hasSuffix(".list") || $0.hasSuffix(".sources") }.map { d + "/" + $0 } }
    for f in files {
      guard let text = readFile(f) else { continue }
      if f.hasSuffix(".sources") {
        // deb822 stanzas separated by blank lines.
        for stanza in text.components(separatedByBlankLines: ()) {
          var fields: [String: String] = [:]
          for line in stanza where !line.hasPrefix("#") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[String(line[..<colon]).lowercased()] = String(line[line.index(after: colon)...]).trimmed
          }
          guard (fields["types"] ?? "").split(separator: " ").contains("deb"), let uri = fields["uris"]?.split(separator: " ").first,
            (fields["suites"] ?? "").split(separator: " ").contains(where: { suites.contains(String($0)) })
          else { continue }
          return (String(uri), fields["signed-by"])
        }
      } else {
        for line in text.split(separator: "\n") {
          var words = line.split(separator: " ").map(String.init)
          guard words.first == "deb" else { continue }
          words.removeFirst()
          var signed: String?
          if words.first?.hasPrefix("[") == true {
            while let w = words.first {
              words.removeFirst()
              if w.hasPrefix("[signed-by=") || w.hasPrefix("signed-by=") { signed = String(w.split(separator: "=", maxSplits: 1)[1]).trimmingCharacters("[]") }
              if w.hasSuffix("]") { break }
            }
          }
          if words.count >= 2 && suites.contains(words[1]) { return (words[0], signed) }
        }
      }
    }
    return nil
  }
}

struct KernelError: Error {
  let message: String
  let hint: String?
  init(_ message: String, hint: String? = nil) {
    self.message = message
    self.hint = hint
  }
  func report(_ err: StreamSink) {
    err.write("sockscript: \(message)\n")
    if let h = hint { err.write("  hint: \(h)\n") }
  }
}

/// Boots a fetched kernel with this machine's filesystem as its root and
/// runs this executable inside it with `args`, in the current folder; its
/// output is copied here as it comes. Returns the command's exit status.
enum UMLRun {
  /// The whole boot, command included, is given this long (seconds;
  /// SOCKSCRIPT_UML_TIMEOUT overrides): a guest that hangs is killed.
  static var timeoutS: Int { KernelStore.env("SOCKSCRIPT_UML_TIMEOUT").flatMap(Int.init) ?? 7200 }

  static func run(_ k: InstalledKernel, args: [String], out: StreamSink, err: StreamSink) throws -> Int32 {
    guard let dir = makeTempDir("uml") else { throw KernelError("cannot make a temporary folder: \(errnoText())") }
    defer { _ = try? runTool(["rm", "-rf", dir], in: "/") }
    guard let exe = realPath("/proc/self/exe"), let cwd = realPath(".") else { throw KernelError("cannot find this executable or the current folder") }
    var script = "#!/bin/sh\n"
    script += "mount -t proc proc /proc 2>/dev/null\nmount -t sysfs sysfs /sys 2>/dev/null\n"
    for ko in modulesToLoad(k) { script += "insmod \(shellQuote(ko)) 2>>\(dir)/boot.log\n" }
    script += "ip link set lo up 2>>\(dir)/boot.log\n"
    for (name, value) in environment() { script += "export \(name)=\(shellQuote(value))\n" }
    script += "export SOCKSCRIPT_GUEST=\(shellQuote(k.line.description))\n"
    script += "cd \(shellQuote(cwd)) && \(([exe] + args).map(shellQuote).joined(separator: " ")) </dev/null >\(dir)/out 2>\(dir)/err\n"
    script += "echo $? >\(dir)/status.tmp && mv \(dir)/status.tmp \(dir)/status\nsync\n"
    script += "halt -f 2>/dev/null || poweroff -f 2>/dev/null || echo o >/proc/sysrq-trigger\n"
    guard writeFile(dir + "/init", script), chmod(dir + "/init", 0o755) == 0 else { throw KernelError("cannot write \(dir)/init: \(errnoText())") }
    let outFd = open(dir + "/out", O_RDONLY | O_CREAT, 0o644)
    let errFd = open(dir + "/err", O_RDONLY | O_CREAT, 0o644)
    defer {
      close(outFd)
      close(errFd)
    }
    let boot = [
      k.binary, "mem=1G", "root=/dev/root", "rootfstype=hostfs", "rootflags=/", "rw", "init=\(dir)/init", "con=null", "con0=fd:0,fd:1", "quiet",
    ]
    guard let pid = spawn(boot, stdout: dir + "/boot.log", newGroup: true) else { throw KernelError("cannot start \(k.binary): \(errnoText())") }
    let deadline = time(nil) + timeoutS
    var status: Int32 = 0
    var killedBy: String?
    while true {
      copyNew(outFd, to: out)
      copyNew(errFd, to: err)
      if waitpid(pid, &status, WNOHANG) == pid { break }
      if isInterrupted() || time(nil) > deadline {
        killedBy = isInterrupted() ? "interrupted" : "still running after \(timeoutS) s (SOCKSCRIPT_UML_TIMEOUT)"
        kill(-pid, SIGKILL)
        waitpid(pid, &status, 0)
        break
      }
      usleep(50_000)
    }
    // UML leaves helper processes in its group; none may outlive it.
    kill(-pid, SIGKILL)
    copyNew(outFd, to: out)
    copyNew(errFd, to: err)
    out.flush()
    err.flush()
    if let why = killedBy {
      if isInterrupted() { return 130 }
      throw KernelError("Linux \(k.release) (user-mode) was \(why); it was stopped")
    }
    guard let code = readFile(dir + "/status").flatMap({ Int32($0.trimmed) }) else {
      let log = (readFile(dir + "/boot.log") ?? "").split(separator: "\n").suffix(12).joined(separator: "\n")
      throw KernelError("Linux \(k.release) (user-mode) ended before the command did; the end of its console:\n\(log)")
    }
    return code
  }

  /// ipv6 and udp_diag (for UDP states) with what they need, in load order,
  /// from the package's modules.dep; a module not listed is built in.
  static func modulesToLoad(_ k: InstalledKernel) -> [String] {
    guard let dep = readFile(k.modules + "/modules.dep") else { return [] }
    var deps: [String: [String]] = [:]
    for line in dep.split(separator: "\n") {
      let parts = line.split(separator: ":", maxSplits: 1)
      guard let mod = parts.first else { continue }
      deps[String(mod)] = parts.count > 1 ? parts[1].split(separator: " ").map(String.init) : []
    }
    var order: [String] = []
    for want in ["ipv6", "inet_diag", "tcp_diag", "udp_diag"] {
      guard let mod = deps.keys.first(where: { $0.hasSuffix("/\(want).ko") }) else { continue }
      for m in (deps[mod]!.reversed() + [mod]) where !order.contains(m) { order.append(m) }
    }
    return order.map { k.modules + "/" + $0 }
  }

  /// The variables the guest command gets: this process's, but the shell's own.
  static func environment() -> [(String, String)] {
    var vars: [(String, String)] = []
    var p = environ
    while let entry = p.pointee {
      let s = String(cString: entry)
      p += 1
      guard let eq = s.firstIndex(of: "=") else { continue }
      let name = String(s[..<eq])
      guard !["PWD", "OLDPWD", "SHLVL", "_"].contains(name), name.allSatisfy({ $0 == "_" || ($0.isASCII && ($0.isLetter || $0.isNumber)) }),
        name.first?.isNumber == false
      else { continue }
      vars.append((name, String(s[s.index(after: eq)...])))
    }
    return vars
  }

  static func copyNew(_ fd: Int32, to sink: StreamSink) {
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
      let n = read(fd, &buf, buf.count)
      if n <= 0 { break }
      sink.write(String(decoding: buf[0..<n], as: UTF8.self))
    }
    sink.flush()
  }
}

/// `--kernel VERSION`: which kernel a command runs on.
struct KernelOption: ParsableArguments {
  @Option(
    help: ArgumentHelp(
      "The Linux version to run: 5.10, 6.1, 6.12, 6.18, 7.2 or host. The simulator follows that version's rules; the real backend runs in that kernel booted as user-mode Linux (see 'sockscript kernels'), or natively when it is the host's.",
      valueName: "VERSION"))
  var kernel: String?

  func validate() throws {
    guard let k = kernel, k != "host", k != "all" else { return }
    guard let v = KernelVersion(k), KernelVersion.profile(for: v) != nil else {
      throw ValidationError("unknown kernel '\(k)'; known: \(KernelVersion.profiles.map { $0.line.description }.joined(separator: ", ")), host")
    }
  }

  /// The line asked for: nil for none, the host's for `host`.
  var line: KernelVersion? {
    guard let k = kernel, k != "all" else { return nil }
    return k == "host" ? KernelStore.hostLine : KernelVersion(k)?.line
  }

  /// The simulator profile: the version asked for, else 6.18.
  var simVersion: KernelVersion { line.map(KernelVersion.nearestProfile) ?? .latestModelled }

  /// With the real backend needed: the kernel to boot when the version asked
  /// for is not the host's; throws when it is not fetched.
  func guestKernel() throws -> InstalledKernel? {
    guard let want = line, want != KernelStore.hostLine else { return nil }
    if let inGuest = KernelStore.env("SOCKSCRIPT_GUEST") {
      throw KernelError("inside user-mode Linux \(inGuest) the kernel is \(RealKernel.hostRelease), not \(want)")
    }
    guard UMLPackage.named(want) != nil else {
      throw KernelError(
        "Linux \(want) has no user-mode build to boot here (this machine runs \(RealKernel.hostRelease))",
        hint: "user-mode kernels: \(UMLPackage.all.map { $0.line.description }.joined(separator: ", ")); the simulator alone runs it with --backend sim")
    }
    guard let k = KernelStore.installed(want) else {
      throw KernelError("Linux \(want) is not fetched (looked in \(KernelStore.folder))", hint: "run 'sockscript kernels fetch \(want)'")
    }
    return k
  }

  /// Runs the whole command again inside the guest kernel when one is
  /// needed; returns its exit status, or nil to go on here.
  func runInGuestIfNeeded(needsReal: Bool, out: StreamSink, err: StreamSink) throws -> Int32? {
    guard needsReal else { return nil }
    do {
      guard let k = try guestKernel() else { return nil }
      installInterruptHandler()
      return try UMLRun.run(k, args: Array(CommandLine.arguments.dropFirst()), out: out, err: err)
    } catch let e as KernelError {
      e.report(err)
      return Exit.backendUnavailable
    }
  }
}

struct Kernels: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "kernels",
    abstract: "Real kernels of other versions: fetch Debian's user-mode Linux builds, list what is here.",
    discussion: """
      --kernel VERSION on run, diff, test, fuzz and repl picks a Linux version.
      The simulator follows that version's rules. The real backend runs on
      this machine's kernel when VERSION is its own (or 'host'); for another
      version it boots that kernel as user-mode Linux (an ordinary program,
      no privileges beyond the namespaces the real backend always uses), with
      this machine's filesystem as its root, and runs the command inside.
      Kernels live in $SOCKSCRIPT_KERNELS, else $XDG_CACHE_HOME/sockscript/kernels,
      else ~/.cache/sockscript/kernels. 'fetch' takes them from the Debian
      archive this machine's apt sources name, with a private apt setup
      (nothing is installed): 5.10 (bullseye), 6.1 (bookworm), 6.12 (trixie),
      7.2 (sid). It needs apt-get, dpkg-deb and patchelf; the guest loads
      its ipv6 and udp_diag modules with insmod (kmod).
      """,
    subcommands: [List.self, Fetch.self, Rules.self], defaultSubcommand: List.self)

  struct Rules: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "rules", abstract: "Which version changed what: the simulator's rules that some profiles lack.")
    func run() throws {
      try withOutput { out, _ in
        let lines = KernelVersion.profiles.map { $0.line.description }
        out.write("RULE".padding(32) + lines.map { $0.padding(6) }.joined() + "COMMIT\n")
        for r in SimRule.allCases where r.since != nil || r.until != nil || !r.absentFrom.isEmpty {
          let marks = KernelVersion.profiles.map { (r.exists(in: $0) ? "yes" : "-").padding(6) }.joined()
          let builds = r.absentFrom.isEmpty ? "" : "; absent from this machine's \(r.absentFrom.map(\.description).joined(separator: ", ")) build"
          out.write(r.rawValue.padding(32) + marks + (r.commit ?? "measured, not bisected") + builds + "\n")
        }
        let u8 = KernelVersion.profiles.map { ($0 >= KernelVersion(5, 13) ? "yes" : "-").padding(6) }.joined()
        out.write("u8 sysctls (no sign, 0..255)".padding(32) + u8 + "proc_dou8vec_minmax and its series (5.13); before, ints\n")
        for (key, rule) in Sysctl.addedWith.sorted(by: { $0.key < $1.key }) {
          let marks = KernelVersion.profiles.map { (rule.exists(in: $0) ? "yes" : "-").padding(6) }.joined()
          out.write(("sysctl " + key.split(separator: ".").last!).padding(32) + marks + "with \(rule.rawValue)\n")
        }
      }
    }
  }

  struct List: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Show the kernels a run can use.")
    func run() throws {
      try withOutput { out, _ in
        out.write("kernels folder: \(KernelStore.folder)\n")
        out.write("host   \(RealKernel.hostRelease)  (native; simulator profile \(KernelVersion.nearestProfile(to: KernelStore.hostLine).line))\n")
        for p in UMLPackage.all {
          let state = KernelStore.installed(p.line).map { "\($0.release)  \($0.folder)" } ?? "not fetched (sockscript kernels fetch \(p.line))"
          out.write("\(p.line.description.padding(6))\(state)\n")
        }
        out.write("simulator profiles: \(KernelVersion.profiles.map { $0.line.description }.joined(separator: ", ")) (default \(KernelVersion.latestModelled.line))\n")
      }
    }
  }

  struct Fetch: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "fetch", abstract: "Fetch user-mode Linux kernels (default: every one not yet here).")
    @Argument(help: "Versions: 5.10, 6.1, 6.12, 7.2.")
    var versions: [String] = []
    @Flag(help: "Fetch again even when the kernel is already here.")
    var force = false

    func validate() throws {
      for v in versions where KernelVersion(v).flatMap({ UMLPackage.named($0) }) == nil {
        throw ValidationError("no user-mode kernel '\(v)'; known: \(UMLPackage.all.map { $0.line.description }.joined(separator: ", "))")
      }
    }

    func run() throws {
      try withOutput { out, err in
        let pkgs = versions.isEmpty ? UMLPackage.all : versions.compactMap { KernelVersion($0).flatMap(UMLPackage.named) }
        var failed = false
        for p in pkgs {
          if !force, let k = KernelStore.installed(p.line) {
            out.write("Linux \(k.release) is already in \(k.folder)\n")
            continue
          }
          do {
            try KernelStore.fetch(p, log: out)
          } catch let e as KernelError {
            out.flush()
            e.report(err)
            failed = true
          }
        }
        if failed { throw ExitCode(Exit.backendUnavailable) }
      }
    }
  }
}

// MARK: process and file helpers

@discardableResult
func runTool(_ argv: [String], in dir: String) throws -> String {
  var template = Array("/tmp/sockscript-tool-XXXXXX".utf8CString)
  let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
  guard fd >= 0 else { throw KernelError("cannot make a temporary file: \(errnoText())") }
  let path = String(cString: template)
  close(fd)
  defer { unlink(path) }
  guard let pid = spawn(argv, stdout: path, cwd: dir) else { throw KernelError("cannot start \(argv[0]): \(errnoText())") }
  var status: Int32 = 0
  while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
  let output = readFile(path) ?? ""
  guard status == 0 else {
    let tail = output.split(separator: "\n").suffix(8).joined(separator: "\n")
    throw KernelError("'\(argv.joined(separator: " "))' failed:\n\(tail)")
  }
  return output
}

/// Starts a program (looked up on PATH) with stdin from /dev/null and
/// stdout and stderr into a file.
func spawn(_ argv: [String], stdout path: String, cwd: String? = nil, newGroup: Bool = false) -> pid_t? {
  var fa = posix_spawn_file_actions_t()
  posix_spawn_file_actions_init(&fa)
  defer { posix_spawn_file_actions_destroy(&fa) }
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)
  posix_spawn_file_actions_addopen(&fa, 1, path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
  posix_spawn_file_actions_adddup2(&fa, 1, 2)
  var attr = posix_spawnattr_t()
  posix_spawnattr_init(&attr)
  defer { posix_spawnattr_destroy(&attr) }
  if newGroup {
    posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP))
    posix_spawnattr_setpgroup(&attr, 0)
  }
  // posix_spawn_file_actions_addchdir_np is not in Swift's Glibc module.
  let argv = cwd.map { ["sh", "-c", "cd \"$0\" && exec \"$@\"", $0] + argv } ?? argv
  let cargs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
  defer { for p in cargs { free(p) } }
  var pid: pid_t = 0
  let rc = posix_spawnp(&pid, argv[0], &fa, &attr, cargs, environ)
  guard rc == 0 else {
    errno = rc
    return nil
  }
  return pid
}

func onPath(_ tool: String) -> Bool {
  let path = KernelStore.env("PATH") ?? "/usr/bin:/bin"
  return path.split(separator: ":").contains { access("\($0)/\(tool)", X_OK) == 0 }
}

func makeDirs(_ path: String) throws {
  var cur = path.hasPrefix("/") ? "" : "."
  for part in path.split(separator: "/") {
    cur += "/" + part
    if mkdir(cur, 0o755) != 0 && errno != EEXIST { throw KernelError("cannot make \(cur): \(errnoText())") }
  }
}

func realPath(_ p: String) -> String? {
  guard let r = realpath(p, nil) else { return nil }
  defer { free(r) }
  return String(cString: r)
}

func shellQuote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }

extension StringProtocol {
  func trimmingCharacters(_ set: String) -> String { String(drop { set.contains($0) }.reversed().drop { set.contains($0) }.reversed()) }
  func padding(_ n: Int) -> String { count >= n ? String(self) + " " : String(self) + String(repeating: " ", count: n - count) }
  var replacingColons: String { replacingOccurrences(of: ":", with: "%3a") }
  func replacingOccurrences(of a: Character, with b: String) -> String {
    var result = ""
    for ch in self { if ch == a { result += b } else { result.append(ch) } }
    return result
  }
  /// deb822 stanzas: groups of lines between blank lines.
  func components(separatedByBlankLines _: ()) -> [[Substring]] {
    var groups: [[Substring]] = [[]]
    for line in split(separator: "\n", omittingEmptySubsequences: false).map({ Substring($0) }) {
      if line.allSatisfy({ $0 == " " || $0 == "\t" }) {
        if !groups[groups.count - 1].isEmpty { groups.append([]) }
      } else {
        groups[groups.count - 1].append(line)
      }
    }
    return groups.filter { !$0.isEmpty }
  }
}

/// `diff --kernel all`: every file on every kernel line; the real runs are
/// children (`run --backend real [--kernel V]`), all lines at once.
func runMatrix(files: [String], seed: UInt64, timeout: String, format: OutputFormat, out: StreamSink, err: StreamSink) -> Int32 {
  let timeoutMs = parseDuration(timeout)!
  let host = KernelStore.hostLine
  var worst: Int32 = 0
  let missing = UMLPackage.all.map(\.line).filter { $0 != host && KernelStore.installed($0) == nil }
  if !missing.isEmpty {
    err.write(
      "sockscript: simulator only on \(missing.map(\.description).joined(separator: ", ")): not fetched (sockscript kernels fetch \(missing.map(\.description).joined(separator: " ")))\n"
    )
  }
  for path in files {
    guard let text = readFile(path) else {
      err.write("sockscript: cannot read '\(path)': \(errnoText())\n")
      worst = max(worst, Exit.badInput)
      continue
    }
    let src = SourceFile(name: path, text: text)
    let (_, diags) = Runner.compile(src)
    if !diags.isEmpty {
      err.write(DiagnosticRenderer.render(diags, in: src))
      worst = max(worst, Exit.badInput)
      continue
    }
    let lines = KernelVersion.profiles
    let pool = ChildPool()
    var reals = [Trace?](repeating: nil, count: lines.count)
    for (i, p) in lines.enumerated() where p.line == host || KernelStore.installed(p.line) != nil {
      let kernelArgs = p.line == host ? [] : ["--kernel", p.line.description]
      _ = pool.start(["run", "--backend", "real", "--format", "json", "--keep-going", "--seed", String(seed), "--timeout", timeout] + kernelArgs + [path], tag: i)
    }
    var failedKernels: [String] = []
    while pool.running > 0, let done = pool.waitOne() {
      reals[done.tag] = Trace(jsonLines: done.out, exit: done.exit)
      if reals[done.tag] == nil { failedKernels.append("\(lines[done.tag].line): \(done.err.split(separator: "\n").first ?? "no output")") }
    }
    for f in failedKernels { err.write("sockscript: the real run on \(f)\n") }
    let columns = lines.enumerated().map { i, p in
      var sim = Trace.simulate(src, config: SimKernel.Config(seed: seed, timeoutMs: timeoutMs, version: p))
      sim?.kernel = p.description
      let release = reals[i].map { $0.kernel.isEmpty ? p.description : $0.kernel } ?? KernelStore.installed(p.line)?.release ?? p.description
      return VersionMatrix.Column(line: p.line, release: release, sim: sim, real: reals[i])
    }
    let m = VersionMatrix(file: path, seed: seed, columns: columns)
    out.write(format == .md ? m.markdown() : m.text())
    out.flush()
    if !m.agrees { worst = max(worst, Exit.failed) }
    if isInterrupted() { return Exit.interrupted }
  }
  return worst
}

/// A Linux version, major.minor (the line) with an optional point release:
/// what `--kernel` names, what a scenario's `kernel` expression is, and what
/// a simulator profile models.
public struct KernelVersion: Comparable, Hashable, Sendable, CustomStringConvertible {
  public var major: Int
  public var minor: Int
  /// The point release (6.1.176), when known.
  public var patch: Int?

  public init(_ major: Int, _ minor: Int, _ patch: Int? = nil) {
    self.major = major
    self.minor = minor
    self.patch = patch
  }

  /// "6.1", "6.1.176", or a release string such as "6.18.44-fc-v1147"
  /// (anything after the numbers is ignored).
  public init?(_ text: String) {
    var nums: [Int] = []
    var cur = ""
    for ch in text {
      if ch.isASCII && ch.isNumber {
        cur.append(ch)
      } else if ch == "." && !cur.isEmpty && nums.count < 2 {
        nums.append(Int(cur)!)
        cur = ""
      } else {
        break
      }
    }
    if !cur.isEmpty, let n = Int(cur) { nums.append(n) }
    guard nums.count >= 2, nums[0] < 1000, nums[1] < 1000 else { return nil }
    self.init(nums[0], nums[1], nums.count > 2 ? nums[2] : nil)
  }

  /// The line, without the point release: what profiles and `--kernel` compare.
  public var line: KernelVersion { KernelVersion(major, minor) }

  public var description: String { patch.map { "\(major).\(minor).\($0)" } ?? "\(major).\(minor)" }

  /// Versions compare by line, then point release (a missing one sorts first).
  public static func < (a: KernelVersion, b: KernelVersion) -> Bool {
    if a.major != b.major { return a.major < b.major }
    if a.minor != b.minor { return a.minor < b.minor }
    return (a.patch ?? -1) < (b.patch ?? -1)
  }

  /// The lines the simulator has a profile for, oldest first, each as of the
  /// point release it was checked against (Debian's user-mode Linux builds,
  /// and this project's host for 6.18).
  public static let profiles: [KernelVersion] = [
    KernelVersion(5, 10, 46), KernelVersion(6, 1, 176), KernelVersion(6, 12, 113), KernelVersion(6, 18, 44), KernelVersion(7, 2, 7),
  ]

  /// The simulator's default profile.
  public static let latestModelled = KernelVersion(6, 18, 44)

  /// The profile for a line ("6.1" or "6.1.176"), if the simulator has one.
  public static func profile(for v: KernelVersion) -> KernelVersion? { profiles.first { $0.line == v.line } }

  /// The profile a host kernel maps to: its line if modelled, else the newest
  /// modelled line not newer than it, else the oldest.
  public static func nearestProfile(to v: KernelVersion) -> KernelVersion {
    profile(for: v) ?? profiles.last { $0.line <= v.line } ?? profiles[0]
  }
}

/// Delta debugging (Zeller's ddmin) over a program's lines: the smallest
/// set of lines, in their order, that still makes `interesting` true.
/// Each removal is tried on the whole chunk first, then on halves, and so
/// on down to single lines; a final pass removes lines one at a time.
public enum Shrinker {
  public static func minimize(_ lines: [String], _ interesting: ([String]) -> Bool) -> [String] {
    var current = lines
    var n = 2
    while current.count >= 2 {
      let chunk = (current.count + n - 1) / n
      var reduced = false
      var start = 0
      while start < current.count {
        let end = min(current.count, start + chunk)
        let complement = Array(current[..<start] + current[end...])
        if !complement.isEmpty && interesting(complement) {
          current = complement
          n = max(n - 1, 2)
          reduced = true
          break
        }
        start = end
      }
      if !reduced {
        if n >= current.count { break }
        n = min(current.count, n * 2)
      }
    }
    // One line at a time, until nothing more goes.
    var i = 0
    while i < current.count && current.count > 1 {
      var without = current
      without.remove(at: i)
      if interesting(without) { current = without } else { i += 1 }
    }
    return current
  }
}

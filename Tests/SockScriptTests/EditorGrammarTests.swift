import Foundation
import SockKernel
import SockSyntax
import XCTest

/// The editor grammars under editors/ must name exactly what the parser
/// knows: a keyword, option or errno added to the parser's tables without a
/// grammar entry (or left in a grammar after removal) fails here.
final class EditorGrammarTests: XCTestCase {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

  /// What each grammar group must list, from the parser's own tables.
  static let expected: [(textmate: String, vim: String, words: [String])] = [
    ("statements", "sockStatement", Keywords.statements),
    ("options", "sockOption", SocketOption.allNames),
    ("errnos", "sockErrno", Errno.allNames),
    ("states", "sockState", SockState.allCases.map(\.rawValue)),
    ("protocols", "sockProto", Keywords.protocols),
    ("shutdown-modes", "sockShutdown", Keywords.shutdownModes),
    ("word-operators", "sockOperator", Keywords.wordOperators),
    ("literals", "sockBoolean", Keywords.literals),
    ("functions", "sockFunction", Keywords.functions),
  ]

  func testTextMateGrammarMatchesTheParser() throws {
    let data = try Data(contentsOf: Self.root.appendingPathComponent("editors/vscode/syntaxes/sock.tmLanguage.json"))
    let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    XCTAssertEqual(json["scopeName"] as? String, "source.sock")
    let repo = try XCTUnwrap(json["repository"] as? [String: Any])
    func words(_ key: String) throws -> Set<String> {
      let rule = try XCTUnwrap(repo[key] as? [String: Any], key)
      let match = try XCTUnwrap(rule["match"] as? String, key)
      // \b(?:a|b|c)\b, possibly followed by a lookahead.
      let open = try XCTUnwrap(match.range(of: #"\b(?:"#), key)
      let close = try XCTUnwrap(match.range(of: #")\b"#, range: open.upperBound..<match.endIndex), key)
      return Set(match[open.upperBound..<close.lowerBound].components(separatedBy: "|").map { $0.replacingOccurrences(of: #"\."#, with: ".") })
    }
    for (key, _, expected) in Self.expected {
      XCTAssertEqual(try words(key), Set(expected), "TextMate group '\(key)'")
    }
    XCTAssertEqual(try words("sysctls"), Set(Sysctl.keys))
    // Every pattern the top level includes exists in the repository, and every regex compiles.
    for p in try XCTUnwrap(json["patterns"] as? [[String: String]]) {
      let name = try XCTUnwrap(p["include"]).dropFirst()
      XCTAssertNotNil(repo[String(name)], String(name))
    }
    for (key, value) in repo {
      guard let rule = value as? [String: Any] else { continue }
      for field in ["match", "begin", "end"] {
        if let re = rule[field] as? String { XCTAssertNoThrow(try NSRegularExpression(pattern: re), "\(key).\(field)") }
      }
    }
  }

  func testVimSyntaxMatchesTheParser() throws {
    let text = try String(contentsOf: Self.root.appendingPathComponent("editors/vim/syntax/sock.vim"), encoding: .utf8)
    var groups: [String: Set<String>] = [:]
    for line in text.split(separator: "\n") where line.hasPrefix("syn keyword ") {
      let words = line.split(separator: " ").dropFirst(2)
      guard let group = words.first else { continue }
      groups[String(group), default: []].formUnion(words.dropFirst().map(String.init))
    }
    for (_, group, expected) in Self.expected {
      XCTAssertEqual(groups[group], Set(expected), "Vim group '\(group)'")
    }
    let sysctl = try XCTUnwrap(text.split(separator: "\n").first { $0.hasPrefix("syn match   sockSysctl") })
    let inner = try XCTUnwrap(sysctl.range(of: #"\<\("#)).upperBound
    let end = try XCTUnwrap(sysctl.range(of: #"\)\>"#)).lowerBound
    XCTAssertEqual(Set(sysctl[inner..<end].components(separatedBy: #"\|"#).map { $0.replacingOccurrences(of: #"\."#, with: ".") }), Set(Sysctl.keys))
    let detect = try String(contentsOf: Self.root.appendingPathComponent("editors/vim/ftdetect/sock.vim"), encoding: .utf8)
    XCTAssertTrue(detect.contains("*.sock setfiletype sock"))
  }
}

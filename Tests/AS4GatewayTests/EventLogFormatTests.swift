@testable import AS4Gateway
import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// What a client controls (a path, a header, a library's reason) reaches the log as data: one
/// line per event, and nothing a terminal acts on (a tab, ESC, a C1 control, a line separator,
/// a bidirectional override) is written raw in either format.
final class EventLogFormatTests: XCTestCase {
    /// The review's request: `curl -g 'http://…/api/v1/x%09level%1b[1A%1b[2K'` logged the tab and
    /// ESC raw and unquoted, so `tail -f` erased the line before.
    func testControlCharactersAreQuotedAndEscapedInLogfmt() {
        let path = "/api/v1/x\tlevel\u{1B}[1A\u{1B}[2K"
        XCTAssertEqual(EventLog.logfmt([("path", path)]), #"path="/api/v1/x\tlevel\u001b[1A\u001b[2K""#)
        let cases: [(String, String)] = [
            ("a\u{7F}b", #""a\u007fb""#),                 // DEL
            ("a\u{9B}2Jb", #""a\u009b2Jb""#),             // C1 CSI
            ("a\u{85}b", #""a\u0085b""#),                 // NEL
            ("a\u{2028}b\u{2029}c", #""a\u2028b\u2029c""#),
            ("evil\u{202E}fdp.exe", #""evil\u202efdp.exe""#),
            ("x\u{2066}y\u{2069}", #""x\u2066y\u2069""#),
            ("zero\u{200B}width", #""zero\u200bwidth""#),
            ("tag\u{E0041}", #""tag\U000e0041""#),
            ("a\u{0}b", #""a\u0000b""#),
            ("line\r\nnext", #""line\r\nnext""#),
            ("say \"hi\" \\ =", #""say \"hi\" \\ =""#),
            ("", #""""#),
        ]
        for (value, expected) in cases {
            XCTAssertEqual(EventLog.logfmt([("v", value)]), "v=" + expected, value.debugDescription)
        }
        // Printable text of any script stays bare; spaces of any kind are quoted.
        XCTAssertEqual(EventLog.logfmt([("city", "Rīga"), ("id", "abc@x.lv")]), "city=Rīga id=abc@x.lv")
        XCTAssertEqual(EventLog.logfmt([("v", "a\u{A0}b")]), "v=\"a\u{A0}b\"")
    }

    /// JSON was valid before, but a C1 control or a bidirectional override went raw to the
    /// terminal; every such character is an escape now, and the line still decodes to the value.
    func testJSONEscapesWhatATerminalActsOn() throws {
        let value = "x\tlevel\u{1B}[1A\u{9B}2J\u{2028}\u{202E}txt\u{E0041}Rīga \"q\" \\"
        let line = EventLog.json([("path", value)])
        for scalar in line.unicodeScalars {
            XCTAssertFalse(EventLog.isEscaped(scalar), "raw U+\(String(scalar.value, radix: 16)) in \(line)")
        }
        XCTAssertTrue(line.contains(#"\u009b"#) && line.contains(#"\u202e"#) && line.contains(#"\udb40\udc41"#), line)
        let decoded = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String]
        XCTAssertEqual(decoded?["path"], value)
    }

    /// Through the log itself: one line whatever the value holds, in both formats.
    func testOneEventIsOneLine() throws {
        for format in EventLog.Format.allCases {
            var fds: [Int32] = [0, 0]
            XCTAssertEqual(pipe(&fds), 0)
            let log = EventLog(format: format, fileDescriptor: fds[1])
            log.log(.info, "api-refused", ["path": "/a\nlevel=error event=forged\u{2028}\u{85}x", "reason": "libpq:\tconnection\r\nrefused"])
            close(fds[1])
            let written = FileHandle(fileDescriptor: fds[0], closeOnDealloc: true).readDataToEndOfFile()
            let text = String(decoding: written, as: UTF8.self)
            XCTAssertEqual(text.filter { $0 == "\n" }.count, 1, "\(format): \(text)")
            XCTAssertTrue(text.hasSuffix("\n"))
            for scalar in text.dropLast().unicodeScalars { XCTAssertFalse(EventLog.isEscaped(scalar), "\(format): \(text.debugDescription)") }
        }
    }
}

// Tests for turning audit records into text: control characters can never end a line or forge a field, in the
// journal's MESSAGE, in logfmt and in JSON.
import Foundation
import Testing

@testable import SocketProxyCore

/// `AuditFormat`: the readable message, logfmt lines and JSON lines.
struct AuditFormatTests {
    /// A denied request whose query and reason carry every kind of control byte a client could smuggle in.
    static func hostileEvent() throws -> AuditEvent {
        var event = AuditEvent()
        event.requestID = 42
        event.decision = .deny
        event.method = "GET"
        event.path = "/v1.41/containers/json"
        event.query = "x=\nlevel=info forged\r\u{1B}[31m\t\u{7F}\u{0}"
        event.apiVersion = "1.41"
        event.section = "containers"
        event.rule = "CONTAINERS-off"
        event.reason = "no\nway \"quoted\" back\\slash"
        event.listener = "127.0.0.1:2375"
        event.client = .network(try SocketAddress(parsing: "127.0.0.1:40312"))
        event.status = 403
        event.bytesIn = 0
        event.bytesOut = 177
        event.durationNanoseconds = 1_500_000
        return event
    }

    /// Whether any byte would start a new line or drive a terminal (C0 controls and DEL).
    static func hasControlBytes<C: Collection<UInt8>>(_ bytes: C) -> Bool {
        bytes.contains { $0 < 0x20 || $0 == 0x7F }
    }

    @Test(arguments: [0, 7, 9, 10, 99, 100, 40312, 1_000_000_007, UInt64.max])
    func decimalsAreWrittenAsSwiftPrintsThem(value: UInt64) {
        var out = AuditBuffer(capacity: 8)
        out.append("x=")
        out.appendDecimal(value)
        #expect(String(decoding: out.bytes, as: UTF8.self) == "x=\(value)")
    }

    @Test func messageEscapesControlCharactersAndKeepsQuotesAndBackslashesReadable() throws {
        let message = AuditFormat.message(try Self.hostileEvent())
        #expect(!Self.hasControlBytes(Array(message.utf8)), "\(message.debugDescription)")
        #expect(
            message
                == #"deny GET /v1.41/containers/json?x=\nlevel=info forged\r\u001b[31m\t\u007f\u0000 -> 403 "#
                + #"(rule CONTAINERS-off, client 127.0.0.1:40312, 1500 us): no\nway "quoted" back\slash"#)
    }

    @Test func messageOfAStartRecordSaysStartAndHasNoDuration() throws {
        var event = try Self.hostileEvent()
        event.phase = .start
        event.decision = .allow
        event.query = ""
        event.status = 101
        event.upgraded = true
        #expect(
            AuditFormat.message(event)
                == "start allow GET /v1.41/containers/json -> 101 "
                + "(rule CONTAINERS-off, client 127.0.0.1:40312, upgraded)")
    }

    @Test func logfmtQuotesAndEscapesValuesSoARecordIsOneLine() throws {
        let line = AuditFormat.logfmt(try Self.hostileEvent())
        #expect(!Self.hasControlBytes(line))
        let text = String(decoding: line, as: UTF8.self)
        // msg holds the escaped message, escaped once more as a quoted logfmt value.
        #expect(
            text.hasPrefix(#"level=warning msg="deny GET /v1.41/containers/json?x=\\nlevel=info forged"#), "\(text)")
        #expect(text.contains(#" query="x=\nlevel=info forged\r\u001b[31m\t\u007f\u0000" "#), "\(text)")
        #expect(text.contains(#" reason="no\nway \"quoted\" back\\slash" "#), "\(text)")
        #expect(
            text.contains(" request_id=42 phase=end decision=deny method=GET path=/v1.41/containers/json "), "\(text)")
        #expect(text.hasSuffix(" status=403 bytes_in=0 bytes_out=177 duration_us=1500"), "\(text)")
        // The forged text may only appear inside a quoted value, never at the start of a field.
        #expect(!text.contains(" level=info forged"), "\(text)")
    }

    @Test(arguments: [
        ("", #""""#), ("plain", "plain"), ("two words", #""two words""#), ("a=b", #""a=b""#),
        (#"say "x""#, #""say \"x\"""#), ("tab\there", #""tab\there""#), ("del\u{7F}", #""del\u007f""#),
        ("nul\u{0}", #""nul\u0000""#), ("back\\slash", "back\\slash"),
    ])
    func logfmtValueIsQuotedExactlyWhenItMustBe(value: String, expected: String) {
        var out = AuditBuffer()
        AuditFormat.appendLogfmtValue(value, to: &out)
        #expect(String(decoding: out.bytes, as: UTF8.self) == expected)
    }

    @Test func jsonLineParsesBackToTheOriginalValuesWithNumbersAsNumbers() throws {
        let event = try Self.hostileEvent()
        let line = AuditFormat.json(event)
        #expect(!Self.hasControlBytes(line))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any])
        #expect(object["query"] as? String == event.query)
        #expect(object["reason"] as? String == event.reason)
        #expect(object["msg"] as? String == AuditFormat.message(event))
        #expect(object["level"] as? String == "warning")
        #expect(object["decision"] as? String == "deny")
        #expect(object["status"] as? Int == 403)
        #expect(object["request_id"] as? Int == 42)
        #expect(object["client_port"] as? Int == 40312)
        #expect(object["client_address"] as? String == "127.0.0.1")
        #expect(object["duration_us"] as? Int == 1500)
        #expect(object["bytes_out"] as? Int == 177)
        #expect(object.count == 19, "\(object.keys.sorted())")
    }

    @Test func escapedLineLeavesPrintableTextAlone() {
        let text = #"deny GET /v1.41/x (rule "r", client c) \ done"#
        #expect(AuditFormat.escapedLine(text) == text)
    }

    @Test(arguments: [
        ("a\nb", #"a\nb"#), ("a\r\nb", #"a\r\nb"#), ("\u{1B}[2J", #"\u001b[2J"#), ("x\u{7F}", #"x\u007f"#),
        ("q\"\\\n", "q\"\\\\n"),
    ])
    func escapedLineWritesControlCharactersAsEscapes(input: String, expected: String) {
        let escaped = AuditFormat.escapedLine(input)
        #expect(escaped == expected)
        #expect(!Self.hasControlBytes(Array(escaped.utf8)))
    }

    @Test func fieldsOfAUnixPeerNameItsCredentialsAndLeaveOutEmptyOnes() {
        var event = AuditEvent()
        event.requestID = 7
        event.method = "GET"
        event.path = "/_ping"
        event.listener = "unix:/run/socket-proxy.sock"
        event.client = .unixPeer(pid: 1234, uid: 1000, gid: 999)
        event.status = 200
        event.upgraded = true
        let fields = AuditFormat.fields(event)
        #expect(
            fields.map(\.name) == [
                "REQUEST_ID", "PHASE", "DECISION", "METHOD", "PATH", "LISTENER", "CLIENT_PID", "CLIENT_UID",
                "CLIENT_GID",
                "STATUS", "BYTES_IN", "BYTES_OUT", "DURATION_US", "UPGRADED",
            ])
        #expect(
            fields.map(\.value) == [
                "7", "end", "allow", "GET", "/_ping", "unix:/run/socket-proxy.sock", "1234", "1000", "999", "200", "0",
                "0", "0", "1",
            ])
    }
}

@Suite struct AuditBufferTests {
    @Test func appendsPastTheFirstAllocationKeepEveryByteInOrder() {
        var buffer = AuditBuffer(capacity: 64)
        var expected: [UInt8] = []
        for round in 0..<200 {
            let byte = UInt8(truncatingIfNeeded: round)
            buffer.append(byte)
            expected.append(byte)
            let run = [UInt8](repeating: byte &+ 1, count: round % 37)
            run.withUnsafeBytes { buffer.append($0) }
            expected += run
            buffer.append("=")
            expected.append(UInt8(ascii: "="))
            buffer.appendDecimal(UInt64(round) &* 7_919)
            expected += Array(String(UInt64(round) &* 7_919).utf8)
        }
        let grown = buffer.capacity
        #expect(grown > 64)
        #expect(buffer.array == expected)
        buffer.removeLast(3)
        #expect(buffer.array == Array(expected.dropLast(3)))
        buffer.removeAll()
        let empty = buffer.isEmpty
        #expect(empty)
    }
}

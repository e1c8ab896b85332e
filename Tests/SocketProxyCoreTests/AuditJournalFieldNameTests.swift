// Tests for the journal field names the swift-log handler makes from metadata keys.
import Testing

@testable import SocketProxyCore

/// `JournalLogHandler.fieldName(_:)`: metadata keys as journal field names (after the `SOCKET_PROXY_` prefix).
struct AuditJournalFieldNameTests {
    @Test(arguments: [
        ("listeners", "LISTENERS"), ("socket_path", "SOCKET_PATH"), ("client.address", "CLIENT_ADDRESS"),
        ("x-request-id", "X_REQUEST_ID"), ("Mixed Case", "MIXED_CASE"), ("a=b\nc", "A_B_C"), ("héllo", "H_LLO"),
        ("日本", "__"), ("v1.41", "V1_41"), ("_private", "_PRIVATE"), ("", ""),
    ])
    func keepsOnlyUpperCaseLettersDigitsAndUnderscores(key: String, expected: String) {
        #expect(JournalLogHandler.fieldName(key) == expected)
    }

    @Test(arguments: ["listeners", "socket_path", "any key at all!", "ümlaut-ß", "\u{0}\u{1B}[31m"])
    func everyFieldNameIsOneTheJournalAccepts(key: String) {
        let field = AuditFormat.fieldPrefix + JournalLogHandler.fieldName(key)
        #expect(!field.isEmpty && field.count <= 64, "\(field)")
        #expect(field.utf8.allSatisfy { (0x41...0x5A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x5F })
        #expect(field.first != "_" && !(field.first?.isNumber ?? true))
    }

    /// journald silently drops a field whose name is longer than 64 bytes (checked with `logger --journald`), so
    /// a long metadata key loses its value without a trace.
    @Test func aLongKeyStillMakesAFieldNameOfAtMost64Bytes() {
        let key = String(repeating: "k", count: 60)
        let field = AuditFormat.fieldPrefix + JournalLogHandler.fieldName(key)
        #expect(field.utf8.count <= 64, "\(field) has \(field.utf8.count) bytes")

    }
}

// Turning audit records into bytes: the journal's fields, a readable message, logfmt and JSON lines. Everything
// appends to a caller's reusable AuditBuffer, so writing a record allocates nothing once the buffer has grown.
#if canImport(Glibc)
import Glibc
#endif

/// The one description of an audit record's fields, used by every sink so they never disagree.
public enum AuditFormat {
    /// The prefix of every structured journal field this proxy writes.
    public static let fieldPrefix = "SOCKET_PROXY_"

    /// The fields, in the order they are written. Each has its journal name (after the prefix) and the lower-case
    /// name used on stderr.
    enum Field: CaseIterable {
        case requestID, phase, decision, method, path, query, apiVersion, section, profile, rule, reason, mode
        case listener, clientAddress, clientPort, clientPID, clientUID, clientGID, status, bytesIn, bytesOut
        case durationMicroseconds, upgraded

        var journalName: StaticString {
            switch self {
            case .requestID: return "REQUEST_ID"
            case .phase: return "PHASE"
            case .decision: return "DECISION"
            case .method: return "METHOD"
            case .path: return "PATH"
            case .query: return "QUERY"
            case .apiVersion: return "API_VERSION"
            case .section: return "SECTION"
            case .profile: return "PROFILE"
            case .rule: return "RULE"
            case .reason: return "REASON"
            case .mode: return "MODE"
            case .listener: return "LISTENER"
            case .clientAddress: return "CLIENT_ADDRESS"
            case .clientPort: return "CLIENT_PORT"
            case .clientPID: return "CLIENT_PID"
            case .clientUID: return "CLIENT_UID"
            case .clientGID: return "CLIENT_GID"
            case .status: return "STATUS"
            case .bytesIn: return "BYTES_IN"
            case .bytesOut: return "BYTES_OUT"
            case .durationMicroseconds: return "DURATION_US"
            case .upgraded: return "UPGRADED"
            }
        }

        var lineName: StaticString {
            switch self {
            case .requestID: return "request_id"
            case .phase: return "phase"
            case .decision: return "decision"
            case .method: return "method"
            case .path: return "path"
            case .query: return "query"
            case .apiVersion: return "api_version"
            case .section: return "section"
            case .profile: return "profile"
            case .rule: return "rule"
            case .reason: return "reason"
            case .mode: return "mode"
            case .listener: return "listener"
            case .clientAddress: return "client_address"
            case .clientPort: return "client_port"
            case .clientPID: return "client_pid"
            case .clientUID: return "client_uid"
            case .clientGID: return "client_gid"
            case .status: return "status"
            case .bytesIn: return "bytes_in"
            case .bytesOut: return "bytes_out"
            case .durationMicroseconds: return "duration_us"
            case .upgraded: return "upgraded"
            }
        }

        var isNumber: Bool {
            switch self {
            case .requestID, .clientPort, .clientPID, .clientUID, .clientGID, .status, .bytesIn, .bytesOut,
                .durationMicroseconds:
                return true
            default:
                return false
            }
        }
    }

    /// A field's value, as each format needs to know it: numbers and fixed words are written as they are, text
    /// is escaped or quoted by the format.
    enum Value {
        case number(UInt64)
        case word(StaticString)
        case bytes(UnsafeRawBufferPointer)
        case text(String)
        case host(SocketAddress)
    }

    /// Calls `visit` for every field the record has, in order, with its value.
    static func forEachField(_ record: AuditRecord, _ visit: (Field, Value) -> Void) {
        visit(.requestID, .number(record.requestID))
        visit(.phase, .word(record.phase == .start ? "start" : "end"))
        visit(.decision, .text(record.decision.rawValue))
        visit(.method, .bytes(record.method))
        visit(.path, .bytes(record.path))
        if !record.query.isEmpty { visit(.query, .bytes(record.query)) }
        if !record.apiVersion.isEmpty { visit(.apiVersion, .bytes(record.apiVersion)) }
        if let section = record.section { visit(.section, .text(section.rawValue)) }
        if !record.profile.isEmpty { visit(.profile, .text(record.profile)) }
        if !record.rule.isEmpty { visit(.rule, .text(record.rule)) }
        if !record.reason.isEmpty { visit(.reason, .text(record.reason)) }
        if let mode = record.mode, mode != .enforce { visit(.mode, .word(mode == .audit ? "audit" : "learn")) }
        visit(.listener, .text(record.listener))
        switch record.client {
        case .network(let address):
            visit(.clientAddress, .host(address))
            if let port = address.port { visit(.clientPort, .number(UInt64(port))) }
        case .unixPeer(let pid, let uid, let gid):
            visit(.clientPID, .number(UInt64(max(pid, 0))))
            visit(.clientUID, .number(UInt64(uid)))
            visit(.clientGID, .number(UInt64(gid)))
        case .unknown:
            break
        }
        visit(.status, .number(UInt64(max(record.status, 0))))
        visit(.bytesIn, .number(record.bytesIn))
        visit(.bytesOut, .number(record.bytesOut))
        visit(.durationMicroseconds, .number(record.durationNanoseconds / 1000))
        if record.upgraded { visit(.upgraded, .word("1")) }
    }

    /// How text is escaped.
    enum Escaping {
        /// Control characters as `\n`, `\u00XX`: the text stays on one line (the journal's MESSAGE).
        case line
        /// Also `"` and `\`: the inside of a JSON string or a quoted logfmt value.
        case quoted
        /// `line`, then `quoted`: the one-line message inside quotes, so that decoding the quotes gives back the
        /// message with its `\n` escapes as text (a control character is never decoded into the value).
        case quotedLine
    }

    /// Appends a value as it is, with no escaping (the journal's fields take any bytes).
    static func appendRaw(_ value: Value, to out: inout AuditBuffer) {
        switch value {
        case .number(let number): out.appendDecimal(number)
        case .word(let word): out.append(word)
        case .bytes(let bytes): out.append(bytes)
        case .text(let text): appendString(text, to: &out)
        case .host(let address): appendHost(address, to: &out)
        }
    }

    /// Appends a value escaped: numbers, words and addresses need none.
    static func appendEscaped(_ value: Value, _ escaping: Escaping, to out: inout AuditBuffer) {
        switch value {
        case .bytes(let bytes): appendEscaped(bytes, escaping, to: &out)
        case .text(let text): withBytes(of: text) { appendEscaped($0, escaping, to: &out) }
        default: appendRaw(value, to: &out)
        }
    }

    // MARK: The message

    /// Appends the one readable line: `deny POST /v1.41/containers/create -> 403 (rule CONTAINERS-read-only,
    /// client 127.0.0.1:40312, 212 us): only GET and HEAD are allowed (POST=0)`, escaped as asked.
    static func appendMessage(_ record: AuditRecord, _ escaping: Escaping = .line, to out: inout AuditBuffer) {
        if record.phase == .start { out.append("start ") }
        appendString(record.decision.rawValue, to: &out)
        out.append(UInt8(ascii: " "))
        if record.method.isEmpty {
            out.append(UInt8(ascii: "-"))
        } else {
            appendEscaped(record.method, escaping, to: &out)
        }
        out.append(UInt8(ascii: " "))
        if record.path.isEmpty {
            out.append(UInt8(ascii: "-"))
        } else {
            appendEscaped(record.path, escaping, to: &out)
        }
        if !record.query.isEmpty {
            out.append(UInt8(ascii: "?"))
            appendEscaped(record.query, escaping, to: &out)
        }
        if record.phase == .end || record.status > 0 {
            out.append(" -> ")
            out.appendDecimal(UInt64(max(record.status, 0)))
        }
        out.append(" (")
        if !record.rule.isEmpty {
            out.append("rule ")
            appendEscaped(.text(record.rule), escaping, to: &out)
            out.append(", ")
        }
        out.append("client ")
        appendClient(record.client, to: &out)
        if record.phase == .end {
            out.append(", ")
            out.appendDecimal(record.durationNanoseconds / 1000)
            out.append(" us")
        }
        if record.upgraded { out.append(", upgraded") }
        out.append(UInt8(ascii: ")"))
        if !record.reason.isEmpty, record.decision != .allow {
            out.append(": ")
            appendEscaped(.text(record.reason), escaping, to: &out)
        }
    }

    // MARK: Lines

    /// Appends `level=info msg="..." request_id=1 ... duration_us=12` and a newline.
    static func appendLogfmtLine(_ record: AuditRecord, to out: inout AuditBuffer) {
        out.append("level=")
        appendString(record.priority.name, to: &out)
        out.append(" msg=\"")
        appendMessage(record, .quotedLine, to: &out)
        out.append(UInt8(ascii: "\""))
        forEachField(record) { field, value in
            out.append(UInt8(ascii: " "))
            out.append(field.lineName)
            out.append(UInt8(ascii: "="))
            switch value {
            case .bytes(let bytes): appendLogfmtValue(bytes, to: &out)
            case .text(let text): withBytes(of: text) { appendLogfmtValue($0, to: &out) }
            default: appendRaw(value, to: &out)
            }
        }
        out.append(UInt8(ascii: "\n"))
    }

    /// Appends one JSON object with the same lower-case names as logfmt, and a newline.
    static func appendJSONLine(_ record: AuditRecord, to out: inout AuditBuffer) {
        out.append("{\"level\":\"")
        appendString(record.priority.name, to: &out)
        out.append("\",\"msg\":\"")
        appendMessage(record, .quotedLine, to: &out)
        out.append(UInt8(ascii: "\""))
        forEachField(record) { field, value in
            out.append(",\"")
            out.append(field.lineName)
            out.append("\":")
            if case .number = value {
                appendRaw(value, to: &out)
            } else {
                out.append(UInt8(ascii: "\""))
                appendEscaped(value, .quoted, to: &out)
                out.append(UInt8(ascii: "\""))
            }
        }
        out.append("}\n")
    }

    /// Appends the journal entries (`MESSAGE=...`, `PRIORITY=...`, `SYSLOG_IDENTIFIER=...`, `SOCKET_PROXY_*=...`) to
    /// `out` and their bounds to `bounds`, ready for sd_journal_sendv.
    static func appendJournalEntries(
        _ record: AuditRecord, identifier: String, to out: inout AuditBuffer, bounds: inout [Range<Int>]
    ) {
        var start = out.count
        out.append("MESSAGE=")
        appendMessage(record, .line, to: &out)
        bounds.append(start..<out.count)
        start = out.count
        out.append("PRIORITY=")
        out.appendDecimal(UInt64(record.priority.rawValue))
        bounds.append(start..<out.count)
        start = out.count
        out.append("SYSLOG_IDENTIFIER=")
        appendString(identifier, to: &out)
        bounds.append(start..<out.count)
        forEachField(record) { field, value in
            let start = out.count
            out.append("SOCKET_PROXY_")
            out.append(field.journalName)
            out.append(UInt8(ascii: "="))
            appendRaw(value, to: &out)
            bounds.append(start..<out.count)
        }
    }

    // MARK: Owned conveniences (allocate; for tests and tools)

    /// The record's fields as (journal name without prefix, value) pairs.
    public static func fields(_ event: AuditEvent) -> [(name: String, value: String)] {
        event.withRecord { record in
            var result: [(String, String)] = []
            forEachField(record) { field, value in
                var bytes = AuditBuffer(capacity: 64)
                appendRaw(value, to: &bytes)
                result.append((field.journalName.description, String(decoding: bytes.bytes, as: UTF8.self)))
            }
            return result
        }
    }

    /// The one readable line of an event.
    public static func message(_ event: AuditEvent) -> String {
        event.withRecord { record in
            var bytes = AuditBuffer()
            appendMessage(record, to: &bytes)
            return String(decoding: bytes.bytes, as: UTF8.self)
        }
    }

    /// A logfmt line (without the newline).
    public static func logfmt(_ event: AuditEvent) -> [UInt8] {
        event.withRecord { record in
            var out = AuditBuffer()
            appendLogfmtLine(record, to: &out)
            out.removeLast()
            return out.array
        }
    }

    /// A JSON line (without the newline).
    public static func json(_ event: AuditEvent) -> [UInt8] {
        event.withRecord { record in
            var out = AuditBuffer()
            appendJSONLine(record, to: &out)
            out.removeLast()
            return out.array
        }
    }

    // MARK: Byte writers

    /// Appends a String's bytes without allocating (see ``withBytes(of:_:)``).
    static func appendString(_ text: String, to out: inout AuditBuffer) {
        withBytes(of: text) { out.append($0) }
    }

    /// Appends an address's host part (`127.0.0.1`, `::1`, a Unix path).
    static func appendHost(_ address: SocketAddress, to out: inout AuditBuffer) {
        switch address {
        case .ipv4(let raw, _):
            let bytes = withUnsafeBytes(of: raw) { ($0[0], $0[1], $0[2], $0[3]) }
            out.appendDecimal(UInt64(bytes.0))
            out.append(UInt8(ascii: "."))
            out.appendDecimal(UInt64(bytes.1))
            out.append(UInt8(ascii: "."))
            out.appendDecimal(UInt64(bytes.2))
            out.append(UInt8(ascii: "."))
            out.appendDecimal(UInt64(bytes.3))
        case .ipv6(let raw, _):
            var text: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
            withUnsafeMutableBytes(of: &text) { buffer in
                raw.withUnsafeBytes { source in
                    if inet_ntop(AF_INET6, source.baseAddress, buffer.baseAddress, socklen_t(buffer.count)) != nil {
                        out.append(UnsafeRawBufferPointer(rebasing: buffer.prefix { $0 != 0 }))
                    }
                }
            }
        case .unix(let path):
            appendString(path, to: &out)
        case .unknown:
            out.append("unknown")
        }
    }

    /// Appends `host:port`, `[v6]:port`, or `pid=... uid=... gid=...`.
    static func appendClient(_ client: ClientIdentity, to out: inout AuditBuffer) {
        switch client {
        case .network(let address):
            if case .ipv6 = address { out.append(UInt8(ascii: "[")) }
            appendHost(address, to: &out)
            if case .ipv6 = address { out.append(UInt8(ascii: "]")) }
            if let port = address.port {
                out.append(UInt8(ascii: ":"))
                out.appendDecimal(UInt64(port))
            }
        case .unixPeer(let pid, let uid, let gid):
            out.append("pid=")
            out.appendDecimal(UInt64(max(pid, 0)))
            out.append(" uid=")
            out.appendDecimal(UInt64(uid))
            out.append(" gid=")
            out.appendDecimal(UInt64(gid))
        case .unknown:
            out.append("unknown")
        }
    }

    private static let hex: StaticString = "0123456789abcdef"

    /// Calls `body` with a String's UTF-8 bytes without allocating: a native string lends its storage, a small
    /// one (up to 15 bytes, kept inside the String value) is spilled to the stack.
    @inline(__always)
    static func withBytes<R>(of text: String, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        var copy = text
        return copy.withUTF8 { body(UnsafeRawBufferPointer($0)) }
    }

    /// Appends bytes escaped as asked; runs of bytes that need nothing are copied in one go.
    static func appendEscaped(_ bytes: UnsafeRawBufferPointer, _ escaping: Escaping, to out: inout AuditBuffer) {
        var runStart = 0
        for index in 0..<bytes.count {
            let byte = bytes[index]
            let control = byte < 0x20 || byte == 0x7F
            let quote = byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
            guard control || (quote && escaping != .line) else { continue }
            if runStart < index { out.append(bytes[runStart..<index]) }
            runStart = index + 1
            if quote {
                out.append(UInt8(ascii: "\\"))
                out.append(byte)
                continue
            }
            // A control character: its escape, whose backslash is itself escaped inside quotes of a message.
            out.append(UInt8(ascii: "\\"))
            if escaping == .quotedLine { out.append(UInt8(ascii: "\\")) }
            switch byte {
            case UInt8(ascii: "\n"): out.append(UInt8(ascii: "n"))
            case UInt8(ascii: "\r"): out.append(UInt8(ascii: "r"))
            case UInt8(ascii: "\t"): out.append(UInt8(ascii: "t"))
            default:
                out.append("u00")
                out.append(hex.utf8Start[Int(byte >> 4)])
                out.append(hex.utf8Start[Int(byte & 0xF)])
            }
        }
        if runStart < bytes.count { out.append(bytes[runStart...]) }
    }

    /// Appends a logfmt value, quoted when it is empty or has spaces, quotes, `=` or non-printing bytes; inside
    /// quotes, control characters are escaped, so a value can never end a line.
    static func appendLogfmtValue(_ value: UnsafeRawBufferPointer, to out: inout AuditBuffer) {
        let needsQuotes =
            value.isEmpty
            || value.contains { $0 <= 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "=") || $0 == 0x7F }
        guard needsQuotes else {
            out.append(value)
            return
        }
        out.append(UInt8(ascii: "\""))
        appendEscaped(value, .quoted, to: &out)
        out.append(UInt8(ascii: "\""))
    }

    /// Appends a String as a logfmt value.
    static func appendLogfmtValue(_ value: String, to out: inout AuditBuffer) {
        withBytes(of: value) { appendLogfmtValue($0, to: &out) }
    }

    /// `text` with control characters written as `\n`, `\t`, `\u001b`, so it stays one line.
    static func escapedLine(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else { return text }
        var bytes = AuditBuffer()
        withBytes(of: text) { appendEscaped($0, .line, to: &bytes) }
        return String(decoding: bytes.bytes, as: UTF8.self)
    }
}

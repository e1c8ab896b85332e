// Turning audit records into bytes: the journal's fields, a readable message, logfmt and JSON lines. Everything
// appends to a caller's reusable buffer, so writing a record allocates nothing once the buffer has grown.
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

    /// Calls `visit` for every field the record has, in order, with a function that appends its value.
    static func forEachField(_ record: AuditRecord, _ visit: (Field, (inout [UInt8]) -> Void) -> Void) {
        visit(.requestID) { appendDecimal(record.requestID, to: &$0) }
        visit(.phase) { appendStatic(record.phase == .start ? "start" : "end", to: &$0) }
        visit(.decision) { appendStatic(record.decision.staticName, to: &$0) }
        visit(.method) { $0.append(contentsOf: record.method) }
        visit(.path) { $0.append(contentsOf: record.path) }
        if !record.query.isEmpty { visit(.query) { $0.append(contentsOf: record.query) } }
        if !record.apiVersion.isEmpty { visit(.apiVersion) { $0.append(contentsOf: record.apiVersion) } }
        if let section = record.section { visit(.section) { appendStatic(section.staticName, to: &$0) } }
        if !record.profile.isEmpty { visit(.profile) { appendString(record.profile, to: &$0) } }
        if !record.rule.isEmpty { visit(.rule) { appendString(record.rule, to: &$0) } }
        if !record.reason.isEmpty { visit(.reason) { appendString(record.reason, to: &$0) } }
        if let mode = record.mode, mode != .enforce {
            visit(.mode) { appendStatic(mode == .audit ? "audit" : "learn", to: &$0) }
        }
        visit(.listener) { appendString(record.listener, to: &$0) }
        switch record.client {
        case .network(let address):
            visit(.clientAddress) { appendHost(address, to: &$0) }
            if let port = address.port { visit(.clientPort) { appendDecimal(UInt64(port), to: &$0) } }
        case .unixPeer(let pid, let uid, let gid):
            visit(.clientPID) { appendDecimal(UInt64(max(pid, 0)), to: &$0) }
            visit(.clientUID) { appendDecimal(UInt64(uid), to: &$0) }
            visit(.clientGID) { appendDecimal(UInt64(gid), to: &$0) }
        case .unknown:
            break
        }
        visit(.status) { appendDecimal(UInt64(max(record.status, 0)), to: &$0) }
        visit(.bytesIn) { appendDecimal(record.bytesIn, to: &$0) }
        visit(.bytesOut) { appendDecimal(record.bytesOut, to: &$0) }
        visit(.durationMicroseconds) { appendDecimal(record.durationNanoseconds / 1000, to: &$0) }
        if record.upgraded { visit(.upgraded) { appendStatic("1", to: &$0) } }
    }

    // MARK: The message

    /// Appends the one readable line: `deny POST /v1.41/containers/create -> 403 (rule CONTAINERS-read-only,
    /// client 127.0.0.1:40312, 212 us): only GET and HEAD are allowed (POST=0)`, control characters escaped.
    static func appendMessage(_ record: AuditRecord, to out: inout [UInt8]) {
        if record.phase == .start { appendStatic("start ", to: &out) }
        appendStatic(record.decision.staticName, to: &out)
        out.append(UInt8(ascii: " "))
        if record.method.isEmpty { out.append(UInt8(ascii: "-")) } else { appendEscaped(record.method, to: &out) }
        out.append(UInt8(ascii: " "))
        if record.path.isEmpty { out.append(UInt8(ascii: "-")) } else { appendEscaped(record.path, to: &out) }
        if !record.query.isEmpty {
            out.append(UInt8(ascii: "?"))
            appendEscaped(record.query, to: &out)
        }
        if record.phase == .end || record.status > 0 {
            appendStatic(" -> ", to: &out)
            appendDecimal(UInt64(max(record.status, 0)), to: &out)
        }
        appendStatic(" (", to: &out)
        if !record.rule.isEmpty {
            appendStatic("rule ", to: &out)
            appendEscapedString(record.rule, to: &out)
            appendStatic(", ", to: &out)
        }
        appendStatic("client ", to: &out)
        appendClient(record.client, to: &out)
        if record.phase == .end {
            appendStatic(", ", to: &out)
            appendDecimal(record.durationNanoseconds / 1000, to: &out)
            appendStatic(" us", to: &out)
        }
        if record.upgraded { appendStatic(", upgraded", to: &out) }
        out.append(UInt8(ascii: ")"))
        if !record.reason.isEmpty, record.decision != .allow {
            appendStatic(": ", to: &out)
            appendEscapedString(record.reason, to: &out)
        }
    }

    // MARK: Lines

    /// Appends `level=info msg="..." request_id=1 ... duration_us=12` and a newline.
    static func appendLogfmtLine(_ record: AuditRecord, scratch: inout [UInt8], to out: inout [UInt8]) {
        appendStatic("level=", to: &out)
        appendStatic(record.priority.staticName, to: &out)
        appendStatic(" msg=", to: &out)
        scratch.removeAll(keepingCapacity: true)
        appendMessage(record, to: &scratch)
        appendLogfmtValue(scratch, to: &out)
        forEachField(record) { field, value in
            out.append(UInt8(ascii: " "))
            appendStatic(field.lineName, to: &out)
            out.append(UInt8(ascii: "="))
            scratch.removeAll(keepingCapacity: true)
            value(&scratch)
            appendLogfmtValue(scratch, to: &out)
        }
        out.append(UInt8(ascii: "\n"))
    }

    /// Appends one JSON object with the same lower-case names as logfmt, and a newline.
    static func appendJSONLine(_ record: AuditRecord, scratch: inout [UInt8], to out: inout [UInt8]) {
        appendStatic("{\"level\":\"", to: &out)
        appendStatic(record.priority.staticName, to: &out)
        appendStatic("\",\"msg\":\"", to: &out)
        scratch.removeAll(keepingCapacity: true)
        appendMessage(record, to: &scratch)
        appendJSONEscaped(scratch, to: &out)
        out.append(UInt8(ascii: "\""))
        forEachField(record) { field, value in
            appendStatic(",\"", to: &out)
            appendStatic(field.lineName, to: &out)
            appendStatic("\":", to: &out)
            scratch.removeAll(keepingCapacity: true)
            value(&scratch)
            if field.isNumber {
                out.append(contentsOf: scratch)
            } else {
                out.append(UInt8(ascii: "\""))
                appendJSONEscaped(scratch, to: &out)
                out.append(UInt8(ascii: "\""))
            }
        }
        appendStatic("}\n", to: &out)
    }

    /// Appends the journal entries (`MESSAGE=...`, `PRIORITY=...`, `SYSLOG_IDENTIFIER=...`, `SOCKET_PROXY_*=...`) to
    /// `out` and their bounds to `bounds`, ready for sd_journal_sendv.
    static func appendJournalEntries(
        _ record: AuditRecord, identifier: String, to out: inout [UInt8], bounds: inout [Range<Int>]
    ) {
        var start = out.count
        appendStatic("MESSAGE=", to: &out)
        appendMessage(record, to: &out)
        bounds.append(start..<out.count)
        start = out.count
        appendStatic("PRIORITY=", to: &out)
        appendDecimal(UInt64(record.priority.rawValue), to: &out)
        bounds.append(start..<out.count)
        start = out.count
        appendStatic("SYSLOG_IDENTIFIER=", to: &out)
        appendString(identifier, to: &out)
        bounds.append(start..<out.count)
        forEachField(record) { field, value in
            let start = out.count
            appendStatic("SOCKET_PROXY_", to: &out)
            appendStatic(field.journalName, to: &out)
            out.append(UInt8(ascii: "="))
            value(&out)
            bounds.append(start..<out.count)
        }
    }

    // MARK: Owned conveniences (allocate; for tests and tools)

    /// The record's fields as (journal name without prefix, value) pairs.
    public static func fields(_ event: AuditEvent) -> [(name: String, value: String)] {
        event.withRecord { record in
            var result: [(String, String)] = []
            forEachField(record) { field, value in
                var bytes: [UInt8] = []
                value(&bytes)
                result.append((field.journalName.description, String(decoding: bytes, as: UTF8.self)))
            }
            return result
        }
    }

    /// The one readable line of an event.
    public static func message(_ event: AuditEvent) -> String {
        event.withRecord { record in
            var bytes: [UInt8] = []
            appendMessage(record, to: &bytes)
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    /// A logfmt line (without the newline).
    public static func logfmt(_ event: AuditEvent) -> [UInt8] {
        event.withRecord { record in
            var scratch: [UInt8] = []
            var out: [UInt8] = []
            appendLogfmtLine(record, scratch: &scratch, to: &out)
            out.removeLast()
            return out
        }
    }

    /// A JSON line (without the newline).
    public static func json(_ event: AuditEvent) -> [UInt8] {
        event.withRecord { record in
            var scratch: [UInt8] = []
            var out: [UInt8] = []
            appendJSONLine(record, scratch: &scratch, to: &out)
            out.removeLast()
            return out
        }
    }

    // MARK: Byte writers

    static func appendStatic(_ text: StaticString, to out: inout [UInt8]) {
        out.append(contentsOf: UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// Appends a native String's bytes without copying it first.
    static func appendString(_ text: String, to out: inout [UInt8]) {
        if text.utf8.withContiguousStorageIfAvailable({ out.append(contentsOf: $0) }) == nil {
            out.append(contentsOf: text.utf8)
        }
    }

    static func appendDecimal(_ value: UInt64, to out: inout [UInt8]) {
        guard value > 0 else {
            out.append(UInt8(ascii: "0"))
            return
        }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: room for 20 digits
        var count = 0
        var rest = value
        withUnsafeMutableBytes(of: &digits) { buffer in
            while rest > 0 {
                buffer[count] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
                count += 1
            }
            for index in stride(from: count - 1, through: 0, by: -1) { out.append(buffer[index]) }
        }
    }

    /// Appends an address's host part (`127.0.0.1`, `::1`, a Unix path).
    static func appendHost(_ address: SocketAddress, to out: inout [UInt8]) {
        switch address {
        case .ipv4(let raw, _):
            let bytes = withUnsafeBytes(of: raw) { ($0[0], $0[1], $0[2], $0[3]) }
            appendDecimal(UInt64(bytes.0), to: &out)
            out.append(UInt8(ascii: "."))
            appendDecimal(UInt64(bytes.1), to: &out)
            out.append(UInt8(ascii: "."))
            appendDecimal(UInt64(bytes.2), to: &out)
            out.append(UInt8(ascii: "."))
            appendDecimal(UInt64(bytes.3), to: &out)
        case .ipv6(let raw, _):
            var text: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
            withUnsafeMutableBytes(of: &text) { buffer in
                raw.withUnsafeBytes { source in
                    if inet_ntop(AF_INET6, source.baseAddress, buffer.baseAddress, socklen_t(buffer.count)) != nil {
                        out.append(contentsOf: buffer.prefix { $0 != 0 })
                    }
                }
            }
        case .unix(let path):
            appendString(path, to: &out)
        case .unknown:
            appendStatic("unknown", to: &out)
        }
    }

    /// Appends `host:port`, `[v6]:port`, or `pid=... uid=... gid=...`.
    static func appendClient(_ client: ClientIdentity, to out: inout [UInt8]) {
        switch client {
        case .network(let address):
            if case .ipv6 = address { out.append(UInt8(ascii: "[")) }
            appendHost(address, to: &out)
            if case .ipv6 = address { out.append(UInt8(ascii: "]")) }
            if let port = address.port {
                out.append(UInt8(ascii: ":"))
                appendDecimal(UInt64(port), to: &out)
            }
        case .unixPeer(let pid, let uid, let gid):
            appendStatic("pid=", to: &out)
            appendDecimal(UInt64(max(pid, 0)), to: &out)
            appendStatic(" uid=", to: &out)
            appendDecimal(UInt64(uid), to: &out)
            appendStatic(" gid=", to: &out)
            appendDecimal(UInt64(gid), to: &out)
        case .unknown:
            appendStatic("unknown", to: &out)
        }
    }

    private static let hex: StaticString = "0123456789abcdef"

    /// Appends bytes with control characters written as `\n`, `\r`, `\t`, `\u00XX`: the text stays on one line.
    static func appendEscaped(_ bytes: some Collection<UInt8>, to out: inout [UInt8]) {
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "\n"): appendStatic("\\n", to: &out)
            case UInt8(ascii: "\r"): appendStatic("\\r", to: &out)
            case UInt8(ascii: "\t"): appendStatic("\\t", to: &out)
            case 0..<0x20, 0x7F:
                appendStatic("\\u00", to: &out)
                out.append(hex.utf8Start[Int(byte >> 4)])
                out.append(hex.utf8Start[Int(byte & 0xF)])
            default:
                out.append(byte)
            }
        }
    }

    static func appendEscapedString(_ text: String, to out: inout [UInt8]) {
        if text.utf8.withContiguousStorageIfAvailable({ appendEscaped($0, to: &out) }) == nil {
            appendEscaped(Array(text.utf8), to: &out)
        }
    }

    /// Appends bytes as the inside of a JSON string.
    static func appendJSONEscaped(_ bytes: some Collection<UInt8>, to out: inout [UInt8]) {
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "\""): appendStatic("\\\"", to: &out)
            case UInt8(ascii: "\\"): appendStatic("\\\\", to: &out)
            default: appendEscaped(CollectionOfOne(byte), to: &out)
            }
        }
    }

    /// Appends a logfmt value, quoted when it is empty or has spaces, quotes, `=` or non-printing bytes; inside
    /// quotes, control characters are escaped, so a value can never end a line.
    static func appendLogfmtValue(_ value: [UInt8], to out: inout [UInt8]) {
        let needsQuotes =
            value.isEmpty
            || value.contains { $0 <= 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "=") || $0 == 0x7F }
        if !needsQuotes {
            out.append(contentsOf: value)
            return
        }
        out.append(UInt8(ascii: "\""))
        appendJSONEscaped(value, to: &out)
        out.append(UInt8(ascii: "\""))
    }

    /// Appends a String as a logfmt value.
    static func appendLogfmtValue(_ value: String, to out: inout [UInt8]) {
        appendLogfmtValue(Array(value.utf8), to: &out)
    }

    /// `text` with control characters written as `\n`, `\t`, `\u001b`, so it stays one line.
    static func escapedLine(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else { return text }
        var bytes: [UInt8] = []
        appendEscaped(Array(text.utf8), to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension AuditDecision {
    var staticName: StaticString {
        switch self {
        case .allow: return "allow"
        case .deny: return "deny"
        case .malformed: return "malformed"
        case .upstreamError: return "upstream-error"
        case .clientGone: return "client-gone"
        }
    }
}

extension AuditPriority {
    var staticName: StaticString {
        switch self {
        case .emerg: return "emerg"
        case .alert: return "alert"
        case .crit: return "crit"
        case .err: return "err"
        case .warning: return "warning"
        case .notice: return "notice"
        case .info: return "info"
        case .debug: return "debug"
        }
    }
}

extension Section {
    var staticName: StaticString {
        switch self {
        case .auth: return "auth"
        case .build: return "build"
        case .commit: return "commit"
        case .configs: return "configs"
        case .containers: return "containers"
        case .distribution: return "distribution"
        case .events: return "events"
        case .exec: return "exec"
        case .grpc: return "grpc"
        case .images: return "images"
        case .info: return "info"
        case .networks: return "networks"
        case .nodes: return "nodes"
        case .ping: return "_ping"
        case .plugins: return "plugins"
        case .secrets: return "secrets"
        case .services: return "services"
        case .session: return "session"
        case .swarm: return "swarm"
        case .system: return "system"
        case .tasks: return "tasks"
        case .version: return "version"
        case .volumes: return "volumes"
        }
    }
}

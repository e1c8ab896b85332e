// Turning audit records into text: the journal's fields, a readable message, logfmt and JSON lines.

/// The one description of an audit record's fields, used by every sink so they never disagree.
public enum AuditFormat {
    /// The prefix of every structured journal field this proxy writes.
    public static let fieldPrefix = "SOCKET_PROXY_"

    /// The record's fields as (journal name without prefix, value) pairs, in a fixed order. Empty values are left
    /// out, except the ones that are always present.
    public static func fields(_ event: AuditEvent) -> [(name: String, value: String)] {
        var fields: [(String, String)] = [
            ("REQUEST_ID", String(event.requestID)),
            ("PHASE", event.phase.rawValue),
            ("DECISION", event.decision.rawValue),
            ("METHOD", event.method),
            ("PATH", event.path),
        ]
        func optional(_ name: String, _ value: String) {
            if !value.isEmpty { fields.append((name, value)) }
        }
        optional("QUERY", event.query)
        optional("API_VERSION", event.apiVersion)
        optional("SECTION", event.section)
        optional("PROFILE", event.profile)
        optional("RULE", event.rule)
        optional("REASON", event.reason)
        optional("MODE", event.mode)
        fields.append(("LISTENER", event.listener))
        switch event.client {
        case .network(let address):
            fields.append(("CLIENT_ADDRESS", address.host))
            if let port = address.port { fields.append(("CLIENT_PORT", String(port))) }
        case .unixPeer(let pid, let uid, let gid):
            fields.append(("CLIENT_PID", String(pid)))
            fields.append(("CLIENT_UID", String(uid)))
            fields.append(("CLIENT_GID", String(gid)))
        case .unknown:
            break
        }
        fields.append(("STATUS", String(event.status)))
        fields.append(("BYTES_IN", String(event.bytesIn)))
        fields.append(("BYTES_OUT", String(event.bytesOut)))
        fields.append(("DURATION_US", String(event.durationNanoseconds / 1000)))
        if event.upgraded { fields.append(("UPGRADED", "1")) }
        return fields
    }

    /// One readable line: `deny POST /v1.41/containers/create -> 403 (rule CONTAINERS-read-only, client
    /// 127.0.0.1:40312): only GET and HEAD are allowed (POST=0)`. Control characters are escaped.
    public static func message(_ event: AuditEvent) -> String {
        var text = event.phase == .start ? "start " : ""
        text += event.decision.rawValue
        text += " \(event.method.isEmpty ? "-" : event.method) \(event.path.isEmpty ? "-" : event.path)"
        if !event.query.isEmpty { text += "?\(event.query)" }
        if event.phase == .end || event.status > 0 { text += " -> \(event.status)" }
        var details: [String] = []
        if !event.rule.isEmpty { details.append("rule \(event.rule)") }
        details.append("client \(event.client)")
        if event.phase == .end { details.append("\(event.durationNanoseconds / 1000) us") }
        if event.upgraded { details.append("upgraded") }
        text += " (\(details.joined(separator: ", ")))"
        if !event.reason.isEmpty, event.decision != .allow { text += ": \(event.reason)" }
        return escapedLine(text)
    }

    /// `level=info msg="..." decision=allow method=GET ...`: lower-case field names, quoted where needed.
    public static func logfmt(_ event: AuditEvent) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(320)
        func field(_ key: String, _ value: String) {
            if !out.isEmpty { out.append(UInt8(ascii: " ")) }
            out.append(contentsOf: key.utf8)
            out.append(UInt8(ascii: "="))
            appendLogfmtValue(value, to: &out)
        }
        field("level", event.priority.name)
        field("msg", message(event))
        for (name, value) in fields(event) { field(name.lowercased(), value) }
        return out
    }

    /// One JSON object per line with the same lower-case field names as logfmt.
    public static func json(_ event: AuditEvent) -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "{")]
        out.reserveCapacity(400)
        var first = true
        func field(_ key: String, _ value: String, number: Bool = false) {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            out.append(UInt8(ascii: "\""))
            out.append(contentsOf: key.utf8)
            out.append(contentsOf: "\":".utf8)
            if number {
                out.append(contentsOf: value.utf8)
            } else {
                out.append(UInt8(ascii: "\""))
                LocalResponse.appendJSONEscaped(value, to: &out)
                out.append(UInt8(ascii: "\""))
            }
        }
        field("level", event.priority.name)
        field("msg", message(event))
        let numeric: Set<String> = ["REQUEST_ID", "STATUS", "BYTES_IN", "BYTES_OUT", "DURATION_US", "CLIENT_PORT",
            "CLIENT_PID", "CLIENT_UID", "CLIENT_GID"]
        for (name, value) in fields(event) { field(name.lowercased(), value, number: numeric.contains(name)) }
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// Appends a logfmt value, quoted when it is empty or has spaces, quotes, `=` or non-printing bytes; inside
    /// quotes, control characters are escaped, so a value can never end a line.
    static func appendLogfmtValue(_ value: String, to out: inout [UInt8]) {
        let needsQuotes =
            value.isEmpty
            || value.utf8.contains { $0 <= 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "=") || $0 == 0x7F }
        if !needsQuotes {
            out.append(contentsOf: value.utf8)
            return
        }
        out.append(UInt8(ascii: "\""))
        LocalResponse.appendJSONEscaped(value, to: &out)
        out.append(UInt8(ascii: "\""))
    }

    /// `text` with control characters written as `\n`, `\t`, `\u001b`, so it stays one line.
    static func escapedLine(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else { return text }
        var bytes: [UInt8] = []
        LocalResponse.appendJSONEscaped(text, to: &bytes)
        // appendJSONEscaped also escapes quotes and backslashes; undo those two, which are harmless in a message.
        var result: [UInt8] = []
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "\\"), index + 1 < bytes.count,
                bytes[index + 1] == UInt8(ascii: "\"") || bytes[index + 1] == UInt8(ascii: "\\")
            {
                result.append(bytes[index + 1])
                index += 2
            } else {
                result.append(bytes[index])
                index += 1
            }
        }
        return String(decoding: result, as: UTF8.self)
    }
}

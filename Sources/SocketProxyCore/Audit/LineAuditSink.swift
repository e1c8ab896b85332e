// Audit records as one logfmt line each, written to a file descriptor (stderr by default).
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Writes each record as one logfmt line. Values are quoted when needed and control characters are escaped, so a
/// client cannot forge a line.
public final class LineAuditSink: AuditSink {
    public let threshold: AuditPriority
    private let fd: Int32
    private let lock = Mutex(())

    /// Writes records at `threshold` or more severe to `fd`.
    public init(threshold: AuditPriority, fd: Int32 = 2) {
        self.threshold = threshold
        self.fd = fd
    }

    public func record(_ event: AuditEvent) {
        var line = AuditFormat.logfmt(event)
        line.append(UInt8(ascii: "\n"))
        lock.withLock { _ in
            line.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let written = write(fd, raw.baseAddress! + offset, raw.count - offset)
                    if written <= 0 { break }
                    offset += written
                }
            }
        }
    }
}

/// Turning records into text.
public enum AuditFormat {
    /// `level=info decision=allow method=GET path=/v1.41/containers/json ...`
    public static func logfmt(_ event: AuditEvent) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        func field(_ key: String, _ value: String) {
            if !out.isEmpty { out.append(UInt8(ascii: " ")) }
            out.append(contentsOf: key.utf8)
            out.append(UInt8(ascii: "="))
            appendLogfmtValue(value, to: &out)
        }
        field("level", event.priority.name)
        field("msg", event.phase == .start ? "stream started" : "request")
        field("id", String(event.requestID))
        field("decision", event.decision.rawValue)
        field("method", event.method)
        field("path", event.path)
        if !event.query.isEmpty { field("query", event.query) }
        if !event.apiVersion.isEmpty { field("api_version", event.apiVersion) }
        if !event.section.isEmpty { field("section", event.section) }
        if !event.rule.isEmpty { field("rule", event.rule) }
        field("status", String(event.status))
        field("listener", event.listener)
        field("client", event.client.description)
        field("bytes_in", String(event.bytesIn))
        field("bytes_out", String(event.bytesOut))
        field("duration_us", String(event.durationNanoseconds / 1000))
        if event.upgraded { field("upgraded", "true") }
        if !event.reason.isEmpty { field("reason", event.reason) }
        return out
    }

    /// Appends a logfmt value, quoted when it is empty or has spaces, quotes, `=` or non-printing bytes.
    static func appendLogfmtValue(_ value: String, to out: inout [UInt8]) {
        let needsQuotes =
            value.isEmpty
            || value.utf8.contains { $0 <= 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "=") || $0 >= 0x7F }
        if !needsQuotes {
            out.append(contentsOf: value.utf8)
            return
        }
        out.append(UInt8(ascii: "\""))
        LocalResponse.appendJSONEscaped(value, to: &out)
        out.append(UInt8(ascii: "\""))
    }
}

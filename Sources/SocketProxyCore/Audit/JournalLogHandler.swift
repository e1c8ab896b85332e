// A swift-log handler that writes to the systemd journal with structured metadata.
import CSocketProxyLinux
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// Writes log messages to the journal: `MESSAGE`, `PRIORITY`, `SYSLOG_IDENTIFIER`, `CODE_FILE`, `CODE_LINE`,
/// `CODE_FUNC`, `LOGGER_LABEL`, and each metadata key as a field `SOCKET_PROXY_<KEY>` (upper case, other characters
/// as `_`), so `journalctl SOCKET_PROXY_LISTENER=...` finds it.
public struct JournalLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public var logLevel: Logger.Level = .info
    private let label: String
    private let identifier: String

    /// A handler for loggers named `label`, writing with `SYSLOG_IDENTIFIER=identifier`.
    public init(label: String, identifier: String = "socket-proxy") {
        self.label = label
        self.identifier = identifier
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        var entries = [
            "MESSAGE=\(AuditFormat.escapedLine(event.message.description))",
            "PRIORITY=\(Self.priority(event.level).rawValue)",
            "SYSLOG_IDENTIFIER=\(identifier)",
            "CODE_FILE=\(event.file)",
            "CODE_LINE=\(event.line)",
            "CODE_FUNC=\(event.function)",
            "LOGGER_LABEL=\(label)",
        ]
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
            entries.append("\(AuditFormat.fieldPrefix)\(Self.fieldName(key))=\(value)")
        }
        guard Self.sendWithoutWaiting(entries) else {
            // The journal is gone, frozen or full: say it on stderr rather than not at all.
            var line = "\(Self.priority(event.level).name) \(label): \(event.message)"
            for (key, value) in merged.sorted(by: { $0.key < $1.key }) { line += " \(key)=\(value)" }
            line += "\n"
            line.withUTF8 { bytes in _ = Glibc.write(2, bytes.baseAddress, bytes.count) }
            return
        }
    }

    /// The handlers' own datagram socket to the journal, non-blocking. sd_journal_sendv uses a blocking one: with
    /// journald stopped (SIGSTOP, or wedged) and its queue full it waits for as long as that lasts, and the main
    /// thread that logs "stopping" on SIGTERM would never get to stop the proxy.
    private static let socketFD: Int32 = socket(
        AF_UNIX, CSocketProxyLinux_SOCK_DGRAM | CSocketProxyLinux_SOCK_CLOEXEC | CSocketProxyLinux_SOCK_NONBLOCK, 0)

    /// Sends `FIELD=value` entries as one journal record in the journal's native protocol (what sd_journal_sendv
    /// sends for a record this small); false when the journal did not take it at once.
    static func sendWithoutWaiting(_ entries: [String]) -> Bool {
        guard socketFD >= 0 else { return false }
        var datagram: [UInt8] = []
        for entry in entries {
            let bytes = Array(entry.utf8)
            guard let equals = bytes.firstIndex(of: UInt8(ascii: "=")) else { continue }
            if !bytes.contains(UInt8(ascii: "\n")) {
                datagram += bytes
            } else {
                // A value with a newline: the name, a newline, the value's length (64 bits, little endian), the value.
                datagram += bytes[..<equals]
                datagram.append(UInt8(ascii: "\n"))
                withUnsafeBytes(of: UInt64(bytes.count - equals - 1).littleEndian) { datagram += $0 }
                datagram += bytes[(equals + 1)...]
            }
            datagram.append(UInt8(ascii: "\n"))
        }
        let sent: Int? = try? SocketAddress.unix(JournalAuditBackend.socketPath).withSockAddr {
            (address, length) throws(SystemError) in
            datagram.withUnsafeBytes { raw in
                sendto(socketFD, raw.baseAddress, raw.count, CSocketProxyLinux_MSG_NOSIGNAL, address, length)
            }
        }
        return sent == datagram.count
    }

    /// The syslog priority of a swift-log level.
    public static func priority(_ level: Logger.Level) -> AuditPriority {
        switch level {
        case .trace, .debug: return .debug
        case .info: return .info
        case .notice: return .notice
        case .warning: return .warning
        case .error: return .err
        case .critical: return .crit
        }
    }

    /// A journal field name for a metadata key: upper case letters, digits and `_` only, short enough that the
    /// whole name with its `SOCKET_PROXY_` prefix stays within the journal's 64 bytes (longer names are dropped
    /// by journald without a word).
    static func fieldName(_ key: String) -> String {
        let name = String(
            key.uppercased().unicodeScalars.map { scalar -> Character in
                let value = scalar.value
                let ok = (0x41...0x5A).contains(value) || (0x30...0x39).contains(value) || value == 0x5F
                return ok ? Character(scalar) : "_"
            })
        let room = 64 - AuditFormat.fieldPrefix.utf8.count
        guard name.utf8.count > room else { return name }
        // Keep the names of different long keys apart: a short hash of the whole key replaces the tail.
        var hash: UInt32 = 2_166_136_261
        for byte in key.utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        let suffix = "_" + String(hash, radix: 16, uppercase: true)
        return String(name.prefix(room - suffix.count)) + suffix
    }
}

// A swift-log handler that writes to the systemd journal with structured metadata.
import Logging

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
        _ = JournalAuditBackend.send(entries)
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

// Audit records as structured journal entries, through sd_journal_sendv (the variadic sd_journal_send cannot be
// called from Swift).
import CSocketProxyLinux
import CSystemd

#if canImport(Glibc)
import Glibc
#endif

/// Writes each record to the systemd journal with `MESSAGE`, `PRIORITY`, `SYSLOG_IDENTIFIER` and the
/// `SOCKET_PROXY_*` fields of ``AuditFormat``, building the entries in reused buffers.
public final class JournalAuditBackend: AuditBackend, @unchecked Sendable {
    // SAFETY (@unchecked Sendable): the buffers are used only by the writer thread that calls write.

    /// The journal's native socket; when it is missing there is no journal to write to.
    public static let socketPath = "/run/systemd/journal/socket"

    /// Whether a journal is listening here: its socket exists and accepts a datagram connection (a socket file
    /// left behind by a journald that has exited refuses it).
    public static var isAvailable: Bool {
        let fd = socket(AF_UNIX, CSocketProxyLinux_SOCK_DGRAM | CSocketProxyLinux_SOCK_CLOEXEC, 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let result: Int32? = try? SocketAddress.unix(socketPath).withSockAddr { (pointer, length) throws(SystemError) in
            connect(fd, pointer, length)
        }
        return result == 0
    }

    /// Whether the journal's socket file exists. sd_journal_sendv reports success when it does not ("fail silently
    /// if the journal is not available"), so a record sent then is lost without a word unless this is asked.
    static var socketExists: Bool { access(socketPath, F_OK) == 0 }

    private let identifier: String
    private var entries = AuditBuffer(capacity: 4096)
    private var bounds: [Range<Int>] = []
    private var vectors: [iovec] = []
    /// Records sd_journal_sendv accepted since the last flush; lost if the socket file is gone.
    private var sentSinceFlush = 0
    /// Where notices go when the journal cannot take them.
    private let fallback = StreamAuditBackend(fd: 2)

    /// Writes with `SYSLOG_IDENTIFIER=identifier`.
    public init(identifier: String = "socket-proxy") {
        self.identifier = identifier
        bounds.reserveCapacity(32)
        vectors.reserveCapacity(32)
    }

    public func write(_ record: AuditRecord) -> Bool {
        entries.removeAll()
        bounds.removeAll(keepingCapacity: true)
        AuditFormat.appendJournalEntries(record, identifier: identifier, to: &entries, bounds: &bounds)
        vectors.removeAll(keepingCapacity: true)
        // SAFETY: every iovec points into `entries`, which is not touched again until sd_journal_sendv returns.
        // sd_journal_sendv only reads through iov_base, so handing it a pointer derived from a read-only view is
        // sound.
        let raw = UnsafeMutableRawPointer(mutating: entries.bytes.baseAddress)
        for range in bounds {
            vectors.append(iovec(iov_base: raw.map { $0 + range.lowerBound }, iov_len: range.count))
        }
        guard sd_journal_sendv(vectors, Int32(vectors.count)) == 0 else { return false }
        sentSinceFlush += 1
        return true
    }

    /// Checks once per batch that the journal's socket still exists: when it does not, the batch's records are
    /// counted as dropped (if it vanished mid-batch, some that did arrive too: a count too high, never one lost).
    public func flush() -> Int {
        defer { sentSinceFlush = 0 }
        return sentSinceFlush > 0 && !Self.socketExists ? sentSinceFlush : 0
    }

    /// Sends the notice to the journal, or to stderr when the journal cannot take it: the notices report dropped
    /// records, and a count sent into a journal that is gone would be lost with them.
    public func notice(_ message: String, priority: AuditPriority) {
        let result = Self.send([
            "MESSAGE=\(AuditFormat.escapedLine(message))", "PRIORITY=\(priority.rawValue)",
            "SYSLOG_IDENTIFIER=\(identifier)",
        ])
        if result != 0 || !Self.socketExists { fallback.notice(message, priority: priority) }
    }

    /// Sends `FIELD=value` entries as one journal record; returns sd_journal_sendv's result (0, or -errno).
    static func send(_ entries: [String]) -> Int32 {
        var bytes: [UInt8] = []
        var bounds: [(start: Int, count: Int)] = []
        bounds.reserveCapacity(entries.count)
        for entry in entries {
            bounds.append((bytes.count, entry.utf8.count))
            bytes.append(contentsOf: entry.utf8)
        }
        return bytes.withUnsafeMutableBytes { raw in
            // SAFETY: every iovec points into `raw`, which stays valid until sd_journal_sendv returns.
            let vectors = bounds.map { iovec(iov_base: raw.baseAddress! + $0.start, iov_len: $0.count) }
            return sd_journal_sendv(vectors, Int32(vectors.count))
        }
    }
}

// What the proxy records about each request, and the interface of the places records go.

/// How a request ended, as far as the proxy is concerned.
public enum AuditDecision: String, Sendable, CaseIterable {
    /// The policy allowed it and the daemon answered.
    case allow
    /// The policy refused it; the daemon never saw it.
    case deny
    /// It was not valid HTTP, or its target was ambiguous; the daemon never saw it.
    case malformed
    /// The daemon could not be reached or broke off its answer.
    case upstreamError = "upstream-error"
    /// The client went away before its answer was complete.
    case clientGone = "client-gone"
}

/// syslog priorities, as the journal and Tecnativa's LOG_LEVEL name them.
public enum AuditPriority: Int, Sendable, Comparable, CaseIterable {
    case emerg = 0, alert, crit, err, warning, notice, info, debug

    /// Parses Tecnativa's LOG_LEVEL names (`debug` ... `emerg`; `warn` and `error` are accepted too).
    public init?(name: String) {
        switch name.lowercased() {
        case "emerg", "emergency": self = .emerg
        case "alert": self = .alert
        case "crit", "critical": self = .crit
        case "err", "error": self = .err
        case "warning", "warn": self = .warning
        case "notice": self = .notice
        case "info": self = .info
        case "debug": self = .debug
        default: return nil
        }
    }

    /// The LOG_LEVEL name.
    public var name: String {
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

    /// Lower numbers are more severe; `a < b` means a is more severe.
    public static func < (lhs: AuditPriority, rhs: AuditPriority) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// Who sent a request.
public enum ClientIdentity: Sendable, Equatable, CustomStringConvertible {
    /// A TCP client's address and port.
    case network(SocketAddress)
    /// A Unix socket peer's credentials at connect time.
    case unixPeer(pid: Int32, uid: UInt32, gid: UInt32)
    /// Nothing known.
    case unknown

    public var description: String {
        switch self {
        case .network(let address): return address.description
        case .unixPeer(let pid, let uid, let gid): return "pid=\(pid) uid=\(uid) gid=\(gid)"
        case .unknown: return "unknown"
        }
    }
}

/// One audit record: a request and how it ended (or, with `phase == .start`, that a stream began).
public struct AuditEvent: Sendable {
    /// Whether the record marks the start of a long-lived exchange or the end of a request.
    public enum Phase: String, Sendable { case start, end }

    public var phase: Phase = .end
    /// Unique per process, increasing.
    public var requestID: UInt64 = 0
    public var decision: AuditDecision = .allow
    public var method: String = ""
    /// The path as sent, without the query.
    public var path: String = ""
    /// The raw query, without "?".
    public var query: String = ""
    /// The API version from the `/vX.Y` prefix, or empty.
    public var apiVersion: String = ""
    /// The API section (`containers`, `_ping`, ...), or empty.
    public var section: String = ""
    /// The profile that decided, or empty when nothing was decided.
    public var profile: String = ""
    /// The rule that decided, or `default-deny`, or empty when nothing was decided.
    public var rule: String = ""
    /// `audit` or `learn` when the proxy let a request through that the policy would have denied; empty when the
    /// decision was enforced.
    public var mode: String = ""
    /// Why a request was refused or failed; empty for allowed requests.
    public var reason: String = ""
    /// The listener the client came in on.
    public var listener: String = ""
    public var client: ClientIdentity = .unknown
    /// The status sent to the client (ours or the daemon's); 0 when none was sent.
    public var status: Int = 0
    /// Bytes from the client relayed to the daemon (head and body).
    public var bytesIn: UInt64 = 0
    /// Bytes sent to the client (the daemon's answer or ours).
    public var bytesOut: UInt64 = 0
    /// From the complete request head to the end of the answer, in nanoseconds.
    public var durationNanoseconds: UInt64 = 0
    /// The exchange became a raw tunnel after `101`.
    public var upgraded = false

    public init() {}

    /// The priority this record is written with.
    public var priority: AuditPriority { Self.priority(phase: phase, decision: decision) }
}

/// One audit record as an event loop hands it to a sink: numbers, and views of bytes that stay valid only for
/// the duration of ``AuditSink/record(_:)``. Building it allocates nothing; a sink that keeps records copies what
/// it needs (``AuditWriter`` copies into a preallocated ring; ``event`` makes an owned ``AuditEvent``).
public struct AuditRecord {
    public var phase: AuditEvent.Phase = .end
    public var requestID: UInt64 = 0
    public var decision: AuditDecision = .allow
    /// The method as sent (printable ASCII: the parser admits nothing else).
    public var method = UnsafeRawBufferPointer(start: nil, count: 0)
    /// The path as sent, without the query.
    public var path = UnsafeRawBufferPointer(start: nil, count: 0)
    /// The raw query, without "?".
    public var query = UnsafeRawBufferPointer(start: nil, count: 0)
    /// The API version from the `/vX.Y` prefix, without the "v".
    public var apiVersion = UnsafeRawBufferPointer(start: nil, count: 0)
    public var section: Section?
    public var profile: String = ""
    public var rule: String = ""
    public var mode: ProxyMode?
    public var reason: String = ""
    public var listener: String = ""
    public var client: ClientIdentity = .unknown
    public var status: Int = 0
    public var bytesIn: UInt64 = 0
    public var bytesOut: UInt64 = 0
    public var durationNanoseconds: UInt64 = 0
    public var upgraded = false

    /// An empty record.
    public init() {}

    /// The priority this record is written with.
    public var priority: AuditPriority { AuditEvent.priority(phase: phase, decision: decision) }

    /// An owned copy with Strings; allocates.
    public var event: AuditEvent {
        var event = AuditEvent()
        event.phase = phase
        event.requestID = requestID
        event.decision = decision
        event.method = String(decoding: method, as: UTF8.self)
        event.path = String(decoding: path, as: UTF8.self)
        event.query = String(decoding: query, as: UTF8.self)
        event.apiVersion = String(decoding: apiVersion, as: UTF8.self)
        event.section = section?.rawValue ?? ""
        event.profile = profile
        event.rule = rule
        event.mode = mode.map(\.rawValue) ?? ""
        event.reason = reason
        event.listener = listener
        event.client = client
        event.status = status
        event.bytesIn = bytesIn
        event.bytesOut = bytesOut
        event.durationNanoseconds = durationNanoseconds
        event.upgraded = upgraded
        return event
    }
}

extension AuditEvent {
    static func priority(phase: Phase, decision: AuditDecision) -> AuditPriority {
        if phase == .start { return .debug }
        switch decision {
        case .allow: return .info
        case .deny, .malformed: return .warning
        case .upstreamError: return .err
        case .clientGone: return .notice
        }
    }

    /// Calls `body` with this event as an ``AuditRecord`` (views of this event's text).
    public func withRecord<R>(_ body: (AuditRecord) throws -> R) rethrows -> R {
        var method = self.method
        var path = self.path
        var query = self.query
        var version = self.apiVersion
        return try method.withUTF8 { methodBytes in
            try path.withUTF8 { pathBytes in
                try query.withUTF8 { queryBytes in
                    try version.withUTF8 { versionBytes in
                        var record = AuditRecord()
                        record.phase = phase
                        record.requestID = requestID
                        record.decision = decision
                        record.method = UnsafeRawBufferPointer(methodBytes)
                        record.path = UnsafeRawBufferPointer(pathBytes)
                        record.query = UnsafeRawBufferPointer(queryBytes)
                        record.apiVersion = UnsafeRawBufferPointer(versionBytes)
                        record.section = Section(rawValue: section)
                        record.profile = profile
                        record.rule = rule
                        record.mode = ProxyMode(rawValue: mode)
                        record.reason = reason
                        record.listener = listener
                        record.client = client
                        record.status = status
                        record.bytesIn = bytesIn
                        record.bytesOut = bytesOut
                        record.durationNanoseconds = durationNanoseconds
                        record.upgraded = upgraded
                        return try body(record)
                    }
                }
            }
        }
    }
}

/// Where audit records go. Called from event-loop threads; must not block, and must copy what it keeps: the
/// record's byte views are valid only during the call.
public protocol AuditSink: AnyObject, Sendable {
    /// Records of lower priority (higher number) than this are not built at all.
    var threshold: AuditPriority { get }
    /// Takes one record. The record is handed over (`consuming`), so a sink that keeps it can move it instead of
    /// copying it; a conforming type may declare the parameter without the modifier.
    func record(_ record: consuming AuditRecord)
}

extension AuditSink {
    /// Takes an owned event (converts it to a record first; for tools and tests, not the hot path).
    public func record(_ event: AuditEvent) {
        event.withRecord { record($0) }
    }
}

extension AuditBackend {
    /// Writes an owned event (converts it to a record first; for tools and tests).
    public func write(_ event: AuditEvent) -> Bool {
        event.withRecord { write($0) }
    }
}

/// Drops every record (for embedders that audit elsewhere, and for tests).
public final class DiscardingAuditSink: AuditSink {
    public let threshold: AuditPriority = .emerg
    public init() {}
    public func record(_ record: AuditRecord) {}
}

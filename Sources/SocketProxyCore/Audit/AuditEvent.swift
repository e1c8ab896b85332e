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
    public var priority: AuditPriority {
        if phase == .start { return .debug }
        switch decision {
        case .allow: return .info
        case .deny, .malformed: return .warning
        case .upstreamError: return .err
        case .clientGone: return .notice
        }
    }
}

/// Where audit records go. Called from event-loop threads; must not block.
public protocol AuditSink: AnyObject, Sendable {
    /// Records of lower priority (higher number) than this are not built at all.
    var threshold: AuditPriority { get }
    /// Takes one record.
    func record(_ event: AuditEvent)
}

/// Drops every record (for embedders that audit elsewhere, and for tests).
public final class DiscardingAuditSink: AuditSink {
    public let threshold: AuditPriority = .emerg
    public init() {}
    public func record(_ event: AuditEvent) {}
}

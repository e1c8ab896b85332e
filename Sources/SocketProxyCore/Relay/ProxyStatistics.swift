// Live counters shared by all event loops, for status lines and tests.
import Synchronization

/// Counters updated by the event loops and read from anywhere.
public final class ProxyStatistics: Sendable {
    let openConnections = Atomic<Int>(0)
    let acceptedConnections = Atomic<UInt64>(0)
    let refusedConnections = Atomic<UInt64>(0)
    let allowedRequests = Atomic<UInt64>(0)
    let deniedRequests = Atomic<UInt64>(0)
    let malformedRequests = Atomic<UInt64>(0)
    let upstreamErrors = Atomic<UInt64>(0)
    let activeStreams = Atomic<Int>(0)
    let nextRequestID = Atomic<UInt64>(1)

    /// Creates zeroed counters.
    public init() {}

    /// A consistent-enough copy of the counters.
    public var snapshot: Snapshot {
        Snapshot(
            openConnections: openConnections.load(ordering: .relaxed),
            acceptedConnections: acceptedConnections.load(ordering: .relaxed),
            refusedConnections: refusedConnections.load(ordering: .relaxed),
            allowedRequests: allowedRequests.load(ordering: .relaxed),
            deniedRequests: deniedRequests.load(ordering: .relaxed),
            malformedRequests: malformedRequests.load(ordering: .relaxed),
            upstreamErrors: upstreamErrors.load(ordering: .relaxed),
            activeStreams: activeStreams.load(ordering: .relaxed))
    }

    /// The counters at one moment.
    public struct Snapshot: Sendable, Equatable {
        public var openConnections: Int
        public var acceptedConnections: UInt64
        public var refusedConnections: UInt64
        public var allowedRequests: UInt64
        public var deniedRequests: UInt64
        public var malformedRequests: UInt64
        public var upstreamErrors: UInt64
        public var activeStreams: Int
    }
}

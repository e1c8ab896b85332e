// Tests for the audit writer's bounded queue: `record` never waits for a slow log, overflow is counted and
// reported in a rate-limited notice, and `close` writes what is queued.
import Foundation
import Testing

@testable import SocketProxyCore

/// A backend whose writes can be held at a gate, like a journal that stopped reading its socket.
private final class GatedBackend: AuditBackend, @unchecked Sendable {
    // @unchecked: every stored property is guarded by `condition`.
    private let condition = NSCondition()
    private var open = true
    private var waitingAtGate = 0
    private var ids: [UInt64] = []
    private var noticeList: [(message: String, priority: AuditPriority)] = []
    private let succeeds: Bool

    init(succeeds: Bool = true) {
        self.succeeds = succeeds
    }

    func write(_ record: AuditRecord) -> Bool {
        let event = record.event
        condition.lock()
        defer { condition.unlock() }
        waitingAtGate += 1
        condition.broadcast()
        while !open { condition.wait() }
        waitingAtGate -= 1
        if succeeds { ids.append(event.requestID) }
        condition.broadcast()
        return succeeds
    }

    func notice(_ message: String, priority: AuditPriority) {
        condition.lock()
        defer { condition.unlock() }
        noticeList.append((message, priority))
        condition.broadcast()
    }

    /// Holds every write from now on until `openGate`.
    func closeGate() {
        condition.lock()
        open = false
        condition.unlock()
    }

    func openGate() {
        condition.lock()
        open = true
        condition.broadcast()
        condition.unlock()
    }

    var writtenIDs: [UInt64] { condition.withLock { ids } }
    var notices: [(message: String, priority: AuditPriority)] { condition.withLock { noticeList } }

    /// Waits until `predicate` holds for (writes held at the gate, IDs written, notices); false after `seconds`.
    func wait(
        seconds: Double = 5,
        until predicate: (_ waiting: Int, _ written: [UInt64], _ notices: [(message: String, priority: AuditPriority)])
            -> Bool
    ) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        let deadline = Date().addingTimeInterval(seconds)
        while !predicate(waitingAtGate, ids, noticeList) {
            if !condition.wait(until: deadline) { return predicate(waitingAtGate, ids, noticeList) }
        }
        return true
    }
}

/// `AuditWriter`: the queue between the event loops and the log.
struct AuditWriterTests {
    static func event(_ id: UInt64) -> AuditEvent {
        var event = AuditEvent()
        event.requestID = id
        event.method = "GET"
        event.path = "/_ping"
        return event
    }

    /// Calls `record` for each ID on another thread; false when that did not finish within `seconds` (a `record`
    /// that blocks fails the test instead of hanging it).
    static func recordOffThread(_ writer: AuditWriter, _ ids: ClosedRange<UInt64>, seconds: Double = 5) -> Bool {
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            for id in ids { writer.record(event(id)) }
            done.signal()
        }
        return done.wait(timeout: .now() + seconds) == .success
    }

    static func droppedCount(in message: String) -> Int? {
        guard message.hasPrefix("socket-proxy: "),
            message.hasSuffix(" audit records were dropped because the log could not keep up")
        else { return nil }
        return Int(message.dropFirst("socket-proxy: ".count).prefix { $0.isNumber })
    }

    @Test func recordNeverBlocksAndCountsWhatAFullQueueDrops() throws {
        let backend = GatedBackend()
        backend.closeGate()
        let writer = try AuditWriter(backend: backend, threshold: .debug, capacity: 4, warningInterval: .seconds(3600))
        defer {
            backend.openGate()
            writer.close()
        }
        writer.record(Self.event(1))
        // The writer thread took record 1 and is stuck in the backend; record 1 keeps its slot until written.
        try #require(backend.wait { waiting, _, _ in waiting == 1 }, "the writer never called the backend")
        #expect(Self.recordOffThread(writer, 2...14), "record blocked while the backend was stuck")
        // 2...4 fill the ring of 4; 5...14 are dropped.
        #expect(writer.droppedCount == 10)
        #expect(writer.writtenCount == 0)
        #expect(backend.notices.isEmpty, "a notice before the backend came back: \(backend.notices)")
    }

    @Test func aNoticeWithTheDropCountIsWrittenOnceTheBackendCatchesUp() throws {
        let backend = GatedBackend()
        backend.closeGate()
        let writer = try AuditWriter(backend: backend, threshold: .debug, capacity: 4, warningInterval: .seconds(3600))
        writer.record(Self.event(1))
        try #require(backend.wait { waiting, _, _ in waiting == 1 }, "the writer never called the backend")
        try #require(Self.recordOffThread(writer, 2...14), "record blocked while the backend was stuck")
        backend.openGate()
        let caughtUp = backend.wait { _, written, notices in written.count == 4 && notices.count == 1 }
        #expect(caughtUp, "written \(backend.writtenIDs), notices \(backend.notices)")
        #expect(backend.writtenIDs == [1, 2, 3, 4])
        #expect(
            backend.notices.map(\.message) == [
                "socket-proxy: 10 audit records were dropped because the log could not keep up"
            ])
        #expect(backend.notices.map(\.priority) == [.warning])
        // The count goes up just after the backend returns: give the writer thread a moment.
        let deadline = ContinuousClock.now + .seconds(2)
        while writer.writtenCount < 4 && ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.005) }
        #expect(writer.writtenCount == 4)
        writer.close()
    }

    @Test func laterDropsWithinTheWarningIntervalAreReportedAtClose() throws {
        let backend = GatedBackend()
        backend.closeGate()
        let writer = try AuditWriter(backend: backend, threshold: .debug, capacity: 4, warningInterval: .seconds(3600))
        writer.record(Self.event(1))
        try #require(backend.wait { waiting, _, _ in waiting == 1 })
        try #require(Self.recordOffThread(writer, 2...14))
        backend.openGate()
        try #require(backend.wait { _, written, notices in written.count == 4 && notices.count == 1 })

        // A second overflow within the hour: counted, but no second notice until close.
        backend.closeGate()
        writer.record(Self.event(15))
        try #require(backend.wait { waiting, _, _ in waiting == 1 })
        #expect(Self.recordOffThread(writer, 16...22), "record blocked while the backend was stuck")
        #expect(writer.droppedCount == 14)
        backend.openGate()
        #expect(backend.wait { _, written, _ in written.count == 8 }, "written \(backend.writtenIDs)")
        #expect(backend.notices.count == 1, "the notice is not rate-limited: \(backend.notices.map(\.message))")
        writer.close()
        #expect(
            backend.notices.map { Self.droppedCount(in: $0.message) } == [10, 4], "\(backend.notices.map(\.message))")
        #expect(backend.writtenIDs == Array(1...4) + Array(15...18))
    }

    @Test func aBackendThatFailsCountsItsRecordsAsDroppedAndSaysSo() throws {
        let backend = GatedBackend(succeeds: false)
        let writer = try AuditWriter(backend: backend, threshold: .debug, capacity: 64, warningInterval: .seconds(3600))
        for id in UInt64(1)...3 { writer.record(Self.event(id)) }
        writer.close()
        #expect(writer.droppedCount == 3)
        #expect(writer.writtenCount == 0)
        let reported = backend.notices.compactMap { Self.droppedCount(in: $0.message) }.reduce(0, +)
        #expect(reported == 3, "\(backend.notices.map(\.message))")
    }

    @Test func closeWritesEverythingQueuedInOrder() throws {
        let backend = GatedBackend()
        let writer = try AuditWriter(backend: backend, threshold: .debug)
        for id in UInt64(1)...1000 { writer.record(Self.event(id)) }
        writer.close()
        #expect(writer.writtenCount == 1000)
        #expect(backend.writtenIDs == Array(1...1000))
        #expect(writer.droppedCount == 0)
        #expect(backend.notices.isEmpty)
    }

    @Test func thresholdCanChangeWhileRunning() throws {
        let writer = try AuditWriter(backend: GatedBackend(), threshold: .info)
        defer { writer.close() }
        #expect(writer.threshold == .info)
        writer.threshold = .warning
        #expect(writer.threshold == .warning)
        writer.threshold = .debug
        #expect(writer.threshold == .debug)
    }
}

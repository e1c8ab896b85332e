// Tests for the audit writer's bounded queue: `record` never waits for a slow log, overflow is counted and
// reported in a rate-limited notice, and `close` writes what is queued.
import Foundation
import Testing

@testable import SocketProxyCore

/// A backend that keeps every record it is given, text included, and can hold its writes at a gate.
private final class TextBackend: AuditBackend, @unchecked Sendable {
    // @unchecked: every stored property is guarded by `condition`.
    private let condition = NSCondition()
    private var open = true
    private var kept: [AuditEvent] = []

    func write(_ record: AuditRecord) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while !open { condition.wait() }
        // Read the text only now: bytes overwritten while the write waited would show.
        kept.append(record.event)
        return true
    }

    func notice(_ message: String, priority: AuditPriority) {}

    func setGate(open: Bool) {
        condition.lock()
        self.open = open
        condition.broadcast()
        condition.unlock()
    }

    var events: [AuditEvent] { condition.withLock { kept } }
}

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

    @Test func anEmptiedRingStartsAgainAtItsFirstSlot() throws {
        let backend = GatedBackend()
        let writer = try AuditWriter(
            backend: backend, threshold: .debug, capacity: 64, batchInterval: .milliseconds(2),
            warningInterval: .seconds(3600))
        defer { writer.close() }
        // Twenty bursts of five, each written before the next: without the restart the ring would walk through all
        // 64 slots (and, at the default size, make megabytes resident for a backlog that never existed).
        for burst in UInt64(0)..<20 {
            for id in UInt64(1)...5 { writer.record(Self.event(burst * 5 + id)) }
            let deadline = Date().addingTimeInterval(5)
            while writer.queuedCount > 0 && Date() < deadline { usleep(1_000) }
            #expect(writer.queuedCount == 0, "burst \(burst) was not written")
        }
        #expect(writer.touchedSlots <= 5)
        #expect(backend.writtenIDs == Array(1...100))
    }

    @Test func textOfEveryLengthComesBackWholeOrIsCountedDropped() throws {
        // Eight slots and the smallest text ring (4 KiB), paths of 0 to 1,100 bytes: in rounds of one to eight
        // records the writer is held at a gate, so the text ring fills up; every record must come back with its own
        // text, cut at 1,024 bytes, or be counted dropped. (How the ring wraps is AuditTextRingTests' business.)
        let backend = TextBackend()
        let writer = try AuditWriter(
            backend: backend, threshold: .debug, capacity: 8, batchInterval: .milliseconds(1),
            warningInterval: .seconds(3600))
        var expected: [UInt64: String] = [:]
        var id: UInt64 = 0
        for round in 0..<150 {
            backend.setGate(open: false)
            for _ in 0...(round % 8) {
                id += 1
                var event = Self.event(id)
                event.apiVersion = id % 2 == 0 ? "1.47" : ""
                event.query = id % 3 == 0 ? "all=1" : ""
                let letter = Character(UnicodeScalar(UInt8(ascii: "a") + UInt8(id % 26)))
                event.path = "/" + String(repeating: letter, count: Int(id * 37 % 1100))
                writer.record(event)
                // What a record keeps: method, version, query and path, cut at 1,024 bytes in that order.
                let kept = 1024 - event.method.utf8.count - event.apiVersion.utf8.count - event.query.utf8.count
                expected[id] = String(event.path.prefix(kept))
            }
            backend.setGate(open: true)
            let deadline = Date().addingTimeInterval(5)
            while writer.queuedCount > 0 && Date() < deadline { usleep(200) }
        }
        writer.close()
        let written = backend.events
        #expect(written.count + Int(writer.droppedCount) == Int(id))
        #expect(written.count > Int(id) / 2, "only \(written.count) of \(id) written")
        #expect(written.map(\.requestID) == written.map(\.requestID).sorted())
        for event in written {
            #expect(event.path == expected[event.requestID], "record \(event.requestID)")
            #expect(event.apiVersion == (event.requestID % 2 == 0 ? "1.47" : ""))
            #expect(event.query == (event.requestID % 3 == 0 ? "all=1" : ""))
        }
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

/// The text ring's bookkeeping, against a model: a claimed piece is inside the ring and overlaps no waiting
/// record's text, and a claim is refused only when there is no room.
struct AuditTextRingTests {
    @Test(arguments: [4096, 5000, 20000])
    func claimsNeverOverlapWaitingTextAndAreRefusedOnlyWhenFull(size: Int) {
        var ring = AuditTextRing()
        var waiting: [(start: Int, length: Int)] = []
        var generator = SeededRandom(seed: UInt64(size))
        var claimed = 0
        var wraps = 0
        for _ in 0..<200_000 {
            if waiting.count < 64 && generator.next() % 3 != 0 {
                let length = Int(generator.next() % 1025)
                let wasWrapped = ring.wrapped
                guard let start = ring.claim(length, size: size, empty: waiting.isEmpty) else {
                    // A refusal must be for want of room: after the newest text up to the end (or up to the oldest
                    // text, once wrapped), or else before the oldest text.
                    let oldest = waiting.first.map(\.start) ?? 0
                    let newest = waiting.last.map { $0.start + $0.length } ?? 0
                    let room = newest >= oldest ? newest + length <= size || length < oldest : newest + length < oldest
                    #expect(!room, "refused \(length) bytes with room: waiting \(oldest)..<\(newest) of \(size)")
                    continue
                }
                if !wasWrapped && ring.wrapped { wraps += 1 }
                #expect(start >= 0 && start + length <= size, "piece \(start)+\(length) outside \(size) bytes")
                if length > 0 {
                    for piece in waiting where piece.length > 0 {
                        let overlaps = start < piece.start + piece.length && piece.start < start + length
                        #expect(!overlaps, "piece \(start)+\(length) overlaps waiting \(piece.start)+\(piece.length)")
                    }
                }
                waiting.append((start, length))
                claimed += 1
            } else if !waiting.isEmpty {
                waiting.removeFirst(Int(generator.next() % UInt64(waiting.count)) + 1)
                ring.release(nextStart: waiting.first?.start)
            }
        }
        #expect(claimed > 50_000)
        #expect(wraps > 100, "the ring wrapped only \(wraps) times")
    }
}

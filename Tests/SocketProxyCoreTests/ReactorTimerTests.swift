// Tests for the reactor's timers: the indexed heap behind LoopTimer, timers firing on a real loop, and the timerfd
// that ends its waits.
import Synchronization
import Testing

@testable import SocketProxyCore

#if canImport(Glibc)
    import Glibc
#endif

/// Owns timers in the tests and remembers which fired, in order.
final class TimerLog: TimerHandler {
    var fired: [ObjectIdentifier] = []
    var onFire: ((LoopTimer) -> Void)?

    func timerFired(_ timer: LoopTimer) {
        fired.append(ObjectIdentifier(timer))
        onFire?(timer)
    }
}

/// `TimerQueue`: a min-heap keyed by deadline, with moves and cancels that keep it one.
struct ReactorTimerQueueTests {
    static let orders: [[UInt64]] = [
        [50, 10, 70, 30, 20, 80, 60, 40],
        [1, 2, 3, 4, 5, 6, 7, 8, 9],
        [9, 8, 7, 6, 5, 4, 3, 2, 1],
        [5, 5, 3, 3, 9, 1, 1, 7],
        [42],
    ]

    @Test(arguments: orders)
    func popsTimersInDeadlineOrder(deadlines: [UInt64]) {
        let owner = TimerLog()
        var queue = TimerQueue()
        let timers = deadlines.map { _ in LoopTimer(handler: owner) }
        for (timer, deadline) in zip(timers, deadlines) { queue.schedule(timer, at: deadline) }
        #expect(queue.count == deadlines.count)
        #expect(queue.nextDeadline == deadlines.min())
        var popped: [UInt64] = []
        while let timer = queue.popExpired(now: .max) {
            #expect(!timer.isScheduled)
            popped.append(timer.deadline)
        }
        #expect(popped == deadlines.sorted())
        #expect(queue.count == 0)
        #expect(queue.nextDeadline == nil)
    }

    @Test func popsOnlyTimersWhoseDeadlineHasPassed() {
        let owner = TimerLog()
        var queue = TimerQueue()
        let early = LoopTimer(handler: owner)
        let onTime = LoopTimer(handler: owner)
        let late = LoopTimer(handler: owner)
        queue.schedule(late, at: 300)
        queue.schedule(early, at: 100)
        queue.schedule(onTime, at: 200)
        #expect(queue.popExpired(now: 99) == nil)
        #expect(queue.popExpired(now: 200) === early)
        #expect(queue.popExpired(now: 200) === onTime)
        #expect(queue.popExpired(now: 200) == nil)
        #expect(late.isScheduled)
        #expect(queue.nextDeadline == 300)
    }

    @Test func reschedulingMovesATimerInsteadOfAddingIt() {
        let owner = TimerLog()
        var queue = TimerQueue()
        let a = LoopTimer(handler: owner)
        let b = LoopTimer(handler: owner)
        let c = LoopTimer(handler: owner)
        queue.schedule(a, at: 10)
        queue.schedule(b, at: 20)
        queue.schedule(c, at: 30)
        queue.schedule(a, at: 40)  // later
        queue.schedule(c, at: 5)  // earlier
        #expect(queue.count == 3)
        #expect(a.deadline == 40)
        var order: [LoopTimer] = []
        while let timer = queue.popExpired(now: .max) { order.append(timer) }
        #expect(order.map(ObjectIdentifier.init) == [c, b, a].map(ObjectIdentifier.init))
    }

    @Test func cancelRemovesExactlyThatTimer() {
        let owner = TimerLog()
        var queue = TimerQueue()
        let timers = (0..<6).map { _ in LoopTimer(handler: owner) }
        for (index, timer) in timers.enumerated() { queue.schedule(timer, at: UInt64(index * 10)) }
        queue.cancel(timers[0])  // the root
        queue.cancel(timers[3])  // an inner node
        queue.cancel(timers[5])  // the last slot
        queue.cancel(timers[5])  // twice is harmless
        #expect(!timers[0].isScheduled && !timers[3].isScheduled && !timers[5].isScheduled)
        #expect(queue.count == 3)
        var order: [UInt64] = []
        while let timer = queue.popExpired(now: .max) { order.append(timer.deadline) }
        #expect(order == [10, 20, 40])
    }

    /// Random schedules, moves and cancels against a plain dictionary as the model.
    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func staysAHeapThroughRandomOperations(seed: UInt64) {
        let owner = TimerLog()
        var queue = TimerQueue()
        let timers = (0..<64).map { _ in LoopTimer(handler: owner) }
        var model: [ObjectIdentifier: UInt64] = [:]
        var random = seed &* 6_364_136_223_846_793_005 &+ 1
        func next(_ bound: UInt64) -> UInt64 {
            random = random &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return (random >> 33) % bound
        }
        for _ in 0..<2000 {
            let timer = timers[Int(next(64))]
            if next(4) == 0 {
                queue.cancel(timer)
                model[ObjectIdentifier(timer)] = nil
            } else {
                let deadline = next(1000)
                queue.schedule(timer, at: deadline)
                model[ObjectIdentifier(timer)] = deadline
            }
            #expect(queue.count == model.count)
            #expect(queue.nextDeadline == model.values.min())
        }
        var last: UInt64 = 0
        var popped = 0
        while let timer = queue.popExpired(now: .max) {
            #expect(timer.deadline >= last)
            #expect(model[ObjectIdentifier(timer)] == timer.deadline)
            last = timer.deadline
            popped += 1
        }
        #expect(popped == model.count)
    }
}

/// Timers on a running `EventLoop`.
struct ReactorLoopTimerTests {
    @Test func timersFireInDeadlineOrderAndACancelledOneNever() throws {
        let loop = try EventLoop()
        let owner = TimerLog()
        let late = LoopTimer(handler: owner)
        let early = LoopTimer(handler: owner)
        let middle = LoopTimer(handler: owner)
        let cancelled = LoopTimer(handler: owner)
        loop.schedule(late, after: 30_000_000)
        loop.schedule(early, after: 10_000_000)
        loop.schedule(middle, after: 20_000_000)
        loop.schedule(cancelled, after: 15_000_000)
        loop.cancel(cancelled)
        #expect(loop.scheduledTimerCount == 3)
        let start = Linux.monotonicNanoseconds()
        while owner.fired.count < 3 && Linux.monotonicNanoseconds() - start < 2_000_000_000 {
            loop.runOnce(maximumWaitMilliseconds: 100)
        }
        #expect(owner.fired == [early, middle, late].map(ObjectIdentifier.init))
        #expect(loop.scheduledTimerCount == 0)
        #expect(Linux.monotonicNanoseconds() - start >= 30_000_000)
    }

    @Test func aTimerMovedLaterFiresAtItsNewDeadline() throws {
        let loop = try EventLoop()
        let owner = TimerLog()
        let timer = LoopTimer(handler: owner)
        loop.schedule(timer, after: 5_000_000)
        loop.schedule(timer, after: 60_000_000)
        let start = Linux.monotonicNanoseconds()
        var firedAt: UInt64 = 0
        owner.onFire = { _ in firedAt = Linux.monotonicNanoseconds() }
        while owner.fired.isEmpty && Linux.monotonicNanoseconds() - start < 2_000_000_000 {
            loop.runOnce(maximumWaitMilliseconds: 100)
        }
        #expect(owner.fired.count == 1)
        #expect(firedAt - start >= 60_000_000)
    }

    @Test func aTimerHandlerCanRescheduleItself() throws {
        let loop = try EventLoop()
        let owner = TimerLog()
        let timer = LoopTimer(handler: owner)
        owner.onFire = { timer in
            if owner.fired.count < 3 { loop.schedule(timer, after: 1_000_000) }
        }
        loop.schedule(timer, after: 1_000_000)
        let start = Linux.monotonicNanoseconds()
        while owner.fired.count < 3 && Linux.monotonicNanoseconds() - start < 2_000_000_000 {
            loop.runOnce(maximumWaitMilliseconds: 50)
        }
        #expect(owner.fired.count == 3)
        #expect(!timer.isScheduled)
    }
}

/// How a wait ends at the next deadline: the loop's timerfd, set when a deadline comes earlier than the one it is set
/// for, and left alone when deadlines move later.
struct ReactorWaitDeadlineTests {
    @Test func deadlinesThatMoveLaterSetTheKernelTimerOnceForManyWaits() throws {
        let loop = try EventLoop()
        let owner = TimerLog()
        let timer = LoopTimer(handler: owner)
        let (read, write) = try Linux.pipe()
        defer {
            Linux.close(read)
            Linux.close(write)
        }
        let log = EventLog()
        log.onEvent = { _ in
            var byte: UInt8 = 0
            _ = Glibc.read(read.rawValue, &byte, 1)
        }
        try loop.register(read, interest: .readable, handler: log)
        for round in 0..<200 {
            // What a keep-alive connection does: a header deadline when a request starts, an idle one after it.
            loop.schedule(timer, after: round.isMultiple(of: 2) ? 10_000_000_000 : 60_000_000_000)
            var byte: UInt8 = 1
            #expect(Glibc.write(write.rawValue, &byte, 1) == 1)
            loop.runOnce(maximumWaitMilliseconds: 1000)
        }
        #expect(log.events.count == 200)
        #expect(owner.fired.isEmpty)
        // Once for the first wait; again only if the 200 rounds outlast the one-second bound it was set for.
        #expect(loop.timerSettings >= 1)
        #expect(loop.timerSettings <= 3, "the timerfd was set \(loop.timerSettings) times for 200 waits")
    }

    /// A loop that has waited once with `timer` due `nanoseconds` from now, and so set its timerfd for it.
    private func loopAfterOneWait(scheduling timer: LoopTimer, after nanoseconds: UInt64) throws -> EventLoop {
        let loop = try EventLoop()
        loop.schedule(timer, after: nanoseconds)
        // The task ends the wait at once, after the timerfd was set.
        loop.execute {}
        loop.runOnce(maximumWaitMilliseconds: -1)
        #expect(loop.timerSettings == 1)
        return loop
    }

    @Test func anEarlierDeadlineEndsTheWaitOnTime() throws {
        let owner = TimerLog()
        let distant = LoopTimer(handler: owner)
        let soon = LoopTimer(handler: owner)
        let loop = try loopAfterOneWait(scheduling: distant, after: 5_000_000_000)
        loop.schedule(soon, after: 30_000_000)
        let start = Linux.monotonicNanoseconds()
        // Without setting the timerfd again, this wait would last until the distant deadline.
        loop.runOnce(maximumWaitMilliseconds: -1)
        let waited = Linux.monotonicNanoseconds() - start
        #expect(owner.fired == [ObjectIdentifier(soon)])
        #expect(waited < 1_000_000_000, "waited \(waited / 1_000_000) ms for a timer due in 30")
        #expect(loop.timerSettings == 2)
        #expect(distant.isScheduled)
    }

    @Test func aDeadlineMovedLaterEndsOneWaitEarlyWithNothingDue() throws {
        let owner = TimerLog()
        let timer = LoopTimer(handler: owner)
        let loop = try loopAfterOneWait(scheduling: timer, after: 20_000_000)
        loop.schedule(timer, after: 100_000_000)
        let moved = loop.now
        var firedAt: UInt64 = 0
        owner.onFire = { _ in firedAt = Linux.monotonicNanoseconds() }
        var waits = 0
        while owner.fired.isEmpty && waits < 10 {
            loop.runOnce(maximumWaitMilliseconds: -1)
            waits += 1
        }
        #expect(owner.fired.count == 1)
        #expect(firedAt - moved >= 100_000_000)
        // The first wait ends at the old deadline with nothing due and sets the timerfd for the new one.
        #expect(waits == 2)
        #expect(loop.timerSettings == 2)
    }

    @Test func aWaitWithNothingToDoEndsAfterItsMaximum() throws {
        let loop = try EventLoop()
        let start = Linux.monotonicNanoseconds()
        loop.runOnce(maximumWaitMilliseconds: 50)
        let waited = Linux.monotonicNanoseconds() - start
        #expect(waited >= 50_000_000)
        #expect(waited < 1_000_000_000)
    }
}

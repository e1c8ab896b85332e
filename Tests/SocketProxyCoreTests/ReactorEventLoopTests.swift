// Tests for the epoll loop: cross-thread execute, registrations and their generations, and changing interest.
import Foundation
import Synchronization
import Testing

@testable import SocketProxyCore

#if canImport(Glibc)
    import Glibc
#endif

/// Remembers the events a registration received; `onEvent` runs inside the loop's dispatch.
final class EventLog: EventHandler {
    var events: [(events: EventSet, registration: Registration)] = []
    var onEvent: ((Registration) -> Void)?

    func handleEvent(_ events: EventSet, registration: Registration) {
        self.events.append((events, registration))
        onEvent?(registration)
    }
}

/// A nonblocking pipe owned by a test.
private func makePipe() throws -> (read: Int32, write: Int32) {
    let (read, write) = try Linux.pipe()
    return (read.rawValue, write.rawValue)
}

private func put(_ fd: Int32, _ text: String) {
    let bytes = Array(text.utf8)
    precondition(Glibc.write(fd, bytes, bytes.count) == bytes.count)
}

/// `EventLoop.execute(_:)`: work handed over from other threads.
struct ReactorExecuteTests {
    @Test func executeFromOtherThreadsRunsEveryTaskOnTheLoopThreadInSubmissionOrder() throws {
        let loop = try EventLoop()
        let loopThread = Mutex<pthread_t?>(nil)
        let ran = Mutex<[(producer: Int, sequence: Int, onLoop: Bool)]>([])
        let thread = try LoopThread(name: "test-loop") {
            loopThread.withLock { $0 = pthread_self() }
            loop.run(tickMilliseconds: 50)
        }
        #expect(eventually { loopThread.withLock { $0 != nil } })
        let owner = loopThread.withLock { $0! }
        let producers = 4
        let perProducer = 200
        let group = DispatchGroup()
        for producer in 0..<producers {
            group.enter()
            Thread.detachNewThread {
                for sequence in 0..<perProducer {
                    loop.execute {
                        let onLoop = pthread_equal(pthread_self(), owner) != 0
                        ran.withLock { $0.append((producer, sequence, onLoop)) }
                    }
                }
                group.leave()
            }
        }
        group.wait()
        let complete = eventually { ran.withLock { $0.count } == producers * perProducer }
        loop.stop()
        thread.join()
        #expect(complete)
        let tasks = ran.withLock { $0 }
        #expect(tasks.allSatisfy { $0.onLoop })
        for producer in 0..<producers {
            #expect(tasks.filter { $0.producer == producer }.map(\.sequence) == Array(0..<perProducer))
        }
    }

    @Test func executeWakesALoopThatIsWaitingWithNothingToDo() throws {
        let loop = try EventLoop()
        let started = Mutex(false)
        let ranAt = Mutex<UInt64>(0)
        let thread = try LoopThread(name: "test-loop") {
            started.withLock { $0 = true }
            loop.run(tickMilliseconds: 10_000)
        }
        #expect(eventually { started.withLock { $0 } })
        Thread.sleep(forTimeInterval: 0.02)  // let it settle into epoll_wait
        let submitted = Linux.monotonicNanoseconds()
        loop.execute { ranAt.withLock { $0 = Linux.monotonicNanoseconds() } }
        let ran = eventually(timeout: .seconds(2)) { ranAt.withLock { $0 } != 0 }
        loop.stop()
        thread.join()
        #expect(ran)
        // Far below the 10 s tick: the eventfd woke it.
        #expect(ranAt.withLock { $0 } - submitted < 1_000_000_000)
    }

    @Test func stopFromAnotherThreadEndsRun() throws {
        let loop = try EventLoop()
        let finished = Mutex(false)
        let thread = try LoopThread(name: "test-loop") {
            loop.run(tickMilliseconds: 10_000)
            finished.withLock { $0 = true }
        }
        Thread.sleep(forTimeInterval: 0.01)
        loop.stop()
        #expect(eventually(timeout: .seconds(2)) { finished.withLock { $0 } })
        thread.join()
    }
}

/// Registrations: generations keep a stale event from reaching the next owner of a descriptor number.
struct ReactorRegistrationTests {
    @Test func aDeregisteredDescriptorsPendingEventIsNotDeliveredToTheNextRegistrationOfItsNumber() throws {
        let loop = try EventLoop()
        let first = try makePipe()
        let second = try makePipe()
        let replacement = try makePipe()
        defer { for fd in [first.read, first.write, second.read, second.write, replacement.write] { close(fd) } }
        let firstLog = EventLog()
        let secondLog = EventLog()
        let replacementLog = EventLog()
        try loop.register(FileDescriptor(rawValue: first.read), interest: .readable, handler: firstLog)
        let old = try loop.register(FileDescriptor(rawValue: second.read), interest: .readable, handler: secondLog)
        // Both become readable, the first one first, so one epoll_wait returns them in that order.
        put(first.write, "a")
        put(second.write, "b")
        var new: Registration?
        firstLog.onEvent = { _ in
            // While the second descriptor's event waits in the same batch: drop it, and give its number to
            // another pipe (dup2 replaces the descriptor atomically), registered to another handler.
            loop.deregister(old)
            precondition(dup2(replacement.read, second.read) == second.read)
            close(replacement.read)
            new = try? loop.register(
                FileDescriptor(rawValue: second.read), interest: .readable, handler: replacementLog)
        }
        loop.runOnce(maximumWaitMilliseconds: 100)
        #expect(firstLog.events.count == 1)
        #expect(secondLog.events.isEmpty)
        #expect(replacementLog.events.isEmpty, "the old descriptor's event reached the new registration")
        let current = try #require(new)
        #expect(current.fd == old.fd)
        #expect(current.generation != old.generation)
        #expect(!loop.isCurrent(old))
        #expect(loop.isCurrent(current))

        // The new registration does get its own events.
        firstLog.onEvent = nil
        var drain = [UInt8](repeating: 0, count: 8)
        _ = read(first.read, &drain, 8)
        put(replacement.write, "c")
        loop.runOnce(maximumWaitMilliseconds: 100)
        #expect(replacementLog.events.count == 1)
        #expect(replacementLog.events.first?.registration == current)
        #expect(replacementLog.events.first?.events.contains(.readable) == true)
        #expect(secondLog.events.isEmpty)
        loop.deregister(current)
    }

    @Test func deregisteringAnotherDescriptorDropsItsEventFromTheSameBatch() throws {
        let loop = try EventLoop()
        let first = try makePipe()
        let second = try makePipe()
        defer { for fd in [first.read, first.write, second.read, second.write] { close(fd) } }
        let firstLog = EventLog()
        let secondLog = EventLog()
        try loop.register(FileDescriptor(rawValue: first.read), interest: .readable, handler: firstLog)
        let other = try loop.register(FileDescriptor(rawValue: second.read), interest: .readable, handler: secondLog)
        put(first.write, "a")
        put(second.write, "b")
        firstLog.onEvent = { _ in loop.deregister(other) }
        loop.runOnce(maximumWaitMilliseconds: 100)
        #expect(firstLog.events.count == 1)
        #expect(secondLog.events.isEmpty)
    }

    @Test func aDescriptorNumberReusedAfterCloseGetsANewGeneration() throws {
        let loop = try EventLoop()
        let log = EventLog()
        let pipe = try makePipe()
        defer { close(pipe.write) }
        let first = try loop.register(FileDescriptor(rawValue: pipe.read), interest: .readable, handler: log)
        loop.deregister(first)
        let second = try loop.register(FileDescriptor(rawValue: pipe.read), interest: .readable, handler: log)
        #expect(first.fd == second.fd)
        #expect(first.generation &+ 1 == second.generation)
        // Deregistering the stale one again changes nothing.
        loop.deregister(first)
        #expect(loop.isCurrent(second))
        loop.deregister(second)
        close(pipe.read)
    }
}

/// `EventLoop.modify(_:interest:)` on level- and edge-triggered registrations.
struct ReactorModifyTests {
    /// A connected pair of nonblocking Unix stream sockets.
    private func makeSocketPair() throws -> [Int32] {
        var pair: [Int32] = [-1, -1]
        try #require(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue | SOCK_NONBLOCK.rawValue), 0, &pair) == 0)
        return pair
    }

    @Test func modifyKeepsAnEdgeTriggeredRegistrationEdgeTriggered() throws {
        let loop = try EventLoop()
        let pair = try makeSocketPair()
        defer { close(pair[0]); close(pair[1]) }
        let log = EventLog()
        let registration = try loop.register(
            FileDescriptor(rawValue: pair[0]), interest: .readable, edgeTriggered: true, handler: log)

        _ = send(pair[1], "x", 1, 0)
        loop.runOnce(maximumWaitMilliseconds: 100)
        #expect(log.events.count == 1)
        loop.runOnce(maximumWaitMilliseconds: 0)
        #expect(log.events.count == 1, "an edge is reported once")

        // Gaining an interest that already holds reports it at once, and once only: still edge-triggered.
        try loop.modify(registration, interest: [.readable, .writable])
        loop.runOnce(maximumWaitMilliseconds: 0)
        #expect(log.events.count == 2)
        #expect(log.events.last?.events.contains(.writable) == true)
        loop.runOnce(maximumWaitMilliseconds: 0)
        #expect(log.events.count == 2, "a level-triggered registration would report writable again")
    }

    @Test func modifyChangesWhatARegistrationWaitsFor() throws {
        let loop = try EventLoop()
        let pair = try makeSocketPair()
        defer { close(pair[0]); close(pair[1]) }
        let log = EventLog()
        let registration = try loop.register(FileDescriptor(rawValue: pair[0]), interest: .readable, handler: log)

        loop.runOnce(maximumWaitMilliseconds: 0)
        #expect(log.events.isEmpty, "nothing to read yet")

        try loop.modify(registration, interest: .writable)
        loop.runOnce(maximumWaitMilliseconds: 0)
        #expect(log.events.count == 1)
        #expect(log.events.last?.events.contains(.writable) == true)
        #expect(log.events.last?.events.contains(.readable) == false)

        try loop.modify(registration, interest: .readable)
        log.events.removeAll()
        loop.runOnce(maximumWaitMilliseconds: 0)
        #expect(log.events.isEmpty, "writable no longer reported")

        _ = send(pair[1], "x", 1, 0)
        loop.runOnce(maximumWaitMilliseconds: 100)
        #expect(log.events.count == 1)
        #expect(log.events.last?.events == .readable)

        // Level-triggered: still readable, reported again.
        loop.runOnce(maximumWaitMilliseconds: 0)
        #expect(log.events.count == 2)
        loop.deregister(registration)
        // A stale registration is ignored, not an error.
        try loop.modify(registration, interest: .writable)
        loop.runOnce(maximumWaitMilliseconds: 0)
        #expect(log.events.count == 2)
    }
}

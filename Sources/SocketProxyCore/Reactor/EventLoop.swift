// A nonblocking epoll event loop: registrations, timers and a thread-safe wake-up.
import CSocketProxyLinux
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Something that reacts to readiness events of descriptors it registered.
public protocol EventHandler: AnyObject {
    /// Called on the loop's thread with what happened to the registration's descriptor.
    func handleEvent(_ events: EventSet, registration: Registration)
}

/// One registration of a descriptor with a loop. The generation tells a registration apart from a later one of
/// the same descriptor number, so an event queued for a closed descriptor never reaches its next owner.
public struct Registration: Hashable, Sendable {
    /// The registered descriptor.
    public let fd: FileDescriptor
    /// Which registration of that descriptor number this is.
    public let generation: UInt32

    var token: UInt64 { UInt64(generation) << 32 | UInt64(UInt32(bitPattern: fd.rawValue)) }
}

/// A single-threaded epoll loop. Everything but ``execute(_:)`` and ``stop()`` must be called on the thread that
/// runs ``run()``.
public final class EventLoop: @unchecked Sendable {
    // SAFETY (@unchecked Sendable): the mutable state below is touched only by the loop's own thread; the wake-up
    // path (`pending`, `wakePending`, `stopRequested`) is synchronised by Mutex and Atomic.

    private struct Slot {
        var generation: UInt32 = 0
        /// How the registration was made, kept by ``modify(_:interest:)``.
        var edgeTriggered = false
        var handler: EventHandler?
    }

    private let epoll: FileDescriptor
    private let wakeFD: FileDescriptor
    /// Ends a wait at the next deadline, so that `epoll_wait` itself never needs a timeout: a timeout arms and
    /// cancels a kernel timer on every wait that sleeps, which on this kind of VM costs about a microsecond each.
    private let timerFD: FileDescriptor
    /// The deadline `timerFD` is set for; nil when it is not set or has expired and been read. INVARIANT: when not
    /// nil, the timerfd expires at this deadline or has expired and not been read, so epoll will report it.
    @exclusivity(unchecked) private var armedDeadline: UInt64?
    /// How many times `timerFD` was set: once per earlier deadline, not once per wait.
    @exclusivity(unchecked) private(set) var timerSettings = 0
    @exclusivity(unchecked) private var slots: [Slot] = []
    @exclusivity(unchecked) private var timers = TimerQueue()
    /// INVARIANT: `events` holds `eventCapacity` elements for the loop's whole life.
    private let events: UnsafeMutablePointer<CSocketProxyLinux_epoll_event>
    private let eventCapacity: Int
    private let pending = Mutex<[@Sendable () -> Void]>([])
    private let wakePending = Atomic<Bool>(false)
    private let stopRequested = Atomic<Bool>(false)
    private let heartbeat = Atomic<UInt64>(0)
    private static let wakeToken = UInt64.max
    private static let timerToken = UInt64.max - 1

    /// Monotonic nanoseconds, read once per loop iteration.
    @exclusivity(unchecked) public private(set) var now: UInt64

    /// Creates a loop; `maxEvents` bounds how many events one `epoll_wait` returns (at most 1024).
    public init(maxEvents: Int = 256) throws(SystemError) {
        eventCapacity = min(max(maxEvents, 1), 1024)
        let epoll = try Epoll.create()
        var opened = [epoll]
        do {
            wakeFD = try Linux.eventfd()
            opened.append(wakeFD)
            timerFD = try Linux.timerfd()
            opened.append(timerFD)
            try Epoll.add(epoll, wakeFD, events: EventSet.readable.rawValue, token: Self.wakeToken)
            try Epoll.add(epoll, timerFD, events: EventSet.readable.rawValue, token: Self.timerToken)
        } catch {
            for fd in opened { Linux.close(fd) }
            throw error
        }
        self.epoll = epoll
        events = .allocate(capacity: eventCapacity)
        now = Linux.monotonicNanoseconds()
    }

    deinit {
        events.deallocate()
        Linux.close(timerFD)
        Linux.close(wakeFD)
        Linux.close(epoll)
    }

    // MARK: Registrations

    /// Registers `fd`. With `edgeTriggered`, an event is reported once per change and the handler must work until
    /// EAGAIN; with `exclusive`, only one of the loops sharing the descriptor is woken (listening sockets).
    @discardableResult
    public func register(
        _ fd: FileDescriptor, interest: EventSet, edgeTriggered: Bool = false, exclusive: Bool = false,
        handler: EventHandler
    ) throws(SystemError) -> Registration {
        let index = Int(fd.rawValue)
        if index >= slots.count {
            slots.append(contentsOf: repeatElement(Slot(), count: max(index + 1 - slots.count, slots.count)))
        }
        precondition(slots[index].handler == nil, "\(fd) is registered twice")
        let registration = Registration(fd: fd, generation: slots[index].generation)
        var flags = interest.rawValue
        if edgeTriggered { flags |= Epoll.edgeTriggered }
        if exclusive { flags |= Epoll.exclusive }
        try Epoll.add(epoll, fd, events: flags, token: registration.token)
        slots[index].handler = handler
        slots[index].edgeTriggered = edgeTriggered
        return registration
    }

    /// Changes what a non-exclusive registration waits for; it stays edge- or level-triggered as it was registered.
    /// An edge-triggered registration that gains an interest already satisfied gets an event for it at once, so
    /// readiness that arrived before the change is not missed.
    public func modify(_ registration: Registration, interest: EventSet) throws(SystemError) {
        guard isCurrent(registration) else { return }
        var flags = interest.rawValue
        if slots[Int(registration.fd.rawValue)].edgeTriggered { flags |= Epoll.edgeTriggered }
        try Epoll.modify(epoll, registration.fd, events: flags, token: registration.token)
    }

    /// Removes a registration. Call it before closing the descriptor; events already fetched for it are dropped.
    /// With `closing`, the caller closes the descriptor right after (and holds no duplicate of it), which removes
    /// it from epoll by itself: the epoll_ctl call is skipped.
    public func deregister(_ registration: Registration, closing: Bool = false) {
        guard isCurrent(registration) else { return }
        if !closing { Epoll.delete(epoll, registration.fd) }
        let index = Int(registration.fd.rawValue)
        slots[index].handler = nil
        slots[index].generation &+= 1
    }

    /// Hands a registration to another handler without a system call. Events for it that were already fetched in
    /// this iteration go to the new handler; readiness events are hints, so a spurious one costs a read that
    /// would block.
    public func reassign(_ registration: Registration, to handler: EventHandler) {
        precondition(isCurrent(registration), "reassigning a registration that is not current")
        slots[Int(registration.fd.rawValue)].handler = handler
    }

    /// Whether `registration` is still the live one for its descriptor.
    public func isCurrent(_ registration: Registration) -> Bool {
        let index = Int(registration.fd.rawValue)
        return index < slots.count && slots[index].handler != nil
            && slots[index].generation == registration.generation
    }

    // MARK: Timers

    /// Schedules (or moves) `timer` to fire at `deadline` (monotonic nanoseconds).
    public func schedule(_ timer: LoopTimer, at deadline: UInt64) {
        timers.schedule(timer, at: deadline)
    }

    /// Schedules `timer` to fire `nanoseconds` from now.
    public func schedule(_ timer: LoopTimer, after nanoseconds: UInt64) {
        timers.schedule(timer, at: now &+ nanoseconds)
    }

    /// Cancels `timer` if it is scheduled.
    public func cancel(_ timer: LoopTimer) {
        timers.cancel(timer)
    }

    /// How many timers are scheduled.
    public var scheduledTimerCount: Int { timers.count }

    // MARK: Cross-thread

    /// Runs `task` on the loop's thread soon. Safe from any thread.
    public func execute(_ task: @escaping @Sendable () -> Void) {
        pending.withLock { $0.append(task) }
        wake()
    }

    /// Makes ``run()`` return after the current iteration. Safe from any thread.
    public func stop() {
        stopRequested.store(true, ordering: .releasing)
        wake()
    }

    /// Counts loop iterations; a watchdog reads it from another thread to see that the loop is alive.
    public var iterations: UInt64 { heartbeat.load(ordering: .relaxed) }

    private func wake() {
        guard !wakePending.exchange(true, ordering: .acquiringAndReleasing) else { return }
        Linux.signalCounter(wakeFD)
    }

    private func drainWake() {
        Linux.resetCounter(wakeFD)
        wakePending.store(false, ordering: .releasing)
        let tasks = pending.withLock { list -> [@Sendable () -> Void] in
            let taken = list
            list.removeAll(keepingCapacity: true)
            return taken
        }
        for task in tasks { task() }
    }

    // MARK: Running

    /// Runs the loop on the calling thread until ``stop()``. A periodic tick (at most `tickMilliseconds` apart)
    /// keeps ``iterations`` moving while idle.
    public func run(tickMilliseconds: Int32 = 1000) {
        while !stopRequested.load(ordering: .acquiring) {
            runOnce(maximumWaitMilliseconds: tickMilliseconds)
        }
        stopRequested.store(false, ordering: .releasing)
    }

    /// Waits for events once (at most until the next timer, or `maximumWaitMilliseconds`; a negative maximum
    /// waits for as long as it takes), dispatches them and fires expired timers. The wait may end earlier, with
    /// nothing to do.
    public func runOnce(maximumWaitMilliseconds: Int32 = 1000) {
        let timeout = prepareWait(maximumWaitMilliseconds: maximumWaitMilliseconds)
        let count: Int
        do {
            count = try Epoll.wait(epoll, into: events, capacity: eventCapacity, timeoutMilliseconds: timeout)
        } catch {
            preconditionFailure("epoll_wait failed: \(error)")
        }
        now = Linux.monotonicNanoseconds()
        heartbeat.wrappingAdd(1, ordering: .relaxed)
        for i in 0..<count {
            let event = events[i]
            if event.data == Self.wakeToken {
                drainWake()
                continue
            }
            if event.data == Self.timerToken {
                Linux.resetCounter(timerFD)
                armedDeadline = nil
                continue
            }
            let index = Int(UInt32(truncatingIfNeeded: event.data))
            let generation = UInt32(truncatingIfNeeded: event.data >> 32)
            guard index < slots.count, slots[index].generation == generation,
                let handler = slots[index].handler
            else { continue }
            handler.handleEvent(
                EventSet(rawValue: event.events),
                registration: Registration(fd: FileDescriptor(rawValue: Int32(index)), generation: generation))
        }
        while let timer = timers.popExpired(now: now) {
            timer.handler.timerFired(timer)
        }
    }

    /// The `epoll_wait` timeout for a wait that must end by the next timer's deadline or after
    /// `maximumWaitMilliseconds`: 0 when that time has come, otherwise -1 with the timerfd set to end the wait.
    /// The timerfd is set only when the wait must end earlier than it is set for. When deadlines move later, as a
    /// connection's do on every request, it stays as it is and may expire early: that wait ends with nothing to do
    /// and the next one sets it again.
    private func prepareWait(maximumWaitMilliseconds: Int32) -> Int32 {
        if maximumWaitMilliseconds == 0 { return 0 }
        var deadline = timers.nextDeadline
        guard deadline != nil || maximumWaitMilliseconds > 0 else { return -1 }
        let current = Linux.monotonicNanoseconds()
        if maximumWaitMilliseconds > 0 {
            let bound = current &+ UInt64(maximumWaitMilliseconds) &* 1_000_000
            deadline = min(deadline ?? bound, bound)
        }
        guard let deadline, deadline > current else { return 0 }
        if let armed = armedDeadline, armed <= deadline { return -1 }
        do {
            try Linux.setTimer(timerFD, deadline: deadline)
        } catch {
            // Not expected (the arguments are valid); a timeout on the wait itself does the same job.
            armedDeadline = nil
            return Int32(min((deadline - current + 999_999) / 1_000_000, UInt64(Int32.max)))
        }
        armedDeadline = deadline
        timerSettings += 1
        return -1
    }
}

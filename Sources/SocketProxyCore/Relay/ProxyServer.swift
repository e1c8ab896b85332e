// The embeddable proxy: listeners, one event loop per thread, reload and graceful shutdown.
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A running socket proxy. Create it with a configuration and an audit sink, call ``start()``, and later
/// ``shutdown(gracePeriod:)`` and ``wait()``.
public final class ProxyServer: Sendable {
    private struct OpenListener: Sendable {
        let fd: FileDescriptor
        let name: String
        let address: SocketAddress
        let ownsFile: String?
        let configuration: ListenerConfiguration
    }

    private struct State: Sendable {
        var listeners: [OpenListener] = []
        var loops: [EventLoop] = []
        var contexts: [UncheckedBox<LoopContext>] = []
        var threads: [LoopThread] = []
        var started = false
    }

    private let configuration: ProxyConfiguration
    private let audit: AuditSink
    /// Live counters.
    public let statistics = ProxyStatistics()
    private let state = Mutex(State())
    private let heartbeatRound = Atomic<UInt64>(0)
    private let heartbeatAnswers = Atomic<Int>(0)

    /// Creates a server; nothing is opened until ``start()``.
    public init(configuration: ProxyConfiguration, audit: AuditSink) {
        self.configuration = configuration
        self.audit = audit
    }

    /// The addresses clients can connect to (bound or inherited), available after ``start()``.
    public var listeningAddresses: [SocketAddress] {
        state.withLock { $0.listeners.map(\.address) }
    }

    /// The event loops, for watchdogs that check they are alive.
    public var loops: [EventLoop] { state.withLock { $0.loops } }

    /// Opens the listeners and starts the event loops on their threads.
    public func start() throws(SystemError) {
        var opened: [OpenListener] = []
        do throws(SystemError) {
            for listener in configuration.listeners {
                switch listener.source {
                case .address(let address):
                    let fd = try Socket.listen(on: address, v6Only: listener.v6Only)
                    var ownsFile: String?
                    if case .unix(let path) = address {
                        ownsFile = path
                        if let mode = listener.unixMode, chmod(path, mode_t(mode)) != 0 {
                            throw SystemError("chmod", errno: errno)
                        }
                        if listener.unixOwner != nil || listener.unixGroup != nil {
                            let owner = listener.unixOwner.map { uid_t($0) } ?? uid_t.max
                            let group = listener.unixGroup.map { gid_t($0) } ?? gid_t.max
                            if chown(path, owner, group) != 0 { throw SystemError("chown", errno: errno) }
                        }
                    }
                    let bound = Socket.localAddress(fd)
                    opened.append(
                        OpenListener(
                            fd: fd, name: listener.displayName, address: bound, ownsFile: ownsFile,
                            configuration: listener))
                case .inherited(let fd, _):
                    opened.append(
                        OpenListener(
                            fd: fd, name: listener.displayName, address: Socket.localAddress(fd), ownsFile: nil,
                            configuration: listener))
                }
            }
        } catch {
            for listener in opened { Linux.close(listener.fd) }
            throw error
        }
        let count = configuration.threads > 0 ? configuration.threads : Self.coreCount
        let maxConnections = configuration.maxConnections > 0 ? configuration.maxConnections : Self.defaultMaxConnections
        var loopConfiguration = configuration
        loopConfiguration.maxConnections = maxConnections
        var loops: [EventLoop] = []
        var contexts: [LoopContext] = []
        for _ in 0..<count {
            let loop = try EventLoop()
            let context = LoopContext(loop: loop, configuration: loopConfiguration, audit: audit, statistics: statistics)
            for listener in opened {
                let isUnix: Bool
                if case .unix = listener.address { isUnix = true } else { isUnix = false }
                let handler = Listener(
                    context: context, fd: listener.fd, name: listener.name, isUnix: isUnix,
                    profile: listener.configuration.profile, clients: listener.configuration.clients)
                try handler.start()
                context.listeners.append(handler)
            }
            loops.append(loop)
            contexts.append(context)
        }
        var threads: [LoopThread] = []
        for (index, context) in contexts.enumerated() {
            let box = UncheckedBox(context)
            threads.append(
                try LoopThread(name: "proxy-loop-\(index)") {
                    let context = box.value
                    context.loop.run()
                    context.closeAll()
                })
        }
        state.withLock {
            $0.listeners = opened
            $0.loops = loops
            $0.contexts = contexts.map { UncheckedBox($0) }
            $0.threads = threads
            $0.started = true
        }
    }

    /// Replaces the policy; requests decided after this call use the new one, exchanges under way keep theirs.
    public func reload(policy: PolicySnapshot) {
        for box in state.withLock({ $0.contexts }) {
            box.value.loop.execute { box.value.policy = policy }
        }
    }

    /// Whether every event loop ran the task the previous call posted; then posts the next one. Called
    /// periodically by a watchdog: a loop stuck in a handler never runs its task, so the answer turns false.
    /// The first call answers true.
    public func heartbeat() -> Bool {
        let loops = self.loops
        let round = heartbeatRound.load(ordering: .acquiring)
        let answered = round == 0 || heartbeatAnswers.load(ordering: .acquiring) >= loops.count
        guard answered else { return false }
        let next = round + 1
        heartbeatAnswers.store(0, ordering: .releasing)
        heartbeatRound.store(next, ordering: .releasing)
        for loop in loops {
            loop.execute { [self] in
                if heartbeatRound.load(ordering: .acquiring) == next {
                    heartbeatAnswers.wrappingAdd(1, ordering: .acquiringAndReleasing)
                }
            }
        }
        return true
    }

    /// Stops accepting, closes idle connections, ends streams and tunnels, lets other requests finish, and
    /// stops the loops once every connection is gone or `gracePeriod` has passed. Returns at once; see ``wait()``.
    public func shutdown(gracePeriod: Duration = .seconds(10)) {
        let contexts = state.withLock { $0.contexts }
        let deadline = Linux.monotonicNanoseconds() &+ gracePeriod.nanoseconds
        // Once every loop has stopped watching the listening sockets, close them, so that new clients are refused
        // at once instead of waiting in the backlog until the proxy exits. (Closing earlier could close a number
        // a loop still has registered, or one that was just reused.)
        let pending = Countdown(contexts.count)
        for box in contexts {
            box.value.loop.execute { [self] in
                box.value.beginShutdown(deadline: deadline)
                if pending.arrive() { closeListeners() }
            }
        }
    }

    private func closeListeners() {
        let listeners = state.withLock { state -> [OpenListener] in
            let list = state.listeners
            state.listeners = []
            return list
        }
        for listener in listeners {
            Linux.close(listener.fd)
            if let path = listener.ownsFile { unlink(path) }
        }
    }

    /// Waits until every loop has stopped, then closes the listening sockets if shutdown has not.
    public func wait() {
        let threads = state.withLock { $0.threads }
        for thread in threads { thread.join() }
        closeListeners()
    }

    static var coreCount: Int {
        max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }

    /// Half the descriptor limit (a client and a daemon connection each), less a reserve for pipes and listeners.
    static var defaultMaxConnections: Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur != rlim_t.max else { return 4096 }
        return max(16, (Int(limit.rlim_cur) - 256) / 2)
    }
}

/// Counts arrivals down to zero; the last arrival learns it was the last.
final class Countdown: Sendable {
    private let remaining: Atomic<Int>
    init(_ count: Int) { remaining = Atomic(count) }
    /// True for exactly one caller: the one that brings the count to zero.
    func arrive() -> Bool { remaining.wrappingSubtract(1, ordering: .acquiringAndReleasing).newValue == 0 }
}

/// Carries a value known to be used by one thread at a time across a thread boundary.
struct UncheckedBox<T>: @unchecked Sendable {
    // SAFETY: the creator hands the value over and does not touch it afterwards.
    let value: T
    init(_ value: T) { self.value = value }
}

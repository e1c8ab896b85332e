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
        do {
            for listener in configuration.listeners {
                switch listener.source {
                case .address(let address):
                    let fd = try Socket.listen(on: address, v6Only: listener.v6Only)
                    var ownsFile: String?
                    if case .unix(let path) = address {
                        ownsFile = path
                        if let mode = listener.unixMode { chmod(path, mode_t(mode)) }
                    }
                    let bound = Socket.localAddress(fd)
                    opened.append(OpenListener(fd: fd, name: address.description, address: bound, ownsFile: ownsFile))
                case .inherited(let fd, let name):
                    opened.append(OpenListener(fd: fd, name: name, address: Socket.localAddress(fd), ownsFile: nil))
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
                let handler = Listener(context: context, fd: listener.fd, name: listener.name, isUnix: isUnix)
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

    /// Stops accepting, closes idle connections, ends streams and tunnels, lets other requests finish, and
    /// stops the loops once every connection is gone or `gracePeriod` has passed. Returns at once; see ``wait()``.
    public func shutdown(gracePeriod: Duration = .seconds(10)) {
        let (contexts, listeners) = state.withLock { ($0.contexts, $0.listeners) }
        let deadline = Linux.monotonicNanoseconds() &+ gracePeriod.nanoseconds
        for box in contexts {
            box.value.loop.execute { box.value.beginShutdown(deadline: deadline) }
        }
        for listener in listeners {
            if let path = listener.ownsFile { unlink(path) }
        }
    }

    /// Waits until every loop has stopped, then closes the listening sockets.
    public func wait() {
        let threads = state.withLock { $0.threads }
        for thread in threads { thread.join() }
        let listeners = state.withLock { state -> [OpenListener] in
            let list = state.listeners
            state.listeners = []
            return list
        }
        for listener in listeners { Linux.close(listener.fd) }
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

/// Carries a value known to be used by one thread at a time across a thread boundary.
struct UncheckedBox<T>: @unchecked Sendable {
    // SAFETY: the creator hands the value over and does not touch it afterwards.
    let value: T
    init(_ value: T) { self.value = value }
}

// What the connections of one event loop share: pools, settings, the policy in force, and the connection list.

/// Per-loop state. Touched only on its loop's thread.
final class LoopContext: TimerHandler {
    let loop: EventLoop
    let buffers: BufferPool
    let pipes: PipePool
    let states: ExchangeStatePool
    /// Idle daemon connections for new clients.
    @exclusivity(unchecked) private(set) var upstreams: UpstreamPool!
    let audit: AuditSink
    let statistics: ProxyStatistics
    let upstream: SocketAddress
    let limits: HTTPLimits
    let headerTimeout: UInt64
    let idleTimeout: UInt64
    let connectTimeout: UInt64
    let streamIdleTimeout: UInt64
    let maxConnections: Int
    /// The policy new requests are decided by; replaced on reload.
    @exclusivity(unchecked) var policy: PolicySnapshot
    /// INVARIANT: at least as large as the longest request line, so any target decodes into it.
    let scratch: UnsafeMutableRawBufferPointer
    /// Open connections, for shutdown; each knows its index.
    @exclusivity(unchecked) private(set) var connections: [Connection] = []
    /// Set once shutdown begins: finished exchanges close their connections.
    @exclusivity(unchecked) var draining = false
    /// This loop's listeners.
    @exclusivity(unchecked) var listeners: [Listener] = []
    @exclusivity(unchecked) private var shutdownTimer: LoopTimer!
    @exclusivity(unchecked) private var shutdownDeadline: UInt64 = 0

    init(loop: EventLoop, configuration: ProxyConfiguration, audit: AuditSink, statistics: ProxyStatistics) {
        self.loop = loop
        self.audit = audit
        self.statistics = statistics
        upstream = configuration.upstream
        limits = configuration.limits
        headerTimeout = configuration.headerTimeout.nanoseconds
        idleTimeout = configuration.idleTimeout.nanoseconds
        connectTimeout = configuration.connectTimeout.nanoseconds
        streamIdleTimeout = configuration.streamIdleTimeout.nanoseconds
        maxConnections = configuration.maxConnections
        policy = configuration.policy
        let blockSize = max(configuration.limits.maxHeadBytes, 16 * 1024)
        buffers = BufferPool(blockSize: blockSize)
        pipes = PipePool(size: configuration.pipeSize)
        states = ExchangeStatePool(limits: configuration.limits)
        scratch = .allocate(byteCount: max(configuration.limits.maxRequestLineBytes, configuration.limits.maxHeadBytes), alignment: 16)
        connections.reserveCapacity(1024)
        shutdownTimer = LoopTimer(handler: self)
        upstreams = UpstreamPool(loop: loop)
    }

    deinit {
        scratch.deallocate()
    }

    /// Stops accepting, ends idle connections and streams now, and stops the loop when the rest are done or at
    /// `deadline`.
    func beginShutdown(deadline: UInt64) {
        draining = true
        shutdownDeadline = deadline
        for listener in listeners { listener.stop() }
        for connection in connections { connection.beginDrain() }
        checkShutdown()
    }

    private func checkShutdown() {
        if connections.isEmpty || Linux.monotonicNanoseconds() >= shutdownDeadline {
            closeAll()
            loop.stop()
        } else {
            loop.schedule(shutdownTimer, after: 20_000_000)
        }
    }

    func timerFired(_ timer: LoopTimer) {
        checkShutdown()
    }

    /// Closes every connection at once, and the pooled daemon connections.
    func closeAll() {
        while let connection = connections.last {
            connection.close()
            if connections.last === connection { remove(connection) }
        }
        upstreams.closeAll()
    }

    func add(_ connection: Connection) {
        connection.registryIndex = connections.count
        connections.append(connection)
    }

    func remove(_ connection: Connection) {
        let index = connection.registryIndex
        guard index >= 0, index < connections.count, connections[index] === connection else { return }
        let last = connections.count - 1
        if index != last {
            connections[index] = connections[last]
            connections[index].registryIndex = index
        }
        connections.removeLast()
        connection.registryIndex = -1
    }
}

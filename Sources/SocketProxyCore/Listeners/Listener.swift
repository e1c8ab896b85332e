// Accepting clients on one listening socket, in one event loop.
#if canImport(Glibc)
import Glibc
#endif

/// Accepts connections from one listening socket into one loop. Several loops may share the socket; the kernel
/// wakes one of them per connection (EPOLLEXCLUSIVE).
final class Listener: EventHandler, TimerHandler {
    /// SAFETY: the loop's context owns its listeners and outlives them.
    unowned(unsafe) let context: LoopContext
    let fd: FileDescriptor
    let name: String
    let isUnix: Bool
    /// The profile every client gets, unless `clients` picks one.
    let profile: String?
    /// Client rules, first match wins; when there are any, a client matching none is refused.
    let clients: [ClientRule]
    private var registration: Registration?
    private var timer: LoopTimer!
    private var stopped = false

    init(
        context: LoopContext, fd: FileDescriptor, name: String, isUnix: Bool, profile: String? = nil,
        clients: [ClientRule] = []
    ) {
        self.context = context
        self.fd = fd
        self.name = name
        self.isUnix = isUnix
        self.profile = profile
        self.clients = clients
        timer = LoopTimer(handler: self)
    }

    func start() throws(SystemError) {
        registration = try context.loop.register(fd, interest: .readable, exclusive: true, handler: self)
    }

    /// Stops accepting (the socket itself is closed by the server).
    func stop() {
        stopped = true
        context.loop.cancel(timer)
        if let registration { context.loop.deregister(registration) }
        registration = nil
    }

    func handleEvent(_ events: EventSet, registration: Registration) {
        // A bounded batch, so one busy listener cannot starve the connections of this loop.
        for _ in 0..<64 {
            let accepted: IOResult<(FileDescriptor, SocketAddress)>
            do {
                accepted = try Linux.accept(fd)
            } catch {
                switch error.errno {
                case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                    pause()
                    return
                default:
                    // ECONNABORTED, EPERM (firewall), EPROTO: that client is gone; others may be waiting.
                    continue
                }
            }
            guard case .processed(let (clientFD, address)) = accepted else { return }
            admit(clientFD, address: address)
        }
    }

    private func admit(_ clientFD: FileDescriptor, address: SocketAddress) {
        let statistics = context.statistics
        let open = statistics.openConnections.wrappingAdd(1, ordering: .relaxed).newValue
        if open > context.maxConnections || context.draining {
            statistics.openConnections.wrappingSubtract(1, ordering: .relaxed)
            statistics.refusedConnections.wrappingAdd(1, ordering: .relaxed)
            Linux.close(clientFD)
            return
        }
        statistics.acceptedConnections.wrappingAdd(1, ordering: .relaxed)
        let identity: ClientIdentity
        // A reload may have given this listener another profile or other client rules.
        let access = context.policy.listenerAccess[name]
        let clients = access?.clients ?? self.clients
        var profileName = access.map(\.profile) ?? profile
        if isUnix {
            let peer = Linux.peerCredentials(clientFD)
            identity = peer.map { .unixPeer(pid: $0.pid, uid: $0.uid, gid: $0.gid) } ?? .unknown
            if !clients.isEmpty {
                profileName = ClientRule.select(clients, network: nil, uid: peer?.uid, gid: peer?.gid)
            }
        } else {
            Linux.setNoDelay(clientFD)
            identity = .network(address)
            if !clients.isEmpty { profileName = ClientRule.select(clients, network: address, uid: nil, gid: nil) }
        }
        if !clients.isEmpty && profileName == nil {
            refuse(clientFD, identity: identity)
            return
        }
        let connection = Connection(
            context: context, client: clientFD, identity: identity, listenerName: name, profileName: profileName)
        do {
            try connection.start()
        } catch {
            connection.close()
        }
    }

    /// A client no rule of this listener matches: closed at once, and recorded.
    private func refuse(_ clientFD: FileDescriptor, identity: ClientIdentity) {
        let statistics = context.statistics
        Linux.close(clientFD)
        statistics.openConnections.wrappingSubtract(1, ordering: .relaxed)
        statistics.refusedConnections.wrappingAdd(1, ordering: .relaxed)
        statistics.deniedRequests.wrappingAdd(1, ordering: .relaxed)
        guard context.audit.threshold >= .warning else { return }
        var record = AuditRecord()
        record.requestID = statistics.nextRequestID.wrappingAdd(1, ordering: .relaxed).oldValue
        record.decision = .deny
        record.rule = "no-client-rule"
        record.reason = "no client rule of listener \(name) matches this client; the connection was refused"
        record.listener = name
        record.client = identity
        context.audit.record(record)
    }

    /// Out of descriptors: stop asking for a moment instead of spinning on a listener that stays readable.
    private func pause() {
        guard let registration else { return }
        context.loop.deregister(registration)
        self.registration = nil
        context.loop.schedule(timer, after: 100_000_000)
    }

    func timerFired(_ timer: LoopTimer) {
        guard !stopped, registration == nil else { return }
        do {
            try start()
        } catch {
            context.loop.schedule(timer, after: 100_000_000)
        }
    }
}

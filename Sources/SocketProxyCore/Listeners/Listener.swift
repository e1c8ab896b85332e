// Accepting clients on one listening socket, in one event loop.
#if canImport(Glibc)
import Glibc
#endif

/// Accepts connections from one listening socket into one loop. Several loops may share the socket; the kernel
/// wakes one of them per connection (EPOLLEXCLUSIVE).
final class Listener: EventHandler, TimerHandler {
    unowned let context: LoopContext
    let fd: FileDescriptor
    let name: String
    let isUnix: Bool
    private var registration: Registration?
    private var timer: LoopTimer!
    private var stopped = false

    init(context: LoopContext, fd: FileDescriptor, name: String, isUnix: Bool) {
        self.context = context
        self.fd = fd
        self.name = name
        self.isUnix = isUnix
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
        if isUnix {
            if let peer = Linux.peerCredentials(clientFD) {
                identity = .unixPeer(pid: peer.pid, uid: peer.uid, gid: peer.gid)
            } else {
                identity = .unknown
            }
        } else {
            Linux.setNoDelay(clientFD)
            identity = .network(address)
        }
        let connection = Connection(context: context, client: clientFD, identity: identity, listenerName: name)
        do {
            try connection.start()
        } catch {
            connection.close()
        }
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

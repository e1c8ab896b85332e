// Idle connections to the daemon, kept per loop so a new client does not have to connect again.

/// Connections to the daemon that finished an exchange cleanly and were kept open when their client left. A new
/// client takes one instead of connecting (a socket, a connect and an epoll registration saved per client). While
/// pooled, a connection is watched: any readiness means the daemon closed it (or broke the protocol), and it is
/// dropped.
final class UpstreamPool: EventHandler {
    private struct Entry {
        var fd: FileDescriptor
        var registration: Registration
        var since: UInt64
    }

    private unowned let loop: EventLoop
    @exclusivity(unchecked) private var entries: [Entry] = []
    private let capacity: Int
    private let maximumAge: UInt64

    init(loop: EventLoop, capacity: Int = 64, maximumAge: Duration = .seconds(30)) {
        self.loop = loop
        self.capacity = capacity
        self.maximumAge = maximumAge.nanoseconds
        entries.reserveCapacity(capacity)
    }

    /// A pooled connection, now registered to `handler`; nil when none is left (or all were too old).
    func take(for handler: EventHandler) -> (FileDescriptor, Registration)? {
        while let entry = entries.popLast() {
            if loop.now &- entry.since > maximumAge {
                drop(entry)
                continue
            }
            loop.reassign(entry.registration, to: handler)
            return (entry.fd, entry.registration)
        }
        return nil
    }

    /// Keeps an idle daemon connection for the next client; closes it when the pool is full.
    func give(_ fd: FileDescriptor, registration: Registration) {
        guard entries.count < capacity else {
            loop.deregister(registration, closing: true)
            Linux.close(fd)
            return
        }
        loop.reassign(registration, to: self)
        entries.append(Entry(fd: fd, registration: registration, since: loop.now))
    }

    /// Closes everything pooled.
    func closeAll() {
        while let entry = entries.popLast() { drop(entry) }
    }

    func handleEvent(_ events: EventSet, registration: Registration) {
        // An idle daemon connection has nothing to say: readable means closed or broken. Writable alone is the
        // edge-triggered echo of the handover.
        guard !events.isDisjoint(with: [.readable, .readHangup, .hangup, .error]),
            let index = entries.firstIndex(where: { $0.registration == registration })
        else { return }
        drop(entries.remove(at: index))
    }

    private func drop(_ entry: Entry) {
        loop.deregister(entry.registration, closing: true)
        Linux.close(entry.fd)
    }
}

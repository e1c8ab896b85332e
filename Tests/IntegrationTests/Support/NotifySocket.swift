// A stand-in for the service manager's notification socket: a Unix datagram socket the test owns, named by
// NOTIFY_SOCKET, that collects what a proxy says with sd_notify (READY=1, STATUS=, WATCHDOG=1, ...).
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// One sd_notify datagram: newline-separated `NAME=value` assignments.
struct NotifyMessage: Sendable, CustomStringConvertible {
    /// The datagram as text.
    let text: String
    /// When it was received, on the monotonic clock.
    let received: ContinuousClock.Instant

    /// The assignments in order.
    var assignments: [(name: String, value: String)] {
        text.split(separator: "\n").map { line in
            guard let equals = line.firstIndex(of: "=") else { return (String(line), "") }
            return (String(line[..<equals]), String(line[line.index(after: equals)...]))
        }
    }

    /// The value of the last assignment of `name`.
    subscript(_ name: String) -> String? {
        assignments.last { $0.name == name }?.value
    }

    var description: String { text.debugDescription }
}

/// A bound `AF_UNIX` datagram socket that receives notifications.
final class NotifySocket: @unchecked Sendable {
    // @unchecked: `received` is guarded by `lock`; `fd` is set once.
    /// The socket's path, the value for NOTIFY_SOCKET.
    let path: String
    private let fd: Int32
    private let lock = NSLock()
    private var received: [NotifyMessage] = []

    /// Binds a fresh socket at `path` (at most 107 bytes).
    init(path: String) throws {
        let fd = socket(
            AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw HarnessError("socket(AF_UNIX, SOCK_DGRAM): \(String(cString: strerror(errno)))") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            close(fd)
            throw HarnessError("notify socket path too long (\(bytes.count) bytes): \(path)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        unlink(path)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0 else {
            let message = String(cString: strerror(errno))
            close(fd)
            throw HarnessError("bind \(path): \(message)")
        }
        self.fd = fd
        self.path = path
    }

    deinit {
        close(fd)
        unlink(path)
    }

    /// Every message received so far, oldest first.
    var messages: [NotifyMessage] {
        lock.withLock {
            var buffer = [UInt8](repeating: 0, count: 8192)
            while true {
                let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if count < 0 && errno == EINTR { continue }
                guard count >= 0 else { break }
                received.append(
                    NotifyMessage(
                        text: String(decoding: buffer[0..<count], as: UTF8.self), received: ContinuousClock().now))
            }
            return received
        }
    }

    /// Waits until `done` holds for the messages received so far; false when `timeout` passes first.
    func wait(timeout: Duration = .seconds(10), until done: ([NotifyMessage]) -> Bool) async -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while clock.now < deadline {
            if done(messages) { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return done(messages)
    }
}

// Typed wrappers over the descriptor, socket, pipe and splice calls the proxy makes.
import CSocketProxyLinux

#if canImport(Glibc)
import Glibc
#endif

/// A raw file descriptor. A plain value: whoever opened it closes it, exactly once.
public struct FileDescriptor: Hashable, Sendable, CustomStringConvertible {
    /// The descriptor number.
    public let rawValue: Int32

    /// Wraps an open descriptor.
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public var description: String { "fd \(rawValue)" }
}

/// Thin, typed wrappers over Linux calls. Callers see Swift names and ``IOResult``; errno handling lives in
/// ``syscall(_:_:)``.
public enum Linux {
    /// Reads up to `buffer.count` bytes. `.processed(0)` is end of stream.
    @inline(__always)
    public static func read(
        _ fd: FileDescriptor, into buffer: UnsafeMutableRawBufferPointer
    ) throws(SystemError) -> IOResult<Int> {
        try syscall("read") { Glibc.read(fd.rawValue, buffer.baseAddress, buffer.count) }
    }

    /// Writes up to `buffer.count` bytes to a socket without raising SIGPIPE; returns how many were taken.
    @inline(__always)
    public static func send(
        _ fd: FileDescriptor, _ buffer: UnsafeRawBufferPointer
    ) throws(SystemError) -> IOResult<Int> {
        try syscall("send") {
            Glibc.send(fd.rawValue, buffer.baseAddress, buffer.count, CSocketProxyLinux_MSG_NOSIGNAL)
        }
    }

    /// Writes up to `buffer.count` bytes to any descriptor.
    @inline(__always)
    public static func write(
        _ fd: FileDescriptor, _ buffer: UnsafeRawBufferPointer
    ) throws(SystemError) -> IOResult<Int> {
        try syscall("write") { Glibc.write(fd.rawValue, buffer.baseAddress, buffer.count) }
    }

    /// Moves up to `length` bytes between a pipe and another descriptor without copying them to user space.
    /// `.processed(0)` from a socket means end of stream.
    @inline(__always)
    public static func splice(
        from source: FileDescriptor, to destination: FileDescriptor, length: Int, more: Bool = false
    ) throws(SystemError) -> IOResult<Int> {
        var flags = CSocketProxyLinux_SPLICE_F_MOVE | CSocketProxyLinux_SPLICE_F_NONBLOCK
        if more { flags |= CSocketProxyLinux_SPLICE_F_MORE }
        return try syscall("splice") {
            CSocketProxyLinux_splice(source.rawValue, destination.rawValue, length, flags)
        }
    }

    /// Opens a nonblocking, close-on-exec pipe: (read end, write end).
    public static func pipe() throws(SystemError) -> (read: FileDescriptor, write: FileDescriptor) {
        var fds: (Int32, Int32) = (-1, -1)
        _ = try withUnsafeMutableBytes(of: &fds) { raw throws(SystemError) in
            let pointer = raw.baseAddress!.assumingMemoryBound(to: Int32.self)
            return try blockingSyscall("pipe2") { CSocketProxyLinux_pipe(pointer) }
        }
        return (FileDescriptor(rawValue: fds.0), FileDescriptor(rawValue: fds.1))
    }

    /// Asks for a pipe capacity of `bytes`; returns the capacity the kernel granted.
    public static func setPipeSize(_ fd: FileDescriptor, _ bytes: Int) -> Int {
        let granted = fcntl(fd.rawValue, CSocketProxyLinux_F_SETPIPE_SZ, Int32(bytes))
        if granted > 0 { return Int(granted) }
        return Int(fcntl(fd.rawValue, CSocketProxyLinux_F_GETPIPE_SZ))
    }

    /// Closes a descriptor. Never retried: after EINTR the descriptor is already gone on Linux.
    public static func close(_ fd: FileDescriptor) {
        _ = Glibc.close(fd.rawValue)
    }

    /// Shuts down the write side of a socket, so the peer reads end of stream.
    public static func shutdownWrite(_ fd: FileDescriptor) {
        _ = Glibc.shutdown(fd.rawValue, Int32(SHUT_WR))
    }

    /// Accepts a connection as a nonblocking, close-on-exec descriptor, with the peer's address.
    public static func accept(_ fd: FileDescriptor) throws(SystemError) -> IOResult<(FileDescriptor, SocketAddress)> {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = try withUnsafeMutablePointer(to: &storage) { pointer throws(SystemError) in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address throws(SystemError) in
                try syscall("accept4") { CSocketProxyLinux_accept(fd.rawValue, address, &length) }
            }
        }
        switch result {
        case .wouldBlock: return .wouldBlock
        case .processed(let raw): return .processed((FileDescriptor(rawValue: raw), SocketAddress(storage)))
        }
    }

    /// Opens a nonblocking eventfd.
    public static func eventfd() throws(SystemError) -> FileDescriptor {
        FileDescriptor(rawValue: try blockingSyscall("eventfd") { CSocketProxyLinux_eventfd() })
    }

    /// Adds 1 to an eventfd's counter, which makes it readable (wakes whoever waits on it).
    public static func signalCounter(_ fd: FileDescriptor) {
        var one: UInt64 = 1
        _ = withUnsafeBytes(of: &one) { Glibc.write(fd.rawValue, $0.baseAddress, 8) }
    }

    /// Reads an eventfd's or timerfd's counter, which sets it back to 0 (not readable); nothing happens when it is
    /// already 0 and the descriptor is nonblocking.
    public static func resetCounter(_ fd: FileDescriptor) {
        var value: UInt64 = 0
        _ = withUnsafeMutableBytes(of: &value) { Glibc.read(fd.rawValue, $0.baseAddress, 8) }
    }

    /// Opens a nonblocking timerfd on the monotonic clock, disarmed.
    public static func timerfd() throws(SystemError) -> FileDescriptor {
        FileDescriptor(rawValue: try blockingSyscall("timerfd_create") { CSocketProxyLinux_timerfd() })
    }

    /// Arms a timerfd to expire once at `deadline` (monotonic nanoseconds; a deadline already past expires at once).
    public static func setTimer(_ fd: FileDescriptor, deadline: UInt64) throws(SystemError) {
        _ = try blockingSyscall("timerfd_settime") { CSocketProxyLinux_timerfd_set(fd.rawValue, deadline) }
    }

    /// Sets an integer socket option.
    public static func setOption(
        _ fd: FileDescriptor, level: Int32, name: Int32, value: Int32
    ) throws(SystemError) {
        var value = value
        _ = try blockingSyscall("setsockopt") {
            setsockopt(fd.rawValue, level, name, &value, socklen_t(MemoryLayout<Int32>.size))
        }
    }

    /// Turns off Nagle's algorithm on a TCP socket; errors are ignored (a Unix socket has no such option).
    public static func setNoDelay(_ fd: FileDescriptor) {
        var one: Int32 = 1
        _ = setsockopt(
            fd.rawValue, Int32(IPPROTO_TCP), CSocketProxyLinux_TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    /// The credentials of a Unix socket's peer, or nil when the socket has none.
    public static func peerCredentials(_ fd: FileDescriptor) -> (pid: Int32, uid: UInt32, gid: UInt32)? {
        var pid: Int32 = 0
        var uid: UInt32 = 0
        var gid: UInt32 = 0
        guard CSocketProxyLinux_peercred(fd.rawValue, &pid, &uid, &gid) == 0 else { return nil }
        return (pid, uid, gid)
    }

    /// The pending error on a socket (SO_ERROR), 0 when there is none.
    public static func socketError(_ fd: FileDescriptor) -> Int32 {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd.rawValue, SOL_SOCKET, SO_ERROR, &value, &length) == 0 else { return Glibc.errno }
        return value
    }

    /// Monotonic time in nanoseconds.
    @inline(__always)
    public static func monotonicNanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) &* 1_000_000_000 &+ UInt64(now.tv_nsec)
    }
}

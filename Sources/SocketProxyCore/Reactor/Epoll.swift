// The raw epoll calls, behind Swift names; nothing outside the reactor touches them.
import CSocketProxyLinux

/// What a registration waits for, and what an event reports.
public struct EventSet: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Data (or end of stream) can be read.
    public static let readable = EventSet(rawValue: CSocketProxyLinux_EPOLLIN)
    /// Data can be written.
    public static let writable = EventSet(rawValue: CSocketProxyLinux_EPOLLOUT)
    /// The peer shut down its writing side.
    public static let readHangup = EventSet(rawValue: CSocketProxyLinux_EPOLLRDHUP)
    /// Both directions are closed (always reported, never asked for).
    public static let hangup = EventSet(rawValue: CSocketProxyLinux_EPOLLHUP)
    /// An error is pending on the descriptor (always reported, never asked for).
    public static let error = EventSet(rawValue: CSocketProxyLinux_EPOLLERR)
}

/// Thin wrappers over epoll(7).
enum Epoll {
    static let edgeTriggered = CSocketProxyLinux_EPOLLET
    static let exclusive = CSocketProxyLinux_EPOLLEXCLUSIVE

    static func create() throws(SystemError) -> FileDescriptor {
        FileDescriptor(rawValue: try blockingSyscall("epoll_create1") { CSocketProxyLinux_epoll_create() })
    }

    static func add(_ epoll: FileDescriptor, _ fd: FileDescriptor, events: UInt32, token: UInt64) throws(SystemError) {
        _ = try blockingSyscall("epoll_ctl") {
            CSocketProxyLinux_epoll_ctl(epoll.rawValue, CSocketProxyLinux_EPOLL_CTL_ADD, fd.rawValue, events, token)
        }
    }

    static func modify(_ epoll: FileDescriptor, _ fd: FileDescriptor, events: UInt32, token: UInt64) throws(SystemError) {
        _ = try blockingSyscall("epoll_ctl") {
            CSocketProxyLinux_epoll_ctl(epoll.rawValue, CSocketProxyLinux_EPOLL_CTL_MOD, fd.rawValue, events, token)
        }
    }

    static func delete(_ epoll: FileDescriptor, _ fd: FileDescriptor) {
        _ = CSocketProxyLinux_epoll_ctl(epoll.rawValue, CSocketProxyLinux_EPOLL_CTL_DEL, fd.rawValue, 0, 0)
    }

    static func wait(
        _ epoll: FileDescriptor, into events: UnsafeMutablePointer<CSocketProxyLinux_epoll_event>, capacity: Int,
        timeoutMilliseconds: Int32
    ) throws(SystemError) -> Int {
        switch try syscall("epoll_wait", {
            CSocketProxyLinux_epoll_wait(epoll.rawValue, events, Int32(capacity), timeoutMilliseconds)
        }) {
        case .processed(let count): return Int(count)
        case .wouldBlock: return 0
        }
    }
}

// Creating, binding and connecting stream sockets.
import CSocketProxyLinux

#if canImport(Glibc)
import Glibc
#endif

/// Stream socket set-up: listening sockets for clients and nonblocking connections to the daemon.
public enum Socket {
    /// Opens a nonblocking, close-on-exec stream socket for an address family.
    static func open(family: Int32) throws(SystemError) -> FileDescriptor {
        let type = CSocketProxyLinux_SOCK_STREAM | CSocketProxyLinux_SOCK_NONBLOCK | CSocketProxyLinux_SOCK_CLOEXEC
        return FileDescriptor(rawValue: try blockingSyscall("socket") { Glibc.socket(family, type, 0) })
    }

    /// Binds and listens on `address`. For IPv6, `v6Only` decides whether the socket also takes IPv4 clients.
    /// A stale Unix socket file left by an earlier run is replaced; any other file at that path is an error.
    public static func listen(
        on address: SocketAddress, backlog: Int32 = 4096, v6Only: Bool = true
    ) throws(SystemError) -> FileDescriptor {
        let fd = try open(family: address.family)
        do throws(SystemError) {
            if case .unix(let path) = address {
                var info = stat()
                if lstat(path, &info) == 0 {
                    guard (info.st_mode & S_IFMT) == S_IFSOCK else { throw SystemError("bind", errno: EEXIST) }
                    unlink(path)
                }
            } else {
                try Linux.setOption(fd, level: SOL_SOCKET, name: SO_REUSEADDR, value: 1)
            }
            if case .ipv6 = address {
                try Linux.setOption(fd, level: Int32(IPPROTO_IPV6), name: IPV6_V6ONLY, value: v6Only ? 1 : 0)
            }
            _ = try address.withSockAddr { (pointer, length) throws(SystemError) in
                try blockingSyscall("bind") { Glibc.bind(fd.rawValue, pointer, length) }
            }
            _ = try blockingSyscall("listen") { Glibc.listen(fd.rawValue, backlog) }
            return fd
        } catch {
            Linux.close(fd)
            throw error
        }
    }

    /// Starts a nonblocking connection. `.processed(fd)` is connected (Unix sockets connect at once) or in
    /// progress (TCP; wait for writability and read ``Linux/socketError(_:)``); `.wouldBlock` means a Unix
    /// listener's backlog is full: try again shortly.
    public static func connect(to address: SocketAddress) throws(SystemError) -> IOResult<FileDescriptor> {
        let fd = try open(family: address.family)
        do throws(SystemError) {
            let result = try address.withSockAddr { (pointer, length) throws(SystemError) -> IOResult<Int32> in
                do throws(SystemError) {
                    return try syscall("connect") { Glibc.connect(fd.rawValue, pointer, length) }
                } catch where error.errno == EINPROGRESS {
                    return .processed(0)
                }
            }
            if case .wouldBlock = result {
                Linux.close(fd)
                return .wouldBlock
            }
            return .processed(fd)
        } catch {
            Linux.close(fd)
            throw error
        }
    }

    /// The local address a socket is bound to.
    public static func localAddress(_ fd: FileDescriptor) -> SocketAddress {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let ok = withUnsafeMutablePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd.rawValue, $0, &length) == 0 }
        }
        return ok ? SocketAddress(storage) : .unknown
    }

    /// Whether the kernel can open IPv6 sockets at all.
    public static var ipv6Available: Bool {
        let fd = Glibc.socket(AF_INET6, CSocketProxyLinux_SOCK_STREAM, 0)
        guard fd >= 0 else { return false }
        Glibc.close(fd)
        return true
    }
}

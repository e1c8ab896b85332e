// Socket addresses (IPv4, IPv6, Unix paths): parsing, printing, and the sockaddr they stand for.
import CSocketProxyLinux

#if canImport(Glibc)
import Glibc
#endif

/// An address to listen on or to connect to.
public enum SocketAddress: Hashable, Sendable, CustomStringConvertible {
    /// IPv4: four address bytes in network order, and a port.
    case ipv4(UInt32, port: UInt16)
    /// IPv6: sixteen address bytes, and a port.
    case ipv6([UInt8], port: UInt16)
    /// A Unix stream socket path.
    case unix(String)
    /// An address family this proxy does not speak, or an unnamed Unix peer.
    case unknown

    /// Parses `HOST:PORT`, `[IPV6]:PORT`, or `unix:PATH`. `HOST` must be a numeric IPv4 or IPv6 address.
    public init(parsing text: String) throws(ConfigurationError) {
        if text.hasPrefix("unix:") {
            let path = String(text.dropFirst(5))
            guard !path.isEmpty else { throw ConfigurationError("listen address \"\(text)\": the Unix path is empty") }
            guard path.utf8.count < 108 else {
                throw ConfigurationError("listen address \"\(text)\": a Unix socket path must be under 108 bytes")
            }
            self = .unix(path)
            return
        }
        var host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"),
                text[text.index(after: close)...].hasPrefix(":")
            else {
                throw ConfigurationError("listen address \"\(text)\": expected [IPV6]:PORT")
            }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else {
                throw ConfigurationError("listen address \"\(text)\": expected HOST:PORT, [IPV6]:PORT or unix:PATH")
            }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            if host.contains(":") {
                throw ConfigurationError("listen address \"\(text)\": write an IPv6 address in brackets, [::1]:2375")
            }
        }
        guard let port = UInt16(portText) else {
            throw ConfigurationError("listen address \"\(text)\": \"\(portText)\" is not a port number")
        }
        if host == "localhost" { host = "127.0.0.1" }
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, String(host), &v4) == 1 {
            self = .ipv4(v4.s_addr, port: port)
        } else if inet_pton(AF_INET6, String(host), &v6) == 1 {
            self = .ipv6(withUnsafeBytes(of: &v6) { Array($0) }, port: port)
        } else {
            throw ConfigurationError("listen address \"\(text)\": \"\(host)\" is not a numeric IPv4 or IPv6 address")
        }
    }

    /// Reads a kernel-filled `sockaddr_storage`.
    public init(_ storage: sockaddr_storage) {
        var storage = storage
        switch Int32(storage.ss_family) {
        case AF_INET:
            self = withUnsafeBytes(of: &storage) { raw in
                let address = raw.load(as: sockaddr_in.self)
                return .ipv4(address.sin_addr.s_addr, port: UInt16(bigEndian: address.sin_port))
            }
        case AF_INET6:
            self = withUnsafeBytes(of: &storage) { raw in
                var address = raw.load(as: sockaddr_in6.self)
                let bytes = withUnsafeBytes(of: &address.sin6_addr) { Array($0) }
                return .ipv6(bytes, port: UInt16(bigEndian: address.sin6_port))
            }
        case AF_UNIX:
            self = withUnsafeBytes(of: &storage) { raw in
                let pathStart = MemoryLayout<sa_family_t>.size
                let bytes = raw[pathStart...].prefix { $0 != 0 }
                return bytes.isEmpty ? .unknown : .unix(String(decoding: bytes, as: UTF8.self))
            }
        default:
            self = .unknown
        }
    }

    /// The port of an IP address, nil for Unix and unknown addresses.
    public var port: UInt16? {
        switch self {
        case .ipv4(_, let port), .ipv6(_, let port): return port
        default: return nil
        }
    }

    /// The host part as text (`127.0.0.1`, `::1`), the path for Unix sockets.
    public var host: String {
        switch self {
        case .ipv4(let raw, _):
            var address = in_addr(s_addr: raw)
            var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
            inet_ntop(AF_INET, &address, &text, socklen_t(text.count))
            return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        case .ipv6(let bytes, _):
            var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            bytes.withUnsafeBytes { raw in _ = inet_ntop(AF_INET6, raw.baseAddress, &text, socklen_t(text.count)) }
            return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        case .unix(let path):
            return path
        case .unknown:
            return "unknown"
        }
    }

    public var description: String {
        switch self {
        case .ipv4(_, let port): return "\(host):\(port)"
        case .ipv6(_, let port): return "[\(host)]:\(port)"
        case .unix(let path): return "unix:\(path)"
        case .unknown: return "unknown"
        }
    }

    var family: Int32 {
        switch self {
        case .ipv4: return AF_INET
        case .ipv6: return AF_INET6
        case .unix, .unknown: return AF_UNIX
        }
    }

    /// Calls `body` with this address as a `sockaddr` and its length.
    func withSockAddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) throws(SystemError) -> R) throws(SystemError) -> R {
        var storage = sockaddr_storage()
        let length: Int
        switch self {
        case .ipv4(let raw, let port):
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            address.sin_addr = in_addr(s_addr: raw)
            withUnsafeBytes(of: &address) { source in
                withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: source) }
            }
            length = MemoryLayout<sockaddr_in>.size
        case .ipv6(let bytes, let port):
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = port.bigEndian
            withUnsafeMutableBytes(of: &address.sin6_addr) { $0.copyBytes(from: bytes) }
            withUnsafeBytes(of: &address) { source in
                withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: source) }
            }
            length = MemoryLayout<sockaddr_in6>.size
        case .unix(let path):
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                raw.copyBytes(from: bytes.prefix(raw.count - 1))
            }
            withUnsafeBytes(of: &address) { source in
                withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: source) }
            }
            length = MemoryLayout<sa_family_t>.size + bytes.count + 1
        case .unknown:
            throw SystemError("sockaddr", errno: EAFNOSUPPORT)
        }
        return try withUnsafePointer(to: &storage) { pointer throws(SystemError) in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address throws(SystemError) in
                try body(address, socklen_t(length))
            }
        }
    }
}

/// A configuration the proxy cannot run with; the message says what to change.
public struct ConfigurationError: Error, CustomStringConvertible, Equatable, Sendable {
    /// What is wrong, in words a person can act on.
    public let message: String
    /// Creates an error with a message.
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

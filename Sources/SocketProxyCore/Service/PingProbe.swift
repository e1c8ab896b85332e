// A small blocking HTTP client for `GET /_ping`: readiness, health checks, and nothing on the data path.
import CSocketProxyLinux

#if canImport(Glibc)
import Glibc
#endif

/// Asks an HTTP endpoint (the daemon's socket, or the proxy) for `/_ping` and reports what came back.
public enum PingProbe {
    /// What a probe saw.
    public struct Answer: Sendable, Equatable {
        /// The response status.
        public var status: Int
        /// The response body (Docker answers `OK`; a denial carries a JSON message).
        public var body: String
    }

    /// Connects to `address`, sends `GET /_ping`, and reads the answer; everything within `timeout`.
    public static func ping(_ address: SocketAddress, timeout: Duration = .seconds(3)) -> Result<Answer, SystemError> {
        let fd: Int32
        let family: Int32
        switch address {
        case .ipv4: family = AF_INET
        case .ipv6: family = AF_INET6
        default: family = AF_UNIX
        }
        fd = socket(family, CSocketProxyLinux_SOCK_STREAM | CSocketProxyLinux_SOCK_CLOEXEC, 0)
        guard fd >= 0 else { return .failure(SystemError("socket", errno: errno)) }
        defer { close(fd) }
        var limit = timeval(
            tv_sec: Int(timeout.components.seconds), tv_usec: Int(timeout.components.attoseconds / 1_000_000_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        do {
            _ = try address.withSockAddr { (pointer, length) throws(SystemError) in
                try blockingSyscall("connect") { connect(fd, pointer, length) }
            }
        } catch {
            return .failure(error)
        }
        let request = Array("GET /_ping HTTP/1.1\r\nHost: socket-proxy\r\nConnection: close\r\n\r\n".utf8)
        var sent = 0
        while sent < request.count {
            let count = request.withUnsafeBytes { send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return .failure(SystemError("send", errno: errno)) }
            sent += count
        }
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while response.count < 65536 {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0 && errno == EINTR { continue }
            if count < 0 { return .failure(SystemError("recv", errno: errno == EAGAIN ? ETIMEDOUT : errno)) }
            if count == 0 { break }
            response.append(contentsOf: chunk[0..<count])
        }
        var parser = ResponseHeadParser()
        let parsed = response.withUnsafeBytes { parser.parse($0, requestMethod: .get) }
        guard case .complete(let head) = parsed else { return .failure(SystemError("recv", errno: EPROTO)) }
        let body = String(decoding: response[head.headEnd...], as: UTF8.self)
        return .success(Answer(status: head.status, body: body))
    }
}

// A client socket (TCP or Unix) that sends exactly the bytes a test gives it and reads back raw responses:
// for pipelining and malformed-request tests, and for talking to the daemon without the docker CLI.
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// What came back on a connection after a burst of requests.
struct RawExchange: Sendable, CustomStringConvertible {
    /// The responses, in the order they arrived.
    let responses: [RawResponse]
    /// Whether the peer closed the connection (end-of-file or reset) while we were reading.
    let closedByPeer: Bool
    /// Whether we stopped because the time limit passed.
    let timedOut: Bool
    /// Bytes received after the last whole response.
    let leftover: Data

    var description: String {
        var text = "\(responses.count) response(s), closed by peer: \(closedByPeer), timed out: \(timedOut)"
        for (index, response) in responses.enumerated() { text += "\n--- response \(index + 1) ---\n\(response)" }
        if !leftover.isEmpty {
            text +=
                "\n--- \(leftover.count) leftover byte(s) ---\n" + String(decoding: leftover.prefix(500), as: UTF8.self)
        }
        return text
    }
}

/// One client connection with a receive buffer that survives between reads.
final class RawHTTPConnection: @unchecked Sendable {
    // @unchecked: a connection is owned by the one test task that made it.
    private var fd: Int32
    private var buffer: [UInt8] = []
    private var peerClosed = false
    /// Every byte received on this connection so far, whether parsed into responses or not.
    private(set) var bytesReceived = 0

    private init(fd: Int32) {
        self.fd = fd
    }

    deinit {
        if fd >= 0 { Glibc.close(fd) }
    }

    /// Connects to a TCP port on the loopback interface.
    static func tcp(host: String = "127.0.0.1", port: Int) throws -> RawHTTPConnection {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw HarnessError("socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else {
            Glibc.close(fd)
            throw HarnessError("not an IPv4 address: \(host)")
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            let message = String(cString: strerror(errno))
            Glibc.close(fd)
            throw HarnessError("connect to \(host):\(port): \(message)")
        }
        return try RawHTTPConnection(connected: fd)
    }

    /// Connects to a Unix stream socket, such as the Docker daemon's.
    static func unix(path: String) throws -> RawHTTPConnection {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw HarnessError("socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard pathBytes.count < capacity else {
            Glibc.close(fd)
            throw HarnessError("Unix socket path too long (\(pathBytes.count) bytes, at most \(capacity - 1)): \(path)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
            raw[pathBytes.count] = 0
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard result == 0 else {
            let message = String(cString: strerror(errno))
            Glibc.close(fd)
            throw HarnessError("connect to \(path): \(message)")
        }
        return try RawHTTPConnection(connected: fd)
    }

    private convenience init(connected fd: Int32) throws {
        let flags = fcntl(fd, F_GETFL)
        guard flags >= 0, fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0 else {
            Glibc.close(fd)
            throw HarnessError("fcntl O_NONBLOCK: \(String(cString: strerror(errno)))")
        }
        self.init(fd: fd)
    }

    /// Sends all of `bytes` in as few writes as the kernel allows (one, for anything that fits the socket
    /// buffer), so that pipelined requests arrive together.
    func send(_ bytes: [UInt8], timeout: Duration = .seconds(30)) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { raw in
                Glibc.send(fd, raw.baseAddress, raw.count, Int32(MSG_NOSIGNAL))
            }
            if written > 0 {
                offset += written
            } else if written < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                guard clock.now < deadline else { throw HarnessError("send: timed out after \(offset) bytes") }
                try await Task.sleep(for: .milliseconds(5))
            } else {
                throw HarnessError("send: \(String(cString: strerror(errno))) after \(offset) of \(bytes.count) bytes")
            }
        }
    }

    /// Sends text as UTF-8.
    func send(_ text: String) async throws {
        try await send(Array(text.utf8))
    }

    /// The local TCP port of this connection (the client port the proxy sees), or nil for a Unix socket.
    var localPort: Int? {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0, address.sin_family == sa_family_t(AF_INET) else { return nil }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Shuts down our sending side: the peer reads end-of-file, we can still read.
    func shutdownWrite() {
        shutdown(fd, Int32(SHUT_WR))
    }

    /// Closes the connection with a reset instead of a FIN (SO_LINGER with a zero timeout), the way a client that
    /// is killed mid-transfer leaves: the peer's next read or write fails with ECONNRESET or EPIPE.
    func reset() {
        guard fd >= 0 else { return }
        var option = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &option, socklen_t(MemoryLayout<linger>.size))
        Glibc.close(fd)
        fd = -1
    }

    /// Reads raw bytes, without parsing them, until at least `count` have arrived in all (counting those already
    /// buffered), the peer closes, or `timeout` passes. Keeps the first `keep` bytes of the connection in the
    /// buffer (for the response head) and drops the rest, so that large bodies cost no memory. Returns the total
    /// received so far.
    @discardableResult
    func receiveRaw(atLeast count: Int, keep: Int = 65536, timeout: Duration = .seconds(30)) async throws -> Int {
        let deadline = ContinuousClock().now + timeout
        var chunk = [UInt8](repeating: 0, count: 1 << 18)
        while bytesReceived < count && !peerClosed {
            let received = chunk.withUnsafeMutableBytes { raw in recv(fd, raw.baseAddress, raw.count, 0) }
            if received > 0 {
                bytesReceived += received
                if buffer.count < keep { buffer.append(contentsOf: chunk[0..<min(received, keep - buffer.count)]) }
                continue
            }
            if received == 0 {
                peerClosed = true
                break
            }
            switch errno {
            case EAGAIN, EWOULDBLOCK, EINTR:
                guard ContinuousClock().now < deadline else { return bytesReceived }
                try await Task.sleep(for: .milliseconds(2))
            case ECONNRESET:
                peerClosed = true
            default:
                throw HarnessError("recv: \(String(cString: strerror(errno)))")
            }
        }
        return bytesReceived
    }

    /// The first bytes received and kept by ``receiveRaw(atLeast:keep:timeout:)``, as text.
    var receivedPrefix: String { String(decoding: buffer, as: UTF8.self) }

    /// Whether the peer has closed the connection (end of file or reset), as far as reads so far have seen.
    var closedByPeer: Bool { peerClosed }

    /// Closes the connection.
    func close() {
        if fd >= 0 {
            Glibc.close(fd)
            fd = -1
        }
    }

    /// Reads until `count` whole responses have arrived, the peer closes, or `timeout` passes.
    ///
    /// - Parameter methods: the methods of the requests, in order, so that responses to HEAD are read without a
    ///   body; missing entries count as GET.
    func readResponses(count: Int, methods: [String] = [], timeout: Duration = .seconds(15)) async throws
        -> RawExchange
    {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var responses: [RawResponse] = []
        var timedOut = false
        while responses.count < count {
            let method = responses.count < methods.count ? methods[responses.count] : "GET"
            switch try HTTPResponseParser.parse(buffer, from: 0, method: method, atEOF: peerClosed) {
            case .complete(let response, let consumed):
                responses.append(response)
                buffer.removeFirst(consumed)
                continue
            case .needMore:
                if peerClosed { break }
                if try await receive(until: deadline) == false {
                    timedOut = true
                    break
                }
                continue
            }
            break
        }
        return RawExchange(responses: responses, closedByPeer: peerClosed, timedOut: timedOut, leftover: Data(buffer))
    }

    /// Reads and discards until the peer closes; true if it closed within `timeout`.
    func waitForClose(timeout: Duration = .seconds(10)) async throws -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while !peerClosed {
            if try await receive(until: deadline) == false { return false }
        }
        return true
    }

    /// Receives what is available; false when nothing came before the deadline.
    private func receive(until deadline: ContinuousClock.Instant) async throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let received = chunk.withUnsafeMutableBytes { raw in recv(fd, raw.baseAddress, raw.count, 0) }
            if received > 0 {
                bytesReceived += received
                buffer.append(contentsOf: chunk[0..<received])
                return true
            }
            if received == 0 {
                peerClosed = true
                return true
            }
            switch errno {
            case EAGAIN, EWOULDBLOCK, EINTR:
                guard ContinuousClock().now < deadline else { return false }
                try await Task.sleep(for: .milliseconds(5))
            case ECONNRESET:
                peerClosed = true
                return true
            default:
                throw HarnessError("recv: \(String(cString: strerror(errno)))")
            }
        }
    }
}

/// Builds request bytes for raw tests.
enum RawRequest {
    /// A request with the given head fields and optional body; Content-Length is added when there is a body.
    static func make(
        _ method: String, _ target: String, headers: [(String, String)] = [], body: String? = nil,
        host: String = "docker"
    ) -> String {
        var text = "\(method) \(target) HTTP/1.1\r\nHost: \(host)\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        if let body { text += "Content-Length: \(body.utf8.count)\r\n" }
        text += "\r\n"
        if let body { text += body }
        return text
    }
}

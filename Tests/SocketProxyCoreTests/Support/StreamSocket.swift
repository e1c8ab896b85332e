// Blocking stream sockets with deadlines for the relay tests, and the HTTP/1.1 framing the tests read with them.
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A failure inside test support, with a message that says what was expected.
struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A connected, blocking stream socket. Every read waits at most until a deadline; bytes read and not yet taken
/// wait in a buffer. Writes use `MSG_NOSIGNAL`, so a peer that went away is an error, not a signal.
final class StreamSocket: @unchecked Sendable {
    // SAFETY (@unchecked Sendable): one thread reads and writes at a time; other threads only call `shutdown()`
    // or `close()`, which touch the descriptor under `state`.
    let fd: Int32
    private let state = Mutex<(closed: Bool, Void)>((false, ()))
    private var buffer: [UInt8] = []
    private var offset = 0
    /// The peer ended its side (or reset the connection).
    private(set) var ended = false
    /// The peer reset the connection.
    private(set) var wasReset = false
    /// Called with every byte read, in order (the fake daemon records what it received through this).
    var onReceive: (@Sendable (ArraySlice<UInt8>) -> Void)?

    init(fd: Int32) {
        self.fd = fd
        // A safety net: no blocking call waits forever, even when a deadline is not checked.
        var limit = timeval(tv_sec: 15, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close() }

    /// Connects to 127.0.0.1:`port`; `receiveBuffer` shrinks SO_RCVBUF before connecting (for slow readers).
    static func connect(port: UInt16, receiveBuffer: Int32? = nil) throws -> StreamSocket {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket: errno \(errno)") }
        if var size = receiveBuffer {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            let code = errno
            Glibc.close(fd)
            throw TestFailure("connect to 127.0.0.1:\(port): errno \(code)")
        }
        return StreamSocket(fd: fd)
    }

    /// Connects to a Unix socket.
    static func connect(unixPath path: String) throws -> StreamSocket {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket: errno \(errno)") }
        var address = UnixAddress(path)
        let result = address.withSockAddr { Glibc.connect(fd, $0, $1) }
        guard result == 0 else {
            let code = errno
            Glibc.close(fd)
            throw TestFailure("connect to \(path): errno \(code)")
        }
        return StreamSocket(fd: fd)
    }

    // MARK: Writing

    /// Writes every byte (blocking).
    func send(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let result = bytes.withUnsafeBytes { raw in
                Glibc.send(fd, raw.baseAddress! + sent, raw.count - sent, Int32(MSG_NOSIGNAL))
            }
            if result < 0 {
                if errno == EINTR { continue }
                throw TestFailure("send: errno \(errno) after \(sent) of \(bytes.count) bytes")
            }
            sent += result
        }
    }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    /// Ends our sending side; the peer reads end of stream.
    func shutdownWrite() { state.withLock { if !$0.closed { _ = Glibc.shutdown(fd, Int32(SHUT_WR)) } } }

    /// Ends both directions (wakes a thread blocked on this socket).
    func shutdown() { state.withLock { if !$0.closed { _ = Glibc.shutdown(fd, Int32(SHUT_RDWR)) } } }

    /// Closes the descriptor (once).
    func close() {
        state.withLock {
            guard !$0.closed else { return }
            $0.closed = true
            Glibc.close(fd)
        }
    }

    /// Closes with a reset instead of an orderly end (SO_LINGER 0).
    func reset() {
        var value = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &value, socklen_t(MemoryLayout<linger>.size))
        close()
    }

    // MARK: Reading

    /// Bytes read and not yet taken.
    var buffered: Int { buffer.count - offset }

    /// Reads once more, waiting until `deadline`; false at end of stream. Throws when the deadline passes.
    @discardableResult
    func fill(until deadline: ContinuousClock.Instant) throws -> Bool {
        if ended { return false }
        var scratch = [UInt8](repeating: 0, count: 256 * 1024)
        while true {
            let left = deadline - ContinuousClock.now
            let milliseconds = max(0, Int32(min(left / .milliseconds(1), 60_000)))
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&entry, 1, milliseconds)
            if ready < 0 {
                if errno == EINTR { continue }
                throw TestFailure("poll: errno \(errno)")
            }
            if ready == 0 { throw TestFailure("timed out waiting for bytes (\(buffered) unread bytes so far)") }
            let count = scratch.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                if errno == ECONNRESET {
                    ended = true
                    wasReset = true
                    return false
                }
                throw TestFailure("recv: errno \(errno)")
            }
            if count == 0 {
                ended = true
                return false
            }
            onReceive?(scratch[0..<count])
            if offset > 0 && offset >= buffer.count / 2 {
                buffer.removeFirst(offset)
                offset = 0
            }
            buffer.append(contentsOf: scratch[0..<count])
            return true
        }
    }

    /// Takes `count` buffered bytes.
    private func take(_ count: Int) -> [UInt8] {
        let bytes = Array(buffer[offset..<offset + count])
        offset += count
        if offset == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            offset = 0
        }
        return bytes
    }

    /// Reads exactly `count` bytes.
    func read(exactly count: Int, timeout: Duration = .seconds(5)) throws -> [UInt8] {
        let deadline = ContinuousClock.now + timeout
        while buffered < count {
            guard try fill(until: deadline) else {
                throw TestFailure("end of stream after \(buffered) of \(count) bytes: \(Self.show(take(buffered)))")
            }
        }
        return take(count)
    }

    /// Reads through the first occurrence of `delimiter`; nil at an end of stream with nothing buffered.
    func read(through delimiter: [UInt8], timeout: Duration = .seconds(5)) throws -> [UInt8]? {
        let deadline = ContinuousClock.now + timeout
        // How far past `offset` is known not to start the delimiter; relative, because `fill` may compact.
        var searched = 0
        while true {
            if let end = Self.find(delimiter, in: buffer, from: offset + searched) {
                return take(end + delimiter.count - offset)
            }
            searched = max(0, buffered - delimiter.count + 1)
            guard try fill(until: deadline) else {
                if buffered == 0 { return nil }
                throw TestFailure("end of stream inside a message: \(Self.show(take(buffered)))")
            }
        }
    }

    /// Reads whatever arrives until end of stream.
    func readToEnd(timeout: Duration = .seconds(5)) throws -> [UInt8] {
        let deadline = ContinuousClock.now + timeout
        while try fill(until: deadline) {}
        return take(buffered)
    }

    /// Reads whatever is already there or arrives within `timeout`, at least one byte unless the stream ended.
    func readSome(timeout: Duration = .seconds(5)) throws -> [UInt8] {
        if buffered == 0 { try fill(until: ContinuousClock.now + timeout) }
        return take(buffered)
    }

    /// Whether the peer ends the stream (or resets it) within `timeout`, with no further bytes before that.
    func endsWithoutMoreBytes(within timeout: Duration) throws -> Bool {
        let rest = try readToEnd(timeout: timeout)
        if !rest.isEmpty { throw TestFailure("unexpected bytes before the end: \(Self.show(rest))") }
        return ended
    }

    /// Whether nothing at all (no byte, no end of stream) arrives within `duration`.
    func staysQuiet(for duration: Duration) -> Bool {
        if buffered > 0 || ended { return false }
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, Int32(duration / .milliseconds(1))) == 0
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count else { return nil }
        var index = max(start, 0)
        let first = needle[0]
        while index <= haystack.count - needle.count {
            if haystack[index] == first && haystack[index..<index + needle.count].elementsEqual(needle) {
                return index
            }
            index += 1
        }
        return nil
    }

    static func show(_ bytes: [UInt8]) -> String {
        let text = String(decoding: bytes.prefix(600), as: UTF8.self)
        return "\"" + text.replacingOccurrences(of: "\r", with: "\\r").replacingOccurrences(of: "\n", with: "\\n")
            + (bytes.count > 600 ? "...\" (\(bytes.count) bytes)" : "\"")
    }
}

/// A `sockaddr_un` for a path.
struct UnixAddress {
    private var storage = sockaddr_un()

    init(_ path: String) {
        storage.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &storage.sun_path) { raw in
            precondition(bytes.count < raw.count, "Unix socket path too long: \(path)")
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
    }

    mutating func withSockAddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                body($0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
    }
}

// MARK: HTTP messages

/// One HTTP/1.1 message as read off a socket: the exact bytes, and its parts.
struct HTTPMessage: Sendable, CustomStringConvertible {
    /// Every byte of the message, head and body framing included, exactly as received.
    var raw: [UInt8]
    var head: [UInt8]
    var startLine: String
    var fields: [(name: String, value: String)]
    /// The body, with chunked framing removed.
    var body: [UInt8] = []
    var trailers: [(name: String, value: String)] = []

    init(head: [UInt8]) {
        self.head = head
        raw = head
        let text = String(decoding: head, as: UTF8.self)
        var lines = text.components(separatedBy: "\r\n")
        startLine = lines.removeFirst()
        fields = lines.filter { !$0.isEmpty }.map { line in
            let colon = line.firstIndex(of: ":") ?? line.endIndex
            let value = colon == line.endIndex ? "" : String(line[line.index(after: colon)...])
            return (String(line[..<colon]), value.trimmingCharacters(in: .whitespaces))
        }
    }

    /// The status code of a response.
    var status: Int {
        let parts = startLine.split(separator: " ")
        return parts.count > 1 ? Int(parts[1]) ?? 0 : 0
    }

    var method: String { String(startLine.split(separator: " ").first ?? "") }
    var target: String {
        let parts = startLine.split(separator: " ")
        return parts.count > 1 ? String(parts[1]) : ""
    }

    /// The first value of a field (case-insensitive name).
    func field(_ name: String) -> String? {
        fields.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    var text: String { String(decoding: raw, as: UTF8.self) }
    var bodyText: String { String(decoding: body, as: UTF8.self) }
    var description: String { StreamSocket.show(raw) }

    enum Framing: Equatable { case none, length(Int), chunked, untilClose }

    /// How the body of this message ends. `requestMethod` is the method of the request a response answers.
    func framing(isResponse: Bool, requestMethod: String = "GET") -> Framing {
        if isResponse {
            if requestMethod == "HEAD" || (100...199).contains(status) || status == 204 || status == 304 {
                return .none
            }
        }
        if field("Transfer-Encoding")?.lowercased() == "chunked" { return .chunked }
        if let length = field("Content-Length").flatMap({ Int($0) }) { return .length(length) }
        return isResponse ? .untilClose : .none
    }
}

extension StreamSocket {
    /// Reads one request (head and body); nil at a clean end of stream before it.
    func readRequest(timeout: Duration = .seconds(5)) throws -> HTTPMessage? {
        guard let head = try read(through: Array("\r\n\r\n".utf8), timeout: timeout) else { return nil }
        var message = HTTPMessage(head: head)
        try readBody(of: &message, framing: message.framing(isResponse: false), timeout: timeout)
        return message
    }

    /// Reads one response, interim (1xx) responses being messages of their own.
    func readResponse(to method: String = "GET", timeout: Duration = .seconds(5)) throws -> HTTPMessage {
        guard let head = try read(through: Array("\r\n\r\n".utf8), timeout: timeout) else {
            throw TestFailure("the connection ended before a response (reset: \(wasReset))")
        }
        var message = HTTPMessage(head: head)
        try readBody(of: &message, framing: message.framing(isResponse: true, requestMethod: method), timeout: timeout)
        return message
    }

    /// Reads the body that `framing` announces and appends it to `message`.
    func readBody(of message: inout HTTPMessage, framing: HTTPMessage.Framing, timeout: Duration) throws {
        switch framing {
        case .none:
            break
        case .length(let count):
            let body = try read(exactly: count, timeout: timeout)
            message.body = body
            message.raw += body
        case .untilClose:
            let body = try readToEnd(timeout: timeout)
            message.body = body
            message.raw += body
        case .chunked:
            let crlf = Array("\r\n".utf8)
            while true {
                guard let line = try read(through: crlf, timeout: timeout) else {
                    throw TestFailure("end of stream in a chunked body")
                }
                message.raw += line
                let sizeText = String(decoding: line.dropLast(2), as: UTF8.self).split(separator: ";").first ?? ""
                guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else {
                    throw TestFailure("bad chunk size line \(StreamSocket.show(line))")
                }
                if size == 0 { break }
                let data = try read(exactly: size + 2, timeout: timeout)
                message.raw += data
                message.body += data.dropLast(2)
            }
            while true {
                guard let line = try read(through: crlf, timeout: timeout) else {
                    throw TestFailure("end of stream in trailers")
                }
                message.raw += line
                if line == crlf { break }
                let text = String(decoding: line.dropLast(2), as: UTF8.self)
                let colon = text.firstIndex(of: ":") ?? text.endIndex
                message.trailers.append(
                    (
                        String(text[..<colon]),
                        colon == text.endIndex
                            ? "" : text[text.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                    ))
            }
        }
    }
}

/// Builds responses and requests as bytes.
enum HTTPText {
    /// A complete response with a Content-Length body.
    static func response(
        _ status: Int = 200, reason: String = "OK", body: String = "", fields: [String] = []
    ) -> [UInt8] {
        var head = "HTTP/1.1 \(status) \(reason)\r\n"
        for field in fields { head += field + "\r\n" }
        head += "Content-Length: \(body.utf8.count)\r\n\r\n"
        return Array(head.utf8) + Array(body.utf8)
    }

    /// A GET request (or another method without a body).
    static func request(_ target: String, method: String = "GET", fields: [String] = []) -> String {
        var text = "\(method) \(target) HTTP/1.1\r\nHost: docker\r\n"
        for field in fields { text += field + "\r\n" }
        return text + "\r\n"
    }

    /// The proxy's own JSON error answer, spelled out.
    static func localAnswer(_ status: Int, _ reason: String, message: String, close: Bool) -> String {
        let body = "{\"message\":\"\(message)\"}\n"
        return
            "HTTP/1.1 \(status) \(reason)\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n"
            + (close ? "Connection: close\r\n" : "") + "\r\n" + body
    }
}

/// Waits until `condition` holds, polling; false when `timeout` passes first.
func eventually(timeout: Duration = .seconds(5), _ condition: () -> Bool) -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return true }
        Thread.sleep(forTimeInterval: 0.002)
    }
    return condition()
}

/// Deterministic bytes for large transfers.
func patternBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    var bytes = [UInt8](repeating: 0, count: count)
    bytes.withUnsafeMutableBytes { raw in
        var index = 0
        while index < count {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            var word = state
            for _ in 0..<8 where index < count {
                raw[index] = UInt8(truncatingIfNeeded: word)
                word >>= 8
                index += 1
            }
        }
    }
    return bytes
}

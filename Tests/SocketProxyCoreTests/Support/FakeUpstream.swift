// A scriptable stand-in for the Docker daemon: a Unix socket in a temporary directory, served by plain threads.
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// What the fake daemon does with one request, chosen after its head arrived.
enum UpstreamReply: Sendable {
    /// Reads the body, then writes these bytes as the answer; the connection stays open for more requests.
    case bytes([UInt8])
    /// Reads the body, then writes what the closure makes of the whole request.
    case answer(@Sendable (HTTPMessage) -> [UInt8])
    /// Reads the body, then writes the pieces one at a time with a pause between them, so the proxy reads each
    /// on its own (chunked answers in odd splits).
    case pieces([[UInt8]], pause: Duration = .milliseconds(3))
    /// Answers `100 Continue` right after the head, then reads the body, then writes the answer.
    case continueThen([UInt8])
    /// Writes the answer before reading any of the body, then reads (and records) the body until it ends or the
    /// proxy closes the connection.
    case early([UInt8])
    /// Reads the body, writes the answer, then closes the connection (a close-delimited answer ends here).
    case thenClose([UInt8])
    /// Reads the body, then closes without answering.
    case closeWithoutAnswer
    /// Reads the body, writes `head` (a 101), then echoes every tunnel byte back until the proxy ends its side;
    /// then writes `farewell` and shuts down its own side.
    case tunnel(head: [UInt8], farewell: [UInt8])
    /// Writes `head`, then `piece` every couple of milliseconds until writing fails.
    case endless(head: [UInt8], piece: [UInt8])
    /// Anything else: the request is recorded with its head only, then the closure gets the connection (body
    /// unread) and returns whether to keep serving it.
    case custom(@Sendable (StreamSocket, HTTPMessage) throws -> Bool)
}

/// A fake Docker daemon on a Unix socket. Each connection is served on its own thread; every byte it receives is
/// recorded per connection, and every request (head and decoded body) in arrival order.
final class FakeUpstream: Sendable {
    typealias Script = @Sendable (HTTPMessage) -> UpstreamReply

    private struct State {
        var listener: Int32 = -1
        var sockets: [StreamSocket] = []
        var received: [[UInt8]] = []
        var requests: [HTTPMessage] = []
        var errors: [String] = []
        var stopped = false
    }

    /// The temporary directory holding the socket.
    let directory: String
    /// The socket's path; nothing listens there until ``listen()``.
    let path: String
    private let script: Script
    private let state = Mutex(State())
    private let threads = DispatchGroup()

    /// Creates the daemon and, unless `listening` is false, starts serving at once.
    init(listening: Bool = true, script: @escaping Script) throws {
        var template = Array("/tmp/relay-upstream-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw TestFailure("mkdtemp: errno \(errno)")
        }
        directory = String(cString: made)
        path = directory + "/docker.sock"
        self.script = script
        if listening { try listen() }
    }

    /// A daemon that answers every request with the same bytes.
    convenience init(answering bytes: [UInt8]) throws {
        try self.init { _ in .bytes(bytes) }
    }

    deinit { stop() }

    /// Starts listening and accepting.
    func listen() throws {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket: errno \(errno)") }
        var address = UnixAddress(path)
        guard address.withSockAddr({ bind(fd, $0, $1) }) == 0, Glibc.listen(fd, 64) == 0 else {
            let code = errno
            Glibc.close(fd)
            throw TestFailure("bind/listen \(path): errno \(code)")
        }
        state.withLock { $0.listener = fd }
        threads.enter()
        Thread.detachNewThread { [self] in
            defer { threads.leave() }
            acceptLoop(fd)
        }
    }

    /// Stops accepting, ends every connection, waits for the threads, and removes the directory.
    func stop() {
        let (listener, sockets) = state.withLock { state -> (Int32, [StreamSocket]) in
            let result = state.stopped ? (-1, []) : (state.listener, state.sockets)
            state.stopped = true
            return result
        }
        if listener >= 0 {
            Glibc.shutdown(listener, Int32(SHUT_RDWR))
        }
        for socket in sockets { socket.shutdown() }
        _ = threads.wait(timeout: .now() + 10)
        if listener >= 0 { Glibc.close(listener) }
        unlink(path)
        rmdir(directory)
    }

    // MARK: What it saw

    /// Connections accepted so far.
    var connectionCount: Int { state.withLock { $0.received.count } }
    /// The bytes received on each connection, in accept order.
    var received: [[UInt8]] { state.withLock { $0.received } }
    /// Every byte received, connections concatenated in accept order.
    var allReceived: [UInt8] { state.withLock { $0.received.flatMap { $0 } } }
    /// Requests read completely (head and body), in order.
    var requests: [HTTPMessage] { state.withLock { $0.requests } }
    /// Problems the serving threads ran into (an unexpected end of stream, a timeout).
    var errors: [String] { state.withLock { $0.errors } }

    /// Waits until `count` requests were read completely.
    @discardableResult
    func waitForRequests(_ count: Int, timeout: Duration = .seconds(5)) -> Bool {
        eventually(timeout: timeout) { state.withLock { $0.requests.count >= count } }
    }

    /// Waits until `count` bytes arrived in all.
    @discardableResult
    func waitForBytes(_ count: Int, timeout: Duration = .seconds(5)) -> Bool {
        eventually(timeout: timeout) { state.withLock { $0.received.reduce(0) { $0 + $1.count } >= count } }
    }

    // MARK: Serving

    private func acceptLoop(_ listener: Int32) {
        while true {
            let fd = accept(listener, nil, nil)
            if fd < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                return
            }
            let socket = StreamSocket(fd: fd)
            let index = state.withLock { state -> Int? in
                guard !state.stopped else { return nil }
                state.sockets.append(socket)
                state.received.append([])
                return state.received.count - 1
            }
            guard let index else {
                socket.close()
                return
            }
            socket.onReceive = { [weak self] (bytes: ArraySlice<UInt8>) in
                self?.state.withLock { $0.received[index].append(contentsOf: bytes) }
            }
            threads.enter()
            Thread.detachNewThread { [self] in
                defer { threads.leave() }
                do {
                    try serve(socket)
                } catch {
                    state.withLock { $0.errors.append("connection \(index): \(error)") }
                }
                socket.close()
            }
        }
    }

    private func note(_ request: HTTPMessage) {
        state.withLock { $0.requests.append(request) }
    }

    private func serve(_ socket: StreamSocket) throws {
        let patience = Duration.seconds(10)
        while let head = try socket.read(through: Array("\r\n\r\n".utf8), timeout: patience) {
            var request = HTTPMessage(head: head)
            let framing = request.framing(isResponse: false)
            switch script(request) {
            case .bytes(let answer):
                try socket.readBody(of: &request, framing: framing, timeout: patience)
                note(request)
                try socket.send(answer)
            case .answer(let make):
                try socket.readBody(of: &request, framing: framing, timeout: patience)
                note(request)
                try socket.send(make(request))
            case .pieces(let pieces, let pause):
                try socket.readBody(of: &request, framing: framing, timeout: patience)
                note(request)
                for piece in pieces {
                    try socket.send(piece)
                    Thread.sleep(forTimeInterval: Double(pause / .milliseconds(1)) / 1000)
                }
            case .continueThen(let answer):
                try socket.send("HTTP/1.1 100 Continue\r\n\r\n")
                try socket.readBody(of: &request, framing: framing, timeout: patience)
                note(request)
                try socket.send(answer)
            case .early(let answer):
                try socket.send(answer)
                try? socket.readBody(of: &request, framing: framing, timeout: patience)
                note(request)
                _ = try? socket.readToEnd(timeout: patience)
                return
            case .thenClose(let answer):
                try socket.readBody(of: &request, framing: framing, timeout: patience)
                note(request)
                try socket.send(answer)
                return
            case .closeWithoutAnswer:
                try socket.readBody(of: &request, framing: framing, timeout: patience)
                note(request)
                return
            case .tunnel(let answer, let farewell):
                try socket.readBody(of: &request, framing: framing, timeout: patience)
                note(request)
                try socket.send(answer)
                while true {
                    let bytes = try socket.readSome(timeout: patience)
                    if bytes.isEmpty { break }
                    try socket.send(bytes)
                }
                try socket.send(farewell)
                socket.shutdownWrite()
                _ = try? socket.readToEnd(timeout: .seconds(2))
                return
            case .endless(let answer, let piece):
                note(request)
                try socket.send(answer)
                while (try? socket.send(piece)) != nil {
                    Thread.sleep(forTimeInterval: 0.002)
                }
                return
            case .custom(let body):
                note(request)
                if try !body(socket, request) { return }
            }
        }
    }
}

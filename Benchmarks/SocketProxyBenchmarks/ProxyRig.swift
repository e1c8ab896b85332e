// A proxy in process for the allocation benchmark: a fake daemon on a Unix socket, a proxy with one loop, and a
// blocking client; the daemon and the client use fixed buffers so that they allocate nothing themselves.
import SocketProxyCore

#if canImport(Glibc)
import Glibc
#endif

final class ProxyRig: @unchecked Sendable {
    /// The rig of the running benchmark (set up once, torn down after its iterations).
    nonisolated(unsafe) static var shared: ProxyRig?

    // SAFETY (@unchecked Sendable): the daemon thread only reads `answer` and the listening descriptor, which are
    // set before it starts and never change.
    private let directory: String
    private let daemonFD: Int32
    private let answer: [UInt8]
    private let server: ProxyServer
    private let audit: AuditWriter
    private let client: Int32
    private let buffer: UnsafeMutableRawBufferPointer
    private var daemonThread: LoopThread?

    init(response: [UInt8]) throws {
        answer = response
        var template = Array("/tmp/socket-proxy-bench-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw SystemError("mkdtemp", errno: errno) }
        directory = String(cString: made)
        let socketPath = directory + "/daemon.sock"
        daemonFD = try Socket.listen(on: .unix(socketPath), backlog: 16).rawValue
        // The listening socket is nonblocking; the fake daemon blocks.
        _ = fcntl(daemonFD, F_SETFL, fcntl(daemonFD, F_GETFL) & ~O_NONBLOCK)

        let profile = try TecnativaSettings(environment: ["CONTAINERS": "1"]).profile()
        var configuration = ProxyConfiguration(policy: PolicySnapshot(profile: profile))
        configuration.upstream = .unix(socketPath)
        configuration.listeners = [ListenerConfiguration(source: .address(try SocketAddress(parsing: "127.0.0.1:0")))]
        configuration.threads = 1
        let null = open("/dev/null", O_WRONLY | O_CLOEXEC)
        audit = try AuditWriter(backend: StreamAuditBackend(fd: null, format: .logfmt), threshold: .info)
        let sink: AuditSink = getenv("SOCKET_PROXY_BENCH_NO_AUDIT") == nil ? audit : DiscardingAuditSink()
        server = ProxyServer(configuration: configuration, audit: sink)
        try server.start()
        buffer = .allocate(byteCount: 1 << 16, alignment: 16)

        guard case .ipv4(_, let port) = server.listeningAddresses[0] else { throw SystemError("listen", errno: EINVAL) }
        client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(client, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw SystemError("connect", errno: errno) }
        let box = UnsafeBox(self)
        daemonThread = try LoopThread(name: "fake-daemon") { box.value.serveDaemon() }
    }

    /// Sends `request` and reads the whole answer (its length is known: the rig's fixed response).
    func roundTrip(_ request: [UInt8]) {
        request.withUnsafeBytes { bytes in
            var sent = 0
            while sent < bytes.count {
                let count = send(client, bytes.baseAddress! + sent, bytes.count - sent, 0)
                precondition(count > 0, "send to the proxy failed")
                sent += count
            }
        }
        var received = 0
        while received < answer.count {
            let count = recv(client, buffer.baseAddress! + received, buffer.count - received, 0)
            precondition(count > 0, "the proxy closed the connection")
            received += count
        }
    }

    /// The fake daemon: one connection at a time, a fixed answer to every request head.
    private func serveDaemon() {
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
        defer { scratch.deallocate() }
        while true {
            let connection = accept(daemonFD, nil, nil)
            if connection < 0 { return }
            var pending = 0
            serving: while true {
                let count = read(connection, scratch.baseAddress! + pending, scratch.count - pending)
                if count <= 0 { break }
                pending += count
                // Answer each complete head (the benchmark's requests have no body).
                while let end = Self.headEnd(UnsafeRawBufferPointer(rebasing: scratch[0..<pending])) {
                    let wrote = answer.withUnsafeBytes { write(connection, $0.baseAddress, $0.count) }
                    if wrote <= 0 { break serving }
                    (scratch.baseAddress!).copyMemory(from: scratch.baseAddress! + end, byteCount: pending - end)
                    pending -= end
                }
            }
            close(connection)
        }
    }

    private static func headEnd(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for index in 3..<bytes.count
        where bytes[index] == 10 && bytes[index - 1] == 13 && bytes[index - 2] == 10 && bytes[index - 3] == 13 {
            return index + 1
        }
        return nil
    }

    func stop() {
        close(client)
        server.shutdown(gracePeriod: .milliseconds(100))
        server.wait()
        audit.close()
        shutdown(daemonFD, Int32(SHUT_RDWR))
        close(daemonFD)
        daemonThread?.join()
        buffer.deallocate()
        unlink(directory + "/daemon.sock")
        rmdir(directory)
    }
}

/// Hands a reference to another thread.
struct UnsafeBox<T: AnyObject>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

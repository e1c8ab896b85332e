// socket-proxy started the way systemd starts it: systemd-socket-activate opens a named loopback socket, execs
// the proxy on the first connection with LISTEN_FDS, and NOTIFY_SOCKET names a datagram socket the test owns.
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A socket-activated proxy and the notifications it sends.
final class SocketActivatedProxy: @unchecked Sendable {
    // @unchecked: owned by one test; `RunningChild` and `NotifySocket` handle the cross-thread parts.
    /// The loopback port systemd-socket-activate listens on.
    let port: Int
    /// What the proxy tells the service manager.
    let notify: NotifySocket
    /// systemd-socket-activate, which becomes the proxy (same process id) on the first connection.
    let child: RunningChild
    private let logURL: URL

    private init(port: Int, notify: NotifySocket, child: RunningChild, logURL: URL) {
        self.port = port
        self.notify = notify
        self.child = child
        self.logURL = logURL
    }

    /// systemd-socket-activate's messages, then the proxy's stdout and stderr (logfmt audit lines with
    /// `--log-target stderr`).
    var log: String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }

    /// The name the socket is passed with (`--fdname`, like `FileDescriptorName=` in socket-proxy.socket).
    static let socketName = "api"

    /// Starts `systemd-socket-activate -l 127.0.0.1:PORT --fdname=api -E NOTIFY_SOCKET=... -E WATCHDOG_USEC=...
    /// -E SOCKET_PATH=... socket-proxy --log-target stderr ARGS` and waits until it listens. The proxy itself
    /// starts on the first connection. It is stopped when the test ends.
    static func start(
        _ test: IntegrationContext, socketPath: String, watchdogMicroseconds: Int = 1_000_000,
        arguments: [String] = []
    ) async throws -> SocketActivatedProxy {
        guard ChildProcess.which("systemd-socket-activate") != nil else {
            throw HarnessError(
                "systemd-socket-activate is not installed: the socket-activation tests need it (Debian package systemd)"
            )
        }
        let binary = try ProxyProcess.binaryPath()
        let notify = try NotifySocket(path: test.file("notify.sock").path)
        var lastError: HarnessError?
        // A port found free can be taken before systemd-socket-activate binds it: try a few.
        for _ in 0..<3 {
            let port = try ProxyProcess.freePort()
            let logURL = test.file("activate-\(port).log")
            _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
            let arguments =
                [
                    "--listen=127.0.0.1:\(port)", "--fdname=\(socketName)", "-E", "NOTIFY_SOCKET=\(notify.path)",
                    "-E", "WATCHDOG_USEC=\(watchdogMicroseconds)", "-E", "SOCKET_PATH=\(socketPath)", binary,
                    "--log-target", "stderr",
                ] + arguments
            let child = test.own(
                try ChildProcess.start("systemd-socket-activate", arguments, output: logURL, mergeErrors: true))
            let proxy = SocketActivatedProxy(port: port, notify: notify, child: child, logURL: logURL)
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(30)
            while clock.now < deadline && child.isRunning && !proxy.log.contains("Listening on") {
                try await Task.sleep(for: .milliseconds(20))
            }
            if proxy.log.contains("Listening on") && child.isRunning { return proxy }
            await child.stop()
            lastError = HarnessError("systemd-socket-activate did not listen on 127.0.0.1:\(port):\n\(tail(proxy.log))")
        }
        throw lastError ?? HarnessError("systemd-socket-activate did not start")
    }

    /// A connection to the activated socket (the first one makes systemd-socket-activate exec the proxy).
    func connect() throws -> RawHTTPConnection {
        try RawHTTPConnection.tcp(port: port)
    }

    /// Sends `GET path` on a fresh connection and returns the answer.
    func get(_ path: String) async throws -> RawResponse {
        let connection = try connect()
        defer { connection.close() }
        try await connection.send(RawRequest.make("GET", path, headers: [("Connection", "close")]))
        let exchange = try await connection.readResponses(count: 1, timeout: .seconds(15))
        guard let response = exchange.responses.first else {
            throw HarnessError("no answer to GET \(path) on the activated socket: \(exchange)\n\(tail(log))")
        }
        return response
    }
}

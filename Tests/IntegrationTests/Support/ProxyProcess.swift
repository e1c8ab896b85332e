// One socket-proxy process under test: its own port, its own policy environment, its stderr in a file.
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A running socket-proxy listening on 127.0.0.1.
final class ProxyProcess: @unchecked Sendable {
    // @unchecked: owned by one test; `RunningChild` handles the cross-thread parts.
    /// The TCP port it listens on.
    let port: Int
    /// The policy environment it was started with (CONTAINERS=1, POST=0, ...).
    let policy: [String: String]
    private let child: RunningChild
    private let logURL: URL

    private init(port: Int, policy: [String: String], child: RunningChild, logURL: URL) {
        self.port = port
        self.policy = policy
        self.child = child
        self.logURL = logURL
    }

    /// The docker CLI pointed through this proxy.
    var docker: DockerCLI { DockerCLI(host: "tcp://127.0.0.1:\(port)") }

    /// Everything the proxy wrote to stdout and stderr so far, for failure messages.
    var log: String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }

    /// Whether the process is still running.
    var isRunning: Bool { child.isRunning }

    /// The process id, for signals and `journalctl _PID=`.
    var pid: pid_t { child.pid }

    /// The exit status once the proxy has exited (128 + signal number for a signal), nil while it runs.
    var exitCode: Int32? { child.exitCode }

    /// Sends a signal to the proxy (SIGHUP reloads, SIGTERM stops).
    func signal(_ number: Int32) {
        child.signal(number)
    }

    /// Waits until the proxy exits by itself; false when it still runs after `timeout` (it is left running).
    func waitForExit(timeout: Duration) async -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while child.isRunning && clock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        return !child.isRunning
    }

    /// Waits until the proxy's output contains `text`; false when `timeout` passes first.
    func waitForLog(containing text: String, timeout: Duration = .seconds(10)) async -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while clock.now < deadline {
            if log.contains(text) { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return log.contains(text)
    }

    /// A fresh raw connection to the proxy.
    func connect() throws -> RawHTTPConnection {
        try RawHTTPConnection.tcp(port: port)
    }

    /// The binary under test: `SOCKET_PROXY_BINARY`, else `socket-proxy` next to the test bundle (the build
    /// folder `swift build` and `swift test` share).
    static func binaryPath() throws -> String {
        if let path = ProcessInfo.processInfo.environment["SOCKET_PROXY_BINARY"], !path.isEmpty {
            guard FileManager.default.isExecutableFile(atPath: path) else {
                throw HarnessError("SOCKET_PROXY_BINARY=\(path) is not an executable file")
            }
            return path
        }
        let testBinary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var folders = [testBinary.deletingLastPathComponent()]
        if let bundle = Bundle.main.executableURL?.resolvingSymlinksInPath() {
            folders.append(bundle.deletingLastPathComponent())
        }
        for folder in folders {
            // The .xctest may be a bundle folder on some layouts; walk up until a socket-proxy sits beside it.
            var current = folder
            for _ in 0..<3 {
                let candidate = current.appendingPathComponent("socket-proxy").path
                if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
                current = current.deletingLastPathComponent()
            }
        }
        throw HarnessError(
            "the socket-proxy binary is missing next to the tests (looked in \(folders.map(\.path))): run "
                + "`swift build` with the same --scratch-path first (scripts/test.sh does), or set SOCKET_PROXY_BINARY")
    }

    /// Starts the proxy with exactly `policy` as its policy environment (nothing else from the test process
    /// leaks in but PATH and HOME), listening on a free loopback port and forwarding to `socketPath`, and waits
    /// until it accepts connections.
    ///
    /// - Parameter launcher: a command that execs the proxy in the same process (so the process id stays the
    ///   proxy's), e.g. `["prlimit", "--nofile=64:64", "--"]` or `["nsenter", "--target", PID, "--mount", "--"]`.
    static func start(
        policy: [String: String], socketPath: String, arguments extra: [String] = [],
        readiness: Duration = .seconds(30), launcher: [String] = []
    ) async throws -> ProxyProcess {
        let binary = try binaryPath()
        var lastError: HarnessError?
        // A port found free can be taken by someone else before the proxy binds it: try a few.
        for _ in 0..<3 {
            let port = try freePort()
            let logURL = ChildProcess.scratch.appendingPathComponent("proxy-\(port)-\(UUID().uuidString.prefix(8)).log")
            _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
            let inherited = ProcessInfo.processInfo.environment
            var environment = ["PATH": inherited["PATH"] ?? "/usr/bin:/bin", "HOME": inherited["HOME"] ?? "/root"]
            environment.merge(policy) { _, new in new }
            let arguments = ["--listen", "127.0.0.1:\(port)", "--socket-path", socketPath] + extra
            let command = launcher + [binary] + arguments
            let child = try ChildProcess.start(
                command[0], Array(command.dropFirst()), environment: environment, output: logURL, mergeErrors: true)
            let proxy = ProxyProcess(port: port, policy: policy, child: child, logURL: logURL)
            let clock = ContinuousClock()
            let deadline = clock.now + readiness
            while clock.now < deadline {
                // Something accepting on the port proves nothing by itself: another test's proxy may have taken
                // it between freePort() and our bind. Only a listening socket of this very process counts.
                if child.isRunning, ownsListener(pid: child.pid, port: port),
                    let connection = try? RawHTTPConnection.tcp(port: port)
                {
                    connection.close()
                    return proxy
                }
                guard child.isRunning else { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            let ranOut = child.isRunning
            let exitCode = child.exitCode
            await proxy.stop()
            let what =
                ranOut
                ? "did not accept connections within \(readiness)"
                : "exited with status \(exitCode ?? -1) before accepting connections"
            lastError = HarnessError(
                "socket-proxy \(what) (\(command.joined(separator: " "))), policy "
                    + "\(policy.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))), "
                    + "its output:\n\(tail(proxy.log))")
            if ranOut { break }
        }
        throw lastError ?? HarnessError("socket-proxy did not start")
    }

    /// Stops the proxy with SIGTERM (SIGKILL once `grace` has passed) and returns whether it exited by itself.
    /// The default grace outlasts the proxy's own drain time for running requests (10 s).
    @discardableResult
    func stop(grace: Duration = .seconds(12)) async -> Bool {
        guard child.isRunning else { return true }
        child.signal(SIGTERM)
        let clock = ContinuousClock()
        let deadline = clock.now + grace
        while child.isRunning && clock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        let exited = !child.isRunning
        await child.stop(grace: .zero)
        _ = await child.wait(timeout: .seconds(1))
        return exited
    }

    /// Whether process `pid` holds the socket listening on 127.0.0.1:`port` (from /proc/net/tcp and /proc/PID/fd).
    static func ownsListener(pid: pid_t, port: Int) -> Bool {
        guard let table = try? String(contentsOfFile: "/proc/net/tcp", encoding: .utf8) else { return false }
        let wanted = String(format: ":%04X", port)
        var inodes: Set<String> = []
        for line in table.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            // sl local_address rem_address st ... inode (field 9)
            guard fields.count > 9, fields[1].hasSuffix(wanted), fields[3] == "0A" else { continue }
            inodes.insert(String(fields[9]))
        }
        guard !inodes.isEmpty,
            let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")
        else { return false }
        for entry in entries {
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(entry)"),
                target.hasPrefix("socket:[")
            else { continue }
            if inodes.contains(String(target.dropFirst(8).dropLast())) { return true }
        }
        return false
    }

    /// Finds a loopback port nobody listens on by binding port 0 and reading back what the kernel chose.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw HarnessError("socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else { throw HarnessError("bind 127.0.0.1:0: \(String(cString: strerror(errno)))") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { throw HarnessError("getsockname: \(String(cString: strerror(errno)))") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

// A socket-proxy started with exactly the arguments a test gives (a policy file with its own listeners, a mode),
// its standard output and standard error kept apart, and its logfmt audit lines read back.
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A running socket-proxy whose listeners the test chose. Unlike ``ProxyProcess`` it adds no `--listen`: the
/// addresses come from the test's policy file or arguments, and readiness means this process owns every one of them.
final class ConfiguredProxy: @unchecked Sendable {
    // @unchecked: owned by one test; `RunningChild` guards the cross-thread parts.
    /// The TCP ports the test picked for it, in the order the arguments closure got them.
    let ports: [Int]
    /// The Unix socket paths it listens on.
    let unixPaths: [String]
    /// The whole command line, for messages.
    let commandLine: String
    private let child: RunningChild

    private init(ports: [Int], unixPaths: [String], commandLine: String, child: RunningChild) {
        self.ports = ports
        self.unixPaths = unixPaths
        self.commandLine = commandLine
        self.child = child
    }

    /// The process id, for signals.
    var pid: pid_t { child.pid }
    /// Whether it still runs.
    var isRunning: Bool { child.isRunning }
    /// Its exit status once it has exited.
    var exitCode: Int32? { child.exitCode }
    /// Everything it wrote to standard output (learn mode's policy goes there, and nothing else).
    var stdout: String { child.stdoutSoFar }
    /// Everything it wrote to standard error (log messages, and audit lines with `--log-target stderr`).
    var stderr: String { child.stderrSoFar }
    /// Both, for failure messages.
    var output: String { "--- \(commandLine)\n--- stdout ---\n\(tail(stdout))\n--- stderr ---\n\(tail(stderr))" }

    /// The docker CLI pointed at one of its TCP listeners.
    func docker(port: Int) -> DockerCLI { DockerCLI(host: "tcp://127.0.0.1:\(port)") }

    /// A raw connection to one of its TCP listeners.
    func connect(port: Int) throws -> RawHTTPConnection { try RawHTTPConnection.tcp(port: port) }

    /// Sends a signal.
    func signal(_ number: Int32) { child.signal(number) }

    /// SIGTERM, then waits for the exit (SIGKILL after `grace`); returns the exit status.
    @discardableResult
    func stop(grace: Duration = .seconds(12)) async -> Int32? {
        child.signal(SIGTERM)
        let clock = ContinuousClock()
        let deadline = clock.now + grace
        while child.isRunning && clock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        if child.isRunning { await child.stop(grace: .zero) }
        return child.exitCode
    }

    /// Starts socket-proxy with `--socket-path` (the test daemon) followed by what `arguments` returns for `tcpPorts`
    /// freshly picked free loopback ports, and waits until the process owns a listening socket on each of those
    /// ports and at each of `unixPaths`. A port taken by someone else between picking and binding makes the proxy
    /// exit; then new ports are picked (the closure is called again, so it can rewrite its policy file).
    /// The process is stopped when the test ends.
    static func start(
        _ test: IntegrationContext, tcpPorts: Int, unixPaths: [String] = [], environment: [String: String] = [:],
        readiness: Duration = .seconds(30), arguments: ([Int]) throws -> [String]
    ) async throws -> ConfiguredProxy {
        let binary = try ProxyProcess.binaryPath()
        var lastError = HarnessError("socket-proxy did not start")
        for _ in 0..<3 {
            var ports: [Int] = []
            while ports.count < tcpPorts {
                let port = try ProxyProcess.freePort()
                if !ports.contains(port) { ports.append(port) }
            }
            let inherited = ProcessInfo.processInfo.environment
            var childEnvironment = ["PATH": inherited["PATH"] ?? "/usr/bin:/bin", "HOME": inherited["HOME"] ?? "/root"]
            childEnvironment.merge(environment) { _, new in new }
            let argv = ["--socket-path", test.daemon.socketPath] + (try arguments(ports))
            let commandLine =
                environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value) " }.joined() + "socket-proxy "
                + argv.joined(separator: " ")
            let child = test.own(try ChildProcess.start(binary, argv, environment: childEnvironment))
            let proxy = ConfiguredProxy(ports: ports, unixPaths: unixPaths, commandLine: commandLine, child: child)
            let clock = ContinuousClock()
            let deadline = clock.now + readiness
            while clock.now < deadline && child.isRunning {
                if ports.allSatisfy({ ProxyProcess.ownsListener(pid: child.pid, port: $0) })
                    && unixPaths.allSatisfy({ ownsUnixListener(pid: child.pid, path: $0) })
                {
                    return proxy
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            let ranOut = child.isRunning
            await proxy.stop(grace: .seconds(2))
            lastError = HarnessError(
                "socket-proxy "
                    + (ranOut
                        ? "did not listen on ports \(ports) and \(unixPaths) within \(readiness)"
                        : "exited with status \(proxy.exitCode ?? -1) before listening")
                    + ":\n\(proxy.output)")
            // Only a port lost to someone else is worth another try; anything else fails the same way again.
            if ranOut || !proxy.stderr.contains("in use") { break }
        }
        throw lastError
    }

    /// Whether process `pid` holds the listening Unix socket bound at `path` (from /proc/net/unix and /proc/PID/fd).
    static func ownsUnixListener(pid: pid_t, path: String) -> Bool {
        guard let table = try? String(contentsOfFile: "/proc/net/unix", encoding: .utf8) else { return false }
        var inodes: Set<String> = []
        // Num RefCount Protocol Flags Type St Inode Path; St 01 is "unconnected", which a listening socket stays.
        for line in table.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 8, fields[7] == path[...], fields[5] == "01" else { continue }
            inodes.insert(String(fields[6]))
        }
        guard !inodes.isEmpty, let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")
        else { return false }
        for entry in entries {
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(entry)"),
                target.hasPrefix("socket:[")
            else { continue }
            if inodes.contains(String(target.dropFirst(8).dropLast())) { return true }
        }
        return false
    }
}

/// The logfmt audit records in a proxy's standard error (`--log-target stderr`): the lines that start with
/// `level=`, parsed.
struct AuditLines {
    /// Every record, in the order written.
    let records: [[String: String]]

    init(_ text: String) throws {
        records = try text.split(separator: "\n").filter { $0.hasPrefix("level=") }.map {
            try LogfmtLine.parse(String($0))
        }
    }

    /// Reads `text()` again and again until `done` holds for the records or `timeout` passes; returns the last
    /// reading either way.
    static func wait(
        timeout: Duration = .seconds(10), _ text: () -> String, until done: ([[String: String]]) -> Bool
    ) async throws -> [[String: String]] {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while true {
            let records = try AuditLines(text()).records
            if done(records) || clock.now >= deadline { return records }
            try await Task.sleep(for: .milliseconds(30))
        }
    }
}

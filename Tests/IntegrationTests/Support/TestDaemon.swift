// The Docker daemon every integration test talks to: the one named by SOCKET_PROXY_TEST_DOCKER_SOCKET, or a
// private dockerd this test process starts once and that goes away with it.
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A running Docker daemon reachable on a Unix socket.
struct TestDaemon: Sendable {
    /// The daemon's socket.
    let socketPath: String
    /// Where it came from, for messages ("SOCKET_PROXY_TEST_DOCKER_SOCKET", "private dockerd in /tmp/…").
    let origin: String
    /// The daemon's version, read once when it came up.
    let version: DaemonVersion

    /// The daemon's API, straight on its socket.
    var api: DockerAPI { DockerAPI(socketPath: socketPath) }
    /// The docker CLI straight on the daemon's socket.
    var docker: DockerCLI { DockerCLI(host: "unix://" + socketPath) }

    /// The environment variable that names an existing daemon's socket.
    static let socketVariable = "SOCKET_PROXY_TEST_DOCKER_SOCKET"

    /// The daemon for this test process, started on first use. Fails with what is missing when there is none.
    static func shared() async throws -> TestDaemon {
        try await DaemonRegistry.shared.daemon()
    }
}

/// Starts or finds the daemon once per process; every caller gets the same daemon, or the same error.
private actor DaemonRegistry {
    static let shared = DaemonRegistry()
    /// The shell that owns the private dockerd; kept so that its `Process` lives as long as the test process.
    nonisolated(unsafe) private static var watchdog: RunningChild?
    private var task: Task<TestDaemon, Error>?

    func daemon() async throws -> TestDaemon {
        if let task { return try await task.value }
        let task = Task { try await Self.findOrStart() }
        self.task = task
        return try await task.value
    }

    private static func findOrStart() async throws -> TestDaemon {
        let environment = ProcessInfo.processInfo.environment
        if let socketPath = environment[TestDaemon.socketVariable], !socketPath.isEmpty {
            let api = DockerAPI(socketPath: socketPath)
            guard await api.ping() else {
                throw HarnessError(
                    "\(TestDaemon.socketVariable)=\(socketPath) but no Docker daemon answers GET /_ping there")
            }
            return TestDaemon(
                socketPath: socketPath, origin: TestDaemon.socketVariable, version: try await api.version())
        }
        guard geteuid() == 0, let dockerd = ChildProcess.which("dockerd") else {
            throw HarnessError(
                "integration tests need a Docker daemon: set SOCKET_PROXY_TEST_DOCKER_SOCKET or run as root with "
                    + "dockerd installed (euid \(geteuid()), dockerd "
                    + (ChildProcess.which("dockerd") ?? "not found on PATH") + ")")
        }
        return try await startPrivateDaemon(dockerd: dockerd)
    }

    /// Starts dockerd in a fresh folder under /tmp (short, because Unix socket paths are limited to 107 bytes)
    /// behind a watchdog shell that stops it and removes the folder once this test process is gone, however it
    /// ends.
    private static func startPrivateDaemon(dockerd: String) async throws -> TestDaemon {
        var template = Array("/tmp/spit-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else {
            throw HarnessError("mkdtemp for the private dockerd: \(String(cString: strerror(errno)))")
        }
        let folder = String(cString: made)
        let socketPath = folder + "/docker.sock"
        let logPath = folder + "/dockerd.log"
        // A namespace of its own in case dockerd attaches to a system containerd shared with other daemons.
        let namespace = "socket-proxy-test-\(getpid())"
        let arguments = [
            dockerd, "--host", "unix://" + socketPath, "--data-root", folder + "/data", "--exec-root",
            folder + "/exec", "--pidfile", folder + "/docker.pid", "--iptables=false", "--ip-masq=false",
            "--bridge=none", "--storage-driver=vfs", "--containerd-namespace", namespace,
            "--containerd-plugins-namespace", namespace + "-plugins",
        ]
        let script = """
            folder=$1; parent=$2; log=$3; shift 3
            "$@" >"$log" 2>&1 </dev/null &
            daemon=$!
            while kill -0 "$parent" 2>/dev/null && kill -0 "$daemon" 2>/dev/null; do sleep 0.5; done
            kill -TERM "$daemon" 2>/dev/null
            i=0
            while kill -0 "$daemon" 2>/dev/null && [ $i -lt 60 ]; do sleep 0.5; i=$((i+1)); done
            kill -KILL "$daemon" 2>/dev/null
            if ! kill -0 "$parent" 2>/dev/null; then rm -rf "$folder" 2>/dev/null; fi
            """
        let child = try ChildProcess.start(
            "/bin/sh", ["-c", script, "socket-proxy-test-watchdog", folder, String(getpid()), logPath] + arguments)
        watchdog = child
        let api = DockerAPI(socketPath: socketPath)
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(90)
        while clock.now < deadline {
            if await api.ping() {
                let version = try await api.version()
                FileHandle.standardError.write(
                    Data("integration tests: started private dockerd \(version.version) on \(socketPath)\n".utf8))
                return TestDaemon(socketPath: socketPath, origin: "private dockerd in \(folder)", version: version)
            }
            guard child.isRunning else {
                let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
                throw HarnessError("the private dockerd (\(folder)) exited before answering:\n\(tail(log))")
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        throw HarnessError("the private dockerd (\(folder)) did not answer within 90 s:\n\(tail(log))")
    }
}

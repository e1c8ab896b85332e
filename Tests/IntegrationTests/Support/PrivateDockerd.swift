// A second Docker daemon that one test owns and may kill, stop and start again: the daemon-failure tests need one
// they can take away without disturbing the shared daemon every other test uses.
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A dockerd in a fresh folder under /tmp (its own data root, exec root, socket and containerd), started by a
/// test. It can be killed (SIGKILL: a crash, the socket file stays and refuses connections), stopped (SIGTERM:
/// dockerd removes its socket) and started again on the same data, which takes well under a second.
///
/// A watchdog shell kills it and removes its folder if the test process dies without cleaning up.
final class PrivateDockerd: @unchecked Sendable {
    // @unchecked: owned by one test task.
    /// The folder holding everything of this daemon.
    let folder: String
    /// Its API socket.
    let socketPath: String
    private let logPath: String
    private let namespace: String
    private var child: RunningChild?
    private var watchdog: RunningChild?
    /// The daemon as the harness's other helpers want it (API, CLI, test image), valid while it runs.
    private(set) var daemon: TestDaemon

    private init(folder: String, namespace: String, daemon: TestDaemon) {
        self.folder = folder
        self.socketPath = folder + "/docker.sock"
        self.logPath = folder + "/dockerd.log"
        self.namespace = namespace
        self.daemon = daemon
    }

    /// The daemon's API on its own socket.
    var api: DockerAPI { DockerAPI(socketPath: socketPath) }
    /// The docker CLI straight on its socket.
    var docker: DockerCLI { DockerCLI(host: "unix://" + socketPath) }
    /// Its log so far, for failure messages.
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
    /// Whether the dockerd process runs.
    var isRunning: Bool { child?.isRunning ?? false }

    /// Runs `body` with a fresh private daemon (with the test image imported), and removes the daemon and its
    /// folder afterwards, also when `body` throws.
    static func with<T>(_ test: IntegrationContext, _ body: (PrivateDockerd) async throws -> T) async throws -> T {
        guard geteuid() == 0, ChildProcess.which("dockerd") != nil else {
            throw HarnessError(
                "the daemon-failure tests start a second, private dockerd they can stop and restart: that needs root "
                    + "and dockerd installed (euid \(geteuid()), dockerd "
                    + (ChildProcess.which("dockerd") ?? "not found on PATH") + ")")
        }
        var template = Array("/tmp/spfd-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else {
            throw HarnessError("mkdtemp for the private dockerd: \(String(cString: strerror(errno)))")
        }
        let folder = String(cString: made)
        let namespace = "socket-proxy-fault-\(getpid())-\(test.tag)"
        let placeholder = TestDaemon(
            socketPath: folder + "/docker.sock", origin: "private dockerd in \(folder)",
            version: DaemonVersion(version: "", apiVersion: "", minAPIVersion: nil, os: nil))
        let daemon = PrivateDockerd(folder: folder, namespace: namespace, daemon: placeholder)
        do {
            try daemon.startWatchdog()
            try await daemon.start()
            try await TestImage.ensure(on: daemon.daemon)
            let result = try await body(daemon)
            await daemon.remove()
            return result
        } catch {
            await daemon.remove()
            throw error
        }
    }

    /// Starts dockerd (again) and waits until it answers `/_ping`.
    func start(timeout: Duration = .seconds(60)) async throws {
        guard !isRunning else { return }
        // A killed dockerd leaves pid files behind; its containerd may still be a zombie that a fresh dockerd
        // would wait for ("containerd is still running") until it times out. Without them it starts a new one.
        unlink(folder + "/docker.pid")
        unlink(folder + "/exec/containerd/containerd.pid")
        let arguments = [
            "--host", "unix://" + socketPath, "--data-root", folder + "/data", "--exec-root", folder + "/exec",
            "--pidfile", folder + "/docker.pid", "--iptables=false", "--ip-masq=false", "--bridge=none",
            "--storage-driver=vfs", "--containerd-namespace", namespace, "--containerd-plugins-namespace",
            namespace + "-plugins",
        ]
        let started = try ChildProcess.start(
            "dockerd", arguments, output: URL(fileURLWithPath: logPath), mergeErrors: true)
        child = started
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while clock.now < deadline {
            if await api.ping() {
                let version = try await api.version()
                daemon = TestDaemon(socketPath: socketPath, origin: "private dockerd in \(folder)", version: version)
                return
            }
            guard started.isRunning else {
                throw HarnessError("the private dockerd in \(folder) exited before answering:\n\(tail(log))")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw HarnessError("the private dockerd in \(folder) did not answer within \(timeout):\n\(tail(log))")
    }

    /// Kills dockerd with SIGKILL, as a crash would, and waits until it is gone. Its socket file stays behind and
    /// refuses connections (ECONNREFUSED).
    func kill() async throws {
        guard let child, child.isRunning else { return }
        child.signal(SIGKILL)
        _ = await child.wait(timeout: .seconds(10))
        guard !child.isRunning else { throw HarnessError("the private dockerd survived SIGKILL") }
        self.child = nil
    }

    /// Stops dockerd with SIGTERM, as `systemctl stop docker` would, and waits until it has exited; it removes its
    /// socket file on the way out (connecting then fails with ENOENT).
    func stop(timeout: Duration = .seconds(30)) async throws {
        guard let child, child.isRunning else { return }
        let result = await child.wait(timeout: timeout, signal: SIGTERM)
        self.child = nil
        if result.timedOut { throw HarnessError("the private dockerd did not stop within \(timeout) of SIGTERM") }
    }

    /// Force-removes every container, stops the daemon and removes its folder.
    func remove() async {
        if isRunning, let containers = try? await api.containers() {
            for container in containers { await api.removeContainer(container.id) }
        }
        if let child, child.isRunning {
            child.signal(SIGTERM)
            let result = await child.wait(timeout: .seconds(20))
            if result.timedOut { child.signal(SIGKILL) }
        }
        child = nil
        // The watchdog removes the folder when it is told to stop (see startWatchdog).
        if let watchdog {
            watchdog.signal(SIGUSR1)
            _ = await watchdog.wait(timeout: .seconds(30))
        }
        watchdog = nil
    }

    /// A shell that, once this test process is gone (or on SIGUSR1 from `remove`), kills whatever dockerd the pid
    /// file names and removes the folder, so that a crashed test run leaves no daemon behind.
    private func startWatchdog() throws {
        let script = """
            folder=$1; parent=$2
            done=0
            trap 'done=1' USR1
            while [ "$done" = 0 ] && kill -0 "$parent" 2>/dev/null; do sleep 0.2; done
            if [ -f "$folder/docker.pid" ]; then
                daemon=$(cat "$folder/docker.pid")
                if [ -n "$daemon" ] && [ "$(cat /proc/$daemon/comm 2>/dev/null)" = dockerd ]; then
                    kill -TERM "$daemon" 2>/dev/null
                    i=0
                    while kill -0 "$daemon" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.2; i=$((i+1)); done
                    kill -KILL "$daemon" 2>/dev/null
                fi
            fi
            # Container shared-memory mounts outlive a killed daemon; unmount them before removing the folder.
            grep -o " $folder/[^ ]*" /proc/self/mounts | sort -r | while read -r mount; do umount -l "$mount"; done
            rm -rf "$folder"
            """
        watchdog = try ChildProcess.start(
            "/bin/bash", ["-c", script, "socket-proxy-fault-dockerd-watchdog", folder, String(getpid())])
    }
}

extension RunningChild {
    /// Sends `signal`, then waits like ``wait(timeout:)`` (SIGTERM, then SIGKILL, once `timeout` passes).
    func wait(timeout: Duration, signal number: Int32) async -> ChildResult {
        signal(number)
        return await wait(timeout: timeout)
    }
}

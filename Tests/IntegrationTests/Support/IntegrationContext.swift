// One test's view of the harness: the shared daemon, the proxies it started, its scratch folder, and the
// containers, images, volumes and networks to remove when it ends, whether it passed or not.
//
// The harness reads these environment variables:
//   SOCKET_PROXY_TEST_DOCKER_SOCKET  the daemon to use (a Unix socket path); unset, a private dockerd is started
//                                    when running as root with dockerd installed, else every test fails saying so
//   SOCKET_PROXY_BINARY              the proxy to test; default: socket-proxy next to the test binaries
//   SOCKET_PROXY_TEST_DOCKER_CLI     the docker CLI; default: docker on PATH
//   SOCKET_PROXY_TEST_BUSYBOX        the static busybox for the test image; default: /bin/busybox
//   SOCKET_PROXY_TEST_SKIP_LARGE=1   skip the 1 GiB transfer and the concurrent 100 MiB transfers of FaultTests
//                                    (reported as skipped)
import Foundation

/// Everything one integration test needs; made by `IntegrationContext.run`.
final class IntegrationContext: @unchecked Sendable {
    // @unchecked: a context belongs to the one test task that `run` hands it to.
    /// The daemon.
    let daemon: TestDaemon
    /// A folder of this test's own, removed at the end.
    let folder: URL
    /// A short random tag unique to this test, used in names and labels.
    let tag: String

    private var proxies: [ProxyProcess] = []
    private var containers: [String] = []
    private var images: [String] = []
    private var volumes: [String] = []
    private var networks: [String] = []
    private var children: [RunningChild] = []

    private init(daemon: TestDaemon) throws {
        self.daemon = daemon
        self.tag = String(UUID().uuidString.lowercased().filter { $0 != "-" }.prefix(10))
        self.folder = ChildProcess.scratch.appendingPathComponent("test-\(tag)", isDirectory: true)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    /// Runs `body` with a fresh context on the shared daemon (with the test image imported), then cleans up
    /// everything the test registered, also when it throws.
    static func run<T>(_ body: (IntegrationContext) async throws -> T) async throws -> T {
        let daemon = try await TestDaemon.shared()
        try await TestImage.ensure(on: daemon)
        let context = try IntegrationContext(daemon: daemon)
        do {
            let result = try await body(context)
            await context.cleanUp()
            return result
        } catch {
            await context.cleanUp()
            throw error
        }
    }

    /// The daemon's API on its own socket.
    var api: DockerAPI { daemon.api }
    /// The docker CLI straight on the daemon's socket.
    var direct: DockerCLI { daemon.docker }

    /// The label put on every container a test creates or tries to create, so that "nothing was created" can be
    /// checked even when a request got through under another name.
    var label: String { "socket-proxy-test.case=\(tag)" }

    /// A container, image, volume or network name unique to this test, removed at the end if it exists.
    func name(_ hint: String, kind: ResourceKind = .container) -> String {
        let name = "spt-\(hint)-\(tag)"
        switch kind {
        case .container: containers.append(name)
        case .image: images.append(name)
        case .volume: volumes.append(name)
        case .network: networks.append(name)
        }
        return name
    }

    /// What kind of daemon object a name is for, so that cleanup knows how to remove it.
    enum ResourceKind {
        case container, image, volume, network
    }

    /// Removes this image at the end (by reference or ID).
    func removeImageAtEnd(_ reference: String) {
        images.append(reference)
    }

    /// Starts a proxy with this policy environment; it is stopped at the end. `socketPath` replaces the daemon's
    /// socket (e.g. with a missing one); `launcher` execs the proxy (see ``ProxyProcess/start``).
    func startProxy(
        _ policy: [String: String], arguments: [String] = [], socketPath: String? = nil, launcher: [String] = []
    ) async throws -> ProxyProcess {
        let proxy = try await ProxyProcess.start(
            policy: policy, socketPath: socketPath ?? daemon.socketPath, arguments: arguments, launcher: launcher)
        proxies.append(proxy)
        return proxy
    }

    /// Keeps a background command (docker events, attach) to be stopped at the end.
    func own(_ child: RunningChild) -> RunningChild {
        children.append(child)
        return child
    }

    /// A container started directly on the daemon (not through a proxy), running `command`, labelled with this
    /// test's label; returns its name.
    func runContainer(_ hint: String, _ command: [String], options: [String] = []) async throws -> String {
        let name = name(hint)
        try await direct.succeed(
            ["run", "-d", "--network", "none", "--name", name, "--label", label] + options + [TestImage.reference]
                + command)
        return name
    }

    /// A container created but not started, directly on the daemon; returns its name.
    func createContainer(_ hint: String, _ command: [String], options: [String] = []) async throws -> String {
        let name = name(hint)
        try await direct.succeed(
            ["create", "--network", "none", "--name", name, "--label", label] + options + [TestImage.reference]
                + command)
        return name
    }

    /// The actions (`create`, `start`, `exec_create: sh`, ...) the daemon logged for a container from `since` until
    /// now, read directly from the daemon.
    func events(of container: String, since: Date) async throws -> [String] {
        let until = Date().addingTimeInterval(0.5)
        let result = try await direct.succeed(
            [
                "events", "--since", Self.timestamp(since.addingTimeInterval(-1)), "--until", Self.timestamp(until),
                "--filter", "container=\(container)", "--format", "{{.Action}}",
            ],
            timeout: .seconds(30))
        return result.lines
    }

    /// A Unix timestamp with microseconds, the form `docker events --since/--until` take.
    static func timestamp(_ date: Date) -> String {
        String(format: "%.6f", date.timeIntervalSince1970)
    }

    /// A file in this test's folder.
    func file(_ name: String) -> URL {
        folder.appendingPathComponent(name)
    }

    /// Writes `size` random bytes (from /dev/urandom) to a file in this test's folder.
    func randomFile(_ name: String, size: Int) throws -> URL {
        let url = file(name)
        guard let source = FileHandle(forReadingAtPath: "/dev/urandom") else {
            throw HarnessError("cannot open /dev/urandom")
        }
        defer { try? source.close() }
        _ = FileManager.default.createFile(atPath: url.path, contents: nil)
        let sink = try FileHandle(forWritingTo: url)
        defer { try? sink.close() }
        var remaining = size
        while remaining > 0 {
            let data = try source.read(upToCount: min(remaining, 1 << 20)) ?? Data()
            guard !data.isEmpty else { throw HarnessError("short read from /dev/urandom") }
            try sink.write(contentsOf: data)
            remaining -= data.count
        }
        return url
    }

    private func cleanUp() async {
        for child in children { await child.stop(grace: .seconds(2)) }
        for proxy in proxies { await proxy.stop() }
        for container in containers { await api.removeContainer(container) }
        for image in images { await api.removeImage(image) }
        for volume in volumes { await api.removeVolume(volume) }
        for network in networks { await api.removeNetwork(network) }
        try? FileManager.default.removeItem(at: folder)
    }
}

/// The SHA-256 of a file, as hex, computed by coreutils' sha256sum (Foundation on Linux has no digest API).
func sha256(of url: URL) async throws -> String {
    let result = try await ChildProcess.run("sha256sum", ["-b", url.path], timeout: .seconds(300))
    guard result.succeeded, let digest = result.stdout.split(separator: " ").first, digest.count == 64 else {
        throw HarnessError("sha256sum \(url.path) failed:\n\(result)")
    }
    return String(digest)
}

/// The size of a file in bytes, or -1 when it does not exist.
func fileSize(_ url: URL) -> Int {
    ((try? FileManager.default.attributesOfItem(atPath: url.path))?[.size] as? NSNumber)?.intValue ?? -1
}

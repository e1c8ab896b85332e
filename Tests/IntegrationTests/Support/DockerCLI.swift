// The real docker CLI, pointed either through a proxy (tcp://127.0.0.1:PORT) or straight at the daemon's socket.
import Foundation

/// The docker CLI bound to one `DOCKER_HOST`.
struct DockerCLI: Sendable {
    /// The `DOCKER_HOST` value: `tcp://127.0.0.1:PORT` through a proxy, `unix:///path` direct.
    let host: String

    /// The CLI executable: `SOCKET_PROXY_TEST_DOCKER_CLI` if set, else `docker` on PATH.
    static var executable: String {
        ProcessInfo.processInfo.environment["SOCKET_PROXY_TEST_DOCKER_CLI"] ?? "docker"
    }

    /// An empty configuration folder, so that no user's contexts, credential helpers or plugins change what
    /// the CLI does.
    static let configFolder: URL = {
        let url = ChildProcess.scratch.appendingPathComponent("docker-config", isDirectory: true)
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        try? Data("{}".utf8).write(to: url.appendingPathComponent("config.json"))
        return url
    }()

    /// The environment the CLI runs with: nothing from the caller's docker settings leaks in.
    func environment(_ extra: [String: String] = [:]) -> [String: String] {
        let inherited = ProcessInfo.processInfo.environment
        var environment = [
            "PATH": inherited["PATH"] ?? "/usr/local/bin:/usr/bin:/bin",
            "HOME": inherited["HOME"] ?? "/root",
            "DOCKER_HOST": host,
            "DOCKER_CONFIG": Self.configFolder.path,
            "DOCKER_CLI_HINTS": "false",
        ]
        environment.merge(extra) { _, new in new }
        return environment
    }

    /// Runs `docker ARGS` to completion.
    func run(
        _ arguments: [String], input: ChildInput = .none, timeout: Duration = .seconds(60),
        environment extra: [String: String] = [:]
    ) async throws -> ChildResult {
        try await ChildProcess.run(
            Self.executable, arguments, environment: environment(extra), input: input, timeout: timeout)
    }

    /// Runs `docker ARGS` and throws, with its output, unless it succeeds.
    @discardableResult
    func succeed(
        _ arguments: [String], input: ChildInput = .none, timeout: Duration = .seconds(60),
        environment extra: [String: String] = [:]
    ) async throws -> ChildResult {
        let result = try await run(arguments, input: input, timeout: timeout, environment: extra)
        guard result.succeeded else { throw HarnessError("docker on \(host) failed:\n\(result)") }
        return result
    }

    /// Starts `docker ARGS` in the background (for `events`, `attach`, `logs -f`).
    func start(
        _ arguments: [String], input: ChildInput = .none, environment extra: [String: String] = [:]
    ) throws -> RunningChild {
        try ChildProcess.start(Self.executable, arguments, environment: environment(extra), input: input)
    }
}

/// What the docker CLI prints when the proxy answers 403 with `{"message":"socket-proxy: ..."}`.
let proxyDenialText = "Error response from daemon: socket-proxy:"

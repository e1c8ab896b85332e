// `socket-proxy healthcheck`: exit 0 when the proxy and the daemon behind it answer, 1 with a reason otherwise.
import Foundation
import Testing

// Serialized: every test starts a proxy, and the whole integration run starts them all at once otherwise; on two
// cores that many proxies and docker CLIs starting together miss the harness's 10 s start-up limit.
@Suite("socket-proxy healthcheck", .serialized)
struct HealthcheckTests {
    /// Runs `socket-proxy healthcheck ARGS` with only PATH and `environment` set.
    static func healthcheck(_ arguments: [String], environment: [String: String] = [:]) async throws -> ChildResult {
        var variables = ["PATH": "/usr/bin:/bin"]
        variables.merge(environment) { _, new in new }
        return try await ChildProcess.run(
            try ProxyProcess.binaryPath(), ["healthcheck"] + arguments, environment: variables, timeout: .seconds(20))
    }

    @Test func exitsZeroAgainstAWorkingProxy() async throws {
        try await IntegrationContext.run { test in
            let proxy = try await test.startProxy([:])
            let result = try await Self.healthcheck(["--address", "127.0.0.1:\(proxy.port)"])
            #expect(result.exitCode == 0, "\(result)")
            #expect(result.stdout.hasPrefix("healthy: socket-proxy on 127.0.0.1:\(proxy.port) "), "\(result)")
        }
    }

    @Test func takesTheAddressFromLISTENWithoutAnOption() async throws {
        try await IntegrationContext.run { test in
            let proxy = try await test.startProxy([:])
            let result = try await Self.healthcheck(
                [], environment: ["LISTEN": "127.0.0.1:\(proxy.port),unix:/nowhere"])
            #expect(result.exitCode == 0, "\(result)")
        }
    }

    @Test func exitsZeroWhenPingIsDeniedAndTheDaemonSocketAnswers() async throws {
        try await IntegrationContext.run { test in
            let proxy = try await test.startProxy(["PING": "0"])
            let result = try await Self.healthcheck(
                ["--address", "127.0.0.1:\(proxy.port)", "--socket-path", test.daemon.socketPath])
            #expect(result.exitCode == 0, "\(result)")
            #expect(result.stdout.contains("/_ping is denied by the policy"), "\(result)")
        }
    }

    @Test func failsWhenPingIsDeniedAndTheDaemonSocketIsMissing() async throws {
        try await IntegrationContext.run { test in
            let proxy = try await test.startProxy(["PING": "0"])
            let missing = test.file("missing.sock").path
            let result = try await Self.healthcheck(
                ["--address", "127.0.0.1:\(proxy.port)"], environment: ["SOCKET_PATH": missing])
            #expect(result.exitCode == 1, "\(result)")
            #expect(
                result.stderr.hasPrefix(
                    "unhealthy: socket-proxy answers, but the Docker daemon at \(missing) does not"), "\(result)")
        }
    }

    @Test func failsWithAReasonWhenNoProxyListens() async throws {
        let port = try ProxyProcess.freePort()
        let result = try await Self.healthcheck(["--address", "127.0.0.1:\(port)"])
        #expect(result.exitCode == 1, "\(result)")
        #expect(result.stderr.hasPrefix("unhealthy: socket-proxy does not answer on 127.0.0.1:\(port)"), "\(result)")
        #expect(result.stdout.isEmpty, "\(result)")
    }

    @Test func failsWithAReasonWhenTheProxyCannotReachTheDaemon() async throws {
        try await IntegrationContext.run { test in
            let missing = test.file("missing.sock").path
            let proxy = try await test.startProxy([:], arguments: ["--ready-timeout", "0.2"], socketPath: missing)
            let result = try await Self.healthcheck(["--address", "127.0.0.1:\(proxy.port)"])
            #expect(result.exitCode == 1, "\(result)")
            #expect(
                result.stderr.hasPrefix("unhealthy: socket-proxy answers, but the Docker daemon behind it does not"),
                "\(result)")
        }
    }
}

// The proxy as a process with the Tecnativa defaults: EVENTS, PING and VERSION on, everything else off, and
// a clean exit on SIGTERM.
import Foundation
import Testing

@Suite("The proxy's defaults and its lifecycle")
struct ProxyLifecycleTests {
    @Test func defaultsAllowVersionButNotContainers() async throws {
        try await IntegrationContext.run { test in
            let proxy = try await test.startProxy([:])
            let version = try await proxy.docker.run(["version", "--format", "{{.Server.Version}}"])
            #expect(version.succeeded, "\(version)\nproxy log:\n\(proxy.log)")
            #expect(version.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == test.daemon.version.version)
            let ps = try await proxy.docker.run(["ps"])
            #expect(ps.exitCode != 0, "\(ps)")
            #expect(ps.stderr.contains(proxyDenialText), "\(ps)\nproxy log:\n\(proxy.log)")
        }
    }

    @Test func exitsOnSIGTERM() async throws {
        try await IntegrationContext.run { test in
            let proxy = try await test.startProxy([:])
            // Nothing is in flight, so there is nothing to drain: the exit must be prompt.
            let exitedByItself = await proxy.stop(grace: .seconds(5))
            #expect(exitedByItself, "socket-proxy did not exit within 5 s of SIGTERM:\n\(proxy.log)")
            #expect(!proxy.isRunning)
        }
    }
}

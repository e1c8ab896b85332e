// ALLOW_START=1 with POST=0: starting a container is the one write allowed; removing and stopping stay denied.
import Foundation
import Testing

@Suite("ALLOW_START opens start and nothing else")
struct AllowStartTests {
    @Test func startWorksWhileRemoveAndStopStayDenied() async throws {
        try await IntegrationContext.run { test in
            let name = try await test.createContainer("allow-start", ["sleep", "300"])
            let proxy = try await test.startProxy(["CONTAINERS": "1", "ALLOW_START": "1"])

            let start = try await proxy.docker.run(["start", name])
            #expect(start.succeeded, "\(start)\nproxy log:\n\(proxy.log)")
            let started = try #require(try await test.api.container(name))
            #expect(started.state.running)

            let remove = try await proxy.docker.run(["rm", "--force", name])
            #expect(remove.exitCode != 0, "\(remove)")
            #expect(remove.stderr.contains(proxyDenialText), "\(remove)\nproxy log:\n\(proxy.log)")

            let stop = try await proxy.docker.run(["stop", "--time", "1", name])
            #expect(stop.exitCode != 0, "\(stop)")
            #expect(stop.stderr.contains(proxyDenialText), "\(stop)\nproxy log:\n\(proxy.log)")

            let after = try #require(try await test.api.container(name), "the container was removed")
            #expect(after.state.running, "the container was stopped")
            #expect(after.state.startedAt == started.state.startedAt)
        }
    }
}

// The fixtures themselves: a real daemon answers on its socket, the test image runs, the raw client reads what
// the daemon sends. If these fail, every other integration test's failure is about the harness, not the proxy.
import Foundation
import Testing

@Suite("Integration harness")
struct HarnessTests {
    @Test func theDaemonIsARealDockerdThatAnswersOnItsSocket() async throws {
        let daemon = try await TestDaemon.shared()
        #expect(await daemon.api.ping())
        let version = try await daemon.docker.succeed(["version", "--format", "{{.Server.Version}}"])
        #expect(version.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == daemon.version.version)
        #expect(!daemon.version.apiVersion.isEmpty)
    }

    @Test func theTestImageRunsBusybox() async throws {
        try await IntegrationContext.run { test in
            let name = test.name("harness")
            let result = try await test.direct.run(
                [
                    "run", "--rm", "--network", "none", "--name", name, TestImage.reference, "sh", "-c",
                    "echo hello from $(basename $(readlink /bin/sh))",
                ])
            #expect(result.succeeded, "\(result)")
            #expect(result.stdout == "hello from busybox\n")
        }
    }

    @Test func theRawClientReadsPipelinedResponsesFromTheDaemon() async throws {
        let daemon = try await TestDaemon.shared()
        let connection = try RawHTTPConnection.unix(path: daemon.socketPath)
        defer { connection.close() }
        try await connection.send(
            RawRequest.make("GET", "/_ping") + RawRequest.make("HEAD", "/_ping")
                + RawRequest.make("GET", "/version"))
        let exchange = try await connection.readResponses(count: 3, methods: ["GET", "HEAD", "GET"])
        try #require(exchange.responses.count == 3, "\(exchange)")
        #expect(exchange.responses[0].status == 200)
        #expect(exchange.responses[0].bodyText == "OK")
        #expect(exchange.responses[1].status == 200)
        #expect(exchange.responses[1].body.isEmpty)
        #expect(exchange.responses[2].jsonObject?["ApiVersion"] as? String == daemon.version.apiVersion)
    }

    @Test func childProcessesStartWithNoSignalBlockedAndNoStrayDescriptors() async throws {
        // A proxy that inherited a blocked SIGTERM from a test-runner thread would never see the signal.
        let result = try await ChildProcess.run(
            "/bin/sh", ["-c", "grep SigBlk /proc/self/status; ls /proc/self/fd"])
        #expect(result.succeeded, "\(result)")
        #expect(result.lines.first == "SigBlk:\t0000000000000000", "\(result)")
        // 0, 1, 2, and the descriptor ls uses to read the folder.
        #expect(result.lines.dropFirst().count <= 4, "descriptors leaked into the child: \(result)")
    }

    @Test func theDirectStateHelpersSeeAContainerAppearAndGo() async throws {
        try await IntegrationContext.run { test in
            let before = try await test.api.containerIDs()
            let name = try await test.createContainer("state", ["true"])
            let details = try #require(try await test.api.container(name))
            #expect(details.name == "/" + name)
            #expect(!before.contains(details.id))
            #expect(try await test.api.containerIDs().contains(details.id))
            #expect(try await test.api.containers(labelled: test.label).map(\.id) == [details.id])
            await test.api.removeContainer(name)
            #expect(try await test.api.container(name) == nil)
            #expect(!(try await test.api.volumeNames()).contains(name))
            #expect(try await test.api.networkNames().contains("none"))
            #expect(try await test.api.image(TestImage.reference) != nil)
        }
    }
}

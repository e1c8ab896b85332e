// Signals to a running proxy: SIGTERM ends streams at once and lets requests in flight finish within the grace
// period; SIGHUP re-reads the environment file and applies a new policy to new requests without dropping open
// streams, and refuses an invalid one.
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

// Serialized: every test starts a proxy, and the whole integration run starts them all at once otherwise; on two
// cores that many proxies and docker CLIs starting together miss the harness's 10 s start-up limit.
@Suite("SIGTERM and SIGHUP", .serialized)
struct SignalTests {
    /// The status of `GET path` on a fresh connection.
    static func status(_ proxy: ProxyProcess, _ path: String) async throws -> Int {
        let sent = try await proxy.send([RawRequest.make("GET", path, headers: [("Connection", "close")])])
        return sent.responses.first?.status ?? 0
    }

    /// `docker events` through the proxy for this test's containers, started and shown to be flowing: the create
    /// event of a container made for the purpose has arrived on it.
    static func openEventStream(_ test: IntegrationContext, _ proxy: ProxyProcess) async throws -> RunningChild {
        let since = IntegrationContext.timestamp(Date().addingTimeInterval(-1))
        let events = test.own(
            try proxy.docker.start([
                "events", "--since", since, "--filter", "type=container", "--filter", "label=\(test.label)",
                "--format", "{{.Action}} {{.Actor.Attributes.name}}",
            ]))
        let marker = try await test.createContainer("stream-open", ["true"])
        let flowing = try await events.waitForOutput(containing: "create \(marker)", timeout: .seconds(20))
        guard flowing else {
            throw HarnessError(
                "docker events through the proxy showed no create event:\n\(events.stdoutSoFar)\n"
                    + "\(events.stderrSoFar)\nproxy log:\n\(tail(proxy.log))")
        }
        return events
    }

    @Test func sigtermEndsAnEventStreamAtOnceAndLetsARequestInFlightFinish() async throws {
        try await IntegrationContext.run { test in
            let proxy = try await test.startProxy(
                ["CONTAINERS": "1", "POST": "1"], arguments: ["--grace-period", "3", "--log-target", "stderr"])
            let version = test.daemon.version.apiVersion
            let events = try await Self.openEventStream(test, proxy)

            // A request in flight: its head and half of its body are sent, the rest comes after SIGTERM.
            let name = test.name("in-flight")
            let body =
                #"{"Image":"\#(TestImage.reference)","Cmd":["true"],"#
                + #""Labels":{"socket-proxy-test.case":"\#(test.tag)"},"HostConfig":{"NetworkMode":"none"}}"#
            let head =
                "POST /v\(version)/containers/create?name=\(name) HTTP/1.1\r\nHost: docker\r\n"
                + "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n"
            let half = body.utf8.count / 2
            let connection = try proxy.connect()
            defer { connection.close() }
            try await connection.send(head + String(body.prefix(half)))
            try await Task.sleep(for: .milliseconds(300))

            let clock = ContinuousClock()
            let signalled = clock.now
            proxy.signal(SIGTERM)
            let ended = await events.wait(timeout: .seconds(5))
            let streamTime = clock.now - signalled
            #expect(!ended.timedOut, "the event stream was still open 5 s after SIGTERM:\n\(proxy.log)")
            #expect(streamTime < .seconds(2), "streams must end at once, not after the grace period: \(streamTime)")
            #expect(proxy.isRunning, "the proxy exited with a request in flight:\n\(proxy.log)")
            #expect(throws: (any Error).self, "the proxy still accepts connections after SIGTERM") {
                try proxy.connect().close()
            }


            try await connection.send(String(body.dropFirst(half)))
            let exchange = try await connection.readResponses(count: 1, methods: ["POST"], timeout: .seconds(5))
            #expect(exchange.responses.first?.status == 201, "\(exchange)\nproxy log:\n\(proxy.log)")
            #expect(
                try await connection.waitForClose(timeout: .seconds(5)), "the connection stayed open after its answer")
            #expect(try await test.api.container(name) != nil, "the request in flight did not reach the daemon")

            let exited = await proxy.waitForExit(timeout: .seconds(5))
            let exitTime = clock.now - signalled
            #expect(exited && exitTime < .seconds(5), "exit \(exitTime) after SIGTERM:\n\(proxy.log)")
            #expect(proxy.exitCode == 0, "\(proxy.log)")
        }
    }

    @Test func sigtermLetsADownloadInProgressFinishWithinTheGracePeriod() async throws {
        try await IntegrationContext.run { test in
            let size = 8 << 20
            let container = try await test.runContainer(
                "download", ["sh", "-c", "head -c \(size) /dev/zero > /big && touch /ready && sleep 120"])
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(30)
            while try await test.api.request("HEAD", "/containers/\(container)/archive?path=/ready").status != 200 {
                guard clock.now < deadline else { throw HarnessError("the test container did not write /big") }
                try await Task.sleep(for: .milliseconds(100))
            }
            let proxy = try await test.startProxy(
                ["CONTAINERS": "1", "ALLOW_ARCHIVE": "1"], arguments: ["--grace-period", "5", "--log-target", "stderr"])
            let version = test.daemon.version.apiVersion
            let small = "/v\(version)/containers/\(container)/archive?path=/ready"
            let smallStatus = try await Self.status(proxy, small)
            try #require(smallStatus == 200, "the policy does not allow the download:\n\(proxy.log)")
            let connection = try proxy.connect()
            defer { connection.close() }
            try await connection.send(
                RawRequest.make(
                    "GET", "/v\(version)/containers/\(container)/archive?path=/big", headers: [("Connection", "close")])
            )
            // Not reading yet: the answer is stuck part way, held back by full socket buffers.
            try await Task.sleep(for: .milliseconds(500))
            let signalled = clock.now
            proxy.signal(SIGTERM)
            _ = try await connection.waitForClose(timeout: .seconds(10))
            let exchange = try await connection.readResponses(count: 1, timeout: .seconds(1))
            #expect(exchange.responses.first?.status == 200, "\(exchange.responses.count) complete responses")
            #expect(
                (exchange.responses.first?.body.count ?? 0) > size, "\(connection.bytesReceived) bytes received")

            let exited = await proxy.waitForExit(timeout: .seconds(7))
            #expect(exited && clock.now - signalled < .seconds(6), "\(proxy.log)")
        }
    }

    @Test func sighupAppliesAChangedEnvironmentFileWhileAnOpenEventStreamKeepsFlowing() async throws {
        try await IntegrationContext.run { test in
            let envFile = test.file("policy.env")
            try Data("# the policy\nCONTAINERS=0\n".utf8).write(to: envFile)
            let proxy = try await test.startProxy(
                [:], arguments: ["--env-file", envFile.path, "--log-target", "stderr"])
            let version = test.daemon.version.apiVersion
            #expect(try await Self.status(proxy, "/v\(version)/containers/json") == 403)
            let events = try await Self.openEventStream(test, proxy)

            try Data("# the policy, changed\nexport CONTAINERS=\"1\"\n".utf8).write(to: envFile)
            proxy.signal(SIGHUP)
            let reloaded = await proxy.waitForLog(containing: "new requests use it")
            #expect(reloaded, "no reload message:\n\(proxy.log)")
            #expect(try await Self.status(proxy, "/v\(version)/containers/json") == 200, "\(proxy.log)")

            // The stream opened under the old policy still delivers new events.
            let after = try await test.createContainer("after-reload", ["true"])
            let delivered = try await events.waitForOutput(containing: "create \(after)", timeout: .seconds(20))
            #expect(
                delivered, "no event on the old stream after the reload:\n\(events.stdoutSoFar)\n\(events.stderrSoFar)")
            #expect(events.isRunning, "the event stream ended on SIGHUP:\n\(events.stderrSoFar)")
            #expect(proxy.isRunning)
        }
    }

    @Test func sighupRefusesAnInvalidEnvironmentFileAndKeepsTheOldPolicy() async throws {
        try await IntegrationContext.run { test in
            let envFile = test.file("policy.env")
            try Data("CONTAINERS=1\n".utf8).write(to: envFile)
            let proxy = try await test.startProxy(
                [:], arguments: ["--env-file", envFile.path, "--log-target", "stderr"])
            let path = "/v\(test.daemon.version.apiVersion)/containers/json"
            #expect(try await Self.status(proxy, path) == 200)

            try Data("CONTAINERS=maybe\n".utf8).write(to: envFile)
            proxy.signal(SIGHUP)
            let refused = await proxy.waitForLog(containing: "reload refused, the previous policy stays")
            #expect(refused, "no refusal:\n\(proxy.log)")
            let line = proxy.log.split(separator: "\n").first { $0.contains("reload refused") } ?? ""
            #expect(line.contains("CONTAINERS") && line.contains("maybe"), "the refusal does not say why: \(line)")
            #expect(!proxy.log.contains("reloaded the policy"), "\(proxy.log)")
            #expect(try await Self.status(proxy, path) == 200, "the old policy did not stay:\n\(proxy.log)")
            #expect(proxy.isRunning)

            // Reloading still works after a refusal.
            try Data("CONTAINERS=0\n".utf8).write(to: envFile)
            proxy.signal(SIGHUP)
            #expect(await proxy.waitForLog(containing: "new requests use it"), "\(proxy.log)")
            #expect(try await Self.status(proxy, path) == 403)
        }
    }
}

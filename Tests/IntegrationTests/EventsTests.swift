// docker events through the proxy with its default policy (EVENTS=1): bounded queries and a live stream.
import Foundation
import Testing

@Suite("docker events streams through the proxy")
struct EventsTests {
    @Test func eventsBetweenSinceAndUntilListAContainersLifecycle() async throws {
        try await IntegrationContext.run { test in
            let since = Int(Date().timeIntervalSince1970) - 1
            let name = try await test.runContainer("events", ["true"])
            try await test.direct.succeed(["wait", name])
            let until = Int(Date().timeIntervalSince1970) + 1
            let proxy = try await test.startProxy([:])
            let result = try await proxy.docker.run(
                [
                    "events", "--since", String(since), "--until", String(until), "--filter", "container=\(name)",
                    "--format", "{{.Action}}",
                ],
                timeout: .seconds(30))
            #expect(result.succeeded, "\(result)\nproxy log:\n\(proxy.log)")
            #expect(result.lines == ["create", "start", "die"], "\(result)")
        }
    }

    @Test func eventsArriveLiveWhileTheStreamIsOpen() async throws {
        try await IntegrationContext.run { test in
            let since = Int(Date().timeIntervalSince1970) - 1
            let name = try await test.createContainer("events-live", ["sleep", "300"])
            let proxy = try await test.startProxy([:])
            let events = test.own(
                try proxy.docker.start(
                    [
                        "events", "--since", String(since), "--filter", "container=\(name)", "--format",
                        "{{.Action}}",
                    ]))
            // The create event is replayed from --since: the stream is open and flushing.
            let sawCreate = try await events.waitForOutput(containing: "create", timeout: .seconds(20))
            #expect(sawCreate, "no create event: \(events.stdoutSoFar)\n\(events.stderrSoFar)\n\(proxy.log)")
            // The start event happens after the stream opened: it must arrive without the stream ending.
            try await test.direct.succeed(["start", name])
            let sawStart = try await events.waitForOutput(containing: "start", timeout: .seconds(20))
            #expect(sawStart, "no live start event: \(events.stdoutSoFar)\n\(events.stderrSoFar)\n\(proxy.log)")
            #expect(events.isRunning, "the event stream ended early:\n\(events.stderrSoFar)")
        }
    }
}

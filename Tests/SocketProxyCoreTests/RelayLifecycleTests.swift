// Tests for the relay's lifecycle: header and idle timeouts, the connection limit, reload and shutdown.
import Foundation
import Testing

@testable import SocketProxyCore

extension RelayTests {
    /// Timeouts, limits, policy reloads and shutdown, seen from a client.
    struct Lifecycle {
        @Test func aHeadThatDoesNotArriveInTimeIsAnswered408AndClosed() throws {
            try withRelay(
                configure: { $0.headerTimeout = .milliseconds(300) },
                script: { _ in .bytes(HTTPText.response()) }
            ) { proxy, upstream in
                let client = try proxy.connect()
                let start = ContinuousClock.now
                try client.send("GET /_ping HTTP/1.1\r\nHost: dock")
                let answer = try client.readResponse(timeout: .seconds(3))
                let waited = ContinuousClock.now - start
                #expect(
                    answer.text
                        == HTTPText.localAnswer(
                            408, "Request Timeout", message: "socket-proxy: the request head did not arrive in time",
                            close: true))
                #expect(waited >= .milliseconds(250))
                #expect(try client.endsWithoutMoreBytes(within: .seconds(2)))
                #expect(upstream.connectionCount == 0)
                let records = proxy.audit.waitForRecords(1)
                #expect(records.map(\.decision) == [.malformed])
                #expect(records.map(\.status) == [408])
            }
        }

        @Test func theHeaderTimeoutRestartsForEachRequestOfAKeepAliveConnection() throws {
            try withRelay(
                configure: { $0.headerTimeout = .milliseconds(300) },
                script: { _ in .bytes(HTTPText.response(body: "OK")) }
            ) { proxy, upstream in
                let client = try proxy.connect()
                for _ in 0..<3 {
                    Thread.sleep(forTimeInterval: 0.15)
                    try client.send(HTTPText.request("/_ping"))
                    #expect(try client.readResponse().raw == HTTPText.response(body: "OK"))
                }
                // Half a head, then silence: the timer counts from its first byte.
                try client.send("GET /_ping HTTP/1.1\r\n")
                #expect(try client.readResponse(timeout: .seconds(3)).status == 408)
            }
        }

        @Test func anIdleKeepAliveConnectionIsClosedAfterTheIdleTimeout() throws {
            try withRelay(
                configure: { $0.idleTimeout = .milliseconds(300) },
                script: { _ in .bytes(HTTPText.response(body: "OK")) }
            ) { proxy, upstream in
                let client = try proxy.connect()
                try client.send(HTTPText.request("/_ping"))
                #expect(try client.readResponse().raw == HTTPText.response(body: "OK"))
                let start = ContinuousClock.now
                #expect(try client.endsWithoutMoreBytes(within: .seconds(3)))
                #expect(ContinuousClock.now - start >= .milliseconds(250))
                #expect(proxy.audit.waitForRecords(1).count == 1)
                #expect(eventually { proxy.statistics.openConnections == 0 })
            }
        }

        @Test func connectionsOverTheLimitAreRefusedUntilOneCloses() throws {
            try withRelay(
                configure: { $0.maxConnections = 2 },
                script: { _ in .bytes(HTTPText.response(body: "OK")) }
            ) { proxy, upstream in
                var clients: [StreamSocket] = []
                for _ in 0..<2 {
                    let client = try proxy.connect()
                    try client.send(HTTPText.request("/_ping"))
                    #expect(try client.readResponse().raw == HTTPText.response(body: "OK"))
                    clients.append(client)
                }
                let refused = try proxy.connect()
                #expect(try refused.endsWithoutMoreBytes(within: .seconds(2)))
                #expect(proxy.statistics.refusedConnections == 1)

                clients.removeFirst().close()
                #expect(eventually { proxy.statistics.openConnections == 1 })
                let admitted = try proxy.connect()
                try admitted.send(HTTPText.request("/_ping"))
                #expect(try admitted.readResponse().raw == HTTPText.response(body: "OK"))
                // The survivor was never disturbed.
                try clients[0].send(HTTPText.request("/_ping"))
                #expect(try clients[0].readResponse().raw == HTTPText.response(body: "OK"))
            }
        }

        @Test func reloadChangesTheDecisionsOfLaterRequests() throws {
            let locked = Profile(
                name: "locked",
                rules: [Rule(name: "PING", methods: .read, path: try PathTemplate(parsing: "/_ping"), action: .allow)])
            try withRelay(script: { _ in .bytes(HTTPText.response(body: "[]")) }) { proxy, upstream in
                let client = try proxy.connect()
                try client.send(HTTPText.request("/containers/json"))
                #expect(try client.readResponse().status == 200)

                proxy.server.reload(policy: PolicySnapshot(profile: locked))
                proxy.onLoop()  // the reload ran: it was queued first
                try client.send(HTTPText.request("/containers/json"))
                #expect(
                    try client.readResponse().text
                        == HTTPText.localAnswer(
                            403, "Forbidden",
                            message:
                                "socket-proxy: GET /containers/json is denied: no rule of profile locked allows it",
                            close: false))
                let other = try proxy.connect()
                try other.send(HTTPText.request("/containers/json"))
                #expect(try other.readResponse().status == 403)

                proxy.server.reload(policy: PolicySnapshot(profile: .relayTests))
                proxy.onLoop()
                try client.send(HTTPText.request("/containers/json"))
                #expect(try client.readResponse().status == 200)
                #expect(upstream.waitForRequests(2))
                #expect(upstream.requests.count == 2)
                let records = proxy.audit.waitForRecords(4)
                #expect(records.map(\.decision) == [.allow, .deny, .deny, .allow])
                #expect(records.map(\.rule) == ["CONTAINERS", "default-deny", "default-deny", "CONTAINERS"])
            }
        }

        /// Which answers shutdown cuts instead of waiting for: the table covers each suffix, its near misses and
        /// the query flags that turn a stream on or off.
        @Test(arguments: [
            ("/events", "", true), ("/xevents", "", false), ("/events/x", "", false),
            ("/containers/a/attach", "", true), ("/exec/a/attach/ws", "", true), ("/containers/a/wait", "", true),
            ("/containers/a/logs", "follow=1", true), ("/containers/a/logs", "stdout=1&follow=true", true),
            ("/containers/a/logs", "follow=0", false), ("/containers/a/logs", "", false),
            ("/containers/a/stats", "", true), ("/containers/a/stats", "stream=0", false),
            ("/containers/a/stats", "stream=false", false), ("/containers/a/statsx", "", false),
            ("/attach", "", true), ("/wai", "", false), ("", "", false), ("/_ping", "", false),
        ])
        func openEndedAnswersAreKnownByPathAndQuery(path: String, query: String, openEnded: Bool) {
            let result = Array(path.utf8).withUnsafeBytes { pathBytes in
                Array(query.utf8).withUnsafeBytes { Connection.isOpenEnded(path: pathBytes, query: $0) }
            }
            #expect(result == openEnded)
        }

        @Test func shutdownEndsAnOpenStreamAndWaitReturnsPromptly() throws {
            let event = Array("{\"status\":\"start\",\"id\":\"abc\"}\n".utf8)
            let chunk = Array(String(event.count, radix: 16).utf8) + Array("\r\n".utf8) + event + Array("\r\n".utf8)
            try withRelay(script: { _ in
                .endless(
                    head: Array(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".utf8),
                    piece: chunk)
            }) { proxy, upstream in
                let client = try proxy.connect()
                try client.send(HTTPText.request("/events"))
                _ = try client.read(through: Array("\r\n\r\n".utf8))
                _ = try client.read(exactly: chunk.count * 3)
                #expect(proxy.statistics.activeStreams == 1)

                let start = ContinuousClock.now
                proxy.stop(gracePeriod: .seconds(10))
                #expect(ContinuousClock.now - start < .seconds(2))
                _ = try client.readToEnd(timeout: .seconds(2))
                #expect(client.ended)
                let records = proxy.audit.waitForRecords(1)
                #expect(records.count == 1)
                #expect(records.first?.status == 200)
                #expect(records.first?.reason == "ended by the proxy shutting down")
                #expect(proxy.statistics.activeStreams == 0)
                #expect(proxy.statistics.openConnections == 0)
            }
        }

        @Test func shutdownClosesIdleConnectionsAtOnceAndLetsAnAnswerUnderWayFinish() throws {
            let gate = DispatchSemaphore(value: 0)
            try withRelay(script: { request in
                if request.target == "/_ping" { return .bytes(HTTPText.response(body: "OK")) }
                return .custom { socket, _ in
                    _ = gate.wait(timeout: .now() + 5)
                    try socket.send(HTTPText.response(body: "late but whole"))
                    return true
                }
            }) { proxy, upstream in
                let idle = try proxy.connect()
                try idle.send(HTTPText.request("/_ping"))
                #expect(try idle.readResponse().raw == HTTPText.response(body: "OK"))
                let busy = try proxy.connect()
                try busy.send(HTTPText.request("/containers/json"))
                #expect(upstream.waitForRequests(2))

                proxy.server.shutdown(gracePeriod: .seconds(10))
                #expect(try idle.endsWithoutMoreBytes(within: .seconds(2)))
                gate.signal()
                #expect(try busy.readResponse().raw == HTTPText.response(body: "late but whole"))
                #expect(try busy.endsWithoutMoreBytes(within: .seconds(2)))
                let start = ContinuousClock.now
                proxy.stop()
                #expect(ContinuousClock.now - start < .seconds(2))
                #expect(proxy.audit.waitForRecords(2).map(\.status) == [200, 200])
            }
        }
    }
}

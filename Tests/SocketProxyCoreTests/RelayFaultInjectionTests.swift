// Tests that force EINTR, EAGAIN and EPIPE into the relay's system calls through the debug-only FaultInjection seam.
#if DEBUG
    import Foundation
    import Testing

    @testable import SocketProxyCore

    #if canImport(Glibc)
        import Glibc
    #endif

    extension RelayTests {
        /// Faults are process-wide, so these run inside the serialized `RelayTests`: the only proxy doing I/O while a
        /// fault is armed is the test's own. Each fault is armed while that proxy is idle, so the call that takes it is
        /// known, and each test checks that the fault was taken.
        struct FaultInjectionTests {
            struct Interruption: Sendable, CustomTestStringConvertible {
                let operation: StaticString
                let count: Int
                var testDescription: String { "\(operation) x\(count)" }
            }

            @Test(arguments: [
                Interruption(operation: "splice", count: 5), Interruption(operation: "send", count: 2),
                Interruption(operation: "read", count: 2),
            ])
            func interruptedCallsAreRetriedAndATransferCompletesIntact(_ fault: Interruption) throws {
                defer { FaultInjection.reset() }
                let size = 4 << 20
                let upload = patternBytes(size, seed: 11)
                let download = patternBytes(size, seed: 12)
                let answer = Array("HTTP/1.1 200 OK\r\nContent-Length: \(size)\r\n\r\n".utf8) + download
                try withRelay(script: { _ in .bytes(answer) }) { proxy, upstream in
                    FaultInjection.inject(fault.operation.description, errno: EINTR, count: fault.count)
                    let client = try proxy.connect()
                    try client.send(
                        Array(
                            "PUT /containers/x/archive?path=/ HTTP/1.1\r\nHost: docker\r\nContent-Length: \(size)\r\n\r\n"
                                .utf8)
                            + upload)
                    let response = try client.readResponse(timeout: .seconds(10))
                    #expect(response.body == download)
                    #expect(upstream.waitForRequests(1))
                    #expect(upstream.requests.first?.body == upload)
                    #expect(FaultInjection.take(fault.operation) == nil, "the fault was never taken")
                }
            }

            /// Waits until the proxy has accepted `count` connections and finished handling what it had to do.
            static func settle(_ proxy: TestProxy, accepted count: UInt64) {
                _ = eventually { proxy.statistics.acceptedConnections >= count }
                proxy.onLoop()
            }

            @Test func aWouldBlockOnAHeadReadLeavesTheBytesForTheNextEvent() throws {
                defer { FaultInjection.reset() }
                try withRelay(script: { _ in .bytes(HTTPText.response(body: "OK")) }) { proxy, upstream in
                    let client = try proxy.connect()
                    Self.settle(proxy, accepted: 1)
                    FaultInjection.inject("read", errno: EAGAIN)
                    try client.send("GET /_ping HTTP/1.1\r\n")
                    #expect(client.staysQuiet(for: .milliseconds(80)))
                    #expect(FaultInjection.take("read") == nil, "the fault was never taken")
                    #expect(upstream.connectionCount == 0)
                    try client.send("Host: docker\r\n\r\n")
                    #expect(try client.readResponse().raw == HTTPText.response(body: "OK"))
                    #expect(upstream.received == [Array("GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n".utf8)])
                }
            }

            @Test func aWouldBlockWhileSplicingARequestBodyIsRecoveredByTheNextBytes() throws {
                defer { FaultInjection.reset() }
                let body = patternBytes(300_000, seed: 13)
                let head = Array(
                    "PUT /containers/x/archive?path=/ HTTP/1.1\r\nHost: docker\r\nContent-Length: 300000\r\n\r\n".utf8)
                try withRelay(script: { _ in .answer { HTTPText.response(body: "\($0.body.count)") } }) {
                    proxy, upstream in
                    let client = try proxy.connect()
                    try client.send(head + body[0..<100_000])
                    #expect(upstream.waitForBytes(head.count + 100_000))
                    proxy.onLoop()
                    FaultInjection.inject("splice", errno: EAGAIN)
                    // Small enough for one segment: one edge, which the would-block swallows.
                    try client.send(Array(body[100_000..<101_000]))
                    Thread.sleep(forTimeInterval: 0.08)
                    #expect(FaultInjection.take("splice") == nil, "the fault was never taken")
                    #expect(upstream.allReceived.count == head.count + 100_000, "bytes moved despite the would-block")
                    try client.send(Array(body[101_000...]))
                    #expect(try client.readResponse().bodyText == "300000")
                    #expect(upstream.requests.first?.body == body)
                }
            }

            /// A daemon that sends the head and the first 100 000 bytes of the body, then 1 000 bytes (small enough to
            /// arrive at once, as one event), then the rest, each when the test opens `gate`.
            static func answerInThreeParts(_ body: [UInt8], gate: DispatchSemaphore) -> UpstreamReply {
                .custom { socket, _ in
                    try socket.send(
                        Array("HTTP/1.1 200 OK\r\nContent-Length: \(body.count)\r\n\r\n".utf8) + body[0..<100_000])
                    for range in [100_000..<101_000, 101_000..<body.count] {
                        guard gate.wait(timeout: .now() + 5) == .success else { throw TestFailure("gate never opened") }
                        try socket.send(Array(body[range]))
                    }
                    return true
                }
            }

            @Test func aWouldBlockWhileSplicingAnAnswerIsRecoveredByTheNextBytes() throws {
                defer { FaultInjection.reset() }
                let body = patternBytes(300_000, seed: 14)
                let gate = DispatchSemaphore(value: 0)
                try withRelay(script: { _ in Self.answerInThreeParts(body, gate: gate) }) { proxy, upstream in
                    let client = try proxy.connect()
                    try client.send(HTTPText.request("/containers/x/export"))
                    let head = try #require(try client.read(through: Array("\r\n\r\n".utf8)))
                    #expect(head == Array("HTTP/1.1 200 OK\r\nContent-Length: 300000\r\n\r\n".utf8))
                    let first = try client.read(exactly: 100_000)
                    proxy.onLoop()
                    FaultInjection.inject("splice", errno: EAGAIN)
                    gate.signal()
                    #expect(client.staysQuiet(for: .milliseconds(80)), "bytes moved despite the would-block")
                    #expect(FaultInjection.take("splice") == nil, "the fault was never taken")
                    gate.signal()
                    let rest = try client.read(exactly: 200_000)
                    #expect(first + rest == body)
                    #expect(proxy.audit.waitForRecords(1).map(\.bytesOut) == [UInt64(head.count + body.count)])
                }
            }

            @Test func aWouldBlockOnSendingAnAnswerIsRecoveredByTheClientsNextEvent() throws {
                defer { FaultInjection.reset() }
                let gate = DispatchSemaphore(value: 0)
                try withRelay(script: { request in
                    if request.target == "/_ping" { return .bytes(HTTPText.response(body: "pong")) }
                    return .custom { socket, _ in
                        _ = gate.wait(timeout: .now() + 5)
                        try socket.send(HTTPText.response(body: "first"))
                        return true
                    }
                }) { proxy, upstream in
                    let client = try proxy.connect()
                    try client.send(HTTPText.request("/containers/json"))
                    #expect(upstream.waitForRequests(1))
                    proxy.onLoop()
                    FaultInjection.inject("send", errno: EAGAIN)
                    gate.signal()
                    #expect(client.staysQuiet(for: .milliseconds(80)), "the answer went out despite the would-block")
                    #expect(FaultInjection.take("send") == nil, "the fault was never taken")
                    // Any event on the client socket reports it writable again.
                    try client.send(HTTPText.request("/_ping"))
                    #expect(try client.readResponse().raw == HTTPText.response(body: "first"))
                    #expect(try client.readResponse().raw == HTTPText.response(body: "pong"))
                }
            }

            @Test func aBrokenPipeWhileSplicingEndsOnlyThatConnection() throws {
                defer { FaultInjection.reset() }
                let body = patternBytes(300_000, seed: 15)
                let gate = DispatchSemaphore(value: 0)
                try withRelay(script: { request in
                    request.target == "/_ping"
                        ? .bytes(HTTPText.response(body: "OK")) : Self.answerInThreeParts(body, gate: gate)
                }) { proxy, upstream in
                    let client = try proxy.connect()
                    try client.send(HTTPText.request("/containers/x/export"))
                    _ = try client.read(through: Array("\r\n\r\n".utf8))
                    _ = try client.read(exactly: 100_000)
                    proxy.onLoop()
                    FaultInjection.inject("splice", errno: EPIPE)
                    gate.signal()
                    #expect(try client.readToEnd().isEmpty)
                    #expect(client.ended)
                    gate.signal()
                    let records = proxy.audit.waitForRecords(1)
                    #expect(records.map(\.decision) == [.upstreamError])
                    #expect(records.first?.reason == "splice: Broken pipe (errno 32)")

                    let other = try proxy.connect()
                    try other.send(HTTPText.request("/_ping"))
                    #expect(try other.readResponse().raw == HTTPText.response(body: "OK"))
                }
            }
        }
    }
#endif

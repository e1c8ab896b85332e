// Tests for 101 Switching Protocols: the raw tunnel both ways, half-closes passed on, and unasked-for upgrades.
import Foundation
import Testing

@testable import SocketProxyCore

extension RelayTests {
    /// After 101 the connection is a byte stream in both directions until each side ends its own.
    struct Tunnels {
        static let upgraded = Array(
            ("HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\n"
                + "Upgrade: tcp\r\n\r\n").utf8)
        static let attach =
            "POST /containers/abc/attach?stream=1&stdin=1&stdout=1 HTTP/1.1\r\nHost: docker\r\n"
            + "Connection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n"

        @Test func anUpgradedConnectionRelaysRawBytesBothWaysAndPassesEachHalfCloseOn() throws {
            try withRelay(script: { _ in .tunnel(head: Self.upgraded, farewell: Array("bye\n".utf8)) }) {
                proxy, upstream in
                let client = try proxy.connect()
                try client.send(Self.attach)
                #expect(try client.read(exactly: Self.upgraded.count) == Self.upgraded)
                try client.send("hello tunnel\n")
                #expect(try client.read(exactly: 13) == Array("hello tunnel\n".utf8))
                let big = patternBytes(1 << 20, seed: 9)
                try client.send(big)
                #expect(try client.read(exactly: big.count, timeout: .seconds(10)) == big)

                // The client ends its side: the daemon reads end of stream, and can still answer.
                client.shutdownWrite()
                let rest = try client.readToEnd()
                #expect(rest == Array("bye\n".utf8))
                #expect(client.ended && !client.wasReset)
                #expect(upstream.received == [Array(Self.attach.utf8) + Array("hello tunnel\n".utf8) + big])

                let records = proxy.audit.waitForRecords(1)
                #expect(records.count == 1)
                #expect(records.first?.decision == .allow)
                #expect(records.first?.status == 101)
                #expect(records.first?.upgraded == true)
                #expect(proxy.audit.all.filter { $0.phase == .start }.count == 1)
                #expect(eventually { proxy.statistics.activeStreams == 0 })
            }
        }

        @Test func tunnelBytesThatArriveWithTheUpgradeRequestAreNotLost() throws {
            try withRelay(script: { _ in .tunnel(head: Self.upgraded, farewell: []) }) { proxy, upstream in
                let client = try proxy.connect()
                try client.send(Self.attach + "early bytes")
                #expect(try client.read(exactly: Self.upgraded.count + 11) == Self.upgraded + Array("early bytes".utf8))
                client.shutdownWrite()
                #expect(try client.readToEnd().isEmpty)
                #expect(upstream.received == [Array((Self.attach + "early bytes").utf8)])
            }
        }

        @Test func theDaemonEndingItsSideEndsTheClientsSideWhileTheClientCanStillSend() throws {
            let gate = DispatchSemaphore(value: 0)
            try withRelay(script: { _ in
                .custom { socket, _ in
                    try socket.send(Self.upgraded + Array("daemon done".utf8))
                    socket.shutdownWrite()
                    // The client's bytes still arrive after the daemon's half-close.
                    let after = try socket.read(exactly: 10)
                    precondition(after == Array("late input".utf8))
                    gate.signal()
                    _ = try socket.readToEnd()
                    return false
                }
            }) { proxy, upstream in
                let client = try proxy.connect()
                try client.send(Self.attach)
                #expect(try client.readToEnd() == Self.upgraded + Array("daemon done".utf8))
                try client.send("late input")
                #expect(gate.wait(timeout: .now() + 5) == .success)
                client.shutdownWrite()
                let records = proxy.audit.waitForRecords(1)
                #expect(records.count == 1)
                #expect(records.first?.status == 101)
            }
        }

        @Test func aSwitchTheClientDidNotAskForIsAnswered502() throws {
            try withRelay(script: { request in
                request.target == "/_ping" ? .bytes(HTTPText.response(body: "OK")) : .bytes(Self.upgraded)
            }) { proxy, upstream in
                let client = try proxy.connect()
                try client.send(
                    "POST /containers/abc/attach?stream=1 HTTP/1.1\r\nHost: docker\r\nContent-Length: 0\r\n\r\n")
                let answer = try client.readResponse()
                #expect(answer.status == 502)
                #expect(answer.field("Content-Type") == "application/json")
                #expect(
                    answer.bodyText
                        == "{\"message\":\"socket-proxy: the Docker daemon switched protocols without being asked to\"}\n"
                )
                let records = proxy.audit.waitForRecords(1)
                #expect(records.map(\.decision) == [.upstreamError])
                #expect(records.map(\.status) == [502])
                #expect(records.first?.upgraded == false)
            }
        }
    }
}

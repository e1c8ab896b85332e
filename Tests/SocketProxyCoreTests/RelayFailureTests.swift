// Tests for failures around the relay: a missing or silent daemon, clients that leave early or half-close.
import Foundation
import Synchronization
import Testing

@testable import SocketProxyCore

extension RelayTests {
    /// When one side fails, the client gets a JSON 502 (or the connection ends), and the proxy goes on serving.
    struct Failures {
        @Test func aMissingDaemonSocketIsAnswered502AndTheProxyRecoversWhenTheDaemonComesBack() throws {
            let upstream = try FakeUpstream(listening: false) { _ in .bytes(HTTPText.response(body: "OK")) }
            defer { upstream.stop() }
            let proxy = try TestProxy(upstream: upstream.path)
            defer { proxy.stop() }
            for _ in 0..<2 {
                let client = try proxy.connect()
                try client.send(HTTPText.request("/_ping"))
                let answer = try client.readResponse()
                let message =
                    "socket-proxy: cannot reach the Docker daemon at unix:\(upstream.path): "
                    + "connect: No such file or directory (errno 2)"
                #expect(answer.text == HTTPText.localAnswer(502, "Bad Gateway", message: message, close: true))
                #expect(try client.endsWithoutMoreBytes(within: .seconds(2)))
            }
            try upstream.listen()
            let client = try proxy.connect()
            try client.send(HTTPText.request("/_ping"))
            #expect(try client.readResponse().raw == HTTPText.response(body: "OK"))
            let records = proxy.audit.waitForRecords(3)
            #expect(records.map(\.decision) == [.upstreamError, .upstreamError, .allow])
            #expect(records.map(\.status) == [502, 502, 200])
            #expect(proxy.statistics.upstreamErrors == 2)
        }

        @Test func aDaemonThatClosesWithoutAnsweringIsAnswered502AndTheConnectionGoesOn() throws {
            try withRelay(script: { request in
                request.target == "/_ping" ? .bytes(HTTPText.response(body: "OK")) : .closeWithoutAnswer
            }) { proxy, upstream in
                let client = try proxy.connect()
                try client.send(HTTPText.request("/containers/json"))
                let answer = try client.readResponse()
                #expect(
                    answer.text
                        == HTTPText.localAnswer(
                            502, "Bad Gateway",
                            message: "socket-proxy: the Docker daemon closed the connection without answering",
                            close: false))
                try client.send(HTTPText.request("/_ping"))
                #expect(try client.readResponse().raw == HTTPText.response(body: "OK"))
                #expect(upstream.connectionCount == 2)
                let records = proxy.audit.waitForRecords(2)
                #expect(records.map(\.decision) == [.upstreamError, .allow])
            }
        }

        @Test func aDaemonThatBreaksOffMidAnswerEndsTheClientConnection() throws {
            let partial = Array("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part".utf8)
            let gate = DispatchSemaphore(value: 0)
            try withRelay(script: { _ in
                .custom { socket, _ in
                    _ = gate.wait(timeout: .now() + 5)
                    try socket.send(partial)
                    return false  // and close
                }
            }) { proxy, upstream in
                let client = try proxy.connect()
                try client.send(HTTPText.request("/containers/json"))
                #expect(upstream.waitForRequests(1))
                // The part and the daemon's end of stream reach the proxy as one event.
                proxy.holdLoop(for: .milliseconds(100))
                gate.signal()
                #expect(try client.readToEnd(timeout: .seconds(3)) == partial)
                let records = proxy.audit.waitForRecords(1)
                #expect(records.map(\.decision) == [.upstreamError])
                #expect(records.first?.reason == "the Docker daemon closed the connection in the middle of a response")
            }
        }

        @Test func aClientThatLeavesMidAnswerLeavesTheProxyServingOthers() throws {
            let chunk = Array("1000\r\n".utf8) + patternBytes(4096, seed: 4) + Array("\r\n".utf8)
            try withRelay(script: { request in
                request.target == "/_ping"
                    ? .bytes(HTTPText.response(body: "OK"))
                    : .endless(
                        head: Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".utf8),
                        piece: Array(repeating: chunk, count: 16).flatMap { $0 })
            }) { proxy, upstream in
                for leave in [StreamSocket.close, StreamSocket.reset] {
                    let leaving = try proxy.connect()
                    try leaving.send(HTTPText.request("/containers/x/logs?follow=1"))
                    _ = try leaving.read(exactly: 100_000)
                    leave(leaving)()
                    let other = try proxy.connect()
                    try other.send(HTTPText.request("/_ping"))
                    #expect(try other.readResponse().raw == HTTPText.response(body: "OK"))
                }
                let records = proxy.audit.waitForRecords(4)
                #expect(records.filter { $0.decision == .clientGone }.count == 2)
                #expect(records.filter { $0.decision == .allow }.count == 2)
                // Every client has gone by now; nothing may be left counted.
                _ = eventually { proxy.statistics.activeStreams == 0 && proxy.statistics.openConnections == 0 }
                #expect(proxy.statistics.activeStreams == 0)
                #expect(proxy.statistics.openConnections == 0)
            }
        }

        /// The daemon's next chunk and the client's reset arrive while the loop is busy, in that order: the proxy
        /// handles the chunk first and its send to the client fails in the middle of relaying chunk framing.
        @Test func aSendFailingInTheMiddleOfAChunkedAnswerEndsOnlyThatExchange() throws {
            let gate = DispatchSemaphore(value: 0)
            let sent = DispatchSemaphore(value: 0)
            try withRelay(script: { request in
                if request.target == "/_ping" { return .bytes(HTTPText.response(body: "OK")) }
                return .custom { socket, _ in
                    try socket.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
                    _ = gate.wait(timeout: .now() + 5)
                    try socket.send("6\r\nsecond\r\n")
                    sent.signal()
                    _ = try? socket.readToEnd(timeout: .seconds(5))
                    return false
                }
            }) { proxy, upstream in
                let leaving = try proxy.connect()
                try leaving.send(HTTPText.request("/containers/x/logs?follow=1"))
                _ = try leaving.read(through: Array("first\r\n".utf8))
                proxy.holdLoop(for: .milliseconds(150))
                gate.signal()
                #expect(sent.wait(timeout: .now() + 5) == .success)
                Thread.sleep(forTimeInterval: 0.01)
                leaving.reset()

                let records = proxy.audit.waitForRecords(1)
                #expect(records.map(\.decision) == [.clientGone])
                let other = try proxy.connect()
                try other.send(HTTPText.request("/_ping"))
                #expect(try other.readResponse().raw == HTTPText.response(body: "OK"))
            }
        }

        @Test func aClientThatHalfClosesAfterItsRequestGetsTheAnswerAndThenTheEnd() throws {
            try withRelay(
                configure: { $0.idleTimeout = .seconds(30) },
                script: { _ in .bytes(HTTPText.response(body: "OK")) }
            ) { proxy, upstream in
                let client = try proxy.connect()
                try client.send(HTTPText.request("/_ping"))
                #expect(try client.readResponse().raw == HTTPText.response(body: "OK"))
                // Hold the loop while the request and the end of the client's side both arrive, so one
                // event reports them together.
                proxy.holdLoop(for: .milliseconds(100))
                try client.send(HTTPText.request("/_ping"))
                client.shutdownWrite()
                #expect(try client.readResponse().raw == HTTPText.response(body: "OK"))
                #expect(try client.endsWithoutMoreBytes(within: .seconds(3)))
                #expect(proxy.audit.waitForRecords(2).count == 2)
            }
        }
    }
}

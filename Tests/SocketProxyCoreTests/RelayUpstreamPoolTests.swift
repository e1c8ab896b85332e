// Tests for reusing daemon connections across clients: a clean one is reused, one with an answer under way never.
import Foundation
import Testing

@testable import SocketProxyCore

extension RelayTests {
    struct UpstreamPool {
        @Test func theDaemonConnectionOfAClientThatLeftServesTheNextClient() throws {
            try withRelay(script: { request in .bytes(HTTPText.response(body: "answer to \(request.target)")) }) {
                proxy, upstream in
                for index in 0..<3 {
                    let client = try proxy.connect()
                    try client.send(HTTPText.request("/containers/c\(index)/json"))
                    #expect(try client.readResponse().bodyText == "answer to /containers/c\(index)/json")
                    client.close()
                    // The proxy notices the client left before the next one arrives.
                    _ = eventually { proxy.statistics.openConnections == 0 }
                }
                #expect(upstream.waitForRequests(3))
                #expect(upstream.connectionCount == 1, "each client opened its own daemon connection")
            }
        }

        /// A keep-alive exchange wakes the loop for the request and for the answer, not a third time when the
        /// daemon reads the request (a Unix socket reports room to write whenever its peer reads): the daemon
        /// connection's registration includes writability only while a write to it would block. The twenty
        /// mebibyte upload in the body tests is the case where it does.
        @Test func aKeepAliveExchangeWakesTheLoopOnlyForTheRequestAndTheAnswer() throws {
            try withRelay(script: { _ in .bytes(HTTPText.response(body: "OK")) }) { proxy, _ in
                let loop = try #require(proxy.server.loops.first)
                let client = try proxy.connect()
                for _ in 0..<20 {
                    try client.send(HTTPText.request("/_ping"))
                    #expect(try client.readResponse().bodyText == "OK")
                }
                let exchanges: UInt64 = 200
                let before = loop.iterations
                for _ in 0..<exchanges {
                    try client.send(HTTPText.request("/_ping"))
                    #expect(try client.readResponse().bodyText == "OK")
                }
                let wakes = loop.iterations - before
                // Two per exchange, and a few to spare for the loop's periodic tick and the client's own
                // acknowledgements; a wake per daemon read would make it three per exchange.
                #expect(wakes >= 2 * exchanges && wakes <= 2 * exchanges + exchanges / 4, "\(wakes) wakes")
            }
        }

        @Test(arguments: [
            (request: ["Connection: close"], response: [String]()),
            (request: [String](), response: ["Connection: close"]),
        ])
        func aDaemonConnectionThatWasToldToCloseIsNeverPooled(request: [String], response: [String]) throws {
            // The daemon closes such a connection after its answer; pooled, the next client could get it in the
            // moment before the hangup shows and see its request reset. This fake daemon keeps it open, so a
            // second connection proves the proxy did not reuse it.
            try withRelay(script: { _ in .bytes(HTTPText.response(body: "OK", fields: response)) }) {
                proxy, upstream in
                for _ in 0..<2 {
                    let client = try proxy.connect()
                    try client.send(HTTPText.request("/_ping", fields: request))
                    #expect(try client.readResponse().bodyText == "OK")
                    client.close()
                    _ = eventually { proxy.statistics.openConnections == 0 }
                }
                #expect(upstream.waitForRequests(2))
                #expect(upstream.connectionCount == 2, "a connection told to close was handed to the next client")
            }
        }

        @Test func aDaemonConnectionWithAStreamUnderWayIsNeverHandedToAnotherClient() throws {
            let chunk = Array("10\r\n".utf8) + Array(repeating: UInt8(ascii: "e"), count: 16) + Array("\r\n".utf8)
            try withRelay(script: { request in
                request.target == "/events"
                    ? .endless(
                        head: Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".utf8),
                        piece: Array(repeating: chunk, count: 64).flatMap { $0 })
                    : .bytes(HTTPText.response(body: "OK"))
            }) { proxy, upstream in
                let streaming = try proxy.connect()
                try streaming.send(HTTPText.request("/events"))
                _ = try streaming.read(exactly: 10_000)
                streaming.close()
                _ = eventually { proxy.statistics.openConnections == 0 }
                for _ in 0..<3 {
                    let client = try proxy.connect()
                    try client.send(HTTPText.request("/_ping"))
                    #expect(try client.readResponse().raw == HTTPText.response(body: "OK"))
                    client.close()
                    _ = eventually { proxy.statistics.openConnections == 0 }
                }
                // The stream's daemon connection was closed; the pings got a fresh one, then shared it.
                #expect(upstream.connectionCount == 2)
            }
        }
    }
}

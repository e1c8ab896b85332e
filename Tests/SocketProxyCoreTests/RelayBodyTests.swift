// Tests for bodies through the relay: chunked in odd splits, large lengths, bodiless answers, interim answers.
import Foundation
import Testing

@testable import SocketProxyCore

extension RelayTests {
    /// Request and response bodies arrive intact, whatever their framing and however they are split.
    struct Bodies {
        /// Sends the pieces with a pause between them, so the proxy reads each on its own.
        static func sendInPieces(_ client: StreamSocket, _ pieces: [[UInt8]]) throws {
            for piece in pieces {
                try client.send(piece)
                Thread.sleep(forTimeInterval: 0.004)
            }
        }

        @Test func aChunkedRequestBodySentInOddSplitsArrivesIntact() throws {
            try withRelay(script: { _ in .answer { HTTPText.response(body: "got \($0.bodyText)") } }) {
                proxy, upstream in
                let head = "POST /containers/create HTTP/1.1\r\nHost: docker\r\nTransfer-Encoding: chunked\r\n\r\n"
                let pieces = [
                    head + "5\r\nhe", "llo\r\n1", "0;ext=\"q\"\r\n0123456789ab", "cdef\r", "\n0\r\nX-Trailer: t",
                    "\r", "\n\r", "\n",
                ].map { Array($0.utf8) }
                let client = try proxy.connect()
                try Self.sendInPieces(client, pieces)
                let answer = try client.readResponse()
                #expect(answer.bodyText == "got hello0123456789abcdef")
                #expect(upstream.waitForRequests(1))
                #expect(upstream.received == [pieces.flatMap { $0 }])
                #expect(upstream.requests.first?.trailers.first?.name == "X-Trailer")
                // The request ended exactly where its framing said: the connection carries another one.
                try client.send(HTTPText.request("/_ping"))
                #expect(try client.readResponse().bodyText == "got ")
            }
        }

        @Test func aChunkedRequestWithLargeChunksSplitAcrossWritesArrivesIntact() throws {
            let data = patternBytes(700_000, seed: 7)
            var body: [UInt8] = []
            body += Array("4b000\r\n".utf8) + data[0..<0x4b000] + Array("\r\n".utf8)
            body += Array(String(data.count - 0x4b000, radix: 16).utf8) + Array("\r\n".utf8) + data[0x4b000...]
            body += Array("\r\n0\r\n\r\n".utf8)
            let head = Array(
                "PUT /containers/x/archive?path=/tmp HTTP/1.1\r\nHost: docker\r\nTransfer-Encoding: chunked\r\n\r\n"
                    .utf8)
            try withRelay(script: { _ in .answer { HTTPText.response(body: "\($0.body.count)") } }) {
                proxy, upstream in
                let client = try proxy.connect()
                var pieces: [[UInt8]] = [head]
                var offset = 0
                for size in [3, 70_000, 1, 250_000, 9, 300_000, 4] {
                    let end = min(body.count, offset + size)
                    pieces.append(Array(body[offset..<end]))
                    offset = end
                }
                pieces.append(Array(body[offset...]))
                try Self.sendInPieces(client, pieces)
                #expect(try client.readResponse().bodyText == "700000")
                #expect(upstream.waitForRequests(1))
                #expect(upstream.requests.first?.body == data)
                #expect(upstream.received == [head + body])
            }
        }

        @Test func aChunkedAnswerWithTrailersWrittenInOddPiecesArrivesIntact() throws {
            let pieces = [
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
                    + "Trailer: X-Checksum\r\n\r\n3", "\r\nabc\r", "\n1a\r\nabcdefghijklmnopqrst", "uvwxyz\r\n0",
                "\r\nX-Checksum: 42\r\n", "\r\n",
            ].map { Array($0.utf8) }
            try withRelay(script: { request in
                request.target == "/_ping" ? .bytes(HTTPText.response(body: "OK")) : .pieces(pieces)
            }) { proxy, upstream in
                let client = try proxy.connect()
                try client.send(HTTPText.request("/containers/x/logs?follow=0"))
                let answer = try client.readResponse()
                #expect(answer.raw == pieces.flatMap { $0 })
                #expect(answer.bodyText == "abcabcdefghijklmnopqrstuvwxyz")
                #expect(answer.trailers.map(\.name) == ["X-Checksum"])
                try client.send(HTTPText.request("/_ping"))
                #expect(try client.readResponse().raw == HTTPText.response(body: "OK"))
                #expect(upstream.connectionCount == 1)
                let records = proxy.audit.waitForRecords(2)
                #expect(records.count == 2)
                #expect(records.first?.bytesOut == UInt64(pieces.flatMap { $0 }.count))
            }
        }

        @Test func twentyMebibytesGoBothWaysIntact() throws {
            let size = 20 << 20
            let upload = patternBytes(size, seed: 1)
            let download = patternBytes(size, seed: 2)
            let answer =
                Array("HTTP/1.1 200 OK\r\nContent-Type: application/x-tar\r\nContent-Length: \(size)\r\n\r\n".utf8)
                + download
            try withRelay(script: { _ in .bytes(answer) }) { proxy, upstream in
                let client = try proxy.connect()
                let head =
                    "PUT /containers/x/archive?path=/ HTTP/1.1\r\nHost: docker\r\nContent-Length: \(size)\r\n\r\n"
                try client.send(Array(head.utf8) + upload)
                let response = try client.readResponse(timeout: .seconds(20))
                #expect(response.status == 200)
                #expect(response.body.count == size)
                #expect(response.body == download)
                #expect(upstream.waitForRequests(1))
                #expect(upstream.requests.first?.body == upload)
                let records = proxy.audit.waitForRecords(1)
                #expect(records.first?.bytesIn == UInt64(head.utf8.count + size))
                #expect(records.first?.bytesOut == UInt64(answer.count))
            }
        }

        struct Bodiless: Sendable, CustomTestStringConvertible {
            let method: String
            let target: String
            let answer: String
            var testDescription: String { "\(method) answered \(answer.prefix(12))" }
        }

        static let bodiless: [Bodiless] = [
            Bodiless(
                method: "HEAD", target: "/containers/x/json",
                answer: "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1234\r\n\r\n"),
            Bodiless(
                method: "HEAD", target: "/containers/x/archive?path=/etc",
                answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Bodiless(
                method: "DELETE", target: "/containers/x",
                answer: "HTTP/1.1 204 No Content\r\nApi-Version: 1.45\r\n\r\n"),
            Bodiless(
                method: "GET", target: "/containers/x/json",
                answer: "HTTP/1.1 304 Not Modified\r\nETag: \"1\"\r\nContent-Length: 99\r\n\r\n"),
        ]

        @Test(arguments: bodiless)
        func anAnswerWithoutABodyIsFollowedDirectlyByTheNextAnswer(_ item: Bodiless) throws {
            try withRelay(script: { request in
                request.target == "/_ping" ? .bytes(HTTPText.response(body: "OK")) : .bytes(Array(item.answer.utf8))
            }) { proxy, upstream in
                let client = try proxy.connect()
                try client.send(HTTPText.request(item.target, method: item.method) + HTTPText.request("/_ping"))
                let first = try client.readResponse(to: item.method)
                #expect(first.text == item.answer)
                #expect(try client.readResponse().raw == HTTPText.response(body: "OK"))
                #expect(upstream.connectionCount == 1)
                #expect(proxy.audit.waitForRecords(2).map(\.status) == [first.status, 200])
            }
        }

        @Test func aHundredContinueReachesTheClientBeforeItSendsTheBody() throws {
            let answer = HTTPText.response(201, reason: "Created", body: "{\"Id\":\"new\"}")
            try withRelay(script: { _ in .continueThen(answer) }) { proxy, upstream in
                let client = try proxy.connect()
                let head =
                    "POST /containers/create HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\n"
                    + "Expect: 100-continue\r\nContent-Length: 15\r\n\r\n"
                try client.send(head)
                #expect(try client.read(exactly: 25) == Array("HTTP/1.1 100 Continue\r\n\r\n".utf8))
                try client.send("{\"Image\":\"abc\"}")
                #expect(try client.readResponse().raw == answer)
                #expect(upstream.waitForRequests(1))
                #expect(upstream.requests.first?.bodyText == "{\"Image\":\"abc\"}")
                let records = proxy.audit.waitForRecords(1)
                #expect(records.count == 1)
                #expect(records.first?.status == 201)
            }
        }

        @Test func anAnswerSentBeforeTheBodyReachesTheClientAndThenTheConnectionCloses() throws {
            let answer = HTTPText.response(
                404, reason: "Not Found", body: "{\"message\":\"No such container: x\"}\n",
                fields: ["Content-Type: application/json"])
            try withRelay(script: { _ in .early(answer) }) { proxy, upstream in
                let client = try proxy.connect()
                try client.send(
                    "PUT /containers/x/archive?path=/ HTTP/1.1\r\nHost: docker\r\nContent-Length: 1000000\r\n\r\n")
                try client.send(Array(repeating: 0x61, count: 1000))
                #expect(try client.readResponse().raw == answer)
                #expect(try client.endsWithoutMoreBytes(within: .seconds(3)))
                let records = proxy.audit.waitForRecords(1)
                #expect(records.count == 1)
                #expect(records.first?.decision == .allow)
                #expect(records.first?.status == 404)
            }
        }

        @Test(arguments: [0, 3 << 20])
        func aCloseDelimitedAnswerEndsWithTheConnectionClosed(extra: Int) throws {
            let answer =
                Array("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nstreamed until close".utf8)
                + patternBytes(extra, seed: 3)
            let gate = DispatchSemaphore(value: 0)
            try withRelay(script: { _ in
                .custom { socket, _ in
                    _ = gate.wait(timeout: .now() + 5)
                    try socket.send(answer)
                    return false  // and close
                }
            }) { proxy, upstream in
                let client = try proxy.connect()
                try client.send(HTTPText.request("/containers/x/export"))
                #expect(upstream.waitForRequests(1))
                // The answer (or what fits in the socket) and the daemon's end of stream arrive as one event.
                proxy.holdLoop(for: .milliseconds(100))
                gate.signal()
                let received = try client.readToEnd()
                #expect(received.count == answer.count)
                #expect(received == answer)
                #expect(client.ended)
                let records = proxy.audit.waitForRecords(1)
                #expect(records.count == 1)
                #expect(records.first?.decision == .allow)
                #expect(records.first?.bytesOut == UInt64(answer.count))
            }
        }

        @Test func anHTTP10AnswerWithoutLengthIsRelayedUntilTheDaemonCloses() throws {
            let answer = Array("HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{\"Id\":\"abc\"}\n".utf8)
            try withRelay(script: { _ in .thenClose(answer) }) { proxy, upstream in
                let client = try proxy.connect()
                try client.send(HTTPText.request("/containers/abc/json"))
                #expect(try client.readToEnd() == answer)
                #expect(proxy.audit.waitForRecords(1).map(\.status) == [200])
            }
        }

        /// A slow reader fills the client socket; the daemon writes in small pieces, so the splice pipe runs out of
        /// slots long before it runs out of bytes. Reading must resume once the client drains.
        @Test func aSlowReaderStillGetsAnAnswerTheDaemonWroteInSmallPieces() throws {
            let size = 3 << 20
            let body = patternBytes(size, seed: 5)
            let head = Array("HTTP/1.1 200 OK\r\nContent-Length: \(size)\r\n\r\n".utf8)
            try withRelay(script: { _ in
                .custom { socket, _ in
                    try socket.send(head)
                    var offset = 0
                    while offset < size {
                        try socket.send(Array(body[offset..<min(size, offset + 512)]))
                        offset += 512
                    }
                    return true
                }
            }) { proxy, upstream in
                let client = try proxy.connect(receiveBuffer: 4096)
                try client.send(HTTPText.request("/containers/x/logs"))
                Thread.sleep(forTimeInterval: 0.3)  // let every buffer on the way fill up
                let response = try client.readResponse(timeout: .seconds(10))
                #expect(response.body.count == size)
                #expect(response.body == body)
            }
        }
    }
}

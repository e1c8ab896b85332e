// Tests for the proxy's own answers to requests it will not forward: malformed heads, limits, ambiguous targets.
import Foundation
import Testing

@testable import SocketProxyCore

extension RelayTests {
    /// Requests the proxy refuses itself: the answer is Docker's JSON error shape, the connection closes, and the
    /// daemon sees nothing, not even a connection.
    struct Refusals {
        struct Case: Sendable, CustomTestStringConvertible {
            let name: String
            let request: String
            let status: Int
            let reason: String
            let message: String
            var testDescription: String { name }
        }

        /// Checks the exact answer, the close, the untouched daemon and the single audit record.
        static func expectRefusal(_ item: Case, decision: AuditDecision = .malformed) throws {
            try withRelay(script: { _ in .bytes(HTTPText.response()) }) { proxy, upstream in
                let client = try proxy.connect()
                try client.send(item.request)
                let answer = try client.readResponse()
                #expect(
                    answer.text
                        == HTTPText.localAnswer(item.status, item.reason, message: item.message, close: true))
                #expect(try client.endsWithoutMoreBytes(within: .seconds(3)))
                #expect(upstream.connectionCount == 0)
                let records = proxy.audit.waitForRecords(1)
                #expect(records.count == 1)
                #expect(records.first?.decision == decision)
                #expect(records.first?.status == item.status)
                #expect(proxy.statistics.malformedRequests == 1)
            }
        }

        static let malformedHeads: [Case] = [
            Case(
                name: "obsolete line folding",
                request: "GET /_ping HTTP/1.1\r\nHost: docker\r\nX-Folded: one\r\n two\r\n\r\n", status: 400,
                reason: "Bad Request", message: "socket-proxy: obsolete line folding in header field"),
            Case(
                name: "Content-Length with Transfer-Encoding",
                request: "POST /containers/create HTTP/1.1\r\nHost: docker\r\nContent-Length: 5\r\n"
                    + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                status: 400, reason: "Bad Request",
                message: "socket-proxy: Content-Length together with Transfer-Encoding"),
            Case(
                name: "two Content-Length fields",
                request: "POST /containers/create HTTP/1.1\r\nHost: docker\r\nContent-Length: 5\r\n"
                    + "Content-Length: 6\r\n\r\nhello!",
                status: 400, reason: "Bad Request", message: "socket-proxy: more than one Content-Length"),
            Case(
                name: "bare LF line ends", request: "GET /_ping HTTP/1.1\nHost: docker\n\n", status: 400,
                reason: "Bad Request", message: "socket-proxy: LF without CR"),
            Case(
                name: "whitespace before the colon", request: "GET /_ping HTTP/1.1\r\nHost : docker\r\n\r\n",
                status: 400, reason: "Bad Request",
                message: "socket-proxy: whitespace between header field name and colon"),
            Case(
                name: "no Host", request: "GET /_ping HTTP/1.1\r\nAccept: */*\r\n\r\n", status: 400,
                reason: "Bad Request", message: "socket-proxy: missing Host header"),
        ]

        @Test(arguments: malformedHeads)
        func aMalformedHeadIsAnswered400AndClosedWithoutReachingTheDaemon(_ item: Case) throws {
            try Self.expectRefusal(item)
        }

        @Test func aBadChunkSizeIsAnswered400AndClosedWithoutReachingTheDaemon() throws {
            try Self.expectRefusal(
                Case(
                    name: "bad chunk size",
                    request: "POST /containers/create HTTP/1.1\r\nHost: docker\r\nTransfer-Encoding: chunked\r\n\r\n"
                        + "zz\r\nhello\r\n0\r\n\r\n",
                    status: 400, reason: "Bad Request",
                    message: "socket-proxy: POST /containers/create is refused: invalid chunk size"))
        }

        static let oversizedHeads: [Case] = [
            Case(
                name: "request line over 8 KiB",
                request: "GET /containers/" + String(repeating: "a", count: 9000)
                    + "/json HTTP/1.1\r\nHost: docker\r\n\r\n",
                status: 431, reason: "Request Header Fields Too Large",
                message: "socket-proxy: request line too long"),
            Case(
                name: "101 header fields",
                request: "GET /_ping HTTP/1.1\r\nHost: docker\r\n"
                    + (1...100).map { "X-Field-\($0): value\r\n" }.joined() + "\r\n",
                status: 431, reason: "Request Header Fields Too Large",
                message: "socket-proxy: too many header fields"),
            Case(
                name: "head over 64 KiB",
                request: "GET /_ping HTTP/1.1\r\nHost: docker\r\n"
                    + (1...70).map { "X-Big-\($0): " + String(repeating: "b", count: 1000) + "\r\n" }.joined()
                    + "\r\n",
                status: 431, reason: "Request Header Fields Too Large",
                message: "socket-proxy: header section too large"),
        ]

        @Test(arguments: oversizedHeads)
        func aHeadOverALimitIsAnswered431AndClosed(_ item: Case) throws {
            try Self.expectRefusal(item)
        }

        static let ambiguousTargets: [Case] = [
            Case(
                name: "invalid percent-encoding", request: HTTPText.request("/containers/%zz/json"), status: 400,
                reason: "Bad Request",
                message:
                    "socket-proxy: GET /containers/%zz/json is refused: the path has a \\\"%\\\" not followed by two hex digits"
            ),
            Case(
                name: "truncated percent-encoding", request: HTTPText.request("/containers/json%2"), status: 400,
                reason: "Bad Request",
                message:
                    "socket-proxy: GET /containers/json%2 is refused: the path has a \\\"%\\\" not followed by two hex digits"
            ),
            Case(
                name: "dot-dot segment", request: HTTPText.request("/containers/../secrets"), status: 400,
                reason: "Bad Request",
                message: "socket-proxy: GET /containers/../secrets is refused: the path has a dot segment"),
            Case(
                name: "encoded dot-dot segment", request: HTTPText.request("/v1.41/containers/%2e%2E/secrets?x=1"),
                status: 400, reason: "Bad Request",
                message: "socket-proxy: GET /v1.41/containers/%2e%2E/secrets is refused: the path has a dot segment"),
            Case(
                name: "dot segment", request: HTTPText.request("/containers/./json"), status: 400,
                reason: "Bad Request",
                message: "socket-proxy: GET /containers/./json is refused: the path has a dot segment"),
        ]

        @Test(arguments: ambiguousTargets)
        func anAmbiguousTargetIsAnswered400AndClosed(_ item: Case) throws {
            try Self.expectRefusal(item)
        }
    }
}

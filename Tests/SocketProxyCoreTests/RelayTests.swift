// Tests for the relay through a real ProxyServer: forwarding, keep-alive, pipelining and the audit trail.
import Foundation
import Testing

@testable import SocketProxyCore

/// Every relay test starts its own proxy (one loop thread, 127.0.0.1, a port the kernel picks) in front of its own
/// fake daemon. They run one at a time: `FaultInjection` is process-wide, and a fault meant for one test must not
/// reach another's proxy.
@Suite(.serialized)
struct RelayTests {}

extension RelayTests {
    /// Allowed requests go to the daemon unchanged, answers come back unchanged, one audit record each.
    struct Forwarding {
        static let answer = HTTPText.response(
            body: "[{\"Id\":\"abc\"}]\n",
            fields: ["Api-Version: 1.45", "Content-Type: application/json", "X-Spacing:   kept  as sent "])

        @Test func anAllowedRequestReachesTheDaemonByteForByteAndItsAnswerReturnsByteForByte() throws {
            try withRelay(script: { _ in .bytes(Self.answer) }) { proxy, upstream in
                let request =
                    "GET /v1.45/containers/json?all=1&filters=%7B%22status%22%3A%5B%22running%22%5D%7D HTTP/1.1\r\n"
                    + "Host: docker\r\nUser-Agent: Docker-Client/27.0 (linux)\r\nX-Odd:   spaced\tvalue  \r\n"
                    + "Accept-Encoding: gzip\r\n\r\n"
                let client = try proxy.connect()
                try client.send(request)
                let response = try client.readResponse()
                #expect(response.raw == Self.answer)
                #expect(upstream.waitForRequests(1))
                #expect(upstream.received == [Array(request.utf8)])

                let records = proxy.audit.waitForRecords(1)
                #expect(records.count == 1)
                let record = try #require(records.first)
                #expect(record.decision == .allow)
                #expect(record.status == 200)
                #expect(record.method == "GET")
                #expect(record.path == "/v1.45/containers/json")
                #expect(record.query == "all=1&filters=%7B%22status%22%3A%5B%22running%22%5D%7D")
                #expect(record.apiVersion == "1.45")
                #expect(record.section == "containers")
                #expect(record.rule == "CONTAINERS")
                #expect(record.bytesIn == UInt64(request.utf8.count))
                #expect(record.bytesOut == UInt64(Self.answer.count))
                #expect(record.reason.isEmpty)
            }
        }

        @Test func aKeepAliveConnectionCarriesRequestsOneAfterAnotherOverOneDaemonConnection() throws {
            try withRelay(script: { request in .bytes(HTTPText.response(body: "answer to \(request.target)")) }) {
                proxy, upstream in
                let client = try proxy.connect()
                var sent: [UInt8] = []
                for index in 0..<5 {
                    let request = HTTPText.request("/containers/c\(index)/json")
                    sent += Array(request.utf8)
                    try client.send(request)
                    let response = try client.readResponse()
                    #expect(response.status == 200)
                    #expect(response.bodyText == "answer to /containers/c\(index)/json")
                }
                #expect(upstream.waitForRequests(5))
                #expect(upstream.connectionCount == 1)
                #expect(upstream.received == [sent])
                let records = proxy.audit.waitForRecords(5)
                #expect(records.count == 5)
                #expect(records.allSatisfy { $0.decision == .allow && $0.status == 200 })
                #expect(Set(records.map(\.requestID)).count == 5)
            }
        }

        @Test func pipelinedAllowedDeniedAllowedInOneWriteAreAnsweredInOrderAndOnlyTheAllowedReachTheDaemon() throws {
            try withRelay(script: { request in .bytes(HTTPText.response(body: "answer to \(request.target)")) }) {
                proxy, upstream in
                let first = HTTPText.request("/containers/json")
                let denied = HTTPText.request("/secrets")
                let third = HTTPText.request("/_ping")
                let client = try proxy.connect()
                try client.send(first + denied + third)

                let answers = try (0..<3).map { _ in try client.readResponse() }
                #expect(answers[0].raw == HTTPText.response(body: "answer to /containers/json"))
                let deniedAnswer = HTTPText.localAnswer(
                    403, "Forbidden",
                    message: "socket-proxy: GET /secrets is denied: no rule of profile relay-tests allows it",
                    close: false)
                #expect(answers[1].text == deniedAnswer)
                #expect(answers[2].raw == HTTPText.response(body: "answer to /_ping"))

                #expect(upstream.waitForRequests(2))
                #expect(upstream.received == [Array((first + third).utf8)])
                let records = proxy.audit.waitForRecords(3)
                #expect(records.map(\.decision) == [.allow, .deny, .allow])
                #expect(records.map(\.status) == [200, 403, 200])
                #expect(records.map(\.path) == ["/containers/json", "/secrets", "/_ping"])
                #expect(records[1].rule == "default-deny")
                #expect(records[1].reason == "no rule of profile relay-tests allows it")
                // The connection is still good for more.
                try client.send(HTTPText.request("/_ping"))
                #expect(try client.readResponse().status == 200)
            }
        }

        @Test func pipelinedRequestsWithBodiesKeepTheirBoundaries() throws {
            try withRelay(script: { _ in .answer { HTTPText.response(body: "got \($0.bodyText)") } }) {
                proxy, upstream in
                let one = "POST /containers/a/start HTTP/1.1\r\nHost: docker\r\nContent-Length: 5\r\n\r\nfirst"
                let two =
                    "POST /containers/b/start HTTP/1.1\r\nHost: docker\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + "6\r\nsecond\r\n0\r\n\r\n"
                let three = "POST /containers/c/start HTTP/1.1\r\nHost: docker\r\nContent-Length: 0\r\n\r\n"
                let client = try proxy.connect()
                try client.send(one + two + three)
                #expect(try client.readResponse().bodyText == "got first")
                #expect(try client.readResponse().bodyText == "got second")
                #expect(try client.readResponse().bodyText == "got ")
                #expect(upstream.waitForRequests(3))
                #expect(upstream.received == [Array((one + two + three).utf8)])
                #expect(proxy.audit.waitForRecords(3).count == 3)
            }
        }

        @Test func aDeniedRequestWithABodyIsAnswered403WithConnectionCloseAndNothingReachesTheDaemon() throws {
            try withRelay(script: { _ in .bytes(HTTPText.response()) }) { proxy, upstream in
                let client = try proxy.connect()
                try client.send(
                    "POST /images/create?fromImage=alpine HTTP/1.1\r\nHost: docker\r\n"
                        + "Content-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"some\":\"x\"}\n")
                let answer = try client.readResponse()
                let message = "socket-proxy: POST /images/create is denied: no rule of profile relay-tests allows it"
                #expect(answer.text == HTTPText.localAnswer(403, "Forbidden", message: message, close: true))
                #expect(try client.endsWithoutMoreBytes(within: .seconds(3)))
                #expect(upstream.connectionCount == 0)
                let records = proxy.audit.waitForRecords(1)
                #expect(records.count == 1)
                #expect(records.first?.decision == .deny)
                #expect(records.first?.status == 403)
                #expect(records.first?.section == "images")
                #expect(records.first?.query == "fromImage=alpine")
            }
        }

        @Test func aRequestWithConnectionCloseEndsTheConnectionAfterItsAnswer() throws {
            // The daemon's answer says nothing about the connection; the client asked to close it.
            try withRelay(script: { _ in .bytes(HTTPText.response(body: "OK")) }) { proxy, upstream in
                let client = try proxy.connect()
                try client.send(HTTPText.request("/_ping", fields: ["Connection: close"]))
                #expect(try client.readResponse().raw == HTTPText.response(body: "OK"))
                #expect(try client.endsWithoutMoreBytes(within: .seconds(2)))
                #expect(proxy.audit.waitForRecords(1).map(\.decision) == [.allow])
            }
        }

        @Test func anHTTP10RequestWithoutKeepAliveEndsTheConnectionAfterItsAnswer() throws {
            try withRelay(script: { _ in .bytes(HTTPText.response(body: "OK")) }) { proxy, upstream in
                let client = try proxy.connect()
                try client.send("GET /_ping HTTP/1.0\r\n\r\n")
                #expect(try client.readResponse().raw == HTTPText.response(body: "OK"))
                #expect(try client.endsWithoutMoreBytes(within: .seconds(2)))
            }
        }
    }
}

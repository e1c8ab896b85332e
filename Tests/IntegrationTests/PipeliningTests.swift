// Raw bytes on one keep-alive connection: pipelined requests are answered in order, a denied one in the middle
// of a burst is denied without reaching the daemon, and malformed requests get 400 and a closed connection.
import Foundation
import Testing

@Suite("Pipelined and malformed requests on a raw connection")
struct PipeliningTests {
    @Test func anAllowedAndADeniedRequestInOneWriteAreAnsweredInOrder() async throws {
        try await IntegrationContext.run { test in
            let proxy = try await test.startProxy(["CONTAINERS": "1"])
            let name = test.name("pipelined")
            let version = "v" + test.daemon.version.apiVersion
            let body = """
                {"Image":"\(TestImage.reference)","Cmd":["echo","\(test.tag)"],"Labels":{"socket-proxy-test.case":"\(test.tag)"},"HostConfig":{"NetworkMode":"none"}}
                """
            let connection = try proxy.connect()
            defer { connection.close() }
            try await connection.send(
                RawRequest.make("GET", "/\(version)/containers/json")
                    + RawRequest.make(
                        "POST", "/\(version)/containers/create?name=\(name)",
                        headers: [("Content-Type", "application/json")], body: body))
            let exchange = try await connection.readResponses(count: 2, methods: ["GET", "POST"])
            try #require(exchange.responses.count == 2, "\(exchange)\nproxy log:\n\(proxy.log)")
            let listed = exchange.responses[0]
            #expect(listed.status == 200, "\(exchange)")
            #expect((try? JSONSerialization.jsonObject(with: listed.body)) is [Any], "\(listed)")
            let denied = exchange.responses[1]
            #expect(denied.status == 403, "\(exchange)")
            #expect(denied.header("Content-Type")?.hasPrefix("application/json") == true, "\(denied)")
            let message = denied.jsonObject?["message"] as? String
            #expect(message?.hasPrefix("socket-proxy: ") == true, "\(denied)")
            #expect(try await test.api.container(name) == nil, "the pipelined create reached the daemon")
            #expect(try await test.api.containers(mentioning: test.tag).isEmpty)
        }
    }

    @Test func allowedRequestsInOneWriteAreAnsweredInOrder() async throws {
        try await IntegrationContext.run { test in
            let name = try await test.createContainer("pipelined-ok", ["true"])
            let proxy = try await test.startProxy(["CONTAINERS": "1"])
            let version = "v" + test.daemon.version.apiVersion
            let filter = escapeQuery(#"{"label":["\#(test.label)"]}"#)
            let connection = try proxy.connect()
            defer { connection.close() }
            try await connection.send(
                RawRequest.make("GET", "/_ping") + RawRequest.make("GET", "/\(version)/version")
                    + RawRequest.make("HEAD", "/_ping")
                    + RawRequest.make("GET", "/\(version)/containers/json?all=1&filters=\(filter)"))
            let exchange = try await connection.readResponses(count: 4, methods: ["GET", "GET", "HEAD", "GET"])
            try #require(exchange.responses.count == 4, "\(exchange)\nproxy log:\n\(proxy.log)")
            #expect(exchange.responses.map(\.status) == [200, 200, 200, 200], "\(exchange)")
            #expect(exchange.responses[0].bodyText == "OK", "\(exchange)")
            #expect(
                exchange.responses[1].jsonObject?["ApiVersion"] as? String == test.daemon.version.apiVersion,
                "\(exchange)")
            #expect(exchange.responses[2].body.isEmpty)
            let listed = (try? JSONSerialization.jsonObject(with: exchange.responses[3].body)) as? [[String: Any]]
            #expect(listed?.compactMap { $0["Names"] as? [String] } == [["/" + name]], "\(exchange)")
            #expect(!exchange.closedByPeer, "the proxy closed a keep-alive connection")
        }
    }

    /// Requests no server may guess the meaning of.
    static let malformedRequests: [String] = [
        "THIS IS NOT HTTP\r\n\r\n",
        "GET /_ping HTTP/1.1\r\nHost: docker\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "POST /_ping HTTP/1.1\r\nHost: docker\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        "GET /_ping HTTP/1.1\r\nHost: docker\r\nBad Header Name: x\r\n\r\n",
    ]

    @Test(arguments: malformedRequests)
    func malformedRequestsGet400AndTheConnectionCloses(request: String) async throws {
        try await IntegrationContext.run { test in
            let proxy = try await test.startProxy([:])
            let connection = try proxy.connect()
            defer { connection.close() }
            try await connection.send(request)
            let exchange = try await connection.readResponses(count: 1)
            try #require(exchange.responses.count == 1, "\(exchange)\nproxy log:\n\(proxy.log)")
            #expect(exchange.responses[0].status == 400, "\(exchange)")
            #expect(try await connection.waitForClose(), "the connection stayed open after a 400")
        }
    }
}

// Container create bodies sent byte for byte to a proxy in front of the real daemon: JSON spellings the daemon reads
// as Privileged are denied, bodies it could read differently are refused, framing (chunked, 100-continue, sizes)
// does not change the verdict, and what passes reaches the daemon exactly as sent.
import Foundation
import Testing

/// One create body and how the proxy must answer it.
struct BodyCase: Sendable, CustomTestStringConvertible {
    let name: String
    /// The body; `IMAGE` and `LABELS` are replaced with the test image and the test's label object.
    let body: [UInt8]
    let contentType: String
    let status: Int
    /// Text the proxy's message must contain.
    let message: String

    init(_ name: String, _ body: String, contentType: String = "application/json", status: Int, message: String) {
        self.init(name, Array(body.utf8), contentType: contentType, status: status, message: message)
    }

    init(_ name: String, _ body: [UInt8], contentType: String = "application/json", status: Int, message: String) {
        self.name = name
        self.body = body
        self.contentType = contentType
        self.status = status
        self.message = message
    }

    var testDescription: String { name }
}

@Suite("Container create bodies on the wire", .serialized)
struct InspectionRawBodyTests {
    static let privileged =
        "is not allowed by profile tecnativa: privileged mode gives the container every capability and device of "
        + "the host"

    static let deniedSpellings: [BodyCase] = [
        BodyCase(
            "lower-case privileged", #"{"Image":IMAGE,"Labels":LABELS,"HostConfig":{"privileged":true}}"#,
            status: 403, message: "socket-proxy: HostConfig.Privileged " + privileged),
        BodyCase(
            "escaped P of Privileged", #"{"Image":IMAGE,"Labels":LABELS,"HostConfig":{"\u0050rivileged":true}}"#,
            status: 403, message: "socket-proxy: HostConfig.Privileged " + privileged),
        BodyCase(
            "upper-case key HOSTCONFIG", #"{"Image":IMAGE,"Labels":LABELS,"HOSTCONFIG":{"PRIVILEGED":true}}"#,
            status: 403, message: "socket-proxy: HostConfig.Privileged " + privileged),
        BodyCase(
            "top-level Privileged without HostConfig", #"{"Image":IMAGE,"Labels":LABELS,"Privileged":true}"#,
            status: 403, message: "socket-proxy: Privileged " + privileged),
        BodyCase(
            "top-level Privileged with HostConfig null",
            #"{"Image":IMAGE,"Labels":LABELS,"HostConfig":null,"Privileged":true}"#,
            status: 403, message: "socket-proxy: Privileged " + privileged),
    ]

    static let refusedBodies: [BodyCase] = [
        BodyCase(
            "duplicate keys differing by case",
            #"{"Image":IMAGE,"Labels":LABELS,"HostConfig":{"Privileged":false,"privileged":true}}"#,
            status: 400, message: "duplicate keys differing only by case"),
        BodyCase(
            "trailing data", #"{"Image":IMAGE,"Labels":LABELS} {"HostConfig":{"Privileged":true}}"#,
            status: 400, message: "unexpected data after the JSON value"),
        BodyCase(
            "invalid UTF-8",
            Array(#"{"Image":IMAGE,"Labels":LABELS,"WorkingDir":"/"#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8),
            status: 400, message: "invalid UTF-8"),
        BodyCase(
            "Content-Type text/plain", #"{"Image":IMAGE,"Labels":LABELS}"#, contentType: "text/plain",
            status: 415, message: "unsupported Content-Type header (text/plain)"),
    ]

    /// The body with the test image and label filled in.
    static func fill(_ body: [UInt8], _ test: IntegrationContext) -> [UInt8] {
        let labels = #"{"socket-proxy-test.case":"\#(test.tag)"}"#
        var text = String(decoding: body, as: UTF8.self)
        // Only the placeholders are replaced, so invalid bytes elsewhere survive: split around them on bytes.
        guard String(validating: body, as: UTF8.self) != nil else {
            var bytes = body
            for (placeholder, value) in [("IMAGE", "\"\(TestImage.reference)\""), ("LABELS", labels)] {
                let needle = Array(placeholder.utf8)
                if let range = bytes.firstRange(of: needle) { bytes.replaceSubrange(range, with: Array(value.utf8)) }
            }
            return bytes
        }
        text = text.replacingOccurrences(of: "IMAGE", with: "\"\(TestImage.reference)\"")
        text = text.replacingOccurrences(of: "LABELS", with: labels)
        return Array(text.utf8)
    }

    /// `POST /vX/containers/create?name=NAME` with a Content-Length body.
    static func createRequest(
        _ test: IntegrationContext, name: String, body: [UInt8], contentType: String = "application/json",
        headers: [(String, String)] = []
    ) -> [UInt8] {
        var head =
            "POST /v\(test.daemon.version.apiVersion)/containers/create?name=\(name) HTTP/1.1\r\nHost: docker\r\n"
        head += "Content-Type: \(contentType)\r\n"
        for (field, value) in headers { head += "\(field): \(value)\r\n" }
        head += "Content-Length: \(body.count)\r\n\r\n"
        return Array(head.utf8) + body
    }

    /// The head of a chunked create request.
    static func chunkedHead(_ test: IntegrationContext, name: String) -> [UInt8] {
        Array(
            ("POST /v\(test.daemon.version.apiVersion)/containers/create?name=\(name) HTTP/1.1\r\nHost: docker\r\n"
                + "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n").utf8)
    }

    /// One chunk with its framing.
    static func chunk(_ data: String) -> [UInt8] {
        Array((String(data.utf8.count, radix: 16) + "\r\n" + data + "\r\n").utf8)
    }

    /// The proxy's `{"message": ...}`.
    static func message(_ response: RawResponse?) -> String {
        response?.jsonObject?["message"] as? String ?? response?.bodyText ?? "<no response>"
    }

    @Test(arguments: deniedSpellings)
    func aSpellingOfPrivilegedTheDaemonReadsIsDenied(_ item: BodyCase) async throws {
        try await IntegrationContext.run { test in
            let proxy = try await test.startProxy(["CONTAINERS": "1", "POST": "1"])
            let name = test.name("spelling")
            let connection = try proxy.connect()
            defer { connection.close() }
            try await connection.send(Self.createRequest(test, name: name, body: Self.fill(item.body, test)))
            let exchange = try await connection.readResponses(count: 1, methods: ["POST"])
            let response = exchange.responses.first
            #expect(response?.status == item.status, "\(exchange)\nproxy log:\n\(proxy.log)")
            #expect(Self.message(response).contains(item.message), "\(exchange)")
            #expect(try await test.api.container(name) == nil, "the denied body created \(name)")
            #expect(try await test.api.containers(labelled: test.label).isEmpty)
        }
    }

    @Test(arguments: refusedBodies)
    func aBodyTheDaemonCouldReadDifferentlyIsRefusedAndTheConnectionClosed(_ item: BodyCase) async throws {
        try await IntegrationContext.run { test in
            let proxy = try await test.startProxy(["CONTAINERS": "1", "POST": "1"])
            let name = test.name("refused")
            let connection = try proxy.connect()
            defer { connection.close() }
            try await connection.send(
                Self.createRequest(test, name: name, body: Self.fill(item.body, test), contentType: item.contentType))
            let exchange = try await connection.readResponses(count: 1, methods: ["POST"])
            let response = exchange.responses.first
            #expect(response?.status == item.status, "\(exchange)\nproxy log:\n\(proxy.log)")
            #expect(Self.message(response).hasPrefix("socket-proxy: the request body cannot be inspected: "))
            #expect(Self.message(response).contains(item.message), "\(exchange)")
            #expect(response?.header("Connection")?.lowercased() == "close", "\(exchange)")
            #expect(try await connection.waitForClose(), "the proxy kept the connection open after \(item.status)")
            #expect(try await test.api.container(name) == nil, "the refused body created \(name)")
        }
    }

    @Test func aBodyLargerThanMaxBodyBytesIsRefusedWith413BeforeItIsSent() async throws {
        try await IntegrationContext.run { test in
            let proxy = try await test.startProxy(["CONTAINERS": "1", "POST": "1"])
            let name = test.name("large")
            let filler = String(repeating: "x", count: 2 << 20)
            let body = Array(#"{"Image":"\#(TestImage.reference)","Env":["PAD=\#(filler)"]}"#.utf8)
            let request = Self.createRequest(test, name: name, body: body)
            let headEnd = request.firstRange(of: Array("\r\n\r\n".utf8))!.upperBound
            let connection = try proxy.connect()
            defer { connection.close() }
            // The length alone decides: the answer comes before a byte of the body.
            try await connection.send(Array(request[..<headEnd]))
            let exchange = try await connection.readResponses(count: 1, methods: ["POST"], timeout: .seconds(5))
            #expect(exchange.responses.first?.status == 413, "\(exchange)\nproxy log:\n\(proxy.log)")
            #expect(
                Self.message(exchange.responses.first)
                    == "socket-proxy: the request body is larger than the 1048576 bytes the inspector reads")
            #expect(try await connection.waitForClose())
            #expect(try await test.api.container(name) == nil)
        }
    }

    @Test func aChunkedBodyGrowingPastMaxBodyBytesIsRefusedWith413() async throws {
        try await IntegrationContext.run { test in
            let proxy = try await test.startProxy(["CONTAINERS": "1", "POST": "1"])
            let name = test.name("large-chunked")
            let connection = try proxy.connect()
            defer { connection.close() }
            try await connection.send(Self.chunkedHead(test, name: name))
            try await connection.send(Self.chunk(#"{"Image":"\#(TestImage.reference)","Env":["PAD="#))
            // 1.5 MiB of content in 64 KiB chunks; the proxy answers once the content passes 1 MiB.
            let piece = Self.chunk(String(repeating: "y", count: 65536))
            var sendFailed = false
            for _ in 0..<24 where !sendFailed {
                do { try await connection.send(piece, timeout: .seconds(5)) } catch { sendFailed = true }
            }
            let exchange = try await connection.readResponses(count: 1, methods: ["POST"], timeout: .seconds(5))
            #expect(exchange.responses.first?.status == 413, "\(exchange)\nproxy log:\n\(proxy.log)")
            #expect(try await connection.waitForClose())
            #expect(try await test.api.container(name) == nil)
        }
    }

    @Test func aChunkedBodyWithPrivilegedSplitAcrossChunksIsDenied() async throws {
        try await IntegrationContext.run { test in
            let proxy = try await test.startProxy(["CONTAINERS": "1", "POST": "1"])
            let name = test.name("split")
            let connection = try proxy.connect()
            defer { connection.close() }
            let pieces: [[UInt8]] = [
                Self.chunkedHead(test, name: name),
                Self.chunk(#"{"Image":"\#(TestImage.reference)","Labels":{"socket-proxy-test.case":"\#(test.tag)"},"#),
                Self.chunk(#""HostConfig":{"Privi"#),
                Self.chunk(#"leged""#) + Self.chunk(":tr"),
                Self.chunk("ue}}"),
                Array("0\r\n\r\n".utf8),
            ]
            for piece in pieces {
                try await connection.send(piece)
                try await Task.sleep(for: .milliseconds(20))
            }
            let exchange = try await connection.readResponses(count: 1, methods: ["POST"])
            #expect(exchange.responses.first?.status == 403, "\(exchange)\nproxy log:\n\(proxy.log)")
            #expect(Self.message(exchange.responses.first) == "socket-proxy: HostConfig.Privileged " + Self.privileged)
            #expect(try await test.api.container(name) == nil)
        }
    }

    @Test func anAllowedChunkedBodyCreatesExactlyTheContainerSent() async throws {
        try await IntegrationContext.run { test in
            let proxy = try await test.startProxy(["CONTAINERS": "1", "POST": "1"])
            let name = test.name("chunked")
            let connection = try proxy.connect()
            defer { connection.close() }
            let body =
                #"{"Image":"\#(TestImage.reference)","Cmd":["sh","-c","exit 7"],"Env":["SPT_MARK=\#(test.tag)"],"#
                + #""WorkingDir":"/tmp","Labels":{"socket-proxy-test.case":"\#(test.tag)","k":"v"},"#
                + #""HostConfig":{"NetworkMode":"none","Memory":67108864,"ReadonlyRootfs":true}}"#
            var bytes = Self.chunkedHead(test, name: name)
            let utf8 = Array(body.utf8)
            var offset = 0
            for size in [1, 17, 40, 3, 64, 1000] where offset < utf8.count {
                let end = min(utf8.count, offset + size)
                bytes += Self.chunk(String(decoding: utf8[offset..<end], as: UTF8.self))
                offset = end
            }
            bytes += Array("0\r\n\r\n".utf8)
            try await connection.send(bytes)
            let exchange = try await connection.readResponses(count: 1, methods: ["POST"])
            #expect(exchange.responses.first?.status == 201, "\(exchange)\nproxy log:\n\(proxy.log)")
            let record = try #require(try await test.api.containerRecord(name))
            #expect(record.strings("Config", "Cmd") == ["sh", "-c", "exit 7"])
            #expect(record.strings("Config", "Env")?.contains("SPT_MARK=\(test.tag)") == true)
            #expect(record[path: "Config", "WorkingDir"] as? String == "/tmp")
            #expect(
                record[path: "Config", "Labels"] as? [String: String] == ["socket-proxy-test.case": test.tag, "k": "v"])
            #expect(record[path: "HostConfig", "NetworkMode"] as? String == "none")
            #expect(record[path: "HostConfig", "Memory"] as? Int == 67_108_864)
            #expect(record[path: "HostConfig", "ReadonlyRootfs"] as? Bool == true)
            #expect(record[path: "HostConfig", "Privileged"] as? Bool == false)
        }
    }

    @Test func expectContinueGetsAHundredFromTheProxyThenTheDaemonsAnswer() async throws {
        try await IntegrationContext.run { test in
            let proxy = try await test.startProxy(["CONTAINERS": "1", "POST": "1"])
            let name = test.name("continue")
            let body = Array(
                #"{"Image":"\#(TestImage.reference)","Labels":{"socket-proxy-test.case":"\#(test.tag)"}}"#.utf8)
            let request = Self.createRequest(test, name: name, body: body, headers: [("Expect", "100-continue")])
            let headEnd = request.count - body.count
            let connection = try proxy.connect()
            defer { connection.close() }
            try await connection.send(Array(request[..<headEnd]))
            // Nothing of the body was sent: only the proxy can have answered.
            let interim = try await connection.readResponses(count: 1, methods: ["POST"], timeout: .seconds(5))
            #expect(interim.responses.first?.status == 100, "\(interim)\nproxy log:\n\(proxy.log)")
            #expect(try await test.api.container(name) == nil, "the daemon saw the request before its body")
            try await connection.send(body)
            var statuses: [Int] = []
            while statuses.last.map({ (100..<200).contains($0) }) ?? true, statuses.count < 4 {
                let next = try await connection.readResponses(count: 1, methods: ["POST"])
                guard let status = next.responses.first?.status else { break }
                statuses.append(status)
            }
            // The daemon may add its own 100 Continue before its answer; informational answers are harmless.
            #expect(statuses.last == 201, "statuses after the body: \(statuses)\nproxy log:\n\(proxy.log)")
            #expect(statuses.dropLast().allSatisfy { $0 == 100 }, "\(statuses)")
            #expect(try await test.api.container(name) != nil)
        }
    }

    @Test func aDeniedBodyLeavesTheKeepAliveConnectionServingTheNextRequest() async throws {
        try await IntegrationContext.run { test in
            let proxy = try await test.startProxy(["CONTAINERS": "1", "POST": "1"])
            let denied = test.name("kept-denied")
            let allowed = test.name("kept-allowed")
            let connection = try proxy.connect()
            defer { connection.close() }
            let labels = #"{"socket-proxy-test.case":"\#(test.tag)"}"#
            let bad = Array(
                #"{"Image":"\#(TestImage.reference)","Labels":\#(labels),"HostConfig":{"Privileged":true}}"#.utf8)
            let good = Array(#"{"Image":"\#(TestImage.reference)","Labels":\#(labels)}"#.utf8)
            // Sent together: the denied body must be consumed exactly, so the next request parses.
            try await connection.send(
                Self.createRequest(test, name: denied, body: bad) + Self.createRequest(test, name: allowed, body: good))
            let exchange = try await connection.readResponses(count: 2, methods: ["POST", "POST"])
            #expect(exchange.responses.map(\.status) == [403, 201], "\(exchange)\nproxy log:\n\(proxy.log)")
            #expect(exchange.responses.first?.header("Connection") == nil, "the denial asked to close: \(exchange)")
            #expect(!exchange.closedByPeer)
            // And once more after a pause, on the same connection.
            try await connection.send(
                RawRequest.make("GET", "/v\(test.daemon.version.apiVersion)/containers/\(allowed)/json"))
            let third = try await connection.readResponses(count: 1)
            #expect(third.responses.first?.status == 200, "\(third)")
            #expect(try await test.api.container(denied) == nil)
            #expect(try await test.api.container(allowed) != nil)
        }
    }
}

// Tests of the strict response-head parser: framing per RFC 9112 §6.3, interim responses, errors, split feeding.
import Testing

@testable import SocketProxyCore

/// A response that must parse, with everything the parser should report about it.
struct ValidResponse: Sendable, CustomTestStringConvertible {
    let name: String
    /// The head itself; `headEnd` must equal its length.
    let head: String
    /// Bytes after the head.
    let rest: String
    let requestMethod: HTTPMethod
    let status: Int
    let version: HTTPVersion
    let headerCount: Int
    let framing: BodyFraming
    let keepAlive: Bool
    let upgrade: Bool
    let contentType: String?
    let isInformational: Bool

    init(
        _ name: String, _ head: String, rest: String = "", requestMethod: HTTPMethod = .get, status: Int = 200,
        version: HTTPVersion = .http1_1, headerCount: Int = 1, framing: BodyFraming, keepAlive: Bool = true,
        upgrade: Bool = false, contentType: String? = nil, isInformational: Bool = false
    ) {
        self.name = name
        self.head = head
        self.rest = rest
        self.requestMethod = requestMethod
        self.status = status
        self.version = version
        self.headerCount = headerCount
        self.framing = framing
        self.keepAlive = keepAlive
        self.upgrade = upgrade
        self.contentType = contentType
        self.isInformational = isInformational
    }

    var bytes: [UInt8] { HTTPFeed.bytes(head + rest) }
    var headEnd: Int { head.utf8.count }
    var testDescription: String { name }
}

/// A response that must fail with `error`.
struct InvalidResponse: Sendable, CustomTestStringConvertible {
    let name: String
    let text: String
    let error: HTTPParseError
    let requestMethod: HTTPMethod
    let limits: HTTPLimits

    init(
        _ name: String, _ text: String, _ error: HTTPParseError, requestMethod: HTTPMethod = .get,
        limits: HTTPLimits = HTTPLimits()
    ) {
        self.name = name
        self.text = text
        self.error = error
        self.requestMethod = requestMethod
        self.limits = limits
    }

    var testDescription: String { "\(name) -> \(error)" }
}

struct HTTPResponseParserTests {
    static let valid: [ValidResponse] = [
        ValidResponse(
            "200 with Content-Length", "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n",
            rest: "{}", headerCount: 2, framing: .length(2), contentType: "application/json"
        ),
        ValidResponse(
            "200 chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", rest: "2\r\n{}\r\n0\r\n\r\n",
            framing: .chunked
        ),
        ValidResponse(
            "200 with Content-Length zero", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", framing: .length(0)
        ),
        ValidResponse(
            "204 has no body", "HTTP/1.1 204 No Content\r\nApi-Version: 1.47\r\n\r\n", rest: "HTTP/1.1 200 OK\r\n",
            status: 204, framing: .none
        ),
        ValidResponse(
            "204 ignores Transfer-Encoding", "HTTP/1.1 204 No Content\r\nTransfer-Encoding: gzip\r\n\r\n", status: 204,
            framing: .none
        ),
        ValidResponse(
            "304 with Content-Length has no body", "HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n",
            status: 304, framing: .none
        ),
        ValidResponse(
            "304 with chunked has no body", "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n",
            status: 304, framing: .none
        ),
        ValidResponse(
            "response to HEAD has no body",
            "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nContent-Type: text/plain\r\n\r\n",
            requestMethod: .head, headerCount: 2, framing: .none, contentType: "text/plain"
        ),
        ValidResponse(
            "response to HEAD without length keeps the connection", "HTTP/1.1 200 OK\r\nApi-Version: 1.47\r\n\r\n",
            requestMethod: .head, framing: .none
        ),
        ValidResponse(
            "101 UPGRADED for attach and exec",
            "HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\n"
                + "Upgrade: tcp\r\n\r\n", rest: "\u{1}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{2}hi", requestMethod: .post,
            status: 101, headerCount: 3, framing: .none, upgrade: true,
            contentType: "application/vnd.docker.raw-stream"
        ),
        ValidResponse(
            "100 Continue is informational", "HTTP/1.1 100 Continue\r\n\r\n", rest: "HTTP/1.1 200 OK\r\n",
            requestMethod: .post, status: 100, headerCount: 0, framing: .none, isInformational: true
        ),
        ValidResponse(
            "102 Processing is informational", "HTTP/1.1 102 Processing\r\n\r\n", status: 102, headerCount: 0,
            framing: .none, isInformational: true
        ),
        ValidResponse(
            "103 Early Hints is informational", "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n",
            status: 103, framing: .none, isInformational: true
        ),
        ValidResponse(
            "no framing reads until close", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n", rest: "streamed",
            framing: .untilClose, keepAlive: false, contentType: "text/plain"
        ),
        ValidResponse(
            "HTTP/1.0 with length closes", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n", rest: "{}",
            version: .http1_0, framing: .length(2), keepAlive: false
        ),
        ValidResponse(
            "HTTP/1.0 with keep-alive stays open",
            "HTTP/1.0 200 OK\r\nContent-Length: 2\r\nConnection: Keep-Alive\r\n\r\n",
            version: .http1_0, headerCount: 2, framing: .length(2)
        ),
        ValidResponse(
            "Connection close", "HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\nContent-Length: 5\r\n\r\n",
            rest: "error", status: 500, headerCount: 2, framing: .length(5), keepAlive: false
        ),
        ValidResponse(
            "empty reason", "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n", framing: .length(0)
        ),
        ValidResponse(
            "missing reason (leniency)", "HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n", status: 404, framing: .length(0)
        ),
        ValidResponse(
            "reason with HTAB, digits and obs-text",
            "HTTP/1.1 418 I'm a\tteapot 42 \u{E9}\r\nContent-Length: 0\r\n\r\n",
            status: 418, framing: .length(0)
        ),
        ValidResponse(
            "lowest status", "HTTP/1.1 100 \r\n\r\n", status: 100, headerCount: 0, framing: .none,
            isInformational: true),
        ValidResponse(
            "highest status", "HTTP/1.1 599 X\r\nContent-Length: 0\r\n\r\n", status: 599, framing: .length(0)
        ),
        ValidResponse(
            "Docker JSON with Go's headers",
            "HTTP/1.1 200 OK\r\nApi-Version: 1.47\r\nContent-Type: application/json\r\nDocker-Experimental: false\r\n"
                + "Ostype: linux\r\nServer: Docker/27.3.1 (linux)\r\nDate: Sat, 29 Nov 2025 15:00:00 GMT\r\n"
                + "Content-Length: 3\r\n\r\n", rest: "[]\n", headerCount: 7, framing: .length(3),
            contentType: "application/json"
        ),
    ]

    static let invalid: [InvalidResponse] = [
        InvalidResponse("status 099", "HTTP/1.1 099 X\r\n\r\n", .invalidStatusCode),
        InvalidResponse("status 600", "HTTP/1.1 600 X\r\n\r\n", .invalidStatusCode),
        InvalidResponse("two-digit status", "HTTP/1.1 20 OK\r\n\r\n", .invalidStatusCode),
        InvalidResponse("four-digit status", "HTTP/1.1 2000 OK\r\n\r\n", .invalidStatusCode),
        InvalidResponse("letters as status", "HTTP/1.1 abc OK\r\n\r\n", .invalidStatusCode),
        InvalidResponse("no status", "HTTP/1.1 \r\n\r\n", .invalidStatusCode),
        InvalidResponse("two spaces before status", "HTTP/1.1  200 OK\r\n\r\n", .invalidStatusCode),
        InvalidResponse("version alone", "HTTP/1.1\r\n\r\n", .invalidStatusLine),
        InvalidResponse("leading empty line", "\r\nHTTP/1.1 200 OK\r\n\r\n", .invalidStatusLine),
        InvalidResponse("leading space", " HTTP/1.1 200 OK\r\n\r\n", .invalidStatusLine),
        InvalidResponse("junk after status", "HTTP/1.1 200x OK\r\n\r\n", .invalidStatusLine),
        InvalidResponse("NUL in reason", "HTTP/1.1 200 O\u{0}K\r\n\r\n", .invalidStatusLine),
        InvalidResponse("DEL in reason", "HTTP/1.1 200 OK\u{7F}\r\n\r\n", .invalidStatusLine),
        InvalidResponse("lower-case version", "http/1.1 200 OK\r\n\r\n", .invalidVersion),
        InvalidResponse("HTTPS", "HTTPS/1.1 200 OK\r\n\r\n", .invalidVersion),
        InvalidResponse("letter minor", "HTTP/1.x 200 OK\r\n\r\n", .invalidVersion),
        InvalidResponse("junk after version", "HTTP/1.1/ 200 OK\r\n\r\n", .invalidVersion),
        InvalidResponse("HTTP/2.0", "HTTP/2.0 200 OK\r\n\r\n", .unsupportedVersion),
        InvalidResponse("bare LF after status line", "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", .bareLineFeed),
        InvalidResponse("bare LF after status", "HTTP/1.1 200\n\r\n", .bareLineFeed),
        InvalidResponse("bare LF in version", "HTTP/1\n", .bareLineFeed),
        InvalidResponse("bare CR after status line", "HTTP/1.1 200 OK\rX: y\r\n\r\n", .bareCarriageReturn),
        InvalidResponse("folded field", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", .obsoleteLineFolding),
        InvalidResponse("space before colon", "HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n", .whitespaceBeforeColon),
        InvalidResponse("control in value", "HTTP/1.1 200 OK\r\nX: \u{8}\r\n\r\n", .invalidFieldValue),
        InvalidResponse("bad field name", "HTTP/1.1 200 OK\r\nX(y): z\r\n\r\n", .invalidFieldName),
        InvalidResponse("bad Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 1,1\r\n\r\n", .invalidContentLength),
        InvalidResponse(
            "bad Content-Length even on 304", "HTTP/1.1 304 Not Modified\r\nContent-Length: x\r\n\r\n",
            .invalidContentLength
        ),
        InvalidResponse(
            "two Content-Lengths", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
            .multipleContentLength
        ),
        InvalidResponse(
            "Content-Length with chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
            .contentLengthWithTransferEncoding
        ),
        InvalidResponse(
            "gzip", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", .unsupportedTransferEncoding
        ),
        InvalidResponse(
            "gzip, chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", .unsupportedTransferEncoding
        ),
        InvalidResponse(
            "chunked in HTTP/1.0", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", .transferEncodingInHTTP10
        ),
        InvalidResponse(
            "head over the limit", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", .headTooLarge,
            limits: HTTPLimits(maxHeadBytes: 37)
        ),
        InvalidResponse(
            "endless reason", "HTTP/1.1 200 OOOOOOOOOOOOOOOOOOOOOOOOOOOOOOOOOOOOO", .headTooLarge,
            limits: HTTPLimits(maxHeadBytes: 32)
        ),
        InvalidResponse(
            "one field too many", "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\n\r\n", .tooManyHeaderFields,
            limits: HTTPLimits(maxHeaderFields: 1)
        ),
    ]

    @Test(arguments: valid)
    func parsesValidResponse(fixture: ValidResponse) {
        let bytes = fixture.bytes
        let result = HTTPFeed.response(bytes, method: fixture.requestMethod)
        guard case .complete(let head) = result else {
            Issue.record("expected a complete head, got \(result)")
            return
        }
        #expect(head.status == fixture.status)
        #expect(head.version == fixture.version)
        #expect(head.headEnd == fixture.headEnd)
        #expect(head.headerCount == fixture.headerCount)
        #expect(head.framing == fixture.framing)
        #expect(head.keepAlive == fixture.keepAlive)
        #expect(head.upgrade == fixture.upgrade)
        #expect(HTTPFeed.text(bytes, head.contentType) == fixture.contentType)
        #expect(head.isInformational == fixture.isInformational)
        #expect(String(decoding: bytes[head.headEnd...], as: UTF8.self) == fixture.rest)
    }

    @Test(arguments: valid)
    func parsesValidResponseIdenticallyWhenSplit(fixture: ValidResponse) {
        let bytes = fixture.bytes
        let whole = HTTPFeed.response(bytes, method: fixture.requestMethod)
        let mismatches = HTTPFeed.splitMismatches(bytes, expected: whole, headEnd: fixture.headEnd) {
            ResponseFeeder(method: fixture.requestMethod)
        }
        #expect(mismatches == [])
    }

    @Test(arguments: invalid)
    func rejectsInvalidResponse(fixture: InvalidResponse) {
        let result = HTTPFeed.response(
            HTTPFeed.bytes(fixture.text), method: fixture.requestMethod, limits: fixture.limits)
        #expect(result == .failed(fixture.error))
    }

    @Test(arguments: invalid)
    func rejectsInvalidResponseIdenticallyWhenSplit(fixture: InvalidResponse) {
        let mismatches = HTTPFeed.splitMismatches(
            HTTPFeed.bytes(fixture.text), expected: .failed(fixture.error), headEnd: nil
        ) {
            ResponseFeeder(method: fixture.requestMethod, limits: fixture.limits)
        }
        #expect(mismatches == [])
    }

    @Test func readsTheFinalResponseAfter100Continue() {
        let bytes = HTTPFeed.bytes(
            "HTTP/1.1 100 Continue\r\n\r\n"
                + "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
        )
        var parser = ResponseHeadParser()
        guard case .complete(let interim) = bytes.withUnsafeBytes({ parser.parse($0, requestMethod: .post) }) else {
            Issue.record("the 100 Continue head did not parse")
            return
        }
        #expect(interim.status == 100)
        #expect(interim.isInformational)
        #expect(interim.framing == .none)
        #expect(interim.headEnd == 25)

        parser.reset()
        let rest = Array(bytes[interim.headEnd...])
        guard case .complete(let final) = rest.withUnsafeBytes({ parser.parse($0, requestMethod: .post) }) else {
            Issue.record("the 200 head did not parse")
            return
        }
        #expect(final.status == 200)
        #expect(!final.isInformational)
        #expect(final.framing == .length(2))
        #expect(HTTPFeed.text(rest, final.contentType) == "application/json")
        #expect(String(decoding: rest[final.headEnd...], as: UTF8.self) == "{}")
    }

    @Test func keepsFailingWithTheSameErrorUntilReset() {
        var parser = ResponseHeadParser()
        let bad = HTTPFeed.bytes("HTTP/1.1 999 Nope\r\n\r\n")
        let good = HTTPFeed.bytes("HTTP/1.1 204 No Content\r\n\r\n")
        #expect(bad.withUnsafeBytes { parser.parse($0, requestMethod: .get) } == .failed(.invalidStatusCode))
        #expect(good.withUnsafeBytes { parser.parse($0, requestMethod: .get) } == .failed(.invalidStatusCode))
        parser.reset()
        guard case .complete(let head) = good.withUnsafeBytes({ parser.parse($0, requestMethod: .get) }) else {
            Issue.record("reset parser did not parse a good head")
            return
        }
        #expect(head.status == 204)
        #expect(head.headEnd == good.count)
    }
}

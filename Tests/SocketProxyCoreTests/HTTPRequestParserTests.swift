// Tests of the strict request-head parser: valid heads, every named error, limits, and split feeding.
import Testing

@testable import SocketProxyCore

/// A request that must parse, with everything the parser should report about it.
struct ValidRequest: Sendable, CustomTestStringConvertible {
    let name: String
    /// The head itself; `headEnd` must equal its length.
    let head: String
    /// Bytes after the head: body or pipelined requests.
    let rest: String
    let method: HTTPMethod
    let methodText: String
    let target: String
    let version: HTTPVersion
    let headerCount: Int
    let framing: BodyFraming
    let keepAlive: Bool
    let upgrade: Bool
    let expectContinue: Bool
    let host: String?
    let contentType: String?
    let limits: HTTPLimits

    init(
        _ name: String, _ head: String, rest: String = "", method: HTTPMethod = .get, methodText: String? = nil,
        target: String = "/", version: HTTPVersion = .http1_1, headerCount: Int = 1, framing: BodyFraming = .none,
        keepAlive: Bool = true, upgrade: Bool = false, expectContinue: Bool = false, host: String? = "localhost",
        contentType: String? = nil, limits: HTTPLimits = HTTPLimits()
    ) {
        self.name = name
        self.head = head
        self.rest = rest
        self.method = method
        self.methodText = methodText ?? method.name
        self.target = target
        self.version = version
        self.headerCount = headerCount
        self.framing = framing
        self.keepAlive = keepAlive
        self.upgrade = upgrade
        self.expectContinue = expectContinue
        self.host = host
        self.contentType = contentType
        self.limits = limits
    }

    var bytes: [UInt8] { HTTPFeed.bytes(head + rest) }
    var headEnd: Int { head.utf8.count }
    var testDescription: String { name }
}

/// A request that must fail with `error`.
struct InvalidRequest: Sendable, CustomTestStringConvertible {
    let name: String
    let bytes: [UInt8]
    let error: HTTPParseError
    let limits: HTTPLimits

    init(_ name: String, _ text: String, _ error: HTTPParseError, limits: HTTPLimits = HTTPLimits()) {
        self.init(name, HTTPFeed.bytes(text), error, limits: limits)
    }

    init(_ name: String, _ bytes: [UInt8], _ error: HTTPParseError, limits: HTTPLimits = HTTPLimits()) {
        self.name = name
        self.bytes = bytes
        self.error = error
        self.limits = limits
    }

    var testDescription: String { "\(name) -> \(error)" }
}

struct HTTPRequestParserTests {
    static let execStart =
        "POST /v1.41/exec/abc/start HTTP/1.1\r\nHost: api.moby.localhost\r\nUser-Agent: Docker-Client/28\r\n"
        + "Content-Length: 30\r\nContent-Type: application/json\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"

    static let valid: [ValidRequest] = [
        ValidRequest("GET with Host", "GET /_ping HTTP/1.1\r\nHost: localhost\r\n\r\n", target: "/_ping"),
        ValidRequest(
            "HTTP/1.0 without Host closes", "GET /version HTTP/1.0\r\n\r\n", target: "/version",
            version: .http1_0, headerCount: 0, keepAlive: false, host: nil
        ),
        ValidRequest(
            "HTTP/1.0 with keep-alive", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", version: .http1_0,
            host: nil
        ),
        ValidRequest(
            "HTTP/1.0 with Keep-Alive in another case", "GET / HTTP/1.0\r\nCONNECTION: Keep-Alive\r\n\r\n",
            version: .http1_0, host: nil
        ),
        ValidRequest(
            "HTTP/1.0 with keep-alive and close closes",
            "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", version: .http1_0, keepAlive: false,
            host: nil
        ),
        ValidRequest(
            "HTTP/1.1 with close", "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
            headerCount: 2, keepAlive: false
        ),
        ValidRequest(
            "close in a list in a second Connection line",
            "GET / HTTP/1.1\r\nConnection: foo\r\nHost: localhost\r\nConnection: bar ,\t CLOSE ,\r\n\r\n",
            headerCount: 3, keepAlive: false
        ),
        ValidRequest(
            "Connection option that only starts with close",
            "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: closed\r\n\r\n",
            headerCount: 2
        ),
        ValidRequest(
            "Connection close written with a space inside is not close",
            "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: clo se\r\n\r\n", headerCount: 2
        ),
        ValidRequest(
            "Docker exec start with Upgrade", execStart, rest: "{\"Detach\": false,\"Tty\":false}\n", method: .post,
            target: "/v1.41/exec/abc/start", headerCount: 6, framing: .length(30), upgrade: true,
            host: "api.moby.localhost", contentType: "application/json"
        ),
        ValidRequest(
            "Upgrade without Connection upgrade is no upgrade",
            "POST /v1.41/containers/x/attach HTTP/1.1\r\nHost: localhost\r\nUpgrade: tcp\r\n\r\n", method: .post,
            target: "/v1.41/containers/x/attach", headerCount: 2
        ),
        ValidRequest(
            "Connection upgrade without Upgrade is no upgrade",
            "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: upgrade\r\n\r\n", headerCount: 2
        ),
        ValidRequest(
            "upgrade listed with keep-alive",
            "GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: h2c\r\n"
                + "Connection: keep-alive, Upgrade\r\n\r\n", headerCount: 3, upgrade: true
        ),
        ValidRequest(
            "chunked body", "POST /build HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n",
            rest: "5\r\nhello\r\n0\r\n\r\n", method: .post, target: "/build", headerCount: 2, framing: .chunked
        ),
        ValidRequest(
            "chunked in another case with OWS",
            "PUT /x HTTP/1.1\r\nHost: localhost\r\ntransfer-encoding: \t Chunked \t\r\n\r\n",
            method: .put, target: "/x", headerCount: 2, framing: .chunked
        ),
        ValidRequest(
            "Content-Length zero", "POST /containers/prune HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n",
            method: .post, target: "/containers/prune", headerCount: 2, framing: .length(0)
        ),
        ValidRequest(
            "Content-Length with OWS and leading zeros",
            "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length:\t 007 \r\n\r\n",
            rest: "1234567", method: .post, headerCount: 2, framing: .length(7)
        ),
        ValidRequest(
            "Content-Length of 18 digits",
            "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 999999999999999999\r\n\r\n",
            method: .post, headerCount: 2, framing: .length(999_999_999_999_999_999)
        ),
        ValidRequest(
            "pipelined requests", "GET /a HTTP/1.1\r\nHost: localhost\r\n\r\n",
            rest: "GET /b HTTP/1.1\r\nHost: localhost\r\n\r\n", target: "/a"
        ),
        ValidRequest(
            "pipelined after a body", "POST /a HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n\r\n",
            rest: "{}GET /b HTTP/1.1\r\n", method: .post, target: "/a", headerCount: 2, framing: .length(2)
        ),
        ValidRequest(
            "Expect 100-continue",
            "POST /images/load HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\n"
                + "Content-Length: 10\r\n\r\n", method: .post, target: "/images/load", headerCount: 3,
            framing: .length(10), expectContinue: true
        ),
        ValidRequest(
            "Expect 100-Continue in another case",
            "POST / HTTP/1.1\r\nHost: localhost\r\nexpect:  100-Continue \r\n\r\n",
            method: .post, headerCount: 2, expectContinue: true
        ),
        ValidRequest(
            "Expect with another expectation", "POST / HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue-ish\r\n\r\n",
            method: .post, headerCount: 2
        ),
        ValidRequest(
            "Expect ignored in HTTP/1.0", "POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n", method: .post,
            version: .http1_0, keepAlive: false, host: nil
        ),
        ValidRequest("empty Host value", "GET / HTTP/1.1\r\nHost:\r\n\r\n", host: ""),
        ValidRequest("Host of only OWS", "GET / HTTP/1.1\r\nHost: \t \r\n\r\n", host: ""),
        ValidRequest("Host name in upper case", "GET / HTTP/1.1\r\nHOST:   docker.sock  \r\n\r\n", host: "docker.sock"),
        ValidRequest(
            "HEAD", "HEAD /_ping HTTP/1.1\r\nHost: localhost\r\n\r\n", method: .head, target: "/_ping"
        ),
        ValidRequest(
            "DELETE", "DELETE /containers/abc?force=1 HTTP/1.1\r\nHost: localhost\r\n\r\n", method: .delete,
            target: "/containers/abc?force=1"
        ),
        ValidRequest("PATCH", "PATCH /x HTTP/1.1\r\nHost: localhost\r\n\r\n", method: .patch, target: "/x"),
        ValidRequest(
            "OPTIONS asterisk", "OPTIONS * HTTP/1.1\r\nHost: localhost\r\n\r\n", method: .options, target: "*"),
        ValidRequest("TRACE", "TRACE / HTTP/1.1\r\nHost: localhost\r\n\r\n", method: .trace),
        ValidRequest(
            "CONNECT authority form", "CONNECT localhost:2375 HTTP/1.1\r\nHost: localhost\r\n\r\n", method: .connect,
            target: "localhost:2375"
        ),
        ValidRequest(
            "lower-case get is another method", "get / HTTP/1.1\r\nHost: localhost\r\n\r\n", method: .other,
            methodText: "get"
        ),
        ValidRequest(
            "a known method as a prefix is another method", "GETX / HTTP/1.1\r\nHost: localhost\r\n\r\n",
            method: .other, methodText: "GETX"
        ),
        ValidRequest(
            "a prefix of a known method is another method", "PU / HTTP/1.1\r\nHost: localhost\r\n\r\n",
            method: .other, methodText: "PU"
        ),
        ValidRequest(
            "a method of odd token characters", "M-SEARCH!~ / HTTP/1.1\r\nHost: localhost\r\n\r\n", method: .other,
            methodText: "M-SEARCH!~"
        ),
        ValidRequest(
            "absolute-form target", "GET http://localhost/v1.41/_ping HTTP/1.1\r\nHost: localhost\r\n\r\n",
            target: "http://localhost/v1.41/_ping"
        ),
        ValidRequest(
            "target with query and percent escapes",
            "GET /containers/json?all=1&filters=%7B%22label%22%3A%5B%5D%7D HTTP/1.1\r\nHost: localhost\r\n\r\n",
            target: "/containers/json?all=1&filters=%7B%22label%22%3A%5B%5D%7D"
        ),
        ValidRequest(
            "obs-text, HTAB and inner spaces in values",
            "GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: Docker-Client/28.0.1 (linux)\r\n"
                + "X-Note: caf\u{E9}\tok\r\n\r\n",
            headerCount: 3
        ),
        ValidRequest(
            "every tchar in a field name", "GET / HTTP/1.1\r\nHost: localhost\r\n!#$%&'*+-.^_`|~09azAZ: v\r\n\r\n",
            headerCount: 2
        ),
        ValidRequest(
            "Content-Type trimmed, the first one wins",
            "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: \tapplication/json; charset=utf-8 \t\r\n"
                + "content-type: text/plain\r\n\r\n", method: .post, headerCount: 3,
            contentType: "application/json; charset=utf-8"
        ),
        ValidRequest(
            "known names as prefixes and extensions are other fields",
            "GET / HTTP/1.1\r\nHost: localhost\r\nContent-Lengths: x\r\nContent-Lengt: y\r\n"
                + "Transfer-Encodings: gzip\r\nHosts: a\r\nX-Host: b\r\n\r\n", headerCount: 6
        ),
        ValidRequest(
            "request line exactly at its limit", "GET /abcdefg HTTP/1.1\r\nHost: localhost\r\n\r\n", target: "/abcdefg",
            limits: HTTPLimits(maxRequestLineBytes: 21)
        ),
        ValidRequest(
            "head exactly at its limit", "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", rest: "GET",
            limits: HTTPLimits(maxHeadBytes: 35)
        ),
        ValidRequest(
            "fields exactly at their limit", "GET / HTTP/1.1\r\nHost: localhost\r\nA: 1\r\nB: 2\r\n\r\n",
            headerCount: 3,
            limits: HTTPLimits(maxHeaderFields: 3)
        ),
    ]

    static let invalid: [InvalidRequest] = [
        // Request line.
        InvalidRequest("delimiter in method", "G(T / HTTP/1.1\r\nHost: x\r\n\r\n", .invalidMethod),
        InvalidRequest("NUL in method", "GE\u{0}T / HTTP/1.1\r\n\r\n", .invalidMethod),
        InvalidRequest("DEL starting method", "\u{7F}GET / HTTP/1.1\r\n\r\n", .invalidMethod),
        InvalidRequest("HTAB after method", "GET\t/ HTTP/1.1\r\n\r\n", .invalidMethod),
        InvalidRequest("leading space", " GET / HTTP/1.1\r\nHost: x\r\n\r\n", .invalidRequestLine),
        InvalidRequest("leading empty line", "\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", .invalidRequestLine),
        InvalidRequest("two spaces before target", "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", .invalidRequestLine),
        InvalidRequest("two spaces before version", "GET /  HTTP/1.1\r\nHost: x\r\n\r\n", .invalidRequestLine),
        InvalidRequest("space after version", "GET / HTTP/1.1 \r\nHost: x\r\n\r\n", .invalidRequestLine),
        InvalidRequest("method alone", "GET\r\n\r\n", .invalidRequestLine),
        InvalidRequest("no version", "GET /\r\nHost: x\r\n\r\n", .invalidRequestLine),
        InvalidRequest("empty target and no version", "GET \r\n\r\n", .invalidRequestLine),
        InvalidRequest("empty version", "GET / \r\n\r\n", .invalidRequestLine),
        InvalidRequest("NUL in target", "GET /a\u{0}b HTTP/1.1\r\n\r\n", .invalidTarget),
        InvalidRequest("obs-text in target", "GET /caf\u{E9} HTTP/1.1\r\n\r\n", .invalidTarget),
        InvalidRequest("HTAB in target", "GET /a\tb HTTP/1.1\r\n\r\n", .invalidTarget),
        InvalidRequest("DEL in target", "GET /\u{7F} HTTP/1.1\r\n\r\n", .invalidTarget),
        InvalidRequest("target starting with a control", "GET \u{1}/ HTTP/1.1\r\n\r\n", .invalidTarget),
        InvalidRequest("junk after version", "GET / HTTP/1.1x\r\n\r\n", .invalidVersion),
        InvalidRequest("lower-case version", "GET / http/1.1\r\n\r\n", .invalidVersion),
        InvalidRequest("version without dot", "GET / HTTP/11\r\n\r\n", .invalidVersion),
        InvalidRequest("two-digit minor", "GET / HTTP/1.12\r\n\r\n", .invalidVersion),
        InvalidRequest("missing minor", "GET / HTTP/1.\r\n\r\n", .invalidVersion),
        InvalidRequest("letter major", "GET / HTTP/a.1\r\n\r\n", .invalidVersion),
        InvalidRequest("space inside version", "GET / HTTP/1 .1\r\n\r\n", .invalidVersion),
        InvalidRequest("HTTP/2.0", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", .unsupportedVersion),
        InvalidRequest("HTTP/0.9", "GET / HTTP/0.9\r\n\r\n", .unsupportedVersion),
        InvalidRequest("HTTP/1.2", "GET / HTTP/1.2\r\n\r\n", .unsupportedVersion),
        // Line endings.
        InvalidRequest("bare LF ending the request line", "GET / HTTP/1.1\nHost: x\r\n\r\n", .bareLineFeed),
        InvalidRequest("bare LF first", "\nGET / HTTP/1.1\r\n\r\n", .bareLineFeed),
        InvalidRequest("bare LF in target", "GET /\n HTTP/1.1\r\n\r\n", .bareLineFeed),
        InvalidRequest("bare LF ending a field", "GET / HTTP/1.1\r\nHost: x\nA: b\r\n\r\n", .bareLineFeed),
        InvalidRequest("bare LF ending the head", "GET / HTTP/1.1\r\nHost: x\r\n\n", .bareLineFeed),
        InvalidRequest("bare LF in a field name", "GET / HTTP/1.1\r\nHo\nst: x\r\n\r\n", .bareLineFeed),
        InvalidRequest("bare LF before a value", "GET / HTTP/1.1\r\nHost: \n\r\n", .bareLineFeed),
        InvalidRequest("bare CR after the request line", "GET / HTTP/1.1\rHost: x\r\n\r\n", .bareCarriageReturn),
        InvalidRequest("bare CR inside a value", "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", .bareCarriageReturn),
        InvalidRequest("CR CR LF after a value", "GET / HTTP/1.1\r\nHost: a\r\r\n\r\n", .bareCarriageReturn),
        InvalidRequest("CR CR LF ending the head", "GET / HTTP/1.1\r\nHost: a\r\n\r\r\n", .bareCarriageReturn),
        // Limits.
        InvalidRequest(
            "request line one byte over", "GET /abcdefgh HTTP/1.1\r\nHost: x\r\n\r\n", .requestLineTooLong,
            limits: HTTPLimits(maxRequestLineBytes: 21)
        ),
        InvalidRequest(
            "request line without CRLF reaching the limit", "GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            .requestLineTooLong, limits: HTTPLimits(maxRequestLineBytes: 16)
        ),
        InvalidRequest(
            "head one byte over", "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", .headTooLarge,
            limits: HTTPLimits(maxHeadBytes: 34)
        ),
        InvalidRequest(
            "endless field", "GET / HTTP/1.1\r\nHost: localhost\r\nX: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            .headTooLarge, limits: HTTPLimits(maxHeadBytes: 48)
        ),
        InvalidRequest(
            "one field too many", "GET / HTTP/1.1\r\nHost: localhost\r\nA: 1\r\nB: 2\r\n\r\n", .tooManyHeaderFields,
            limits: HTTPLimits(maxHeaderFields: 2)
        ),
        // Field lines.
        InvalidRequest("delimiter in field name", "GET / HTTP/1.1\r\nHo\"st: x\r\n\r\n", .invalidFieldName),
        InvalidRequest("empty field name", "GET / HTTP/1.1\r\nHost: x\r\n: x\r\n\r\n", .invalidFieldName),
        InvalidRequest("field line without colon", "GET / HTTP/1.1\r\nHost\r\n\r\n", .invalidFieldName),
        InvalidRequest("obs-text in field name", "GET / HTTP/1.1\r\nH\u{F6}st: x\r\n\r\n", .invalidFieldName),
        InvalidRequest("space before colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", .whitespaceBeforeColon),
        InvalidRequest("HTAB before colon", "GET / HTTP/1.1\r\nContent-Length\t: 0\r\n\r\n", .whitespaceBeforeColon),
        InvalidRequest("folded value", "GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n  b\r\n\r\n", .obsoleteLineFolding),
        InvalidRequest("HTAB-folded value", "GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n\tb\r\n\r\n", .obsoleteLineFolding),
        InvalidRequest("space before the first field", "GET / HTTP/1.1\r\n Host: x\r\n\r\n", .obsoleteLineFolding),
        InvalidRequest("NUL in value", "GET / HTTP/1.1\r\nHost: a\u{0}b\r\n\r\n", .invalidFieldValue),
        InvalidRequest("NUL as value", "GET / HTTP/1.1\r\nHost: \u{0}\r\n\r\n", .invalidFieldValue),
        InvalidRequest("control in value", "GET / HTTP/1.1\r\nHost: x\r\nX: \u{1B}[0m\r\n\r\n", .invalidFieldValue),
        InvalidRequest("DEL in value", "GET / HTTP/1.1\r\nHost: x\u{7F}\r\n\r\n", .invalidFieldValue),
        // Content-Length.
        InvalidRequest("plus sign", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\n", .invalidContentLength),
        InvalidRequest("minus sign", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", .invalidContentLength),
        InvalidRequest("list", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5,5\r\n\r\n", .invalidContentLength),
        InvalidRequest(
            "list with OWS", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\n", .invalidContentLength),
        InvalidRequest(
            "space inside", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1 0\r\n\r\n", .invalidContentLength),
        InvalidRequest("empty", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length:  \r\n\r\n", .invalidContentLength),
        InvalidRequest("hex", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x10\r\n\r\n", .invalidContentLength),
        InvalidRequest(
            "decimal point", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1.0\r\n\r\n", .invalidContentLength),
        InvalidRequest(
            "19 digits", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000000000000\r\n\r\n",
            .invalidContentLength
        ),
        InvalidRequest(
            "19 digits with leading zeros", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0000000000000000001\r\n\r\n",
            .invalidContentLength
        ),
        InvalidRequest(
            "beyond UInt64", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 18446744073709551616\r\n\r\n",
            .invalidContentLength
        ),
        InvalidRequest(
            "same length twice", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
            .multipleContentLength
        ),
        InvalidRequest(
            "two lengths", "POST / HTTP/1.1\r\nContent-Length: 5\r\nHost: x\r\ncontent-length: 6\r\n\r\nhello",
            .multipleContentLength
        ),
        // Transfer-Encoding.
        InvalidRequest(
            "Content-Length then chunked",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
            .contentLengthWithTransferEncoding
        ),
        InvalidRequest(
            "chunked then Content-Length",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
            .contentLengthWithTransferEncoding
        ),
        InvalidRequest(
            "unsupported coding with Content-Length",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nContent-Length: 5\r\n\r\n",
            .contentLengthWithTransferEncoding
        ),
        InvalidRequest(
            "gzip", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", .unsupportedTransferEncoding
        ),
        InvalidRequest(
            "gzip then chunked", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            .unsupportedTransferEncoding
        ),
        InvalidRequest(
            "chunked then gzip", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
            .unsupportedTransferEncoding
        ),
        InvalidRequest(
            "chunked twice in a list", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
            .unsupportedTransferEncoding
        ),
        InvalidRequest(
            "chunked with an empty list element", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked,\r\n\r\n",
            .unsupportedTransferEncoding
        ),
        InvalidRequest(
            "chunked in two lines",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
            .unsupportedTransferEncoding
        ),
        InvalidRequest(
            "gzip line then chunked line",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
            .unsupportedTransferEncoding
        ),
        InvalidRequest(
            "chunked with a parameter", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked;q=1\r\n\r\n",
            .unsupportedTransferEncoding
        ),
        InvalidRequest(
            "chunked with junk after OWS", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked x\r\n\r\n",
            .unsupportedTransferEncoding
        ),
        InvalidRequest(
            "empty Transfer-Encoding", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n\r\n",
            .unsupportedTransferEncoding
        ),
        InvalidRequest(
            "chunke", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunke\r\n\r\n", .unsupportedTransferEncoding
        ),
        InvalidRequest(
            "chunked in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", .transferEncodingInHTTP10
        ),
        InvalidRequest(
            "chunked and Content-Length in HTTP/1.0",
            "POST / HTTP/1.0\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", .transferEncodingInHTTP10
        ),
        // Host.
        InvalidRequest("HTTP/1.1 without Host", "GET / HTTP/1.1\r\n\r\n", .missingHost),
        InvalidRequest("HTTP/1.1 with Hosts only", "GET / HTTP/1.1\r\nHosts: x\r\n\r\n", .missingHost),
        InvalidRequest("two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", .multipleHost),
        InvalidRequest("two empty Hosts", "GET / HTTP/1.1\r\nHost:\r\nhost:\r\n\r\n", .multipleHost),
        InvalidRequest("two Hosts in HTTP/1.0", "GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n", .multipleHost),
    ]

    @Test(arguments: valid)
    func parsesValidRequest(fixture: ValidRequest) {
        let bytes = fixture.bytes
        let result = HTTPFeed.request(bytes, limits: fixture.limits)
        guard case .complete(let head) = result else {
            Issue.record("expected a complete head, got \(result)")
            return
        }
        #expect(head.method == fixture.method)
        #expect(HTTPFeed.text(bytes, head.methodBytes) == fixture.methodText)
        #expect(head.methodBytes.lowerBound == 0)
        #expect(HTTPFeed.text(bytes, head.target) == fixture.target)
        #expect(head.version == fixture.version)
        #expect(head.headEnd == fixture.headEnd)
        #expect(head.headerCount == fixture.headerCount)
        #expect(head.framing == fixture.framing)
        #expect(head.keepAlive == fixture.keepAlive)
        #expect(head.upgrade == fixture.upgrade)
        #expect(head.expectContinue == fixture.expectContinue)
        #expect(HTTPFeed.text(bytes, head.host) == fixture.host)
        #expect(HTTPFeed.text(bytes, head.contentType) == fixture.contentType)
        // The body or the next request starts right at headEnd.
        #expect(String(decoding: bytes[head.headEnd...], as: UTF8.self) == fixture.rest)
    }

    @Test(arguments: valid)
    func parsesValidRequestIdenticallyWhenSplit(fixture: ValidRequest) {
        let bytes = fixture.bytes
        let whole = HTTPFeed.request(bytes, limits: fixture.limits)
        let mismatches = HTTPFeed.splitMismatches(bytes, expected: whole, headEnd: fixture.headEnd) {
            RequestFeeder(limits: fixture.limits)
        }
        #expect(mismatches == [])
    }

    @Test(arguments: invalid)
    func rejectsInvalidRequest(fixture: InvalidRequest) {
        #expect(HTTPFeed.request(fixture.bytes, limits: fixture.limits) == .failed(fixture.error))
    }

    @Test(arguments: invalid)
    func rejectsInvalidRequestIdenticallyWhenSplit(fixture: InvalidRequest) {
        let mismatches = HTTPFeed.splitMismatches(fixture.bytes, expected: .failed(fixture.error), headEnd: nil) {
            RequestFeeder(limits: fixture.limits)
        }
        #expect(mismatches == [])
    }

    @Test func rejectsRequestLineOverTheDefaultLimit() {
        let longTarget = "/" + String(repeating: "a", count: 8192)
        let head = HTTPFeed.bytes("GET \(longTarget) HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(HTTPFeed.request(head) == .failed(.requestLineTooLong))
        // 8192 bytes of request line (without CRLF) are still fine.
        let fitting = "/" + String(repeating: "a", count: 8192 - 14)
        let ok = HTTPFeed.bytes("GET \(fitting) HTTP/1.1\r\nHost: x\r\n\r\n")
        guard case .complete(let parsed) = HTTPFeed.request(ok) else {
            Issue.record("a request line of exactly 8192 bytes was refused")
            return
        }
        #expect(parsed.target.count == 8192 - 13)
    }

    @Test func rejectsTooLongRequestLineAsSoonAsTheLimitIsReached() {
        var parser = RequestHeadParser(limits: HTTPLimits(maxRequestLineBytes: 10))
        let bytes = HTTPFeed.bytes("GET /12345")
        #expect(bytes.withUnsafeBytes { parser.parse($0) } == .needMoreBytes)
        let more = HTTPFeed.bytes("GET /123456")
        #expect(more.withUnsafeBytes { parser.parse($0) } == .failed(.requestLineTooLong))
    }

    @Test func rejectsLargeHeadAsSoonAsTheLimitIsExceeded() {
        var parser = RequestHeadParser(limits: HTTPLimits(maxHeadBytes: 20))
        let bytes = HTTPFeed.bytes("GET / HTTP/1.1\r\nHost")
        #expect(bytes.withUnsafeBytes { parser.parse($0) } == .needMoreBytes)
        let more = HTTPFeed.bytes("GET / HTTP/1.1\r\nHost:")
        #expect(more.withUnsafeBytes { parser.parse($0) } == .failed(.headTooLarge))
    }

    @Test func keepsFailingWithTheSameErrorUntilReset() {
        var parser = RequestHeadParser()
        let bad = HTTPFeed.bytes("GET / HTTP/1.1\r\nHost : x\r\n\r\n")
        let good = HTTPFeed.bytes("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(bad.withUnsafeBytes { parser.parse($0) } == .failed(.whitespaceBeforeColon))
        #expect(bad.withUnsafeBytes { parser.parse($0) } == .failed(.whitespaceBeforeColon))
        #expect(good.withUnsafeBytes { parser.parse($0) } == .failed(.whitespaceBeforeColon))
        parser.reset()
        guard case .complete(let head) = good.withUnsafeBytes({ parser.parse($0) }) else {
            Issue.record("reset parser did not parse a good head")
            return
        }
        #expect(head.headEnd == good.count)
    }

    @Test func returnsTheSameHeadOnceComplete() {
        var parser = RequestHeadParser()
        let bytes = HTTPFeed.bytes("GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\n")
        let first = bytes.withUnsafeBytes { parser.parse($0) }
        let again = bytes.withUnsafeBytes { parser.parse($0) }
        #expect(first == again)
        guard case .complete(let head) = first else {
            Issue.record("expected a complete head, got \(first)")
            return
        }
        #expect(head.headEnd == 28)
    }

    @Test func parsesPipelinedRequestsOneAfterAnother() {
        let text =
            "GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
            + "DELETE /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        let bytes = HTTPFeed.bytes(text)
        var parser = RequestHeadParser()
        var offset = 0
        var seen: [String] = []
        while offset < bytes.count {
            parser.reset()
            let result = bytes[offset...].withUnsafeBytes { parser.parse($0) }
            guard case .complete(let head) = result else {
                Issue.record("request at \(offset): \(result)")
                return
            }
            let target = HTTPFeed.text(Array(bytes[offset...]), head.target) ?? ""
            seen.append("\(head.method.name) \(target) \(head.keepAlive)")
            offset += head.headEnd
            if case .length(let length) = head.framing {
                offset += Int(length)
            }
        }
        #expect(seen == ["GET /a true", "POST /b true", "DELETE /c false"])
        #expect(offset == bytes.count)
    }
}

// Fixtures aimed at the parsers' fast paths: run loops, names recognised when they end, packed list options, the
// common start lines read in one go, and limits that fall inside them. Each is fed whole and split everywhere.
import Testing

@testable import SocketProxyCore

struct HTTPFastPathTests {
    /// Values of every length from 1 to 10 cross the run loops' four-byte rounds at each offset.
    static let shortValues = (1...10).map { "X-\($0): \(String(repeating: "v", count: $0))\r\n" }.joined()

    static let validRequests: [ValidRequest] = [
        ValidRequest(
            "values of every short length", "GET / HTTP/1.1\r\nHost: localhost\r\n" + shortValues + "\r\n",
            headerCount: 11
        ),
        ValidRequest(
            "long value with obs-text, inner HTAB and long trailing OWS",
            "GET / HTTP/1.1\r\nHost: \t h\u{E9}st \t n\u{E9}me.example.internal:2375 \t \t   \r\n\r\n",
            host: "h\u{E9}st \t n\u{E9}me.example.internal:2375"
        ),
        ValidRequest(
            "Content-Type with inner runs of spaces",
            "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type:multipart/form-data;    boundary=----abc   \r\n\r\n",
            method: .post, headerCount: 2, contentType: "multipart/form-data;    boundary=----abc"
        ),
        ValidRequest(
            "names one byte off the recognised ones are other fields",
            "GET / HTTP/1.1\r\nHost: localhost\r\nHosu: a\r\nExpecu: 100-continue\r\nUpgradf: tcp\r\nTrailex: y\r\n"
                + "Connectiom: close\r\nContent-Typf: text/plain\r\nContent-Lengtx: 5\r\nContent_Length: 5\r\n"
                + "Xontent-Length: 5\r\nTransfer-Encodinh: chunked\r\nTransfer-Encod1ng: chunked\r\n"
                + "Transfer-Encodin: chunked\r\n\r\n",
            headerCount: 13
        ),
        ValidRequest(
            "recognised names in mixed case",
            "PUT /x HTTP/1.1\r\nhOsT: h\r\ncOnTeNt-LeNgTh: 3\r\nCONNECTION: CLOSE\r\ncontent-TYPE: a/b\r\n"
                + "eXPECT: 100-CONTINUE\r\nuPGRADE: tcp\r\n\r\n",
            method: .put, target: "/x", headerCount: 6, framing: .length(3), keepAlive: false,
            expectContinue: true, host: "h", contentType: "a/b"
        ),
        ValidRequest(
            "a list element that ends with an option is not that option",
            "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: 123456789012345678901234close\r\n\r\n", headerCount: 2
        ),
        ValidRequest(
            "keep-alive preceded by other token bytes is not keep-alive",
            "GET / HTTP/1.0\r\nConnection: 123456keep-alive, xkeep-alive\r\n\r\n", version: .http1_0,
            keepAlive: false, host: nil
        ),
        ValidRequest(
            "options among OWS and empty elements",
            "GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: tcp\r\nConnection: ,\t, foo ,UPGRADE\t,, \r\n\r\n",
            headerCount: 3, upgrade: true
        ),
        ValidRequest(
            "a three-byte method that is not GET or PUT", "GEX / HTTP/1.1\r\nHost: localhost\r\n\r\n", method: .other,
            methodText: "GEX"
        ),
        ValidRequest(
            "a known method with one more byte", "CONNECTS / HTTP/1.1\r\nHost: localhost\r\n\r\n", method: .other,
            methodText: "CONNECTS"
        ),
        ValidRequest(
            "a known method with its last byte in lower case", "OPTIONs / HTTP/1.1\r\nHost: localhost\r\n\r\n",
            method: .other, methodText: "OPTIONs"
        ),
        ValidRequest(
            "version ending right at the line limit", "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
            limits: HTTPLimits(maxRequestLineBytes: 14)
        ),
        ValidRequest(
            "Content-Length of 18 digits with trailing OWS",
            "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 000000000000000012 \t \r\n\r\n",
            rest: "{\"a\":\"bcdefg\"}", method: .post, headerCount: 2, framing: .length(12)
        ),
    ]

    static let invalidRequests: [InvalidRequest] = [
        InvalidRequest(
            "space after the method at the line limit", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", .requestLineTooLong,
            limits: HTTPLimits(maxRequestLineBytes: 3)
        ),
        InvalidRequest(
            "first target byte at the line limit", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", .requestLineTooLong,
            limits: HTTPLimits(maxRequestLineBytes: 4)
        ),
        InvalidRequest(
            "space after the target at the line limit", "GET /abc HTTP/1.1\r\nHost: x\r\n\r\n", .requestLineTooLong,
            limits: HTTPLimits(maxRequestLineBytes: 8)
        ),
        InvalidRequest(
            "last version byte at the line limit", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", .requestLineTooLong,
            limits: HTTPLimits(maxRequestLineBytes: 13)
        ),
        InvalidRequest(
            "head limit between the CR and LF of the request line", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", .headTooLarge,
            limits: HTTPLimits(maxHeadBytes: 15)
        ),
        InvalidRequest(
            "head limit right after the request line", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", .headTooLarge,
            limits: HTTPLimits(maxHeadBytes: 16)
        ),
        InvalidRequest("version then CR and junk", "GET / HTTP/1.1\rXY\r\nHost: x\r\n\r\n", .bareCarriageReturn),
        InvalidRequest("version then CR CR", "GET / HTTP/1.1\r\r\nHost: x\r\n\r\n", .bareCarriageReturn),
        InvalidRequest("HTTP/1.1 in lower case", "GET / HTTP/1.1\r\nHost: x\r\n\r\n".lowercased(), .invalidVersion),
        InvalidRequest(
            "obs-text in Content-Length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\u{E9}\r\n\r\n",
            .invalidContentLength
        ),
        InvalidRequest(
            "Content-Length digits after OWS", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 12 \t3\r\n\r\n",
            .invalidContentLength
        ),
        InvalidRequest(
            "DEL after a long value", "GET / HTTP/1.1\r\nHost: x\r\nX: abcdefghijklmnopqrstuvwxyz\u{7F}\r\n\r\n",
            .invalidFieldValue
        ),
        InvalidRequest(
            "NUL in a long name", "GET / HTTP/1.1\r\nHost: x\r\nX-abcdefghijklm\u{0}nop: v\r\n\r\n", .invalidFieldName
        ),
        InvalidRequest(
            "a second Host in upper case", "GET / HTTP/1.1\r\nHost: a\r\nHOST: a\r\n\r\n", .multipleHost
        ),
        InvalidRequest(
            "Transfer-Encoding packed with a longer element",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: 1234567890chunked\r\n\r\n", .unsupportedTransferEncoding
        ),
    ]

    static let validResponses: [ValidResponse] = [
        ValidResponse(
            "nginx in front of the daemon",
            "HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Sun, 29 Nov 2026 16:00:42 GMT\r\n"
                + "Content-Type: application/json\r\nContent-Length: 2\r\nConnection: keep-alive\r\n"
                + "Api-Version: 1.41\r\nDocker-Experimental: false\r\nOstype: linux\r\n\r\n",
            rest: "[]", headerCount: 8, framing: .length(2), contentType: "application/json"
        ),
        ValidResponse(
            "long reason with obs-text",
            "HTTP/1.1 404 Not Found Here Either \u{E9}\u{E9}\t!\r\nContent-Length: 0\r\n\r\n", status: 404,
            framing: .length(0)
        ),
        ValidResponse(
            "chunked with OWS in mixed case", "HTTP/1.1 200 OK\r\ntRANSFER-eNCODING:\t CHUNKED \t\r\n\r\n",
            framing: .chunked
        ),
        ValidResponse(
            "status line without reason or fields", "HTTP/1.0 204\r\n\r\n", status: 204, version: .http1_0,
            headerCount: 0, framing: .none, keepAlive: false
        ),
    ]

    static let invalidResponses: [InvalidResponse] = [
        InvalidResponse(
            "head limit inside the status line", "HTTP/1.1 200 OK\r\n\r\n", .headTooLarge,
            limits: HTTPLimits(maxHeadBytes: 12)
        ),
        InvalidResponse(
            "head limit right after the status code", "HTTP/1.1 200 OK\r\n\r\n", .headTooLarge,
            limits: HTTPLimits(maxHeadBytes: 13)
        ),
        InvalidResponse("HTTP/1.1 in lower case", "http/1.1 200 OK\r\n\r\n", .invalidVersion),
        InvalidResponse("status code with a letter last", "HTTP/1.1 20x OK\r\n\r\n", .invalidStatusCode),
        InvalidResponse("HTAB after the status code", "HTTP/1.1 200\tOK\r\n\r\n", .invalidStatusLine),
        InvalidResponse("reason then CR and junk", "HTTP/1.1 200 OK\rX\r\n\r\n", .bareCarriageReturn),
        InvalidResponse(
            "19-digit Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 1234567890123456789\r\n\r\n",
            .invalidContentLength
        ),
        InvalidResponse(
            "chunked with a longer element", "HTTP/1.1 200 OK\r\nTransfer-Encoding: xchunked\r\n\r\n",
            .unsupportedTransferEncoding
        ),
    ]

    static let validBodies: [ValidChunkedBody] = [
        ValidChunkedBody(
            "trailers named like forbidden ones but not them",
            "0\r\nTransfer-Encodings: x\r\nContent-Lengt: 1\r\nX-A-Rather-Long-Trailer-Name: v\r\nHosts: h\r\n\r\n",
            data: ""
        )
    ]

    static let invalidBodies: [InvalidChunkedBody] = [
        InvalidChunkedBody(
            "Transfer-Encoding in upper case as a trailer", "0\r\nX: 1\r\nTRANSFER-ENCODING: chunked\r\n\r\n",
            .invalidTrailer
        ),
        InvalidChunkedBody(
            "Content-Length in mixed case as a trailer", "0\r\ncontent-LENGTH: 1\r\n\r\n", .invalidTrailer
        ),
    ]

    @Test(arguments: validRequests)
    func parsesValidRequestWholeAndSplit(fixture: ValidRequest) {
        let bytes = fixture.bytes
        let result = HTTPFeed.request(bytes, limits: fixture.limits)
        guard case .complete(let head) = result else {
            Issue.record("expected a complete head, got \(result)")
            return
        }
        #expect(head.method == fixture.method)
        #expect(HTTPFeed.text(bytes, head.methodBytes) == fixture.methodText)
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
        let mismatches = HTTPFeed.splitMismatches(bytes, expected: result, headEnd: fixture.headEnd) {
            RequestFeeder(limits: fixture.limits)
        }
        #expect(mismatches == [])
    }

    @Test(arguments: invalidRequests)
    func rejectsInvalidRequestWholeAndSplit(fixture: InvalidRequest) {
        #expect(HTTPFeed.request(fixture.bytes, limits: fixture.limits) == .failed(fixture.error))
        let mismatches = HTTPFeed.splitMismatches(fixture.bytes, expected: .failed(fixture.error), headEnd: nil) {
            RequestFeeder(limits: fixture.limits)
        }
        #expect(mismatches == [])
    }

    @Test(arguments: validResponses)
    func parsesValidResponseWholeAndSplit(fixture: ValidResponse) {
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
        #expect(HTTPFeed.text(bytes, head.contentType) == fixture.contentType)
        let mismatches = HTTPFeed.splitMismatches(bytes, expected: result, headEnd: fixture.headEnd) {
            ResponseFeeder(method: fixture.requestMethod)
        }
        #expect(mismatches == [])
    }

    @Test(arguments: invalidResponses)
    func rejectsInvalidResponseWholeAndSplit(fixture: InvalidResponse) {
        let bytes = HTTPFeed.bytes(fixture.text)
        let result = HTTPFeed.response(bytes, method: fixture.requestMethod, limits: fixture.limits)
        #expect(result == .failed(fixture.error))
        let mismatches = HTTPFeed.splitMismatches(bytes, expected: .failed(fixture.error), headEnd: nil) {
            ResponseFeeder(method: fixture.requestMethod, limits: fixture.limits)
        }
        #expect(mismatches == [])
    }

    @Test(arguments: validBodies)
    func decodesTrailersWholeSplitAndByteByByte(fixture: ValidChunkedBody) {
        let bytes = fixture.bytes
        let expected = ChunkedOutcome(consumed: fixture.bodyLength, complete: true, error: nil)
        var failures: [String] = []
        for split in 0...bytes.count {
            let outcome = ChunkedFeed.pieces(bytes, sizes: [split, bytes.count - split], limits: fixture.limits)
            if outcome != expected {
                failures.append("split \(split): \(outcome)")
            }
        }
        let byteByByte = ChunkedFeed.pieces(
            bytes, sizes: Array(repeating: 1, count: bytes.count), limits: fixture.limits
        )
        if byteByByte != expected {
            failures.append("byte by byte: \(byteByByte)")
        }
        #expect(failures == [])
    }

    @Test(arguments: invalidBodies)
    func rejectsTrailersWholeSplitAndByteByByte(fixture: InvalidChunkedBody) {
        let bytes = HTTPFeed.bytes(fixture.text)
        var failures: [String] = []
        for split in 0...bytes.count {
            let outcome = ChunkedFeed.pieces(bytes, sizes: [split, bytes.count - split], limits: fixture.limits)
            if outcome.error != fixture.error {
                failures.append("split \(split): \(outcome)")
            }
        }
        let byteByByte = ChunkedFeed.pieces(
            bytes, sizes: Array(repeating: 1, count: bytes.count), limits: fixture.limits
        )
        if byteByByte.error != fixture.error {
            failures.append("byte by byte: \(byteByByte)")
        }
        #expect(failures == [])
    }

    /// A recognised name matches in any case, and a name one token byte away from it never does: the comparison
    /// folds case by setting bit 5, which must not make any other token byte equal a keyword's.
    @Test func recognisesEveryFieldNameInAnyCaseAndNothingNextToIt() {
        let names: [(String, FieldName)] = [
            ("host", .host), ("content-length", .contentLength), ("transfer-encoding", .transferEncoding),
            ("connection", .connection), ("upgrade", .upgrade), ("expect", .expect), ("content-type", .contentType),
            ("trailer", .trailer),
        ]
        let replacements = "x0^~_`|!".utf8
        for (name, field) in names {
            let alternating = String(
                name.enumerated().map { $0.offset % 2 == 0 ? Character($0.element.uppercased()) : $0.element }
            )
            for variant in [name, name.uppercased(), alternating] {
                let bytes = HTTPFeed.bytes(variant)
                #expect(bytes.withUnsafeBytes { FieldName($0.baseAddress!, count: $0.count) } == field, "\(variant)")
                for index in bytes.indices {
                    for replacement in replacements
                    where ByteClass.lowercased(replacement) != ByteClass.lowercased(bytes[index]) {
                        var changed = bytes
                        changed[index] = replacement
                        let recognised = changed.withUnsafeBytes { FieldName($0.baseAddress!, count: $0.count) }
                        #expect(recognised == nil, "\(String(decoding: changed, as: UTF8.self))")
                    }
                }
            }
        }
    }
}

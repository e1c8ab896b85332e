// Shared feeding helpers for the HTTP parser tests, and tests of the small shared HTTP types.
import Testing

@testable import SocketProxyCore

/// Feeds fixtures to the parsers whole, split in two at every index, and one byte more at a time.
enum HTTPFeed {
    /// The bytes of `text` as UTF-8 (non-ASCII characters give obs-text bytes, 0x80 and up).
    static func bytes(_ text: String) -> [UInt8] {
        Array(text.utf8)
    }

    /// The text of `range` in `bytes`.
    static func text(_ bytes: [UInt8], _ range: Range<Int>?) -> String? {
        range.map { String(decoding: bytes[$0], as: UTF8.self) }
    }

    /// Parses a request head from the whole of `bytes` in one call.
    static func request(_ bytes: [UInt8], limits: HTTPLimits = HTTPLimits()) -> HeadParseResult<RequestHead> {
        var parser = RequestHeadParser(limits: limits)
        return bytes.withUnsafeBytes { parser.parse($0) }
    }

    /// Parses a response head from the whole of `bytes` in one call.
    static func response(
        _ bytes: [UInt8], method: HTTPMethod = .get, limits: HTTPLimits = HTTPLimits()
    ) -> HeadParseResult<ResponseHead> {
        var parser = ResponseHeadParser(limits: limits)
        return bytes.withUnsafeBytes { parser.parse($0, requestMethod: method) }
    }

    /// Split indices (and byte-by-byte steps) at which feeding `bytes` in pieces disagreed with `expected`.
    ///
    /// For each split `i`, a fresh parser gets `bytes[0..<i]` and then all of `bytes`: the first answer must be
    /// `needMoreBytes` while the head is unfinished (before `headEnd`, if given) or else `expected` itself, and the
    /// second must be `expected`. Then one parser is fed every prefix in turn, one byte more each time.
    static func splitMismatches<Parser: HeadFeeding>(
        _ bytes: [UInt8], expected: HeadParseResult<Parser.Head>, headEnd: Int?, make: () -> Parser
    ) -> [String] {
        var mismatches: [String] = []
        bytes.withUnsafeBytes { all in
            for split in 0...all.count {
                var parser = make()
                let first = parser.feed(UnsafeRawBufferPointer(rebasing: all[0..<split]))
                let firstIsValid =
                    if let headEnd, split < headEnd {
                        first == .needMoreBytes
                    } else {
                        first == .needMoreBytes || first == expected
                    }
                if !firstIsValid {
                    mismatches.append("prefix \(split): \(first)")
                }
                let second = parser.feed(all)
                if second != expected {
                    mismatches.append("split \(split): \(second)")
                }
            }
            var parser = make()
            var last: HeadParseResult<Parser.Head> = .needMoreBytes
            for count in 0...all.count {
                last = parser.feed(UnsafeRawBufferPointer(rebasing: all[0..<count]))
                if last != .needMoreBytes && last != expected {
                    mismatches.append("byte by byte, \(count) bytes: \(last)")
                }
            }
            if last != expected {
                mismatches.append("byte by byte, end: \(last)")
            }
        }
        // A few are enough to see what went wrong; the count says how widespread it is.
        return mismatches.count <= 3 ? mismatches : Array(mismatches.prefix(3)) + ["(\(mismatches.count) in all)"]
    }
}

/// A head parser with its arguments bound, so one split-feeding routine serves requests and responses.
protocol HeadFeeding {
    associatedtype Head: Sendable & Equatable
    mutating func feed(_ bytes: UnsafeRawBufferPointer) -> HeadParseResult<Head>
}

/// Feeds a ``RequestHeadParser``.
struct RequestFeeder: HeadFeeding {
    var parser: RequestHeadParser

    init(limits: HTTPLimits = HTTPLimits()) {
        parser = RequestHeadParser(limits: limits)
    }

    mutating func feed(_ bytes: UnsafeRawBufferPointer) -> HeadParseResult<RequestHead> {
        parser.parse(bytes)
    }
}

/// Feeds a ``ResponseHeadParser`` answering a request made with `method`.
struct ResponseFeeder: HeadFeeding {
    var parser: ResponseHeadParser
    let method: HTTPMethod

    init(method: HTTPMethod, limits: HTTPLimits = HTTPLimits()) {
        parser = ResponseHeadParser(limits: limits)
        self.method = method
    }

    mutating func feed(_ bytes: UnsafeRawBufferPointer) -> HeadParseResult<ResponseHead> {
        parser.parse(bytes, requestMethod: method)
    }
}

struct HTTPCommonTests {
    static let limitErrors: [HTTPParseError] = [.requestLineTooLong, .headTooLarge, .tooManyHeaderFields]
    static let allErrors: [HTTPParseError] = [
        .invalidMethod, .invalidTarget, .invalidVersion, .unsupportedVersion, .invalidRequestLine,
        .requestLineTooLong, .headTooLarge, .tooManyHeaderFields,
        .invalidFieldName, .whitespaceBeforeColon, .obsoleteLineFolding, .invalidFieldValue, .bareCarriageReturn,
        .bareLineFeed,
        .invalidContentLength, .multipleContentLength, .contentLengthWithTransferEncoding,
        .unsupportedTransferEncoding, .transferEncodingInHTTP10, .missingHost, .multipleHost,
        .invalidChunkSize, .chunkSizeTooLarge, .invalidChunkExtension, .invalidChunkDelimiter, .invalidTrailer,
        .invalidStatusLine, .invalidStatusCode,
    ]

    @Test func limitErrorsAnswer431() {
        for error in Self.limitErrors {
            #expect(error.status == 431, "\(error)")
        }
    }

    @Test func unsupportedVersionAnswers505() {
        #expect(HTTPParseError.unsupportedVersion.status == 505)
    }

    @Test func everyOtherErrorAnswers400() {
        let others = Self.allErrors.filter { !Self.limitErrors.contains($0) && $0 != .unsupportedVersion }
        #expect(others.count == 24)
        for error in others {
            #expect(error.status == 400, "\(error)")
        }
    }

    @Test func everyErrorHasItsOwnDescription() {
        let descriptions = Self.allErrors.map(\.description)
        #expect(Set(descriptions).count == Self.allErrors.count)
        #expect(descriptions.allSatisfy { !$0.isEmpty && $0.count < 60 })
        #expect(
            HTTPParseError.contentLengthWithTransferEncoding.description
                == "Content-Length together with Transfer-Encoding"
        )
    }

    @Test(arguments: [
        (HTTPMethod.get, "GET"), (.head, "HEAD"), (.post, "POST"), (.put, "PUT"), (.delete, "DELETE"),
        (.patch, "PATCH"), (.options, "OPTIONS"), (.connect, "CONNECT"), (.trace, "TRACE"), (.other, "OTHER"),
    ])
    func methodNamesAreUpperCase(method: HTTPMethod, name: String) {
        #expect(method.name == name)
    }

    @Test func defaultLimitsAreTheDocumentedOnes() {
        let limits = HTTPLimits()
        #expect(limits.maxRequestLineBytes == 8192)
        #expect(limits.maxHeadBytes == 65536)
        #expect(limits.maxHeaderFields == 100)
    }

    @Test(arguments: [
        ("Content-Type", "content-type", true), ("CONTENT-TYPE", "content-type", true),
        ("content-typ", "content-type", false), ("content-types", "content-type", false),
        ("content_type", "content-type", false), ("", "", true), ("@", "`", false), ("[", "{", false),
    ])
    func comparesAsciiWithoutCase(bytes: String, keyword: String, equal: Bool) {
        // StaticString needs a literal, so pick it from a table of the keywords used above.
        let result = HTTPFeed.bytes(bytes).withUnsafeBytes { buffer in
            switch keyword {
            case "content-type": equalsCaseInsensitive(buffer, "content-type")
            case "`": equalsCaseInsensitive(buffer, "`")
            case "{": equalsCaseInsensitive(buffer, "{")
            default: equalsCaseInsensitive(buffer, "")
            }
        }
        #expect(result == equal)
    }

    @Test func walksRequestFieldsWithTrimmedValues() throws {
        let raw = HTTPFeed.bytes(
            "POST /v1.41/build HTTP/1.1\r\nHost: docker\r\nX-Empty:\r\nX-Spaces: \t a b \t\r\n"
                + "content-length:3\r\n\r\nabc"
        )
        guard case .complete(let head) = HTTPFeed.request(raw) else {
            Issue.record("request did not parse")
            return
        }
        var fields: [String] = []
        raw.withUnsafeBytes { buffer in
            head.forEachField(in: buffer) { name, value in
                fields.append("\(HTTPFeed.text(raw, name)!)=[\(HTTPFeed.text(raw, value)!)]")
                #expect(
                    equalsCaseInsensitive(UnsafeRawBufferPointer(rebasing: buffer[name]), "content-length")
                        == (fields.count == 4)
                )
            }
        }
        #expect(fields == ["Host=[docker]", "X-Empty=[]", "X-Spaces=[a b]", "content-length=[3]"])
    }

    @Test func walksResponseFields() {
        let raw = HTTPFeed.bytes("HTTP/1.1 200 OK\r\nApi-Version: 1.47\r\nOstype: linux\r\n\r\nOK")
        guard case .complete(let head) = HTTPFeed.response(raw) else {
            Issue.record("response did not parse")
            return
        }
        var fields: [String] = []
        raw.withUnsafeBytes { buffer in
            head.forEachField(in: buffer) { name, value in
                fields.append("\(HTTPFeed.text(raw, name)!)=\(HTTPFeed.text(raw, value)!)")
            }
        }
        #expect(fields == ["Api-Version=1.47", "Ostype=linux"])
    }

    @Test func walksNothingInAHeadWithoutFields() {
        let raw = HTTPFeed.bytes("GET / HTTP/1.0\r\n\r\n")
        guard case .complete(let head) = HTTPFeed.request(raw) else {
            Issue.record("request did not parse")
            return
        }
        var calls = 0
        raw.withUnsafeBytes { buffer in head.forEachField(in: buffer) { _, _ in calls += 1 } }
        #expect(calls == 0)
    }
}

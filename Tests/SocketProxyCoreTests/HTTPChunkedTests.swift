// Tests of the chunked-body decoder: sizes, extensions, trailers, errors, byte-by-byte feeding and skipData.
import Testing

@testable import SocketProxyCore

/// A chunked body that must decode; `rest` follows it and must not be consumed.
struct ValidChunkedBody: Sendable, CustomTestStringConvertible {
    let name: String
    let body: String
    let rest: String
    /// The chunk data, concatenated.
    let data: String
    let limits: HTTPLimits

    init(_ name: String, _ body: String, rest: String = "", data: String, limits: HTTPLimits = HTTPLimits()) {
        self.name = name
        self.body = body
        self.rest = rest
        self.data = data
        self.limits = limits
    }

    var bytes: [UInt8] { HTTPFeed.bytes(body + rest) }
    var bodyLength: Int { body.utf8.count }
    var testDescription: String { name }
}

/// A chunked body that must fail with `error`.
struct InvalidChunkedBody: Sendable, CustomTestStringConvertible {
    let name: String
    let text: String
    let error: HTTPParseError
    let limits: HTTPLimits

    init(_ name: String, _ text: String, _ error: HTTPParseError, limits: HTTPLimits = HTTPLimits()) {
        self.name = name
        self.text = text
        self.error = error
        self.limits = limits
    }

    var testDescription: String { "\(name) -> \(error)" }
}

/// What happened when a body was fed in some pattern.
struct ChunkedOutcome: Equatable, CustomStringConvertible {
    /// Bytes consumed before completion or failure.
    var consumed = 0
    var complete = false
    var error: HTTPParseError?
    /// Chunk data collected through `dataRemaining` and `skipData` (splice mode only).
    var data: [UInt8] = []

    var description: String {
        "consumed \(consumed), complete \(complete), error \(error.map { "\($0)" } ?? "none"), \(data.count) data bytes"
    }
}

/// Ways of feeding a chunked body to the decoder.
enum ChunkedFeed {
    /// One call with every byte.
    static func whole(_ bytes: [UInt8], limits: HTTPLimits) -> ChunkedOutcome {
        pieces(bytes, sizes: [bytes.count], limits: limits)
    }

    /// Consecutive calls with slices of the given sizes (the last slice runs to the end), like reads off a socket.
    static func pieces(_ bytes: [UInt8], sizes: [Int], limits: HTTPLimits) -> ChunkedOutcome {
        var decoder = ChunkedDecoder(limits: limits)
        var outcome = ChunkedOutcome()
        var offset = 0
        var index = 0
        while offset < bytes.count || index == 0 {
            let size = index < sizes.count - 1 ? sizes[index] : bytes.count - offset
            index += 1
            let slice = bytes[offset..<offset + size]
            switch slice.withUnsafeBytes({ decoder.consume($0) }) {
            case .success(let count):
                precondition(count <= size, "consumed more than it was given")
                outcome.consumed += count
                if decoder.isComplete {
                    outcome.complete = true
                    return outcome
                }
                if count < size {
                    // Stopping early is only allowed at the end of the body.
                    outcome.error = .invalidTrailer
                    return outcome
                }
            case .failure(let error):
                outcome.error = error
                return outcome
            }
            offset += size
        }
        return outcome
    }

    /// The relay's way: data bytes are moved by the caller (`skipData`), framing bytes fed one at a time.
    static func spliced(_ bytes: [UInt8], limits: HTTPLimits) -> ChunkedOutcome {
        var decoder = ChunkedDecoder(limits: limits)
        var outcome = ChunkedOutcome()
        var offset = 0
        while offset < bytes.count && !decoder.isComplete {
            let remaining = decoder.dataRemaining
            if remaining > 0 {
                let count = min(Int(remaining), bytes.count - offset)
                outcome.data += bytes[offset..<offset + count]
                decoder.skipData(UInt64(count))
                offset += count
                outcome.consumed += count
                continue
            }
            switch bytes[offset..<offset + 1].withUnsafeBytes({ decoder.consume($0) }) {
            case .success(let count):
                offset += count
                outcome.consumed += count
            case .failure(let error):
                outcome.error = error
                return outcome
            }
        }
        outcome.complete = decoder.isComplete
        return outcome
    }
}

struct HTTPChunkedTests {
    static let valid: [ValidChunkedBody] = [
        ValidChunkedBody("one chunk", "5\r\nhello\r\n0\r\n\r\n", data: "hello"),
        ValidChunkedBody("empty body", "0\r\n\r\n", data: ""),
        ValidChunkedBody(
            "several chunks", "5\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\n\r\n", data: "hello world"
        ),
        ValidChunkedBody(
            "hex sizes in both cases", "a\r\n0123456789\r\nB\r\nabcdefghijk\r\n0\r\n\r\n",
            data: "0123456789abcdefghijk"
        ),
        ValidChunkedBody(
            "size of 16 hex digits with leading zeros", "000000000000000A\r\n0123456789\r\n0000\r\n\r\n",
            data: "0123456789"
        ),
        ValidChunkedBody("data containing CRLF", "4\r\n\r\n\r\n\r\n0\r\n\r\n", data: "\r\n\r\n"),
        ValidChunkedBody(
            "extension with token value", "5;name=value\r\nhello\r\n0\r\n\r\n", data: "hello"
        ),
        ValidChunkedBody(
            "extensions with BWS", "5 ; a = b ;\tc\t;d=e\r\nhello\r\n0 ;x\r\n\r\n", data: "hello"
        ),
        ValidChunkedBody(
            "extension with quoted value", "5;a=\"quoted \\\"x\\\" ; \\\\ \u{E9}\"\r\nhello\r\n0\r\n\r\n",
            data: "hello"
        ),
        ValidChunkedBody(
            "quoted value then another extension", "5;a=\"\" ;b\r\nhello\r\n0\r\n\r\n", data: "hello"
        ),
        ValidChunkedBody("extension on the last chunk", "0;last\r\n\r\n", data: ""),
        ValidChunkedBody(
            "trailers", "3\r\nabc\r\n0\r\nX-Checksum: abc\r\nX-Other:\t d e \r\n\r\n", data: "abc"
        ),
        ValidChunkedBody(
            "next request after the body", "3\r\nabc\r\n0\r\n\r\n", rest: "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
            data: "abc"
        ),
        ValidChunkedBody(
            "next request after trailers", "0\r\nA: b\r\n\r\n", rest: "0\r\n\r\n", data: ""
        ),
        ValidChunkedBody(
            "size lines exactly at the limit", "5;abcdefgh\r\nhello\r\n5;abcdefgh\r\nworld\r\n0;abcdefgh\r\n\r\n",
            data: "helloworld",
            limits: HTTPLimits(maxRequestLineBytes: 10)
        ),
        ValidChunkedBody(
            "trailers exactly at the limits", "0\r\nA: 1\r\nB: 2\r\n\r\n", data: "",
            limits: HTTPLimits(maxHeadBytes: 14, maxHeaderFields: 2)
        ),
    ]

    static let invalid: [InvalidChunkedBody] = [
        InvalidChunkedBody("no size", "\r\nhello\r\n0\r\n\r\n", .invalidChunkSize),
        InvalidChunkedBody("letter size", "x\r\n", .invalidChunkSize),
        InvalidChunkedBody("extension without size", ";a\r\n", .invalidChunkSize),
        InvalidChunkedBody("junk after size", "5x\r\nhello\r\n0\r\n\r\n", .invalidChunkSize),
        InvalidChunkedBody("space before size", " 5\r\nhello\r\n0\r\n\r\n", .invalidChunkSize),
        InvalidChunkedBody("negative size", "-5\r\n", .invalidChunkSize),
        InvalidChunkedBody("0x prefix", "0x5\r\nhello\r\n", .invalidChunkSize),
        InvalidChunkedBody("second chunk without size", "1\r\na\r\n\r\n", .invalidChunkSize),
        InvalidChunkedBody("17 hex digits", "10000000000000000\r\n", .chunkSizeTooLarge),
        InvalidChunkedBody("17 digits of leading zeros", "00000000000000005\r\nhello\r\n", .chunkSizeTooLarge),
        InvalidChunkedBody("20 hex digits", "FFFFFFFFFFFFFFFFFFFF\r\n", .chunkSizeTooLarge),
        InvalidChunkedBody("BWS then CRLF", "5 \r\nhello\r\n0\r\n\r\n", .invalidChunkExtension),
        InvalidChunkedBody("semicolon alone", "5;\r\nhello\r\n0\r\n\r\n", .invalidChunkExtension),
        InvalidChunkedBody("empty value", "5;a=\r\nhello\r\n", .invalidChunkExtension),
        InvalidChunkedBody("empty name", "5;=b\r\nhello\r\n", .invalidChunkExtension),
        InvalidChunkedBody("space inside name", "5;a b\r\nhello\r\n", .invalidChunkExtension),
        InvalidChunkedBody("BWS after name then CRLF", "5;a \r\nhello\r\n", .invalidChunkExtension),
        InvalidChunkedBody("space inside value", "5;a=b c\r\nhello\r\n", .invalidChunkExtension),
        InvalidChunkedBody("junk after quoted value", "5;a=\"b\"c\r\nhello\r\n", .invalidChunkExtension),
        InvalidChunkedBody("unterminated quoted value", "5;a=\"b\r\nhello\r\n", .invalidChunkExtension),
        InvalidChunkedBody("control in quoted value", "5;a=\"\u{1}\"\r\nhello\r\n", .invalidChunkExtension),
        InvalidChunkedBody("control in quoted pair", "5;a=\"\\\u{0}\"\r\nhello\r\n", .invalidChunkExtension),
        InvalidChunkedBody("delimiter in name", "5;a@b\r\nhello\r\n", .invalidChunkExtension),
        InvalidChunkedBody("NUL in extension", "5;a=\u{0}\r\nhello\r\n", .invalidChunkExtension),
        InvalidChunkedBody(
            "size line one byte over the limit", "5;abcdefghi\r\nhello\r\n0\r\n\r\n", .invalidChunkExtension,
            limits: HTTPLimits(maxRequestLineBytes: 10)
        ),
        InvalidChunkedBody(
            "endless extension", "5;" + String(repeating: "a", count: 64), .invalidChunkExtension,
            limits: HTTPLimits(maxRequestLineBytes: 32)
        ),
        InvalidChunkedBody("bare LF after size", "5\nhello\r\n0\r\n\r\n", .bareLineFeed),
        InvalidChunkedBody("bare LF after extension", "5;a\nhello\r\n", .bareLineFeed),
        InvalidChunkedBody("bare LF as the size line", "\n", .bareLineFeed),
        InvalidChunkedBody("bare CR after size", "5\rhello\r\n", .bareCarriageReturn),
        InvalidChunkedBody("data longer than its size", "5\r\nhello!\r\n0\r\n\r\n", .invalidChunkDelimiter),
        InvalidChunkedBody("bare LF after data", "5\r\nhello\n0\r\n\r\n", .invalidChunkDelimiter),
        InvalidChunkedBody("CR and junk after data", "5\r\nhello\rX0\r\n\r\n", .invalidChunkDelimiter),
        InvalidChunkedBody("next size right after data", "5\r\nhello0\r\n\r\n", .invalidChunkDelimiter),
        InvalidChunkedBody(
            "Content-Length as a trailer", "0\r\nContent-Length: 5\r\n\r\n", .invalidTrailer
        ),
        InvalidChunkedBody(
            "Transfer-Encoding as a trailer", "0\r\ntransfer-encoding: chunked\r\n\r\n", .invalidTrailer
        ),
        InvalidChunkedBody("Host as a trailer", "0\r\nHost: elsewhere\r\n\r\n", .invalidTrailer),
        InvalidChunkedBody("Trailer as a trailer", "0\r\nTrailer: X\r\n\r\n", .invalidTrailer),
        InvalidChunkedBody(
            "too many trailers", "0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", .invalidTrailer,
            limits: HTTPLimits(maxHeaderFields: 2)
        ),
        InvalidChunkedBody(
            "trailers too large", "0\r\nA: 1\r\nB: 2\r\n\r\n", .invalidTrailer, limits: HTTPLimits(maxHeadBytes: 13)
        ),
        InvalidChunkedBody("folded trailer", "0\r\nA: 1\r\n 2\r\n\r\n", .obsoleteLineFolding),
        InvalidChunkedBody("space before colon in trailer", "0\r\nA : 1\r\n\r\n", .whitespaceBeforeColon),
        InvalidChunkedBody("bad trailer name", "0\r\nA/B: 1\r\n\r\n", .invalidFieldName),
        InvalidChunkedBody("trailer without colon", "0\r\nAB\r\n\r\n", .invalidFieldName),
        InvalidChunkedBody("control in trailer value", "0\r\nA: \u{7}\r\n\r\n", .invalidFieldValue),
        InvalidChunkedBody("bare LF after trailer", "0\r\nA: 1\n\r\n", .bareLineFeed),
        InvalidChunkedBody("bare LF ending the body", "0\r\n\n", .bareLineFeed),
        InvalidChunkedBody("bare CR ending the body", "0\r\n\rX", .bareCarriageReturn),
    ]

    @Test(arguments: valid)
    func decodesValidBodyWhole(fixture: ValidChunkedBody) {
        let outcome = ChunkedFeed.whole(fixture.bytes, limits: fixture.limits)
        #expect(outcome == ChunkedOutcome(consumed: fixture.bodyLength, complete: true, error: nil))
    }

    @Test(arguments: valid)
    func decodesValidBodyIdenticallyWhenSplit(fixture: ValidChunkedBody) {
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
            bytes, sizes: Array(repeating: 1, count: bytes.count), limits: fixture.limits)
        if byteByByte != expected {
            failures.append("byte by byte: \(byteByByte)")
        }
        #expect(failures == [])
    }

    @Test(arguments: valid)
    func extractsTheChunkDataWhenTheCallerSkipsIt(fixture: ValidChunkedBody) {
        let outcome = ChunkedFeed.spliced(fixture.bytes, limits: fixture.limits)
        #expect(outcome.error == nil)
        #expect(outcome.complete)
        #expect(outcome.consumed == fixture.bodyLength)
        #expect(String(decoding: outcome.data, as: UTF8.self) == fixture.data)
    }

    @Test(arguments: invalid)
    func rejectsInvalidBody(fixture: InvalidChunkedBody) {
        let outcome = ChunkedFeed.whole(HTTPFeed.bytes(fixture.text), limits: fixture.limits)
        #expect(outcome.error == fixture.error)
        #expect(!outcome.complete)
    }

    @Test(arguments: invalid)
    func rejectsInvalidBodyIdenticallyWhenSplit(fixture: InvalidChunkedBody) {
        let bytes = HTTPFeed.bytes(fixture.text)
        var failures: [String] = []
        for split in 0...bytes.count {
            let outcome = ChunkedFeed.pieces(bytes, sizes: [split, bytes.count - split], limits: fixture.limits)
            if outcome.error != fixture.error || outcome.complete {
                failures.append("split \(split): \(outcome)")
            }
        }
        let byteByByte = ChunkedFeed.pieces(
            bytes, sizes: Array(repeating: 1, count: bytes.count), limits: fixture.limits)
        if byteByByte.error != fixture.error {
            failures.append("byte by byte: \(byteByByte)")
        }
        let spliced = ChunkedFeed.spliced(bytes, limits: fixture.limits)
        if spliced.error != fixture.error {
            failures.append("spliced: \(spliced)")
        }
        #expect(failures == [])
    }

    @Test func reportsDataRemainingAndSkipsOverIt() {
        var decoder = ChunkedDecoder()
        #expect(decoder.dataRemaining == 0)
        let sizeLine = HTTPFeed.bytes("1a;x=y\r\n")
        #expect(sizeLine.withUnsafeBytes { decoder.consume($0) } == .success(8))
        #expect(decoder.dataRemaining == 26)
        decoder.skipData(10)
        #expect(decoder.dataRemaining == 16)
        decoder.skipData(0)
        #expect(decoder.dataRemaining == 16)
        // The remaining data can also go through consume, followed by the framing.
        let tail = HTTPFeed.bytes("abcdefghijklmnop\r\n100000000\r\n")
        #expect(tail.withUnsafeBytes { decoder.consume($0) } == .success(tail.count))
        #expect(decoder.dataRemaining == 0x1_0000_0000)
        decoder.skipData(0x1_0000_0000)
        #expect(decoder.dataRemaining == 0)
        #expect(!decoder.isComplete)
        let end = HTTPFeed.bytes("\r\n0\r\n\r\nNEXT")
        #expect(end.withUnsafeBytes { decoder.consume($0) } == .success(7))
        #expect(decoder.isComplete)
        #expect(decoder.dataRemaining == 0)
    }

    @Test func reportsTheLargestChunkSize() {
        var decoder = ChunkedDecoder()
        let line = HTTPFeed.bytes("FFFFFFFFFFFFFFFF\r\n")
        #expect(line.withUnsafeBytes { decoder.consume($0) } == .success(18))
        #expect(decoder.dataRemaining == UInt64.max)
    }

    @Test func consumesOnlyTheDataThatIsThere() {
        var decoder = ChunkedDecoder()
        let bytes = HTTPFeed.bytes("10\r\n0123")
        #expect(bytes.withUnsafeBytes { decoder.consume($0) } == .success(8))
        #expect(decoder.dataRemaining == 12)
    }

    @Test func consumesNothingOnceComplete() {
        var decoder = ChunkedDecoder()
        let body = HTTPFeed.bytes("0\r\n\r\n")
        #expect(body.withUnsafeBytes { decoder.consume($0) } == .success(5))
        #expect(decoder.isComplete)
        #expect(body.withUnsafeBytes { decoder.consume($0) } == .success(0))
        #expect(decoder.isComplete)
    }

    @Test func consumesNothingFromAnEmptyBuffer() {
        var decoder = ChunkedDecoder()
        let empty: [UInt8] = []
        #expect(empty.withUnsafeBytes { decoder.consume($0) } == .success(0))
        #expect(!decoder.isComplete)
    }

    @Test func keepsFailingWithTheSameErrorUntilReset() {
        var decoder = ChunkedDecoder()
        let bad = HTTPFeed.bytes("5\r\nhelloXX")
        let good = HTTPFeed.bytes("0\r\n\r\n")
        #expect(bad.withUnsafeBytes { decoder.consume($0) } == .failure(.invalidChunkDelimiter))
        #expect(good.withUnsafeBytes { decoder.consume($0) } == .failure(.invalidChunkDelimiter))
        #expect(decoder.dataRemaining == 0)
        #expect(!decoder.isComplete)
        decoder.reset()
        #expect(good.withUnsafeBytes { decoder.consume($0) } == .success(5))
        #expect(decoder.isComplete)
    }

    @Test func resetStartsANewBody() {
        var decoder = ChunkedDecoder()
        let first = HTTPFeed.bytes("3\r\nabc\r\n0\r\n\r\n")
        #expect(first.withUnsafeBytes { decoder.consume($0) } == .success(first.count))
        decoder.reset()
        #expect(!decoder.isComplete)
        let partial = HTTPFeed.bytes("2\r\n")
        #expect(partial.withUnsafeBytes { decoder.consume($0) } == .success(3))
        #expect(decoder.dataRemaining == 2)
    }
}

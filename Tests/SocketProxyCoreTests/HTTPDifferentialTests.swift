// Differential tests of the request parsers against h11 and llhttp, over the corpus in Fixtures/http-differential.json.
import Foundation
import SocketProxyCore
import Testing

/// socket-proxy's reading of each corpus case compared with the recorded readings of two independent strict
/// parsers. The corpus (generated and mutated requests, pipelines included) and the references' verdicts come from
/// `scripts/differential/generate.py`; this test needs neither Python nor Node.
///
/// A case fails when a reference rejects a request that socket-proxy accepts, when a reference and socket-proxy
/// both read a request but disagree on its method, target, fields, body length or where it ends, or when one of
/// them needs more bytes for a request the other read completely (the two frame the bytes differently). Refusing
/// what a reference accepts is allowed: socket-proxy is stricter by design. The few rejections by a reference
/// that socket-proxy accepts on purpose are listed in ``KnownDifference``. HTTPDifferentialLiveTests asks llhttp
/// again, live, about fresh mutations.
///
/// "Accepts" means what the proxy does: the head parses, the body frames (``ChunkedDecoder`` for chunked bodies),
/// and the target normalises (``RequestTarget``); a refused target ends the connection like a refused head.
struct HTTPDifferentialTests {
    // MARK: The corpus

    struct Corpus: Decodable {
        var generator: String
        var references: [String: String]
        var cases: [Case]
    }

    struct Case: Decodable, Sendable, CustomTestStringConvertible {
        var name: String
        /// The bytes as a latin-1 string: one code point per byte.
        var text: String
        var h11: Reading
        var llhttp: Reading

        var bytes: [UInt8] { text.unicodeScalars.map { UInt8($0.value) } }
        var testDescription: String { name }

        enum CodingKeys: String, CodingKey { case name, text = "bytes", h11, llhttp }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            name = try container.decode(String.self, forKey: .name)
            text = try container.decode(String.self, forKey: .text)
            h11 = try container.decode(Reading.self, forKey: .h11)
            // "same": llhttp read the bytes exactly as h11 did.
            if let same = try? container.decode(String.self, forKey: .llhttp), same == "same" {
                llhttp = h11
            } else {
                llhttp = try container.decode(Reading.self, forKey: .llhttp)
            }
        }
    }

    /// How a parser read a case: the requests it read completely, and how the bytes ended.
    struct Reading: Decodable, Sendable, Equatable, CustomStringConvertible {
        enum End: String, Decodable, Sendable {
            /// Every byte belongs to a complete request.
            case accept
            /// The request after `messages` is refused.
            case reject
            /// The request after `messages` needs more bytes.
            case incomplete
            /// The last request switched protocols (Upgrade, CONNECT): the rest is a tunnel, not requests.
            case opaque
        }

        var messages: [Message]
        var end: End
        var error: String?

        var description: String {
            "\(messages.count) request(s) then \(end.rawValue)" + (error.map { " (\($0))" } ?? "")
        }
    }

    struct Message: Decodable, Sendable, Equatable, CustomStringConvertible {
        var method: String
        var target: String
        var headers: [[String]]
        /// Bytes of body data (chunk data for a chunked body).
        var body: Int
        /// Bytes of the whole request: head, body and chunked framing.
        var length: Int

        var description: String {
            "\(method) \(target), \(headers.count) fields \(headers), body \(body), \(length) bytes"
        }

        /// Field values compared as the references report them: h11 lower-cases Transfer-Encoding values.
        func sameRequest(as other: Message) -> Bool {
            guard method == other.method, target == other.target, body == other.body, length == other.length,
                headers.count == other.headers.count
            else { return false }
            return zip(headers, other.headers).allSatisfy { mine, theirs in
                guard mine.count == 2, theirs.count == 2, mine[0] == theirs[0] else { return false }
                if mine[0].lowercased() == "transfer-encoding" { return mine[1].lowercased() == theirs[1].lowercased() }
                return mine[1] == theirs[1]
            }
        }
    }

    static let corpus: Corpus = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/http-differential.json")
        do {
            return try JSONDecoder().decode(Corpus.self, from: Data(contentsOf: url))
        } catch {
            fatalError("cannot read the differential corpus at \(url.path): \(error)")
        }
    }()

    // MARK: socket-proxy's reading

    /// Reads the bytes as the proxy does, request after request: head, body framing, target normalisation.
    static func read(_ bytes: [UInt8]) -> Reading {
        var messages: [Message] = []
        var offset = 0
        while offset < bytes.count {
            let rest = Array(bytes[offset...])
            var parser = RequestHeadParser()
            let head: RequestHead
            switch rest.withUnsafeBytes({ parser.parse($0) }) {
            case .failed(let error): return Reading(messages: messages, end: .reject, error: "\(error)")
            case .needMoreBytes: return Reading(messages: messages, end: .incomplete)
            case .complete(let complete): head = complete
            }
            if let refusal = refusedTarget(rest, head) {
                return Reading(messages: messages, end: .reject, error: "target: \(refusal)")
            }
            var message = Message(
                method: latin1(rest[head.methodBytes]), target: latin1(rest[head.target]), headers: [], body: 0,
                length: head.headEnd)
            rest.withUnsafeBytes { raw in
                head.forEachField(in: raw) { name, value in
                    message.headers.append([latin1(rest[name]), latin1(rest[value])])
                }
            }
            switch head.framing {
            case .none, .untilClose:
                break
            case .length(let length):
                guard UInt64(rest.count - head.headEnd) >= length else {
                    return Reading(messages: messages, end: .incomplete)
                }
                message.body = Int(length)
                message.length += Int(length)
            case .chunked:
                switch decodeChunked(rest[head.headEnd...]) {
                case .failure(let error): return Reading(messages: messages, end: .reject, error: "\(error)")
                case .success(nil): return Reading(messages: messages, end: .incomplete)
                case .success(let body?):
                    message.body = body.data
                    message.length += body.length
                }
            }
            messages.append(message)
            if head.upgrade || head.method == .connect {
                return Reading(messages: messages, end: .opaque)
            }
            offset += message.length
        }
        return Reading(messages: messages, end: .accept)
    }

    /// A chunked body as the relay decodes it (data skipped, framing fed a byte at a time): its length and data
    /// length when complete, nil when it needs more bytes.
    static func decodeChunked(_ bytes: ArraySlice<UInt8>) -> Result<(length: Int, data: Int)?, HTTPParseError> {
        var decoder = ChunkedDecoder()
        var index = bytes.startIndex
        var data = 0
        while index < bytes.endIndex && !decoder.isComplete {
            let due = decoder.dataRemaining
            if due > 0 {
                let count = min(Int(clamping: due), bytes.endIndex - index)
                decoder.skipData(UInt64(count))
                data += count
                index += count
                continue
            }
            switch bytes[index...index].withUnsafeBytes({ decoder.consume($0) }) {
            case .success(let used): index += used
            case .failure(let error): return .failure(error)
            }
        }
        return .success(decoder.isComplete ? (index - bytes.startIndex, data) : nil)
    }

    static func refusedTarget(_ bytes: [UInt8], _ head: RequestHead) -> TargetError? {
        let target = Array(bytes[head.target])
        var scratch = [UInt8](repeating: 0, count: target.count)
        let result = target.withUnsafeBytes { raw in
            scratch.withUnsafeMutableBytes { RequestTarget.parse(raw, scratch: $0) }
        }
        if case .failure(let error) = result { return error }
        return nil
    }

    static func latin1(_ bytes: ArraySlice<UInt8>) -> String {
        String(String.UnicodeScalarView(bytes.map { Unicode.Scalar($0) }))
    }

    // MARK: Comparing

    /// A rejection by a reference that socket-proxy does not share, on purpose. Each is allowed by RFC 9110/9112,
    /// and in each the two readings cannot frame the bytes differently.
    enum KnownDifference: String, CaseIterable {
        /// llhttp knows a fixed table of methods and refuses other tokens (`HPE_INVALID_METHOD`); RFC 9110 §9
        /// allows any token, and so do dockerd and socket-proxy (the policy decides on the methods it knows).
        case methodOutsideLlhttpTable = "llhttp refuses methods outside its table"
        /// RFC 9112 §7.1.1 allows BWS around the ";" and "=" of a chunk extension ("5 ;a", "5; a=b"); llhttp
        /// refuses all of it and h11 the BWS before ";". The chunk-size line still ends at the first CRLF with the
        /// same size in every reading.
        case whitespaceInChunkExtension = "BWS in a chunk extension"
        /// A Content-Length or Transfer-Encoding value with HTAB as its OWS ("Content-Length:\t5"); RFC 9110 §5.6.3
        /// makes HTAB whitespace like SP, and Go trims it, but llhttp's strict mode refuses it.
        case tabAroundFramingValue = "HTAB around a Content-Length or Transfer-Encoding value"

        /// The known difference that explains `reference` refusing `request`, if one does.
        static func explaining(_ error: String?, reference: String, request: ArraySlice<UInt8>) -> KnownDifference? {
            let error = error ?? ""
            let lines = Self.lines(request)
            if reference == "llhttp" && error.hasPrefix("HPE_INVALID_METHOD") {
                return .methodOutsideLlhttpTable
            }
            let chunkError =
                reference == "llhttp"
                ? error.hasPrefix("HPE_INVALID_CHUNK_SIZE") || error.hasPrefix("HPE_STRICT Invalid character in chunk")
                : error.hasPrefix("illegal chunk header")
            if chunkError && lines.contains(where: isChunkSizeLineWithWhitespace) {
                return .whitespaceInChunkExtension
            }
            let framingError =
                error.hasPrefix("HPE_INVALID_CONTENT_LENGTH") || error.hasPrefix("HPE_INVALID_TRANSFER_ENCODING")
            if reference == "llhttp" && framingError && lines.contains(where: isFramingFieldWithTab) {
                return .tabAroundFramingValue
            }
            return nil
        }

        /// The CRLF-separated lines of a request, head and body alike.
        static func lines(_ request: ArraySlice<UInt8>) -> [ArraySlice<UInt8>] {
            request.split(separator: 0x0A, omittingEmptySubsequences: false).map {
                $0.last == 0x0D ? $0.dropLast() : $0
            }
        }

        /// "HEXDIG+" then an extension with SP or HTAB in it.
        static func isChunkSizeLineWithWhitespace(_ line: ArraySlice<UInt8>) -> Bool {
            let afterDigits = line.drop(while: \.isHexDigit)
            guard afterDigits.count < line.count, afterDigits.contains(UInt8(ascii: ";")) else { return false }
            return afterDigits.contains(0x20) || afterDigits.contains(0x09)
        }

        static func isFramingFieldWithTab(_ line: ArraySlice<UInt8>) -> Bool {
            let lowered = String(decoding: line, as: UTF8.self).lowercased()
            return (lowered.hasPrefix("content-length:") || lowered.hasPrefix("transfer-encoding:"))
                && line.contains(0x09)
        }
    }

    /// What comparing one reading with a reference's gave.
    enum Outcome: Equatable {
        case agree
        /// socket-proxy refused (or waits on) what the reference accepts: allowed.
        case stricter
        case known(KnownDifference)
        case mismatch(String)
    }

    static func compare(ours: Reading, theirs: Reading, reference: String, bytes: [UInt8]) -> Outcome {
        let shared = min(ours.messages.count, theirs.messages.count)
        var offset = 0
        for index in 0..<shared {
            guard ours.messages[index].sameRequest(as: theirs.messages[index]) else {
                return .mismatch(
                    "request \(index) reads as \(ours.messages[index]); \(reference) reads \(theirs.messages[index])")
            }
            offset += ours.messages[index].length
        }
        if ours.end == .opaque && ours.messages.count <= theirs.messages.count
            || theirs.end == .opaque && theirs.messages.count <= ours.messages.count
        {
            // One side switched protocols: what follows is not requests for it.
            return ours == theirs ? .agree : .stricter
        }
        if ours.messages.count > shared {
            // We read request `shared` completely; the reference did not.
            let request = bytes[offset..<offset + ours.messages[shared].length]
            switch theirs.end {
            case .reject:
                if let known = KnownDifference.explaining(theirs.error, reference: reference, request: request) {
                    return .known(known)
                }
                return .mismatch(
                    "\(reference) refuses request \(shared) (\(theirs.error ?? "")), socket-proxy accepts it")
            case .incomplete:
                return .mismatch("\(reference) needs more bytes for request \(shared), socket-proxy read it whole")
            case .accept, .opaque:
                return .mismatch("\(reference) read \(theirs.messages.count) request(s), socket-proxy more")
            }
        }
        if theirs.messages.count > shared {
            // The reference read request `shared` completely; we did not.
            switch ours.end {
            case .reject: return .stricter
            case .incomplete:
                return .mismatch("socket-proxy needs more bytes for request \(shared), \(reference) read it whole")
            case .accept, .opaque:
                return .mismatch("socket-proxy read \(ours.messages.count) request(s), \(reference) more")
            }
        }
        switch (ours.end, theirs.end) {
        case (.accept, .accept), (.reject, .reject), (.incomplete, .incomplete):
            return .agree
        case (.reject, _), (.incomplete, .reject):
            return .stricter
        case (.accept, .reject):
            let request = bytes[offset...]
            if let known = KnownDifference.explaining(theirs.error, reference: reference, request: request) {
                return .known(known)
            }
            return .mismatch("\(reference) refuses bytes (\(theirs.error ?? "")) that socket-proxy reads as requests")
        default:
            return .mismatch("socket-proxy ends \(ours.end.rawValue), \(reference) ends \(theirs.end.rawValue)")
        }
    }

    // MARK: Tests

    @Test func theCorpusHasThousandsOfCasesFromBothReferences() {
        let corpus = Self.corpus
        #expect(corpus.cases.count >= 3000)
        #expect(corpus.cases.contains { $0.name.hasPrefix("gen/") })
        #expect(corpus.cases.contains { $0.name.hasPrefix("mut/") })
        #expect(corpus.references.keys.sorted() == ["h11", "llhttp"])
    }

    @Test func noReferenceRejectsWhatSocketProxyAcceptsAndBothReadAcceptedRequestsAlike() {
        var tally: [String: Int] = [:]
        var mismatches: [String] = []
        for item in Self.corpus.cases {
            let bytes = item.bytes
            let ours = Self.read(bytes)
            tally["socket-proxy \(ours.end.rawValue)", default: 0] += 1
            for (reference, theirs) in [("h11", item.h11), ("llhttp", item.llhttp)] {
                let outcome = Self.compare(ours: ours, theirs: theirs, reference: reference, bytes: bytes)
                switch outcome {
                case .agree: tally["\(reference): agree", default: 0] += 1
                case .stricter: tally["\(reference): socket-proxy stricter", default: 0] += 1
                case .known(let difference): tally["\(reference): known: \(difference.rawValue)", default: 0] += 1
                case .mismatch(let why):
                    mismatches.append(
                        "\(item.name) [\(reference)]: \(why); socket-proxy: \(ours); bytes: \(item.text.debugDescription)"
                    )
                }
            }
        }
        let summary = tally.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
        #expect(
            mismatches.isEmpty,
            "\(mismatches.count) mismatches (\(summary)):\n\(mismatches.prefix(40).joined(separator: "\n"))")
        // Keep the tally visible in the test log.
        print("HTTPDifferentialTests: \(Self.corpus.cases.count) cases; \(summary)")
    }
}

extension UInt8 {
    fileprivate var isHexDigit: Bool {
        (0x30...0x39).contains(self) || (0x41...0x46).contains(self) || (0x61...0x66).contains(self)
    }
}

// The fuzz corpora replayed as unit tests: seeds (Fuzz/Corpus) and every input a fuzz target ever failed on
// (Fuzz/Regressions), each fed whole and split at every byte, through the public API only.
import Foundation
import SocketProxyCore
import Testing

/// `swift test` runs every file of `Fuzz/Corpus/<target>/` and `Fuzz/Regressions/<target>/` through the parser that
/// target fuzzes, so an input that once broke an invariant keeps being checked without libFuzzer. To add a finding:
/// copy the crash file from `.build-fuzz-libfuzzer/artifacts/<target>/` into `Fuzz/Regressions/<target>/` under a name that
/// says what broke, and add a test below that states the exact expected answer for it.
///
/// The checks are the fuzz targets' central invariants in their strongest form (every split point, not one):
/// feeding a head or a chunked body in two pieces never changes the answer, and normalising a target is a fixed
/// point. The other invariants live in the targets (`Fuzz/Targets/*/main.swift`).
struct FuzzRegressionTests {
    /// The repository's `Fuzz/` folder, found from this file.
    static let fuzzRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fuzz")

    /// Every input of a fuzz target: its seeds, then its regressions.
    static func inputs(_ target: String) -> [Input] {
        ["Corpus", "Regressions"].flatMap { folder -> [Input] in
            let directory = fuzzRoot.appendingPathComponent(folder).appendingPathComponent(target)
            let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
            return names.sorted().compactMap { name in
                guard let data = FileManager.default.contents(atPath: directory.appendingPathComponent(name).path)
                else { return nil }
                return Input(name: "\(folder)/\(target)/\(name)", bytes: Array(data))
            }
        }
    }

    struct Input: Sendable, CustomTestStringConvertible {
        var name: String
        var bytes: [UInt8]
        var testDescription: String { name }
    }

    @Test func everyTargetHasASeedCorpus() {
        for target in ["request-head", "response-head", "chunked-body", "request-target", "body-inspector"] {
            #expect(Self.inputs(target).count >= 10, "Fuzz/Corpus/\(target) is missing or small")
        }
    }

    // MARK: Request and response heads

    static func parseRequest(_ bytes: [UInt8], cut: Int?) -> HeadParseResult<RequestHead> {
        var parser = RequestHeadParser()
        if let cut {
            let first = Array(bytes[..<cut]).withUnsafeBytes { parser.parse($0) }
            if first != .needMoreBytes { return first }
        }
        return bytes.withUnsafeBytes { parser.parse($0) }
    }

    @Test(arguments: inputs("request-head"))
    func aRequestHeadGivesOneAnswerWhereverItIsSplit(_ input: Input) {
        let whole = Self.parseRequest(input.bytes, cut: nil)
        for cut in 0..<input.bytes.count {
            let split = Self.parseRequest(input.bytes, cut: cut)
            #expect(split == whole, "cut at \(cut)")
            if split != whole { break }
        }
        if case .complete(let head) = whole {
            #expect(head.headEnd <= input.bytes.count)
            #expect(Self.parseRequest(Array(input.bytes[..<head.headEnd]), cut: nil) == whole)
        }
    }

    static func parseResponse(_ bytes: [UInt8], cut: Int?, method: HTTPMethod) -> HeadParseResult<ResponseHead> {
        var parser = ResponseHeadParser()
        if let cut {
            let first = Array(bytes[..<cut]).withUnsafeBytes { parser.parse($0, requestMethod: method) }
            if first != .needMoreBytes { return first }
        }
        return bytes.withUnsafeBytes { parser.parse($0, requestMethod: method) }
    }

    @Test(arguments: inputs("response-head"))
    func aResponseHeadGivesOneAnswerWhereverItIsSplit(_ input: Input) {
        for method in [HTTPMethod.get, .head] {
            let whole = Self.parseResponse(input.bytes, cut: nil, method: method)
            for cut in 0..<input.bytes.count {
                let split = Self.parseResponse(input.bytes, cut: cut, method: method)
                #expect(split == whole, "\(method), cut at \(cut)")
                if split != whole { break }
            }
        }
    }

    // MARK: Chunked bodies

    /// Consumed bytes and completion, or the error.
    static func decode(_ bytes: [UInt8], cut: Int?) -> Result<(Int, Bool), HTTPParseError> {
        var decoder = ChunkedDecoder()
        var consumed = 0
        for piece in cut.map({ [bytes[..<$0], bytes[$0...]] }) ?? [bytes[...]] {
            switch Array(piece).withUnsafeBytes({ decoder.consume($0) }) {
            case .failure(let error): return .failure(error)
            case .success(let count): consumed += count
            }
            if decoder.isComplete { break }
        }
        return .success((consumed, decoder.isComplete))
    }

    @Test(arguments: inputs("chunked-body"))
    func aChunkedBodyGivesOneAnswerWhereverItIsSplit(_ input: Input) {
        let whole = Self.decode(input.bytes, cut: nil)
        for cut in 0..<input.bytes.count {
            let split = Self.decode(input.bytes, cut: cut)
            let same: Bool
            switch (whole, split) {
            case (.failure(let a), .failure(let b)): same = a == b
            case (.success(let a), .success(let b)): same = a == b
            default: same = false
            }
            #expect(same, "cut at \(cut): \(split), whole: \(whole)")
            if !same { break }
        }
        if case .success(let (consumed, _)) = whole {
            #expect(consumed <= input.bytes.count)
        }
    }

    // MARK: Request targets

    static func normalise(_ target: [UInt8]) -> (Result<RequestTarget, TargetError>, [UInt8]) {
        var scratch = [UInt8](repeating: 0, count: target.count)
        let result = target.withUnsafeBytes { raw in
            scratch.withUnsafeMutableBytes { RequestTarget.parse(raw, scratch: $0) }
        }
        return (result, scratch)
    }

    @Test(arguments: inputs("request-target"))
    func aNormalisedPathIsCleanAndAFixedPoint(_ input: Input) {
        let (result, scratch) = Self.normalise(input.bytes)
        guard case .success(let target) = result else { return }
        let path = Array(scratch[target.path])
        #expect(path.first == UInt8(ascii: "/"))
        #expect(!path.contains { $0 < 0x20 || $0 == 0x7F })
        let text = String(decoding: path, as: UTF8.self)
        #expect(!text.contains("//") && !text.contains("/./") && !text.contains("/../"))
        #expect(!text.hasSuffix("/.") && !text.hasSuffix("/..") && (text == "/" || !text.hasSuffix("/")))
        // Re-encoded (only "%", "?" and "#" escaped), the decoded target normalises to the same path.
        let decodedEnd =
            target.version != nil && target.path == 0..<1 ? target.version!.upperBound : target.path.upperBound
        var encoded: [UInt8] = []
        for byte in scratch[..<decodedEnd] {
            if byte == UInt8(ascii: "%") || byte == UInt8(ascii: "?") || byte == UInt8(ascii: "#") {
                encoded += Array(String(format: "%%%02X", byte).utf8)
            } else {
                encoded.append(byte)
            }
        }
        let (again, againScratch) = Self.normalise(encoded)
        guard case .success(let second) = again else {
            Issue.record("the re-encoded path is refused: \(again)")
            return
        }
        #expect(Array(againScratch[second.path]) == path)
    }

    // MARK: Body inspector

    @Test(arguments: inputs("body-inspector"))
    func anAcceptedBodyStaysAcceptedWithWhiteSpaceAndIsRefusedCut(_ input: Input) {
        var contentType: String? = "application/json"
        var body = input.bytes[...]
        if let nul = input.bytes.prefix(64).firstIndex(of: 0) {
            contentType = nul == 0 ? nil : String(decoding: input.bytes[..<nul], as: UTF8.self)
            body = input.bytes[(nul + 1)...]
        }
        func findings(_ bytes: [UInt8]) -> Result<[InspectionFinding], InspectionError> {
            bytes.withUnsafeBytes { BodyInspector.findings($0, contentType: contentType, endpoint: .containerCreate) }
        }
        guard case .success(let list) = findings(Array(body)), !body.isEmpty else { return }
        #expect(findings(Array(" \n".utf8) + body + Array("\t".utf8)) == .success(list))
        #expect((try? findings(Array(body) + Array("}".utf8)).get()) == nil)
        if let last = body.lastIndex(where: { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }),
            let first = body.first(where: { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }),
            first == UInt8(ascii: "{") || first == UInt8(ascii: "[")
        {
            for cut in body.startIndex + 1...last {
                #expect((try? findings(Array(body[..<cut])).get()) == nil, "accepted when cut at \(cut)")
            }
        }
    }
}

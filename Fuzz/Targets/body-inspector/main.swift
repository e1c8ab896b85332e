// Fuzz target: BodyInspector, the JSON reading of request bodies with Go's semantics, and its verdicts.
import SocketProxyCore

/// The input is a request body; when a NUL byte comes within its first 64 bytes, what precedes it is the
/// Content-Type value instead of `application/json` (a JSON body cannot hold a raw NUL). The endpoint comes from
/// the knobs. Invariants, each true by design:
/// - The inspector never accepts a body that is not one RFC 8259 JSON text in well-formed UTF-8 (an independent
///   validator decides), nor one nested deeper than 64 levels.
/// - An accepted body stays accepted, with the same findings, with JSON white space around it; it is refused with
///   any other byte after it ("}" here) and, when it is an object or an array, cut anywhere before its last byte.
/// - Verdicts follow the findings: no findings is allow; under the strict policy the first finding denies; under
///   a policy that allows every kind found, the body is allowed; an uninspectable body is 400 or 415 under both.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBodyInspector(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    var knobs = FuzzKnobs(input)
    let endpoint = InspectedEndpoint.allCases[knobs.next(InspectedEndpoint.allCases.count)]
    var contentType: String? = "application/json"
    var body = input
    if let nul = input.prefix(64).firstIndex(of: 0) {
        contentType = nul == 0 ? nil : String(decoding: input[..<nul], as: UTF8.self)
        body = UnsafeRawBufferPointer(rebasing: input[(nul + 1)...])
    }
    let found = findings(body, contentType, endpoint)

    switch found {
    case .failure(let error):
        require(error.status == 400 || error.status == 415, "status \(error.status) for \(error.reason)")
        require(
            verdict(body, contentType, endpoint, .strict) == .invalid(status: error.status, reason: error.reason),
            "an uninspectable body got another verdict")
    case .success(let list):
        checkVerdicts(list, body, contentType, endpoint)
        guard !body.isEmpty else { break }
        let json = JSONValidator.validate(body)
        require(json.isValid, "accepted a body the JSON validator calls \(json): \(show(body))")
        require(json.depth <= 64, "accepted a body nested \(json.depth) deep")
        checkEdits(list, body, contentType, endpoint, &knobs)
    }
    return 0
}

private func findings(
    _ body: UnsafeRawBufferPointer, _ contentType: String?, _ endpoint: InspectedEndpoint
) -> Result<[InspectionFinding], InspectionError> {
    withExactCopy(body) { BodyInspector.findings($0, contentType: contentType, endpoint: endpoint) }
}

private func verdict(
    _ body: UnsafeRawBufferPointer, _ contentType: String?, _ endpoint: InspectedEndpoint, _ policy: InspectionPolicy
) -> InspectionVerdict {
    withExactCopy(body) { BodyInspector.inspect($0, contentType: contentType, endpoint: endpoint, policy: policy) }
}

private func checkVerdicts(
    _ list: [InspectionFinding], _ body: UnsafeRawBufferPointer, _ contentType: String?, _ endpoint: InspectedEndpoint
) {
    let strict = verdict(body, contentType, endpoint, .strict)
    if let first = list.first {
        require(strict == .deny(first, detail: first.detail), "strict verdict \(strict), first finding \(first)")
    } else {
        require(strict == .allow, "no findings, strict verdict \(strict)")
    }
    var everything = InspectionPolicy()
    everything.allowPrivileged = true
    everything.allowedBindPaths = ["/"]
    everything.allowHostNamespaces = true
    everything.allowDevices = true
    everything.allowAllCapabilities = true
    everything.allowUnconfined = true
    everything.allowSysctls = true
    everything.allowCgroupParent = true
    everything.allowVolumesFrom = true
    for finding in list {
        if case .runtime(let name) = finding.kind { everything.allowedRuntimes.insert(name) }
        require(BodyInspector.allows(finding, policy: everything), "the permissive policy refuses \(finding)")
        require(!BodyInspector.allows(finding, policy: .strict), "the strict policy allows \(finding)")
    }
    let permissive = verdict(body, contentType, endpoint, everything)
    require(permissive == .allow, "a policy allowing every finding gives \(permissive)")
}

private func checkEdits(
    _ list: [InspectionFinding], _ body: UnsafeRawBufferPointer, _ contentType: String?,
    _ endpoint: InspectedEndpoint, _ knobs: inout FuzzKnobs
) {
    let whitespace: [[UInt8]] = [[0x20], [0x09], [0x0A], [0x0D], [0x20, 0x0D, 0x0A, 0x09]]
    let padded = whitespace[knobs.next(whitespace.count)] + Array(body) + whitespace[knobs.next(whitespace.count)]
    let paddedResult = padded.withUnsafeBytes { findings($0, contentType, endpoint) }
    require(paddedResult == .success(list), "with white space around it: \(paddedResult), without: \(list)")

    let extended = Array(body) + [UInt8(ascii: "}")]
    let extendedResult = extended.withUnsafeBytes { findings($0, contentType, endpoint) }
    require(extendedResult.isFailure, "accepted with a \"}\" after it: \(show(body))")

    let first = body.firstIndex { !JSONValidator.isWhitespace($0) }!
    let last = body.lastIndex { !JSONValidator.isWhitespace($0) }!
    guard body[first] == UInt8(ascii: "{") || body[first] == UInt8(ascii: "[") else { return }
    let cut = 1 + knobs.next(last)
    let truncated = findings(UnsafeRawBufferPointer(rebasing: body[0..<cut]), contentType, endpoint)
    require(truncated.isFailure, "accepted when cut to \(cut) of \(body.count) bytes: \(show(body))")
}

extension Result {
    fileprivate var isFailure: Bool {
        if case .failure = self { return true }
        return false
    }
}

/// An RFC 8259 validator written for this target alone: grammar, string escapes (lone surrogates allowed, as the
/// RFC's grammar allows them), and well-formed UTF-8 (Unicode Table 3-7). It also measures the nesting depth.
enum JSONValidator {
    struct Outcome: CustomStringConvertible {
        var isValid: Bool
        var depth: Int
        var reason: String
        var description: String { isValid ? "valid, depth \(depth)" : "invalid: \(reason)" }
    }

    static func isWhitespace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D }

    static func validate(_ bytes: UnsafeRawBufferPointer) -> Outcome {
        var reader = Reader(bytes: bytes)
        do throws(Invalid) {
            reader.skipWhitespace()
            try reader.value(depth: 1)
            reader.skipWhitespace()
            guard reader.index == bytes.count else { throw Invalid(reason: "data after the value") }
            return Outcome(isValid: true, depth: reader.maxDepth, reason: "")
        } catch {
            return Outcome(isValid: false, depth: reader.maxDepth, reason: "\(error.reason) at \(reader.index)")
        }
    }

    struct Invalid: Error {
        var reason: String
    }

    private struct Reader {
        let bytes: UnsafeRawBufferPointer
        var index = 0
        var maxDepth = 0

        var current: UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func skipWhitespace() {
            while let byte = current, JSONValidator.isWhitespace(byte) { index += 1 }
        }

        mutating func expect(_ byte: UInt8) throws(Invalid) {
            guard current == byte else { throw Invalid(reason: "expected \(Character(Unicode.Scalar(byte)))") }
            index += 1
        }

        mutating func value(depth: Int) throws(Invalid) {
            guard depth <= 1000 else { throw Invalid(reason: "too deep for the validator") }
            guard let byte = current else { throw Invalid(reason: "end of input") }
            switch byte {
            case UInt8(ascii: "{"):
                maxDepth = max(maxDepth, depth)
                index += 1
                skipWhitespace()
                if current == UInt8(ascii: "}") {
                    index += 1
                    return
                }
                while true {
                    skipWhitespace()
                    try string()
                    skipWhitespace()
                    try expect(UInt8(ascii: ":"))
                    skipWhitespace()
                    try value(depth: depth + 1)
                    skipWhitespace()
                    if current == UInt8(ascii: ",") {
                        index += 1
                        continue
                    }
                    try expect(UInt8(ascii: "}"))
                    return
                }
            case UInt8(ascii: "["):
                maxDepth = max(maxDepth, depth)
                index += 1
                skipWhitespace()
                if current == UInt8(ascii: "]") {
                    index += 1
                    return
                }
                while true {
                    skipWhitespace()
                    try value(depth: depth + 1)
                    skipWhitespace()
                    if current == UInt8(ascii: ",") {
                        index += 1
                        continue
                    }
                    try expect(UInt8(ascii: "]"))
                    return
                }
            case UInt8(ascii: "\""):
                try string()
            case UInt8(ascii: "t"):
                try word("true")
            case UInt8(ascii: "f"):
                try word("false")
            case UInt8(ascii: "n"):
                try word("null")
            default:
                try number()
            }
        }

        mutating func word(_ text: String) throws(Invalid) {
            for byte in text.utf8 { try expect(byte) }
        }

        mutating func digits() -> Int {
            let start = index
            while let byte = current, (0x30...0x39).contains(byte) { index += 1 }
            return index - start
        }

        mutating func number() throws(Invalid) {
            if current == UInt8(ascii: "-") { index += 1 }
            if current == UInt8(ascii: "0") {
                index += 1
            } else {
                guard let byte = current, (0x31...0x39).contains(byte) else { throw Invalid(reason: "not a value") }
                _ = digits()
            }
            if current == UInt8(ascii: ".") {
                index += 1
                guard digits() > 0 else { throw Invalid(reason: "no fraction digits") }
            }
            if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
                index += 1
                if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { index += 1 }
                guard digits() > 0 else { throw Invalid(reason: "no exponent digits") }
            }
        }

        mutating func string() throws(Invalid) {
            try expect(UInt8(ascii: "\""))
            while true {
                guard let byte = current else { throw Invalid(reason: "unterminated string") }
                switch byte {
                case UInt8(ascii: "\""):
                    index += 1
                    return
                case UInt8(ascii: "\\"):
                    index += 1
                    guard let escaped = current else { throw Invalid(reason: "unterminated escape") }
                    index += 1
                    switch escaped {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                        UInt8(ascii: "f"),
                        UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                        break
                    case UInt8(ascii: "u"):
                        for _ in 0..<4 {
                            guard let digit = current, digit.isHexDigit else { throw Invalid(reason: "bad \\u escape") }
                            index += 1
                        }
                    default:
                        throw Invalid(reason: "bad escape")
                    }
                case 0x00..<0x20:
                    throw Invalid(reason: "control byte in a string")
                case 0x00..<0x80:
                    index += 1
                default:
                    try utf8Sequence()
                }
            }
        }

        /// One well-formed UTF-8 sequence of 2 to 4 bytes, Unicode Table 3-7.
        mutating func utf8Sequence() throws(Invalid) {
            let lead = bytes[index]
            let ranges: [ClosedRange<UInt8>]
            switch lead {
            case 0xC2...0xDF: ranges = [0x80...0xBF]
            case 0xE0: ranges = [0xA0...0xBF, 0x80...0xBF]
            case 0xE1...0xEC, 0xEE...0xEF: ranges = [0x80...0xBF, 0x80...0xBF]
            case 0xED: ranges = [0x80...0x9F, 0x80...0xBF]
            case 0xF0: ranges = [0x90...0xBF, 0x80...0xBF, 0x80...0xBF]
            case 0xF1...0xF3: ranges = [0x80...0xBF, 0x80...0xBF, 0x80...0xBF]
            case 0xF4: ranges = [0x80...0x8F, 0x80...0xBF, 0x80...0xBF]
            default: throw Invalid(reason: "invalid UTF-8 lead byte")
            }
            index += 1
            for range in ranges {
                guard let byte = current, range.contains(byte) else { throw Invalid(reason: "invalid UTF-8") }
                index += 1
            }
        }
    }
}

extension UInt8 {
    fileprivate var isHexDigit: Bool {
        (0x30...0x39).contains(self) || (0x41...0x46).contains(self) || (0x61...0x66).contains(self)
    }
}

// Request-target normalisation checked against an independent decoder and the properties of a normalised path.
import SocketProxyCore

enum TargetOracle {
    /// Normalises `target` and traps unless the answer matches the reference reading and, when it is a path, the
    /// path is one the daemon routes as is: it starts with "/", has no "//", no "." or ".." segment, no control
    /// byte, no trailing "/" (except the root), and normalising its re-encoding gives it back unchanged.
    @discardableResult
    static func check(_ target: UnsafeRawBufferPointer) -> Result<RequestTarget, TargetError> {
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: target.count, alignment: 1)
        defer { scratch.deallocate() }
        let result = withExactCopy(target) { RequestTarget.parse($0, scratch: scratch) }
        let expected = reference(target)
        switch (result, expected) {
        case (.failure(let error), .failure(let referenceError)):
            require(error == referenceError, "target \(show(target)): \(error), the reference says \(referenceError)")
        case (.success(let parsed), .success(let reading)):
            let decodedEnd =
                parsed.version != nil && parsed.path == 0..<1 ? parsed.version!.upperBound : parsed.path.upperBound
            let decoded = Array(scratch[0..<decodedEnd])
            require(
                decoded == reading.decoded,
                "target \(show(target)): decoded \(decoded), the reference \(reading.decoded)")
            require(parsed.query == reading.query, "target \(show(target)): query \(String(describing: parsed.query))")
            checkProperties(parsed, scratch: UnsafeRawBufferPointer(scratch), target: target)
            checkIdempotent(decoded, parsed: parsed, scratch: UnsafeRawBufferPointer(scratch))
        default:
            require(false, "target \(show(target)): \(result), the reference says \(expected)")
        }
        return result
    }

    private static let slash = UInt8(ascii: "/")
    private static let dot = UInt8(ascii: ".")

    private static func checkProperties(
        _ parsed: RequestTarget, scratch: UnsafeRawBufferPointer, target: UnsafeRawBufferPointer
    ) {
        let path = Array(scratch[parsed.path])
        let text = show(UnsafeRawBufferPointer(rebasing: scratch[parsed.path]))
        require(path.first == slash, "path \(text) does not start with /")
        require(!path.contains(where: { $0 < 0x20 || $0 == 0x7F }), "path \(text) has a control byte")
        require(path.count == 1 || path.last != slash, "path \(text) ends with /")
        for index in path.indices.dropLast() where path[index] == slash {
            require(path[index + 1] != slash, "path \(text) has //")
        }
        for segment in path.split(separator: slash, omittingEmptySubsequences: false).dropFirst() {
            require(
                !segment.elementsEqual([dot]) && !segment.elementsEqual([dot, dot]), "path \(text) has a dot segment")
        }
        if let version = parsed.version {
            let digits = Array(scratch[version])
            require(
                version.lowerBound >= 2 && scratch[version.lowerBound - 1] == UInt8(ascii: "v")
                    && scratch[version.lowerBound - 2] == slash,
                "version \(digits) does not follow /v")
            let parts = digits.split(separator: dot, omittingEmptySubsequences: false)
            require(
                (1...2).contains(parts.count)
                    && parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy { (0x30...0x39).contains($0) } }),
                "version \(digits) is not <digits>[.<digits>]")
        }
        if let query = parsed.query {
            require(
                query.upperBound == target.count && query.lowerBound >= 1
                    && target[query.lowerBound - 1] == UInt8(ascii: "?"),
                "query \(query) is not what follows the first ?")
            require(
                !target[..<(query.lowerBound - 1)].contains(UInt8(ascii: "?")), "query does not start at the first ?")
        }
        require(!target.contains(UInt8(ascii: "#")), "a target with # was accepted")
    }

    /// Re-encoding the decoded path (escaping only "%", "?" and "#") and normalising again gives the same path
    /// and version: normalising is a fixed point, nothing is decoded twice.
    private static func checkIdempotent(_ decoded: [UInt8], parsed: RequestTarget, scratch: UnsafeRawBufferPointer) {
        var encoded: [UInt8] = []
        for byte in decoded {
            switch byte {
            case UInt8(ascii: "%"), UInt8(ascii: "?"), UInt8(ascii: "#"):
                encoded += Array("%\(byte < 16 ? "0" : "")\(String(byte, radix: 16))".utf8)
            default:
                encoded.append(byte)
            }
        }
        let again = UnsafeMutableRawBufferPointer.allocate(byteCount: encoded.count, alignment: 1)
        defer { again.deallocate() }
        let result = encoded.withUnsafeBytes { RequestTarget.parse($0, scratch: again) }
        guard case .success(let second) = result else {
            require(false, "re-encoded path \(encoded) is refused: \(result)")
            return
        }
        require(
            Array(again[second.path]) == Array(scratch[parsed.path]),
            "re-encoded path normalises to \(Array(again[second.path])), first \(Array(scratch[parsed.path]))")
        require(
            second.version.map { Array(again[$0]) } == parsed.version.map { Array(scratch[$0]) },
            "re-encoded path has another version")
        require(second.query == nil, "re-encoded path has a query")
    }

    struct Reading: Equatable {
        var decoded: [UInt8]
        var query: Range<Int>?
    }

    /// The target as the docs of ``RequestTarget`` describe it, written without its code: origin-form only, no
    /// "#", percent-decoded once, no controls, then the segments checked in order.
    static func reference(_ target: UnsafeRawBufferPointer) -> Result<Reading, TargetError> {
        let bytes = Array(target)
        guard bytes.first == slash else { return .failure(.notOriginForm) }
        if bytes.contains(UInt8(ascii: "#")) { return .failure(.fragment) }
        let questionMark = bytes.firstIndex(of: UInt8(ascii: "?"))
        let pathBytes = bytes[..<(questionMark ?? bytes.count)]
        var decoded: [UInt8] = []
        var index = pathBytes.startIndex
        while index < pathBytes.endIndex {
            var byte = pathBytes[index]
            if byte == UInt8(ascii: "%") {
                guard index + 2 < pathBytes.endIndex, let high = hex(pathBytes[index + 1]),
                    let low = hex(pathBytes[index + 2])
                else { return .failure(.invalidPercentEncoding) }
                byte = high * 16 + low
                index += 3
            } else {
                index += 1
            }
            if byte < 0x20 || byte == 0x7F { return .failure(.controlCharacter) }
            decoded.append(byte)
        }
        if decoded.count > 1 {
            let segments = decoded.dropFirst().split(separator: slash, omittingEmptySubsequences: false)
            for (position, segment) in segments.enumerated() {
                if segment.isEmpty { return .failure(.emptySegment) }
                if segment.elementsEqual([dot]) || segment.elementsEqual([dot, dot]) { return .failure(.dotSegment) }
                if position == 0 && looksLikeVersion(segment) && !isVersion(segment) {
                    return .failure(.invalidVersion)
                }
            }
        }
        return .success(Reading(decoded: decoded, query: questionMark.map { $0 + 1..<bytes.count }))
    }

    /// Mux's `v[0-9.]+`.
    private static func looksLikeVersion(_ segment: ArraySlice<UInt8>) -> Bool {
        segment.count >= 2 && segment.first == UInt8(ascii: "v")
            && segment.dropFirst().allSatisfy { $0 == dot || (0x30...0x39).contains($0) }
    }

    /// `v<digits>[.<digits>]`.
    private static func isVersion(_ segment: ArraySlice<UInt8>) -> Bool {
        let parts = segment.dropFirst().split(separator: dot, omittingEmptySubsequences: false)
        return (1...2).contains(parts.count) && parts.allSatisfy { !$0.isEmpty }
    }

    private static func hex(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x41...0x46: byte - 0x41 + 10
        case 0x61...0x66: byte - 0x61 + 10
        default: nil
        }
    }
}

// A strict RFC 8259 parser into JSONNode, refusing whatever Go's decoder would read differently.

/// Parses one JSON document, strictly.
///
/// Beyond RFC 8259 grammar it refuses what Go's `encoding/json` would silently repair or ignore, so the tree is
/// exactly what the daemon decodes: invalid UTF-8 (Go substitutes U+FFFD), lone UTF-16 surrogates in `\u` escapes
/// (likewise), data after the value (Go's `Decode` stops after one value), and nesting deeper than
/// ``maximumDepth``.
struct JSONParser {
    /// Nested arrays and objects allowed, the outermost counting as one. The deepest body the daemon takes for
    /// real (a service spec) nests about six.
    static let maximumDepth = 64

    private let bytes: [UInt8]
    private var index = 0

    private init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// The tree of `bytes`, which must hold exactly one JSON value with optional white space around it.
    static func parse(_ bytes: [UInt8]) throws(InspectionError) -> JSONNode {
        var parser = JSONParser(bytes: bytes)
        parser.skipWhitespace()
        let root = try parser.value(depth: 0)
        parser.skipWhitespace()
        if parser.index < bytes.count {
            throw .badRequest("invalid JSON: unexpected data after the JSON value at byte \(parser.index)")
        }
        return root
    }

    private static func error(_ what: String, at offset: Int) -> InspectionError {
        .badRequest("invalid JSON: \(what) at byte \(offset)")
    }

    private var current: UInt8? {
        index < bytes.count ? bytes[index] : nil
    }

    private mutating func skipWhitespace() {
        while let byte = current, byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D {
            index += 1
        }
    }

    private mutating func value(depth: Int) throws(InspectionError) -> JSONNode {
        let start = index
        guard let byte = current else { throw Self.error("unexpected end of the body", at: index) }
        switch byte {
        case UInt8(ascii: "{"):
            return JSONNode(offset: start, value: .object(try object(depth: depth + 1)))
        case UInt8(ascii: "["):
            return JSONNode(offset: start, value: .array(try array(depth: depth + 1)))
        case UInt8(ascii: "\""):
            return JSONNode(offset: start, value: .string(try string()))
        case UInt8(ascii: "t"):
            try literal("true")
            return JSONNode(offset: start, value: .bool(true))
        case UInt8(ascii: "f"):
            try literal("false")
            return JSONNode(offset: start, value: .bool(false))
        case UInt8(ascii: "n"):
            try literal("null")
            return JSONNode(offset: start, value: .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            try number()
            return JSONNode(offset: start, value: .number)
        default:
            throw Self.error("unexpected character \(Self.describe(byte))", at: index)
        }
    }

    private mutating func object(depth: Int) throws(InspectionError) -> [JSONMember] {
        if depth > Self.maximumDepth {
            throw .badRequest("invalid JSON: nested deeper than \(Self.maximumDepth) levels at byte \(index)")
        }
        index += 1
        var members: [JSONMember] = []
        skipWhitespace()
        if current == UInt8(ascii: "}") {
            index += 1
            return members
        }
        while true {
            skipWhitespace()
            guard current == UInt8(ascii: "\"") else { throw Self.error("expected a string key", at: index) }
            let key = try string()
            skipWhitespace()
            guard current == UInt8(ascii: ":") else { throw Self.error("expected ':' after an object key", at: index) }
            index += 1
            skipWhitespace()
            members.append(JSONMember(key: key, value: try value(depth: depth)))
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","):
                index += 1
            case UInt8(ascii: "}"):
                index += 1
                return members
            default:
                throw Self.error("expected ',' or '}' in an object", at: index)
            }
        }
    }

    private mutating func array(depth: Int) throws(InspectionError) -> [JSONNode] {
        if depth > Self.maximumDepth {
            throw .badRequest("invalid JSON: nested deeper than \(Self.maximumDepth) levels at byte \(index)")
        }
        index += 1
        var elements: [JSONNode] = []
        skipWhitespace()
        if current == UInt8(ascii: "]") {
            index += 1
            return elements
        }
        while true {
            skipWhitespace()
            elements.append(try value(depth: depth))
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","):
                index += 1
            case UInt8(ascii: "]"):
                index += 1
                return elements
            default:
                throw Self.error("expected ',' or ']' in an array", at: index)
            }
        }
    }

    private mutating func literal(_ word: String) throws(InspectionError) {
        let start = index
        for expected in word.utf8 {
            guard current == expected else { throw Self.error("invalid literal", at: start) }
            index += 1
        }
    }

    /// RFC 8259 §6: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    private mutating func number() throws(InspectionError) {
        let start = index
        if current == UInt8(ascii: "-") { index += 1 }
        if current == UInt8(ascii: "0") {
            index += 1
        } else if let byte = current, (UInt8(ascii: "1")...UInt8(ascii: "9")).contains(byte) {
            skipDigits()
        } else {
            throw Self.error("invalid number", at: start)
        }
        if current == UInt8(ascii: ".") {
            index += 1
            guard skipDigits() else { throw Self.error("invalid number", at: start) }
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            index += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { index += 1 }
            guard skipDigits() else { throw Self.error("invalid number", at: start) }
        }
    }

    /// Skips ASCII digits; whether there was at least one.
    @discardableResult
    private mutating func skipDigits() -> Bool {
        let start = index
        while let byte = current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
            index += 1
        }
        return index > start
    }

    /// A string from its opening quote: escapes decoded, UTF-8 validated, control characters refused.
    private mutating func string() throws(InspectionError) -> String {
        let open = index
        index += 1
        var decoded: [UInt8] = []
        var runStart = index
        while true {
            guard let byte = current else { throw Self.error("unterminated string", at: open) }
            switch byte {
            case UInt8(ascii: "\""):
                decoded.append(contentsOf: bytes[runStart..<index])
                index += 1
                return String(decoding: decoded, as: UTF8.self)
            case UInt8(ascii: "\\"):
                decoded.append(contentsOf: bytes[runStart..<index])
                try escape(into: &decoded)
                runStart = index
            case 0x00..<0x20:
                throw Self.error("control character \(Self.describe(byte)) in a string", at: index)
            case 0x80...:
                index += try utf8SequenceLength()
            default:
                index += 1
            }
        }
    }

    /// One escape sequence from its backslash, appended as UTF-8.
    private mutating func escape(into decoded: inout [UInt8]) throws(InspectionError) {
        let start = index
        index += 1
        guard let byte = current else { throw Self.error("unterminated string", at: start) }
        index += 1
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): decoded.append(byte)
        case UInt8(ascii: "b"): decoded.append(0x08)
        case UInt8(ascii: "f"): decoded.append(0x0C)
        case UInt8(ascii: "n"): decoded.append(0x0A)
        case UInt8(ascii: "r"): decoded.append(0x0D)
        case UInt8(ascii: "t"): decoded.append(0x09)
        case UInt8(ascii: "u"):
            let unit = try hexQuad(escapeStart: start)
            var scalarValue = UInt32(unit)
            switch unit {
            case 0xD800...0xDBFF:
                guard current == UInt8(ascii: "\\"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "u")
                else {
                    throw Self.error("lone UTF-16 surrogate escape (Go would replace it with U+FFFD)", at: start)
                }
                let lowStart = index
                index += 2
                let low = try hexQuad(escapeStart: lowStart)
                guard (0xDC00...0xDFFF).contains(low) else {
                    throw Self.error("lone UTF-16 surrogate escape (Go would replace it with U+FFFD)", at: start)
                }
                scalarValue = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
            case 0xDC00...0xDFFF:
                throw Self.error("lone UTF-16 surrogate escape (Go would replace it with U+FFFD)", at: start)
            default:
                break
            }
            guard let scalar = Unicode.Scalar(scalarValue) else { throw Self.error("invalid escape", at: start) }
            UTF8.encode(scalar) { decoded.append($0) }
        default:
            throw Self.error("invalid escape \(Self.describe(byte))", at: start)
        }
    }

    private mutating func hexQuad(escapeStart: Int) throws(InspectionError) -> UInt16 {
        var unit: UInt16 = 0
        for _ in 0..<4 {
            guard let byte = current else { throw Self.error("unterminated \\u escape", at: escapeStart) }
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw Self.error("invalid \\u escape", at: escapeStart)
            }
            unit = unit << 4 | UInt16(digit)
            index += 1
        }
        return unit
    }

    /// The length of the well-formed UTF-8 sequence at `index` (Unicode Table 3-7): no overlong forms, no encoded
    /// surrogates, nothing above U+10FFFF.
    private func utf8SequenceLength() throws(InspectionError) -> Int {
        let lead = bytes[index]
        let length: Int
        var secondRange: ClosedRange<UInt8> = 0x80...0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0:
            length = 3
            secondRange = 0xA0...0xBF
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED:
            length = 3
            secondRange = 0x80...0x9F
        case 0xF0:
            length = 4
            secondRange = 0x90...0xBF
        case 0xF1...0xF3: length = 4
        case 0xF4:
            length = 4
            secondRange = 0x80...0x8F
        default:
            throw .badRequest("invalid UTF-8 at byte \(index)")
        }
        guard index + length <= bytes.count, secondRange.contains(bytes[index + 1]) else {
            throw .badRequest("invalid UTF-8 at byte \(index)")
        }
        for offset in 2..<length where !(0x80...0xBF).contains(bytes[index + offset]) {
            throw .badRequest("invalid UTF-8 at byte \(index)")
        }
        return length
    }

    private static func describe(_ byte: UInt8) -> String {
        (0x21...0x7E).contains(byte) ? "'\(Character(Unicode.Scalar(byte)))'" : "0x\(String(byte, radix: 16))"
    }
}

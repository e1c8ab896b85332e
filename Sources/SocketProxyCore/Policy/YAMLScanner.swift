// The character level of the policy file's YAML reader: position and line, blanks and comments, the three scalars.

/// The bytes the YAML grammar names (YAML 1.2.2, chapter 5). Read once per policy file, never per request, so plain
/// comparisons rather than lookup tables.
enum YAMLByte {
    static let tab: UInt8 = 0x09
    static let lf: UInt8 = 0x0A
    static let cr: UInt8 = 0x0D
    static let space: UInt8 = 0x20
    static let doubleQuote = UInt8(ascii: "\"")
    static let singleQuote = UInt8(ascii: "'")
    static let hash = UInt8(ascii: "#")
    static let colon = UInt8(ascii: ":")
    static let comma = UInt8(ascii: ",")
    static let dash = UInt8(ascii: "-")
    static let dot = UInt8(ascii: ".")
    static let question = UInt8(ascii: "?")
    static let percent = UInt8(ascii: "%")
    static let backslash = UInt8(ascii: "\\")
    static let openBracket = UInt8(ascii: "[")
    static let closeBracket = UInt8(ascii: "]")
    static let openBrace = UInt8(ascii: "{")
    static let closeBrace = UInt8(ascii: "}")

    /// b-char: a line break.
    static func isBreak(_ byte: UInt8) -> Bool { byte == lf || byte == cr }

    /// s-white: a space or a tab.
    static func isWhite(_ byte: UInt8) -> Bool { byte == space || byte == tab }

    /// A byte after which an indicator (`-`, `:`, `?`) stands alone: white, a break, or the end (nil).
    static func isBlankOrEnd(_ byte: UInt8?) -> Bool {
        guard let byte else { return true }
        return isWhite(byte) || isBreak(byte)
    }

    /// c-flow-indicator: `,` `[` `]` `{` `}`, which end a plain scalar inside `[...]` and `{...}`.
    static func isFlowIndicator(_ byte: UInt8) -> Bool {
        byte == comma || byte == openBracket || byte == closeBracket || byte == openBrace || byte == closeBrace
    }

    /// c-printable leaves out the C0 controls but tab, line feed and carriage return, and DEL.
    static func isControl(_ byte: UInt8) -> Bool {
        (byte < 0x20 && byte != tab && byte != lf && byte != cr) || byte == 0x7F
    }

    /// Not the first byte of a UTF-8 sequence: columns count Unicode scalars, as libyaml's do.
    static func isContinuation(_ byte: UInt8) -> Bool { byte & 0xC0 == 0x80 }
}

/// A position in a document's UTF-8 bytes, with its line, and the reading of the tokens below a node: blanks,
/// comments, line breaks, plain and quoted scalars. Scalars end on their line: a value continued on another line
/// is not part of the subset.
struct YAMLScanner {
    /// The document, as UTF-8.
    let bytes: [UInt8]
    /// The next byte to read.
    private(set) var offset: Int
    /// The line of `offset`, from 1.
    private(set) var line = 1
    /// Where that line starts.
    private(set) var lineStart: Int

    /// Starts at the beginning of `text`, after a byte order mark if there is one.
    init(_ text: String) {
        bytes = Array(text.utf8)
        let start = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        offset = start
        lineStart = start
    }

    /// The byte at the position, nil at the end.
    var current: UInt8? { offset < bytes.count ? bytes[offset] : nil }

    /// The byte `distance` bytes ahead, nil past the end.
    func peek(_ distance: Int = 1) -> UInt8? {
        offset + distance < bytes.count ? bytes[offset + distance] : nil
    }

    /// Where the position is, for nodes and errors.
    var mark: YAMLMark {
        YAMLMark(line: line, column: 1 + bytes[lineStart..<offset].count { !YAMLByte.isContinuation($0) })
    }

    /// Bytes between the start of the line and the position. Block collections line up by this; only spaces and
    /// the ASCII indicators `- ` can stand before a collection on its line, so bytes and columns agree there.
    var indentation: Int { offset - lineStart }

    /// Whether only spaces and tabs stand between the start of the line and the position.
    var isAtIndentation: Bool { bytes[lineStart..<offset].allSatisfy(YAMLByte.isWhite) }

    /// Moves past one byte, onto the next line after a line feed, or after a carriage return without one.
    mutating func advance() {
        let byte = bytes[offset]
        offset += 1
        if byte == YAMLByte.lf || (byte == YAMLByte.cr && current != YAMLByte.lf) {
            line += 1
            lineStart = offset
        }
    }

    /// Moves past `count` bytes.
    mutating func advance(by count: Int) {
        for _ in 0..<count { advance() }
    }

    /// Moves past spaces and tabs.
    mutating func skipWhite() {
        while let byte = current, YAMLByte.isWhite(byte) { advance() }
    }

    /// Moves past a comment, up to (not over) the line break that ends it.
    mutating func skipComment() {
        while let byte = current, !YAMLByte.isBreak(byte) { advance() }
    }

    /// Moves past one line break (`\n`, `\r\n` or `\r`).
    mutating func skipBreak() {
        if current == YAMLByte.cr { advance() }
        if current == YAMLByte.lf { advance() }
    }

    /// Whether the position is at `---` or `...` in the first column followed by a blank: the start or the end of a
    /// document, never a scalar.
    var isAtDocumentMarker: Bool {
        guard offset == lineStart, let first = current, first == YAMLByte.dash || first == YAMLByte.dot else {
            return false
        }
        return peek(1) == first && peek(2) == first && YAMLByte.isBlankOrEnd(peek(3))
    }

    /// An error at the position.
    func error(_ message: String) -> YAMLError { YAMLError(mark: mark, message: message) }

    /// The character at the position, for messages ("unexpected "x"").
    var currentCharacter: String {
        var end = offset + 1
        while end < bytes.count, YAMLByte.isContinuation(bytes[end]) { end += 1 }
        return String(decoding: bytes[offset..<min(end, bytes.count)], as: UTF8.self)
    }

    // MARK: - Plain scalars

    /// A plain (unquoted) scalar starting at the position, whose first byte the caller has checked may start one.
    /// It ends at a line break, at `: ` (or `:` at the end of the line), at ` #`, and inside `[...]` and `{...}`
    /// (`flow`) at a flow indicator. Spaces around it are not part of it.
    mutating func plainScalar(flow: Bool) throws(YAMLError) -> YAMLNode {
        let mark = self.mark
        let start = offset
        var end = offset
        while let byte = current, !YAMLByte.isBreak(byte) {
            if byte == YAMLByte.colon {
                let next = peek(1)
                if YAMLByte.isBlankOrEnd(next) { break }
                // `{a:[1]}`: YAML 1.2 reads a key, libyaml (and so Yams, which read these files before) refuses it.
                if flow, YAMLByte.isFlowIndicator(next!) || next == YAMLByte.question {
                    throw error("not valid YAML or JSON: write a space after the \":\" of an unquoted key")
                }
            } else if byte == YAMLByte.hash, offset > start, YAMLByte.isWhite(bytes[offset - 1]) {
                break
            } else if flow, YAMLByte.isFlowIndicator(byte) {
                break
            }
            advance()
            if !YAMLByte.isWhite(byte) { end = offset }
        }
        return .scalar(String(decoding: bytes[start..<end], as: UTF8.self), .plain, mark)
    }

    // MARK: - Quoted scalars

    /// A `'...'` scalar; `''` inside it is one quote.
    mutating func singleQuotedScalar() throws(YAMLError) -> YAMLNode {
        let mark = self.mark
        advance()
        var text: [UInt8] = []
        while true {
            guard let byte = current, !YAMLByte.isBreak(byte) else { throw unclosed(mark, quote: "'") }
            advance()
            if byte == YAMLByte.singleQuote {
                guard current == YAMLByte.singleQuote else { break }
                advance()
            }
            text.append(byte)
        }
        return .scalar(String(decoding: text, as: UTF8.self), .singleQuoted, mark)
    }

    /// A `"..."` scalar with YAML's escapes, which include JSON's (a JSON surrogate pair `\uD83D\uDE00` is one
    /// character).
    mutating func doubleQuotedScalar() throws(YAMLError) -> YAMLNode {
        let mark = self.mark
        advance()
        var text: [UInt8] = []
        while true {
            guard let byte = current, !YAMLByte.isBreak(byte) else { throw unclosed(mark, quote: "\"") }
            if byte == YAMLByte.doubleQuote {
                advance()
                break
            }
            if byte == YAMLByte.backslash {
                text.append(contentsOf: try escape().utf8)
            } else {
                text.append(byte)
                advance()
            }
        }
        return .scalar(String(decoding: text, as: UTF8.self), .doubleQuoted, mark)
    }

    /// The error for a quote not closed on its line: either it is missing, or the value goes on over several lines,
    /// which the subset leaves out.
    private func unclosed(_ mark: YAMLMark, quote: String) -> YAMLError {
        YAMLError(
            mark: mark,
            message:
                "the value quoted with \(quote) is not closed on its line (values spanning lines are not supported "
                + "in policy files)")
    }

    /// The character a backslash escape at the position stands for (YAML 1.2.2, 5.7), moving past it.
    private mutating func escape() throws(YAMLError) -> Unicode.Scalar {
        let start = self.mark
        advance()
        guard let byte = current, !YAMLByte.isBreak(byte) else {
            throw YAMLError(
                mark: start,
                message: "a backslash at the end of the line continues the value on the next line, which is not "
                    + "supported in policy files; write the value on one line")
        }
        let simple: UInt32? =
            switch byte {
            case UInt8(ascii: "0"): 0x00
            case UInt8(ascii: "a"): 0x07
            case UInt8(ascii: "b"): 0x08
            case UInt8(ascii: "t"), YAMLByte.tab: 0x09
            case UInt8(ascii: "n"): 0x0A
            case UInt8(ascii: "v"): 0x0B
            case UInt8(ascii: "f"): 0x0C
            case UInt8(ascii: "r"): 0x0D
            case UInt8(ascii: "e"): 0x1B
            case YAMLByte.space: 0x20
            case YAMLByte.doubleQuote: 0x22
            case UInt8(ascii: "/"): 0x2F
            case YAMLByte.backslash: 0x5C
            case UInt8(ascii: "N"): 0x85
            case UInt8(ascii: "_"): 0xA0
            case UInt8(ascii: "L"): 0x2028
            case UInt8(ascii: "P"): 0x2029
            default: nil
            }
        if let simple {
            advance()
            return Unicode.Scalar(simple)!
        }
        let digits: Int
        switch byte {
        case UInt8(ascii: "x"): digits = 2
        case UInt8(ascii: "u"): digits = 4
        case UInt8(ascii: "U"): digits = 8
        default:
            throw YAMLError(
                mark: start,
                message: "not valid YAML or JSON: \"\\\(currentCharacter)\" is not an escape in a double-quoted value "
                    + "(write \"\\\\\" for a backslash)")
        }
        advance()
        var value = try hexDigits(digits, escape: start)
        if digits == 4, (0xD800...0xDBFF).contains(value) {
            // JSON writes characters beyond U+FFFF as two \u escapes, a surrogate pair.
            guard current == YAMLByte.backslash, peek(1) == UInt8(ascii: "u") else {
                throw YAMLError(mark: start, message: "not valid YAML or JSON: a \\u escape of a lone surrogate")
            }
            let second = self.mark
            advance(by: 2)
            let low = try hexDigits(4, escape: second)
            guard (0xDC00...0xDFFF).contains(low) else {
                throw YAMLError(mark: start, message: "not valid YAML or JSON: a \\u escape of a lone surrogate")
            }
            value = 0x10000 + ((value - 0xD800) << 10) + (low - 0xDC00)
        }
        guard let scalar = Unicode.Scalar(value) else {
            throw YAMLError(
                mark: start,
                message: "not valid YAML or JSON: the escape stands for no character"
                    + ((0xD800...0xDFFF).contains(value) ? " (a lone surrogate)" : ""))
        }
        return scalar
    }

    /// `count` hexadecimal digits at the position, as a number.
    private mutating func hexDigits(_ count: Int, escape: YAMLMark) throws(YAMLError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<count {
            let digit: UInt32
            switch current {
            case let byte? where (0x30...0x39).contains(byte): digit = UInt32(byte - 0x30)
            case let byte? where (0x41...0x46).contains(byte): digit = UInt32(byte - 0x41 + 10)
            case let byte? where (0x61...0x66).contains(byte): digit = UInt32(byte - 0x61 + 10)
            default:
                throw YAMLError(
                    mark: escape, message: "not valid YAML or JSON: the escape needs \(count) hexadecimal digits")
            }
            value = value << 4 | digit
            advance()
        }
        return value
    }
}

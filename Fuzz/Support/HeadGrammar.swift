// An independent reading of a message head that a parser called complete, written from RFC 9112 and nothing else.
import SocketProxyCore

/// The lines of a complete head, found without the parser's code: the start line and each field line's name and
/// OWS-trimmed value, as offsets into the parsed bytes.
struct WalkedHead {
    var startLine: Range<Int>
    var fields: [(name: Range<Int>, value: Range<Int>)] = []

    /// The trimmed values of every field named `name` (ASCII, lower case), in order.
    func values(_ name: StaticString, in bytes: UnsafeRawBufferPointer) -> [Range<Int>] {
        fields.filter { HeadGrammar.equalsIgnoringCase(bytes, $0.name, name) }.map(\.value)
    }
}

enum HeadGrammar {
    /// Walks `bytes[0..<headEnd]` and traps unless it is `start-line CRLF *( field-line CRLF ) CRLF` with every field
    /// line `token ":" OWS field-value OWS`, no CR or LF anywhere else, and no line starting with whitespace.
    static func walk(_ bytes: UnsafeRawBufferPointer, headEnd: Int, what: String) -> WalkedHead {
        require(headEnd >= 4 && headEnd <= bytes.count, "\(what): headEnd \(headEnd) outside 4...\(bytes.count)")
        var lines: [Range<Int>] = []
        var start = 0
        var index = 0
        while index < headEnd {
            let byte = bytes[index]
            if byte == 0x0A {
                require(false, "\(what): bare LF at \(index) in a complete head: \(show(bytes))")
            }
            if byte == 0x0D {
                require(index + 1 < headEnd && bytes[index + 1] == 0x0A, "\(what): bare CR at \(index): \(show(bytes))")
                lines.append(start..<index)
                index += 2
                start = index
                continue
            }
            index += 1
        }
        require(start == headEnd, "\(what): the head does not end with CRLF")
        require(lines.count >= 2 && lines.last!.isEmpty, "\(what): the head does not end with an empty line")
        for line in lines.dropLast() {
            require(!line.isEmpty, "\(what): an empty line before the end of the head: \(show(bytes))")
        }
        var head = WalkedHead(startLine: lines[0])
        for line in lines.dropFirst().dropLast() {
            var cursor = line.lowerBound
            while cursor < line.upperBound && isTokenChar(bytes[cursor]) { cursor += 1 }
            require(cursor > line.lowerBound, "\(what): a field line without a token name: \(show(bytes))")
            require(
                cursor < line.upperBound && bytes[cursor] == 0x3A,
                "\(what): a field name not followed by ':': \(show(bytes))")
            let name = line.lowerBound..<cursor
            cursor += 1
            for offset in cursor..<line.upperBound {
                require(isFieldContent(bytes[offset]), "\(what): byte \(bytes[offset]) in a field value at \(offset)")
            }
            var valueStart = cursor
            var valueEnd = line.upperBound
            while valueStart < valueEnd && isWhitespace(bytes[valueStart]) { valueStart += 1 }
            while valueEnd > valueStart && isWhitespace(bytes[valueEnd - 1]) { valueEnd -= 1 }
            head.fields.append((name, valueStart..<valueEnd))
        }
        return head
    }

    /// RFC 9110 §5.6.2 tchar.
    static func isTokenChar(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: true
        case 0x21, 0x23, 0x24, 0x25, 0x26, 0x27, 0x2A, 0x2B, 0x2D, 0x2E, 0x5E, 0x5F, 0x60, 0x7C, 0x7E: true
        default: false
        }
    }

    /// HTAB / SP / VCHAR / obs-text.
    static func isFieldContent(_ byte: UInt8) -> Bool {
        byte == 0x09 || byte >= 0x20 && byte != 0x7F
    }

    static func isWhitespace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 }

    /// Whether the bytes in `range` spell `lowercase` (ASCII, lower case) in any case. Compares bytes rather than
    /// building strings: this runs for every field of every complete head, and allocating here would cost the
    /// fuzzer most of its executions per second.
    static func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, _ lowercase: StaticString)
        -> Bool
    {
        guard range.count == lowercase.utf8CodeUnitCount else { return false }
        let expected = UnsafeRawBufferPointer(start: lowercase.utf8Start, count: lowercase.utf8CodeUnitCount)
        for (offset, byte) in bytes[range].enumerated() where lowered(byte) != expected[offset] {
            return false
        }
        return true
    }

    static func lowered(_ byte: UInt8) -> UInt8 { (0x41...0x5A).contains(byte) ? byte | 0x20 : byte }

    /// Whether any comma-separated element of the values, OWS-trimmed (RFC 9110 §5.6.1), is `option` in any case.
    static func listContains(_ bytes: UnsafeRawBufferPointer, _ values: [Range<Int>], _ option: StaticString) -> Bool {
        for value in values {
            var start = value.lowerBound
            while start <= value.upperBound {
                var end = start
                while end < value.upperBound && bytes[end] != UInt8(ascii: ",") { end += 1 }
                var first = start
                var last = end
                while first < last && isWhitespace(bytes[first]) { first += 1 }
                while last > first && isWhitespace(bytes[last - 1]) { last -= 1 }
                if equalsIgnoringCase(bytes, first..<last, option) { return true }
                start = end + 1
            }
        }
        return false
    }

    /// Body framing from the Content-Length and Transfer-Encoding fields as RFC 9112 §6 reads them, refusing every
    /// ambiguity the parsers are documented to refuse; nil when the head should have been refused.
    static func framing(
        _ walked: WalkedHead, in bytes: UnsafeRawBufferPointer, version: HTTPVersion, absent: BodyFraming
    ) -> BodyFraming? {
        let lengths = walked.values("content-length", in: bytes)
        let codings = walked.values("transfer-encoding", in: bytes)
        guard lengths.count <= 1 else { return nil }
        if !codings.isEmpty {
            guard version == .http1_1, lengths.isEmpty, codings.count == 1,
                equalsIgnoringCase(bytes, codings[0], "chunked")
            else { return nil }
            return .chunked
        }
        if let length = lengths.first {
            guard let value = contentLength(bytes, length) else { return nil }
            return .length(value)
        }
        return absent
    }

    /// A Content-Length value, 1 to 18 digits; nil otherwise.
    static func contentLength(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> UInt64? {
        guard (1...18).contains(range.count), bytes[range].allSatisfy({ (0x30...0x39).contains($0) }) else {
            return nil
        }
        return bytes[range].reduce(0) { $0 * 10 + UInt64($1 - 0x30) }
    }

    /// Checks what every complete head shares, request or response: its end within the limit, the field count the
    /// parser reports against the grammar's and the limit, and the parser's own field walk against the grammar's
    /// names and values. Returns the grammar's walk for the start-line checks.
    static func checkedWalk(
        _ bytes: UnsafeRawBufferPointer, headEnd: Int, headerCount: Int, limits: HTTPLimits,
        forEachField: ((Range<Int>, Range<Int>) -> Void) -> Void, what: String
    ) -> WalkedHead {
        require(headEnd <= limits.maxHeadBytes, "\(what): headEnd \(headEnd) past \(limits.maxHeadBytes)")
        let walked = walk(bytes, headEnd: headEnd, what: what)
        require(headerCount == walked.fields.count, "\(what): headerCount \(headerCount), \(walked.fields.count) lines")
        require(headerCount <= limits.maxHeaderFields, "\(what): \(headerCount) fields past the limit")
        var index = 0
        forEachField { name, value in
            require(index < walked.fields.count, "\(what): forEachField reports more fields than the head has")
            require(
                walked.fields[index].name == name && walked.fields[index].value == value,
                "\(what): forEachField field \(index) is \(name) \(value), expected \(walked.fields[index])")
            index += 1
        }
        require(index == walked.fields.count, "\(what): forEachField reports \(index) of \(walked.fields.count) fields")
        return walked
    }
}

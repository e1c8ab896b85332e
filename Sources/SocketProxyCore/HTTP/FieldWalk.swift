// Walking the field lines of an already validated head, and comparing bytes with ASCII keywords.

/// Re-scans a head that a parser validated; it relies on that validation (every line ends in CRLF, every field
/// line has a colon) and so does no checking of its own.
enum FieldWalk {
    /// Calls `body` for each field line of the head occupying `bytes[0..<headEnd]`.
    static func forEachField(
        in bytes: UnsafeRawBufferPointer, headEnd: Int, _ body: (_ name: Range<Int>, _ value: Range<Int>) -> Void
    ) {
        precondition(bytes.count >= headEnd, "forEachField: the buffer is shorter than the head")
        // The head is at least the start line's CRLF plus the final CRLF.
        let sectionEnd = headEnd - 2
        var index = 0
        while bytes[index] != ByteClass.lf {
            index += 1
        }
        index += 1
        while index < sectionEnd {
            let nameStart = index
            while bytes[index] != ByteClass.colon {
                index += 1
            }
            let nameEnd = index
            index += 1
            while ByteClass.isWhitespace(bytes[index]) {
                index += 1
            }
            let valueStart = index
            var valueEnd = index
            while bytes[index] != ByteClass.cr {
                if !ByteClass.isWhitespace(bytes[index]) {
                    valueEnd = index + 1
                }
                index += 1
            }
            body(nameStart..<nameEnd, valueStart..<valueEnd)
            index += 2
        }
    }
}

/// Whether `bytes` equals `ascii`, comparing ASCII letters without case (as field names and most field values
/// compare). `ascii` should be plain ASCII.
public func equalsCaseInsensitive(_ bytes: UnsafeRawBufferPointer, _ ascii: StaticString) -> Bool {
    ascii.withUTF8Buffer { keyword in
        guard keyword.count == bytes.count else {
            return false
        }
        for index in 0..<keyword.count {
            if ByteClass.lowercased(bytes[index]) != ByteClass.lowercased(keyword[index]) {
                return false
            }
        }
        return true
    }
}

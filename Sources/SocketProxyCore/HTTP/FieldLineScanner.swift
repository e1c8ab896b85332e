// The field-line state machine shared by request heads, response heads and chunked trailers (RFC 9112 §5).

/// Scans a field section: field lines, then the empty line that ends the section.
///
///     field-line   = field-name ":" OWS field-value OWS
///     field-name   = token
///     field-value  = *field-content
///     field-section = *( field-line CRLF ) CRLF
///
/// Strict per RFC 9112 §5: no whitespace before the colon, no obsolete line folding, no bare CR or LF, no controls
/// in values. While a value streams past, the scanner also reads the values of the few fields that matter (see
/// ``FieldName``), so the owner gets their meaning when the line completes without looking at the bytes again.
struct FieldLineScanner: Sendable {
    /// Where scanning stopped.
    enum Step: Equatable, Sendable {
        /// Every byte given was used; the section goes on.
        case consumed
        /// Just after the LF ending a field line; ``field`` and the value properties describe that line.
        case fieldComplete
        /// Just after the LF of the empty line ending the section.
        case sectionComplete
        /// At a byte that breaks the grammar.
        case failed(HTTPParseError)
    }

    private enum State: UInt8 {
        case lineStart, name, valueStart, value, lineFeed, sectionFeed
    }

    private var state = State.lineStart
    private var name = KeywordMatcher(candidates: KeywordSet.fieldNames.all)
    /// Field lines started so far.
    private(set) var fieldCount = 0
    /// The recognised name of the current or just completed field; nil for any other name.
    private(set) var field: FieldName?
    /// Offset of the first byte of the value after leading OWS (of the CR for an empty value).
    private(set) var valueStart = 0
    /// Offset just past the last byte of the value that is not OWS.
    private(set) var valueEnd = 0
    /// Whether the current value's bytes are read for meaning (Content-Length and the option lists).
    private var readsValue = false
    /// The Content-Length value, when ``field`` is `.contentLength`.
    private(set) var number = DecimalNumber()
    /// The options of a Connection, Transfer-Encoding or Expect value.
    private(set) var options = OptionList(candidates: 0)

    /// The trimmed value of the current or just completed field, as offsets into the scanned buffer.
    var value: Range<Int> { valueStart..<valueEnd }

    /// Scans `bytes[index..<end]` and advances `index` past what it used. Stops right after the LF of each field
    /// line (``Step/fieldComplete``: the owner takes the line in, then calls again), after the LF ending the
    /// section, at the first byte that breaks the grammar, or at `end` (``Step/consumed``).
    ///
    /// Runs of name bytes and of plain value bytes go through tight loops; every other byte through ``step``.
    mutating func scan(_ bytes: UnsafeRawBufferPointer, at index: inout Int, end: Int, maxFields: Int) -> Step {
        precondition(end <= bytes.count, "FieldLineScanner.scan past the buffer")
        while index < end {
            switch state {
            case .name:
                // SAFETY (all subscripts here): index < end <= bytes.count.
                while index < end && ByteClass.isTokenChar(bytes[index]) {
                    name.feed(bytes[index], in: .fieldNames)
                    index += 1
                }
            case .value where !readsValue:
                while index < end {
                    let byte = bytes[index]
                    guard ByteClass.isFieldContent(byte) else {
                        break
                    }
                    if !ByteClass.isWhitespace(byte) {
                        valueEnd = index + 1
                    }
                    index += 1
                }
            default:
                break
            }
            guard index < end else {
                break
            }
            let outcome = step(bytes[index], at: index, maxFields: maxFields)
            index += 1
            if case .consumed = outcome {
                continue
            }
            return outcome
        }
        return .consumed
    }

    /// Feeds the byte found at `index`; `maxFields` bounds the number of field lines.
    private mutating func step(_ byte: UInt8, at index: Int, maxFields: Int) -> Step {
        switch state {
        case .lineStart:
            if byte == ByteClass.cr {
                state = .sectionFeed
                return .consumed
            }
            if byte == ByteClass.lf {
                return .failed(.bareLineFeed)
            }
            if ByteClass.isWhitespace(byte) {
                return .failed(.obsoleteLineFolding)
            }
            guard ByteClass.isTokenChar(byte) else {
                return .failed(.invalidFieldName)  // also ":" at the start: an empty name
            }
            guard fieldCount < maxFields else {
                return .failed(.tooManyHeaderFields)
            }
            fieldCount += 1
            name = KeywordMatcher(candidates: KeywordSet.fieldNames.all)
            name.feed(byte, in: .fieldNames)
            state = .name
            return .consumed

        case .name:
            if ByteClass.isTokenChar(byte) {
                name.feed(byte, in: .fieldNames)
                return .consumed
            }
            if byte == ByteClass.colon {
                startValue()
                state = .valueStart
                return .consumed
            }
            if ByteClass.isWhitespace(byte) {
                return .failed(.whitespaceBeforeColon)
            }
            if byte == ByteClass.lf {
                return .failed(.bareLineFeed)
            }
            return .failed(.invalidFieldName)  // also CR: a line without a colon

        case .valueStart:
            if ByteClass.isWhitespace(byte) {
                return .consumed
            }
            if byte == ByteClass.cr {
                valueStart = index
                valueEnd = index
                state = .lineFeed
                return .consumed
            }
            if byte == ByteClass.lf {
                return .failed(.bareLineFeed)
            }
            guard ByteClass.isFieldContent(byte) else {
                return .failed(.invalidFieldValue)
            }
            valueStart = index
            valueEnd = index + 1
            readValue(byte)
            state = .value
            return .consumed

        case .value:
            if byte == ByteClass.cr {
                state = .lineFeed
                return .consumed
            }
            if byte == ByteClass.lf {
                return .failed(.bareLineFeed)
            }
            guard ByteClass.isFieldContent(byte) else {
                return .failed(.invalidFieldValue)
            }
            if !ByteClass.isWhitespace(byte) {
                valueEnd = index + 1
            }
            readValue(byte)
            return .consumed

        case .lineFeed:
            guard byte == ByteClass.lf else {
                return .failed(.bareCarriageReturn)
            }
            options.finish()
            state = .lineStart
            return .fieldComplete

        case .sectionFeed:
            guard byte == ByteClass.lf else {
                return .failed(.bareCarriageReturn)
            }
            state = .lineStart
            return .sectionComplete
        }
    }

    private mutating func startValue() {
        field = name.match(in: .fieldNames).flatMap(FieldName.init(rawValue:))
        readsValue = false
        switch field {
        case .contentLength:
            number = DecimalNumber()
            readsValue = true
        case .connection:
            options = OptionList(
                candidates: ListOption.close.bit | ListOption.keepAlive.bit | ListOption.upgrade.bit
            )
            readsValue = true
        case .transferEncoding:
            options = OptionList(candidates: ListOption.chunked.bit)
            readsValue = true
        case .expect:
            options = OptionList(candidates: ListOption.continue100.bit)
            readsValue = true
        default:
            options = OptionList(candidates: 0)
        }
    }

    @inline(__always)
    private mutating func readValue(_ byte: UInt8) {
        guard readsValue else {
            return
        }
        if field == .contentLength {
            number.feed(byte)
        } else {
            options.feed(byte)
        }
    }
}

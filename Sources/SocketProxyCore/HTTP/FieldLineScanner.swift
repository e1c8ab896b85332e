// The field-line state machine shared by request heads, response heads and chunked trailers (RFC 9112 §5).

/// Scans a field section: field lines, then the empty line that ends the section.
///
///     field-line   = field-name ":" OWS field-value OWS
///     field-name   = token
///     field-value  = *field-content
///     field-section = *( field-line CRLF ) CRLF
///
/// Strict per RFC 9112 §5: no whitespace before the colon, no obsolete line folding, no bare CR or LF, no controls
/// in values. Names and values go through tight loops over the byte-class tables that stop only at a byte that
/// needs attention (the colon, whitespace, CR, anything invalid) or at the end of the bytes given. A name is
/// recognised once, when its colon arrives (``FieldName``), and only the values of the few fields that matter are
/// read for meaning as they stream past, so the owner gets their meaning when the line completes without looking
/// at the bytes again.
struct FieldLineScanner: Sendable {
    /// Where scanning stopped.
    enum Step: Equatable, Sendable {
        /// Every byte given was used; the section goes on.
        case consumed
        /// Just after the LF ending a field line with a recognised name; ``field`` and the value properties describe
        /// that line. Lines with other names are checked and counted but do not stop the scan: nobody reads them.
        case fieldComplete
        /// Just after the LF of the empty line ending the section.
        case sectionComplete
        /// At a byte that breaks the grammar.
        case failed(HTTPParseError)
    }

    private enum State: UInt8 {
        // The order matters: each state falls through into the next in `scan`.
        case lineStart, name, valueStart, value, lineFeed, sectionFeed
    }

    /// How the current value's bytes are read for meaning.
    private enum ValueReader: UInt8 {
        /// Not at all: the value is only checked and trimmed.
        case none
        /// Into ``number`` (Content-Length).
        case number
        /// Into ``options`` (Connection, Transfer-Encoding, Expect).
        case options
    }

    private var state = State.lineStart
    /// Field lines started so far.
    private(set) var fieldCount = 0
    /// The recognised name of the current or just completed field; nil for any other name.
    private(set) var field: FieldName?
    /// Offset of the first byte of the value after leading OWS (of the CR for an empty value).
    private(set) var valueStart = 0
    /// Offset just past the last byte of the value that is not OWS.
    private(set) var valueEnd = 0
    private var reader = ValueReader.none
    /// The Content-Length value, when ``field`` is `.contentLength` (stale for other fields).
    private(set) var number = DecimalNumber()
    /// The options of a Connection, Transfer-Encoding or Expect value (stale for other fields).
    private(set) var options = OptionList(candidates: 0)
    /// Offset of the current name's first byte in this call's bytes; for a name begun in an earlier call, offset of
    /// the first byte of this call.
    private var nameStart = 0
    /// Bytes of the current name that came in earlier calls. The chunked decoder hands each call only new bytes, so
    /// those are gone by the time the colon arrives.
    private var carriedCount = 0
    /// The first ``FieldName/longest`` of those bytes, enough to recognise the name when it ends.
    private var carried: (UInt64, UInt64, UInt64) = (0, 0, 0)

    /// The trimmed value of the current or just completed field, as offsets into the scanned buffer.
    var value: Range<Int> { valueStart..<valueEnd }

    /// Scans `bytes[index..<end]` and advances `index` past what it used. Stops right after the LF of each field
    /// line with a recognised name (``Step/fieldComplete``: the owner takes the line in, then calls again), after
    /// the LF ending the section, just after the first byte that breaks the grammar, or at `end`
    /// (``Step/consumed``).
    mutating func scan(_ bytes: UnsafeRawBufferPointer, at index: inout Int, end: Int, maxFields: Int) -> Step {
        precondition(index >= 0 && end <= bytes.count, "FieldLineScanner.scan past the buffer")
        guard index < end else {
            return .consumed
        }
        if state == .name {
            nameStart = index
        }
        // The state lives in a register while scanning and is stored once, on the way out.
        var state = self.state
        defer { self.state = state }
        // Every `bytes[i]` below has 0 <= index <= i < end <= bytes.count, checked just before the read; so `i`
        // cannot overflow, and wrapping arithmetic on it saves the overflow checks.
        var i = index
        defer { index = i }
        while true {
            switch state {
            case .lineStart:
                guard i < end else {
                    return .consumed
                }
                let byte = bytes[i]
                i &+= 1
                guard ByteClass.isTokenChar(byte) else {
                    if byte == ByteClass.cr {
                        state = .sectionFeed
                        continue
                    }
                    if byte == ByteClass.lf {
                        return .failed(.bareLineFeed)
                    }
                    if ByteClass.isWhitespace(byte) {
                        return .failed(.obsoleteLineFolding)
                    }
                    return .failed(.invalidFieldName)  // also ":" at the start: an empty name
                }
                guard fieldCount < maxFields else {
                    return .failed(.tooManyHeaderFields)
                }
                fieldCount += 1
                nameStart = i &- 1
                // carriedCount is 0 here: the colon of the previous name reset it.
                state = .name
                fallthrough

            case .name:
                i = ByteClass.tokenRunEnd(bytes, from: i, to: end)
                guard i < end else {
                    carryName(bytes, end: end)
                    return .consumed
                }
                let byte = bytes[i]
                i &+= 1
                guard byte == ByteClass.colon else {
                    if ByteClass.isWhitespace(byte) {
                        return .failed(.whitespaceBeforeColon)
                    }
                    if byte == ByteClass.lf {
                        return .failed(.bareLineFeed)
                    }
                    return .failed(.invalidFieldName)  // also CR: a line without a colon
                }
                // Most names cannot be a recognised one by their length alone; only the others are compared.
                if FieldName.isCandidate(length: carriedCount &+ (i &- 1) &- nameStart) {
                    startValue(bytes, nameEnd: i &- 1)
                } else {
                    field = nil
                    reader = .none
                    carriedCount = 0
                }
                state = .valueStart
                fallthrough

            case .valueStart:
                while i < end && ByteClass.isWhitespace(bytes[i]) {
                    i &+= 1
                }
                guard i < end else {
                    return .consumed
                }
                valueStart = i
                valueEnd = i
                // The first byte of a value is the value loop's; here only a byte that cannot start one.
                let byte = bytes[i]
                if !ByteClass.isFieldVChar(byte) {
                    i &+= 1
                    if byte == ByteClass.cr {
                        state = .lineFeed
                        continue
                    }
                    return .failed(byte == ByteClass.lf ? .bareLineFeed : .invalidFieldValue)
                }
                state = .value
                fallthrough

            case .value:
                if reader == .none {
                    skipValue(bytes, at: &i, end: end)
                } else {
                    readValue(bytes, at: &i, end: end)
                }
                guard i < end else {
                    return .consumed
                }
                // Neither field content nor the end: CR, LF, another control or DEL.
                let byte = bytes[i]
                i &+= 1
                guard byte == ByteClass.cr else {
                    return .failed(byte == ByteClass.lf ? .bareLineFeed : .invalidFieldValue)
                }
                state = .lineFeed
                fallthrough

            case .lineFeed:
                guard i < end else {
                    return .consumed
                }
                let byte = bytes[i]
                i &+= 1
                guard byte == ByteClass.lf else {
                    return .failed(.bareCarriageReturn)
                }
                state = .lineStart
                guard field != nil else {
                    continue
                }
                if reader == .options {
                    options.finish()
                }
                return .fieldComplete

            case .sectionFeed:
                guard i < end else {
                    return .consumed
                }
                let byte = bytes[i]
                i &+= 1
                guard byte == ByteClass.lf else {
                    return .failed(.bareCarriageReturn)
                }
                state = .lineStart
                return .sectionComplete
            }
        }
    }

    /// Runs over a value that is only checked, up to `end` or the first byte that is not field content (CR ends the
    /// line). ``valueEnd`` then follows the last byte that is not OWS: found by stepping back over trailing OWS,
    /// which reads those bytes (usually none) a second time but spares the loop a test per byte. The step back
    /// stops at the first byte of this call: if every byte this call saw is OWS, the value still ends where an
    /// earlier call saw it end.
    @inline(__always)
    private mutating func skipValue(_ bytes: UnsafeRawBufferPointer, at i: inout Int, end: Int) {
        let start = i
        i = ByteClass.fieldContentRunEnd(bytes, from: i, to: end)
        var last = i
        while last > start && ByteClass.isWhitespace(bytes[last &- 1]) {
            last &-= 1
        }
        if last > start {
            valueEnd = last
        }
    }

    /// Like ``skipValue(_:at:end:)``, with the value's reader reading the bytes.
    ///
    /// Kept small so that it is inlined: the optimizer refuses to inline large `@inline(__always)` functions (the
    /// readers' loops would make this one large, and debug info larger still), so they stay calls.
    @inline(__always)
    private mutating func readValue(_ bytes: UnsafeRawBufferPointer, at i: inout Int, end: Int) {
        var last = valueEnd
        if reader == .number {
            i = number.read(bytes, from: i, to: end, valueEnd: &last)
        } else {
            i = options.read(bytes, from: i, to: end, valueEnd: &last)
        }
        valueEnd = last
    }

    /// Keeps the name bytes from ``nameStart`` to `end` (as far as they may still be part of a recognised name)
    /// for a later call, whose bytes will no longer hold them.
    private mutating func carryName(_ bytes: UnsafeRawBufferPointer, end: Int) {
        let count = end - nameStart
        if carriedCount + count <= FieldName.longest {
            withUnsafeMutableBytes(of: &carried) { store in
                // SAFETY: carriedCount + count <= FieldName.longest <= store.count, and nameStart..<end lies in
                // this call's bytes.
                store.baseAddress!.advanced(by: carriedCount).copyMemory(
                    from: bytes.baseAddress! + nameStart, byteCount: count
                )
            }
        }
        carriedCount += count
    }

    /// The colon at `nameEnd` ended a name of a recognised length: recognise it and prepare to read its value.
    private mutating func startValue(_ bytes: UnsafeRawBufferPointer, nameEnd: Int) {
        let count = carriedCount + nameEnd - nameStart
        if carriedCount == 0 {
            // SAFETY: the whole name, nameStart..<nameEnd, lies in this call's bytes.
            field = FieldName(bytes.baseAddress! + nameStart, count: count)
        } else if count <= FieldName.longest {
            carryName(bytes, end: nameEnd)
            // SAFETY: the store holds the whole name, `count` bytes.
            field = withUnsafeBytes(of: carried) { FieldName($0.baseAddress!, count: count) }
        } else {
            field = nil
        }
        carriedCount = 0
        switch field {
        case .contentLength:
            number = DecimalNumber()
            reader = .number
        case .connection:
            options = OptionList(
                candidates: ListOption.close.bit | ListOption.keepAlive.bit | ListOption.upgrade.bit
            )
            reader = .options
        case .transferEncoding:
            options = OptionList(candidates: ListOption.chunked.bit)
            reader = .options
        case .expect:
            options = OptionList(candidates: ListOption.continue100.bit)
            reader = .options
        default:
            // ``number`` and ``options`` keep stale values: they are only read for the fields above.
            reader = .none
        }
    }
}

// The incremental chunked transfer-coding decoder (RFC 9112 §7.1), which validates framing and counts data bytes.

/// Incremental chunked-body decoder (RFC 9112 §7.1). It validates framing and tells the caller how many bytes of
/// chunk data follow, so the caller can pass those through without copying (splice) and only feed framing bytes here.
///
///     chunked-body   = *chunk last-chunk trailer-section CRLF
///     chunk          = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
///     chunk-size     = 1*HEXDIG
///     last-chunk     = 1*("0") [ chunk-ext ] CRLF
///     chunk-ext      = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
///     chunk-ext-name = token
///     chunk-ext-val  = token / quoted-string
///     trailer-section = *( field-line CRLF )
///
/// Unlike the head parsers, the decoder is a stream: each call gets the bytes that follow the previous call's.
/// Extensions are validated and dropped. Limits: at most 16 hex digits, a chunk-size line no longer than
/// ``HTTPLimits/maxRequestLineBytes``, and trailers within ``HTTPLimits/maxHeadBytes`` and
/// ``HTTPLimits/maxHeaderFields``. Errors are sticky until ``reset()``.
public struct ChunkedDecoder: Sendable {
    private enum State: UInt8 {
        /// Before the first hex digit of a chunk size.
        case sizeStart
        case size
        /// BWS after the size or an extension: only ";" may follow.
        case extensionWhitespace
        case extensionNameStart
        case extensionName
        case extensionAfterName
        case extensionValueStart
        case extensionToken
        case extensionQuoted
        case extensionQuotedPair
        case extensionAfterQuoted
        /// After the CR of a chunk-size line.
        case sizeLineFeed
        case data
        case dataCarriageReturn
        case dataLineFeed
        case trailers
        case complete
        case failed
    }

    /// The most hex digits in a chunk size; 16 always fit in a `UInt64`.
    static let maxSizeDigits = 16

    private let limits: HTTPLimits
    private var state = State.sizeStart
    private var failure = HTTPParseError.invalidChunkSize
    /// The chunk size while it is read, then the data bytes still to come.
    private var size: UInt64 = 0
    private var sizeDigits = 0
    /// Bytes of the current chunk-size line so far, without the CRLF.
    private var lineLength = 0
    /// Bytes of the trailer section so far, including its final CRLF.
    private var trailerLength = 0
    private var trailerScanner = FieldLineScanner()

    /// Creates a decoder for one chunked body, enforcing `limits`.
    public init(limits: HTTPLimits = HTTPLimits()) {
        self.limits = limits
    }

    /// Consumes bytes from the start of `bytes`, framing and chunk data alike, and stops right after the final CRLF of
    /// the body (trailers included) or when bytes run out. Returns how many bytes belong to this body.
    ///
    /// After the body is complete, returns 0. After an error, returns the same error until ``reset()``.
    public mutating func consume(_ bytes: UnsafeRawBufferPointer) -> Result<Int, HTTPParseError> {
        if state == .failed {
            return .failure(failure)
        }
        var index = 0
        while index < bytes.count && state != .complete {
            if state == .data {
                let available = UInt64(bytes.count - index)
                let taken = min(available, size)
                index += Int(taken)
                skipData(taken)
                continue
            }
            if state == .trailers {
                if let error = scanTrailers(bytes, at: &index) {
                    failure = error
                    state = .failed
                    return .failure(error)
                }
                continue
            }
            // SAFETY: 0 <= index < bytes.count.
            if let error = step(bytes[index]) {
                failure = error
                state = .failed
                return .failure(error)
            }
            index += 1
        }
        return .success(index)
    }

    /// Bytes of chunk data that follow right now (0 while reading a size line, a delimiter or trailers).
    public var dataRemaining: UInt64 {
        state == .data ? size : 0
    }

    /// The caller moved `count` bytes of chunk data itself (count <= dataRemaining).
    public mutating func skipData(_ count: UInt64) {
        precondition(count <= dataRemaining, "ChunkedDecoder.skipData(\(count)) past the \(dataRemaining) data bytes")
        guard count > 0 else {
            return
        }
        size -= count
        if size == 0 {
            state = .dataCarriageReturn
        }
    }

    /// The last chunk, trailers and final CRLF have all been read.
    public var isComplete: Bool {
        state == .complete
    }

    /// Forgets everything, ready for the next chunked body.
    public mutating func reset() {
        self = ChunkedDecoder(limits: limits)
    }

    private mutating func step(_ byte: UInt8) -> HTTPParseError? {
        switch state {
        case .sizeStart, .size:
            return sizeStep(byte)
        case .extensionWhitespace, .extensionNameStart, .extensionName, .extensionAfterName, .extensionValueStart,
            .extensionToken, .extensionQuoted, .extensionQuotedPair, .extensionAfterQuoted:
            if byte == ByteClass.lf {
                return .bareLineFeed
            }
            // Only extensions can make a size line long (digits stop at 16); bound it as a request line is bounded,
            // so a peer cannot keep us reading one endless line.
            if byte != ByteClass.cr && lineLength >= limits.maxRequestLineBytes {
                return .invalidChunkExtension
            }
            lineLength += 1
            return extensionStep(byte)
        case .sizeLineFeed:
            guard byte == ByteClass.lf else {
                return .bareCarriageReturn
            }
            if size == 0 {
                state = .trailers
            } else {
                state = .data
            }
            return nil
        case .dataCarriageReturn:
            guard byte == ByteClass.cr else {
                return .invalidChunkDelimiter
            }
            state = .dataLineFeed
            return nil
        case .dataLineFeed:
            guard byte == ByteClass.lf else {
                return .invalidChunkDelimiter
            }
            state = .sizeStart
            return nil
        case .data, .trailers, .complete, .failed:
            preconditionFailure("ChunkedDecoder.step in state \(state)")
        }
    }

    private mutating func sizeStep(_ byte: UInt8) -> HTTPParseError? {
        let digit = ByteClass.hexValue[Int(byte)]
        if digit != 0xFF {
            guard sizeDigits < Self.maxSizeDigits else {
                return .chunkSizeTooLarge
            }
            size = size << 4 | UInt64(digit)
            sizeDigits += 1
            lineLength += 1
            state = .size
            return nil
        }
        if byte == ByteClass.lf {
            return .bareLineFeed
        }
        guard state == .size else {
            return .invalidChunkSize  // no digits
        }
        switch byte {
        case ByteClass.cr:
            endSizeLine()
        case ByteClass.semicolon:
            state = .extensionNameStart
            lineLength += 1
        case ByteClass.space, ByteClass.tab:
            state = .extensionWhitespace
            lineLength += 1
        default:
            return .invalidChunkSize
        }
        return nil
    }

    /// One byte of chunk-ext (neither LF nor past the line limit).
    private mutating func extensionStep(_ byte: UInt8) -> HTTPParseError? {
        let isWhitespace = ByteClass.isWhitespace(byte)
        let isToken = ByteClass.isTokenChar(byte)
        switch state {
        case .extensionWhitespace:
            if isWhitespace { return nil }
            if byte == ByteClass.semicolon {
                state = .extensionNameStart
                return nil
            }
        case .extensionNameStart:
            if isWhitespace { return nil }
            if isToken {
                state = .extensionName
                return nil
            }
        case .extensionName:
            if isToken { return nil }
            if let next = afterExtensionPart(byte, allowingEquals: true) {
                state = next
                return nil
            }
        case .extensionAfterName:
            if isWhitespace { return nil }
            if byte == ByteClass.equals {
                state = .extensionValueStart
                return nil
            }
            if byte == ByteClass.semicolon {
                state = .extensionNameStart
                return nil
            }
        case .extensionValueStart:
            if isWhitespace { return nil }
            if isToken {
                state = .extensionToken
                return nil
            }
            if byte == ByteClass.doubleQuote {
                state = .extensionQuoted
                return nil
            }
        case .extensionToken:
            if isToken { return nil }
            if let next = afterExtensionPart(byte, allowingEquals: false) {
                state = next
                return nil
            }
        case .extensionQuoted:
            if byte == ByteClass.doubleQuote {
                state = .extensionAfterQuoted
                return nil
            }
            if byte == ByteClass.backslash {
                state = .extensionQuotedPair
                return nil
            }
            if ByteClass.isQuotedText(byte) { return nil }
        case .extensionQuotedPair:
            if ByteClass.isFieldContent(byte) {
                state = .extensionQuoted
                return nil
            }
        case .extensionAfterQuoted:
            if let next = afterExtensionPart(byte, allowingEquals: false) {
                state = next
                return nil
            }
        default:
            preconditionFailure("ChunkedDecoder.extensionStep in state \(state)")
        }
        return .invalidChunkExtension
    }

    /// Where a byte right after an extension name or value leads; nil if it cannot follow one.
    private mutating func afterExtensionPart(_ byte: UInt8, allowingEquals: Bool) -> State? {
        switch byte {
        case ByteClass.space, ByteClass.tab:
            // BWS after a name may precede "=" or ";"; after a value only ";". A line cannot end in BWS.
            return allowingEquals ? .extensionAfterName : .extensionWhitespace
        case ByteClass.equals where allowingEquals:
            return .extensionValueStart
        case ByteClass.semicolon:
            return .extensionNameStart
        case ByteClass.cr:
            endSizeLine()
            return .sizeLineFeed
        default:
            return nil
        }
    }

    private mutating func endSizeLine() {
        state = .sizeLineFeed
        sizeDigits = 0
        lineLength = 0
    }

    /// Trailer field lines from `index`, within what is left of the trailer allowance; nil unless they are invalid.
    private mutating func scanTrailers(_ bytes: UnsafeRawBufferPointer, at index: inout Int) -> HTTPParseError? {
        let allowance = limits.maxHeadBytes - trailerLength
        let end = bytes.count - index > allowance ? index + allowance : bytes.count
        let start = index
        defer { trailerLength += index - start }
        while index < end {
            switch trailerScanner.scan(bytes, at: &index, end: end, maxFields: limits.maxHeaderFields) {
            case .consumed:
                break
            case .fieldComplete:
                // RFC 9110 §6.5.1: framing and routing fields must not be trailers; a recipient that merged them
                // could re-frame or re-route the message, so refuse them outright.
                switch trailerScanner.field {
                case .contentLength, .transferEncoding, .host, .trailer:
                    return .invalidTrailer
                default:
                    continue
                }
            case .sectionComplete:
                state = .complete
                return nil
            case .failed(.tooManyHeaderFields):
                return .invalidTrailer
            case .failed(let error):
                return error
            }
        }
        // Bytes remain but the allowance is spent: the trailer section is too large.
        return index < bytes.count ? .invalidTrailer : nil
    }
}

// The incremental, strict response-head parser (RFC 9112 §4-§6), for what the daemon sends back.

/// Parses a response head from the start of a buffer, resuming where it stopped when called again with more bytes.
///
///     status-line   = HTTP-version SP status-code SP [ reason-phrase ] CRLF
///     status-code   = 3DIGIT
///     reason-phrase = 1*( HTAB / SP / VCHAR / obs-text )
///
/// The same contract as ``RequestHeadParser``: each byte is examined once, nothing is allocated, errors are sticky.
/// The field rules are the request's; Host is not required. The status line is bounded only by
/// ``HTTPLimits/maxHeadBytes``.
public struct ResponseHeadParser: Sendable {
    private enum State: UInt8 {
        case version, status, afterStatus, reason, statusLineFeed, fields, complete, failed
    }

    /// Leniency: accept a status line that ends right after the code, `HTTP/1.1 200\r\n`, although the grammar
    /// requires the SP before the (possibly empty) reason. Some servers omit it; nothing is framed by the reason, so
    /// accepting it cannot change where a message ends. Stricter parsers treat it as a malformed status line.
    static let acceptsStatusLineWithoutReason = true

    private let limits: HTTPLimits
    private var state = State.version
    /// The next byte to examine.
    private var position = 0
    private var failure = HTTPParseError.invalidStatusLine
    private var version = VersionScanner()
    private var status = 0
    private var statusDigits = 0
    private var scanner = FieldLineScanner()
    private var fields = HeadFields()
    private var head: ResponseHead?

    /// Creates a parser that enforces `limits`.
    public init(limits: HTTPLimits = HTTPLimits()) {
        self.limits = limits
    }

    /// Parses the head of the response to a request made with `requestMethod` (a response to HEAD has no body).
    ///
    /// `bytes` starts at the first byte of the head and may hold bytes past it. Call again with the same bytes plus
    /// more appended after ``HeadParseResult/needMoreBytes``; once complete or failed, the result does not change.
    public mutating func parse(
        _ bytes: UnsafeRawBufferPointer, requestMethod: HTTPMethod
    ) -> HeadParseResult<ResponseHead> {
        switch state {
        case .complete:
            return .complete(head!)
        case .failed:
            return .failed(failure)
        default:
            break
        }
        precondition(bytes.count >= position, "ResponseHeadParser: the buffer shrank between calls")
        // Bytes at or past maxHeadBytes are never examined: reaching them unfinished is the error.
        let end = min(bytes.count, limits.maxHeadBytes)
        var index = position
        while index < end {
            switch state {
            case .fields:
                if let error = scanFields(bytes, at: &index, end: end, requestMethod: requestMethod) {
                    return fail(error)
                }
                if state == .complete {
                    return .complete(head!)
                }
                continue
            case .version where index == 0 && end >= 13:
                if startStatusLine(bytes) {
                    index = 13
                    continue
                }
            case .reason:
                // A tight loop over the reason phrase; it stops at CR, which is not field content. The CRLF that
                // ends the line is taken here when both bytes are at hand, else one at a time by `step`.
                index = ByteClass.fieldContentRunEnd(bytes, from: index, to: end)
                if index == end {
                    continue
                }
                if index &+ 1 < end && bytes[index] == ByteClass.cr && bytes[index &+ 1] == ByteClass.lf {
                    state = .fields
                    index &+= 2
                    continue
                }
            default:
                break
            }
            // SAFETY: 0 <= index < end <= bytes.count.
            if let error = step(bytes[index]) {
                return fail(error)
            }
            index += 1
        }
        if index < bytes.count {
            return fail(.headTooLarge)
        }
        position = index
        return .needMoreBytes
    }

    /// Forgets everything, ready for the next head (after an informational response, or the next response).
    public mutating func reset() {
        self = ResponseHeadParser(limits: limits)
    }

    private mutating func fail(_ error: HTTPParseError) -> HeadParseResult<ResponseHead> {
        failure = error
        state = .failed
        return .failed(error)
    }

    /// The common start of a status line, `HTTP/1.x NNN ` with a valid code, read in one go from the first 13
    /// bytes, leaving the parser at the reason phrase. False changes nothing, and ``step(_:)`` then takes those
    /// bytes one at a time and finds the exact error (or a start without a reason phrase).
    private mutating func startStatusLine(_ bytes: UnsafeRawBufferPointer) -> Bool {
        // SAFETY: the caller checked bytes.count >= 13.
        guard let supported = VersionScanner.supportedVersion(at: bytes.baseAddress!), bytes[8] == ByteClass.space,
            bytes[12] == ByteClass.space
        else {
            return false
        }
        var code = 0
        for offset in 9..<12 {
            guard let digit = ByteClass.digitValue(bytes[offset]) else {
                return false
            }
            code = code * 10 + Int(digit)
        }
        guard (100...599).contains(code) else {
            return false
        }
        version = VersionScanner(complete: supported)
        status = code
        statusDigits = 3
        state = .reason
        return true
    }

    private mutating func step(_ byte: UInt8) -> HTTPParseError? {
        switch state {
        case .version:
            if byte == ByteClass.lf {
                return .bareLineFeed
            }
            if version.isComplete {
                guard byte == ByteClass.space else {
                    return byte == ByteClass.cr ? .invalidStatusLine : .invalidVersion
                }
                guard version.isSupported else {
                    return .unsupportedVersion
                }
                state = .status
                return nil
            }
            if version.count == 0 && (byte == ByteClass.space || byte == ByteClass.cr) {
                return .invalidStatusLine
            }
            return version.feed(byte) ? nil : .invalidVersion
        case .status:
            if byte == ByteClass.lf {
                return .bareLineFeed
            }
            guard let digit = ByteClass.digitValue(byte) else {
                return .invalidStatusCode
            }
            status = status * 10 + Int(digit)
            statusDigits += 1
            if statusDigits == 3 {
                guard (100...599).contains(status) else {
                    return .invalidStatusCode
                }
                state = .afterStatus
            }
            return nil
        case .afterStatus:
            if byte == ByteClass.space {
                state = .reason
                return nil
            }
            if byte == ByteClass.cr && Self.acceptsStatusLineWithoutReason {
                state = .statusLineFeed
                return nil
            }
            if byte == ByteClass.lf {
                return .bareLineFeed
            }
            return ByteClass.digitValue(byte) != nil ? .invalidStatusCode : .invalidStatusLine
        case .reason:
            if byte == ByteClass.cr {
                state = .statusLineFeed
                return nil
            }
            if byte == ByteClass.lf {
                return .bareLineFeed
            }
            return ByteClass.isFieldContent(byte) ? nil : .invalidStatusLine
        case .statusLineFeed:
            guard byte == ByteClass.lf else {
                return .bareCarriageReturn
            }
            state = .fields
            return nil
        case .fields, .complete, .failed:
            preconditionFailure("ResponseHeadParser.step in state \(state)")
        }
    }

    /// Field lines up to `end`, taking in each as it completes; nil unless a line or the head is invalid.
    private mutating func scanFields(
        _ bytes: UnsafeRawBufferPointer, at index: inout Int, end: Int, requestMethod: HTTPMethod
    ) -> HTTPParseError? {
        while index < end {
            switch scanner.scan(bytes, at: &index, end: end, maxFields: limits.maxHeaderFields) {
            case .consumed:
                return nil
            case .fieldComplete:
                if let error = fields.record(scanner) {
                    return error
                }
            case .sectionComplete:
                return finish(headEnd: index, requestMethod: requestMethod)
            case .failed(let error):
                return error
            }
        }
        return nil
    }

    private mutating func finish(headEnd: Int, requestMethod: HTTPMethod) -> HTTPParseError? {
        let version = version.version
        // RFC 9112 §6.3 rule 1: these responses end at the head whatever their fields say; a server may even send
        // the Content-Length or Transfer-Encoding the full response would have had, so those are not checked.
        // A 2xx answer to CONNECT (rule 2) is not special-cased: the proxy does not forward CONNECT.
        let framing: BodyFraming
        if requestMethod == .head || (100...199).contains(status) || status == 204 || status == 304 {
            framing = .none
        } else {
            switch fields.framing(version: version) {
            case .success(let decided):
                framing = decided ?? .untilClose
            case .failure(let error):
                return error
            }
        }
        head = ResponseHead(
            status: status,
            version: version,
            headEnd: headEnd,
            headerCount: scanner.fieldCount,
            framing: framing,
            keepAlive: framing != .untilClose && fields.keepAlive(version: version),
            upgrade: status == 101,
            contentType: fields.contentType,
            isInformational: (100...199).contains(status) && status != 101
        )
        state = .complete
        return nil
    }
}

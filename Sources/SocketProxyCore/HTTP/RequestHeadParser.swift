// The incremental, strict request-head parser (RFC 9112 §2-§6).

/// Parses a request head from the start of a buffer, resuming where it stopped when called again with more bytes.
///
///     request-line = method SP request-target SP HTTP-version CRLF
///     HTTP-message = start-line CRLF *( field-line CRLF ) CRLF [ message-body ]
///
/// Each byte is examined once: the parser keeps its position and state between calls, and the caller guarantees
/// that the bytes already seen are unchanged when it calls again with more appended. Runs of ordinary bytes go
/// through table-driven loops that stop only at a byte needing attention. A token is recognised when it ends, by
/// its length and then a comparison a word at a time (the method from the start of the buffer, a field name of a
/// recognised length when its colon arrives); trailing OWS is stepped back over; the common end of the request line
/// is checked in one go, falling back to the byte-at-a-time machine for anything else. It stores no pointers and
/// allocates nothing; the result is offsets into the buffer. Errors are sticky until ``reset()``.
public struct RequestHeadParser: Sendable {
    private enum State: UInt8 {
        case method, targetStart, target, version, requestLineFeed, fields, complete, failed
    }

    private let limits: HTTPLimits
    private var state = State.method
    /// The next byte to examine.
    private var position = 0
    private var failure = HTTPParseError.invalidRequestLine
    private var methodEnd = 0
    private var targetStart = 0
    private var targetEnd = 0
    private var version = VersionScanner()
    private var scanner = FieldLineScanner()
    private var fields = HeadFields()
    private var head: RequestHead?

    /// Creates a parser that enforces `limits`.
    public init(limits: HTTPLimits = HTTPLimits()) {
        self.limits = limits
    }

    /// `bytes` is the buffer from the first byte of the head; may contain bytes past the head (pipelined requests,
    /// body).
    ///
    /// Call again with the same bytes plus more appended after ``HeadParseResult/needMoreBytes``. Once complete or
    /// failed, further calls return the same result without looking at the bytes.
    public mutating func parse(_ bytes: UnsafeRawBufferPointer) -> HeadParseResult<RequestHead> {
        switch state {
        case .complete:
            return .complete(head!)
        case .failed:
            return .failed(failure)
        default:
            break
        }
        precondition(bytes.count >= position, "RequestHeadParser: the buffer shrank between calls")
        // Bytes at or past maxHeadBytes are never examined: reaching them unfinished is the error.
        let end = min(bytes.count, limits.maxHeadBytes)
        var index = position
        while index < end {
            switch state {
            case .fields:
                if let error = scanFields(bytes, at: &index, end: end) {
                    return fail(error)
                }
                if state == .complete {
                    return .complete(head!)
                }
                continue
            case .method:
                // Tight loops over the runs of the request line, bounded so the limit check in `step` still sees
                // the first byte past maxRequestLineBytes. The single spaces between the runs are taken here;
                // `step` takes every other byte that ends a run.
                let lineEnd = min(end, limits.maxRequestLineBytes)
                index = ByteClass.tokenRunEnd(bytes, from: index, to: lineEnd)
                if index == end {
                    continue
                }
                if index > 0 && index &+ 1 < lineEnd && bytes[index] == ByteClass.space
                    && ByteClass.isTargetChar(bytes[index &+ 1])
                {
                    methodEnd = index
                    targetStart = index &+ 1
                    state = .target
                    index &+= 2
                    continue
                }
            case .target:
                let lineEnd = min(end, limits.maxRequestLineBytes)
                index = ByteClass.targetRunEnd(bytes, from: index, to: lineEnd)
                if index == end {
                    continue
                }
                if index < lineEnd && bytes[index] == ByteClass.space {
                    targetEnd = index
                    state = .version
                    index &+= 1
                    continue
                }
            case .version where version.count == 0 && end - index >= 10:
                if endRequestLine(bytes, at: index) {
                    index += 10
                    state = .fields
                    continue
                }
            default:
                break
            }
            // SAFETY: 0 <= index < end <= bytes.count.
            if let error = step(bytes[index], at: index) {
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

    /// Forgets everything, ready for the next head (the caller passes a buffer starting at that head).
    public mutating func reset() {
        self = RequestHeadParser(limits: limits)
    }

    private mutating func fail(_ error: HTTPParseError) -> HeadParseResult<RequestHead> {
        failure = error
        state = .failed
        return .failed(error)
    }

    private mutating func step(_ byte: UInt8, at index: Int) -> HTTPParseError? {
        switch state {
        case .method, .targetStart, .target, .version:
            if byte == ByteClass.lf {
                return .bareLineFeed
            }
            // The limit is on the line without its CRLF, so a CR at exactly the limit still ends a valid line.
            if byte != ByteClass.cr && index >= limits.maxRequestLineBytes {
                return .requestLineTooLong
            }
            return requestLineStep(byte, at: index)
        case .requestLineFeed:
            guard byte == ByteClass.lf else {
                return .bareCarriageReturn
            }
            state = .fields
            return nil
        case .fields, .complete, .failed:
            preconditionFailure("RequestHeadParser.step in state \(state)")
        }
    }

    /// Field lines up to `end`, taking in each as it completes; nil unless a line or the head is invalid.
    private mutating func scanFields(_ bytes: UnsafeRawBufferPointer, at index: inout Int, end: Int) -> HTTPParseError?
    {
        while index < end {
            switch scanner.scan(bytes, at: &index, end: end, maxFields: limits.maxHeaderFields) {
            case .consumed:
                return nil
            case .fieldComplete:
                if let error = fields.record(scanner) {
                    return error
                }
                // RFC 9112 §3.2: more than one Host line is a 400 in any version.
                if scanner.field == .host && fields.hostCount > 1 {
                    return .multipleHost
                }
            case .sectionComplete:
                return finish(bytes, headEnd: index)
            case .failed(let error):
                return error
            }
        }
        return nil
    }

    /// Whether the 10 bytes at `index` are the common end of a request line, `HTTP/1.1` or `HTTP/1.0` then CRLF,
    /// within the line limit; if so the version is taken in. False changes nothing: ``step(_:at:)`` then takes the
    /// bytes one at a time and finds the exact error.
    private mutating func endRequestLine(_ bytes: UnsafeRawBufferPointer, at index: Int) -> Bool {
        // The limit applies to the version's bytes, not to the CR after them (see `step`).
        guard index + 8 <= limits.maxRequestLineBytes,
            // SAFETY: the caller checked that 10 bytes from index are in the buffer.
            let supported = VersionScanner.supportedVersion(at: bytes.baseAddress! + index),
            bytes[index + 8] == ByteClass.cr, bytes[index + 9] == ByteClass.lf
        else {
            return false
        }
        version = VersionScanner(complete: supported)
        return true
    }

    /// The request line, one byte (neither LF nor past the line limit).
    private mutating func requestLineStep(_ byte: UInt8, at index: Int) -> HTTPParseError? {
        switch state {
        case .method:
            if ByteClass.isTokenChar(byte) {
                return nil
            }
            if byte == ByteClass.space && index > 0 {
                methodEnd = index
                state = .targetStart
                return nil
            }
            // A space or CR first means leading whitespace or an empty line; a CR later, a line without target.
            if byte == ByteClass.space || byte == ByteClass.cr {
                return .invalidRequestLine
            }
            return .invalidMethod
        case .targetStart:
            if ByteClass.isTargetChar(byte) {
                targetStart = index
                state = .target
                return nil
            }
            if byte == ByteClass.space || byte == ByteClass.cr {
                return .invalidRequestLine
            }
            return .invalidTarget
        case .target:
            if ByteClass.isTargetChar(byte) {
                return nil
            }
            if byte == ByteClass.space {
                targetEnd = index
                state = .version
                return nil
            }
            if byte == ByteClass.cr {
                return .invalidRequestLine
            }
            return .invalidTarget
        case .version:
            if version.isComplete {
                if byte == ByteClass.cr {
                    guard version.isSupported else {
                        return .unsupportedVersion
                    }
                    state = .requestLineFeed
                    return nil
                }
                return byte == ByteClass.space ? .invalidRequestLine : .invalidVersion
            }
            if version.count == 0 && (byte == ByteClass.space || byte == ByteClass.cr) {
                return .invalidRequestLine
            }
            return version.feed(byte) ? nil : .invalidVersion
        default:
            preconditionFailure("RequestHeadParser.requestLineStep in state \(state)")
        }
    }

    private mutating func finish(_ bytes: UnsafeRawBufferPointer, headEnd: Int) -> HTTPParseError? {
        let version = version.version
        let framing: BodyFraming
        switch fields.framing(version: version) {
        case .success(let decided):
            framing = decided ?? .none
        case .failure(let error):
            return error
        }
        // RFC 9112 §3.2: a server MUST answer 400 to an HTTP/1.1 request without Host.
        if version == .http1_1 && fields.hostCount == 0 {
            return .missingHost
        }
        head = RequestHead(
            // SAFETY: the method, 0..<methodEnd, is at the start of the bytes, which hold the whole head.
            method: HTTPMethod(bytes.baseAddress!, count: methodEnd),
            methodBytes: 0..<methodEnd,
            target: targetStart..<targetEnd,
            version: version,
            headEnd: headEnd,
            headerCount: scanner.fieldCount,
            framing: framing,
            keepAlive: fields.keepAlive(version: version),
            upgrade: fields.hasUpgrade && fields.connectionLists(.upgrade),
            // RFC 9110 §10.1.1: a server MUST ignore 100-continue in an HTTP/1.0 request.
            expectContinue: fields.expectsContinue && version == .http1_1,
            host: fields.host,
            contentType: fields.contentType
        )
        state = .complete
        return nil
    }
}

// What the field lines of a head said about framing and the connection, gathered as each line completes.

/// The facts of a head's field section that decide framing, routing and connection reuse.
///
/// Framing conflicts between fields (Content-Length with Transfer-Encoding, Transfer-Encoding in HTTP/1.0) are
/// decided once the section is complete, so the answer does not depend on the order of the lines.
struct HeadFields: Sendable {
    /// The Content-Length value, if the field was present.
    var contentLength: UInt64?
    /// Transfer-Encoding field lines seen.
    var transferEncodingCount = 0
    /// Whether the last Transfer-Encoding value was exactly `chunked`.
    var transferEncodingIsChunked = false
    /// Host field lines seen.
    var hostCount = 0
    /// The first Host value, trimmed.
    var host: Range<Int>?
    /// The first Content-Type value, trimmed; the daemon (Go's `Header.Get`) also reads the first.
    var contentType: Range<Int>?
    /// Options listed in any Connection field, as ``ListOption`` bits.
    var connectionOptions: UInt16 = 0
    /// Whether an Upgrade field was present.
    var hasUpgrade = false
    /// Whether an Expect field was exactly `100-continue`.
    var expectsContinue = false

    /// Takes in the field line that `scanner` just completed.
    mutating func record(_ scanner: FieldLineScanner) -> HTTPParseError? {
        switch scanner.field {
        case .contentLength:
            guard let length = scanner.number.result else {
                return .invalidContentLength
            }
            // Even an identical second value is refused: a peer that parses lists differently could frame the
            // body differently, and no legitimate client sends two.
            guard contentLength == nil else {
                return .multipleContentLength
            }
            contentLength = length
        case .transferEncoding:
            transferEncodingCount += 1
            transferEncodingIsChunked = scanner.options.isOnly(.chunked)
        case .host:
            hostCount += 1
            if host == nil {
                host = scanner.value
            }
        case .connection:
            connectionOptions |= scanner.options.found
        case .upgrade:
            hasUpgrade = true
        case .expect:
            if scanner.options.isOnly(.continue100) {
                expectsContinue = true
            }
        case .contentType:
            if contentType == nil {
                contentType = scanner.value
            }
        case .trailer, nil:
            break
        }
        return nil
    }

    /// Whether the Connection fields listed `option`.
    func connectionLists(_ option: ListOption) -> Bool {
        connectionOptions & option.bit != 0
    }

    /// Body framing from Transfer-Encoding and Content-Length (RFC 9112 §6.1-6.3), for a message whose body these
    /// fields decide; nil when neither is present.
    func framing(version: HTTPVersion) -> Result<BodyFraming?, HTTPParseError> {
        if transferEncodingCount > 0 {
            // RFC 9112 §6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing, even with a length.
            if version == .http1_0 {
                return .failure(.transferEncodingInHTTP10)
            }
            // RFC 9112 §6.3: a server MAY reject both together, and must if it forwards the message; we always do,
            // since the two framings disagreeing is what request smuggling exploits.
            if contentLength != nil {
                return .failure(.contentLengthWithTransferEncoding)
            }
            // Only `chunked`, alone and in one line: other codings would need decoding we do not do, and a list
            // spread over several lines is a classic smuggling vector.
            guard transferEncodingCount == 1, transferEncodingIsChunked else {
                return .failure(.unsupportedTransferEncoding)
            }
            return .success(.chunked)
        }
        if let contentLength {
            return .success(.length(contentLength))
        }
        return .success(nil)
    }

    /// Whether the connection stays open after this message, from the version and the Connection options.
    func keepAlive(version: HTTPVersion) -> Bool {
        if connectionLists(.close) {
            return false
        }
        return version == .http1_1 || connectionLists(.keepAlive)
    }
}

/// Reads `HTTP-version = HTTP-name "/" DIGIT "." DIGIT` (RFC 9112 §2.3; `HTTP-name = %s"HTTP"`, case-sensitive).
struct VersionScanner: Sendable {
    /// Bytes of the version read so far, 0...8.
    private(set) var count = 0
    /// The digits read so far.
    private(set) var version = HTTPVersion(major: 0, minor: 0)

    /// All eight bytes have been read.
    var isComplete: Bool { count == 8 }
    /// HTTP/1.0 or HTTP/1.1.
    var isSupported: Bool { version == .http1_0 || version == .http1_1 }

    /// Starts before the first byte of a version.
    init() {}

    /// The state after feeding all eight bytes of `version`.
    init(complete version: HTTPVersion) {
        count = 8
        self.version = version
    }

    /// The supported version whose eight bytes are at `bytes`, or nil; a fast path for the common case, which then
    /// skips ``feed(_:)`` for those bytes. `bytes` must have eight bytes readable.
    @inline(__always)
    static func supportedVersion(at bytes: UnsafeRawPointer) -> HTTPVersion? {
        if Keyword.equals(bytes, "HTTP/1.1", ignoringCase: false) {
            return .http1_1
        }
        if Keyword.equals(bytes, "HTTP/1.0", ignoringCase: false) {
            return .http1_0
        }
        return nil
    }

    /// Feeds the next byte; false when it cannot continue a version (or the version is already complete).
    mutating func feed(_ byte: UInt8) -> Bool {
        switch count {
        case 0: guard byte == 0x48 else { return false }  // H
        case 1, 2: guard byte == 0x54 else { return false }  // T
        case 3: guard byte == 0x50 else { return false }  // P
        case 4: guard byte == ByteClass.slash else { return false }
        case 5:
            guard let digit = ByteClass.digitValue(byte) else { return false }
            version.major = digit
        case 6: guard byte == ByteClass.dot else { return false }
        case 7:
            guard let digit = ByteClass.digitValue(byte) else { return false }
            version.minor = digit
        default:
            return false
        }
        count += 1
        return true
    }
}

// The named reasons a request head, response head or chunked body is rejected.

/// Why a message was rejected. Every case names one rule of RFC 9112 / RFC 9110 or one limit.
///
/// A parser that returns an error keeps returning it until it is reset.
public enum HTTPParseError: Error, Equatable, Sendable, CustomStringConvertible {
    // Request line.
    /// The method is not a token.
    case invalidMethod
    /// The request target is empty or has a byte outside %x21-7E.
    case invalidTarget
    /// The version is not `HTTP/` DIGIT `.` DIGIT.
    case invalidVersion
    /// A well-formed version other than HTTP/1.0 and HTTP/1.1.
    case unsupportedVersion
    /// The request line is not `method SP request-target SP HTTP-version CRLF` (extra or missing parts, spaces, or
    /// an empty line before it).
    case invalidRequestLine

    // Limits.
    /// The request line is longer than ``HTTPLimits/maxRequestLineBytes``.
    case requestLineTooLong
    /// The head is larger than ``HTTPLimits/maxHeadBytes``.
    case headTooLarge
    /// The head has more than ``HTTPLimits/maxHeaderFields`` field lines.
    case tooManyHeaderFields

    // Field lines.
    /// A field name is empty or not a token, or a field line has no colon.
    case invalidFieldName
    /// Whitespace between a field name and its colon (RFC 9112 §5.1 requires 400).
    case whitespaceBeforeColon
    /// A field line starts with SP or HTAB: obsolete line folding (RFC 9112 §5.2).
    case obsoleteLineFolding
    /// A field value contains NUL, another control byte or DEL.
    case invalidFieldValue
    /// A CR that is not followed by LF.
    case bareCarriageReturn
    /// An LF that is not preceded by CR.
    case bareLineFeed

    // Framing.
    /// Content-Length is not 1*DIGIT, or has more than 18 digits.
    case invalidContentLength
    /// More than one Content-Length field line, even with the same value.
    case multipleContentLength
    /// Both Content-Length and Transfer-Encoding: a request smuggling vector (RFC 9112 §6.3).
    case contentLengthWithTransferEncoding
    /// Transfer-Encoding other than one field with the single coding `chunked`.
    case unsupportedTransferEncoding
    /// Transfer-Encoding in an HTTP/1.0 message, whose framing is then faulty (RFC 9112 §6.1).
    case transferEncodingInHTTP10
    /// An HTTP/1.1 request without a Host field.
    case missingHost
    /// A request with more than one Host field line.
    case multipleHost

    // Chunked bodies.
    /// A chunk-size line without hex digits, or with a byte that cannot follow them.
    case invalidChunkSize
    /// A chunk size with more than 16 hex digits.
    case chunkSizeTooLarge
    /// A malformed chunk extension, or a chunk-size line longer than ``HTTPLimits/maxRequestLineBytes``.
    case invalidChunkExtension
    /// Chunk data not followed by exactly CRLF.
    case invalidChunkDelimiter
    /// A trailer section over the limits, or a trailer field that must not be a trailer (framing or routing).
    case invalidTrailer

    // Responses.
    /// The status line is not `HTTP-version SP 3DIGIT SP reason-phrase CRLF`.
    case invalidStatusLine
    /// The status code is not three digits in 100...599.
    case invalidStatusCode

    /// HTTP status to answer with: 431 for the three limit errors, 505 for unsupportedVersion, 400 for the rest.
    public var status: Int {
        switch self {
        case .requestLineTooLong, .headTooLarge, .tooManyHeaderFields: 431
        case .unsupportedVersion: 505
        default: 400
        }
    }

    /// One short English phrase for humans, e.g. "Content-Length together with Transfer-Encoding".
    public var description: String {
        switch self {
        case .invalidMethod: "invalid method"
        case .invalidTarget: "invalid request target"
        case .invalidVersion: "invalid HTTP version"
        case .unsupportedVersion: "unsupported HTTP version"
        case .invalidRequestLine: "malformed request line"
        case .requestLineTooLong: "request line too long"
        case .headTooLarge: "header section too large"
        case .tooManyHeaderFields: "too many header fields"
        case .invalidFieldName: "invalid header field name"
        case .whitespaceBeforeColon: "whitespace between header field name and colon"
        case .obsoleteLineFolding: "obsolete line folding in header field"
        case .invalidFieldValue: "invalid byte in header field value"
        case .bareCarriageReturn: "CR not followed by LF"
        case .bareLineFeed: "LF without CR"
        case .invalidContentLength: "invalid Content-Length"
        case .multipleContentLength: "more than one Content-Length"
        case .contentLengthWithTransferEncoding: "Content-Length together with Transfer-Encoding"
        case .unsupportedTransferEncoding: "unsupported Transfer-Encoding"
        case .transferEncodingInHTTP10: "Transfer-Encoding in an HTTP/1.0 message"
        case .missingHost: "missing Host header"
        case .multipleHost: "more than one Host header"
        case .invalidChunkSize: "invalid chunk size"
        case .chunkSizeTooLarge: "chunk size too large"
        case .invalidChunkExtension: "invalid chunk extension"
        case .invalidChunkDelimiter: "chunk data not followed by CRLF"
        case .invalidTrailer: "invalid trailer section"
        case .invalidStatusLine: "malformed status line"
        case .invalidStatusCode: "invalid status code"
        }
    }
}

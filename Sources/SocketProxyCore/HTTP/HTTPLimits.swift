// Size and count limits for message heads, chunk-size lines and trailers.

/// Upper bounds on what a parser accepts before it gives up with a 431 error.
///
/// The parsers never grow a buffer: a message that does not fit these limits fails, it is not accommodated.
public struct HTTPLimits: Sendable, Equatable {
    /// The longest request line accepted, in bytes, without its CRLF (default 8192).
    ///
    /// A longer line fails with ``HTTPParseError/requestLineTooLong`` as soon as that many bytes arrived without a
    /// CRLF. The chunked decoder also bounds each chunk-size line (size and extensions) by this value.
    public var maxRequestLineBytes: Int
    /// The largest head accepted, in bytes: start line, field lines and the blank line (default 65536).
    ///
    /// A larger head fails with ``HTTPParseError/headTooLarge`` as soon as the limit is exceeded. The chunked decoder
    /// bounds the trailer section by the same value.
    public var maxHeadBytes: Int
    /// The most field lines accepted in a head (default 100); one more fails with
    /// ``HTTPParseError/tooManyHeaderFields``. The chunked decoder bounds trailer fields by the same value.
    public var maxHeaderFields: Int

    /// Creates limits; the defaults suit the Docker Engine API.
    public init(maxRequestLineBytes: Int = 8192, maxHeadBytes: Int = 65536, maxHeaderFields: Int = 100) {
        self.maxRequestLineBytes = maxRequestLineBytes
        self.maxHeadBytes = maxHeadBytes
        self.maxHeaderFields = maxHeaderFields
    }
}

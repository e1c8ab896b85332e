// A parsed response head: status, framing and connection facts, as offsets into the caller's buffer.

/// A validated response head. Every `Range<Int>` is an offset range into the buffer that was parsed.
public struct ResponseHead: Sendable, Equatable {
    /// The status code, 100...599.
    public var status: Int
    /// HTTP/1.0 or HTTP/1.1.
    public var version: HTTPVersion
    /// Offset just past the CRLF CRLF: the body (or the next head) starts here.
    public var headEnd: Int
    /// The number of field lines.
    public var headerCount: Int
    /// How the body is delimited (RFC 9112 §6.3): none for HEAD, 1xx, 204 and 304; then Transfer-Encoding, then
    /// Content-Length, else until the daemon closes.
    public var framing: BodyFraming
    /// Whether the connection can carry another request: per version and Connection, and false for
    /// ``BodyFraming/untilClose``.
    public var keepAlive: Bool
    /// The status is 101 Switching Protocols: after this head the connection is a raw byte stream.
    public var upgrade: Bool
    /// The first Content-Type value, trimmed of OWS.
    public var contentType: Range<Int>?
    /// A 1xx status other than 101: another head follows for the same request.
    public var isInformational: Bool

    /// Creates a head from its parts; the parser is the usual source, this is for tests and embedders.
    public init(
        status: Int, version: HTTPVersion, headEnd: Int, headerCount: Int, framing: BodyFraming, keepAlive: Bool,
        upgrade: Bool, contentType: Range<Int>?, isInformational: Bool
    ) {
        self.status = status
        self.version = version
        self.headEnd = headEnd
        self.headerCount = headerCount
        self.framing = framing
        self.keepAlive = keepAlive
        self.upgrade = upgrade
        self.contentType = contentType
        self.isInformational = isInformational
    }

    /// Calls `body` with the name and the OWS-trimmed value of each field line, in order, without allocating.
    ///
    /// `bytes` must be the buffer this head was parsed from (at least ``headEnd`` bytes, unchanged).
    public func forEachField(
        in bytes: UnsafeRawBufferPointer, _ body: (_ name: Range<Int>, _ value: Range<Int>) -> Void
    ) {
        FieldWalk.forEachField(in: bytes, headEnd: headEnd, body)
    }
}

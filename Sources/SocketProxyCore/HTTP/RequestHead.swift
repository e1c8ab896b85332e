// A parsed request head: the request line and framing facts, as offsets into the caller's buffer.

/// A validated request head. Every `Range<Int>` is an offset range into the buffer that was parsed.
public struct RequestHead: Sendable, Equatable {
    /// The method; ``HTTPMethod/other`` for tokens outside the known set (see ``methodBytes``).
    public var method: HTTPMethod
    /// The method token's bytes.
    public var methodBytes: Range<Int>
    /// The request target's bytes, as sent (not normalised).
    public var target: Range<Int>
    /// HTTP/1.0 or HTTP/1.1.
    public var version: HTTPVersion
    /// Offset just past the CRLF CRLF: the body starts here.
    public var headEnd: Int
    /// The number of field lines.
    public var headerCount: Int
    /// How the body is delimited: ``BodyFraming/none`` when neither Content-Length nor Transfer-Encoding is present.
    public var framing: BodyFraming
    /// HTTP/1.1: true unless Connection has "close"; HTTP/1.0: true only with "keep-alive" (and no "close").
    public var keepAlive: Bool
    /// An Upgrade field is present and Connection lists "upgrade".
    public var upgrade: Bool
    /// Expect is exactly "100-continue" (case-insensitive); always false for HTTP/1.0, which has no interim
    /// responses (RFC 9110 §10.1.1).
    public var expectContinue: Bool
    /// The first Host value, trimmed of OWS; may be empty. Present in every valid HTTP/1.1 request.
    public var host: Range<Int>?
    /// The first Content-Type value, trimmed of OWS.
    public var contentType: Range<Int>?

    /// Creates a head from its parts; the parser is the usual source, this is for tests and embedders.
    public init(
        method: HTTPMethod, methodBytes: Range<Int>, target: Range<Int>, version: HTTPVersion, headEnd: Int,
        headerCount: Int, framing: BodyFraming, keepAlive: Bool, upgrade: Bool, expectContinue: Bool,
        host: Range<Int>?, contentType: Range<Int>?
    ) {
        self.method = method
        self.methodBytes = methodBytes
        self.target = target
        self.version = version
        self.headEnd = headEnd
        self.headerCount = headerCount
        self.framing = framing
        self.keepAlive = keepAlive
        self.upgrade = upgrade
        self.expectContinue = expectContinue
        self.host = host
        self.contentType = contentType
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

// How the body after a head is delimited (RFC 9112 §6.3).

/// Where a message body ends.
public enum BodyFraming: Sendable, Equatable {
    /// No body: the next message starts at the head's end.
    case none
    /// Exactly this many bytes (Content-Length); `length(0)` is an empty body.
    case length(UInt64)
    /// Transfer-Encoding: chunked; decode with ``ChunkedDecoder``.
    case chunked
    /// Responses only: the body lasts until the daemon closes the connection.
    case untilClose
}

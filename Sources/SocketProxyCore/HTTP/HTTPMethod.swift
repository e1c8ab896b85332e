// Request methods the proxy tells apart; everything else is a valid token reported as `.other`.

/// A request method. Methods are case-sensitive tokens (RFC 9110 §9.1): `GET` is ``get``, `get` is ``other``.
///
/// For ``other`` the exact bytes are in ``RequestHead/methodBytes``.
public enum HTTPMethod: UInt8, Sendable, Equatable {
    /// `GET`
    case get
    /// `HEAD`: the response has no body whatever its header fields say.
    case head
    /// `POST`
    case post
    /// `PUT`
    case put
    /// `DELETE`
    case delete
    /// `PATCH`
    case patch
    /// `OPTIONS`
    case options
    /// `CONNECT`
    case connect
    /// `TRACE`
    case trace
    /// Any other token.
    case other

    /// Upper-case name; "OTHER" for .other.
    public var name: String {
        switch self {
        case .get: "GET"
        case .head: "HEAD"
        case .post: "POST"
        case .put: "PUT"
        case .delete: "DELETE"
        case .patch: "PATCH"
        case .options: "OPTIONS"
        case .connect: "CONNECT"
        case .trace: "TRACE"
        case .other: "OTHER"
        }
    }
}

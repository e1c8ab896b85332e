// A set of HTTP methods a rule applies to, tested with one bit operation per request.

/// A set of HTTP methods, one bit per ``HTTPMethod``.
public struct MethodSet: OptionSet, Hashable, Sendable {
    /// One bit per method, at the method's raw value.
    public let rawValue: UInt16

    /// Creates a set from its bits.
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// The set holding just `method`.
    @inline(__always)
    public init(_ method: HTTPMethod) { self.init(rawValue: 1 << UInt16(method.rawValue)) }

    /// GET.
    public static let get = MethodSet(HTTPMethod.get)
    /// HEAD.
    public static let head = MethodSet(HTTPMethod.head)
    /// POST.
    public static let post = MethodSet(HTTPMethod.post)
    /// PUT.
    public static let put = MethodSet(HTTPMethod.put)
    /// DELETE.
    public static let delete = MethodSet(HTTPMethod.delete)
    /// PATCH.
    public static let patch = MethodSet(HTTPMethod.patch)
    /// OPTIONS.
    public static let options = MethodSet(HTTPMethod.options)
    /// CONNECT.
    public static let connect = MethodSet(HTTPMethod.connect)
    /// TRACE.
    public static let trace = MethodSet(HTTPMethod.trace)
    /// Any method the proxy does not name.
    public static let other = MethodSet(HTTPMethod.other)
    /// The methods that only read: GET and HEAD (HAProxy's `METH_GET`).
    public static let read: MethodSet = [.get, .head]
    /// Every method, including ``other``.
    public static let all: MethodSet = [.get, .head, .post, .put, .delete, .patch, .options, .connect, .trace, .other]

    /// Whether `method` is in the set. Allocates nothing.
    @inline(__always)
    public func contains(_ method: HTTPMethod) -> Bool { rawValue & (1 << UInt16(method.rawValue)) != 0 }

    /// Parses a configuration value: "*" for every method, or names separated by commas ("GET,HEAD").
    ///
    /// Names are matched without regard to case and may be surrounded by spaces.
    public init(parsing text: String) throws(ConfigurationError) {
        let trimmedText = ConfigurationText.trimmed(text)
        if trimmedText == "*" {
            self = .all
            return
        }
        var result: MethodSet = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let name = ConfigurationText.trimmed(part).uppercased()
            guard let match = MethodSet.byName.first(where: { $0.name == name }) else {
                let shown = name.isEmpty ? "an empty name" : "unknown method \"\(ConfigurationText.trimmed(part))\""
                throw ConfigurationError(
                    "methods \"\(text)\": \(shown); expected \"*\" or names from "
                        + MethodSet.byName.map(\.name).joined(separator: ", ") + " separated by commas")
            }
            result.insert(match.set)
        }
        self = result
    }

    /// The methods a configuration may name; `other` has no name of its own, "*" includes it.
    private static let byName: [(name: String, set: MethodSet)] = [
        ("GET", .get), ("HEAD", .head), ("POST", .post), ("PUT", .put), ("DELETE", .delete), ("PATCH", .patch),
        ("OPTIONS", .options), ("CONNECT", .connect), ("TRACE", .trace),
    ]
}

/// Small text helpers for configuration values; never used on a request.
enum ConfigurationText {
    /// `text` without leading and trailing whitespace.
    static func trimmed(_ text: some StringProtocol) -> Substring {
        let text = Substring(text)
        guard let first = text.firstIndex(where: { !$0.isWhitespace }) else { return text[text.endIndex...] }
        let last = text.lastIndex(where: { !$0.isWhitespace })!
        return text[first...last]
    }
}

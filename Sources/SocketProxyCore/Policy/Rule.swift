// One policy rule: methods, a path template and query constraints, allowing or denying what they match.

/// A rule of a ``Profile``: when the method is in ``methods``, the path matches ``path`` and every ``query``
/// constraint holds, ``action`` decides.
public struct Rule: Sendable {
    /// What a matching rule does.
    public enum Action: Sendable {
        /// The request goes to the daemon.
        case allow
        /// The request is refused.
        case deny
    }

    /// The name shown in audit records and denials, e.g. "CONTAINERS" or "ALLOW_START".
    public var name: String
    /// The methods the rule applies to.
    public var methods: MethodSet
    /// The paths the rule applies to.
    public var path: PathTemplate
    /// What the rule does when it matches.
    public var action: Action
    /// For deny rules: why, in words shown to the client.
    public var reason: String?
    /// Conditions on query parameters; all must hold for the rule to match. Empty: any query.
    public var query: [QueryConstraint] = []
    /// For allow rules: the limits the body of an inspected endpoint (container create and the like) must keep.
    /// Nil: bodies are not inspected.
    public var inspection: InspectionPolicy? = nil

    /// Creates a rule.
    public init(
        name: String, methods: MethodSet, path: PathTemplate, action: Action, reason: String? = nil,
        query: [QueryConstraint] = [], inspection: InspectionPolicy? = nil
    ) {
        self.name = name
        self.methods = methods
        self.path = path
        self.action = action
        self.reason = reason
        self.query = query
        self.inspection = inspection
    }

    /// Whether the rule applies to a request. `path` as in ``Profile/decide(method:path:query:)``, `query` the raw
    /// bytes after "?". Allocates nothing.
    @inline(__always)
    public func matches(method: HTTPMethod, path: UnsafeRawBufferPointer, query: UnsafeRawBufferPointer) -> Bool {
        methods.contains(method) && self.path.matches(path) && QueryConstraint.allSatisfied(self.query, by: query)
    }
}

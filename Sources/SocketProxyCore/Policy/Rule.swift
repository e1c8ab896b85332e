// One policy rule: methods and a path template, allowing or denying what they match.

/// A rule of a ``Profile``: when the method is in ``methods`` and the path matches ``path``, ``action`` decides.
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

    /// Creates a rule.
    public init(name: String, methods: MethodSet, path: PathTemplate, action: Action, reason: String? = nil) {
        self.name = name
        self.methods = methods
        self.path = path
        self.action = action
        self.reason = reason
    }
}

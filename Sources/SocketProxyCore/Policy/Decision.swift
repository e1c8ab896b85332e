// The outcome of matching a request against a profile.

/// What a ``Profile`` decided for one request.
public struct Decision: Sendable, Equatable {
    /// Whether the request may go to the daemon.
    public var allowed: Bool
    /// The index of the rule that decided in ``Profile/rules``; nil when no rule matched (default deny).
    public var ruleIndex: Int?
    /// The section the path names, whether allowed or not; nil for a path outside every section.
    public var section: Section?

    /// Creates a decision.
    public init(allowed: Bool, ruleIndex: Int?, section: Section?) {
        self.allowed = allowed
        self.ruleIndex = ruleIndex
        self.section = section
    }
}

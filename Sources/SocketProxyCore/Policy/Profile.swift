// An ordered list of rules: the first rule matching method and path decides, otherwise the request is denied.

/// A named, ordered list of rules. The first rule whose methods and path match decides; when none does, the
/// request is denied.
public struct Profile: Sendable {
    /// The profile's name, for audit and messages.
    public var name: String
    /// The rules, in the order they are tried.
    public var rules: [Rule] {
        didSet { candidates = Self.candidates(for: rules) }
    }
    /// For each section (and, last, for paths outside every section), the indices of the rules that can match its
    /// paths, in order: a request is tried only against those. Rules whose first segment is a variable are in
    /// every list.
    private var candidates: [[Int]]

    /// Creates a profile.
    public init(name: String, rules: [Rule]) {
        self.name = name
        self.rules = rules
        candidates = Self.candidates(for: rules)
    }

    private static func candidates(for rules: [Rule]) -> [[Int]] {
        let others = Section.allCases.count
        var lists = [[Int]](repeating: [], count: others + 1)
        for (index, rule) in rules.enumerated() {
            if let section = rule.path.section {
                lists[section.ordinal].append(index)
            } else if rule.path.startsWithLiteral {
                lists[others].append(index)
            } else {
                for bucket in lists.indices { lists[bucket].append(index) }
            }
        }
        return lists
    }

    /// First matching rule (method and path) wins; none -> default deny. No allocation.
    ///
    /// `path` is the normalised path from ``RequestTarget/parse(_:scratch:)``, without version prefix or query. The
    /// query counts as empty: a rule with query constraints that need a parameter does not match.
    public func decide(method: HTTPMethod, path: UnsafeRawBufferPointer) -> Decision {
        decide(method: method, path: path, query: UnsafeRawBufferPointer(start: nil, count: 0))
    }

    /// First rule whose methods, path and query constraints match wins; none -> default deny. No allocation.
    ///
    /// `path` is the normalised path from ``RequestTarget/parse(_:scratch:)``, without version prefix or query;
    /// `query` is the raw query after "?" (``RequestTarget/query`` of the original target), empty when there is none.
    public func decide(method: HTTPMethod, path: UnsafeRawBufferPointer, query: UnsafeRawBufferPointer) -> Decision {
        let section = Section(firstSegmentOf: path)
        let bucket = section?.ordinal ?? Section.allCases.count
        for index in candidates[bucket] where rules[index].matches(method: method, path: path, query: query) {
            return Decision(allowed: rules[index].action == .allow, ruleIndex: index, section: section)
        }
        return Decision(allowed: false, ruleIndex: nil, section: section)
    }

    /// The limits a request body must keep when `decision` allowed it: the deciding rule's
    /// ``Rule/inspection``. Nil for a denial, or when the rule does not inspect bodies.
    public func inspection(for decision: Decision) -> InspectionPolicy? {
        guard decision.allowed, let index = decision.ruleIndex, rules.indices.contains(index) else { return nil }
        return rules[index].inspection
    }

    /// Human message for a denial: "socket-proxy: POST /v1.41/containers/create is denied: only GET and HEAD are
    /// allowed (POST=0)". `displayPath` is the original target without query.
    public func denialMessage(for decision: Decision, method: String, displayPath: String) -> String {
        "socket-proxy: \(method) \(displayPath) is denied: \(denialReason(for: decision))"
    }

    /// The rule name for audit: rules[i].name or "default-deny".
    public func ruleName(for decision: Decision) -> String {
        guard let index = decision.ruleIndex, rules.indices.contains(index) else { return "default-deny" }
        return rules[index].name
    }

    /// Why the request was denied: the rule's reason, or what the default deny means for this path.
    public func denialReason(for decision: Decision) -> String {
        assert(!decision.allowed, "a denial message for an allowed request")
        if let index = decision.ruleIndex, rules.indices.contains(index) {
            return rules[index].reason ?? "rule \(rules[index].name) of profile \(name) denies it"
        }
        guard decision.section != nil else { return "not a Docker API section" }
        return "no rule of profile \(name) allows it"
    }
}

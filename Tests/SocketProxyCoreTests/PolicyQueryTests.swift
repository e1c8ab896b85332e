// Tests for query constraints and multi-segment path variables: matching on raw bytes as the daemon reads them.
import Testing

@testable import SocketProxyCore

/// `QueryConstraint`: one parameter, read as Go's `url.ParseQuery` reads it.
struct PolicyQueryConstraintTests {
    /// A constraint, a raw query, and whether it holds.
    static let cases: [(QueryConstraint, String, Bool)] = [
        (QueryConstraint(name: "force", .absent), "", true),
        (QueryConstraint(name: "force", .absent), "v=1", true),
        (QueryConstraint(name: "force", .absent), "force=1", false),
        (QueryConstraint(name: "force", .absent), "force", false),
        (QueryConstraint(name: "force", .absent), "force=", false),
        (QueryConstraint(name: "force", .absent), "v=1&force=0", false),
        (QueryConstraint(name: "force", .absent), "%66orce=1", false),
        (QueryConstraint(name: "force", .absent), "forced=1", true),
        (QueryConstraint(name: "force", .absent), "Force=1", true),
        (QueryConstraint(name: "force", .absent), "&&v=1&&", true),
        (QueryConstraint(name: "filters", .anyValue), "filters=%7B%7D", true),
        (QueryConstraint(name: "filters", .anyValue), "filters=", true),
        (QueryConstraint(name: "filters", .anyValue), "filters", true),
        (QueryConstraint(name: "filters", .anyValue), "", false),
        (QueryConstraint(name: "filters", .anyValue), "filter=x", false),
        (QueryConstraint(name: "all", .oneOf(["1", "true"])), "all=1", true),
        (QueryConstraint(name: "all", .oneOf(["1", "true"])), "all=true", true),
        (QueryConstraint(name: "all", .oneOf(["1", "true"])), "all=%31", true),
        (QueryConstraint(name: "all", .oneOf(["1", "true"])), "all=yes", false),
        (QueryConstraint(name: "all", .oneOf(["1", "true"])), "all=TRUE", false),
        (QueryConstraint(name: "all", .oneOf(["1", "true"])), "", false),
        (QueryConstraint(name: "all", .oneOf(["1", "true"])), "all=1&all=0", false),
        (QueryConstraint(name: "all", .oneOf(["1", "true"])), "all=1&all=true", true),
        (QueryConstraint(name: "all", .oneOf(["1", "true"])), "all", false),
        (QueryConstraint(name: "all", .oneOf([""])), "all", true),
        (QueryConstraint(name: "all", .oneOf([""])), "all=", true),
        (QueryConstraint(name: "tag", .oneOf(["a b"])), "tag=a+b", true),
        (QueryConstraint(name: "tag", .oneOf(["a b"])), "tag=a%20b", true),
        (QueryConstraint(name: "tag", .oneOf(["a+b"])), "tag=a%2Bb", true),
        (QueryConstraint(name: "tag", .oneOf(["a+b"])), "tag=a+b", false),
        (QueryConstraint(name: "tag", .oneOf(["x=y"])), "tag=x=y", true),
        (QueryConstraint(name: "from image", .anyValue), "from+image=x", true),
        (QueryConstraint(name: "force", .absentOrOneOf(["0", "false"])), "", true),
        (QueryConstraint(name: "force", .absentOrOneOf(["0", "false"])), "force=0", true),
        (QueryConstraint(name: "force", .absentOrOneOf(["0", "false"])), "force=false", true),
        (QueryConstraint(name: "force", .absentOrOneOf(["0", "false"])), "force=1", false),
        (QueryConstraint(name: "force", .absentOrOneOf(["0", "false"])), "force=0&force=yes", false),
        // A query the daemon could read another way holds for no constraint, not even `absent`.
        (QueryConstraint(name: "force", .absent), "v=1;force=1", false),
        (QueryConstraint(name: "force", .absent), "v=%zz", false),
        (QueryConstraint(name: "force", .absent), "v=%4", false),
        (QueryConstraint(name: "all", .oneOf(["1"])), "all=1;x", false),
        (QueryConstraint(name: "all", .oneOf(["1"])), "all=1&x=%", false),
    ]

    @Test(arguments: cases)
    func holdsExactlyWhenTheDaemonWouldSeeTheParameterSo(constraint: QueryConstraint, query: String, expected: Bool) {
        let holds = Array(query.utf8).withUnsafeBytes { constraint.isSatisfied(by: $0) }
        #expect(holds == expected)
        let allHold = Array(query.utf8).withUnsafeBytes { QueryConstraint.allSatisfied([constraint], by: $0) }
        #expect(allHold == expected)
    }

    @Test func anEmptyListHoldsForAnyQueryEvenAMalformedOne() {
        for query in ["", "a=1", "a=%zz", "a;b"] {
            #expect(Array(query.utf8).withUnsafeBytes { QueryConstraint.allSatisfied([], by: $0) })
        }
    }

    @Test func everyConstraintOfAListMustHold() {
        let constraints = [
            QueryConstraint(name: "all", .oneOf(["1", "true"])), QueryConstraint(name: "filters", .anyValue),
            QueryConstraint(name: "force", .absent),
        ]
        let expectations: [(String, Bool)] = [
            ("all=1&filters=x", true), ("filters=x&all=true", true), ("all=1", false), ("filters=x", false),
            ("all=1&filters=x&force=0", false), ("all=2&filters=x", false),
        ]
        for (query, expected) in expectations {
            #expect(Array(query.utf8).withUnsafeBytes { QueryConstraint.allSatisfied(constraints, by: $0) } == expected)
        }
    }

    @Test func describesItselfInPolicyFileSyntax() {
        #expect(QueryConstraint(name: "force", .absent).description == "force: absent")
        #expect(QueryConstraint(name: "filters", .anyValue).description == "filters: any")
        #expect(QueryConstraint(name: "all", .oneOf(["1", "true"])).description == "all: [\"1\", \"true\"]")
        #expect(QueryConstraint(name: "v", .absentOrOneOf(["0"])).description == "v: [absent, \"0\"]")
    }
}

/// `Profile.decide(method:path:query:)`: rules with query constraints, from the raw target on.
struct PolicyProfileQueryTests {
    static let profile = Profile(
        name: "q",
        rules: [
            Rule(
                name: "list-all", methods: .read, path: try! PathTemplate(parsing: "/containers/json"), action: .allow,
                query: [QueryConstraint(name: "all", .oneOf(["1", "true"]))]),
            Rule(
                name: "remove-unforced", methods: .delete, path: try! PathTemplate(parsing: "/containers/{id}"),
                action: .allow, query: [QueryConstraint(name: "force", .absentOrOneOf(["0", "false"]))]),
            Rule(
                name: "pull-only", methods: .post, path: try! PathTemplate(parsing: "/images/create"), action: .allow,
                query: [QueryConstraint(name: "fromImage", .anyValue), QueryConstraint(name: "fromSrc", .absent)]),
            Rule(
                name: "no-forced-image-removal", methods: .delete, path: try! PathTemplate(parsing: "/images/{name+}"),
                action: .deny, reason: "forced", query: [QueryConstraint(name: "force", .anyValue)]),
            Rule(
                name: "image-removal", methods: .delete, path: try! PathTemplate(parsing: "/images/{name+}"),
                action: .allow),
        ])

    /// Method, raw target, and the rule that decides (nil: default deny) with the verdict.
    static let requests: [(HTTPMethod, String, String?, Bool)] = [
        (.get, "/v1.47/containers/json?all=1", "list-all", true),
        (.get, "/containers/json?all=true&size=1", "list-all", true),
        (.get, "/containers/json", nil, false),
        (.get, "/containers/json?all=0", nil, false),
        (.get, "/containers/json?all=1&all=0", nil, false),
        (.delete, "/containers/abc", "remove-unforced", true),
        (.delete, "/containers/abc?force=false&v=1", "remove-unforced", true),
        (.delete, "/containers/abc?force=1", nil, false),
        (.delete, "/containers/abc?force=0;force=1", nil, false),
        (.post, "/images/create?fromImage=alpine&tag=3", "pull-only", true),
        (.post, "/images/create?fromImage=alpine&fromSrc=-", nil, false),
        (.post, "/images/create?fromSrc=https%3A%2F%2Fexample.com%2Frootfs.tar", nil, false),
        (.delete, "/images/ghcr.io/team/app:1?force=1", "no-forced-image-removal", false),
        (.delete, "/images/ghcr.io/team/app:1", "image-removal", true),
    ]

    @Test(arguments: requests)
    func decidesOnMethodPathAndQuery(method: HTTPMethod, target: String, rule: String?, allowed: Bool) {
        let explanation = Explanation(method: method.name, target: target, profile: Self.profile)
        #expect(explanation.verdict == (allowed ? .allow : .deny))
        #expect(explanation.ruleName == (rule ?? "default-deny"))
    }

    @Test func theTwoArgumentFormMeansAnEmptyQuery() {
        let path = Array("/containers/abc".utf8)
        let decision = path.withUnsafeBytes { Self.profile.decide(method: .delete, path: $0) }
        #expect(decision == Decision(allowed: true, ruleIndex: 1, section: .containers))
        let listing = Array("/containers/json".utf8).withUnsafeBytes { Self.profile.decide(method: .get, path: $0) }
        #expect(listing == Decision(allowed: false, ruleIndex: nil, section: .containers))
    }

    @Test func theInspectionOfADecisionIsTheAllowingRules() {
        let strict = InspectionPolicy()
        var relaxed = InspectionPolicy()
        relaxed.allowPrivileged = true
        let profile = Profile(
            name: "i",
            rules: [
                Rule(
                    name: "create", methods: .post, path: try! PathTemplate(parsing: "/containers/create"),
                    action: .allow, inspection: relaxed),
                Rule(
                    name: "exec", methods: .post, path: try! PathTemplate(parsing: "/containers/{id}/exec"),
                    action: .allow),
                Rule(name: "no", methods: .all, path: try! PathTemplate(parsing: "/{rest...}"), action: .deny),
            ])
        #expect(Explanation(method: "POST", target: "/containers/create", profile: profile).inspection == relaxed)
        #expect(Explanation(method: "POST", target: "/containers/x/exec", profile: profile).inspection == nil)
        #expect(profile.inspection(for: Decision(allowed: false, ruleIndex: 2, section: nil)) == nil)
        #expect(profile.inspection(for: Decision(allowed: true, ruleIndex: 0, section: .containers)) == relaxed)
        #expect(relaxed != strict)
    }
}

/// `PathTemplate` `{name+}`: one or more segments anywhere, as the daemon's `{name:.*}` routes match.
struct PolicyMultiSegmentTemplateTests {
    static let matching: [(String, String, Bool)] = [
        ("/images/{name+}/json", "/images/alpine/json", true),
        ("/images/{name+}/json", "/images/ghcr.io/team/app:1/json", true),
        ("/images/{name+}/json", "/images/json", false),
        ("/images/{name+}/json", "/images/alpine/json/x", false),
        ("/images/{name+}/json", "/images/a/json/json", true),
        ("/images/{name+}/json", "/imagesX/alpine/json", false),
        ("/images/{name+}/json", "/images//json", false),
        ("/images/{name+}/json", "/images/a//b/json", false),
        ("/images/{name+}/json", "/images/alpine/jsonx", false),
        ("/images/{name+}", "/images/a", true),
        ("/images/{name+}", "/images/a/b/c", true),
        ("/images/{name+}", "/images", false),
        ("/images/{name+}", "/images/", false),
        ("/images/{name+}", "/images/a/", false),
        ("/containers/{id+}/attach/ws", "/containers/web/db/attach/ws", true),
        ("/containers/{id+}/attach/ws", "/containers/x/attach", false),
        ("/containers/{id+}/attach", "/containers/x/attach/ws", false),
        ("/containers/{id+}/{action}", "/containers/a/b/start", true),
        ("/containers/{id+}/{action}", "/containers/a", false),
        ("/{first+}", "/", false),
        ("/{first+}", "/x/y", true),
        ("/{first+}/x", "/x", false),
        ("/{first+}/x", "/a/x", true),
    ]

    @Test(arguments: matching)
    func matchesOneOrMoreSegments(template: String, path: String, expected: Bool) throws {
        let parsed = try PathTemplate(parsing: template)
        #expect(Array(path.utf8).withUnsafeBytes { parsed.matches($0) } == expected)
    }

    static let invalid: [(String, String)] = [
        ("/a/{x+}/{y+}", "has two variables that match several segments; only one may"),
        ("/a/{x+}/{y...}", "has two variables that match several segments; only one may"),
        ("/a/{x...}/{y+}", "{x...} must be the last segment"),
        ("/a/{+}", "has a variable without a name"),
        ("/a/{x+}/{x}", "names the variable \"x\" twice"),
        ("/a/{x-+}", "variable name \"x-\" must be letters, digits or \"_\""),
    ]

    @Test(arguments: invalid)
    func refusesTemplatesItCannotMatchUnambiguously(text: String, problem: String) {
        #expect(throws: ConfigurationError("path template \"\(text)\": \(problem)")) { try PathTemplate(parsing: text) }
    }

    @Test func namesTheSectionOfTheFirstLiteral() throws {
        #expect(try PathTemplate(parsing: "/images/{name+}/json").section == .images)
        #expect(try PathTemplate(parsing: "/{name+}/json").section == nil)
    }
}

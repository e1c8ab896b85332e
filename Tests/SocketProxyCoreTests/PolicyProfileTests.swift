// Tests for the rule engine: sections, method sets, and first-match-wins profiles with their messages.
import Testing

@testable import SocketProxyCore

/// `Section`: the first path segment, matched exactly.
struct PolicySectionTests {
    static let paths: [(String, Section?)] = [
        ("/containers/json", .containers),
        ("/containers", .containers),
        ("/_ping", .ping),
        ("/exec/abc/start", .exec),
        ("/volumes/x", .volumes),
        ("/containersX/json", nil),
        ("/container/json", nil),
        ("/Containers/json", nil),
        ("/ping", nil),
        ("/", nil),
        ("", nil),
        ("containers", nil),
        ("/v1.41/containers", nil),
    ]

    @Test(arguments: paths)
    func namesTheSectionOfTheFirstSegmentExactly(path: String, section: Section?) {
        #expect(Array(path.utf8).withUnsafeBytes { Section(firstSegmentOf: $0) } == section)
    }

    @Test(arguments: Section.allCases)
    func recognisesEverySectionByItsOwnName(section: Section) {
        let path = "/" + section.rawValue + "/x"
        #expect(Array(path.utf8).withUnsafeBytes { Section(firstSegmentOf: $0) } == section)
    }

    @Test func namesTheTecnativaVariables() {
        #expect(Section.containers.variable == "CONTAINERS")
        #expect(Section.ping.variable == "PING")
        #expect(Section.distribution.variable == "DISTRIBUTION")
        #expect(Section.allCases.count == 23)
    }
}

/// `MethodSet`: bits per method and the configuration syntax.
struct PolicyMethodSetTests {
    static let methods: [HTTPMethod] = [
        .get, .head, .post, .put, .delete, .patch, .options, .connect, .trace, .other,
    ]

    @Test(arguments: methods)
    func holdsExactlyTheMethodItWasMadeFrom(method: HTTPMethod) {
        let set = MethodSet(method)
        for other in Self.methods {
            #expect(set.contains(other) == (other == method))
        }
        #expect(MethodSet.all.contains(method))
    }

    @Test func readHoldsOnlyGetAndHead() {
        let read = Self.methods.filter { MethodSet.read.contains($0) }
        #expect(read == [.get, .head])
    }

    static let parsed: [(String, MethodSet)] = [
        ("GET,HEAD", [.get, .head]),
        ("GET", [.get]),
        (" post , delete ", [.post, .delete]),
        ("get,Head", [.get, .head]),
        ("PUT,PATCH,OPTIONS,CONNECT,TRACE", [.put, .patch, .options, .connect, .trace]),
        ("GET,GET", [.get]),
        ("*", .all),
        (" * ", .all),
    ]

    @Test(arguments: parsed)
    func parsesConfiguredMethods(text: String, expected: MethodSet) throws {
        #expect(try MethodSet(parsing: text) == expected)
    }

    static let invalid: [(String, String)] = [
        ("FETCH", "unknown method \"FETCH\""),
        ("GET,", "an empty name"),
        ("", "an empty name"),
        ("GET,*", "unknown method \"*\""),
        ("OTHER", "unknown method \"OTHER\""),
    ]

    @Test(arguments: invalid)
    func refusesUnknownMethodsNamingThem(text: String, problem: String) {
        let expected = ConfigurationError(
            "methods \"\(text)\": \(problem); expected \"*\" or names from GET, HEAD, POST, PUT, DELETE, PATCH, "
                + "OPTIONS, CONNECT, TRACE separated by commas")
        #expect(throws: expected) { try MethodSet(parsing: text) }
    }
}

/// `Profile`: first match wins, default deny, and the words shown for a denial.
struct PolicyProfileTests {
    static func rule(
        _ name: String, _ methods: MethodSet, _ path: String, _ action: Rule.Action, _ reason: String? = nil
    ) -> Rule {
        Rule(name: name, methods: methods, path: try! PathTemplate(parsing: path), action: action, reason: reason)
    }

    static let profile = Profile(
        name: "test",
        rules: [
            rule("no-secrets-file", .all, "/containers/{id}/archive", .deny, "archive is off"),
            rule("start", .post, "/containers/{id}/start", .allow),
            rule("read", .read, "/containers/{rest...}", .allow),
            rule("silent", .all, "/images/{rest...}", .deny),
        ])

    static func decide(_ method: HTTPMethod, _ path: String) -> Decision {
        Array(path.utf8).withUnsafeBytes { profile.decide(method: method, path: $0) }
    }

    static let decisions: [(HTTPMethod, String, Decision)] = [
        (.get, "/containers/json", Decision(allowed: true, ruleIndex: 2, section: .containers)),
        (.head, "/containers/json", Decision(allowed: true, ruleIndex: 2, section: .containers)),
        (.post, "/containers/abc/start", Decision(allowed: true, ruleIndex: 1, section: .containers)),
        (.get, "/containers/abc/archive", Decision(allowed: false, ruleIndex: 0, section: .containers)),
        (.put, "/containers/abc/archive", Decision(allowed: false, ruleIndex: 0, section: .containers)),
        (.post, "/containers/create", Decision(allowed: false, ruleIndex: nil, section: .containers)),
        (.delete, "/containers/abc/start", Decision(allowed: false, ruleIndex: nil, section: .containers)),
        (.get, "/images/json", Decision(allowed: false, ruleIndex: 3, section: .images)),
        (.get, "/nothing", Decision(allowed: false, ruleIndex: nil, section: nil)),
        (.get, "/", Decision(allowed: false, ruleIndex: nil, section: nil)),
    ]

    @Test(arguments: decisions)
    func theFirstMatchingRuleDecides(method: HTTPMethod, path: String, expected: Decision) {
        #expect(Self.decide(method, path) == expected)
    }

    @Test func anEmptyProfileDeniesEverything() {
        let empty = Profile(name: "empty", rules: [])
        let decision = Array("/_ping".utf8).withUnsafeBytes { empty.decide(method: .get, path: $0) }
        #expect(decision == Decision(allowed: false, ruleIndex: nil, section: .ping))
        #expect(empty.ruleName(for: decision) == "default-deny")
    }

    static let messages: [(HTTPMethod, String, String, String)] = [
        (
            .get, "/containers/abc/archive", "no-secrets-file",
            "socket-proxy: GET /v1.41/containers/abc/archive is denied: archive is off"
        ),
        (
            .get, "/images/json", "silent",
            "socket-proxy: GET /v1.41/images/json is denied: rule silent of profile test denies it"
        ),
        (
            .post, "/containers/create", "default-deny",
            "socket-proxy: POST /v1.41/containers/create is denied: no rule of profile test allows it"
        ),
        (.get, "/nothing", "default-deny", "socket-proxy: GET /v1.41/nothing is denied: not a Docker API section"),
    ]

    @Test(arguments: messages)
    func explainsADenialWithTheRuleName(method: HTTPMethod, path: String, ruleName: String, message: String) {
        let decision = Self.decide(method, path)
        #expect(Self.profile.ruleName(for: decision) == ruleName)
        #expect(Self.profile.denialMessage(for: decision, method: method.name, displayPath: "/v1.41" + path) == message)
    }

    @Test func namesTheAllowingRule() {
        #expect(Self.profile.ruleName(for: Self.decide(.post, "/containers/abc/start")) == "start")
    }
}

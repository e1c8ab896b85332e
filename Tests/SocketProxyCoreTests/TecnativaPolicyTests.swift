// Tests for the profile Tecnativa settings stand for: every variable, from the raw request target to the decision.
import Testing

@testable import SocketProxyCore

/// `TecnativaSettings.profile()`, exercised end to end: target parsed as the daemon routes it, then decided.
struct TecnativaPolicyTests {
    /// What the proxy did with one request.
    struct Outcome: Equatable, CustomStringConvertible {
        var allowed: Bool
        var rule: String

        var description: String { "\(allowed ? "allowed" : "denied") by \(rule)" }

        static func allowed(_ rule: String) -> Outcome { Outcome(allowed: true, rule: rule) }
        static func denied(_ rule: String) -> Outcome { Outcome(allowed: false, rule: rule) }
    }

    /// The environment without the variables that default to on, so that only what a case sets is on.
    static let nothingOn = ["EVENTS": "0", "PING": "0", "VERSION": "0"]

    /// Parses `target` and decides it under the profile `environment` stands for; returns the outcome and message.
    static func decide(
        _ environment: [String: String], _ method: HTTPMethod, _ target: String
    ) throws -> (outcome: Outcome, message: String) {
        let profile = try TecnativaSettings(environment: environment).profile()
        let bytes = Array(target.utf8)
        var scratch = [UInt8](repeating: 0, count: bytes.count)
        let decision = try bytes.withUnsafeBytes { target in
            try scratch.withUnsafeMutableBytes { scratch in
                let parsed = try RequestTarget.parse(target, scratch: scratch).get()
                return profile.decide(method: method, path: UnsafeRawBufferPointer(rebasing: scratch[parsed.path]))
            }
        }
        let displayPath = String(target.split(separator: "?", omittingEmptySubsequences: false)[0])
        var message = ""
        if !decision.allowed {
            message = profile.denialMessage(for: decision, method: method.name, displayPath: displayPath)
        }
        return (Outcome(allowed: decision.allowed, rule: profile.ruleName(for: decision)), message)
    }

    // MARK: - Every section variable

    static let sectionVariables = Section.allCases.filter { ![.events, .ping, .version].contains($0) }

    @Test(arguments: Section.allCases)
    func aSectionThatIsOffDeniesEvenReads(section: Section) throws {
        let result = try Self.decide(Self.nothingOn, .get, "/v1.41/\(section.rawValue)/json")
        #expect(result.outcome == .denied("\(section.variable)-off"))
        #expect(
            result.message
                == "socket-proxy: GET /v1.41/\(section.rawValue)/json is denied: "
                + "the \(section.rawValue) section is off (\(section.variable)=0)")
    }

    @Test(arguments: sectionVariables)
    func aSectionIsOffByDefault(section: Section) throws {
        #expect(try Self.decide([:], .get, "/\(section.rawValue)").outcome == .denied("\(section.variable)-off"))
    }

    @Test(arguments: Section.allCases)
    func aSectionThatIsOnAllowsGetAndHeadOnItselfAndBelow(section: Section) throws {
        let environment = Self.nothingOn.merging([section.variable: "1"]) { $1 }
        let name = section.rawValue
        #expect(try Self.decide(environment, .get, "/\(name)").outcome == .allowed(section.variable))
        #expect(try Self.decide(environment, .get, "/v1.41/\(name)/abc/json").outcome == .allowed(section.variable))
        #expect(try Self.decide(environment, .head, "/v1.47/\(name)/abc").outcome == .allowed(section.variable))
    }

    @Test(arguments: Section.allCases)
    func aSectionThatIsOnRefusesWritesUnlessPostIsOn(section: Section) throws {
        let readOnly = Self.nothingOn.merging([section.variable: "1"]) { $1 }
        let writable = readOnly.merging(["POST": "1"]) { $1 }
        let target = "/v1.41/\(section.rawValue)/create"
        for method: HTTPMethod in [.post, .put, .delete, .patch, .options, .other] {
            let denied = try Self.decide(readOnly, method, target)
            #expect(denied.outcome == .denied("\(section.variable)-read-only"))
            #expect(
                denied.message
                    == "socket-proxy: \(method.name) \(target) is denied: only GET and HEAD are allowed (POST=0)")
            #expect(try Self.decide(writable, method, target).outcome == .allowed(section.variable))
        }
    }

    @Test(arguments: Section.allCases)
    func postDoesNotTurnOnASection(section: Section) throws {
        let environment = Self.nothingOn.merging(["POST": "1"]) { $1 }
        let outcome = try Self.decide(environment, .post, "/\(section.rawValue)/create").outcome
        #expect(outcome == .denied("\(section.variable)-off"))
    }

    @Test(arguments: ["EVENTS", "PING", "VERSION"])
    func eventsPingAndVersionAreOnByDefault(variable: String) throws {
        let path = ["EVENTS": "/events", "PING": "/_ping", "VERSION": "/version"][variable]!
        #expect(try Self.decide([:], .get, "/v1.41" + path).outcome == .allowed(variable))
        #expect(try Self.decide([:], .head, path).outcome == .allowed(variable))
        #expect(try Self.decide([:], .post, path).outcome == .denied("\(variable)-read-only"))
        #expect(try Self.decide([variable: "0"], .get, path).outcome == .denied("\(variable)-off"))
    }

    // MARK: - Endpoints with rules of their own

    /// One request under one environment, and what must happen to it.
    struct Case: CustomStringConvertible, Sendable {
        var environment: [String: String]
        var method: HTTPMethod
        var target: String
        var expected: Outcome

        init(_ environment: [String: String], _ method: HTTPMethod, _ target: String, _ expected: Outcome) {
            self.environment = environment
            self.method = method
            self.target = target
            self.expected = expected
        }

        var description: String {
            let variables = environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            return "\(method.name) \(target) with \(variables.joined(separator: " ")) is \(expected)"
        }
    }

    static let endpoints: [Case] = [
        // ALLOW_START, ALLOW_STOP, ALLOW_RESTARTS work with POST=0, and with CONTAINERS=0, for POST only.
        Case(["ALLOW_START": "1"], .post, "/v1.41/containers/abc/start", .allowed("ALLOW_START")),
        Case(["ALLOW_START": "1", "CONTAINERS": "1"], .post, "/containers/abc/start", .allowed("ALLOW_START")),
        Case(["ALLOW_START": "1"], .post, "/containers/abc/stop", .denied("CONTAINERS-off")),
        Case(["ALLOW_START": "1"], .delete, "/containers/abc/start", .denied("CONTAINERS-off")),
        Case(["ALLOW_START": "1"], .get, "/containers/json", .denied("CONTAINERS-off")),
        Case(["ALLOW_START": "1"], .post, "/containers/abc/start/x", .denied("CONTAINERS-off")),
        Case(["ALLOW_START": "1"], .post, "/containersX/abc/start", .denied("default-deny")),
        Case(["ALLOW_START": "1", "CONTAINERS": "1"], .post, "/containers/abc/stop", .denied("CONTAINERS-read-only")),
        Case(["ALLOW_STOP": "1"], .post, "/v1.41/containers/abc/stop", .allowed("ALLOW_STOP")),
        Case(["ALLOW_STOP": "1"], .post, "/containers/abc/restart", .denied("CONTAINERS-off")),
        Case(["ALLOW_STOP": "1"], .post, "/containers/abc/start", .denied("CONTAINERS-off")),
        Case(["ALLOW_RESTARTS": "1"], .post, "/containers/abc/stop", .allowed("ALLOW_RESTARTS")),
        Case(["ALLOW_RESTARTS": "1"], .post, "/containers/abc/restart", .allowed("ALLOW_RESTARTS")),
        Case(["ALLOW_RESTARTS": "1"], .post, "/v1.41/containers/abc/kill?signal=HUP", .allowed("ALLOW_RESTARTS")),
        Case(["ALLOW_RESTARTS": "1"], .post, "/containers/abc/start", .denied("CONTAINERS-off")),
        Case(["ALLOW_RESTARTS": "1"], .put, "/containers/abc/kill", .denied("CONTAINERS-off")),
        Case(["ALLOW_RESTARTS": "1", "CONTAINERS": "1"], .get, "/containers/abc/json", .allowed("CONTAINERS")),
        Case(
            ["ALLOW_START": "0", "CONTAINERS": "1", "POST": "1"], .post, "/containers/a/start",
            .allowed("CONTAINERS")),

        // Creating an exec needs EXEC as well as CONTAINERS and POST.
        Case(["CONTAINERS": "1", "POST": "1"], .post, "/containers/abc/exec", .denied("EXEC-create-needs-EXEC")),
        Case(["CONTAINERS": "1"], .post, "/containers/abc/exec", .denied("EXEC-create-needs-EXEC")),
        Case(["CONTAINERS": "1", "POST": "1", "EXEC": "1"], .post, "/containers/abc/exec", .allowed("CONTAINERS")),
        Case(["CONTAINERS": "1", "EXEC": "1"], .post, "/containers/abc/exec", .denied("CONTAINERS-read-only")),
        Case(["POST": "1", "EXEC": "1"], .post, "/containers/abc/exec", .denied("CONTAINERS-off")),
        Case(["POST": "1", "EXEC": "1"], .post, "/v1.41/exec/123/start", .allowed("EXEC")),
        Case(["POST": "1"], .post, "/exec/123/start", .denied("EXEC-off")),
        Case(["EXEC": "1"], .get, "/exec/123/json", .allowed("EXEC")),

        // The archive, export and attach endpoints need their own variables on top of CONTAINERS.
        Case(["CONTAINERS": "1"], .get, "/containers/abc/archive?path=/etc", .denied("ARCHIVE-needs-ALLOW_ARCHIVE")),
        Case(["CONTAINERS": "1"], .head, "/containers/abc/archive?path=/", .denied("ARCHIVE-needs-ALLOW_ARCHIVE")),
        Case(
            ["CONTAINERS": "1", "POST": "1"], .put, "/containers/abc/archive", .denied("ARCHIVE-needs-ALLOW_ARCHIVE")),
        Case(["CONTAINERS": "1", "ALLOW_ARCHIVE": "1"], .get, "/containers/abc/archive", .allowed("CONTAINERS")),
        Case(
            ["CONTAINERS": "1", "ALLOW_ARCHIVE": "1"], .put, "/containers/abc/archive",
            .denied("CONTAINERS-read-only")),
        Case(
            ["CONTAINERS": "1", "ALLOW_ARCHIVE": "1", "POST": "1"], .put, "/containers/a/archive",
            .allowed("CONTAINERS")),
        Case(["ALLOW_ARCHIVE": "1"], .get, "/containers/abc/archive", .denied("CONTAINERS-off")),
        Case(["CONTAINERS": "1"], .get, "/v1.41/containers/abc/export", .denied("EXPORT-needs-ALLOW_EXPORT")),
        Case(["CONTAINERS": "1", "ALLOW_EXPORT": "1"], .get, "/containers/abc/export", .allowed("CONTAINERS")),
        Case(["ALLOW_EXPORT": "1"], .get, "/containers/abc/export", .denied("CONTAINERS-off")),
        Case(["CONTAINERS": "1", "POST": "1"], .post, "/containers/abc/attach", .denied("ATTACH-needs-ALLOW_ATTACH")),
        Case(["CONTAINERS": "1"], .get, "/containers/abc/attach/ws", .denied("ATTACH-needs-ALLOW_ATTACH")),
        Case(
            ["CONTAINERS": "1", "POST": "1", "ALLOW_ATTACH": "1"], .post, "/containers/a/attach",
            .allowed("CONTAINERS")),
        Case(
            ["CONTAINERS": "1", "ALLOW_ATTACH": "1"], .get, "/containers/abc/attach/ws",
            .denied("ATTACH-ws-needs-POST")),
        Case(
            ["CONTAINERS": "1", "ALLOW_ATTACH": "1", "POST": "1"], .get, "/containers/abc/attach/ws",
            .allowed("CONTAINERS")),
        Case(["ALLOW_ATTACH": "1"], .get, "/containers/abc/attach/ws", .denied("CONTAINERS-off")),
        Case(["CONTAINERS": "1"], .get, "/containers/abc/logs?follow=1", .allowed("CONTAINERS")),
        Case(["CONTAINERS": "1"], .get, "/containers/abc/attachments", .allowed("CONTAINERS")),

        // Exact first segment, exact case, one version prefix, decoded once.
        Case(["CONTAINERS": "1"], .get, "/containersX/json", .denied("default-deny")),
        Case(["CONTAINERS": "1"], .get, "/v1.41/containersX/json", .denied("default-deny")),
        Case(["CONTAINERS": "1"], .get, "/Containers/json", .denied("default-deny")),
        Case(["CONTAINERS": "1"], .get, "/v1.41/v1.40/containers/json", .denied("default-deny")),
        Case(["CONTAINERS": "1"], .get, "/v1/containers/json", .allowed("CONTAINERS")),
        Case(["CONTAINERS": "1"], .get, "/%63ontainers/json", .allowed("CONTAINERS")),
        Case(["CONTAINERS": "1"], .get, "/containers%2Fjson", .allowed("CONTAINERS")),
        Case(["CONTAINERS": "1"], .get, "/containers/json?x=/secrets", .allowed("CONTAINERS")),
        Case(["SECRETS": "1"], .get, "/containers/json?x=/secrets", .denied("CONTAINERS-off")),
        Case(["CONTAINERS": "1"], .get, "/secrets%2Fx", .denied("SECRETS-off")),
        Case(["CONTAINERS": "1"], .get, "/%2573ecrets/x", .denied("default-deny")),
        Case([:], .get, "/", .denied("default-deny")),
        Case([:], .get, "/v1.41", .denied("default-deny")),
        Case(["POST": "1"], .post, "/anything", .denied("default-deny")),
    ]

    @Test(arguments: endpoints)
    func decidesTheEndpoint(_ testCase: Case) throws {
        #expect(try Self.decide(testCase.environment, testCase.method, testCase.target).outcome == testCase.expected)
    }

    // MARK: - Messages and shape

    static let messages: [(Case, String)] = [
        (
            Case(["CONTAINERS": "1"], .post, "/v1.41/containers/create", .denied("CONTAINERS-read-only")),
            "socket-proxy: POST /v1.41/containers/create is denied: only GET and HEAD are allowed (POST=0)"
        ),
        (
            Case([:], .get, "/v1.41/containers/json?all=1", .denied("CONTAINERS-off")),
            "socket-proxy: GET /v1.41/containers/json is denied: the containers section is off (CONTAINERS=0)"
        ),
        (
            Case(["PING": "no"], .get, "/_ping", .denied("PING-off")),
            "socket-proxy: GET /_ping is denied: the _ping section is off (PING=0)"
        ),
        (
            Case(["CONTAINERS": "1", "POST": "1"], .post, "/containers/a/exec", .denied("EXEC-create-needs-EXEC")),
            "socket-proxy: POST /containers/a/exec is denied: creating an exec needs EXEC=1"
        ),
        (
            Case(["CONTAINERS": "1"], .post, "/containers/a/exec", .denied("EXEC-create-needs-EXEC")),
            "socket-proxy: POST /containers/a/exec is denied: creating an exec needs EXEC=1 and POST=1"
        ),
        (
            Case(["CONTAINERS": "1"], .get, "/containers/a/archive", .denied("ARCHIVE-needs-ALLOW_ARCHIVE")),
            "socket-proxy: GET /containers/a/archive is denied: copying files in or out of a container needs "
                + "ALLOW_ARCHIVE=1"
        ),
        (
            Case(["CONTAINERS": "1"], .get, "/containers/a/export", .denied("EXPORT-needs-ALLOW_EXPORT")),
            "socket-proxy: GET /containers/a/export is denied: exporting a container's filesystem needs ALLOW_EXPORT=1"
        ),
        (
            Case(["CONTAINERS": "1"], .get, "/containers/a/attach/ws", .denied("ATTACH-needs-ALLOW_ATTACH")),
            "socket-proxy: GET /containers/a/attach/ws is denied: attaching to a container needs ALLOW_ATTACH=1"
        ),
        (
            Case([:], .get, "/containersX/json", .denied("default-deny")),
            "socket-proxy: GET /containersX/json is denied: not a Docker API section"
        ),
    ]

    @Test(arguments: messages)
    func explainsTheDenialNamingTheVariableToSet(_ testCase: Case, message: String) throws {
        let result = try Self.decide(testCase.environment, testCase.method, testCase.target)
        #expect(result.outcome == testCase.expected)
        #expect(result.message == message)
    }

    @Test func ordersSpecialEndpointsBeforeSectionsAndFallbacksLast() throws {
        let settings = try TecnativaSettings(environment: [
            "ALLOW_RESTARTS": "1", "ALLOW_START": "1", "ALLOW_STOP": "1", "CONTAINERS": "1", "EVENTS": "0",
            "VERSION": "0", "POST": "0",
        ])
        let profile = settings.profile()
        let names = profile.rules.map(\.name)
        var expected = [
            "ALLOW_RESTARTS", "ALLOW_RESTARTS", "ALLOW_RESTARTS", "ALLOW_START", "ALLOW_STOP",
            "EXEC-create-needs-EXEC", "ARCHIVE-needs-ALLOW_ARCHIVE", "EXPORT-needs-ALLOW_EXPORT",
            "ATTACH-needs-ALLOW_ATTACH", "ATTACH-needs-ALLOW_ATTACH", "CONTAINERS", "PING",
        ]
        for section in Section.allCases {
            switch section {
            case .containers, .ping: expected.append("\(section.variable)-read-only")
            default: expected.append("\(section.variable)-off")
            }
        }
        #expect(names == expected)
        #expect(profile.name == "tecnativa")
        #expect(profile.rules.filter { $0.action == .deny }.allSatisfy { $0.reason != nil })
        #expect(profile.rules.filter { $0.action == .allow }.allSatisfy { $0.reason == nil })
    }

    @Test func disableIPv6DoesNotChangeThePolicy() throws {
        let with = try TecnativaSettings(environment: ["DISABLE_IPV6": "1", "CONTAINERS": "1"]).profile()
        let without = try TecnativaSettings(environment: ["CONTAINERS": "1"]).profile()
        #expect(with.rules.map(\.name) == without.rules.map(\.name))
    }

    @Test func refusesAPathTheDaemonWouldCleanBeforeAnyRuleSeesIt() throws {
        #expect(throws: TargetError.dotSegment) {
            try Self.decide(["CONTAINERS": "1"], .get, "/containers/json/../../secrets")
        }
        #expect(throws: TargetError.dotSegment) { try Self.decide(["CONTAINERS": "1"], .get, "/containers/%2e%2e/x") }
    }
}

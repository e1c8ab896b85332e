// Tests for what check-config and explain print: the policy described, and a request's decision explained.
import Testing

@testable import SocketProxyCore

/// `Explanation`: a request decided as the proxy decides it, with the rule and the reason.
struct ConfigExplanationTests {
    static let profile = Profile(
        name: "ci",
        rules: [
            Rule(
                name: "read", methods: .read, path: try! PathTemplate(parsing: "/containers/{rest...}"), action: .allow),
            Rule(
                name: "create", methods: .post, path: try! PathTemplate(parsing: "/containers/create"), action: .allow,
                inspection: .strict),
            Rule(
                name: "no-secrets", methods: .all, path: try! PathTemplate(parsing: "/secrets/{rest...}"),
                action: .deny, reason: "no secrets here"),
            Rule(name: "quiet", methods: .all, path: try! PathTemplate(parsing: "/swarm/{rest...}"), action: .deny),
        ])

    @Test func explainsAnAllowedRequest() {
        let explanation = Explanation(method: "get", target: "/v1.47/containers/json?all=1", profile: Self.profile)
        #expect(
            explanation
                == Explanation.expected(
                    method: "GET", target: "/v1.47/containers/json?all=1", verdict: .allow, path: "/containers/json",
                    apiVersion: "1.47", query: "all=1", ruleIndex: 0, ruleName: "read",
                    rule: "allow GET,HEAD /containers/{rest...}", reason: "rule [0] read of profile ci allows it",
                    inspection: nil))
        #expect(
            explanation.description == """
                allow: GET /v1.47/containers/json?all=1
                  profile: ci
                  path: /containers/json (API version 1.47) query all=1
                  rule: [0] read: allow GET,HEAD /containers/{rest...}
                  reason: rule [0] read of profile ci allows it
                  body inspection: off (bodies pass unread)
                """)
    }

    @Test func explainsTheInspectionOfAnAllowedWrite() {
        let explanation = Explanation(method: "POST", target: "/containers/create?name=x", profile: Self.profile)
        #expect(explanation.verdict == .allow)
        #expect(explanation.ruleIndex == 1)
        #expect(explanation.inspection == .strict)
        #expect(explanation.description.hasSuffix("\n  body inspection: strict"))
    }

    @Test func explainsADenialByARuleWithAndWithoutAReason() {
        let secrets = Explanation(method: "GET", target: "/secrets", profile: Self.profile)
        #expect(secrets.verdict == .deny)
        #expect(secrets.ruleIndex == 2)
        #expect(secrets.reason == "no secrets here")
        #expect(secrets.rule == "deny * /secrets/{rest...} reason \"no secrets here\"")
        #expect(!secrets.description.contains("body inspection"))
        let swarm = Explanation(method: "POST", target: "/swarm/leave", profile: Self.profile)
        #expect(swarm.reason == "rule [3] quiet of profile ci denies it")
    }

    @Test func explainsTheDefaultDeny() {
        let images = Explanation(method: "GET", target: "/images/json", profile: Self.profile)
        #expect(images.verdict == .deny)
        #expect(images.ruleIndex == nil)
        #expect(images.ruleName == "default-deny")
        #expect(images.reason == "no rule of profile ci allows it")
        #expect(images.description.contains("\n  rule: default-deny\n"))
        let outside = Explanation(method: "GET", target: "/nowhere", profile: Self.profile)
        #expect(outside.reason == "no rule of profile ci allows it (not a Docker API section)")
    }

    @Test func explainsATargetRefusedBeforeAnyRule() {
        let explanation = Explanation(method: "GET", target: "/containers/%2e%2e/secrets", profile: Self.profile)
        #expect(explanation.verdict == .deny)
        #expect(explanation.path == nil)
        #expect(explanation.ruleName == "invalid-target")
        #expect(
            explanation.reason == "the request target is refused before any rule sees it: the path has a dot segment")
    }

    @Test func takesUnknownMethodsAsTheProxyDoes() {
        #expect(Explanation(method: "PROPFIND", target: "/containers/json", profile: Self.profile).verdict == .deny)
        #expect(Explanation(method: "head", target: "/containers/json", profile: Self.profile).verdict == .allow)
    }
}

/// `Explanation` with a body: the inspection the proxy runs after the rules allowed a request.
struct ConfigExplanationBodyTests {
    static let profile = Profile(
        name: "ci",
        rules: [
            Rule(
                name: "create", methods: .post, path: try! PathTemplate(parsing: "/containers/create"), action: .allow,
                inspection: .strict),
            Rule(
                name: "restart", methods: .post, path: try! PathTemplate(parsing: "/containers/{id}/restart"),
                action: .allow, inspection: .strict),
            Rule(
                name: "volumes", methods: .post, path: try! PathTemplate(parsing: "/volumes/create"), action: .allow),
        ])

    static func explain(_ target: String, _ body: String, contentType: String? = "application/json") -> Explanation {
        Explanation(
            method: "POST", target: target, profile: profile, body: Array(body.utf8), contentType: contentType)
    }

    @Test func deniesABodyTheInspectionRefuses() {
        let explanation = Self.explain("/v1.47/containers/create", #"{"Image":"a","HostConfig":{"Privileged":true}}"#)
        #expect(explanation.rulesAllow)
        #expect(explanation.verdict == .deny)
        guard case .denied(let field, _)? = explanation.body else {
            Issue.record("expected a denied body, got \(String(describing: explanation.body))")
            return
        }
        #expect(field == "HostConfig.Privileged")
        #expect(explanation.reason.hasPrefix("HostConfig.Privileged is not allowed by profile ci: "))
        #expect(explanation.description.contains("\n  body: denied (403): HostConfig.Privileged: "))
    }

    @Test func allowsABodyWithinTheInspection() {
        let explanation = Self.explain("/containers/create", #"{"Image":"alpine","Cmd":["true"]}"#)
        #expect(explanation.verdict == .allow)
        #expect(explanation.body == .allowed)
    }

    @Test func refusesABodyThatCannotBeInspected() {
        let json = Self.explain("/containers/create", #"{"Image":"#)
        #expect(json.verdict == .deny)
        guard case .invalid(400, _)? = json.body else {
            Issue.record("expected 400, got \(String(describing: json.body))")
            return
        }
        let type = Self.explain("/containers/create", #"{"Image":"a"}"#, contentType: "text/plain")
        guard case .invalid(415, _)? = type.body else {
            Issue.record("expected 415, got \(String(describing: type.body))")
            return
        }
        let large = Self.explain("/containers/create", "{\"Image\":\"" + String(repeating: "a", count: 1 << 20) + "\"}")
        #expect(large.body == .invalid(status: 413, reason: "the body is larger than 1048576 bytes"))
        #expect(large.verdict == .deny)
    }

    @Test func saysWhyABodyWasNotInspected() {
        #expect(Self.explain("/containers/abc/restart", #"{"Privileged":true}"#).body == .notInspectedEndpoint)
        #expect(Self.explain("/containers/abc/restart", #"{"Privileged":true}"#).verdict == .allow)
        let volume = Self.explain("/volumes/create", #"{"DriverOpts":{"o":"bind","device":"/etc"}}"#)
        #expect(volume.body == .notInspectedByRule)
        #expect(volume.verdict == .allow)
        #expect(Self.explain("/containers/abc/kill", "{}").body == .notReached)
        #expect(Self.explain("/containers/../x", "{}").body == .notReached)
        #expect(Explanation(method: "POST", target: "/containers/create", profile: Self.profile).body == nil)
    }
}

extension Explanation {
    /// An explanation built field by field, to compare with one made from a request.
    static func expected(
        method: String, target: String, verdict: Verdict, path: String?, apiVersion: String?, query: String?,
        ruleIndex: Int?, ruleName: String, rule: String?, reason: String, inspection: InspectionPolicy?
    ) -> Explanation {
        var explanation = Explanation(method: method, target: target, profile: ConfigExplanationTests.profile)
        explanation.verdict = verdict
        explanation.rulesAllow = verdict == .allow
        explanation.path = path
        explanation.apiVersion = apiVersion
        explanation.query = query
        explanation.ruleIndex = ruleIndex
        explanation.ruleName = ruleName
        explanation.rule = rule
        explanation.reason = reason
        explanation.inspection = inspection
        return explanation
    }
}

/// `describe()`: the effective policy as check-config prints it.
struct ConfigDescribeTests {
    static let text = """
        mode: learn
        listeners:
          - name: ci-socket
            unix: /run/ci.sock
            mode: "0660"
            group: 998
            clients:
              - uid: 1000
                profile: ci
              - gid: 998
                profile: read-only
          - tcp: "*:2375"
            profile: ci
        profiles:
          ci:
            rules:
              - name: read
                path: /containers/{rest...}
              - methods: [POST]
                path: /containers/create
                inspect: { bind_mounts: [/srv], capabilities: [SYS_TIME, NET_ADMIN] }
              - methods: [DELETE]
                path: /containers/{id}
                query: { force: [absent, "0"] }
                inspect: false
              - action: deny
                path: /secrets/{rest...}
                reason: no secrets here
        """

    @Test func describesListenersProfilesAndRulesInOrder() throws {
        let file = try PolicyFile.parse(
            text: Self.text, source: "policy.yaml", accounts: .table(users: [:], groups: [:]))
        let readOnlyRules = Presets.readOnly.rules.enumerated().map { index, rule in
            "  [\(index)] \(rule.name): \(rule.summary)"
        }
        let expected =
            [
                "policy file policy.yaml",
                "  mode: learn",
                "  socket_path: (not set: SOCKET_PATH, else /var/run/docker.sock)",
                "",
                "listeners:",
                "  ci-socket: unix /run/ci.sock (mode 0660, group 998)",
                "    clients (first match wins, any other client is refused):",
                "      uid 1000 -> profile ci",
                "      gid 998 -> profile read-only",
                "  *:2375: tcp *:2375 (every interface) -> profile ci",
                "",
                "profile ci (4 rules, first match wins):",
                "  [0] read: allow GET,HEAD /containers/{rest...}",
                "  [1] rules[1]: allow POST /containers/create",
                "      inspect: {bind_mounts: [/srv], capabilities: [NET_ADMIN, SYS_TIME]}",
                "  [2] rules[2]: allow DELETE /containers/{id} query {force: [absent, \"0\"]}",
                "      inspect: off (bodies pass unread)",
                "  [3] rules[3]: deny * /secrets/{rest...} reason \"no secrets here\"",
                "  otherwise: deny",
                "",
                "profile read-only (11 rules, first match wins):",
            ] + readOnlyRules + ["  otherwise: deny"]
        #expect(file.describe() == expected.joined(separator: "\n"))
    }

    @Test func listsWarningsLast() throws {
        let file = try PolicyFile.parse(
            text: "listeners: [{tcp: \"127.0.0.1:2375\", profile: read-only}]\nprofiles: {spare: {rules: []}}\n",
            source: "p.yaml")
        #expect(file.describe().hasSuffix("\n\nwarnings:\n  p.yaml: profile \"spare\" is not used by any listener"))
    }

    @Test func summarisesInspectionPoliciesInPolicyFileSyntax() {
        #expect(InspectionPolicy().summary == "strict")
        var everything = InspectionPolicy()
        everything.allowPrivileged = true
        everything.allowedBindPaths = ["/srv", "/data"]
        everything.allowHostNamespaces = true
        everything.allowDevices = true
        everything.allowAllCapabilities = true
        everything.allowUnconfined = true
        everything.allowSysctls = true
        everything.allowedRuntimes = ["runsc", "nvidia"]
        everything.allowCgroupParent = true
        everything.allowVolumesFrom = true
        everything.maxBodyBytes = 4096
        #expect(
            everything.summary
                == "{privileged: true, bind_mounts: [/srv, /data], host_namespaces: true, devices: true, "
                + "capabilities: [ALL], unconfined: true, sysctls: true, runtimes: [nvidia, runsc], "
                + "cgroup_parent: true, volumes_from: true, max_body_bytes: 4096}")
    }

    @Test func printsMethodSetsAsPolicyFilesWriteThem() {
        #expect(MethodSet.all.description == "*")
        #expect(MethodSet.read.description == "GET,HEAD")
        #expect(MethodSet([.post, .delete]).description == "POST,DELETE")
        #expect(MethodSet([]).description == "(none)")
    }
}

/// `PolicyFile.profile(forListener:network:uid:gid:)`: the profile explain consults for a client.
struct ConfigProfileSelectionTests {
    static let file = try! PolicyFile.parse(
        text: """
            listeners:
              - name: admin
                unix: /run/admin.sock
                clients:
                  - uid: 0
                    profile: read-only
              - name: lan
                tcp: "*:2375"
                clients:
                  - cidr: 192.168.0.0/16
                    profile: homepage
              - name: traefik
                tcp: "127.0.0.1:2376"
                profile: traefik
            """, source: "p.yaml")

    @Test func picksTheProfileOfANamedListenersClient() throws {
        #expect(try Self.file.profile(forListener: "admin", network: nil, uid: 0, gid: nil).name == "read-only")
        let address = try SocketAddress(parsing: "192.168.1.20:5000")
        #expect(try Self.file.profile(forListener: "lan", network: address, uid: nil, gid: nil).name == "homepage")
        #expect(try Self.file.profile(forListener: "traefik", network: nil, uid: nil, gid: nil).name == "traefik")
    }

    @Test func saysWhatIsMissing() throws {
        #expect(
            throws: ConfigurationError(
                "p.yaml has 3 listeners (admin, lan, traefik); name one with --listener, or a profile with --profile")
        ) { try Self.file.profile(forListener: nil, network: nil, uid: nil, gid: nil) }
        #expect(
            throws: ConfigurationError("p.yaml has no listener named \"nope\"; listeners: admin, lan, traefik")
        ) { try Self.file.profile(forListener: "nope", network: nil, uid: nil, gid: nil) }
        #expect(
            throws: ConfigurationError(
                "listener \"admin\" picks a profile per client; say which client with --from ADDRESS, --uid or --gid, "
                    + "or name a profile with --profile")
        ) { try Self.file.profile(forListener: "admin", network: nil, uid: nil, gid: nil) }
        #expect(
            throws: ConfigurationError("listener \"admin\" refuses this client: no entry of its clients matches")
        ) { try Self.file.profile(forListener: "admin", network: nil, uid: 1000, gid: 1000) }
    }

    @Test func usesTheOnlyListenerWhenThereIsOne() throws {
        let file = try PolicyFile.parse(
            text: "listeners: [{tcp: \"127.0.0.1:2375\", profile: homepage}]", source: "one.yaml")
        #expect(try file.profile(forListener: nil, network: nil, uid: nil, gid: nil).name == "homepage")
    }
}

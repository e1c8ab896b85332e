// Tests for the policy file: a full example, its JSON form, defaults, and every error with the place it names.
import Testing

@testable import SocketProxyCore

#if canImport(Glibc)
    import Glibc
#endif

/// `PolicyFile.parse(text:source:accounts:)` and `load(path:accounts:)`.
struct ConfigFileTests {
    static let accounts = AccountLookup.table(users: ["root": 0, "ci-runner": 1000], groups: ["docker-clients": 998])

    static func parse(_ text: String) throws -> PolicyFile {
        try PolicyFile.parse(text: text, source: "policy.yaml", accounts: accounts)
    }

    static let example = """
        socket_path: /var/run/docker.sock
        mode: audit
        listeners:
          - name: traefik
            tcp: "127.0.0.1:2375"
            profile: traefik
          - unix: /run/socket-proxy/docker.sock
            mode: "0660"
            owner: root
            group: docker-clients
            clients:
              - uid: ci-runner
                profile: ci
              - gid: 998
                profile: read-only
          - tcp: "*:2376"
            clients:
              - cidr: 10.0.0.0/8
                profile: homepage
              - cidr: "fd00::/8"
                profile: homepage
        profiles:
          ci:
            rules:
              - name: read containers
                methods: [GET, HEAD]
                path: /containers/{rest...}
              - methods: [POST]
                path: /containers/create
                inspect:
                  bind_mounts: [/srv/, /data/../opt]
                  capabilities: [net_admin, CAP_SYS_TIME]
                  privileged: false
                  host_namespaces: false
                  devices: true
                  unconfined: false
                  sysctls: false
                  runtimes: [nvidia]
                  cgroup_parent: false
                  volumes_from: true
                  max_body_bytes: 2097152
              - methods: GET
                path: /images/{name+}/json
                query: { all: ["1", "true"], filters: any, force: absent, v: [absent, "0"] }
              - action: deny
                path: /secrets/{rest...}
                reason: no secrets here
              - methods: "*"
                path: /volumes/{rest...}
                inspect: false
          traefik:
            preset: traefik
          homepage:
            preset: homepage
            rules:
              - path: /containers/{id}/logs
        """

    @Test func readsTheFullExample() throws {
        let file = try Self.parse(Self.example)
        #expect(file.source == "policy.yaml")
        #expect(file.socketPath == "/var/run/docker.sock")
        #expect(file.mode == .audit)
        #expect(file.warnings == [])

        #expect(file.listeners.count == 3)
        let traefik = file.listeners[0]
        #expect(traefik.name == "traefik")
        #expect(traefik.address == (try SocketAddress(parsing: "127.0.0.1:2375")))
        #expect(!traefik.anyInterface)
        #expect(traefik.profile == "traefik")
        #expect(traefik.clients == [])

        let unix = file.listeners[1]
        #expect(unix.name == "unix:/run/socket-proxy/docker.sock")
        #expect(unix.address == .unix("/run/socket-proxy/docker.sock"))
        #expect(unix.unixMode == 0o660)
        #expect(unix.unixOwner == 0)
        #expect(unix.unixGroup == 998)
        #expect(unix.profile == nil)
        #expect(
            unix.clients == [
                ClientRule(match: .uid(1000), profile: "ci"), ClientRule(match: .gid(998), profile: "read-only"),
            ])

        let any = file.listeners[2]
        #expect(any.name == "*:2376")
        #expect(any.address == .ipv6([UInt8](repeating: 0, count: 16), port: 2376))
        #expect(any.anyInterface)
        #expect(
            any.clients == [
                ClientRule(match: .network(try IPNetwork(parsing: "10.0.0.0/8")), profile: "homepage"),
                ClientRule(match: .network(try IPNetwork(parsing: "fd00::/8")), profile: "homepage"),
            ])

        // The file's profiles in order, then the preset a listener names directly.
        #expect(file.profiles.map(\.name) == ["ci", "traefik", "homepage", "read-only"])
        let ci = try #require(file.profile(named: "ci"))
        #expect(ci.rules.map(\.name) == ["read containers", "rules[1]", "rules[2]", "rules[3]", "rules[4]"])
        #expect(ci.rules.map(\.methods) == [.read, .post, .get, .all, .all])
        #expect(
            ci.rules.map(\.path.description) == [
                "/containers/{rest...}", "/containers/create", "/images/{name+}/json", "/secrets/{rest...}",
                "/volumes/{rest...}",
            ])
        #expect(ci.rules.map(\.action) == [.allow, .allow, .allow, .deny, .allow])
        #expect(ci.rules[3].reason == "no secrets here")
        #expect(
            ci.rules[2].query == [
                QueryConstraint(name: "all", .oneOf(["1", "true"])), QueryConstraint(name: "filters", .anyValue),
                QueryConstraint(name: "force", .absent), QueryConstraint(name: "v", .absentOrOneOf(["0"])),
            ])

        var create = InspectionPolicy()
        create.allowedBindPaths = ["/srv", "/opt"]
        create.allowedCapabilities = ["NET_ADMIN", "SYS_TIME"]
        create.allowDevices = true
        create.allowedRuntimes = ["nvidia"]
        create.allowVolumesFrom = true
        create.maxBodyBytes = 2_097_152
        #expect(ci.rules[1].inspection == create)
        #expect(ci.rules[0].inspection == .strict)
        #expect(ci.rules[2].inspection == .strict)
        #expect(ci.rules[3].inspection == nil)
        #expect(ci.rules[4].inspection == nil)

        let homepage = try #require(file.profile(named: "homepage"))
        #expect(homepage.rules.map(\.name) == Presets.homepage.rules.map(\.name) + ["rules[0]"])
        #expect(file.profile(named: "traefik")?.rules.map(\.name) == Presets.traefik.rules.map(\.name))
    }

    /// The example, written as JSON (with tabs, as editors indent JSON).
    static let exampleJSON = """
        {
        \t"socket_path": "/var/run/docker.sock",
        \t"mode": "audit",
        \t"listeners": [
        \t\t{"name": "traefik", "tcp": "127.0.0.1:2375", "profile": "traefik"},
        \t\t{
        \t\t\t"unix": "/run/socket-proxy/docker.sock", "mode": "0660", "owner": "root", "group": "docker-clients",
        \t\t\t"clients": [{"uid": "ci-runner", "profile": "ci"}, {"gid": 998, "profile": "read-only"}]
        \t\t},
        \t\t{"tcp": "*:2376", "clients": [{"cidr": "10.0.0.0/8", "profile": "homepage"}, {"cidr": "fd00::/8", "profile": "homepage"}]}
        \t],
        \t"profiles": {
        \t\t"ci": {"rules": [
        \t\t\t{"name": "read containers", "methods": ["GET", "HEAD"], "path": "/containers/{rest...}"},
        \t\t\t{"methods": ["POST"], "path": "/containers/create", "inspect": {
        \t\t\t\t"bind_mounts": ["/srv/", "/data/../opt"], "capabilities": ["net_admin", "CAP_SYS_TIME"],
        \t\t\t\t"privileged": false, "host_namespaces": false, "devices": true, "unconfined": false, "sysctls": false,
        \t\t\t\t"runtimes": ["nvidia"], "cgroup_parent": false, "volumes_from": true, "max_body_bytes": 2097152
        \t\t\t}},
        \t\t\t{"methods": "GET", "path": "/images/{name+}/json",
        \t\t\t\t"query": {"all": ["1", "true"], "filters": "any", "force": "absent", "v": ["absent", "0"]}},
        \t\t\t{"action": "deny", "path": "/secrets/{rest...}", "reason": "no secrets here"},
        \t\t\t{"methods": "*", "path": "/volumes/{rest...}", "inspect": false}
        \t\t]},
        \t\t"traefik": {"preset": "traefik"},
        \t\t"homepage": {"preset": "homepage", "rules": [{"path": "/containers/{id}/logs"}]}
        \t}
        }
        """

    @Test func readsTheSamePolicyFromJSON() throws {
        let yaml = try Self.parse(Self.example)
        let json = try Self.parse(Self.exampleJSON)
        #expect(json.describe() == yaml.describe())
        #expect(json.listeners == yaml.listeners)
        #expect(json.mode == .audit)
        #expect(json.profile(named: "ci")?.rules[1].inspection == yaml.profile(named: "ci")?.rules[1].inspection)
        #expect(json.profile(named: "ci")?.rules[2].query == yaml.profile(named: "ci")?.rules[2].query)
    }

    @Test func reportsJSONErrorsWithTheirPlace() {
        let text = #"{"listeners": [{"tcp": "127.0.0.1:2375", "profile": "read-only", "port": 1}]}"#
        #expect(
            throws: ConfigurationError(
                "policy.yaml:1:66: listeners[0].port: unknown key \"port\"; expected \"name\", \"tcp\", \"unix\", "
                    + "\"mode\", \"owner\", \"group\", \"profile\", \"clients\"")
        ) { try Self.parse(text) }
    }

    // MARK: - Defaults

    @Test func appliesTheDefaults() throws {
        let file = try Self.parse(
            """
            listeners:
              - tcp: "[::1]:2375"
                profile: p
            profiles:
              p:
                rules:
                  - path: /a
                  - action: deny
                    path: /b
            """)
        #expect(file.mode == .enforce)
        #expect(file.socketPath == nil)
        #expect(file.listeners[0].name == "[::1]:2375")
        let rules = file.profiles[0].rules
        #expect(rules[0].methods == .read)
        #expect(rules[0].action == .allow)
        #expect(rules[0].inspection == .strict)
        #expect(rules[0].query == [])
        #expect(rules[1].methods == .all)
        #expect(rules[1].reason == nil)
        #expect(rules[1].inspection == nil)
    }

    @Test func aProfileLevelInspectReplacesThePresetsAndIsTheDefaultOfItsRules() throws {
        let file = try Self.parse(
            """
            listeners:
              - unix: /run/watchtower.sock
                profile: updates
            profiles:
              updates:
                preset: watchtower
                inspect: { bind_mounts: [/srv/appdata] }
                rules:
                  - methods: [POST]
                    path: /containers/{id}/exec
                  - methods: [POST]
                    path: /exec/{id}/start
                    inspect: true
            """)
        let profile = file.profiles[0]
        var expected = InspectionPolicy()
        expected.allowedBindPaths = ["/srv/appdata"]
        let create = try #require(profile.rules.first { $0.name == "container-create" })
        #expect(create.inspection == expected)
        #expect(profile.rules.first { $0.name == "container-inspect" }?.inspection == expected)
        #expect(profile.rules[profile.rules.count - 2].inspection == expected)
        #expect(profile.rules[profile.rules.count - 1].inspection == .strict)
        #expect(profile.rules.count == Presets.watchtower.rules.count + 2)
    }

    @Test func inspectFalseOnAProfileTurnsInspectionOffForItsAllowRules() throws {
        let file = try Self.parse(
            """
            listeners: [{tcp: "127.0.0.1:2375", profile: p}]
            profiles:
              p:
                preset: watchtower
                inspect: false
            """)
        #expect(file.profiles[0].rules.allSatisfy { $0.inspection == nil })
    }

    @Test func presetsMayBeCombinedAndAreFollowedByTheProfilesRules() throws {
        let file = try Self.parse(
            """
            listeners: [{tcp: "127.0.0.1:2375", profile: dashboards}]
            profiles:
              dashboards:
                preset: [traefik, homepage]
                rules: [{path: /info}]
            """)
        let names = file.profiles[0].rules.map(\.name)
        #expect(names == Presets.traefik.rules.map(\.name) + Presets.homepage.rules.map(\.name) + ["rules[0]"])
    }

    @Test func warnsAboutUnusedProfilesAndClientRulesThatCanNeverMatch() throws {
        let file = try Self.parse(
            """
            listeners:
              - unix: /run/x.sock
                clients:
                  - profile: read-only
                  - uid: 0
                    profile: read-only
            profiles:
              spare: {rules: []}
            """)
        #expect(
            file.warnings == [
                "policy.yaml:5:9: listeners[0].clients[1]: can never match: listeners[0].clients[0] before it matches "
                    + "every client",
                "policy.yaml: profile \"spare\" is not used by any listener",
            ])
        #expect(file.listeners[0].clients[0] == ClientRule(match: .any, profile: "read-only"))
    }

    @Test func acceptsTheSpellingsOfModesAddressesAndIds() throws {
        let file = try Self.parse(
            """
            listeners:
              - unix: unix:/run/a.sock
                mode: 0600
                owner: 1000
                group: 0
                profile: read-only
              - unix: /run/b.sock
                mode: "0o755"
                profile: read-only
              - tcp: "[::]:2375"
                profile: read-only
            """)
        #expect(file.listeners[0].address == .unix("/run/a.sock"))
        #expect(file.listeners[0].unixMode == 0o600)
        #expect(file.listeners[0].unixOwner == 1000)
        #expect(file.listeners[0].unixGroup == 0)
        #expect(file.listeners[1].unixMode == 0o755)
        #expect(!file.listeners[2].anyInterface)
    }

    // MARK: - Errors

    /// The first lines every error case shares: a listener using profile `p`.
    static let listener = "listeners:\n  - tcp: 127.0.0.1:2375\n    profile: p\n"
    static let rules = listener + "profiles:\n  p:\n    rules:\n"

    /// A file and the exact error it gives.
    static let errors: [(String, String)] = [
        (
            listener + "profiles:\n  p: {rules: []}\nlistners: []\n",
            "policy.yaml:6:1: listners: unknown key \"listners\" (did you mean \"listeners\"?); expected "
                + "\"socket_path\", \"mode\", \"listeners\", \"profiles\""
        ),
        (
            "listeners:\n  - tcp: 127.0.0.1:2375\n    profle: p\n",
            "policy.yaml:3:5: listeners[0].profle: unknown key \"profle\" (did you mean \"profile\"?); expected "
                + "\"name\", \"tcp\", \"unix\", \"mode\", \"owner\", \"group\", \"profile\", \"clients\""
        ),
        (
            "listeners:\n  - tcp: 127.0.0.1:2375\n    unix: /run/x.sock\n    profile: read-only\n",
            "policy.yaml:3:5: listeners[0].unix: a listener has one address: \"tcp\" or \"unix\", not both"
        ),
        (
            "listeners:\n  - name: x\n    profile: read-only\n",
            "policy.yaml:2:5: listeners[0]: needs \"tcp\" (HOST:PORT, [IPV6]:PORT or *:PORT) or \"unix\" (a socket path)"
        ),
        (
            "listeners:\n  - tcp: 127.0.0.1:2375\n    profile: read-only\n    clients: [{profile: read-only}]\n",
            "policy.yaml:4:5: listeners[0].clients: a listener has \"profile\" or \"clients\", not both"
        ),
        (
            "listeners:\n  - tcp: 127.0.0.1:2375\n",
            "policy.yaml:2:5: listeners[0]: needs \"profile\" (for every client) or \"clients\" (a profile per client)"
        ),
        (
            "listeners:\n  - tcp: 127.0.0.1:2375\n    profile: ci\n",
            "policy.yaml:3:14: listeners[0].profile: no profile is named \"ci\"; profiles: traefik, watchtower, "
                + "portainer-readonly, homepage, read-only (presets may be named directly)"
        ),
        (
            "listeners:\n  - unix: /run/x.sock\n    clients:\n      - cidr: 10.0.0.0/8\n        profile: read-only\n",
            "policy.yaml:4:9: listeners[0].clients[0].cidr: matches TCP clients; clients of a Unix listener are "
                + "matched by \"uid\" or \"gid\""
        ),
        (
            "listeners:\n  - tcp: 127.0.0.1:2375\n    clients:\n      - uid: 1000\n        profile: read-only\n",
            "policy.yaml:4:9: listeners[0].clients[0].uid: matches Unix socket clients; clients of a TCP listener are "
                + "matched by \"cidr\""
        ),
        (
            "listeners:\n  - unix: /run/x.sock\n    clients:\n      - uid: 1000\n        gid: 998\n"
                + "        profile: read-only\n",
            "policy.yaml:5:9: listeners[0].clients[0].gid: an entry matches on one of \"cidr\", \"uid\" or \"gid\"; "
                + "write one entry each"
        ),
        (
            "listeners:\n  - tcp: \"*:2375\"\n    clients:\n      - cidr: 10.0.0.1/8\n        profile: read-only\n",
            "policy.yaml:4:15: listeners[0].clients[0].cidr: network \"10.0.0.1/8\": has bits set after the /8 "
                + "prefix; write 10.0.0.0/8"
        ),
        (
            "listeners:\n  - unix: /run/x.sock\n    clients:\n      - gid: nogroup-here\n        profile: read-only\n",
            "policy.yaml:4:14: listeners[0].clients[0].gid: there is no group named \"nogroup-here\" on this system; "
                + "use a name or a number"
        ),
        (
            "listeners:\n  - tcp: localhost\n    profile: read-only\n",
            "policy.yaml:2:10: listeners[0].tcp: \"localhost\" is not a TCP address: expected HOST:PORT, [IPV6]:PORT "
                + "or *:PORT"
        ),
        (
            "listeners:\n  - tcp: \"1.2.3.4:x\"\n    profile: read-only\n",
            "policy.yaml:2:10: listeners[0].tcp: \"1.2.3.4:x\" is not a TCP address: \"x\" is not a port number"
        ),
        (
            "listeners:\n  - tcp: unix:/run/x.sock\n    profile: read-only\n",
            "policy.yaml:2:10: listeners[0].tcp: \"unix:/run/x.sock\" is a Unix socket; write it as "
                + "\"unix: /run/x.sock\""
        ),
        (
            "listeners:\n  - tcp: \"*:0\"\n    profile: read-only\n",
            "policy.yaml:2:10: listeners[0].tcp: port 0 would listen on a random port; name one"
        ),
        (
            "listeners:\n  - tcp: 127.0.0.1:2375\n    mode: \"0660\"\n    profile: read-only\n",
            "policy.yaml:3:5: listeners[0].mode: applies to Unix socket files only; this listener is \"tcp\""
        ),
        (
            "listeners:\n  - unix: run/x.sock\n    profile: read-only\n",
            "policy.yaml:2:11: listeners[0].unix: expected an absolute socket path, found \"run/x.sock\""
        ),
        (
            "listeners:\n  - unix: /run/x.sock\n    mode: \"0860\"\n    profile: read-only\n",
            "policy.yaml:3:11: listeners[0].mode: expected permission bits in octal, such as \"0660\", found \"0860\""
        ),
        (
            "listeners:\n  - unix: /run/x.sock\n    owner: nobody-here\n    profile: read-only\n",
            "policy.yaml:3:12: listeners[0].owner: there is no user named \"nobody-here\" on this system; use a name "
                + "or a number"
        ),
        (
            "listeners:\n  - unix: /run/x.sock\n    clients: []\n",
            "policy.yaml:3:14: listeners[0].clients: is empty; every client would be refused"
        ),
        (
            "listeners:\n  - tcp: 127.0.0.1:2375\n    name: a\n    profile: read-only\n  - tcp: 127.0.0.1:2376\n"
                + "    name: a\n    profile: read-only\n",
            "policy.yaml:6:11: listeners[1].name: the name \"a\" is already taken by another listener; names must be "
                + "unique"
        ),
        (
            "listeners:\n  - tcp: 127.0.0.1:2375\n    profile: read-only\n  - tcp: 127.0.0.1:2375\n    name: again\n"
                + "    profile: read-only\n",
            "policy.yaml:4:5: listeners[1]: listens on 127.0.0.1:2375, as the listener \"127.0.0.1:2375\" does"
        ),
        ("listeners: []\n", "policy.yaml:1:12: listeners: is empty; the proxy needs a listener"),
        (
            "profiles: {}\n",
            "policy.yaml:1:1: needs \"listeners\": where clients connect, and the profile each gets"
        ),
        (
            "socket_path: docker.sock\n" + listener + "profiles:\n  p: {rules: []}\n",
            "policy.yaml:1:14: socket_path: expected an absolute path, found \"docker.sock\""
        ),
        (
            listener + "mode: enforcing\nprofiles:\n  p: {rules: []}\n",
            "policy.yaml:4:7: mode: \"enforcing\" is not a mode; expected one of enforce, audit, learn"
        ),
        (
            rules + "      - path: /a\n      - path: /b\n      - methods: [GET, GETT]\n        path: /c\n",
            "policy.yaml:9:24: profiles.p.rules[2].methods[1]: \"GETT\" is not an HTTP method; expected \"*\" or a "
                + "list of GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS, CONNECT, TRACE"
        ),
        (
            rules + "      - methods: \"GET,POST\"\n        path: /c\n",
            "policy.yaml:7:18: profiles.p.rules[0].methods: \"GET,POST\" is not an HTTP method; expected \"*\" or a "
                + "list of GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS, CONNECT, TRACE"
        ),
        (
            rules + "      - path: /x\n        methods: []\n",
            "policy.yaml:8:18: profiles.p.rules[0].methods: is empty; a rule applies to at least one method"
        ),
        (
            rules + "      - methods: [GET]\n",
            "policy.yaml:7:9: profiles.p.rules[0]: needs \"path\": the path template the rule applies to, e.g. "
                + "/containers/{id}/json"
        ),
        (
            rules + "      - path: /containers//json\n",
            "policy.yaml:7:15: profiles.p.rules[0].path: path template \"/containers//json\": has an empty segment "
                + "(\"//\" or a trailing \"/\")"
        ),
        (
            rules + "      - action: block\n        path: /x\n",
            "policy.yaml:7:17: profiles.p.rules[0].action: \"block\" is not an action; expected allow or deny"
        ),
        (
            rules + "      - path: /x\n        reason: because\n",
            "policy.yaml:8:9: profiles.p.rules[0].reason: is shown to clients that are denied; an allow rule has none"
        ),
        (
            rules + "      - action: deny\n        path: /x\n        inspect: false\n",
            "policy.yaml:9:9: profiles.p.rules[0].inspect: limits what an allow rule lets through; a deny rule has "
                + "nothing to inspect"
        ),
        (
            rules + "      - path: /x\n        nmae: x\n",
            "policy.yaml:8:9: profiles.p.rules[0].nmae: unknown key \"nmae\"; expected \"name\", \"action\", "
                + "\"methods\", \"path\", \"query\", \"inspect\", \"reason\""
        ),
        (
            rules + "      - methods: POST\n        path: /containers/create\n        inspect:\n"
                + "          privileged: false\n          bind_mount: [/srv]\n",
            "policy.yaml:11:11: profiles.p.rules[0].inspect.bind_mount: unknown key \"bind_mount\" (did you mean "
                + "\"bind_mounts\"?); expected \"privileged\", \"bind_mounts\", \"host_namespaces\", \"devices\", "
                + "\"capabilities\", \"unconfined\", \"sysctls\", \"runtimes\", \"cgroup_parent\", \"volumes_from\", "
                + "\"max_body_bytes\""
        ),
        (
            rules + "      - methods: POST\n        path: /containers/create\n"
                + "        inspect: {capabilities: [NET_ADMIN, CAP_SYS_TIMES]}\n",
            "policy.yaml:9:45: profiles.p.rules[0].inspect.capabilities[1]: \"CAP_SYS_TIMES\" is not a Linux "
                + "capability; use names such as NET_ADMIN or SYS_TIME (with or without CAP_), or ALL"
        ),
        (
            rules + "      - methods: POST\n        path: /containers/create\n        inspect: {bind_mounts: [srv]}\n",
            "policy.yaml:9:33: profiles.p.rules[0].inspect.bind_mounts[0]: \"srv\" is not an absolute host path; "
                + "bind paths start with \"/\""
        ),
        (
            rules + "      - methods: POST\n        path: /containers/create\n        inspect: {privileged: yes}\n",
            "policy.yaml:9:31: profiles.p.rules[0].inspect.privileged: expected true or false, found \"yes\""
        ),
        (
            rules + "      - methods: POST\n        path: /containers/create\n        inspect: {runtimes: [\"a b\"]}\n",
            "policy.yaml:9:30: profiles.p.rules[0].inspect.runtimes[0]: \"a b\" is not a runtime name; use letters, "
                + "digits, \".\", \"_\" or \"-\""
        ),
        (
            rules + "      - methods: POST\n        path: /containers/create\n        inspect: {max_body_bytes: 0}\n",
            "policy.yaml:9:35: profiles.p.rules[0].inspect.max_body_bytes: expected a whole number from 1 to "
                + "1073741824, found \"0\""
        ),
        (
            rules + "      - methods: POST\n        path: /containers/create\n        inspect: maybe\n",
            "policy.yaml:9:18: profiles.p.rules[0].inspect: expected true or false, found \"maybe\""
        ),
        (
            rules + "      - path: /x\n        query: {all: []}\n",
            "policy.yaml:8:22: profiles.p.rules[0].query.all: lists no value; write \"absent\" alone to forbid the "
                + "parameter"
        ),
        (
            rules + "      - path: /x\n        query: {all: [\"1\", any]}\n",
            "policy.yaml:8:28: profiles.p.rules[0].query.all[1]: \"any\" stands alone (filters: any), not in a list "
                + "of values"
        ),
        (
            rules + "      - path: /x\n        query: {all: }\n",
            "policy.yaml:8:22: profiles.p.rules[0].query.all: has no value; expected absent, any, a value, or a list "
                + "of values"
        ),
        (
            rules + "      - path: /x\n        query: [all]\n",
            "policy.yaml:8:16: profiles.p.rules[0].query: expected a mapping, found a list"
        ),
        (
            listener + "profiles:\n  p:\n    preset: traefk\n",
            "policy.yaml:6:13: profiles.p.preset: \"traefk\" is not a preset; presets: traefik, watchtower, "
                + "portainer-readonly, homepage, read-only"
        ),
        (
            listener + "profiles:\n  p:\n    inspect: false\n",
            "policy.yaml:6:5: profiles.p: needs \"preset\" or \"rules\" (write \"rules: []\" for a profile that "
                + "denies everything)"
        ),
        (
            listener + "profiles:\n  p:\n    rules: {path: /x}\n",
            "policy.yaml:6:12: profiles.p.rules: expected a list, found a mapping"
        ),
        (
            "listeners:\n  - tcp: 127.0.0.1:2375\n    profile: \"my profile\"\nprofiles:\n  \"my profile\": {rules: []}\n",
            "policy.yaml:5:3: profiles.my profile: \"my profile\" is not a profile name; use letters, digits, \".\", "
                + "\"_\" and \"-\", starting with a letter or digit"
        ),
        (
            listener + "profiles:\n  p: {rules: []}\n  p: {rules: []}\n",
            "policy.yaml:5:3: the key \"p\" is given twice in one mapping"
        ),
        (
            "listeners:\n  - tcp: 127.0.0.1:2375\n   profile: p\n",
            "policy.yaml:3:4: not valid YAML or JSON: expected \"-\" in column 3, lined up with the list at line 2, "
                + "or a line indented less"
        ),
        ("", "policy.yaml: the file is empty"),
        ("# nothing but a comment\n", "policy.yaml: the file is empty"),
        ("- a\n- b\n", "policy.yaml:1:1: expected a mapping, found a list"),
    ]

    @Test(arguments: errors)
    func refusesABadFileNamingThePlaceAndTheProblem(text: String, message: String) {
        #expect(throws: ConfigurationError(message)) { try Self.parse(text) }
    }

    // MARK: - Files

    @Test func loadsAFileAndNamesItInErrors() throws {
        let path = "/tmp/socket-proxy-config-test-\(getpid()).yaml"
        defer { unlink(path) }
        let file = fopen(path, "w")!
        fputs("listeners:\n  - tcp: 127.0.0.1:2375\n    profile: read-only\n", file)
        fclose(file)
        let policy = try PolicyFile.load(path: path, accounts: Self.accounts)
        #expect(policy.source == path)
        #expect(policy.listeners[0].profile == "read-only")
        #expect(policy.profiles.map(\.name) == ["read-only"])

        let missing = path + ".missing"
        #expect(
            throws: ConfigurationError("\(missing): cannot read the policy file: No such file or directory (errno 2)")
        ) { try PolicyFile.load(path: missing) }
    }

    @Test func looksUpNamesInTheSystemAccountDatabaseByDefault() throws {
        let file = try PolicyFile.parse(
            text: "listeners:\n  - unix: /run/x.sock\n    owner: root\n    group: root\n    profile: read-only\n",
            source: "p.yaml")
        #expect(file.listeners[0].unixOwner == 0)
        #expect(file.listeners[0].unixGroup == 0)
    }
}

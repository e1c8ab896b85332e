// `socket-proxy check-config` and `socket-proxy explain` as a person runs them: the printed policy, the exit statuses,
// errors that name the line, and explain's verdict on a request body.
import Foundation
import Testing

/// A policy file that `check-config` must refuse, and where.
struct InvalidPolicy: Sendable, CustomTestStringConvertible {
    let name: String
    let text: String
    /// The start of the message: `policy.yaml:LINE:COLUMN: key.path: ...`.
    let error: String
    var testDescription: String { name }
}

@Suite("check-config and explain")
struct PolicyCommandTests {
    static let policy = """
        mode: audit
        listeners:
          - name: ro
            tcp: "127.0.0.1:2375"
            profile: read-only
          - name: ci
            unix: /run/socket-proxy-test/ci.sock
            mode: "0660"
            clients:
              - uid: 1000
                profile: ci
        profiles:
          ci:
            rules:
              - name: read containers
                path: /containers/{rest...}
              - name: create
                methods: [POST]
                path: /containers/create
                inspect:
                  bind_mounts: [/srv/ci]
                  capabilities: [NET_ADMIN]
              - action: deny
                path: /secrets/{rest...}
                reason: no secrets here

        """

    static let invalid: [InvalidPolicy] = [
        InvalidPolicy(
            name: "misspelt key",
            text: "listeners:\n  - tcp: \"127.0.0.1:2375\"\n    profle: read-only\n",
            error: #"policy.yaml:3:5: listeners[0].profle: unknown key "profle" (did you mean "profile"?)"#),
        InvalidPolicy(
            name: "unknown method",
            text: """
                listeners:
                  - tcp: "127.0.0.1:2375"
                    profile: ci
                profiles:
                  ci:
                    rules:
                      - methods: [GET, GETT]
                        path: /x

                """,
            error: #"policy.yaml:7:24: profiles.ci.rules[0].methods[1]: "GETT" is not an HTTP method"#),
        InvalidPolicy(
            name: "missing profile",
            text: "listeners:\n  - tcp: \"127.0.0.1:2375\"\n    profile: nope\n",
            error: #"policy.yaml:3:14: listeners[0].profile: no profile is named "nope""#),
        InvalidPolicy(
            name: "relative bind path",
            text: """
                listeners:
                  - tcp: "127.0.0.1:2375"
                    profile: ci
                profiles:
                  ci:
                    rules:
                      - path: /x
                        inspect:
                          bind_mounts: [relative]

                """,
            error: #"policy.yaml:9:25: profiles.ci.rules[0].inspect.bind_mounts[0]: "relative" is not an absolute"#),
        InvalidPolicy(
            name: "unquoted star address",
            text: "listeners:\n  - tcp: *:2375\n    profile: read-only\n",
            error: "policy.yaml:2:"),
    ]

    /// A fresh folder for one test's files.
    static func folder() throws -> URL {
        let url = ChildProcess.scratch.appendingPathComponent("commands-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Runs the binary under test in `folder` (relative file names in messages stay short).
    static func run(_ arguments: [String], in folder: URL, environment: [String: String] = [:]) async throws
        -> ChildResult
    {
        let binary = try ProxyProcess.binaryPath()
        var all = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"]
        all.merge(environment) { _, new in new }
        // posix_spawn has no working-directory action here; the shell changes it.
        let command = "cd \"$0\" && exec \"$@\""
        return try await ChildProcess.run(
            "/bin/sh", ["-c", command, folder.path, binary] + arguments, environment: all, timeout: .seconds(30))
    }

    @Test func checkConfigPrintsTheListenersAndProfilesAndExits0() async throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try Self.policy.write(to: folder.appendingPathComponent("policy.yaml"), atomically: true, encoding: .utf8)
        let result = try await Self.run(["check-config", "--config", "policy.yaml"], in: folder)
        #expect(result.exitCode == 0, "\(result)")
        let expected = [
            "policy file policy.yaml",
            "  mode: audit",
            "  ro: tcp 127.0.0.1:2375 -> profile read-only",
            "  ci: unix /run/socket-proxy-test/ci.sock (mode 0660",
            "      uid 1000 -> profile ci",
            "profile ci (3 rules, first match wins):",
            "  [0] read containers: allow GET,HEAD /containers/{rest...}",
            "  [1] create: allow POST /containers/create",
            "      inspect: {bind_mounts: [/srv/ci], capabilities: [NET_ADMIN]}",
            #"  [2] rules[2]: deny * /secrets/{rest...} reason "no secrets here""#,
            "  otherwise: deny",
            "profile read-only (",
        ]
        for line in expected {
            #expect(result.stdout.contains(line), "missing \(line.debugDescription) in:\n\(result.stdout)")
        }
    }

    @Test(arguments: invalid)
    func checkConfigRefusesAnInvalidFileNamingTheLineAndExits1(_ item: InvalidPolicy) async throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try item.text.write(to: folder.appendingPathComponent("policy.yaml"), atomically: true, encoding: .utf8)
        let result = try await Self.run(["check-config", "--config", "policy.yaml"], in: folder)
        #expect(result.exitCode == 1, "\(result)")
        #expect(result.stderr.hasPrefix("socket-proxy: " + item.error), "\(result)")
        #expect(result.stdout.isEmpty, "an invalid file printed a policy: \(result)")
    }

    @Test func explainPrintsTheDecisionAndTheBodyVerdictForADeniedBind() async throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try Self.policy.write(to: folder.appendingPathComponent("policy.yaml"), atomically: true, encoding: .utf8)
        try #"{"Image":"x","HostConfig":{"Binds":["/srv/ci/cache:/cache","/etc:/host-etc"]}}"#
            .write(to: folder.appendingPathComponent("create.json"), atomically: true, encoding: .utf8)
        let result = try await Self.run(
            [
                "explain", "POST", "/v1.41/containers/create", "--config", "policy.yaml", "--profile", "ci", "--body",
                "create.json", "--content-type", "application/json",
            ], in: folder)
        #expect(result.exitCode == 1, "\(result)")
        #expect(
            result.lines == [
                "deny: POST /v1.41/containers/create",
                "  profile: ci",
                "  path: /containers/create (API version 1.41)",
                "  rule: [1] create: allow POST /containers/create",
                "  reason: HostConfig.Binds[1] is not allowed by profile ci: bind mount of the host path /etc",
                "  body inspection: {bind_mounts: [/srv/ci], capabilities: [NET_ADMIN]}",
                "  body: denied (403): HostConfig.Binds[1]: bind mount of the host path /etc",
            ], "\(result)")
    }

    @Test func explainAllowsABodyWithinTheInspectionAndExits0() async throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try Self.policy.write(to: folder.appendingPathComponent("policy.yaml"), atomically: true, encoding: .utf8)
        try #"{"Image":"x","HostConfig":{"Binds":["/srv/ci/cache:/cache"],"CapAdd":["net_admin"]}}"#
            .write(to: folder.appendingPathComponent("create.json"), atomically: true, encoding: .utf8)
        let result = try await Self.run(
            [
                "explain", "POST", "/v1.41/containers/create", "--config", "policy.yaml", "--listener", "ci", "--uid",
                "1000", "--body", "create.json",
            ], in: folder)
        #expect(result.exitCode == 0, "\(result)")
        #expect(result.lines.first == "allow: POST /v1.41/containers/create", "\(result)")
        #expect(result.stdout.contains("  rule: [1] create: allow POST /containers/create\n"), "\(result)")
        #expect(result.stdout.contains("  body: allowed"), "\(result)")
    }

    @Test(arguments: [
        ("text/plain", "  body: refused (415): unsupported Content-Type header (text/plain)"),
        ("application/json", "  body: refused (400): ambiguous: duplicate keys differing only by case"),
    ])
    func explainRefusesABodyTheProxyCannotInspect(_ contentType: String, _ verdict: String) async throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try #"{"HostConfig":{"Privileged":false,"privileged":true}}"#
            .write(to: folder.appendingPathComponent("create.json"), atomically: true, encoding: .utf8)
        let result = try await Self.run(
            ["explain", "POST", "/v1.41/containers/create", "--body", "create.json", "--content-type", contentType],
            in: folder, environment: ["CONTAINERS": "1", "POST": "1"])
        #expect(result.exitCode == 1, "\(result)")
        #expect(result.lines.first == "deny: POST /v1.41/containers/create", "\(result)")
        #expect(result.stdout.contains("  profile: tecnativa\n"), "\(result)")
        #expect(result.stdout.contains(verdict), "\(result)")
    }

    @Test func explainOfAnInvalidFileExits2() async throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try "listeners: []\n".write(to: folder.appendingPathComponent("policy.yaml"), atomically: true, encoding: .utf8)
        let result = try await Self.run(["explain", "GET", "/_ping", "--config", "policy.yaml"], in: folder)
        #expect(result.exitCode == 2, "\(result)")
        #expect(result.stderr.hasPrefix("socket-proxy: policy.yaml:"), "\(result)")
    }
}

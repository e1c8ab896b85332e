// Audit and learn modes: what the policy would deny goes through and is recorded as a denial; learn mode prints the
// smallest policy allowing what it saw, and that policy, enforced, allows exactly that.
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// How a test asks for a mode: the command line or the environment.
struct ModeChoice: Sendable, CustomTestStringConvertible {
    let environment: [String: String]
    let arguments: [String]
    var testDescription: String { (arguments + environment.map { "\($0.key)=\($0.value)" }).joined(separator: " ") }
}

/// The two parts of what learn mode prints.
struct LearnedOutput {
    /// `NAME=value` lines, in order.
    let variables: [(name: String, value: String)]
    /// The `profiles:` block.
    let yaml: String

    /// Parses the first complete report in `text`; nil when there is none yet.
    init?(_ text: String) {
        guard let start = text.range(of: "# As environment variables:\n"),
            let middle = text.range(of: "# As a configuration file profile:\n", range: start.upperBound..<text.endIndex)
        else { return nil }
        variables = text[start.upperBound..<middle.lowerBound].split(separator: "\n").compactMap { line in
            guard let equals = line.firstIndex(of: "=") else { return nil }
            return (String(line[..<equals]), String(line[line.index(after: equals)...]))
        }
        let rest = text[middle.upperBound...]
        let end = rest.range(of: "# socket-proxy learn mode")?.lowerBound ?? rest.endIndex
        yaml = String(rest[..<end])
    }

    var environment: [String: String] { Dictionary(variables.map { ($0.name, $0.value) }) { _, last in last } }
}

@Suite("Audit and learn modes", .serialized)
struct ModeAuditLearnTests {
    static let auditChoices = [
        ModeChoice(environment: [:], arguments: ["--mode", "audit"]),
        ModeChoice(environment: ["MODE": "audit"], arguments: []),
    ]

    /// The audit lines in a ``ProxyProcess`` log once `done` holds for them.
    static func records(_ proxy: ProxyProcess, until done: @escaping ([[String: String]]) -> Bool) async throws
        -> [[String: String]]
    {
        try await AuditLines.wait({ proxy.log }, until: done)
    }

    @Test(arguments: auditChoices)
    func auditModeLetsADeniedListThroughAndRecordsItAsADenial(_ choice: ModeChoice) async throws {
        try await IntegrationContext.run { test in
            let name = try await test.createContainer("audited", ["true"])
            let proxy = try await test.startProxy(
                choice.environment.merging(["CONTAINERS": "0"]) { a, _ in a },
                arguments: choice.arguments + ["--log-target", "stderr"])
            let result = try await proxy.docker.run(["ps", "-a", "--filter", "label=\(test.label)"])
            #expect(result.succeeded, "\(result)\nproxy log:\n\(proxy.log)")
            #expect(result.stdout.contains(name), "the list did not reach the daemon: \(result)")
            let records = try await Self.records(proxy) { records in
                records.contains { $0["path"]?.hasSuffix("/containers/json") == true }
            }
            let list = try #require(
                records.first { $0["path"]?.hasSuffix("/containers/json") == true }, "no record:\n\(proxy.log)")
            #expect(list["decision"] == "deny", "\(list)")
            #expect(list["mode"] == "audit")
            #expect(list["rule"] == "CONTAINERS-off")
            #expect(list["reason"] == "the containers section is off (CONTAINERS=0)")
            #expect(list["status"] == "200", "the daemon's answer went back")
            #expect(list["level"] == "warning")
            // What the policy allows is recorded as allowed; `mode` marks only what passed despite the policy
            // (Docs/audit.md: "the request passed although the policy denies it").
            let ping = try #require(records.first { $0["path"] == "/_ping" }, "no record of the ping:\n\(proxy.log)")
            #expect(ping["decision"] == "allow", "\(ping)")
            #expect(ping["mode"] == nil, "an allowed request is marked as let through by audit mode: \(ping)")
        }
    }

    @Test func auditModeCreatesWhatInspectionWouldRefuseAndRecordsTheField() async throws {
        try await IntegrationContext.run { test in
            let proxy = try await test.startProxy(
                ["CONTAINERS": "1", "POST": "1"], arguments: ["--mode", "audit", "--log-target", "stderr"])
            let name = test.name("audited-privileged")
            let result = try await proxy.docker.run(
                ["create", "--name", name, "--label", test.label, "--privileged", TestImage.reference, "true"])
            #expect(result.succeeded, "\(result)\nproxy log:\n\(proxy.log)")
            #expect(try await test.api.containerRecord(name)?[path: "HostConfig", "Privileged"] as? Bool == true)
            let records = try await Self.records(proxy) { records in
                records.contains { $0["path"]?.hasSuffix("/containers/create") == true }
            }
            let create = try #require(records.first { $0["path"]?.hasSuffix("/containers/create") == true })
            #expect(create["decision"] == "deny", "\(create)")
            #expect(create["mode"] == "audit")
            #expect(create["rule"] == "CONTAINERS")
            #expect(create["status"] == "201")
            #expect(
                create["reason"] == "HostConfig.Privileged is not allowed by profile tecnativa: privileged mode gives "
                    + "the container every capability and device of the host")
        }
    }

    @Test func enforceModePrintsNoPolicyOnSIGUSR1NorAtExit() async throws {
        try await IntegrationContext.run { test in
            let proxy = try await ConfiguredProxy.start(test, tcpPorts: 1, environment: ["CONTAINERS": "1"]) { ports in
                ["--listen", "127.0.0.1:\(ports[0])", "--log-target", "stderr"]
            }
            let ps = try await proxy.docker(port: proxy.ports[0]).run(["ps"])
            #expect(ps.succeeded, "\(ps)")
            proxy.signal(SIGUSR1)
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(10)
            while !proxy.stderr.contains("SIGUSR1") && clock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(proxy.stderr.contains("SIGUSR1: nothing to print outside learn mode"), "\(proxy.output)")
            #expect(await proxy.stop() == 0, "\(proxy.output)")
            #expect(proxy.stdout.isEmpty, "enforce mode printed on stdout:\n\(proxy.stdout)")
            // One SIGUSR1 was sent, so one message about it; stopping is not a SIGUSR1.
            let mentions = proxy.stderr.split(separator: "\n").filter { $0.contains("SIGUSR1") }
            #expect(
                mentions.count == 1, "stopping logged about a SIGUSR1 nobody sent:\n\(mentions.joined(separator: "\n"))"
            )
        }
    }

    @Test func learnModePrintsAPolicyThatEnforcedAllowsWhatItSawAndNothingElse() async throws {
        try await IntegrationContext.run { test in
            let bindPath = "/srv/socket-proxy-test-\(test.tag)"
            try FileManager.default.createDirectory(atPath: bindPath, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: bindPath) }
            try Data("learned\n".utf8).write(to: URL(fileURLWithPath: bindPath + "/marker"))
            let existing = try await test.createContainer("learn-inspect", ["true"])

            let learner = try await ConfiguredProxy.start(test, tcpPorts: 1) { ports in
                ["--listen", "127.0.0.1:\(ports[0])", "--mode", "learn", "--log-target", "stderr"]
            }
            // The workload: list, inspect, run a container with a bind mount and let it remove itself.
            let workload: [[String]] = [
                ["ps", "-a", "--filter", "label=\(test.label)"],
                ["container", "inspect", "--format", "{{.Name}}", existing],
                [
                    "run", "--rm", "--network", "none", "--label", test.label, "-v", "\(bindPath):/data",
                    TestImage.reference, "cat", "/data/marker",
                ],
            ]
            let docker = learner.docker(port: learner.ports[0])
            for command in workload {
                let result = try await docker.run(command)
                #expect(result.succeeded, "learn mode refused \(command): \(result)\n\(learner.output)")
            }
            #expect(learner.stdout.isEmpty, "learn mode printed before SIGUSR1:\n\(learner.stdout)")
            learner.signal(SIGUSR1)
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(10)
            while LearnedOutput(learner.stdout) == nil && clock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            let learned = try #require(LearnedOutput(learner.stdout), "no policy on stdout:\n\(learner.output)")
            let variables = learned.environment
            #expect(variables["CONTAINERS"] == "1", "\(learned.variables)")
            #expect(variables["POST"] == "1", "\(learned.variables)")
            #expect(variables["ALLOW_BIND_MOUNTS"] == bindPath, "\(learned.variables)")
            #expect(variables["VOLUMES"] != "1", "\(learned.variables)")
            #expect(learned.yaml.hasPrefix("profiles:\n  learned:\n    rules:\n"), "\(learned.yaml)")
            #expect(
                learned.yaml.contains("      - methods: [GET]\n        path: \"/containers/json\"\n"), "\(learned.yaml)"
            )
            #expect(
                learned.yaml.contains(
                    "      - methods: [POST]\n        path: \"/containers/create\"\n        inspect:\n"
                        + "          bind_mounts: [\"\(bindPath)\"]\n"), "\(learned.yaml)")
            #expect(learned.yaml.contains("path: \"/containers/{id+}/json\""), "\(learned.yaml)")
            #expect(learned.yaml.contains("path: \"/containers/{id+}/start\""), "\(learned.yaml)")

            // The YAML is a loadable profile: check-config takes it with a listener in front.
            let file = test.file("learned.yaml")
            try ("listeners:\n  - tcp: \"127.0.0.1:1\"\n    profile: learned\n" + learned.yaml)
                .write(to: file, atomically: true, encoding: .utf8)
            let check = try await ChildProcess.run(
                try ProxyProcess.binaryPath(), ["check-config", "--config", file.path])
            #expect(check.succeeded, "the learned YAML does not load:\n\(check)\n\(learned.yaml)")

            // At exit the policy is printed once more.
            #expect(await learner.stop() == 0, "\(learner.output)")
            #expect(
                learner.stdout.components(separatedBy: "# As environment variables:").count == 3, "\(learner.stdout)")

            // Enforced with exactly the printed variables, the workload passes and nothing else does.
            let enforcer = try await test.startProxy(variables)
            for command in workload {
                let result = try await enforcer.docker.run(command)
                #expect(
                    result.succeeded, "the learned policy refuses \(command): \(result)\nproxy log:\n\(enforcer.log)")
            }
            let volumes = try await enforcer.docker.run(["volume", "ls"])
            #expect(volumes.exitCode != 0, "\(volumes)")
            #expect(volumes.stderr.contains(proxyDenialText), "\(volumes)\nproxy log:\n\(enforcer.log)")
            // The learned bind path is the only one.
            let etc = try await enforcer.docker.run([
                "create", "--name", test.name("learned-etc"), "--label", test.label, "-v", "/etc:/x",
                TestImage.reference, "true",
            ])
            #expect(etc.exitCode != 0 && etc.stderr.contains("bind mount of the host path /etc"), "\(etc)")
        }
    }
}

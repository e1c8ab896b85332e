// Tests for the environment variables of body inspection: INSPECT and ALLOW_*, parsed strictly, carried by rules.
import Testing

@testable import SocketProxyCore

/// `TecnativaSettings` and the `inspectionVariables`.
struct TecnativaInspectionTests {
    @Test func listsEveryInspectionVariableWithHelp() {
        #expect(
            TecnativaSettings.inspectionVariables.map(\.name) == [
                "INSPECT", "ALLOW_PRIVILEGED", "ALLOW_BIND_MOUNTS", "ALLOW_HOST_NAMESPACES", "ALLOW_DEVICES",
                "ALLOW_CAPABILITIES", "ALLOW_UNCONFINED", "ALLOW_SYSCTLS", "ALLOW_RUNTIMES", "ALLOW_CGROUP_PARENT",
                "ALLOW_VOLUMES_FROM",
            ])
        #expect(TecnativaSettings.inspectionVariables.allSatisfy { !$0.help.isEmpty && !$0.syntax.isEmpty })
        let booleans = Set(TecnativaSettings.booleanVariables.map(\.name))
        #expect(TecnativaSettings.inspectionVariables.allSatisfy { !booleans.contains($0.name) })
    }

    @Test func inspectsWithTheStrictDefaultWhenNothingIsSet() throws {
        let settings = try TecnativaSettings(environment: [:])
        #expect(settings.inspection == .strict)
        #expect(settings.warnings == [])
    }

    /// One environment and the inspection policy it stands for.
    static let settings: [([String: String], InspectionPolicy?)] = [
        (["INSPECT": "1"], .strict),
        (["INSPECT": "0"], nil),
        (["INSPECT": "false"], nil),
        (["ALLOW_PRIVILEGED": "1"], policy { $0.allowPrivileged = true }),
        (["ALLOW_PRIVILEGED": "off"], .strict),
        (["ALLOW_HOST_NAMESPACES": "yes"], policy { $0.allowHostNamespaces = true }),
        (["ALLOW_DEVICES": "true"], policy { $0.allowDevices = true }),
        (["ALLOW_UNCONFINED": "1"], policy { $0.allowUnconfined = true }),
        (["ALLOW_SYSCTLS": "1"], policy { $0.allowSysctls = true }),
        (["ALLOW_CGROUP_PARENT": "1"], policy { $0.allowCgroupParent = true }),
        (["ALLOW_VOLUMES_FROM": "1"], policy { $0.allowVolumesFrom = true }),
        (["ALLOW_BIND_MOUNTS": "/srv,/data"], policy { $0.allowedBindPaths = ["/srv", "/data"] }),
        (["ALLOW_BIND_MOUNTS": " /srv/ , /data//x/./y/.. ,"], policy { $0.allowedBindPaths = ["/srv", "/data/x"] }),
        (["ALLOW_BIND_MOUNTS": "/"], policy { $0.allowedBindPaths = ["/"] }),
        (["ALLOW_BIND_MOUNTS": ""], .strict),
        (["ALLOW_CAPABILITIES": "NET_ADMIN,SYS_TIME"], policy { $0.allowedCapabilities = ["NET_ADMIN", "SYS_TIME"] }),
        (
            ["ALLOW_CAPABILITIES": "cap_net_admin, Sys_Time"],
            policy { $0.allowedCapabilities = ["NET_ADMIN", "SYS_TIME"] }
        ),
        (["ALLOW_CAPABILITIES": "ALL"], policy { $0.allowAllCapabilities = true }),
        (["ALLOW_CAPABILITIES": "all"], policy { $0.allowAllCapabilities = true }),
        (["ALLOW_RUNTIMES": "nvidia, runsc"], policy { $0.allowedRuntimes = ["nvidia", "runsc"] }),
        (
            ["ALLOW_PRIVILEGED": "1", "ALLOW_DEVICES": "1", "ALLOW_BIND_MOUNTS": "/srv"],
            policy {
                $0.allowPrivileged = true
                $0.allowDevices = true
                $0.allowedBindPaths = ["/srv"]
            }
        ),
    ]

    static func policy(_ change: (inout InspectionPolicy) -> Void) -> InspectionPolicy {
        var policy = InspectionPolicy()
        change(&policy)
        return policy
    }

    @Test(arguments: settings)
    func readsEachVariable(environment: [String: String], expected: InspectionPolicy?) throws {
        let settings = try TecnativaSettings(environment: environment)
        #expect(settings.inspection == expected)
    }

    static let invalid: [([String: String], String)] = [
        (["INSPECT": "maybe"], "INSPECT=\"maybe\" is not a boolean; use 1 or 0, true or false, yes or no, on or off"),
        (
            ["ALLOW_PRIVILEGED": "2"],
            "ALLOW_PRIVILEGED=\"2\" is not a boolean; use 1 or 0, true or false, yes or no, on or off"
        ),
        (
            ["ALLOW_VOLUMES_FROM": "enabled"],
            "ALLOW_VOLUMES_FROM=\"enabled\" is not a boolean; use 1 or 0, true or false, yes or no, on or off"
        ),
        (
            ["ALLOW_BIND_MOUNTS": "/srv,data"],
            "ALLOW_BIND_MOUNTS=\"/srv,data\": \"data\" is not an absolute host path; bind paths start with \"/\""
        ),
        (
            ["ALLOW_BIND_MOUNTS": "~/x"],
            "ALLOW_BIND_MOUNTS=\"~/x\": \"~/x\" is not an absolute host path; bind paths start with \"/\""
        ),
        (
            ["ALLOW_CAPABILITIES": "NET_ADMIN,SYS_TIMES"],
            "ALLOW_CAPABILITIES=\"NET_ADMIN,SYS_TIMES\": \"SYS_TIMES\" is not a Linux capability; use names such as "
                + "NET_ADMIN or SYS_TIME (with or without CAP_), or ALL"
        ),
        (
            ["ALLOW_RUNTIMES": "nvidia,run c"],
            "ALLOW_RUNTIMES=\"nvidia,run c\": \"run c\" is not a runtime name; use letters, digits, \".\", \"_\" or \"-\""
        ),
    ]

    @Test(arguments: invalid)
    func refusesAValueNamingTheVariable(environment: [String: String], message: String) {
        #expect(throws: ConfigurationError(message)) { try TecnativaSettings(environment: environment) }
    }

    @Test func doesNotWarnAboutItsOwnVariables() throws {
        var environment: [String: String] = [:]
        for variable in TecnativaSettings.inspectionVariables { environment[variable.name] = "" }
        environment["INSPECT"] = "1"
        for name in [
            "ALLOW_PRIVILEGED", "ALLOW_HOST_NAMESPACES", "ALLOW_DEVICES", "ALLOW_UNCONFINED", "ALLOW_SYSCTLS",
            "ALLOW_CGROUP_PARENT", "ALLOW_VOLUMES_FROM",
        ] {
            environment[name] = "0"
        }
        #expect(try TecnativaSettings(environment: environment).warnings == [])
    }

    @Test func warnsAboutNearMissesOfInspectionVariables() throws {
        let settings = try TecnativaSettings(environment: [
            "ALLOW_BIND_MOUNT": "/srv", "ALLOW_PRIVILEDGED": "1", "ALLOW_ROOT": "1", "INSPECTS": "0",
        ])
        #expect(
            settings.warnings == [
                "unknown variable ALLOW_BIND_MOUNT ignored (did you mean ALLOW_BIND_MOUNTS?)",
                "unknown variable ALLOW_PRIVILEDGED ignored (did you mean ALLOW_PRIVILEGED?)",
                "unknown variable ALLOW_ROOT ignored",
                "unknown variable INSPECTS ignored (did you mean INSPECT?)",
            ])
    }

    @Test func warnsThatRelaxationsHaveNoEffectWithInspectionOff() throws {
        let settings = try TecnativaSettings(
            environment: ["INSPECT": "0", "ALLOW_PRIVILEGED": "1", "ALLOW_BIND_MOUNTS": "/srv"])
        #expect(settings.inspection == nil)
        #expect(
            settings.warnings == [
                "INSPECT=0: request bodies pass unread, so ALLOW_PRIVILEGED, ALLOW_BIND_MOUNTS have no effect"
            ])
    }

    @Test func stillChecksRelaxationsWithInspectionOff() {
        #expect(throws: ConfigurationError.self) {
            try TecnativaSettings(environment: ["INSPECT": "0", "ALLOW_CAPABILITIES": "NOPE"])
        }
    }

    // MARK: - The profile

    @Test func everyAllowRuleOfTheProfileCarriesTheInspection() throws {
        let environment = [
            "CONTAINERS": "1", "POST": "1", "EXEC": "1", "ALLOW_START": "1", "ALLOW_RESTARTS": "1",
            "ALLOW_BIND_MOUNTS": "/srv", "ALLOW_CAPABILITIES": "NET_ADMIN",
        ]
        let settings = try TecnativaSettings(environment: environment)
        var expected = InspectionPolicy()
        expected.allowedBindPaths = ["/srv"]
        expected.allowedCapabilities = ["NET_ADMIN"]
        let profile = settings.profile()
        for rule in profile.rules {
            #expect(rule.inspection == (rule.action == .allow ? expected : nil), "\(rule.name)")
        }
        #expect(profile.rules.contains { $0.name == "CONTAINERS" && $0.action == .allow })
    }

    @Test func inspectZeroLeavesEveryRuleUninspected() throws {
        let profile = try TecnativaSettings(environment: ["CONTAINERS": "1", "POST": "1", "INSPECT": "0"]).profile()
        #expect(profile.rules.allSatisfy { $0.inspection == nil })
    }

    @Test func creatingAContainerIsAllowedWithTheInspectionOfTheContainersRule() throws {
        var relaxed = InspectionPolicy()
        relaxed.allowPrivileged = true
        let cases: [([String: String], InspectionPolicy?)] = [
            (["CONTAINERS": "1", "POST": "1"], .strict),
            (["CONTAINERS": "1", "POST": "1", "ALLOW_PRIVILEGED": "1"], relaxed),
            (["CONTAINERS": "1", "POST": "1", "INSPECT": "0"], nil),
        ]
        for (environment, expected) in cases {
            let profile = try TecnativaSettings(environment: environment).profile()
            let explanation = Explanation(method: "POST", target: "/v1.47/containers/create", profile: profile)
            #expect(explanation.verdict == .allow)
            #expect(explanation.ruleName == "CONTAINERS")
            #expect(explanation.inspection == expected)
        }
    }

    /// The container-scoped denials match names with slashes, which the daemon routes to the same endpoints.
    static let slashedNames: [(String, String, String)] = [
        ("POST", "/containers/web/db/exec", "EXEC-create-needs-EXEC"),
        ("GET", "/containers/web/db/archive?path=/", "ARCHIVE-needs-ALLOW_ARCHIVE"),
        ("GET", "/containers/web/db/export", "EXPORT-needs-ALLOW_EXPORT"),
        ("POST", "/containers/web/db/attach", "ATTACH-needs-ALLOW_ATTACH"),
        ("GET", "/containers/web%2Fdb/attach/ws", "ATTACH-needs-ALLOW_ATTACH"),
    ]

    @Test(arguments: slashedNames)
    func containerDenialsCoverNamesWithSlashes(method: String, target: String, rule: String) throws {
        let profile = try TecnativaSettings(environment: ["CONTAINERS": "1", "POST": "1"]).profile()
        let explanation = Explanation(method: method, target: target, profile: profile)
        #expect(explanation.verdict == .deny)
        #expect(explanation.ruleName == rule)
    }

    @Test func describesTheInspectionInCheckConfigOutput() throws {
        let settings = try TecnativaSettings(environment: ["CONTAINERS": "1", "POST": "1", "ALLOW_DEVICES": "1"])
        let text = settings.describe()
        #expect(text.contains("  body inspection: {devices: true}\n"))
        #expect(text.contains("] CONTAINERS: allow * /containers/{rest...}\n      inspect: {devices: true}\n"))
        let off = try TecnativaSettings(environment: ["CONTAINERS": "1", "POST": "1", "INSPECT": "0"]).describe()
        #expect(off.contains("  body inspection: off (INSPECT=0)\n"))
        #expect(off.contains("      inspect: off (bodies pass unread)\n"))
    }
}

// Tests for BodyInspector.allows: bind allow-lists by whole segments, capability names, and one switch per kind.
import Testing

@testable import SocketProxyCore

/// Findings against policies.
struct InspectionPolicyTests {
    static func allows(_ kind: InspectionFinding.Kind, _ policy: InspectionPolicy) -> Bool {
        BodyInspector.allows(InspectionFinding(field: "HostConfig.X", kind: kind), policy: policy)
    }

    static let bindPaths: [(hostPath: String, allowed: [String], expected: Bool)] = [
        ("/srv/x", ["/srv"], true),
        ("/srv", ["/srv"], true),
        ("/srvx", ["/srv"], false),
        ("/srv/x", ["/srv/"], true),
        ("/srv/x", ["/srv/./"], true),
        ("/srv/x", ["//srv"], true),
        ("/etc", ["/srv"], false),
        ("/etc", [], false),
        ("/etc", ["/srv", "/etc"], true),
        ("/", ["/srv"], false),
        ("/anything/at/all", ["/"], true),
        ("\\etc", ["/"], true),
        ("\\etc", ["/srv"], false),
        ("srv/x", ["srv"], false),
        ("/srv/x", ["srv"], false),
        ("/srv/x", [""], false),
        ("/srv/x", ["/srv/x/y"], false),
    ]

    @Test(arguments: bindPaths)
    func bindPathsAreAllowedByWholeSegments(hostPath: String, allowed: [String], expected: Bool) {
        #expect(Self.allows(.bindMount(hostPath: hostPath), InspectionFixture.binds(allowed)) == expected)
    }

    @Test(arguments: [
        ("/srv/../etc:/x", ["/etc"], true), ("/srv/../etc:/x", ["/srv"], false), ("/srv//x/.:/x", ["/srv"], true),
        ("/srv//x/.:/x", ["/srv/x"], true), ("/srv/x/..:/x", ["/srv/x"], false), ("/srvx:/x", ["/srv"], false),
    ])
    func bindsAreJudgedOnTheCleanedPath(bind: String, allowed: [String], expected: Bool) {
        let body = #"{"HostConfig":{"Binds":["\#(bind)"]}}"#
        let verdict = InspectionFixture.verdict(body, policy: InspectionFixture.binds(allowed))
        #expect((verdict == .allow) == expected)
        if case .deny(let finding, _) = verdict { #expect(finding.field == "HostConfig.Binds[0]") }
    }

    /// Capability spellings the daemon accepts and the name each one normalises to.
    static let capabilitySpellings: [(raw: String, name: String)] = [
        ("cap_sys_admin", "SYS_ADMIN"), ("CAP_SYS_ADMIN", "SYS_ADMIN"), ("SYS_ADMIN", "SYS_ADMIN"),
        ("sys_admin", "SYS_ADMIN"), ("Cap_Sys_Admin", "SYS_ADMIN"), ("\u{17F}y\u{17F}_admin", "SYS_ADMIN"),
        ("ALL", "ALL"), ("all", "ALL"), ("CAP_ALL", "ALL"), ("net_raw", "NET_RAW"),
    ]

    @Test(arguments: capabilitySpellings)
    func capabilitiesAreNormalisedLikeTheDaemon(raw: String, name: String) {
        #expect(
            InspectionFixture.findings(#"{"HostConfig":{"CapAdd":["\#(raw)"]}}"#)
                == .success([InspectionFixture.finding("HostConfig.CapAdd[0]", .capability(name))]))
    }

    @Test(arguments: capabilitySpellings)
    func anAllowedCapabilityIsAllowedInEverySpelling(raw: String, name: String) {
        var policy = InspectionPolicy()
        policy.allowedCapabilities = ["SYS_ADMIN", "cap_net_raw"]
        let verdict = InspectionFixture.verdict(#"{"HostConfig":{"CapAdd":["\#(raw)"]}}"#, policy: policy)
        #expect((verdict == .allow) == (name == "SYS_ADMIN" || name == "NET_RAW"))
    }

    @Test func allCapabilitiesNeedAllowAllCapabilities() {
        var listed = InspectionPolicy()
        listed.allowedCapabilities = ["ALL", "SYS_ADMIN"]
        var all = InspectionPolicy()
        all.allowAllCapabilities = true
        #expect(!Self.allows(.capability("ALL"), listed))
        #expect(Self.allows(.capability("ALL"), all))
        #expect(Self.allows(.capability("SYS_MODULE"), all))
        #expect(!Self.allows(.capability("SYS_MODULE"), listed))
    }

    /// Each kind, and the one switch that allows it.
    static let switches: [(kind: InspectionFinding.Kind, relax: @Sendable (inout InspectionPolicy) -> Void)] = [
        (.privileged, { $0.allowPrivileged = true }),
        (.hostNamespace("PidMode=host"), { $0.allowHostNamespaces = true }),
        (.device, { $0.allowDevices = true }),
        (.unconfined("seccomp=unconfined"), { $0.allowUnconfined = true }),
        (.sysctl("net.ipv4.ip_forward"), { $0.allowSysctls = true }),
        (.runtime("nvidia"), { $0.allowedRuntimes = ["nvidia"] }),
        (.cgroupParent, { $0.allowCgroupParent = true }),
        (.volumesFrom, { $0.allowVolumesFrom = true }),
        (.bindMount(hostPath: "/srv"), { $0.allowedBindPaths = ["/srv"] }),
        (.capability("NET_ADMIN"), { $0.allowedCapabilities = ["NET_ADMIN"] }),
    ]

    @Test(arguments: switches)
    func eachKindIsDeniedByTheStrictPolicyAndAllowedByItsSwitch(
        kind: InspectionFinding.Kind, relax: @Sendable (inout InspectionPolicy) -> Void
    ) {
        var relaxed = InspectionPolicy.strict
        relax(&relaxed)
        #expect(!Self.allows(kind, .strict))
        #expect(Self.allows(kind, relaxed))
    }

    @Test func anotherRuntimeIsNotCoveredByTheAllowList() {
        var policy = InspectionPolicy()
        policy.allowedRuntimes = ["nvidia"]
        #expect(!Self.allows(.runtime("runsc"), policy))
        #expect(!Self.allows(.runtime("NVIDIA"), policy))
    }
}

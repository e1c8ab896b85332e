// Body inspection in the environment mode, driven by the real docker CLI: every way onto the host is refused with
// the field named, nothing is created, and each ALLOW_* variable lets through exactly what it names.
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// One `docker create` flag that gives a container a way onto the host, and what the denial must say.
struct DangerousFlag: Sendable, CustomTestStringConvertible {
    let flags: [String]
    /// The field the proxy names.
    let field: String
    /// The words of the detail that follows it.
    let detail: String

    var testDescription: String { flags.joined(separator: " ") }

    /// The denial as the CLI prints it.
    var denial: String { "socket-proxy: \(field) is not allowed by profile tecnativa: \(detail)" }
}

@Suite("Body inspection through the docker CLI", .serialized)
struct InspectionCLITests {
    static let dangerous: [DangerousFlag] = [
        DangerousFlag(
            flags: ["--privileged"], field: "HostConfig.Privileged",
            detail: "privileged mode gives the container every capability and device of the host"),
        DangerousFlag(flags: ["-v", "/:/host"], field: "HostConfig.Binds[0]", detail: "bind mount of the host path /"),
        DangerousFlag(
            flags: ["--pid", "host"], field: "HostConfig.PidMode",
            detail: "PidMode=host shares a namespace with the host or another container"),
        DangerousFlag(
            flags: ["--network", "host"], field: "HostConfig.NetworkMode",
            detail: "NetworkMode=host shares a namespace with the host or another container"),
        DangerousFlag(flags: ["--device", "/dev/null"], field: "HostConfig.Devices", detail: "access to host devices"),
        DangerousFlag(
            flags: ["--cap-add", "SYS_ADMIN"], field: "HostConfig.CapAdd[0]", detail: "capability SYS_ADMIN"),
        DangerousFlag(
            flags: ["--security-opt", "seccomp=unconfined"], field: "HostConfig.SecurityOpt[0]",
            detail: "seccomp=unconfined lifts a confinement of the container"),
        DangerousFlag(
            flags: ["--sysctl", "net.ipv4.ip_forward=1"], field: "HostConfig.Sysctls",
            detail: "sysctl net.ipv4.ip_forward"),
    ]

    /// More ways onto the host, checked for the denial alone.
    static let moreDangerous: [DangerousFlag] = [
        DangerousFlag(
            flags: ["--mount", "type=bind,source=/,target=/host"], field: "HostConfig.Mounts[0].Source",
            detail: "bind mount of the host path /"),
        DangerousFlag(
            flags: ["--mount", "type=volume,dst=/x,volume-opt=type=none,volume-opt=o=bind,volume-opt=device=/etc"],
            field: "HostConfig.Mounts[0].VolumeOptions.DriverConfig.Options.device",
            detail: "bind mount of the host path /etc"),
        DangerousFlag(
            flags: ["--ipc", "host"], field: "HostConfig.IpcMode",
            detail: "IpcMode=host shares a namespace with the host or another container"),
        DangerousFlag(
            flags: ["--uts", "host"], field: "HostConfig.UTSMode",
            detail: "UTSMode=host shares a namespace with the host or another container"),
        DangerousFlag(
            flags: ["--userns", "host"], field: "HostConfig.UsernsMode",
            detail: "UsernsMode=host shares a namespace with the host or another container"),
        DangerousFlag(
            flags: ["--network", "container:socket-proxy-test-other"], field: "HostConfig.NetworkMode",
            detail:
                "NetworkMode=container:socket-proxy-test-other shares a namespace with the host or another container"),
        DangerousFlag(
            flags: ["--security-opt", "apparmor=unconfined"], field: "HostConfig.SecurityOpt[0]",
            detail: "apparmor=unconfined lifts a confinement of the container"),
        DangerousFlag(
            flags: ["--security-opt", "systempaths=unconfined"], field: "HostConfig.MaskedPaths",
            detail: "MaskedPaths lifts a confinement of the container"),
        DangerousFlag(
            flags: ["--security-opt", "label=disable"], field: "HostConfig.SecurityOpt[0]",
            detail: "label=disable lifts a confinement of the container"),
        DangerousFlag(flags: ["--cap-add", "ALL"], field: "HostConfig.CapAdd[0]", detail: "every capability"),
        DangerousFlag(
            flags: ["--device-cgroup-rule", "c 1:3 rwm"], field: "HostConfig.DeviceCgroupRules",
            detail: "access to host devices"),
        DangerousFlag(flags: ["--gpus", "all"], field: "HostConfig.DeviceRequests", detail: "access to host devices"),
        DangerousFlag(
            flags: ["--cgroup-parent", "socket-proxy-test"], field: "HostConfig.CgroupParent",
            detail: "a cgroup parent of the client's choosing"),
        DangerousFlag(
            flags: ["--volumes-from", "socket-proxy-test-other"], field: "HostConfig.VolumesFrom",
            detail: "the volumes of another container"),
        DangerousFlag(flags: ["--runtime", "nvidia"], field: "HostConfig.Runtime", detail: "runtime nvidia"),
    ]

    /// `docker create` of the test image running `true`, named and labelled for this test.
    static func create(_ name: String, _ test: IntegrationContext, _ flags: [String]) -> [String] {
        ["create", "--name", name, "--label", test.label] + flags + [TestImage.reference, "true"]
    }

    /// Runs a create that the proxy must refuse and checks the message and that the daemon still has only the
    /// `existing` containers with the test's label.
    static func expectDenied(
        _ flags: [String], message: String, proxy: ProxyProcess, test: IntegrationContext, existing: Int = 0,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let name = test.name("denied")
        let result = try await proxy.docker.run(create(name, test, flags))
        #expect(result.exitCode != 0, "\(result)", sourceLocation: sourceLocation)
        #expect(
            result.stderr.contains(message),
            "expected \(message.debugDescription)\n\(result)\nproxy log:\n\(proxy.log)",
            sourceLocation: sourceLocation)
        #expect(
            try await test.api.container(name) == nil, "the denied create made \(name)", sourceLocation: sourceLocation)
        #expect(
            try await test.api.containers(labelled: test.label).count == existing,
            "the denied create left a container with the test's label", sourceLocation: sourceLocation)
    }

    /// Runs a create that must succeed and returns the new container's inspect record.
    static func expectCreated(
        _ flags: [String], proxy: ProxyProcess, test: IntegrationContext,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> [String: Any] {
        let name = test.name("allowed")
        let result = try await proxy.docker.run(create(name, test, flags))
        #expect(result.succeeded, "\(result)\nproxy log:\n\(proxy.log)", sourceLocation: sourceLocation)
        return try #require(
            try await test.api.containerRecord(name), "no container \(name) after `docker \(flags)`",
            sourceLocation: sourceLocation)
    }

    @Test(arguments: dangerous)
    func aCreateWithAWayOntoTheHostIsDeniedNamingTheField(_ flag: DangerousFlag) async throws {
        try await IntegrationContext.run { test in
            let proxy = try await test.startProxy(["CONTAINERS": "1", "POST": "1"])
            try await Self.expectDenied(flag.flags, message: flag.denial, proxy: proxy, test: test)
            // The same command without the flag goes through: the flag alone made the difference.
            let record = try await Self.expectCreated([], proxy: proxy, test: test)
            #expect(record[path: "HostConfig", "Privileged"] as? Bool == false)
            #expect(record.strings("HostConfig", "CapAdd") ?? [] == [])
            #expect(try await test.api.containers(labelled: test.label).count == 1)
        }
    }

    @Test(arguments: moreDangerous)
    func anotherWayOntoTheHostIsDeniedNamingTheField(_ flag: DangerousFlag) async throws {
        try await IntegrationContext.run { test in
            let proxy = try await test.startProxy(["CONTAINERS": "1", "POST": "1"])
            try await Self.expectDenied(flag.flags, message: flag.denial, proxy: proxy, test: test)
        }
    }

    /// With LOG_LEVEL=warning the audit trail keeps denials only; a create the inspector refuses is one of them.
    @Test func aBodyDenialIsAuditedWhenOnlyWarningsAreLogged() async throws {
        try await IntegrationContext.run { test in
            let proxy = try await test.startProxy(
                ["CONTAINERS": "1", "POST": "1", "LOG_LEVEL": "warning"], arguments: ["--log-target", "stderr"])
            try await Self.expectDenied(
                ["--privileged"], message: "socket-proxy: HostConfig.Privileged is not allowed", proxy: proxy,
                test: test)
            let records = try await AuditLines.wait(timeout: .seconds(3), { proxy.log }) { records in
                records.contains { $0["path"]?.hasSuffix("/containers/create") == true }
            }
            let create = records.first { $0["path"]?.hasSuffix("/containers/create") == true }
            #expect(
                create != nil,
                "the 403 for HostConfig.Privileged left no audit record at LOG_LEVEL=warning:\n\(proxy.log)")
            #expect(create?["decision"] == "deny")
            #expect(create?["reason"]?.hasPrefix("HostConfig.Privileged is not allowed by profile tecnativa") == true)
        }
    }

    @Test func bindMountsUnderALLOW_BIND_MOUNTSAreCreatedAndOthersDenied() async throws {
        try await IntegrationContext.run { test in
            let allowed = "/srv/socket-proxy-test-\(test.tag)"
            let sibling = "/srv-socket-proxy-test-\(test.tag)"
            try FileManager.default.createDirectory(atPath: allowed, withIntermediateDirectories: true)
            defer {
                try? FileManager.default.removeItem(atPath: allowed)
                try? FileManager.default.removeItem(atPath: sibling)
            }
            let proxy = try await test.startProxy(["CONTAINERS": "1", "POST": "1", "ALLOW_BIND_MOUNTS": "/srv"])

            let record = try await Self.expectCreated(["-v", "\(allowed):/data"], proxy: proxy, test: test)
            #expect(record.strings("HostConfig", "Binds") == ["\(allowed):/data"])
            let created = try await test.api.containers(labelled: test.label)
            for container in created { await test.api.removeContainer(container.id) }

            try await Self.expectDenied(
                ["-v", "/etc:/x"],
                message: "socket-proxy: HostConfig.Binds[0] is not allowed by profile tecnativa: "
                    + "bind mount of the host path /etc",
                proxy: proxy, test: test)
            // A path that only looks as if it were under /srv is cleaned first.
            try await Self.expectDenied(
                ["-v", "/srv/../etc:/y"],
                message: "socket-proxy: HostConfig.Binds[0] is not allowed by profile tecnativa: "
                    + "bind mount of the host path /etc",
                proxy: proxy, test: test)
            // Neither is a sibling whose name merely starts with "/srv".
            try await Self.expectDenied(
                ["-v", "\(sibling):/z"], message: "bind mount of the host path \(sibling)", proxy: proxy, test: test)
            #expect(!FileManager.default.fileExists(atPath: sibling), "the daemon made \(sibling) for a denied bind")
        }
    }

    @Test func privilegedIsCreatedWithALLOW_PRIVILEGED() async throws {
        try await IntegrationContext.run { test in
            let proxy = try await test.startProxy(["CONTAINERS": "1", "POST": "1", "ALLOW_PRIVILEGED": "1"])
            let record = try await Self.expectCreated(["--privileged"], proxy: proxy, test: test)
            #expect(record[path: "HostConfig", "Privileged"] as? Bool == true)
            // Only privileged was relaxed.
            try await Self.expectDenied(
                ["--pid", "host"], message: "socket-proxy: HostConfig.PidMode is not allowed", proxy: proxy,
                test: test, existing: 1)
        }
    }

    @Test func onlyTheCapabilitiesOfALLOW_CAPABILITIESAreAdded() async throws {
        try await IntegrationContext.run { test in
            let proxy = try await test.startProxy(["CONTAINERS": "1", "POST": "1", "ALLOW_CAPABILITIES": "NET_ADMIN"])
            let record = try await Self.expectCreated(["--cap-add", "NET_ADMIN"], proxy: proxy, test: test)
            // The CLI sends the canonical CAP_ spelling; the daemon keeps it as sent.
            #expect(record.strings("HostConfig", "CapAdd") == ["CAP_NET_ADMIN"])
            try await Self.expectDenied(
                ["--cap-add", "SYS_ADMIN"],
                message: "socket-proxy: HostConfig.CapAdd[0] is not allowed by profile tecnativa: capability SYS_ADMIN",
                proxy: proxy, test: test, existing: 1)
            try await Self.expectDenied(
                ["--cap-add", "NET_ADMIN", "--cap-add", "cap_sys_admin"],
                message: "socket-proxy: HostConfig.CapAdd[1] is not allowed by profile tecnativa: capability SYS_ADMIN",
                proxy: proxy, test: test, existing: 1)
        }
    }

    @Test func inspectZeroPassesPrivilegedUnreadAsTecnativaDoes() async throws {
        try await IntegrationContext.run { test in
            let proxy = try await test.startProxy(["CONTAINERS": "1", "POST": "1", "INSPECT": "0"])
            let record = try await Self.expectCreated(["--privileged", "--pid", "host"], proxy: proxy, test: test)
            #expect(record[path: "HostConfig", "Privileged"] as? Bool == true)
            #expect(record[path: "HostConfig", "PidMode"] as? String == "host")
        }
    }

    @Test func aLocalVolumeBindingAHostPathIsDenied() async throws {
        try await IntegrationContext.run { test in
            let proxy = try await test.startProxy(["VOLUMES": "1", "POST": "1"])
            let volume = test.name("bindvol", kind: .volume)
            let result = try await proxy.docker.run([
                "volume", "create", "--opt", "type=none", "--opt", "o=bind", "--opt", "device=/etc", volume,
            ])
            #expect(result.exitCode != 0, "\(result)")
            let denial =
                "socket-proxy: DriverOpts.device is not allowed by profile tecnativa: bind mount of the host path /etc"
            #expect(result.stderr.contains(denial), "\(result)\nproxy log:\n\(proxy.log)")
            #expect(try await test.api.volumeRecord(volume) == nil, "the denied volume exists")
            // A plain named volume is fine.
            let plain = test.name("plainvol", kind: .volume)
            let created = try await proxy.docker.run(["volume", "create", plain])
            #expect(created.succeeded, "\(created)\nproxy log:\n\(proxy.log)")
            #expect(try await test.api.volumeRecord(plain)?["Driver"] as? String == "local")
        }
    }

    @Test func aPrivilegedExecIsDeniedWithEXEC() async throws {
        try await IntegrationContext.run { test in
            let name = try await test.runContainer("exec-priv", ["sleep", "300"])
            let proxy = try await test.startProxy(["CONTAINERS": "1", "POST": "1", "EXEC": "1"])
            let result = try await proxy.docker.run(["exec", "--privileged", name, "touch", "/tmp/privileged-exec"])
            #expect(result.exitCode != 0, "\(result)")
            let denial =
                "socket-proxy: Privileged is not allowed by profile tecnativa: privileged mode gives the container"
            #expect(result.stderr.contains(denial), "\(result)\nproxy log:\n\(proxy.log)")
            let details = try #require(try await test.api.container(name))
            #expect(details.execIDs ?? [] == [], "an exec instance was created: \(details.execIDs ?? [])")
            // An unprivileged exec through the same proxy runs.
            let plain = try await proxy.docker.run(["exec", name, "touch", "/tmp/plain-exec"])
            #expect(plain.succeeded, "\(plain)\nproxy log:\n\(proxy.log)")
            #expect(try await test.direct.run(["cp", "\(name):/tmp/plain-exec", "-"]).succeeded)
            #expect(!(try await test.direct.run(["cp", "\(name):/tmp/privileged-exec", "-"]).succeeded))
        }
    }
}

// Tests for container create, update and exec bodies: every dangerous field, at both levels, and its safe values.
import Testing

@testable import SocketProxyCore

/// Container bodies, field by field.
struct InspectionContainerTests {
    typealias Kind = InspectionFinding.Kind

    /// A dangerous member of a HostConfig, a harmless value of the same field, the field name, and what it asks for.
    static let dangerous: [(snippet: String, harmless: String, field: String, kind: Kind)] = [
        (#""Privileged":true"#, #""Privileged":false"#, "Privileged", .privileged),
        (
            #""Binds":["/etc:/host-etc:ro"]"#, #""Binds":["data:/data","/anonymous"]"#, "Binds[0]",
            .bindMount(hostPath: "/etc")
        ),
        (#""Binds":["/:/host"]"#, #""Binds":[]"#, "Binds[0]", .bindMount(hostPath: "/")),
        (
            #""Mounts":[{"Type":"bind","Source":"/var/run/docker.sock","Target":"/var/run/docker.sock"}]"#,
            #""Mounts":[{"Type":"volume","Source":"data","Target":"/data"},{"Type":"tmpfs","Target":"/tmp"}]"#,
            "Mounts[0].Source", .bindMount(hostPath: "/var/run/docker.sock")
        ),
        (
            #""Mounts":[{"Type":"volume","Source":"root","Target":"/host","VolumeOptions":{"DriverConfig":{"Name":"local","Options":{"type":"none","o":"bind","device":"/"}}}}]"#,
            #""Mounts":[{"Type":"volume","Source":"scratch","Target":"/s","VolumeOptions":{"DriverConfig":{"Name":"local","Options":{"type":"tmpfs","o":"size=100m","device":"tmpfs"}}}}]"#,
            "Mounts[0].VolumeOptions.DriverConfig.Options.device", .bindMount(hostPath: "/")
        ),
        (#""VolumesFrom":["db:ro"]"#, #""VolumesFrom":[]"#, "VolumesFrom", .volumesFrom),
        (
            #""Devices":[{"PathOnHost":"/dev/sda","PathInContainer":"/dev/sda","CgroupPermissions":"rwm"}]"#,
            #""Devices":[]"#, "Devices", .device
        ),
        (
            #""DeviceRequests":[{"Driver":"nvidia","Count":-1,"Capabilities":[["gpu"]]}]"#, #""DeviceRequests":null"#,
            "DeviceRequests", .device
        ),
        (#""DeviceCgroupRules":["c 1:3 mr"]"#, #""DeviceCgroupRules":[]"#, "DeviceCgroupRules", .device),
        (#""CapAdd":["SYS_ADMIN"]"#, #""CapDrop":["ALL"]"#, "CapAdd[0]", .capability("SYS_ADMIN")),
        (#""CapAdd":"NET_ADMIN""#, #""CapAdd":[]"#, "CapAdd", .capability("NET_ADMIN")),
        (#""Capabilities":["CAP_SYS_PTRACE"]"#, #""Capabilities":null"#, "Capabilities[0]", .capability("SYS_PTRACE")),
        (#""NetworkMode":"host""#, #""NetworkMode":"bridge""#, "NetworkMode", .hostNamespace("NetworkMode=host")),
        (
            #""NetworkMode":"container:db""#, #""NetworkMode":"default""#, "NetworkMode",
            .hostNamespace("NetworkMode=container:db")
        ),
        (#""PidMode":"host""#, #""PidMode":"""#, "PidMode", .hostNamespace("PidMode=host")),
        (#""PidMode":"container:db""#, #""PidMode":"""#, "PidMode", .hostNamespace("PidMode=container:db")),
        (#""IpcMode":"host""#, #""IpcMode":"shareable""#, "IpcMode", .hostNamespace("IpcMode=host")),
        (#""IpcMode":"container:db""#, #""IpcMode":"private""#, "IpcMode", .hostNamespace("IpcMode=container:db")),
        (#""UTSMode":"host""#, #""UTSMode":"""#, "UTSMode", .hostNamespace("UTSMode=host")),
        (#""UsernsMode":"host""#, #""UsernsMode":"""#, "UsernsMode", .hostNamespace("UsernsMode=host")),
        (#""CgroupnsMode":"host""#, #""CgroupnsMode":"private""#, "CgroupnsMode", .hostNamespace("CgroupnsMode=host")),
        (#""Cgroup":"container:db""#, #""Cgroup":"""#, "Cgroup", .hostNamespace("Cgroup=container:db")),
        (
            #""SecurityOpt":["seccomp=unconfined"]"#, #""SecurityOpt":["no-new-privileges"]"#, "SecurityOpt[0]",
            .unconfined("seccomp=unconfined")
        ),
        (
            #""SecurityOpt":["seccomp:unconfined"]"#, #""SecurityOpt":["no-new-privileges:true"]"#, "SecurityOpt[0]",
            .unconfined("seccomp=unconfined")
        ),
        (
            #""SecurityOpt":["seccomp={\"defaultAction\":\"SCMP_ACT_ALLOW\"}"]"#, #""SecurityOpt":["seccomp=builtin"]"#,
            "SecurityOpt[0]", .unconfined("seccomp profile")
        ),
        (
            #""SecurityOpt":["apparmor=unconfined"]"#, #""SecurityOpt":["apparmor=docker-default"]"#, "SecurityOpt[0]",
            .unconfined("apparmor=unconfined")
        ),
        (
            #""SecurityOpt":["label=disable"]"#, #""SecurityOpt":["label=level:s0:c100,c200"]"#, "SecurityOpt[0]",
            .unconfined("label=disable")
        ),
        (
            #""SecurityOpt":["label:disable"]"#, #""SecurityOpt":["label:user:USER"]"#, "SecurityOpt[0]",
            .unconfined("label=disable")
        ),
        (#""SecurityOpt":["disable"]"#, #""SecurityOpt":[]"#, "SecurityOpt[0]", .unconfined("label=disable")),
        (
            #""SecurityOpt":["label=type:spc_t"]"#, #""SecurityOpt":["label=role:ROLE"]"#, "SecurityOpt[0]",
            .unconfined("label=type:spc_t")
        ),
        (
            #""SecurityOpt":["systempaths=unconfined"]"#, #""SecurityOpt":null"#, "SecurityOpt[0]",
            .unconfined("systempaths=unconfined")
        ),
        (
            #""SecurityOpt":["writable-cgroups=true"]"#, #""SecurityOpt":["writable-cgroups=false"]"#, "SecurityOpt[0]",
            .unconfined("writable-cgroups")
        ),
        (#""MaskedPaths":[]"#, #""MaskedPaths":null"#, "MaskedPaths", .unconfined("MaskedPaths")),
        (#""ReadonlyPaths":["/proc/sys"]"#, #""ReadonlyPaths":null"#, "ReadonlyPaths", .unconfined("ReadonlyPaths")),
        (
            #""Sysctls":{"net.ipv4.ip_forward":"1","kernel.shmmax":"1"}"#, #""Sysctls":{}"#, "Sysctls",
            .sysctl("net.ipv4.ip_forward")
        ),
        (#""Runtime":"nvidia""#, #""Runtime":"runc""#, "Runtime", .runtime("nvidia")),
        (#""CgroupParent":"/system.slice""#, #""CgroupParent":"""#, "CgroupParent", .cgroupParent),
    ]

    static func create(hostConfig members: String) -> String {
        #"{"Image":"busybox","Cmd":["true"],"Labels":{"app":"web"},"HostConfig":{"AutoRemove":true,"Memory":0,\#(members)}}"#
    }

    static func create(topLevel members: String) -> String {
        #"{"Image":"busybox","Cmd":["true"],"Labels":{"app":"web"},\#(members),"HostConfig":{"AutoRemove":true}}"#
    }

    @Test func theBodyWithoutAnyDangerousFieldPasses() {
        #expect(InspectionFixture.findings(Self.create(hostConfig: #""ShmSize":0"#)) == .success([]))
        #expect(InspectionFixture.verdict(Self.create(hostConfig: #""ShmSize":0"#)) == .allow)
    }

    @Test(arguments: dangerous)
    func findsEachDangerousFieldInHostConfig(snippet: String, harmless: String, field: String, kind: Kind) {
        let finding = InspectionFixture.finding("HostConfig.\(field)", kind)
        #expect(InspectionFixture.findings(Self.create(hostConfig: snippet)) == .success([finding]))
        #expect(InspectionFixture.verdict(Self.create(hostConfig: snippet)) == .deny(finding, detail: finding.detail))
    }

    @Test(arguments: dangerous)
    func findsEachDangerousFieldAtTheTopLevelWhereOldDaemonsReadIt(
        snippet: String, harmless: String, field: String, kind: Kind
    ) {
        #expect(
            InspectionFixture.findings(Self.create(topLevel: snippet))
                == .success([InspectionFixture.finding(field, kind)]))
    }

    @Test(arguments: dangerous)
    func aHarmlessValueOfEachFieldPasses(snippet: String, harmless: String, field: String, kind: Kind) {
        #expect(InspectionFixture.findings(Self.create(hostConfig: harmless)) == .success([]))
        #expect(InspectionFixture.findings(Self.create(topLevel: harmless)) == .success([]))
        #expect(InspectionFixture.verdict(Self.create(hostConfig: harmless)) == .allow)
    }

    @Test func findingsComeInDocumentOrderAcrossBothLevels() {
        let body = #"{"Privileged":true,"HostConfig":{"CapAdd":["ALL"],"NetworkMode":"host"},"Binds":["/:/h"]}"#
        #expect(
            InspectionFixture.findings(body)
                == .success([
                    InspectionFixture.finding("Privileged", .privileged),
                    InspectionFixture.finding("HostConfig.CapAdd[0]", .capability("ALL")),
                    InspectionFixture.finding("HostConfig.NetworkMode", .hostNamespace("NetworkMode=host")),
                    InspectionFixture.finding("Binds[0]", .bindMount(hostPath: "/")),
                ]))
    }

    @Test func theVerdictNamesTheFirstFindingThePolicyDoesNotAllow() {
        var policy = InspectionPolicy()
        policy.allowPrivileged = true
        policy.allowAllCapabilities = true
        let body = #"{"Privileged":true,"HostConfig":{"CapAdd":["ALL"],"NetworkMode":"host"},"Binds":["/:/h"]}"#
        let finding = InspectionFixture.finding("HostConfig.NetworkMode", .hostNamespace("NetworkMode=host"))
        #expect(
            InspectionFixture.verdict(body, policy: policy)
                == .deny(finding, detail: "NetworkMode=host shares a namespace with the host or another container"))
    }

    @Test func everyBindAndMountIsReportedOnItsOwn() {
        let body = Self.create(
            hostConfig:
                #""Binds":["data:/d","/srv/a:/a","/srv/b:/b:ro,rslave"],"Mounts":[{"Type":"tmpfs","Target":"/t"},{"Type":"bind","Source":"/srv/c","Target":"/c"}]"#
        )
        #expect(
            InspectionFixture.findings(body)
                == .success([
                    InspectionFixture.finding("HostConfig.Binds[1]", .bindMount(hostPath: "/srv/a")),
                    InspectionFixture.finding("HostConfig.Binds[2]", .bindMount(hostPath: "/srv/b")),
                    InspectionFixture.finding("HostConfig.Mounts[1].Source", .bindMount(hostPath: "/srv/c")),
                ]))
    }

    /// Bind sources as the daemon reads them, and the host path each one reaches.
    static let bindSources: [(bind: String, hostPath: String?)] = [
        ("/srv/../etc:/x", "/etc"),
        ("/srv//x/.:/x", "/srv/x"),
        ("/srv/../../..:/x", "/"),
        ("//etc///passwd:/x:ro", "/etc/passwd"),
        // A combining mark after "/" makes one grapheme in Swift, but Go splits bytes: this is still /etc.
        ("/\u{301}/../etc:/x", "/etc"),
        ("relative/../etc:/x", nil),
        ("volume:/x", nil),
        ("/only-a-target", nil),
    ]

    @Test(arguments: bindSources)
    func bindSourcesAreCleanedLikeGoPathClean(bind: String, hostPath: String?) {
        let body = Self.create(hostConfig: #""Binds":["\#(bind)"]"#)
        let expected =
            hostPath.map { [InspectionFixture.finding("HostConfig.Binds[0]", .bindMount(hostPath: $0))] } ?? []
        #expect(InspectionFixture.findings(body) == .success(expected))
    }

    @Test func aRelativeMountSourceIsReportedRelative() {
        let body = Self.create(hostConfig: #""Mounts":[{"Type":"bind","Source":"\\etc","Target":"/x"}]"#)
        #expect(
            InspectionFixture.findings(body)
                == .success([InspectionFixture.finding("HostConfig.Mounts[0].Source", .bindMount(hostPath: "\\etc"))]))
    }

    @Test func mountTypesAreMatchedWithoutCase() {
        let body = Self.create(hostConfig: #""Mounts":[{"type":"BIND","source":"/etc","target":"/x"}]"#)
        #expect(
            InspectionFixture.findings(body)
                == .success([InspectionFixture.finding("HostConfig.Mounts[0].Source", .bindMount(hostPath: "/etc"))]))
    }

    @Test func aContainerModeWithACombiningMarkAfterTheColonStillSharesTheNamespace() {
        let body = Self.create(hostConfig: "\"NetworkMode\":\"container:\u{301}db\"")
        #expect(
            InspectionFixture.findings(body)
                == .success([
                    InspectionFixture.finding(
                        "HostConfig.NetworkMode", .hostNamespace("NetworkMode=container:\u{301}db"))
                ]))
    }

    @Test func perEndpointSysctlsAreSysctls() {
        let body = #"""
            {"Image":"busybox","NetworkingConfig":{"EndpointsConfig":{"bridge":{"DriverOpts":{"com.docker.network.endpoint.sysctls":"net.ipv4.conf.IFNAME.forwarding=1,net.ipv6.conf.IFNAME.disable_ipv6=0"}}}}}
            """#
        #expect(
            InspectionFixture.findings(body)
                == .success([
                    InspectionFixture.finding(
                        "NetworkingConfig.EndpointsConfig.bridge.DriverOpts.com.docker.network.endpoint.sysctls",
                        .sysctl("net.ipv4.conf.IFNAME.forwarding=1"))
                ]))
    }

    @Test func theUpdateBodyIsCheckedForItsResourceFieldsOnly() {
        let body = #"""
            {"CgroupParent":"/","Memory":1048576,"Devices":[{"PathOnHost":"/dev/sda"}],"DeviceCgroupRules":[],"Privileged":true,"RestartPolicy":{"Name":"always"}}
            """#
        #expect(
            InspectionFixture.findings(body, endpoint: .containerUpdate)
                == .success([
                    InspectionFixture.finding("CgroupParent", .cgroupParent),
                    InspectionFixture.finding("Devices", .device),
                ]))
        #expect(
            InspectionFixture.findings(
                #"{"Memory":1048576,"RestartPolicy":{"Name":"always"}}"#, endpoint: .containerUpdate) == .success([]))
    }

    @Test(arguments: [
        (#"{"Privileged":true,"Cmd":["sh"]}"#, true),
        (#"{"privileged":true,"Cmd":["sh"]}"#, true),
        (#"{"Privileged":false,"User":"root","Cmd":["sh"]}"#, false),
        (#"{"Cmd":["sh"],"Env":["Privileged=true"]}"#, false),
    ])
    func theExecBodyIsCheckedForPrivileged(body: String, privileged: Bool) {
        let expected = privileged ? [InspectionFixture.finding("Privileged", .privileged)] : []
        #expect(InspectionFixture.findings(body, endpoint: .execCreate) == .success(expected))
    }

    @Test func clientTextInFieldsAndDetailsHasItsControlCharactersEscaped() {
        let body = #"""
            {"HostConfig":{"NetworkMode":"container:db\nX-Injected: 1"},
             "NetworkingConfig":{"EndpointsConfig":{"a\rb":{"DriverOpts":{"com.docker.network.endpoint.sysctls":"x=1"}}}}}
            """#
        guard case .success(let findings) = InspectionFixture.findings(body), findings.count == 2 else {
            Issue.record("expected two findings")
            return
        }
        #expect(findings[0].kind == .hostNamespace("NetworkMode=container:db\nX-Injected: 1"))
        #expect(
            findings[0].detail
                == "NetworkMode=container:db\\u{a}X-Injected: 1 shares a namespace with the host or another container")
        #expect(
            findings[1].field
                == "NetworkingConfig.EndpointsConfig.a\\u{d}b.DriverOpts.com.docker.network.endpoint.sysctls")
    }

    @Test func emptyCapabilityNamesAreNoCapability() {
        #expect(InspectionFixture.findings(#"{"HostConfig":{"CapAdd":[null,""],"Capabilities":[""]}}"#) == .success([]))
    }
}

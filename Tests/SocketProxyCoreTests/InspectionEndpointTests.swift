// Tests for recognising inspected endpoints, and for the volume, service and plugin bodies.
import Testing

@testable import SocketProxyCore

/// Method and path to endpoint.
struct InspectionEndpointTests {
    static let routes: [(method: HTTPMethod, path: String, endpoint: InspectedEndpoint?)] = [
        (.post, "/containers/create", .containerCreate),
        (.post, "/containers/abc123/update", .containerUpdate),
        (.post, "/containers/create/update", .containerUpdate),
        (.post, "/containers/a/b/update", .containerUpdate),
        (.post, "/containers/abc123/exec", .execCreate),
        (.post, "/containers/x/update/exec", .execCreate),
        (.post, "/volumes/create", .volumeCreate),
        (.post, "/services/create", .serviceCreate),
        (.post, "/services/web/update", .serviceUpdate),
        (.post, "/plugins/pull", .pluginPull),
        (.post, "/plugins/vieux/sshfs:latest/upgrade", .pluginUpgrade),
        (.get, "/containers/create", nil),
        (.put, "/containers/create", nil),
        (.other, "/containers/create", nil),
        (.post, "/containers/create/", nil),
        (.post, "/containers/abc/start", .containerCreate),
        (.post, "/containers/abc/restart", nil),
        (.post, "/containers/update", nil),
        (.post, "/exec/abc/start", nil),
        (.post, "/volumes/prune", nil),
        (.post, "/Containers/create", nil),
        (.post, "/v1.47/containers/create", nil),
        (.post, "/", nil),
        (.post, "", nil),
    ]

    @Test(arguments: routes)
    func theEndpointFollowsMethodAndPath(method: HTTPMethod, path: String, endpoint: InspectedEndpoint?) {
        let recognised = Array(path.utf8).withUnsafeBytes { InspectedEndpoint(method: method, path: $0) }
        #expect(recognised == endpoint)
    }
}

/// `POST /volumes/create`.
struct InspectionVolumeTests {
    static let bodies: [(body: String, findings: [InspectionFinding])] = [
        (
            #"{"Name":"root","Driver":"local","DriverOpts":{"type":"none","o":"bind","device":"/"}}"#,
            [InspectionFixture.finding("DriverOpts.device", .bindMount(hostPath: "/"))]
        ),
        (
            #"{"Name":"etc","DriverOpts":{"type":"none","o":"rbind","device":"/srv/../etc/"}}"#,
            [InspectionFixture.finding("DriverOpts.device", .bindMount(hostPath: "/etc"))]
        ),
        (
            #"{"Name":"ro","Driver":"local","DriverOpts":{"type":"none","o":"ro,bind","device":"/var/lib"}}"#,
            [InspectionFixture.finding("DriverOpts.device", .bindMount(hostPath: "/var/lib"))]
        ),
        (
            #"{"Name":"tmp","Driver":"local","DriverOpts":{"type":"tmpfs","o":"bind","device":"/etc"}}"#,
            [InspectionFixture.finding("DriverOpts.device", .bindMount(hostPath: "/etc"))]
        ),
        (
            #"{"Name":"plugin","Driver":"some/driver","DriverOpts":{"o":"bind","device":"/home"}}"#,
            [InspectionFixture.finding("DriverOpts.device", .bindMount(hostPath: "/home"))]
        ),
        (
            #"{"Name":"disk","Driver":"local","DriverOpts":{"type":"ext4","device":"/dev/sda1"}}"#,
            [InspectionFixture.finding("DriverOpts.device", .bindMount(hostPath: "/dev/sda1"))]
        ),
        (
            #"{"Name":"proc","Driver":"local","DriverOpts":{"type":"proc","device":"proc"}}"#,
            [InspectionFixture.finding("DriverOpts.type", .unconfined("volume type proc"))]
        ),
        (
            #"{"Name":"ov","DriverOpts":{"type":"overlay","device":"overlay","o":"lowerdir=/etc,upperdir=/u,workdir=/w"}}"#,
            [InspectionFixture.finding("DriverOpts.type", .unconfined("volume type overlay"))]
        ),
        (#"{"Name":"data"}"#, []),
        (#"{"Name":"data","Driver":"local","DriverOpts":{}}"#, []),
        (
            #"{"Name":"scratch","Driver":"local","DriverOpts":{"type":"tmpfs","device":"tmpfs","o":"size=100m,uid=1000"}}"#,
            []
        ),
        (
            #"{"Name":"nfs","Driver":"local","DriverOpts":{"type":"nfs","o":"addr=10.0.0.1,rw","device":":/export"}}"#,
            []
        ),
        (#"{"Name":"cifs","DriverOpts":{"type":"cifs","o":"addr=host,username=u","device":"//host/share"}}"#, []),
        (#"{"Name":"quota","Driver":"local","DriverOpts":{"size":"10G"}}"#, []),
        (#"{"Name":"plugin","Driver":"rexray/ebs","DriverOpts":{"type":"ext4","device":"/dev/xvdf"}}"#, []),
        (#"{"Name":"labelled","Labels":{"o":"bind","device":"/"}}"#, []),
        (#"{"Name":"nodevice","DriverOpts":{"type":"none","o":"bind"}}"#, []),
    ]

    @Test(arguments: bodies)
    func driverOptionsThatReachTheHostAreFindings(body: String, findings: [InspectionFinding]) {
        #expect(InspectionFixture.findings(body, endpoint: .volumeCreate) == .success(findings))
    }

    @Test func aBindVolumeUnderAnAllowedPathPasses() {
        let body = #"{"Name":"data","Driver":"local","DriverOpts":{"type":"none","o":"bind","device":"/srv/data"}}"#
        #expect(
            InspectionFixture.verdict(body, endpoint: .volumeCreate, policy: InspectionFixture.binds(["/srv"]))
                == .allow)
        #expect(InspectionFixture.verdict(body, endpoint: .volumeCreate) != .allow)
    }
}

/// `POST /services/create` and `/services/{id}/update`.
struct InspectionServiceTests {
    static let bindAndUnconfined = #"""
        {"Name":"web","Labels":{"Privileged":"true"},
         "TaskTemplate":{"ContainerSpec":{"Image":"nginx",
            "Mounts":[{"Type":"bind","Source":"/var/run/docker.sock","Target":"/var/run/docker.sock"}],
            "Privileges":{"NoNewPrivileges":false,"Seccomp":{"Mode":"unconfined"}}},
          "RestartPolicy":{"Condition":"any"}},
         "Mode":{"Replicated":{"Replicas":1}}}
        """#

    @Test(arguments: [InspectedEndpoint.serviceCreate, .serviceUpdate])
    func aServiceWithABindMountAndUnconfinedSeccompHasBothFindings(endpoint: InspectedEndpoint) {
        #expect(
            InspectionFixture.findings(Self.bindAndUnconfined, endpoint: endpoint)
                == .success([
                    InspectionFixture.finding(
                        "TaskTemplate.ContainerSpec.Mounts[0].Source", .bindMount(hostPath: "/var/run/docker.sock")),
                    InspectionFixture.finding(
                        "TaskTemplate.ContainerSpec.Privileges.Seccomp.Mode", .unconfined("seccomp unconfined")),
                ]))
    }

    static func spec(containerSpec: String) -> String {
        #"{"Name":"web","TaskTemplate":{"ContainerSpec":{"Image":"nginx",\#(containerSpec)}}}"#
    }

    static let containerSpecs: [(members: String, finding: InspectionFinding?)] = [
        (
            #""Privileges":{"SELinuxContext":{"Disable":true}}"#,
            InspectionFixture.finding(
                "TaskTemplate.ContainerSpec.Privileges.SELinuxContext.Disable", .unconfined("SELinux disabled"))
        ),
        (
            #""Privileges":{"SELinuxContext":{"Type":"spc_t"}}"#,
            InspectionFixture.finding(
                "TaskTemplate.ContainerSpec.Privileges.SELinuxContext.Type", .unconfined("SELinux type spc_t"))
        ),
        (
            #""Privileges":{"Seccomp":{"Mode":"custom","Profile":"e30="}}"#,
            InspectionFixture.finding(
                "TaskTemplate.ContainerSpec.Privileges.Seccomp.Mode", .unconfined("seccomp custom"))
        ),
        (
            #""Privileges":{"AppArmor":{"Mode":"disabled"}}"#,
            InspectionFixture.finding(
                "TaskTemplate.ContainerSpec.Privileges.AppArmor.Mode", .unconfined("apparmor disabled"))
        ),
        (
            #""CapabilityAdd":["CAP_SYS_ADMIN"]"#,
            InspectionFixture.finding("TaskTemplate.ContainerSpec.CapabilityAdd[0]", .capability("SYS_ADMIN"))
        ),
        (
            #""Sysctls":{"net.core.somaxconn":"1024"}"#,
            InspectionFixture.finding("TaskTemplate.ContainerSpec.Sysctls", .sysctl("net.core.somaxconn"))
        ),
        (
            #""Mounts":[{"Type":"volume","Source":"v","Target":"/v","VolumeOptions":{"DriverConfig":{"Options":{"type":"none","o":"bind","device":"/etc"}}}}]"#,
            InspectionFixture.finding(
                "TaskTemplate.ContainerSpec.Mounts[0].VolumeOptions.DriverConfig.Options.device",
                .bindMount(hostPath: "/etc"))
        ),
        (
            #""Privileges":{"SELinuxContext":{"Disable":false,"Level":"s0"},"Seccomp":{"Mode":"default"},"AppArmor":{"Mode":"default"},"NoNewPrivileges":true}"#,
            nil
        ),
        (#""CapabilityDrop":["ALL"],"Sysctls":{},"Mounts":[{"Type":"volume","Source":"data","Target":"/data"}]"#, nil),
    ]

    @Test(arguments: containerSpecs)
    func eachContainerSpecFieldThatReachesTheHostIsAFinding(members: String, finding: InspectionFinding?) {
        let expected = finding.map { [$0] } ?? []
        #expect(
            InspectionFixture.findings(Self.spec(containerSpec: members), endpoint: .serviceCreate)
                == .success(expected))
    }

    @Test func hostNetworksAndPluginTasksAreFindings() {
        let body = #"""
            {"Name":"p","TaskTemplate":{"Runtime":"plugin","PluginSpec":{"name":"vieux/sshfs","privileges":[{"name":"network","value":["host"]}]},
             "Networks":[{"Target":"overlay1"},{"Target":"host"}]},"Networks":[{"Target":"HOST"}]}
            """#
        #expect(
            InspectionFixture.findings(body, endpoint: .serviceCreate)
                == .success([
                    InspectionFixture.finding("TaskTemplate.PluginSpec.privileges[0]", .privileged),
                    InspectionFixture.finding("TaskTemplate.Networks[1].Target", .hostNamespace("Networks=host")),
                    InspectionFixture.finding("Networks[0].Target", .hostNamespace("Networks=host")),
                ]))
    }
}

/// `POST /plugins/pull` and `/plugins/{name}/upgrade`.
struct InspectionPluginTests {
    static let privileges = #"""
        [{"Name":"network","Description":"permissions to access a network","Value":["host"]},
         {"Name":"mount","Description":"host path to mount","Value":["/var/lib/docker/plugins/"]}]
        """#

    @Test(arguments: [InspectedEndpoint.pluginPull, .pluginUpgrade])
    func everyPrivilegeIsAFinding(endpoint: InspectedEndpoint) {
        #expect(
            InspectionFixture.findings(Self.privileges, endpoint: endpoint)
                == .success([
                    InspectionFixture.finding("Privileges[0].Name", .privileged),
                    InspectionFixture.finding("Privileges[1].Name", .privileged),
                ]))
    }

    @Test func aPluginWithoutPrivilegesPasses() {
        #expect(InspectionFixture.verdict("[]", endpoint: .pluginPull) == .allow)
    }

    @Test func privilegesNeedAllowPrivileged() {
        var policy = InspectionPolicy()
        policy.allowPrivileged = true
        #expect(InspectionFixture.verdict(Self.privileges, endpoint: .pluginPull, policy: policy) == .allow)
        #expect(
            InspectionFixture.verdict(Self.privileges, endpoint: .pluginPull)
                == .deny(
                    InspectionFixture.finding("Privileges[0].Name", .privileged),
                    detail: "a plugin privilege gives the plugin access to the host"))
    }

    @Test(arguments: ["{}", "null", #""network""#, "[1]", #"[["network"]]"#])
    func aBodyThatIsNotAListOfPrivilegesIsRefused(body: String) {
        #expect(InspectionFixture.status(InspectionFixture.findings(body, endpoint: .pluginPull)) == 400)
    }
}

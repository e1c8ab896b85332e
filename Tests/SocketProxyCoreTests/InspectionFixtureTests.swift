// Helpers for the body inspector tests, and the body the docker CLI sends for a plain `docker run -v`.
import Testing

@testable import SocketProxyCore

/// Runs the inspector on text and byte fixtures.
enum InspectionFixture {
    /// The findings in `body`, sent with `contentType`.
    static func findings(
        _ body: String, endpoint: InspectedEndpoint = .containerCreate, contentType: String? = "application/json"
    ) -> Result<[InspectionFinding], InspectionError> {
        findings(bytes: Array(body.utf8), endpoint: endpoint, contentType: contentType)
    }

    /// The findings in the raw `bytes`, for bodies that are not valid UTF-8.
    static func findings(
        bytes: [UInt8], endpoint: InspectedEndpoint = .containerCreate, contentType: String? = "application/json"
    ) -> Result<[InspectionFinding], InspectionError> {
        bytes.withUnsafeBytes { BodyInspector.findings($0, contentType: contentType, endpoint: endpoint) }
    }

    /// The verdict on `body` under `policy`.
    static func verdict(
        _ body: String, endpoint: InspectedEndpoint = .containerCreate, policy: InspectionPolicy = .strict,
        contentType: String? = "application/json"
    ) -> InspectionVerdict {
        Array(body.utf8).withUnsafeBytes {
            BodyInspector.inspect($0, contentType: contentType, endpoint: endpoint, policy: policy)
        }
    }

    /// The status of a refused body, nil when the body was inspected.
    static func status(_ result: Result<[InspectionFinding], InspectionError>) -> Int? {
        if case .failure(let error) = result { return error.status }
        return nil
    }

    /// One finding.
    static func finding(_ field: String, _ kind: InspectionFinding.Kind) -> InspectionFinding {
        InspectionFinding(field: field, kind: kind)
    }

    /// A policy that allows binds under `paths` and nothing else.
    static func binds(_ paths: [String]) -> InspectionPolicy {
        var policy = InspectionPolicy()
        policy.allowedBindPaths = paths
        return policy
    }

    /// `docker run --rm -v /srv/data:/data busybox true` from docker CLI 28 (API 1.51), written from the API's
    /// Go types: every field without `omitempty` is present, zero or null.
    static let cliRunWithBind = """
        {"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":true,"AttachStderr":true,\
        "Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":[],"Cmd":["true"],"Image":"busybox",\
        "Volumes":{},"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":{},\
        "HostConfig":{"Binds":["/srv/data:/data"],"ContainerIDFile":"","LogConfig":{"Type":"","Config":{}},\
        "NetworkMode":"default","PortBindings":{},"RestartPolicy":{"Name":"no","MaximumRetryCount":0},\
        "AutoRemove":true,"VolumeDriver":"","VolumesFrom":null,"ConsoleSize":[0,0],"CapAdd":null,"CapDrop":null,\
        "CgroupnsMode":"","Dns":[],"DnsOptions":[],"DnsSearch":[],"ExtraHosts":null,"GroupAdd":null,\
        "IpcMode":"","Cgroup":"","Links":null,"OomScoreAdj":0,"PidMode":"","Privileged":false,\
        "PublishAllPorts":false,"ReadonlyRootfs":false,"SecurityOpt":null,"UTSMode":"","UsernsMode":"",\
        "ShmSize":0,"Isolation":"","CpuShares":0,"Memory":0,"NanoCpus":0,"CgroupParent":"","BlkioWeight":0,\
        "BlkioWeightDevice":[],"BlkioDeviceReadBps":[],"BlkioDeviceWriteBps":[],"BlkioDeviceReadIOps":[],\
        "BlkioDeviceWriteIOps":[],"CpuPeriod":0,"CpuQuota":0,"CpuRealtimePeriod":0,"CpuRealtimeRuntime":0,\
        "CpusetCpus":"","CpusetMems":"","Devices":[],"DeviceCgroupRules":null,"DeviceRequests":null,\
        "MemoryReservation":0,"MemorySwap":0,"MemorySwappiness":null,"OomKillDisable":null,"PidsLimit":null,\
        "Ulimits":[],"CpuCount":0,"CpuPercent":0,"IOMaximumIOps":0,"IOMaximumBandwidth":0,\
        "MaskedPaths":null,"ReadonlyPaths":null},\
        "NetworkingConfig":{"EndpointsConfig":{"default":{"IPAMConfig":null,"Links":null,"Aliases":null,\
        "MacAddress":"","DriverOpts":null,"GwPriority":0,"NetworkID":"","EndpointID":"","Gateway":"",\
        "IPAddress":"","IPPrefixLen":0,"IPv6Gateway":"","GlobalIPv6Address":"","GlobalIPv6PrefixLen":0,\
        "DNSNames":null}}}}
        """
}

/// The request the docker CLI really sends, end to end through ``BodyInspector/inspect``.
struct InspectionCLIBodyTests {
    @Test func theCLIBodyAsksOnlyForItsBindMount() {
        #expect(
            InspectionFixture.findings(InspectionFixture.cliRunWithBind)
                == .success([InspectionFixture.finding("HostConfig.Binds[0]", .bindMount(hostPath: "/srv/data"))]))
    }

    @Test(arguments: [["/srv"], ["/srv/data"], ["/"], ["/opt", "/srv/"]])
    func theCLIBodyPassesWhenItsHostPathIsAllowed(allowed: [String]) {
        #expect(
            InspectionFixture.verdict(
                InspectionFixture.cliRunWithBind, policy: InspectionFixture.binds(allowed),
                contentType: "application/json")
                == .allow)
    }

    @Test(arguments: [[], ["/opt"], ["/srv/data/sub"], ["/sr"], ["srv"]])
    func theCLIBodyIsDeniedAtItsBindWhenTheHostPathIsNotAllowed(allowed: [String]) {
        #expect(
            InspectionFixture.verdict(InspectionFixture.cliRunWithBind, policy: InspectionFixture.binds(allowed))
                == .deny(
                    InspectionFixture.finding("HostConfig.Binds[0]", .bindMount(hostPath: "/srv/data")),
                    detail: "bind mount of the host path /srv/data"))
    }
}

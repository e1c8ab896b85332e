// Findings in container create, container update and exec create bodies.

/// The checks on container bodies: `HostConfig` (and its fields at the top level), `Resources`, exec `Privileged`.
enum ContainerChecks {
    /// The namespace fields: "host" or "container:<id>" shares the namespace. `Cgroup` only takes the latter.
    static let namespaceFields = [
        "NetworkMode", "PidMode", "IpcMode", "UTSMode", "UsernsMode", "CgroupnsMode", "Cgroup",
    ]

    /// The driver option that sets per-endpoint sysctls (libnetwork's `netlabel.EndpointSysctls`).
    static let endpointSysctlsOption = "com.docker.network.endpoint.sysctls"

    /// `POST /containers/create`.
    ///
    /// Daemons before 27.0 decode the body into a wrapper that also embeds `*HostConfig`, so any client can put
    /// HostConfig fields at the top level; the daemon uses them when "HostConfig" is absent or null. Both levels
    /// are checked, whichever the daemon would pick.
    static func create(_ root: JSONNode, into findings: inout FindingCollector) throws(InspectionError) {
        let request = try GoStruct(root, path: "")
        try hostConfig(request, into: &findings)
        if let inner = try request.object("HostConfig") {
            try hostConfig(inner, into: &findings)
        }
        if let networking = try request.object("NetworkingConfig") {
            try endpointSysctls(networking, into: &findings)
        }
    }

    /// `POST /containers/{id}/update`: an `UpdateConfig`, whose embedded `Resources` fields sit at the top level.
    static func update(_ root: JSONNode, into findings: inout FindingCollector) throws(InspectionError) {
        try resources(try GoStruct(root, path: ""), into: &findings)
    }

    /// `POST /containers/{id}/exec`: an `ExecCreateRequest`.
    static func exec(_ root: JSONNode, into findings: inout FindingCollector) throws(InspectionError) {
        let request = try GoStruct(root, path: "")
        if let node = try request.trueValue("Privileged") {
            findings.add(.privileged, field: request.fieldPath("Privileged"), at: node)
        }
    }

    /// Every dangerous field of a `HostConfig`.
    static func hostConfig(_ config: GoStruct, into findings: inout FindingCollector) throws(InspectionError) {
        if let node = try config.trueValue("Privileged") {
            findings.add(.privileged, field: config.fieldPath("Privileged"), at: node)
        }
        try binds(config, into: &findings)
        try MountChecks.mounts(config, into: &findings)
        if let list = try config.array("VolumesFrom"), !list.elements.isEmpty {
            findings.add(.volumesFrom, field: config.fieldPath("VolumesFrom"), at: list.node)
        }
        try resources(config, into: &findings)
        // CapAdd was a strslice.StrSlice (a string or an array) until the daemon's API types moved; Capabilities
        // (API 1.40) replaced the whole default set.
        try capabilities(config.strings("CapAdd", acceptingOneString: true), into: &findings)
        try capabilities(config.strings("Capabilities"), into: &findings)
        for name in namespaceFields {
            guard let mode = try config.string(name), sharesNamespace(mode.text) else { continue }
            findings.add(.hostNamespace("\(name)=\(mode.text)"), field: config.fieldPath(name), at: mode.node)
        }
        try securityOptions(config, into: &findings)
        // Null keeps the daemon's masked and read-only paths; any list, even an empty one, replaces them.
        for name in ["MaskedPaths", "ReadonlyPaths"] {
            if try config.strings(name) != nil, let node = try config.value(name) {
                findings.add(.unconfined(name), field: config.fieldPath(name), at: node)
            }
        }
        if let sysctls = try config.map("Sysctls") {
            try sysctls.requireStringValues()
            if let first = sysctls.members.first {
                findings.add(.sysctl(first.key), field: sysctls.path, at: sysctls.node)
            }
        }
        if let runtime = try config.string("Runtime"), !runtime.text.isEmpty, !GoText.equal(runtime.text, "runc") {
            findings.add(.runtime(runtime.text), field: config.fieldPath("Runtime"), at: runtime.node)
        }
    }

    /// The `Resources` fields that reach the host: devices and the cgroup parent.
    static func resources(_ config: GoStruct, into findings: inout FindingCollector) throws(InspectionError) {
        if let parent = try config.string("CgroupParent"), !parent.text.isEmpty {
            findings.add(.cgroupParent, field: config.fieldPath("CgroupParent"), at: parent.node)
        }
        for name in ["Devices", "DeviceCgroupRules", "DeviceRequests"] {
            if let list = try config.array(name), !list.elements.isEmpty {
                findings.add(.device, field: config.fieldPath(name), at: list.node)
            }
        }
    }

    /// `Binds`: "source:target[:mode]" is a bind mount when the source is absolute (the daemon's `path.IsAbs`),
    /// a named volume otherwise; a lone "target" is an anonymous volume.
    static func binds(_ config: GoStruct, into findings: inout FindingCollector) throws(InspectionError) {
        for bind in try config.strings("Binds") ?? [] {
            guard let (source, _) = GoText.cut(bind.text, at: UInt8(ascii: ":")), GoText.hasPrefix(source, "/") else {
                continue
            }
            findings.add(.bindMount(hostPath: HostPath.clean(source)), field: bind.field, at: bind.node)
        }
    }

    /// Capabilities to add, normalised like the daemon's `NormalizeLegacyCapabilities`.
    static func capabilities(
        _ list: [(text: String, field: String, node: JSONNode)]?, into findings: inout FindingCollector
    ) {
        // An empty name (or null) is no capability; the daemon refuses it as unknown.
        for entry in list ?? [] where !entry.text.isEmpty {
            findings.add(.capability(normalisedCapability(entry.text)), field: entry.field, at: entry.node)
        }
    }

    /// Upper case as Go's `strings.ToUpper`, without a "CAP_" prefix: "cap_sys_admin" is "SYS_ADMIN".
    static func normalisedCapability(_ name: String) -> String {
        let upper = GoText.goUppercased(name)
        guard GoText.hasPrefix(upper, "CAP_") else { return upper }
        return String(decoding: upper.utf8.dropFirst(4), as: UTF8.self)
    }

    /// "host", or "container:<id>" as the daemon's `containerID` cuts it (ASCII case ignored, to be safe).
    static func sharesNamespace(_ mode: String) -> Bool {
        let lowered = GoText.asciiLowercased(mode)
        return GoText.equal(lowered, "host") || GoText.hasPrefix(lowered, "container:")
    }

    /// `SecurityOpt`, parsed as the daemon's `parseSecurityOpt` does: "key=value", or "key:value" when there is no
    /// "=", plus the bare words "no-new-privileges", "writable-cgroups" and "disable".
    static func securityOptions(_ config: GoStruct, into findings: inout FindingCollector) throws(InspectionError) {
        for option in try config.strings("SecurityOpt") ?? [] {
            if let lifted = liftedConfinement(option.text) {
                findings.add(.unconfined(lifted), field: option.field, at: option.node)
            }
        }
    }

    /// What one security option lifts, nil for a harmless one (or one the daemon rejects).
    static func liftedConfinement(_ option: String) -> String? {
        if GoText.equal(option, "writable-cgroups") { return "writable-cgroups" }
        if GoText.equal(option, "disable") { return "label=disable" }
        guard let (key, value) = GoText.cut(option, at: UInt8(ascii: "=")) ?? GoText.cut(option, at: UInt8(ascii: ":"))
        else { return nil }
        switch GoText.asciiLowercased(key) {
        case "seccomp":
            if value.isEmpty || GoText.equal(value, "builtin") { return nil }
            return GoText.equal(value, "unconfined") ? "seccomp=unconfined" : "seccomp profile"
        case "apparmor":
            if value.isEmpty || GoText.equal(value, "docker-default") { return nil }
            return "apparmor=\(value)"
        case "label":
            let lowered = GoText.asciiLowercased(value)
            if GoText.equal(lowered, "disable") { return "label=disable" }
            // An SELinux type of the client's choosing (spc_t, unconfined_t) runs the container unconfined.
            if GoText.hasPrefix(lowered, "type:") { return "label=\(value)" }
            return nil
        case "systempaths":
            return GoText.equalIgnoringASCIICase(value, "unconfined") ? "systempaths=unconfined" : nil
        case "writable-cgroups":
            let falseWords = ["0", "f", "F", "false", "FALSE", "False"]
            return falseWords.contains { GoText.equal($0, value) } ? nil : "writable-cgroups"
        default:
            return nil
        }
    }

    /// Per-endpoint sysctls in `NetworkingConfig.EndpointsConfig[*].DriverOpts`.
    static func endpointSysctls(_ networking: GoStruct, into findings: inout FindingCollector) throws(InspectionError) {
        guard let endpoints = try networking.map("EndpointsConfig") else { return }
        for entry in endpoints.entries where !entry.value.isNull {
            let settings = try GoStruct(entry.value, path: endpoints.fieldPath(entry.key))
            guard let options = try settings.map("DriverOpts"),
                let sysctls = try options.string(endpointSysctlsOption), !sysctls.text.isEmpty
            else { continue }
            let first = GoText.cut(sysctls.text, at: UInt8(ascii: ","))?.before ?? sysctls.text
            findings.add(.sysctl(first), field: options.fieldPath(endpointSysctlsOption), at: sysctls.node)
        }
    }
}

// One dangerous thing a request body asks for, named by the field the daemon reads it from.

/// One dangerous thing a body asks for.
public struct InspectionFinding: Sendable, Equatable {
    /// What the body asks for.
    public enum Kind: Sendable, Equatable {
        /// `Privileged: true` on a container or exec, or a plugin privilege.
        case privileged
        /// A host path mounted into a container, cleaned like Go's `path.Clean`. Relative when the daemon would
        /// resolve it against its own working directory (only an allow-list holding "/" covers those).
        case bindMount(hostPath: String)
        /// A namespace shared with the host or another container, as "NetworkMode=host" or "PidMode=container:db".
        case hostNamespace(String)
        /// `Devices`, `DeviceRequests` or `DeviceCgroupRules`.
        case device
        /// A capability to add, upper case without "CAP_"; "ALL" for every capability.
        case capability(String)
        /// A confinement lifted: "seccomp=unconfined", "seccomp profile", "apparmor=unconfined", "label=disable",
        /// "systempaths=unconfined", "MaskedPaths", "ReadonlyPaths", and their service and volume equivalents.
        case unconfined(String)
        /// A sysctl, named by its (first) key.
        case sysctl(String)
        /// An OCI runtime other than the default `runc`.
        case runtime(String)
        /// `CgroupParent`.
        case cgroupParent
        /// `VolumesFrom`.
        case volumesFrom
    }

    /// Where, with the field names the daemon's Go types use: "HostConfig.Privileged", "HostConfig.Binds[0]",
    /// "Privileged" (top level), "HostConfig.Mounts[1].Source", "DriverOpts.device".
    public var field: String
    /// What.
    public var kind: Kind

    /// A finding of `kind` at `field`.
    public init(field: String, kind: Kind) {
        self.field = field
        self.kind = kind
    }

    /// Why the finding matters, in words, for a denial message; client text in it is escaped and shortened.
    public var detail: String {
        GoText.printable(description, limit: 512)
    }

    private var description: String {
        switch kind {
        case .privileged:
            field.hasPrefix("Privileges[") || field.hasPrefix("TaskTemplate.PluginSpec")
                ? "a plugin privilege gives the plugin access to the host"
                : "privileged mode gives the container every capability and device of the host"
        case .bindMount(let hostPath): "bind mount of the host path \(hostPath)"
        case .hostNamespace(let mode): "\(mode) shares a namespace with the host or another container"
        case .device: "access to host devices"
        case .capability(let name): name == "ALL" ? "every capability" : "capability \(name)"
        case .unconfined(let what): "\(what) lifts a confinement of the container"
        case .sysctl(let name): "sysctl \(name)"
        case .runtime(let name): "runtime \(name)"
        case .cgroupParent: "a cgroup parent of the client's choosing"
        case .volumesFrom: "the volumes of another container"
        }
    }
}

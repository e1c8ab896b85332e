// What a profile lets request bodies ask for: the switches of the body inspector.

/// Limits on what a container-create (and similar) body may ask for. The default denies everything that gives a
/// container a way onto the host; each property relaxes one thing.
public struct InspectionPolicy: Sendable, Equatable {
    /// `Privileged: true` (containers, execs), and plugin privileges.
    public var allowPrivileged = false
    /// Host paths (cleaned, absolute) under which bind mounts are fine; `["/"]` allows every bind. Covers `Binds`,
    /// `Mounts` of type `bind`, and volumes whose driver options bind a host path (`o=bind`).
    public var allowedBindPaths: [String] = []
    /// `host` and `container:<id>` namespaces: network, pid, ipc, uts, userns, cgroupns.
    public var allowHostNamespaces = false
    /// `Devices`, `DeviceRequests` and `DeviceCgroupRules`.
    public var allowDevices = false
    /// Capabilities `CapAdd` (and `Capabilities`) may name, upper case without `CAP_`; see ``allowAllCapabilities``.
    public var allowedCapabilities: Set<String> = []
    /// Any capability, `ALL` included.
    public var allowAllCapabilities = false
    /// `seccomp=unconfined` or a custom seccomp profile, `apparmor=unconfined`, `label=disable`,
    /// `systempaths=unconfined`, and `MaskedPaths`/`ReadonlyPaths` overrides.
    public var allowUnconfined = false
    /// `Sysctls`.
    public var allowSysctls = false
    /// Runtimes other than the default (`runc`) that `Runtime` may name.
    public var allowedRuntimes: Set<String> = []
    /// `CgroupParent`.
    public var allowCgroupParent = false
    /// `VolumesFrom`.
    public var allowVolumesFrom = false
    /// Bodies larger than this get 413.
    public var maxBodyBytes = 1 << 20

    /// The safe default: nothing that reaches the host.
    public init() {}

    /// The safe default.
    public static let strict = InspectionPolicy()
}

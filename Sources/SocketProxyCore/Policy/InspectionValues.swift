// Reading the values of inspection settings (capability names, host paths, runtime names) from configuration text.

/// Checks and normalises the values that relax an ``InspectionPolicy``, for both the policy file and the
/// environment variables, so that both spell them the same way.
enum InspectionValues {
    /// The Linux capabilities (without `CAP_`), as `capabilities(7)` names them.
    static let capabilities: [String] = [
        "AUDIT_CONTROL", "AUDIT_READ", "AUDIT_WRITE", "BLOCK_SUSPEND", "BPF", "CHECKPOINT_RESTORE", "CHOWN",
        "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "IPC_LOCK", "IPC_OWNER", "KILL", "LEASE",
        "LINUX_IMMUTABLE", "MAC_ADMIN", "MAC_OVERRIDE", "MKNOD", "NET_ADMIN", "NET_BIND_SERVICE", "NET_BROADCAST",
        "NET_RAW", "PERFMON", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYSLOG", "SYS_ADMIN", "SYS_BOOT",
        "SYS_CHROOT", "SYS_MODULE", "SYS_NICE", "SYS_PACCT", "SYS_PTRACE", "SYS_RAWIO", "SYS_RESOURCE", "SYS_TIME",
        "SYS_TTY_CONFIG", "WAKE_ALARM",
    ]

    /// A capability name in the form ``InspectionPolicy/allowedCapabilities`` holds: upper case, without `CAP_`;
    /// "ALL" for every capability. Throws a message (without location) for a name that is no capability.
    static func capability(_ text: some StringProtocol) throws(ConfigurationError) -> String {
        var name = ConfigurationText.trimmed(text).uppercased()
        if name.hasPrefix("CAP_") { name.removeFirst(4) }
        guard name == "ALL" || capabilities.contains(name) else {
            let shown = ConfigurationText.trimmed(text)
            throw ConfigurationError(
                "\"\(shown)\" is not a Linux capability; use names such as NET_ADMIN or SYS_TIME "
                    + "(with or without CAP_), or ALL")
        }
        return name
    }

    /// Sets the capabilities of `policy` from a list of names: "ALL" allows every one.
    static func apply(capabilities names: [String], to policy: inout InspectionPolicy) {
        policy.allowAllCapabilities = names.contains("ALL")
        policy.allowedCapabilities = Set(names.filter { $0 != "ALL" })
    }

    /// An absolute host path, cleaned the way Go's `path.Clean` does: no `//`, `.` or `..` segments, no trailing
    /// "/" (except for "/" itself). Throws a message (without location) for a relative or empty path.
    static func hostPath(_ text: some StringProtocol) throws(ConfigurationError) -> String {
        let path = ConfigurationText.trimmed(text)
        guard path.hasPrefix("/") else {
            throw ConfigurationError("\"\(path)\" is not an absolute host path; bind paths start with \"/\"")
        }
        guard !path.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else {
            throw ConfigurationError("\"\(path)\" has a control character")
        }
        var segments: [Substring] = []
        for segment in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch segment {
            case ".": continue
            case "..": _ = segments.popLast()
            default: segments.append(segment)
            }
        }
        return "/" + segments.joined(separator: "/")
    }

    /// A runtime name as `docker run --runtime` takes it. Throws a message (without location) otherwise.
    static func runtime(_ text: some StringProtocol) throws(ConfigurationError) -> String {
        let name = String(ConfigurationText.trimmed(text))
        let valid =
            !name.isEmpty
            && name.utf8.allSatisfy { byte in
                (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                    || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
            }
        guard valid else {
            throw ConfigurationError("\"\(name)\" is not a runtime name; use letters, digits, \".\", \"_\" or \"-\"")
        }
        return name
    }
}

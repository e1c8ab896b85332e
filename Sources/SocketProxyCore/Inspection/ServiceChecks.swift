// Findings in service create and update bodies (a swarm ServiceSpec).

/// The checks on a `swarm.ServiceSpec`: the container spec of the task template, plugin tasks and networks.
enum ServiceChecks {
    /// `POST /services/create` and `POST /services/{id}/update`.
    static func spec(_ root: JSONNode, into findings: inout FindingCollector) throws(InspectionError) {
        let spec = try GoStruct(root, path: "")
        if let task = try spec.object("TaskTemplate") {
            if let container = try task.object("ContainerSpec") {
                try containerSpec(container, into: &findings)
            }
            // A plugin task installs a plugin on every node, with the privileges listed here.
            if let plugin = try task.object("PluginSpec"), let privileges = try plugin.array("privileges") {
                for (index, privilege) in privileges.elements.enumerated() {
                    findings.add(.privileged, field: "\(plugin.fieldPath("privileges"))[\(index)]", at: privilege)
                }
            }
            try networks(task, into: &findings)
        }
        // The top-level Networks is the form before API 1.25; the daemon still reads it for old clients.
        try networks(spec, into: &findings)
    }

    /// A `swarm.ContainerSpec`.
    static func containerSpec(_ container: GoStruct, into findings: inout FindingCollector) throws(InspectionError) {
        try MountChecks.mounts(container, into: &findings)
        if let privileges = try container.object("Privileges") {
            if let selinux = try privileges.object("SELinuxContext") {
                if let node = try selinux.trueValue("Disable") {
                    findings.add(.unconfined("SELinux disabled"), field: selinux.fieldPath("Disable"), at: node)
                }
                if let type = try selinux.string("Type"), !type.text.isEmpty {
                    findings.add(
                        .unconfined("SELinux type \(type.text)"), field: selinux.fieldPath("Type"), at: type.node)
                }
            }
            for (name, label) in [("Seccomp", "seccomp"), ("AppArmor", "apparmor")] {
                guard let options = try privileges.object(name), let mode = try options.string("Mode"),
                    !mode.text.isEmpty, !GoText.equalIgnoringASCIICase(mode.text, "default")
                else { continue }
                findings.add(.unconfined("\(label) \(mode.text)"), field: options.fieldPath("Mode"), at: mode.node)
            }
        }
        ContainerChecks.capabilities(try container.strings("CapabilityAdd"), into: &findings)
        if let sysctls = try container.map("Sysctls") {
            try sysctls.requireStringValues()
            if let first = sysctls.members.first {
                findings.add(.sysctl(first.key), field: sysctls.path, at: sysctls.node)
            }
        }
    }

    /// `Networks` of a task template or (legacy) spec: attaching to the "host" network.
    static func networks(_ structure: GoStruct, into findings: inout FindingCollector) throws(InspectionError) {
        guard let list = try structure.array("Networks") else { return }
        for (index, element) in list.elements.enumerated() where !element.isNull {
            let attachment = try GoStruct(element, path: "\(structure.fieldPath("Networks"))[\(index)]")
            if let target = try attachment.string("Target"), GoText.equalIgnoringASCIICase(target.text, "host") {
                findings.add(.hostNamespace("Networks=host"), field: attachment.fieldPath("Target"), at: target.node)
            }
        }
    }
}

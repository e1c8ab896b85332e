// Findings in `Mounts` lists, shared by container HostConfig and service ContainerSpec.

/// The checks on a `[]mount.Mount` field.
enum MountChecks {
    /// `Mounts` of `structure`: type "bind" mounts its `Source` from the host; type "volume" may create a volume
    /// whose driver options bind a host path. Types compare without ASCII case (the daemon refuses other spellings).
    static func mounts(_ structure: GoStruct, into findings: inout FindingCollector) throws(InspectionError) {
        guard let list = try structure.array("Mounts") else { return }
        for (index, element) in list.elements.enumerated() where !element.isNull {
            let mount = try GoStruct(element, path: "\(structure.fieldPath("Mounts"))[\(index)]")
            let type = try mount.string("Type")?.text ?? ""
            if GoText.equalIgnoringASCIICase(type, "bind") {
                // The daemon cleans the source with path.Clean; a relative one lands in its working directory.
                let source = try mount.string("Source")
                findings.add(
                    .bindMount(hostPath: HostPath.clean(source?.text ?? "")), field: mount.fieldPath("Source"),
                    at: source?.node ?? element)
            } else if GoText.equalIgnoringASCIICase(type, "volume") {
                guard let options = try mount.object("VolumeOptions"),
                    let driver = try options.object("DriverConfig"),
                    let driverOptions = try driver.map("Options")
                else { continue }
                let name = try driver.string("Name")?.text ?? ""
                try VolumeChecks.driverOptions(driverOptions, driver: name, into: &findings)
            }
        }
    }
}

// Findings in volume create bodies and in the driver options of volume mounts.

/// The checks on volume driver options.
///
/// The `local` driver mounts `device` on the volume with `mount(2)`, type `type` and options `o`. With "bind" or
/// "rbind" in `o` the device is a host path and the fs type is ignored; with a disk file system it is a host block
/// device; with `proc`, `sysfs`, `overlay` and the like the volume reaches host kernel state or host paths through
/// `o`. Only network and memory file systems are left alone.
enum VolumeChecks {
    /// File system types whose `device` is not a host path.
    static let harmlessTypes = ["tmpfs", "ramfs", "nfs", "nfs4", "cifs", "smb3"]

    /// `POST /volumes/create`: a `volume.CreateRequest`.
    static func create(_ root: JSONNode, into findings: inout FindingCollector) throws(InspectionError) {
        let request = try GoStruct(root, path: "")
        let driver = try request.string("Driver")?.text ?? ""
        if let options = try request.map("DriverOpts") {
            try driverOptions(options, driver: driver, into: &findings)
        }
    }

    /// Driver options of a volume (`DriverOpts`, or `VolumeOptions.DriverConfig.Options` of a mount).
    ///
    /// A bind in `o` counts whatever the driver, since a plugin may take the same options; the file system types
    /// are checked only for the built-in `local` driver (named "local" or left empty).
    static func driverOptions(
        _ options: GoMap, driver: String, into findings: inout FindingCollector
    ) throws(InspectionError) {
        let device = try options.string("device")
        let deviceText = device?.text ?? ""
        if let mountOptions = try options.string("o"),
            GoText.contains(GoText.asciiLowercased(mountOptions.text), "bind"), let device, !deviceText.isEmpty
        {
            findings.add(
                .bindMount(hostPath: HostPath.clean(deviceText)), field: options.fieldPath("device"), at: device.node)
            return
        }
        guard driver.isEmpty || GoText.equalIgnoringASCIICase(driver, "local"),
            let device, !deviceText.isEmpty,
            let type = try options.string("type"), !type.text.isEmpty,
            !harmlessTypes.contains(where: { GoText.equalIgnoringASCIICase(type.text, $0) })
        else { return }
        if GoText.hasPrefix(deviceText, "/") {
            findings.add(
                .bindMount(hostPath: HostPath.clean(deviceText)), field: options.fieldPath("device"), at: device.node)
        } else {
            findings.add(.unconfined("volume type \(type.text)"), field: options.fieldPath("type"), at: type.node)
        }
    }
}

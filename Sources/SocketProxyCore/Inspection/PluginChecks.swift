// Findings in plugin pull and upgrade bodies: the privileges the client grants.

/// The checks on a `plugin.Privileges` body, a JSON array.
enum PluginChecks {
    /// Every privilege granted is a finding: a plugin runs as root outside any container the proxy checks, and
    /// its privileges (host network, mounts, devices, capabilities) are exactly what the rest of the inspector
    /// refuses to containers.
    static func privileges(_ root: JSONNode, into findings: inout FindingCollector) throws(InspectionError) {
        guard case .array(let elements) = root.value else {
            throw .badRequest("the body must be a JSON array of plugin privileges, not \(root.kindName)")
        }
        for (index, element) in elements.enumerated() {
            if !element.isNull {
                _ = try GoStruct(element, path: "Privileges[\(index)]")
            }
            findings.add(.privileged, field: "Privileges[\(index)].Name", at: element)
        }
    }
}

// The inspector's entry points: findings in a body, the verdict under a policy, and one finding against a policy.

/// Reads request bodies the way the daemon decodes them and reports what they ask for.
///
/// The body is parsed once, strictly (``JSONParser``), and read with Go's struct semantics (``GoStruct``): field
/// names fold case, exact duplicates resolve as Go resolves them, and anything Go would read differently from a
/// plain reading (two spellings of one field, repeated objects, invalid UTF-8, trailing data) is refused instead
/// of guessed at.
public enum BodyInspector {
    /// Every dangerous finding in `body` (the de-chunked content), in document order, or the reason the body cannot
    /// be inspected.
    public static func findings(
        _ body: UnsafeRawBufferPointer, contentType: String?, endpoint: InspectedEndpoint
    ) -> Result<[InspectionFinding], InspectionError> {
        do throws(InspectionError) {
            try MediaType.requireJSON(contentType, bodyIsEmpty: body.isEmpty)
            // The daemon skips decoding an empty body (or fails on it): either way it asks for nothing.
            if body.isEmpty { return .success([]) }
            let root = try JSONParser.parse(Array(body))
            var collector = FindingCollector()
            switch endpoint {
            case .containerCreate: try ContainerChecks.create(root, into: &collector)
            case .containerUpdate: try ContainerChecks.update(root, into: &collector)
            case .execCreate: try ContainerChecks.exec(root, into: &collector)
            case .volumeCreate: try VolumeChecks.create(root, into: &collector)
            case .serviceCreate, .serviceUpdate: try ServiceChecks.spec(root, into: &collector)
            case .pluginPull, .pluginUpgrade: try PluginChecks.privileges(root, into: &collector)
            }
            return .success(collector.findings)
        } catch {
            return .failure(error)
        }
    }

    /// The verdict under `policy`: the first finding the policy does not allow denies.
    public static func inspect(
        _ body: UnsafeRawBufferPointer, contentType: String?, endpoint: InspectedEndpoint, policy: InspectionPolicy
    ) -> InspectionVerdict {
        switch findings(body, contentType: contentType, endpoint: endpoint) {
        case .failure(let error):
            return .invalid(status: error.status, reason: error.reason)
        case .success(let findings):
            guard let denied = findings.first(where: { !allows($0, policy: policy) }) else { return .allow }
            return .deny(denied, detail: denied.detail)
        }
    }

    /// Whether `policy` allows one finding (so that learn mode can compute the smallest relaxation).
    public static func allows(_ finding: InspectionFinding, policy: InspectionPolicy) -> Bool {
        switch finding.kind {
        case .privileged:
            return policy.allowPrivileged
        case .bindMount(let hostPath):
            return HostPath.isAllowed(hostPath, by: policy.allowedBindPaths)
        case .hostNamespace:
            return policy.allowHostNamespaces
        case .device:
            return policy.allowDevices
        case .capability(let name):
            if policy.allowAllCapabilities { return true }
            let capability = ContainerChecks.normalisedCapability(name)
            if GoText.equal(capability, "ALL") { return false }
            return policy.allowedCapabilities.contains {
                GoText.equal(ContainerChecks.normalisedCapability($0), capability)
            }
        case .unconfined:
            return policy.allowUnconfined
        case .sysctl:
            return policy.allowSysctls
        case .runtime(let name):
            return policy.allowedRuntimes.contains { GoText.equal($0, name) }
        case .cgroupParent:
            return policy.allowCgroupParent
        case .volumesFrom:
            return policy.allowVolumesFrom
        }
    }
}

// Learn mode: remember what clients asked for, and write the smallest policy that would have allowed it.
import Synchronization

/// Collects the requests a proxy in learn mode let through, and turns them into the smallest policy that allows
/// them: as Tecnativa-style variables and as a profile for the configuration file. Safe from any thread.
public final class PolicyLearner: Sendable {
    private struct Endpoint: Hashable {
        var template: String
        var section: Section?
    }

    private struct State {
        var methods: [Endpoint: MethodSet] = [:]
        var order: [Endpoint] = []
        var findings: [Endpoint: [InspectionFinding.Kind]] = [:]
        var requests = 0
    }

    private let state = Mutex(State())

    /// Creates an empty learner.
    public init() {}

    /// Records one request: its method, its normalised path, and what its body asked for.
    public func record(method: HTTPMethod, path: UnsafeRawBufferPointer, findings: [InspectionFinding] = []) {
        let template = DockerRoutes.template(for: path)?.description ?? String(decoding: path, as: UTF8.self)
        let endpoint = Endpoint(template: template, section: Section(firstSegmentOf: path))
        state.withLock { state in
            state.requests += 1
            if state.methods[endpoint] == nil { state.order.append(endpoint) }
            state.methods[endpoint, default: []].formUnion(MethodSet(method))
            for finding in findings where !(state.findings[endpoint]?.contains(finding.kind) ?? false) {
                state.findings[endpoint, default: []].append(finding.kind)
            }
        }
    }

    /// How many requests were recorded.
    public var requestCount: Int { state.withLock { $0.requests } }

    /// The smallest policy that allows everything recorded.
    public func report() -> LearnedPolicy {
        let snapshot = state.withLock { $0 }
        return LearnedPolicy(
            requests: snapshot.requests,
            variables: Self.variables(snapshot),
            yaml: Self.yaml(snapshot))
    }

    // MARK: Tecnativa variables

    private static let containerActions: [String: String] = [
        "/containers/{id+}/start": "ALLOW_START", "/containers/{id+}/stop": "ALLOW_STOP",
        "/containers/{id+}/restart": "ALLOW_RESTARTS", "/containers/{id+}/kill": "ALLOW_RESTARTS",
    ]

    private static func variables(_ state: State) -> [(name: String, value: String)] {
        var on: Set<String> = []
        var post = false
        var bindPaths: [String] = []
        var capabilities: [String] = []
        var runtimes: [String] = []
        for endpoint in state.order {
            let methods = state.methods[endpoint] ?? []
            let writes = !methods.isSubset(of: .read)
            if let action = containerActions[endpoint.template], methods == .post {
                on.insert(action)
                continue
            }
            if let section = endpoint.section {
                on.insert(section.variable)
                if writes { post = true }
            }
            switch endpoint.template {
            case "/containers/{id+}/exec": on.insert("EXEC")
            case "/containers/{id+}/archive": on.insert("ALLOW_ARCHIVE")
            case "/containers/{id+}/export": on.insert("ALLOW_EXPORT")
            case "/containers/{id+}/attach": on.insert("ALLOW_ATTACH")
            case "/containers/{id+}/attach/ws":
                on.insert("ALLOW_ATTACH")
                post = true
            default: break
            }
            for kind in state.findings[endpoint] ?? [] {
                switch kind {
                case .privileged: on.insert("ALLOW_PRIVILEGED")
                case .bindMount(let path): if !bindPaths.contains(path) { bindPaths.append(path) }
                case .hostNamespace: on.insert("ALLOW_HOST_NAMESPACES")
                case .device: on.insert("ALLOW_DEVICES")
                case .capability(let name): if !capabilities.contains(name) { capabilities.append(name) }
                case .unconfined: on.insert("ALLOW_UNCONFINED")
                case .sysctl: on.insert("ALLOW_SYSCTLS")
                case .runtime(let name): if !runtimes.contains(name) { runtimes.append(name) }
                case .cgroupParent: on.insert("ALLOW_CGROUP_PARENT")
                case .volumesFrom: on.insert("ALLOW_VOLUMES_FROM")
                }
            }
        }
        if post { on.insert("POST") }
        var result: [(String, String)] = []
        for variable in TecnativaSettings.booleanVariables where variable.name != "DISABLE_IPV6" {
            let wanted = on.contains(variable.name)
            if wanted != variable.defaultValue || wanted { result.append((variable.name, wanted ? "1" : "0")) }
        }
        for name in on.sorted() where !result.contains(where: { $0.0 == name }) { result.append((name, "1")) }
        if !bindPaths.isEmpty { result.append(("ALLOW_BIND_MOUNTS", bindPaths.joined(separator: ","))) }
        if !capabilities.isEmpty { result.append(("ALLOW_CAPABILITIES", capabilities.joined(separator: ","))) }
        if !runtimes.isEmpty { result.append(("ALLOW_RUNTIMES", runtimes.joined(separator: ","))) }
        return result
    }

    // MARK: YAML

    private static func yaml(_ state: State) -> String {
        var lines = ["profiles:", "  learned:", "    rules:"]
        if state.order.isEmpty { lines.append("      []") }
        for endpoint in state.order {
            let methods = state.methods[endpoint] ?? []
            lines.append("      - methods: \(methodList(methods))")
            lines.append("        path: \(quoted(endpoint.template))")
            let kinds = state.findings[endpoint] ?? []
            guard !kinds.isEmpty else { continue }
            lines.append("        inspect:")
            var flags: [String] = []
            var binds: [String] = []
            var capabilities: [String] = []
            var runtimes: [String] = []
            for kind in kinds {
                switch kind {
                case .privileged: flags.append("privileged")
                case .bindMount(let path): binds.append(path)
                case .hostNamespace: flags.append("host_namespaces")
                case .device: flags.append("devices")
                case .capability(let name): capabilities.append(name)
                case .unconfined: flags.append("unconfined")
                case .sysctl: flags.append("sysctls")
                case .runtime(let name): runtimes.append(name)
                case .cgroupParent: flags.append("cgroup_parent")
                case .volumesFrom: flags.append("volumes_from")
                }
            }
            var written: Set<String> = []
            for flag in flags where written.insert(flag).inserted { lines.append("          \(flag): true") }
            if !binds.isEmpty { lines.append("          bind_mounts: [\(binds.map(quoted).joined(separator: ", "))]") }
            if !capabilities.isEmpty { lines.append("          capabilities: [\(capabilities.joined(separator: ", "))]") }
            if !runtimes.isEmpty { lines.append("          runtimes: [\(runtimes.map(quoted).joined(separator: ", "))]") }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private static let methodNames: [(String, MethodSet)] = [
        ("GET", .get), ("HEAD", .head), ("POST", .post), ("PUT", .put), ("DELETE", .delete), ("PATCH", .patch),
        ("OPTIONS", .options), ("CONNECT", .connect), ("TRACE", .trace),
    ]

    /// `[GET, HEAD]`, or `"*"` when a method without a name of its own was seen.
    private static func methodList(_ methods: MethodSet) -> String {
        if methods.contains(HTTPMethod.other) { return "\"*\"" }
        return "[" + methodNames.filter { methods.isSuperset(of: $0.1) }.map(\.0).joined(separator: ", ") + "]"
    }

    private static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                out += "\\x" + String(scalar.value, radix: 16, uppercase: true).leftPadded(to: 2)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

/// What learn mode concluded.
public struct LearnedPolicy: Sendable {
    /// How many requests it saw.
    public var requests: Int
    /// Tecnativa-style variables, in table order; defaults that are on (EVENTS, PING, VERSION) are turned off when
    /// nothing used them.
    public var variables: [(name: String, value: String)]
    /// A `profiles:` block for the configuration file.
    public var yaml: String

    /// Both forms, as printed on SIGUSR1 and at exit.
    public var text: String {
        var out = "# socket-proxy learn mode: the smallest policy allowing the \(requests) requests seen\n"
        out += "# As environment variables:\n"
        for (name, value) in variables { out += "\(name)=\(value)\n" }
        out += "# As a configuration file profile:\n"
        out += yaml
        return out
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        String(repeating: "0", count: max(0, width - count)) + self
    }
}

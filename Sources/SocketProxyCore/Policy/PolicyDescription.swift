// The effective policy as text for people: listeners, profiles and rules in the order they are tried.

extension MethodSet: CustomStringConvertible {
    /// "*" for every method, otherwise the names joined by ","; `OTHER` for methods the proxy does not name.
    public var description: String {
        if self == .all { return "*" }
        let names: [(MethodSet, String)] = [
            (.get, "GET"), (.head, "HEAD"), (.post, "POST"), (.put, "PUT"), (.delete, "DELETE"), (.patch, "PATCH"),
            (.options, "OPTIONS"), (.connect, "CONNECT"), (.trace, "TRACE"), (.other, "OTHER"),
        ]
        let present = names.filter { contains($0.0) }.map(\.1)
        return present.isEmpty ? "(none)" : present.joined(separator: ",")
    }
}

extension InspectionPolicy {
    /// The policy as a policy file's `inspect` value: `strict`, or the keys that differ from the strict default
    /// in YAML flow form, `{bind_mounts: [/srv], capabilities: [NET_ADMIN]}`.
    public var summary: String {
        var parts: [String] = []
        if allowPrivileged { parts.append("privileged: true") }
        if !allowedBindPaths.isEmpty { parts.append("bind_mounts: [\(allowedBindPaths.joined(separator: ", "))]") }
        if allowHostNamespaces { parts.append("host_namespaces: true") }
        if allowDevices { parts.append("devices: true") }
        if allowAllCapabilities {
            parts.append("capabilities: [ALL]")
        } else if !allowedCapabilities.isEmpty {
            parts.append("capabilities: [\(allowedCapabilities.sorted().joined(separator: ", "))]")
        }
        if allowUnconfined { parts.append("unconfined: true") }
        if allowSysctls { parts.append("sysctls: true") }
        if !allowedRuntimes.isEmpty { parts.append("runtimes: [\(allowedRuntimes.sorted().joined(separator: ", "))]") }
        if allowCgroupParent { parts.append("cgroup_parent: true") }
        if allowVolumesFrom { parts.append("volumes_from: true") }
        if maxBodyBytes != InspectionPolicy().maxBodyBytes { parts.append("max_body_bytes: \(maxBodyBytes)") }
        return parts.isEmpty ? "strict" : "{" + parts.joined(separator: ", ") + "}"
    }
}

extension Rule {
    /// One line: `allow POST /containers/create`, then the query constraints and, for a deny rule, its reason.
    public var summary: String {
        var line = "\(action == .allow ? "allow" : "deny") \(methods) \(path)"
        if !query.isEmpty { line += " query {" + query.map(\.description).joined(separator: ", ") + "}" }
        if let reason, action == .deny { line += " reason \"\(reason)\"" }
        return line
    }

    /// Whether the rule can let a request with a body through: it allows a method other than GET and HEAD.
    var allowsWrites: Bool {
        action == .allow && !MethodSet.read.isSuperset(of: methods)
    }
}

extension Profile {
    /// The profile and its rules in the order they are tried, each with its index and name, the inspection of
    /// the rules that let writes through, and the default deny at the end.
    public func describe() -> String {
        var lines = ["profile \(name) (\(rules.count) rule\(rules.count == 1 ? "" : "s"), first match wins):"]
        for (index, rule) in rules.enumerated() {
            lines.append("  [\(index)] \(rule.name): \(rule.summary)")
            if rule.allowsWrites {
                lines.append("      inspect: \(rule.inspection?.summary ?? "off (bodies pass unread)")")
            }
        }
        lines.append("  otherwise: deny")
        return lines.joined(separator: "\n")
    }
}

extension PolicyFile.Listener {
    /// `name: tcp 127.0.0.1:2375 -> profile traefik`, with Unix file settings and the client rules below it.
    public func describe() -> String {
        var head = "\(name): "
        switch address {
        case .unix(let path): head += "unix \(path)"
        default: head += anyInterface ? "tcp *:\(address.port ?? 0) (every interface)" : "tcp \(address)"
        }
        var settings: [String] = []
        if let unixMode { settings.append("mode 0" + String(unixMode, radix: 8)) }
        if let unixOwner { settings.append("owner \(unixOwner)") }
        if let unixGroup { settings.append("group \(unixGroup)") }
        if !settings.isEmpty { head += " (" + settings.joined(separator: ", ") + ")" }
        if let profile { return head + " -> profile \(profile)" }
        var lines = [head, "  clients (first match wins, any other client is refused):"]
        for client in clients { lines.append("    \(client.match) -> profile \(client.profile)") }
        return lines.joined(separator: "\n")
    }
}

extension PolicyFile {
    /// The whole policy: mode, Docker socket, listeners, then every profile with its rules; warnings last.
    public func describe() -> String {
        var lines = ["policy file \(source)", "  mode: \(mode.rawValue)"]
        lines.append("  socket_path: \(socketPath ?? "(not set: SOCKET_PATH, else /var/run/docker.sock)")")
        lines.append("")
        lines.append("listeners:")
        for listener in listeners {
            lines.append(contentsOf: listener.describe().split(separator: "\n").map { "  " + $0 })
        }
        for profile in profiles {
            lines.append("")
            lines.append(profile.describe())
        }
        if !warnings.isEmpty {
            lines.append("")
            lines.append("warnings:")
            lines.append(contentsOf: warnings.map { "  \($0)" })
        }
        return lines.joined(separator: "\n")
    }

}

extension TecnativaSettings {
    /// The policy the environment variables stand for, as `serve` runs it without a policy file: the Docker socket,
    /// the listen addresses, the body inspection, the warnings, then the `tecnativa` profile.
    public func describe() -> String {
        var lines = ["environment variables (tecnativa/docker-socket-proxy compatible)"]
        lines.append("  mode: enforce")
        lines.append("  SOCKET_PATH: \(socketPath)")
        let addresses = listen.isEmpty ? "127.0.0.1:2375 (default)" : listen.joined(separator: ", ")
        lines.append("  LISTEN: \(addresses) -> profile tecnativa")
        lines.append("  LOG_LEVEL: \(logLevel)")
        lines.append("  body inspection: \(inspection.map(\.summary) ?? "off (INSPECT=0)")")
        lines.append("")
        lines.append(profile().describe())
        if !warnings.isEmpty {
            lines.append("")
            lines.append("warnings:")
            lines.append(contentsOf: warnings.map { "  \($0)" })
        }
        return lines.joined(separator: "\n")
    }
}

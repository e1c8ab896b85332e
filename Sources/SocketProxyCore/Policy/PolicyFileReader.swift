// Reads each part of a policy file into its value, checking every key and value and naming where a bad one is.

/// Turns the parsed document into a ``PolicyFile``. Every error comes from a ``ConfigValue`` and so names the file,
/// the position and the key path.
struct PolicyFileReader {
    /// The file, for messages.
    let source: String
    /// User and group names to ids.
    let accounts: AccountLookup

    /// The keys of each mapping, in the order Docs/policy.md describes them.
    static let topKeys = ["socket_path", "mode", "listeners", "profiles"]
    static let listenerKeys = ["name", "tcp", "unix", "mode", "owner", "group", "profile", "clients"]
    static let clientKeys = ["cidr", "uid", "gid", "profile"]
    static let profileKeys = ["preset", "rules", "inspect"]
    static let ruleKeys = ["name", "action", "methods", "path", "query", "inspect", "reason"]
    static let inspectKeys = [
        "privileged", "bind_mounts", "host_namespaces", "devices", "capabilities", "unconfined", "sysctls", "runtimes",
        "cgroup_parent", "volumes_from", "max_body_bytes",
    ]

    /// The profile-level `inspect`: not given, `false`, or limits every allow rule gets unless it has its own.
    enum ProfileInspection {
        case notGiven
        case off
        case on(InspectionPolicy)
    }

    func read(_ root: ConfigValue) throws(ConfigurationError) -> PolicyFile {
        let top = try root.mapping(keys: Self.topKeys)
        var warnings: [String] = []

        var socketPath: String? = nil
        if let value = top.optional("socket_path") {
            let path = try value.nonEmptyString()
            guard path.hasPrefix("/") else { throw value.error("expected an absolute path, found \"\(path)\"") }
            socketPath = path
        }

        var mode = ProxyMode.enforce
        if let value = top.optional("mode") {
            let text = try value.string()
            guard let parsed = ProxyMode(rawValue: text) else {
                let names = ProxyMode.allCases.map(\.rawValue).joined(separator: ", ")
                throw value.error("\"\(text)\" is not a mode; expected one of \(names)")
            }
            mode = parsed
        }

        // Profiles first, whatever the order in the file, so that listeners can be checked against them.
        var profiles: [Profile] = []
        var defined: Set<String> = []
        if let value = top.optional("profiles") {
            let mapping = try value.anyMapping()
            for (name, profileValue) in mapping.entries {
                let key = mapping.key(name)!
                guard Self.isProfileName(name) else {
                    throw key.error(
                        "\"\(name)\" is not a profile name; use letters, digits, \".\", \"_\" and \"-\", starting "
                            + "with a letter or digit")
                }
                profiles.append(try profile(named: name, profileValue))
                defined.insert(name)
            }
        }

        let listenersValue = try top.required("listeners", "where clients connect, and the profile each gets")
        let listenerValues = try listenersValue.sequence()
        guard !listenerValues.isEmpty else { throw listenersValue.error("is empty; the proxy needs a listener") }
        var listeners: [PolicyFile.Listener] = []
        var used: Set<String> = []
        var presetsUsed: [Profile] = []
        for value in listenerValues {
            let listener = try self.listener(value, warnings: &warnings) { name, naming throws(ConfigurationError) in
                used.insert(name)
                if defined.contains(name) { return }
                if let preset = Presets.named(name) {
                    if !presetsUsed.contains(where: { $0.name == name }) { presetsUsed.append(preset.profile) }
                    return
                }
                var known = profiles.map(\.name)
                known += Presets.names.filter { !known.contains($0) }
                throw naming.error(
                    "no profile is named \"\(name)\"; profiles: \(known.joined(separator: ", ")) (presets may be "
                        + "named directly)")
            }
            if let earlier = listeners.first(where: { $0.name == listener.name }) {
                throw (value.optionalMapping?.optional("name") ?? value).error(
                    "the name \"\(earlier.name)\" is already taken by another listener; names must be unique")
            }
            if let earlier = listeners.first(where: { $0.address == listener.address }) {
                throw value.error("listens on \(listener.address), as the listener \"\(earlier.name)\" does")
            }
            listeners.append(listener)
        }
        for profile in profiles where !used.contains(profile.name) {
            warnings.append("\(source): profile \"\(profile.name)\" is not used by any listener")
        }
        return PolicyFile(
            source: source, socketPath: socketPath, mode: mode, listeners: listeners, profiles: profiles + presetsUsed,
            warnings: warnings)
    }

    // MARK: - Listeners

    /// One listener; `useProfile` checks a profile name (throwing at the value that names it) and records its use.
    private func listener(
        _ value: ConfigValue, warnings: inout [String],
        useProfile: (String, ConfigValue) throws(ConfigurationError) -> Void
    ) throws(ConfigurationError) -> PolicyFile.Listener {
        let entry = try value.mapping(keys: Self.listenerKeys)
        let tcp = entry.optional("tcp")
        let unix = entry.optional("unix")
        var listener: PolicyFile.Listener
        switch (tcp, unix) {
        case (nil, nil):
            throw value.error("needs \"tcp\" (HOST:PORT, [IPV6]:PORT or *:PORT) or \"unix\" (a socket path)")
        case (.some, .some):
            throw entry.key("unix")!.error("a listener has one address: \"tcp\" or \"unix\", not both")
        case (let tcp?, nil):
            let text = try tcp.nonEmptyString()
            listener = PolicyFile.Listener(name: text, address: .unknown)
            (listener.address, listener.anyInterface) = try tcpAddress(text, tcp)
            for key in ["mode", "owner", "group"] {
                if let keyValue = entry.key(key) {
                    throw keyValue.error("applies to Unix socket files only; this listener is \"tcp\"")
                }
            }
        case (nil, let unix?):
            var path = try unix.nonEmptyString()
            if path.hasPrefix("unix:") { path.removeFirst(5) }
            guard path.hasPrefix("/") else { throw unix.error("expected an absolute socket path, found \"\(path)\"") }
            do {
                listener = PolicyFile.Listener(
                    name: "unix:\(path)", address: try SocketAddress(parsing: "unix:\(path)"))
            } catch {
                throw unix.error(error)
            }
            if let mode = entry.optional("mode") { listener.unixMode = try octalMode(mode) }
            if let owner = entry.optional("owner") { listener.unixOwner = try accountID(owner, group: false) }
            if let group = entry.optional("group") { listener.unixGroup = try accountID(group, group: true) }
        }
        if let name = entry.optional("name") { listener.name = try name.nonEmptyString() }

        switch (entry.optional("profile"), entry.optional("clients")) {
        case (nil, nil):
            throw value.error("needs \"profile\" (for every client) or \"clients\" (a profile per client)")
        case (.some, .some):
            throw entry.key("clients")!.error("a listener has \"profile\" or \"clients\", not both")
        case (let profile?, nil):
            let name = try profile.nonEmptyString()
            try useProfile(name, profile)
            listener.profile = name
        case (nil, let clients?):
            let items = try clients.sequence()
            guard !items.isEmpty else { throw clients.error("is empty; every client would be refused") }
            var catchAll: String? = nil
            for item in items {
                let rule = try clientRule(item, isUnix: unix != nil, useProfile: useProfile)
                if let catchAll {
                    warnings.append(
                        "\(item.location): \(item.path): can never match: \(catchAll) before it matches every client")
                }
                if rule.match == .any, catchAll == nil { catchAll = item.path }
                listener.clients.append(rule)
            }
        }
        return listener
    }

    /// `HOST:PORT`, `[IPV6]:PORT`, or `*:PORT` (every interface: `[::]:PORT`, flagged for dual stack).
    private func tcpAddress(
        _ text: String, _ value: ConfigValue
    ) throws(ConfigurationError) -> (SocketAddress, anyInterface: Bool) {
        if text.hasPrefix("unix:") {
            throw value.error("\"\(text)\" is a Unix socket; write it as \"unix: \(text.dropFirst(5))\"")
        }
        let address: SocketAddress
        let anyInterface = text.hasPrefix("*:")
        if anyInterface {
            guard let port = UInt16(text.dropFirst(2)) else {
                throw value.error("\"\(text.dropFirst(2))\" is not a port number")
            }
            address = .ipv6([UInt8](repeating: 0, count: 16), port: port)
        } else {
            do {
                address = try SocketAddress(parsing: text)
            } catch {
                // The parser speaks of listen addresses in general; here only TCP forms are meant.
                var problem = error.message
                let prefix = "listen address \"\(text)\": "
                if problem.hasPrefix(prefix) { problem.removeFirst(prefix.count) }
                if problem.hasPrefix("expected HOST:PORT") { problem = "expected HOST:PORT, [IPV6]:PORT or *:PORT" }
                throw value.error("\"\(text)\" is not a TCP address: \(problem)")
            }
        }
        guard address.port != 0 else { throw value.error("port 0 would listen on a random port; name one") }
        return (address, anyInterface)
    }

    /// Permission bits in octal: "0660", "660" or "0o660".
    private func octalMode(_ value: ConfigValue) throws(ConfigurationError) -> UInt32 {
        var text = try value.string()
        if text.hasPrefix("0o") { text.removeFirst(2) }
        guard (1...4).contains(text.utf8.count), text.utf8.allSatisfy({ (0x30...0x37).contains($0) }),
            let mode = UInt32(text, radix: 8), mode <= 0o777
        else {
            throw value.error("expected permission bits in octal, such as \"0660\", found \"\(try value.string())\"")
        }
        return mode
    }

    /// A user or group id, or a name looked up in the account database.
    private func accountID(_ value: ConfigValue, group: Bool) throws(ConfigurationError) -> UInt32 {
        let text = try value.nonEmptyString()
        if text.utf8.allSatisfy({ (0x30...0x39).contains($0) }) {
            guard let id = UInt32(text) else { throw value.error("\"\(text)\" is too large for an id") }
            return id
        }
        let kind = group ? "group" : "user"
        guard let id = group ? accounts.group(text) : accounts.user(text) else {
            throw value.error("there is no \(kind) named \"\(text)\" on this system; use a name or a number")
        }
        return id
    }

    /// One entry of `clients`: at most one of cidr (TCP), uid or gid (Unix), and a profile.
    private func clientRule(
        _ value: ConfigValue, isUnix: Bool, useProfile: (String, ConfigValue) throws(ConfigurationError) -> Void
    ) throws(ConfigurationError) -> ClientRule {
        let entry = try value.mapping(keys: Self.clientKeys)
        let matchers = ["cidr", "uid", "gid"].filter { entry.optional($0) != nil }
        if matchers.count > 1 {
            throw entry.key(matchers[1])!.error(
                "an entry matches on one of \"cidr\", \"uid\" or \"gid\"; write one entry each")
        }
        var match = ClientMatch.any
        if let cidr = entry.optional("cidr") {
            guard !isUnix else {
                throw entry.key("cidr")!.error(
                    "matches TCP clients; clients of a Unix listener are matched by \"uid\" or \"gid\"")
            }
            do {
                match = .network(try IPNetwork(parsing: try cidr.nonEmptyString()))
            } catch {
                throw cidr.error(error)
            }
        }
        for key in ["uid", "gid"] {
            guard let id = entry.optional(key) else { continue }
            guard isUnix else {
                throw entry.key(key)!.error(
                    "matches Unix socket clients; clients of a TCP listener are matched by \"cidr\"")
            }
            let number = try accountID(id, group: key == "gid")
            match = key == "uid" ? .uid(number) : .gid(number)
        }
        let profile = try entry.required("profile", "the profile these clients get")
        let name = try profile.nonEmptyString()
        try useProfile(name, profile)
        return ClientRule(match: match, profile: name)
    }

    // MARK: - Profiles

    /// One profile: the rules of its presets, then its own rules.
    private func profile(named name: String, _ value: ConfigValue) throws(ConfigurationError) -> Profile {
        let entry = try value.mapping(keys: Self.profileKeys)
        guard entry.optional("preset") != nil || entry["rules"] != nil else {
            throw value.error(
                "needs \"preset\" or \"rules\" (write \"rules: []\" for a profile that denies everything)")
        }
        var profileInspection = ProfileInspection.notGiven
        if let inspect = entry.optional("inspect") {
            profileInspection = try inspection(inspect).map { .on($0) } ?? .off
        }
        var rules: [Rule] = []
        if let preset = entry.optional("preset") {
            for (text, item) in try preset.strings(singleAllowed: true) {
                guard let found = Presets.named(text) else {
                    throw item.error(
                        "\"\(text)\" is not a preset; presets: \(Presets.names.joined(separator: ", "))")
                }
                for var rule in found.profile.rules {
                    // The profile's own `inspect` replaces the preset's, for every rule that lets something through.
                    if rule.action == .allow {
                        switch profileInspection {
                        case .notGiven: break
                        case .off: rule.inspection = nil
                        case .on(let policy): rule.inspection = policy
                        }
                    }
                    rules.append(rule)
                }
            }
        }
        if let rulesValue = entry["rules"], !rulesValue.isNull {
            for (index, item) in try rulesValue.sequence().enumerated() {
                rules.append(try rule(item, index: index, profileInspection: profileInspection))
            }
        }
        return Profile(name: name, rules: rules)
    }

    /// One rule. Defaults: action allow; methods GET and HEAD for allow rules, every method for deny rules; for
    /// allow rules the profile's `inspect`, else the strict default.
    private func rule(
        _ value: ConfigValue, index: Int, profileInspection: ProfileInspection
    ) throws(ConfigurationError) -> Rule {
        let entry = try value.mapping(keys: Self.ruleKeys)
        var action = Rule.Action.allow
        if let actionValue = entry.optional("action") {
            switch try actionValue.string() {
            case "allow": action = .allow
            case "deny": action = .deny
            case let other: throw actionValue.error("\"\(other)\" is not an action; expected allow or deny")
            }
        }
        let pathValue = try entry.required("path", "the path template the rule applies to, e.g. /containers/{id}/json")
        let path: PathTemplate
        do {
            path = try PathTemplate(parsing: try pathValue.nonEmptyString())
        } catch {
            throw pathValue.error(error)
        }
        var methods: MethodSet = action == .allow ? .read : .all
        if let methodsValue = entry.optional("methods") { methods = try self.methods(methodsValue) }
        var query: [QueryConstraint] = []
        if let queryValue = entry.optional("query") { query = try self.query(queryValue) }

        var inspection: InspectionPolicy? = nil
        var reason: String? = nil
        switch action {
        case .allow:
            if let reasonKey = entry.key("reason") {
                throw reasonKey.error("is shown to clients that are denied; an allow rule has none")
            }
            if let inspect = entry.optional("inspect") {
                inspection = try self.inspection(inspect)
            } else {
                switch profileInspection {
                case .notGiven: inspection = .strict
                case .off: inspection = nil
                case .on(let policy): inspection = policy
                }
            }
        case .deny:
            if let inspectKey = entry.key("inspect") {
                throw inspectKey.error("limits what an allow rule lets through; a deny rule has nothing to inspect")
            }
            if let reasonValue = entry.optional("reason") { reason = try reasonValue.nonEmptyString() }
        }
        let name = try entry.optional("name")?.nonEmptyString() ?? "rules[\(index)]"
        return Rule(
            name: name, methods: methods, path: path, action: action, reason: reason, query: query,
            inspection: inspection)
    }

    /// `"*"`, a method name, or a list of names ("*" in a list means every method).
    private func methods(_ value: ConfigValue) throws(ConfigurationError) -> MethodSet {
        let items = try value.strings(singleAllowed: true)
        guard !items.isEmpty else { throw value.error("is empty; a rule applies to at least one method") }
        var result: MethodSet = []
        for (text, item) in items {
            let name = ConfigurationText.trimmed(text)
            do {
                guard !name.contains(",") else { throw ConfigurationError("") }
                result.formUnion(try MethodSet(parsing: String(name)))
            } catch {
                throw item.error(
                    "\"\(text)\" is not an HTTP method; expected \"*\" or a list of GET, HEAD, POST, PUT, DELETE, "
                        + "PATCH, OPTIONS, CONNECT, TRACE")
            }
        }
        return result
    }

    /// `{ name: absent | any | "value" | [values] }`.
    private func query(_ value: ConfigValue) throws(ConfigurationError) -> [QueryConstraint] {
        var result: [QueryConstraint] = []
        for (name, item) in try value.anyMapping().entries {
            guard !name.isEmpty else { throw item.error("a query parameter needs a name") }
            if item.isNull {
                throw item.error("has no value; expected absent, any, a value, or a list of values")
            }
            if case .scalar = item.node {
                switch try item.string() {
                case "absent": result.append(QueryConstraint(name: name, .absent))
                case "any": result.append(QueryConstraint(name: name, .anyValue))
                case let text: result.append(QueryConstraint(name: name, .oneOf([text])))
                }
                continue
            }
            // In a list, `absent` (quoted or not, so that JSON can say it) lets the parameter be left out.
            var values: [String] = []
            var orAbsent = false
            for (text, element) in try item.strings() {
                switch text {
                case "absent": orAbsent = true
                case "any": throw element.error("\"any\" stands alone (filters: any), not in a list of values")
                default: values.append(text)
                }
            }
            guard !values.isEmpty else {
                throw item.error("lists no value; write \"absent\" alone to forbid the parameter")
            }
            result.append(QueryConstraint(name: name, orAbsent ? .absentOrOneOf(values) : .oneOf(values)))
        }
        return result
    }

    /// `false` (nil: not inspected), `true` (the strict default), or a mapping relaxing the strict default.
    func inspection(_ value: ConfigValue) throws(ConfigurationError) -> InspectionPolicy? {
        if case .scalar = value.node { return try value.bool() ? .strict : nil }
        let entry = try value.mapping(keys: Self.inspectKeys)
        var policy = InspectionPolicy()
        if let item = entry.optional("privileged") { policy.allowPrivileged = try item.bool() }
        if let item = entry.optional("bind_mounts") {
            policy.allowedBindPaths = []
            for (text, element) in try item.strings() {
                policy.allowedBindPaths.append(
                    try element.checked { () throws(ConfigurationError) in try InspectionValues.hostPath(text) })
            }
        }
        if let item = entry.optional("host_namespaces") { policy.allowHostNamespaces = try item.bool() }
        if let item = entry.optional("devices") { policy.allowDevices = try item.bool() }
        if let item = entry.optional("capabilities") {
            var names: [String] = []
            for (text, element) in try item.strings() {
                names.append(
                    try element.checked { () throws(ConfigurationError) in try InspectionValues.capability(text) })
            }
            InspectionValues.apply(capabilities: names, to: &policy)
        }
        if let item = entry.optional("unconfined") { policy.allowUnconfined = try item.bool() }
        if let item = entry.optional("sysctls") { policy.allowSysctls = try item.bool() }
        if let item = entry.optional("runtimes") {
            for (text, element) in try item.strings() {
                policy.allowedRuntimes.insert(
                    try element.checked { () throws(ConfigurationError) in try InspectionValues.runtime(text) })
            }
        }
        if let item = entry.optional("cgroup_parent") { policy.allowCgroupParent = try item.bool() }
        if let item = entry.optional("volumes_from") { policy.allowVolumesFrom = try item.bool() }
        if let item = entry.optional("max_body_bytes") { policy.maxBodyBytes = try item.integer(in: 1...(1 << 30)) }
        return policy
    }

    /// Letters, digits, ".", "_" and "-", starting with a letter or digit.
    static func isProfileName(_ name: String) -> Bool {
        guard let first = name.utf8.first, isAlphanumeric(first) else { return false }
        return name.utf8.allSatisfy {
            isAlphanumeric($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-")
        }
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
    }
}

extension ConfigValue {
    /// The value as a mapping when it is one; for pointing an error at one of its keys.
    fileprivate var optionalMapping: ConfigMapping? {
        try? anyMapping()
    }
}

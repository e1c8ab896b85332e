// The tecnativa/docker-socket-proxy environment variables, read strictly, and the profile they stand for.

/// The settings of a `tecnativa/docker-socket-proxy` deployment, read from its environment variables.
///
/// The same variables mean the same thing, with these differences, each safer or stricter:
/// - a section variable enables exactly that first segment (Tecnativa's prefix regex let `/containersX` through);
/// - ALLOW_START, ALLOW_STOP and ALLOW_RESTARTS work with POST=0 (in Tecnativa they are dead unless POST=1);
/// - creating an exec needs EXEC=1 as well as CONTAINERS=1; the archive, export and attach endpoints of a container
///   need ALLOW_ARCHIVE, ALLOW_EXPORT and ALLOW_ATTACH;
/// - a boolean that is not 1/0, true/false, yes/no or on/off is an error, not silently false;
/// - the bodies of container create, exec create and the like are inspected: what gives a container a way onto
///   the host is refused unless an ``inspectionVariables`` variable allows it, and INSPECT=0 turns this off.
public struct TecnativaSettings: Sendable, Equatable {
    /// Every boolean variable we understand, with its default: EVENTS, PING, VERSION default true; all others false.
    public static let booleanVariables: [(name: String, defaultValue: Bool, help: String)] = [
        ("AUTH", false, "Allow /auth: checking registry credentials."),
        ("BUILD", false, "Allow /build: building images (POST=1 to build)."),
        ("COMMIT", false, "Allow /commit: making an image from a container (needs POST=1)."),
        ("CONFIGS", false, "Allow /configs: swarm configs."),
        ("CONTAINERS", false, "Allow /containers: list, inspect, logs; with POST=1 create, start, stop, remove."),
        ("DISTRIBUTION", false, "Allow /distribution: image manifests from registries."),
        ("EVENTS", true, "Allow /events: the daemon's event stream."),
        ("EXEC", false, "Allow /exec, and creating an exec with POST /containers/{id}/exec (needs POST=1)."),
        ("GRPC", false, "Allow /grpc: the BuildKit gRPC endpoint."),
        ("IMAGES", false, "Allow /images: list, inspect; with POST=1 pull, tag, remove."),
        ("INFO", false, "Allow /info: system-wide information."),
        ("NETWORKS", false, "Allow /networks."),
        ("NODES", false, "Allow /nodes: swarm nodes."),
        ("PING", true, "Allow /_ping: the health check."),
        ("PLUGINS", false, "Allow /plugins."),
        ("POST", false, "Allow every method on the enabled sections; when 0, only GET and HEAD."),
        ("SECRETS", false, "Allow /secrets: swarm secrets."),
        ("SERVICES", false, "Allow /services: swarm services."),
        ("SESSION", false, "Allow /session: the BuildKit session endpoint."),
        ("SWARM", false, "Allow /swarm."),
        ("SYSTEM", false, "Allow /system: disk usage and the like."),
        ("TASKS", false, "Allow /tasks: swarm tasks."),
        ("VERSION", true, "Allow /version."),
        ("VOLUMES", false, "Allow /volumes."),
        ("ALLOW_START", false, "Allow POST /containers/{id}/start, even with POST=0 or CONTAINERS=0."),
        ("ALLOW_STOP", false, "Allow POST /containers/{id}/stop, even with POST=0 or CONTAINERS=0."),
        ("ALLOW_RESTARTS", false, "Allow POST /containers/{id}/stop, restart and kill, even with POST=0."),
        ("ALLOW_ARCHIVE", false, "Allow /containers/{id}/archive: copying files in and out (with CONTAINERS=1)."),
        ("ALLOW_EXPORT", false, "Allow /containers/{id}/export: a container's whole filesystem (with CONTAINERS=1)."),
        ("ALLOW_ATTACH", false, "Allow /containers/{id}/attach and attach/ws (with CONTAINERS=1)."),
        ("DISABLE_IPV6", false, "Listen on IPv4 only by default."),
    ]

    /// The variables that set the body inspection of every allow rule: INSPECT turns it on or off, each ALLOW_*
    /// relaxes one limit of ``InspectionPolicy``. `syntax` says what the value is, `help` what it allows.
    public static let inspectionVariables: [(name: String, syntax: String, help: String)] = [
        (
            "INSPECT", "boolean, default 1",
            "Check request bodies (container create, exec create and the like) against the ALLOW_* limits; 0 passes "
                + "them unread as Tecnativa does, for a client you trust."
        ),
        (
            "ALLOW_PRIVILEGED", "boolean, default 0",
            "Allow Privileged: true for containers and execs, and plugin privileges."
        ),
        (
            "ALLOW_BIND_MOUNTS", "absolute host paths, comma-separated",
            "Host paths under which bind mounts are allowed (Binds, bind Mounts, local volumes with o=bind), e.g. "
                + "/srv,/data; / allows every bind."
        ),
        (
            "ALLOW_HOST_NAMESPACES", "boolean, default 0",
            "Allow the host's or another container's network, pid, ipc, uts, user and cgroup namespaces."
        ),
        ("ALLOW_DEVICES", "boolean, default 0", "Allow Devices, DeviceRequests (GPUs) and DeviceCgroupRules."),
        (
            "ALLOW_CAPABILITIES", "capability names, comma-separated, or ALL",
            "Capabilities CapAdd may name, e.g. NET_ADMIN,SYS_TIME (the CAP_ prefix is optional); ALL allows any."
        ),
        (
            "ALLOW_UNCONFINED", "boolean, default 0",
            "Allow seccomp, AppArmor and systempaths unconfined, label=disable, custom seccomp profiles, and "
                + "MaskedPaths or ReadonlyPaths overrides."
        ),
        ("ALLOW_SYSCTLS", "boolean, default 0", "Allow Sysctls."),
        (
            "ALLOW_RUNTIMES", "runtime names, comma-separated",
            "Runtimes other than runc that Runtime may name, e.g. nvidia."
        ),
        ("ALLOW_CGROUP_PARENT", "boolean, default 0", "Allow CgroupParent."),
        ("ALLOW_VOLUMES_FROM", "boolean, default 0", "Allow VolumesFrom: every volume of another container."),
    ]

    /// The syslog levels LOG_LEVEL accepts, as HAProxy names them.
    public static let logLevels = ["debug", "info", "notice", "warning", "err", "crit", "alert", "emerg"]

    /// Every boolean variable by name, with its value; all of ``booleanVariables`` are present.
    public var values: [String: Bool]
    /// SOCKET_PATH: the Docker socket, default "/var/run/docker.sock".
    public var socketPath: String
    /// LOG_LEVEL: one of ``logLevels``, default "info".
    public var logLevel: String
    /// LISTEN: comma-separated addresses, default empty (the caller's default).
    public var listen: [String]
    /// Non-fatal findings, such as an unknown variable that looks like a misspelt one of ours.
    public var warnings: [String]
    /// The limits every allow rule of ``profile()`` puts on request bodies, from ``inspectionVariables``; nil with
    /// INSPECT=0 (bodies pass unread).
    public var inspection: InspectionPolicy?

    /// Reads the environment dictionary. Booleans accept 1/0, true/false, yes/no, on/off (case-insensitive,
    /// trimmed); anything else throws ConfigurationError naming the variable and value. Unknown variables that look
    /// like ours (e.g. ALLOWED_PATHS, CONTAINER=1, anything starting ALLOW_, a near-miss of a known name:
    /// singular/plural or edit distance 1 for names of 5+ letters) add a warning "unknown variable CONTAINER ignored
    /// (did you mean CONTAINERS?)". Ordinary variables (PATH, HOME, HOSTNAME, TERM, LANG, PWD, SHLVL, USER, ...)
    /// never warn.
    public init(environment: [String: String]) throws(ConfigurationError) {
        var values: [String: Bool] = [:]
        for variable in Self.booleanVariables {
            if let text = environment[variable.name] {
                values[variable.name] = try Self.boolean(variable.name, text)
            } else {
                values[variable.name] = variable.defaultValue
            }
        }
        self.values = values

        if let path = environment["SOCKET_PATH"] {
            guard !ConfigurationText.trimmed(path).isEmpty else {
                throw ConfigurationError("SOCKET_PATH is empty; leave it unset for /var/run/docker.sock")
            }
            self.socketPath = path
        } else {
            self.socketPath = "/var/run/docker.sock"
        }

        if let text = environment["LOG_LEVEL"] {
            // HAProxy's names, plus the spellings people type (warn, error, ...), kept as HAProxy's name.
            guard let level = AuditPriority(name: String(ConfigurationText.trimmed(text))) else {
                throw ConfigurationError(
                    "LOG_LEVEL=\"\(text)\" is not a log level; use one of "
                        + Self.logLevels.joined(separator: ", "))
            }
            self.logLevel = level.name
        } else {
            self.logLevel = "info"
        }

        self.listen = (environment["LISTEN"] ?? "").split(separator: ",").map { String(ConfigurationText.trimmed($0)) }
            .filter { !$0.isEmpty }

        var warnings: [String] = []
        var inspection = InspectionPolicy()
        if let text = environment["ALLOW_PRIVILEGED"] {
            inspection.allowPrivileged = try Self.boolean("ALLOW_PRIVILEGED", text)
        }
        if let text = environment["ALLOW_BIND_MOUNTS"] {
            inspection.allowedBindPaths = try Self.list("ALLOW_BIND_MOUNTS", text) { item throws(ConfigurationError) in
                try InspectionValues.hostPath(item)
            }
        }
        if let text = environment["ALLOW_HOST_NAMESPACES"] {
            inspection.allowHostNamespaces = try Self.boolean("ALLOW_HOST_NAMESPACES", text)
        }
        if let text = environment["ALLOW_DEVICES"] {
            inspection.allowDevices = try Self.boolean("ALLOW_DEVICES", text)
        }
        if let text = environment["ALLOW_CAPABILITIES"] {
            let names = try Self.list("ALLOW_CAPABILITIES", text) { item throws(ConfigurationError) in
                try InspectionValues.capability(item)
            }
            InspectionValues.apply(capabilities: names, to: &inspection)
        }
        if let text = environment["ALLOW_UNCONFINED"] {
            inspection.allowUnconfined = try Self.boolean("ALLOW_UNCONFINED", text)
        }
        if let text = environment["ALLOW_SYSCTLS"] {
            inspection.allowSysctls = try Self.boolean("ALLOW_SYSCTLS", text)
        }
        if let text = environment["ALLOW_RUNTIMES"] {
            inspection.allowedRuntimes = Set(
                try Self.list("ALLOW_RUNTIMES", text) { item throws(ConfigurationError) in
                    try InspectionValues.runtime(item)
                })
        }
        if let text = environment["ALLOW_CGROUP_PARENT"] {
            inspection.allowCgroupParent = try Self.boolean("ALLOW_CGROUP_PARENT", text)
        }
        if let text = environment["ALLOW_VOLUMES_FROM"] {
            inspection.allowVolumesFrom = try Self.boolean("ALLOW_VOLUMES_FROM", text)
        }
        let inspect = try environment["INSPECT"].map { text throws(ConfigurationError) in
            try Self.boolean("INSPECT", text)
        }
        if inspect == false {
            self.inspection = nil
            let ignored = Self.inspectionVariables.map(\.name).filter { $0 != "INSPECT" && environment[$0] != nil }
            if !ignored.isEmpty {
                warnings.append(
                    "INSPECT=0: request bodies pass unread, so \(ignored.joined(separator: ", ")) "
                        + (ignored.count == 1 ? "has" : "have") + " no effect")
            }
        } else {
            self.inspection = inspection
        }

        for name in environment.keys.sorted() where !Self.knownNames.contains(name) {
            if let suggestion = Self.suggestion(for: name) {
                warnings.append("unknown variable \(name) ignored (did you mean \(suggestion)?)")
            } else if name.hasPrefix("ALLOW") {
                warnings.append("unknown variable \(name) ignored")
            }
        }
        self.warnings = warnings
    }

    /// The value of a boolean variable from ``booleanVariables``; any other name is a programming error.
    public subscript(_ name: String) -> Bool {
        get {
            if let value = values[name] { return value }
            guard let variable = Self.booleanVariables.first(where: { $0.name == name }) else {
                preconditionFailure("\(name) is not a boolean variable of TecnativaSettings")
            }
            return variable.defaultValue
        }
        set {
            precondition(
                Self.booleanVariables.contains { $0.name == name },
                "\(name) is not a boolean variable of TecnativaSettings")
            values[name] = newValue
        }
    }

    /// The built-in profile these settings stand for.
    ///
    /// The rules, in the order they are tried (each only when its condition holds):
    /// 1. `ALLOW_RESTARTS` (ALLOW_RESTARTS=1): POST `/containers/{id}/stop`, `/restart` and `/kill`.
    /// 2. `ALLOW_START` (ALLOW_START=1): POST `/containers/{id}/start`.
    /// 3. `ALLOW_STOP` (ALLOW_STOP=1): POST `/containers/{id}/stop`.
    ///    These three need neither POST=1 nor CONTAINERS=1, and allow only POST on exactly those endpoints.
    /// 4. Denials that make CONTAINERS=1 narrower than Tecnativa's, any method, before the CONTAINERS rule:
    ///    `EXEC-create-needs-EXEC` (EXEC=0): `/containers/{id+}/exec`;
    ///    `ARCHIVE-needs-ALLOW_ARCHIVE` (ALLOW_ARCHIVE=0): `/containers/{id+}/archive`;
    ///    `EXPORT-needs-ALLOW_EXPORT` (ALLOW_EXPORT=0): `/containers/{id+}/export`;
    ///    `ATTACH-needs-ALLOW_ATTACH` (ALLOW_ATTACH=0): `/containers/{id+}/attach` and `/containers/{id+}/attach/ws`;
    ///    `ATTACH-ws-needs-POST` (ALLOW_ATTACH=1, POST=0): `/containers/{id+}/attach/ws`, a GET that writes stdin.
    ///    `{id+}` because the daemon routes `/containers/{name:.*}/...`: a legacy link gives a container a name with
    ///    a slash (`web/db`), and `/containers/web/db/exec` reaches it.
    /// 5. One allow rule per enabled section, named by its variable (`CONTAINERS`, `PING`, ...): `/section` and
    ///    everything under it, GET and HEAD only with POST=0, every method with POST=1.
    /// 6. One deny rule per section that is not fully allowed: `CONTAINERS-read-only` (section on, POST=0; "only GET
    ///    and HEAD are allowed (POST=0)") or `CONTAINERS-off` (section off; "the containers section is off
    ///    (CONTAINERS=0)").
    /// Anything else, a path outside every section, falls through to the profile's default deny.
    ///
    /// Every allow rule carries ``inspection``: the bodies it lets through (container create, exec create and the
    /// like) are checked against it, or pass unread with INSPECT=0.
    public func profile() -> Profile {
        let post = self["POST"]
        var rules: [Rule] = []

        if self["ALLOW_RESTARTS"] {
            for endpoint in ["stop", "restart", "kill"] {
                rules.append(allow("ALLOW_RESTARTS", .post, "/containers/{id}/\(endpoint)"))
            }
        }
        if self["ALLOW_START"] { rules.append(allow("ALLOW_START", .post, "/containers/{id}/start")) }
        if self["ALLOW_STOP"] { rules.append(allow("ALLOW_STOP", .post, "/containers/{id}/stop")) }

        if self["CONTAINERS"] {
            if !self["EXEC"] {
                let needs = post ? "EXEC=1" : "EXEC=1 and POST=1"
                let reason = "creating an exec needs \(needs)"
                rules.append(deny("EXEC-create-needs-EXEC", "/containers/{id+}/exec", reason))
            }
            if !self["ALLOW_ARCHIVE"] {
                let reason = "copying files in or out of a container needs ALLOW_ARCHIVE=1"
                rules.append(deny("ARCHIVE-needs-ALLOW_ARCHIVE", "/containers/{id+}/archive", reason))
            }
            if !self["ALLOW_EXPORT"] {
                let reason = "exporting a container's filesystem needs ALLOW_EXPORT=1"
                rules.append(deny("EXPORT-needs-ALLOW_EXPORT", "/containers/{id+}/export", reason))
            }
            if !self["ALLOW_ATTACH"] {
                let reason = "attaching to a container needs ALLOW_ATTACH=1"
                rules.append(deny("ATTACH-needs-ALLOW_ATTACH", "/containers/{id+}/attach", reason))
                rules.append(deny("ATTACH-needs-ALLOW_ATTACH", "/containers/{id+}/attach/ws", reason))
            } else if !post {
                // The websocket attach is a GET, yet it writes to the container's stdin: not read-only.
                let reason = "a websocket attach can write to the container; it needs POST=1"
                rules.append(deny("ATTACH-ws-needs-POST", "/containers/{id+}/attach/ws", reason))
            }
        }

        for section in Section.allCases where self[section.variable] {
            rules.append(allow(section.variable, post ? .all : .read, "/\(section.rawValue)/{rest...}"))
        }

        for section in Section.allCases {
            let everything = "/\(section.rawValue)/{rest...}"
            if !self[section.variable] {
                let reason = "the \(section.rawValue) section is off (\(section.variable)=0)"
                rules.append(deny("\(section.variable)-off", everything, reason))
            } else if !post {
                let reason = "only GET and HEAD are allowed (POST=0)"
                rules.append(deny("\(section.variable)-read-only", everything, reason))
            }
        }
        return Profile(name: "tecnativa", rules: rules)
    }

    // MARK: - Building rules

    private func allow(_ name: String, _ methods: MethodSet, _ path: String) -> Rule {
        Rule(name: name, methods: methods, path: Self.template(path), action: .allow, inspection: inspection)
    }

    private func deny(_ name: String, _ path: String, _ reason: String) -> Rule {
        Rule(name: name, methods: .all, path: Self.template(path), action: .deny, reason: reason)
    }

    /// A template written in this file; failing to parse is a bug here, not a configuration error.
    private static func template(_ text: String) -> PathTemplate {
        do {
            return try PathTemplate(parsing: text)
        } catch {
            preconditionFailure("built-in \(error)")
        }
    }

    // MARK: - Reading values

    private static func boolean(_ name: String, _ text: String) throws(ConfigurationError) -> Bool {
        switch ConfigurationText.trimmed(text).lowercased() {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default:
            throw ConfigurationError(
                "\(name)=\"\(text)\" is not a boolean; use 1 or 0, true or false, yes or no, on or off")
        }
    }

    /// A comma-separated list: items trimmed, empty items skipped, each read by `item`; an error names the variable.
    private static func list<T>(
        _ name: String, _ text: String, _ item: (Substring) throws(ConfigurationError) -> T
    ) throws(ConfigurationError) -> [T] {
        var result: [T] = []
        for part in text.split(separator: ",") where !ConfigurationText.trimmed(part).isEmpty {
            do {
                result.append(try item(part))
            } catch {
                throw ConfigurationError("\(name)=\"\(text)\": \(error.message)")
            }
        }
        return result
    }

    /// Every variable we read, in a fixed order so that a suggestion does not depend on hashing.
    private static let orderedKnownNames =
        booleanVariables.map(\.name) + inspectionVariables.map(\.name) + ["SOCKET_PATH", "LOG_LEVEL", "LISTEN"]

    /// Every variable we read.
    private static let knownNames = Set(orderedKnownNames)

    /// The known variable an unknown `name` is probably a misspelling of.
    ///
    /// A name with lower case letters only matches a known name written in another case: `container=podman` is
    /// what Podman and systemd put in every container's environment, and must not warn.
    private static func suggestion(for name: String) -> String? {
        let isUpperCase = name.utf8.allSatisfy { byte in
            byte == UInt8(ascii: "_") || (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte)
        }
        guard isUpperCase else {
            let upper = name.uppercased()
            return knownNames.contains(upper) ? upper : nil
        }
        if knownNames.contains(name + "S") { return name + "S" }
        if name.hasSuffix("S"), knownNames.contains(String(name.dropLast())) { return String(name.dropLast()) }
        guard name.utf8.count >= 5 else { return nil }
        return orderedKnownNames.first { isOneEditApart(Array(name.utf8), Array($0.utf8)) }
    }

    /// Whether one insertion, deletion, substitution or swap of neighbours turns `a` into `b`.
    private static func isOneEditApart(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard abs(a.count - b.count) <= 1, a != b else { return false }
        let prefix = zip(a, b).prefix { $0 == $1 }.count
        if a.count == b.count {
            let restA = a[(prefix + 1)...]
            let restB = b[(prefix + 1)...]
            if restA == restB { return true }
            // A swap of neighbours: "CONTIANERS".
            return prefix + 1 < a.count && a[prefix] == b[prefix + 1] && a[prefix + 1] == b[prefix]
                && a[(prefix + 2)...] == b[(prefix + 2)...]
        }
        let (longer, shorter) = a.count > b.count ? (a, b) : (b, a)
        return longer[(prefix + 1)...] == shorter[prefix...]
    }
}

// The options of `serve`, and turning them (with the environment) into settings and listeners.
import ArgumentParser
import Logging
import SocketProxyCore

#if canImport(Glibc)
import Glibc
#endif

/// Where audit records and log messages go.
enum LogTarget: String, ExpressibleByArgument, CaseIterable {
    /// The journal when its socket exists, stderr otherwise.
    case auto
    case journald
    case stderr
}

extension StreamAuditBackend.Format: ExpressibleByArgument {}
extension ProxyMode: ExpressibleByArgument {}

/// Everything serve builds from the command line, the environment and the policy file.
struct EffectiveSettings {
    var profiles: [Profile]
    var mode: ProxyMode
    var listeners: [ListenerConfiguration]
    var socketPath: String
    var logLevel: AuditPriority
    var warnings: [String]
    /// Where the policy came from, for messages.
    var source: String

    /// Each listener's profile and client rules, by listener name, for the policy snapshot.
    var listenerAccess: [String: ListenerAccess] {
        Dictionary(listeners.map { ($0.displayName, $0.access) }, uniquingKeysWith: { first, _ in first })
    }
}

struct ServeOptions: ParsableArguments {
    @Option(
        name: .customLong("listen"),
        help: ArgumentHelp(
            "Where clients connect: HOST:PORT, [IPV6]:PORT, *:PORT or unix:PATH; repeatable. Env: LISTEN "
                + "(comma-separated). Default 127.0.0.1:2375.",
            valueName: "address"))
    var listen: [String] = []

    @Option(help: ArgumentHelp("The Docker daemon's socket. Env: SOCKET_PATH (default /var/run/docker.sock).",
        valueName: "path"))
    var socketPath: String?

    @Option(
        help: ArgumentHelp(
            "Least severe record written: debug, info, notice, warning, err, crit, alert, emerg. "
                + "Env: LOG_LEVEL (default info).",
            valueName: "level"))
    var logLevel: String?

    @Option(help: ArgumentHelp(
        "Where audit records and messages go: auto (the journal if it runs, else stderr), journald, stderr.",
        valueName: "target"))
    var logTarget: LogTarget = .auto

    @Option(help: ArgumentHelp("Line format on stderr: logfmt or json.", valueName: "format"))
    var logFormat: StreamAuditBackend.Format = .logfmt

    @Option(
        help: ArgumentHelp(
            "A file of VARIABLE=value lines read over the environment at start and again on SIGHUP.",
            valueName: "path"))
    var envFile: String?

    @Option(
        help: ArgumentHelp(
            "A policy file (YAML or JSON; see Docs/policy.md) with listeners, client rules and profiles, read at "
                + "start and again on SIGHUP. With it, the environment's policy variables are not used.",
            valueName: "path"))
    var config: String?

    @Option(
        help: ArgumentHelp(
            "enforce (default), audit (let everything through; record what would be denied) or learn (let "
                + "everything through; print the smallest policy allowing it on SIGUSR1 and at exit). Env: MODE; "
                + "a policy file's mode: comes after this and MODE.",
            valueName: "mode"))
    var mode: ProxyMode?

    @Option(help: ArgumentHelp("Event-loop threads (default: one per core).", valueName: "n"))
    var threads: Int?

    @Option(help: ArgumentHelp("Seconds a client has to send a complete request head.", valueName: "seconds"))
    var headerTimeout: Double = 10

    @Option(help: ArgumentHelp("Seconds an idle keep-alive connection stays open.", valueName: "seconds"))
    var idleTimeout: Double = 60

    @Option(help: ArgumentHelp("Seconds connecting to the Docker socket may take.", valueName: "seconds"))
    var connectTimeout: Double = 5

    @Option(
        help: ArgumentHelp(
            "Seconds a response or stream may move no bytes before it is cut; 0 = never.", valueName: "seconds"))
    var streamIdleTimeout: Double = 0

    @Option(
        help: ArgumentHelp(
            "Client connections open at once (default: from the descriptor limit).", valueName: "n"))
    var maxConnections: Int?

    @Option(help: ArgumentHelp("Longest request line in bytes; longer gets 431.", valueName: "bytes"))
    var maxRequestLine: Int = 8192

    @Option(help: ArgumentHelp("Largest request head in bytes; larger gets 431.", valueName: "bytes"))
    var maxHead: Int = 65536

    @Option(help: ArgumentHelp("Most header fields in a request; more gets 431.", valueName: "n"))
    var maxHeaderFields: Int = 100

    @Option(help: ArgumentHelp("Seconds to let running requests finish after SIGTERM.", valueName: "seconds"))
    var gracePeriod: Double = 10

    @Option(
        help: ArgumentHelp(
            "Seconds to wait at start for the daemon to answer /_ping before telling systemd READY=1 anyway.",
            valueName: "seconds"))
    var readyTimeout: Double = 5

    @OptionGroup(title: "Policy switches (each also an environment variable)")
    var switches: PolicySwitches

    func validate() throws {
        guard threads.map({ $0 > 0 && $0 <= 1024 }) ?? true else { throw ValidationError("--threads must be 1 to 1024") }
        guard maxRequestLine > 0, maxHead >= maxRequestLine else {
            throw ValidationError("--max-head must be at least --max-request-line, and both positive")
        }
        guard maxHeaderFields > 0 else { throw ValidationError("--max-header-fields must be positive") }
        for value in [headerTimeout, idleTimeout, connectTimeout, gracePeriod] where !(value > 0) {
            throw ValidationError("timeouts and the grace period must be positive numbers of seconds")
        }
        guard streamIdleTimeout >= 0 else { throw ValidationError("--stream-idle-timeout must be 0 or more") }
    }

    /// The settings from the process environment, then the environment file, then the command line.
    func settings() throws -> TecnativaSettings {
        var environment = ProcessEnvironment.all
        if let envFile {
            for (name, value) in try EnvironmentFile.read(envFile) { environment[name] = value }
        }
        for (name, value) in switches.overrides { environment[name] = value }
        if let socketPath { environment["SOCKET_PATH"] = socketPath }
        if let logLevel { environment["LOG_LEVEL"] = logLevel }
        if !listen.isEmpty { environment["LISTEN"] = listen.joined(separator: ",") }
        return try TecnativaSettings(environment: environment)
    }

    /// The policy, listeners and the rest, as serve runs with them; called again on reload.
    func effective(logger: Logger) throws -> EffectiveSettings {
        let settings = try self.settings()
        var warnings = settings.warnings
        let environment = ProcessEnvironment.all
        let file = try config.map { path throws(ConfigurationError) in try PolicyFile.load(path: path) }
        if let file { warnings += file.warnings }
        var chosenMode = file?.mode ?? .enforce
        if let text = environment["MODE"] {
            guard let value = ProxyMode(rawValue: text.lowercased()) else {
                throw ConfigurationError("MODE=\"\(text)\" is not a mode; use enforce, audit or learn")
            }
            chosenMode = value
        }
        if let mode { chosenMode = mode }
        let socketPath = socketPath ?? file?.socketPath ?? settings.socketPath
        let disableIPv6 = settings["DISABLE_IPV6"]
        var listeners: [ListenerConfiguration]
        if let file, !file.listeners.isEmpty, !settings.listen.isEmpty {
            // Which profile would those addresses get? Refuse rather than guess.
            throw ConfigurationError(
                "\(file.source) declares listeners; --listen and LISTEN cannot be added to them (put every listener "
                    + "in the file, each with its profile)")
        }
        if let file, !file.listeners.isEmpty {
            listeners = try file.listeners.map { entry in
                var configuration =
                    entry.anyInterface
                    ? try Self.listener("*:\(entry.address.port ?? 2375)", disableIPv6: disableIPv6, logger: logger)
                    : ListenerConfiguration(source: .address(entry.address))
                configuration.name = entry.name
                configuration.unixMode = entry.unixMode
                configuration.unixOwner = entry.unixOwner
                configuration.unixGroup = entry.unixGroup
                configuration.profile = entry.profile
                configuration.clients = entry.clients
                return configuration
            }
        } else {
            listeners = try (settings.listen.isEmpty ? ["127.0.0.1:2375"] : settings.listen).map {
                try Self.listener($0, disableIPv6: disableIPv6, logger: logger)
            }
        }
        let activated: [ListenerConfiguration]
        do {
            activated = try SystemdActivation.listeners()
        } catch {
            throw ValidationError(error.message)
        }
        if !activated.isEmpty {
            // Passed sockets replace the configured addresses; a file listener of the same name (systemd's
            // FileDescriptorName=) lends them its profile and client rules.
            listeners = activated.map { passed in
                var configuration = passed
                if case .inherited(_, let label) = passed.source, let file {
                    let name = String(label.prefix { $0 != " " })
                    if let entry = file.listener(named: name) {
                        configuration.profile = entry.profile
                        configuration.clients = entry.clients
                    }
                }
                return configuration
            }
        }
        let profiles = file?.profiles ?? [settings.profile()]
        return EffectiveSettings(
            profiles: profiles, mode: chosenMode, listeners: listeners, socketPath: socketPath,
            logLevel: AuditPriority(name: settings.logLevel) ?? .info, warnings: warnings,
            source: config ?? "the environment")
    }

    /// The log target, with `auto` decided by whether the journal's socket exists.
    func resolvedLogTarget() throws -> LogTarget {
        switch logTarget {
        case .auto: return JournalAuditBackend.isAvailable ? .journald : .stderr
        case .journald:
            guard JournalAuditBackend.isAvailable else {
                throw ValidationError("--log-target journald: no journal listens on \(JournalAuditBackend.socketPath)")
            }
            return .journald
        case .stderr: return .stderr
        }
    }

    /// Parses one listen address; `*:PORT` becomes dual-stack `[::]:PORT`, or `0.0.0.0:PORT` without IPv6.
    static func listener(_ text: String, disableIPv6: Bool, logger: Logger) throws -> ListenerConfiguration {
        if text.hasPrefix("*:") {
            let port = String(text.dropFirst(2))
            if !disableIPv6 && Socket.ipv6Available {
                return ListenerConfiguration(source: .address(try parse("[::]:\(port)")), v6Only: false)
            }
            if !disableIPv6 {
                logger.warning("IPv6 is not available here; listening on IPv4 only (set DISABLE_IPV6=1 to silence this)")
            }
            return ListenerConfiguration(source: .address(try parse("0.0.0.0:\(port)")))
        }
        return ListenerConfiguration(source: .address(try parse(text)))
    }

    private static func parse(_ text: String) throws -> SocketAddress {
        do {
            return try SocketAddress(parsing: text)
        } catch {
            throw ValidationError(error.message)
        }
    }
}

/// `VARIABLE=value` lines, as systemd's EnvironmentFile= reads them: blank lines and `#` comments skipped, an
/// optional `export `, values optionally in single or double quotes.
enum EnvironmentFile {
    static func read(_ path: String) throws -> [(String, String)] {
        guard let file = fopen(path, "r") else {
            throw ConfigurationError("--env-file \(path): \(String(cString: strerror(errno)))")
        }
        defer { fclose(file) }
        var result: [(String, String)] = []
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        var number = 0
        defer { free(line) }
        while getline(&line, &capacity, file) > 0 {
            number += 1
            var text = String(cString: line!)
            while let last = text.last, last == "\n" || last == "\r" || last == " " || last == "\t" { text.removeLast() }
            while let first = text.first, first == " " || first == "\t" { text.removeFirst() }
            if text.isEmpty || text.hasPrefix("#") || text.hasPrefix(";") { continue }
            if text.hasPrefix("export ") { text.removeFirst(7) }
            guard let equals = text.firstIndex(of: "=") else {
                throw ConfigurationError("--env-file \(path):\(number): expected VARIABLE=value")
            }
            let name = String(text[..<equals]).trimmingSpaces
            var value = String(text[text.index(after: equals)...]).trimmingSpaces
            if value.count >= 2, let first = value.first, first == "\"" || first == "'", value.last == first {
                value = String(value.dropFirst().dropLast())
            }
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                throw ConfigurationError("--env-file \(path):\(number): \"\(name)\" is not a variable name")
            }
            result.append((name, value))
        }
        return result
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        var text = Substring(self)
        while let first = text.first, first == " " || first == "\t" { text.removeFirst() }
        while let last = text.last, last == " " || last == "\t" { text.removeLast() }
        return String(text)
    }
}

// `socket-proxy serve`: read the settings, start the proxy, and run until a signal says stop.
import ArgumentParser
import Logging
import SocketProxyCore

#if canImport(Glibc)
import Glibc
#endif

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the proxy (the default command).",
        discussion: """
            Without --listen or LISTEN, socket-proxy listens on 127.0.0.1:2375 only, so a proxy started by hand \
            does not hand the Docker API to the network. `*:PORT` means every interface, IPv6 and IPv4 (IPv4 only \
            with DISABLE_IPV6=1 or where IPv6 is unavailable); the container image listens on *:2375.
            """
    )

    @Option(
        name: .customLong("listen"),
        help: ArgumentHelp(
            "Where clients connect: HOST:PORT, [IPV6]:PORT, *:PORT or unix:PATH; repeatable. Env: LISTEN (comma-separated).",
            valueName: "address"))
    var listen: [String] = []

    @Option(help: ArgumentHelp("The Docker daemon's socket. Env: SOCKET_PATH.", valueName: "path"))
    var socketPath: String?

    @Option(help: ArgumentHelp(
        "Least severe audit level written: debug, info, notice, warning, err, crit, alert, emerg. Env: LOG_LEVEL (default info).",
        valueName: "level"))
    var logLevel: String?

    @Option(help: ArgumentHelp("Event-loop threads (default: one per core).", valueName: "n"))
    var threads: Int?

    @Option(help: ArgumentHelp("Seconds a client has to send a complete request head.", valueName: "seconds"))
    var headerTimeout: Double = 10

    @Option(help: ArgumentHelp("Seconds an idle keep-alive connection stays open.", valueName: "seconds"))
    var idleTimeout: Double = 60

    @Option(help: ArgumentHelp("Seconds connecting to the Docker socket may take.", valueName: "seconds"))
    var connectTimeout: Double = 5

    @Option(help: ArgumentHelp(
        "Seconds a response or stream may move no bytes before it is cut; 0 = never.", valueName: "seconds"))
    var streamIdleTimeout: Double = 0

    @Option(help: ArgumentHelp("Client connections open at once (default: from the descriptor limit).", valueName: "n"))
    var maxConnections: Int?

    @Option(help: ArgumentHelp("Longest request line in bytes; longer gets 431.", valueName: "bytes"))
    var maxRequestLine: Int = 8192

    @Option(help: ArgumentHelp("Largest request head in bytes; larger gets 431.", valueName: "bytes"))
    var maxHead: Int = 65536

    @Option(help: ArgumentHelp("Most header fields in a request; more gets 431.", valueName: "n"))
    var maxHeaderFields: Int = 100

    @Option(help: ArgumentHelp("Seconds to let running requests finish after SIGTERM.", valueName: "seconds"))
    var gracePeriod: Double = 10

    @OptionGroup(title: "Policy switches (each also an environment variable)")
    var switches: PolicySwitches

    func run() throws {
        var environment = ProcessEnvironment.all
        for (name, value) in switches.overrides { environment[name] = value }
        if let socketPath { environment["SOCKET_PATH"] = socketPath }
        if let logLevel { environment["LOG_LEVEL"] = logLevel }
        if !listen.isEmpty { environment["LISTEN"] = listen.joined(separator: ",") }

        let settings: TecnativaSettings
        do {
            settings = try TecnativaSettings(environment: environment)
        } catch {
            throw ValidationError(error.message)
        }
        let threshold = AuditPriority(name: settings.logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = threshold.loggerLevel
            return handler
        }
        let logger = Logger(label: "socket-proxy")
        for warning in settings.warnings { logger.warning("\(warning)") }

        let disableIPv6 = settings["DISABLE_IPV6"]
        var listeners: [ListenerConfiguration] = []
        for text in settings.listen.isEmpty ? ["127.0.0.1:2375"] : settings.listen {
            listeners.append(try Self.listener(text, disableIPv6: disableIPv6, logger: logger))
        }

        var configuration = ProxyConfiguration(policy: PolicySnapshot(profile: settings.profile()))
        configuration.upstream = .unix(settings.socketPath)
        configuration.listeners = listeners
        configuration.threads = threads ?? 0
        configuration.headerTimeout = .seconds(headerTimeout)
        configuration.idleTimeout = .seconds(idleTimeout)
        configuration.connectTimeout = .seconds(connectTimeout)
        configuration.streamIdleTimeout = .seconds(streamIdleTimeout)
        configuration.maxConnections = maxConnections ?? 0
        configuration.limits = HTTPLimits(
            maxRequestLineBytes: maxRequestLine, maxHeadBytes: maxHead, maxHeaderFields: maxHeaderFields)

        Signals.block()
        Self.raiseDescriptorLimit()
        let audit = try AuditWriter(backend: StreamAuditBackend(), threshold: threshold)
        let server = ProxyServer(configuration: configuration, audit: audit)
        do {
            try server.start()
        } catch {
            logger.critical("cannot start: \(error)")
            throw ExitCode(1)
        }
        let addresses = server.listeningAddresses.map(\.description).joined(separator: ", ")
        logger.notice("listening on \(addresses); Docker socket \(settings.socketPath)")

        while true {
            switch Signals.wait() {
            case SIGTERM, SIGINT:
                logger.notice("stopping: finishing running requests for up to \(gracePeriod) s")
                server.shutdown(gracePeriod: .seconds(gracePeriod))
                server.wait()
                audit.close()
                logger.notice("stopped")
                return
            default:
                continue
            }
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

    /// Lifts the soft descriptor limit to the hard one: each client needs two descriptors, more while data moves.
    static func raiseDescriptorLimit() {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }
}

extension AuditPriority {
    /// The swift-log level of the same severity.
    var loggerLevel: Logger.Level {
        switch self {
        case .debug: return .debug
        case .info: return .info
        case .notice: return .notice
        case .warning: return .warning
        case .err: return .error
        case .crit, .alert, .emerg: return .critical
        }
    }
}

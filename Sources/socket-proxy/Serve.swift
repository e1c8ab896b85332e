// `socket-proxy serve`: read the settings, start the proxy, tell systemd, and run until a signal says stop.
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
            with DISABLE_IPV6=1 or where IPv6 is unavailable); the container image listens on *:2375. Under \
            systemd socket activation the passed sockets are used instead.

            Signals: SIGTERM and SIGINT stop accepting, end streams and tunnels, let running requests finish \
            within --grace-period, and exit. SIGHUP reloads the policy (the environment file and the process \
            environment, with the command-line switches still winning) without dropping connections; an invalid \
            new configuration is logged and the old one stays.
            """
    )

    @OptionGroup var options: ServeOptions

    func run() throws {
        let target = try options.resolvedLogTarget()
        LoggingSystem.bootstrap { label in
            switch target {
            case .journald:
                var handler = JournalLogHandler(label: label)
                handler.logLevel = .trace
                return handler
            case .stderr, .auto:
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = .trace
                return handler
            }
        }
        var logger = Logger(label: "socket-proxy")
        let effective: EffectiveSettings
        do {
            effective = try options.effective(logger: logger)
        } catch let error as ConfigurationError {
            throw ValidationError(error.message)
        }
        logger.logLevel = effective.logLevel.loggerLevel
        for warning in effective.warnings { logger.warning("\(warning)") }

        let policy = PolicySnapshot(
            profiles: effective.profiles, mode: effective.mode, listenerAccess: effective.listenerAccess)
        var configuration = ProxyConfiguration(policy: policy)
        configuration.upstream = .unix(effective.socketPath)
        configuration.listeners = effective.listeners
        configuration.threads = options.threads ?? 0
        configuration.headerTimeout = .seconds(options.headerTimeout)
        configuration.idleTimeout = .seconds(options.idleTimeout)
        configuration.connectTimeout = .seconds(options.connectTimeout)
        configuration.streamIdleTimeout = .seconds(options.streamIdleTimeout)
        configuration.maxConnections = options.maxConnections ?? 0
        configuration.limits = HTTPLimits(
            maxRequestLineBytes: options.maxRequestLine, maxHeadBytes: options.maxHead,
            maxHeaderFields: options.maxHeaderFields)

        Signals.block()
        Self.raiseDescriptorLimit()
        let backend: AuditBackend =
            target == .journald
            ? JournalAuditBackend() : StreamAuditBackend(fd: 2, format: options.logFormat)
        let audit = try AuditWriter(backend: backend, threshold: effective.logLevel)
        let server = ProxyServer(configuration: configuration, audit: audit)
        do {
            try server.start()
        } catch {
            logger.critical("cannot start: \(error)")
            audit.close()
            throw ExitCode(1)
        }
        let addresses = server.listeningAddresses.map(\.description).joined(separator: ", ")
        let profiles = effective.profiles.map(\.name).joined(separator: ", ")
        let summary =
            "listening on \(addresses); Docker socket \(effective.socketPath); policy from \(effective.source) "
            + "(profiles \(profiles)), mode \(effective.mode.rawValue); audit to \(target.rawValue)"
        logger.notice(
            "\(summary)",
            metadata: [
                "listeners": "\(addresses)", "socket_path": "\(effective.socketPath)", "mode": "\(effective.mode.rawValue)",
            ])
        if effective.mode != .enforce {
            logger.warning(
                "mode \(effective.mode.rawValue): every request is let through; denials are only recorded")
        }

        let service = Service(
            server: server, audit: audit, logger: logger, options: options, upstream: configuration.upstream,
            effective: effective, policy: policy)
        service.announceReady()
        // Start-up is over: argument parsing, configuration and the runtime's first scans need no resident pages.
        StartupMemory.trim()
        service.run()
        audit.close()
    }

    /// Lifts the soft descriptor limit to the hard one: each client needs two descriptors, more while data moves.
    static func raiseDescriptorLimit() {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }
}

/// The running service: readiness, status, the watchdog, reload and stop, driven from the main thread.
final class Service {
    let server: ProxyServer
    let audit: AuditWriter
    var logger: Logger
    let options: ServeOptions
    let upstream: SocketAddress
    let notifier = ServiceNotifier()
    private var lastStatus = ""
    private var effective: EffectiveSettings
    private var policy: PolicySnapshot

    init(
        server: ProxyServer, audit: AuditWriter, logger: Logger, options: ServeOptions, upstream: SocketAddress,
        effective: EffectiveSettings, policy: PolicySnapshot
    ) {
        self.server = server
        self.audit = audit
        self.logger = logger
        self.options = options
        self.upstream = upstream
        self.effective = effective
        self.policy = policy
    }

    /// `READY=1` once the daemon answers `/_ping`, or after `--ready-timeout` with a status saying it does not.
    func announceReady() {
        let deadline = Linux.monotonicNanoseconds() + UInt64(max(options.readyTimeout, 0) * 1e9)
        while true {
            if case .success(let answer) = PingProbe.ping(upstream, timeout: .seconds(1)), answer.status == 200 {
                notifier.ready(status: statusLine())
                return
            }
            if Linux.monotonicNanoseconds() >= deadline { break }
            usleep(100_000)
        }
        let message = "the Docker daemon at \(upstream) is not reachable yet; serving anyway (requests get 502)"
        logger.warning("\(message)")
        notifier.ready(status: message)
    }

    /// Waits for signals; between them, reports status and pets the watchdog.
    func run() {
        let watchdog = notifier.watchdogInterval
        let tick: Duration = watchdog.map { min($0 / 2, .seconds(5)) } ?? .seconds(5)
        while true {
            let signal = Signals.wait(timeout: tick)
            switch signal {
            case SIGTERM, SIGINT:
                stop()
                return
            case SIGHUP:
                reload()
            case SIGUSR1:
                printLearned()
            default:
                break
            }
            if watchdog != nil, server.heartbeat() { notifier.watchdog() }
            let status = statusLine()
            if status != lastStatus {
                notifier.status(status)
                lastStatus = status
            }
        }
    }

    private func stop() {
        notifier.stopping()
        logger.notice("stopping: ending streams, letting running requests finish for up to \(options.gracePeriod) s")
        server.shutdown(gracePeriod: .seconds(options.gracePeriod))
        server.wait()
        if policy.learner != nil { printLearned() }
        logger.notice("stopped")
    }

    /// Learn mode: the smallest policy allowing what was seen, on standard output.
    private func printLearned() {
        guard let learner = policy.learner else {
            if policy.mode != .learn { logger.notice("SIGUSR1: nothing to print outside learn mode") }
            return
        }
        var text = learner.report().text
        text.withUTF8 { bytes in _ = write(1, bytes.baseAddress, bytes.count) }
        logger.notice("learn mode: printed the policy for \(learner.requestCount) requests on standard output")
    }

    private func reload() {
        notifier.reloading()
        do {
            let next = try options.effective(logger: logger)
            for warning in next.warnings { logger.warning("\(warning)") }
            if next.socketPath != effective.socketPath {
                logger.warning("the Docker socket changed to \(next.socketPath); that needs a restart, it is not applied")
            }
            let current = Set(effective.listeners.map(\.displayName))
            let wanted = Set(next.listeners.map(\.displayName))
            if current != wanted || next.listeners.map(\.source) != effective.listeners.map(\.source) {
                let names = wanted.sorted().joined(separator: ", ")
                logger.warning(
                    "the listeners changed (\(names)); adding, removing or moving a listener needs a restart. Profiles and client rules of the existing ones are applied")
            }
            let snapshot = PolicySnapshot(
                profiles: next.profiles, mode: next.mode, learner: policy.learner, listenerAccess: next.listenerAccess)
            server.reload(policy: snapshot)
            policy = snapshot
            effective.profiles = next.profiles
            effective.mode = next.mode
            audit.threshold = next.logLevel
            logger.logLevel = next.logLevel.loggerLevel
            logger.notice("reloaded the policy from \(next.source) (mode \(next.mode.rawValue)); new requests use it")
        } catch {
            logger.error("reload refused, the previous policy stays: \(error)")
        }
        notifier.ready(status: statusLine())
    }

    private func statusLine() -> String {
        let counts = server.statistics.snapshot
        return "\(counts.openConnections) connections, \(counts.activeStreams) streams; "
            + "\(counts.allowedRequests) allowed, \(counts.deniedRequests) denied, "
            + "\(counts.malformedRequests) malformed, \(counts.upstreamErrors) daemon errors"
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

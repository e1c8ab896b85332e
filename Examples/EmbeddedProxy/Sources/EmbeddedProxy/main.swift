// A read-only Docker API proxy with one write, built from SocketProxyCore: the profile, the listener and the audit
// sink are all made in code.
//
//   EmbeddedProxy DOCKER_SOCKET [LISTEN_ADDRESS]        e.g. EmbeddedProxy /var/run/docker.sock 127.0.0.1:2376
//
// Clients may list and inspect containers, read their logs and restart them; nothing else reaches the daemon.
// SIGINT or SIGTERM stops it, letting running requests finish for up to five seconds.
import SocketProxyCore

#if canImport(Glibc)
    import Glibc
#endif

/// Prints one line per request on standard output.
///
/// An ``AuditSink`` is called on the event-loop threads, once per request: it must copy what it keeps (the record's
/// bytes are valid only during the call) and must not block for long. A real sink would hand records to a queue;
/// `AuditWriter` does that with a preallocated ring and a writer thread.
final class PrintingAuditSink: AuditSink {
    /// Every record down to debug (the start of streams and tunnels).
    let threshold: AuditPriority = .debug

    func record(_ record: AuditRecord) {
        let event = record.event  // an owned copy, with Strings
        var line = "\(event.decision.rawValue) \(event.method) \(event.path) -> \(event.status)"
        line += " (rule \(event.rule.isEmpty ? "-" : event.rule), client \(event.client))"
        if !event.reason.isEmpty { line += ": \(event.reason)" }
        print(line)
    }
}

/// The policy: read containers, restart them; deny the read endpoints that copy data out. First match wins, and
/// anything no rule allows is denied.
func makeProfile() throws(ConfigurationError) -> Profile {
    func path(_ text: String) throws(ConfigurationError) -> PathTemplate { try PathTemplate(parsing: text) }
    return Profile(
        name: "embedded",
        rules: [
            Rule(name: "ping", methods: .read, path: try path("/_ping"), action: .allow),
            Rule(name: "version", methods: .read, path: try path("/version"), action: .allow),
            // {id+} matches names with slashes too, as the daemon routes /containers/{name:.*}/archive.
            Rule(
                name: "no-archive", methods: .all, path: try path("/containers/{id+}/archive"), action: .deny,
                reason: "copying files out of containers is not allowed here"),
            Rule(
                name: "no-export", methods: .all, path: try path("/containers/{id+}/export"), action: .deny,
                reason: "exporting containers is not allowed here"),
            Rule(name: "read-containers", methods: .read, path: try path("/containers/{rest...}"), action: .allow),
            // The one write: a restart, with at most a timeout in the query (no signal).
            Rule(
                name: "restart", methods: .post, path: try path("/containers/{id}/restart"), action: .allow,
                query: [QueryConstraint(name: "signal", .absent)]),
        ])
}

let arguments = CommandLine.arguments
guard arguments.count == 2 || arguments.count == 3 else {
    print("usage: EmbeddedProxy DOCKER_SOCKET [LISTEN_ADDRESS]   (default 127.0.0.1:2376)")
    exit(2)
}

do {
    // Signals are taken synchronously below; block them before the loop threads start so that they inherit the
    // mask. SIGPIPE is ignored: splice(2) to a client that went away raises it, and the relay handles EPIPE.
    var stopSignals = sigset_t()
    sigemptyset(&stopSignals)
    sigaddset(&stopSignals, SIGINT)
    sigaddset(&stopSignals, SIGTERM)
    pthread_sigmask(SIG_BLOCK, &stopSignals, nil)
    signal(SIGPIPE, SIG_IGN)

    var configuration = ProxyConfiguration(policy: PolicySnapshot(profile: try makeProfile()))
    configuration.upstream = .unix(arguments[1])
    configuration.listeners = [
        ListenerConfiguration(
            source: .address(try SocketAddress(parsing: arguments.count == 3 ? arguments[2] : "127.0.0.1:2376")))
    ]
    configuration.threads = 1

    let server = ProxyServer(configuration: configuration, audit: PrintingAuditSink())
    try server.start()
    print(
        "EmbeddedProxy: listening on \(server.listeningAddresses.map(\.description).joined(separator: ", ")), "
            + "Docker socket \(arguments[1]), profile embedded")

    var received: Int32 = 0
    sigwait(&stopSignals, &received)
    print("EmbeddedProxy: signal \(received), stopping")
    server.shutdown(gracePeriod: .seconds(5))
    server.wait()
} catch {
    print("EmbeddedProxy: \(error)")
    exit(1)
}

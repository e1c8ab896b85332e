// An in-process proxy for the relay tests: one loop thread on 127.0.0.1, an audit sink that keeps every record.
import Foundation
import Synchronization

@testable import SocketProxyCore

/// Keeps every audit record, so a test can check there is exactly one per request.
final class CollectingAuditSink: AuditSink {
    let threshold: AuditPriority = .debug
    private let events = Mutex<[AuditEvent]>([])

    func record(_ record: AuditRecord) {
        let event = record.event
        events.withLock { $0.append(event) }
    }

    /// Every record, start records of streams included.
    var all: [AuditEvent] { events.withLock { $0 } }

    /// The end-of-request records.
    var records: [AuditEvent] { all.filter { $0.phase == .end } }

    /// Waits until there are `count` end records, then a moment more so that an extra record would show, and
    /// returns them all.
    func waitForRecords(_ count: Int, timeout: Duration = .seconds(5)) -> [AuditEvent] {
        _ = eventually(timeout: timeout) { records.count >= count }
        Thread.sleep(forTimeInterval: 0.02)
        return records
    }
}

extension Profile {
    /// The policy of the relay tests: `/_ping` and `/events` to read, everything under `/containers` and `/exec`;
    /// anything else (`/secrets`, `/images/create`) is denied by default.
    static let relayTests: Profile = {
        func rule(_ name: String, _ methods: MethodSet, _ path: String) -> Rule {
            Rule(name: name, methods: methods, path: try! PathTemplate(parsing: path), action: .allow)
        }
        return Profile(
            name: "relay-tests",
            rules: [
                rule("PING", .read, "/_ping"),
                rule("EVENTS", .read, "/events"),
                rule("CONTAINERS", .all, "/containers/{rest...}"),
                rule("EXEC", .all, "/exec/{rest...}"),
            ])
    }()
}

/// A running ``ProxyServer`` with one event loop, listening on 127.0.0.1 on a port the kernel picked.
final class TestProxy: Sendable {
    let server: ProxyServer
    let audit = CollectingAuditSink()
    let port: UInt16
    private let stopped = Mutex(false)

    /// Starts a proxy in front of the Unix socket at `upstream`; `configure` adjusts the configuration first.
    init(
        upstream: String, profile: Profile = .relayTests,
        configure: (inout ProxyConfiguration) -> Void = { _ in }
    ) throws {
        var configuration = ProxyConfiguration(policy: PolicySnapshot(profile: profile))
        configuration.upstream = .unix(upstream)
        configuration.listeners = [ListenerConfiguration(source: .address(try SocketAddress(parsing: "127.0.0.1:0")))]
        configuration.threads = 1
        configure(&configuration)
        server = ProxyServer(configuration: configuration, audit: audit)
        try server.start()
        guard let port = server.listeningAddresses.first?.port, port != 0 else {
            server.shutdown(gracePeriod: .zero)
            server.wait()
            throw TestFailure("the proxy reports no bound port: \(server.listeningAddresses)")
        }
        self.port = port
    }

    /// A new client connection.
    func connect(receiveBuffer: Int32? = nil) throws -> StreamSocket {
        try StreamSocket.connect(port: port, receiveBuffer: receiveBuffer)
    }

    /// Runs `body` on the proxy's loop thread and waits for it (a barrier: everything queued before has run).
    func onLoop(_ body: @escaping @Sendable () -> Void = {}) {
        let done = DispatchSemaphore(value: 0)
        for loop in server.loops {
            loop.execute {
                body()
                done.signal()
            }
        }
        for _ in server.loops { done.wait() }
    }

    /// Keeps the loop thread busy for `duration` and returns once it is: whatever arrives meanwhile is reported
    /// by one event when the loop resumes (data and an end of stream together, say).
    func holdLoop(for duration: Duration) {
        let holding = DispatchSemaphore(value: 0)
        for loop in server.loops {
            loop.execute {
                holding.signal()
                Thread.sleep(forTimeInterval: Double(duration / .milliseconds(1)) / 1000)
            }
        }
        for _ in server.loops { holding.wait() }
    }

    /// Shuts down (at once unless a grace period is given) and waits for the loop thread; only the first call does
    /// anything, so a test may stop the proxy itself.
    func stop(gracePeriod: Duration = .zero) {
        guard
            !stopped.withLock({ was in
                defer { was = true }; return was
            })
        else { return }
        server.shutdown(gracePeriod: gracePeriod)
        server.wait()
    }

    /// The proxy's counters.
    var statistics: ProxyStatistics.Snapshot { server.statistics.snapshot }
}

/// Runs `body` with a fake daemon following `script` and a proxy in front of it; stops both afterwards.
func withRelay(
    profile: Profile = .relayTests, configure: (inout ProxyConfiguration) -> Void = { _ in },
    script: @escaping FakeUpstream.Script, _ body: (TestProxy, FakeUpstream) throws -> Void
) throws {
    let upstream = try FakeUpstream(script: script)
    defer { upstream.stop() }
    let proxy = try TestProxy(upstream: upstream.path, profile: profile, configure: configure)
    defer { proxy.stop() }
    try body(proxy, upstream)
}

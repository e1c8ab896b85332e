// The journal failing under the proxy: systemd-journald killed, and frozen. Requests go on at full speed, audit
// records that cannot be written are dropped and counted, and a warning says how many; nothing is lost without
// being counted, and nothing the proxy does waits for the journal.
//
// How: a real systemd-journald of the test's own (PrivateJournal), in a private mount namespace where the
// journal's fixed paths (/run/systemd/journal, /run/log/journal) are the test's folders; the proxy is started in
// that namespace with `--log-target journald`. libsystemd finds the journal there exactly as it would on a host,
// and the machine's journald (which the other audit tests read) is never touched. The alternative, an AuditWriter
// unit test with a fake backend, cannot show what libsystemd does when the socket refuses, blocks or is gone.
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension FaultTests {
    @Suite("journald fails")
    struct JournalFailures {
        /// The number of records each "N audit records were dropped" warning of `pid` reports.
        static func droppedCounts(_ entries: [JournalEntry]) -> [Int] {
            entries.compactMap { entry -> Int? in
                guard let message = entry["MESSAGE"], message.contains("audit records were dropped") else { return nil }
                let digits = message.drop { !$0.isNumber }.prefix { $0.isNumber }
                return Int(digits)
            }
        }

        /// `GET path` on a fresh connection; the status and how long it took.
        static func timedStatus(_ proxy: ProxyProcess, _ path: String) async throws -> (Int, Duration) {
            let clock = ContinuousClock()
            let started = clock.now
            let connection = try proxy.connect()
            defer { connection.close() }
            try await connection.send(RawRequest.make("GET", path, headers: [("Connection", "close")]))
            let exchange = try await connection.readResponses(count: 1, timeout: .seconds(10))
            return (exchange.responses.first?.status ?? 0, clock.now - started)
        }

        /// Sends `count` denied requests, pipelined `depth` at a time on `connections` keep-alive connections; returns
        /// how many got 403 and the slowest batch.
        static func deniedBurst(_ proxy: ProxyProcess, path: String, count: Int, connections: Int = 4, depth: Int = 50)
            async throws -> (denied: Int, slowest: Duration)
        {
            let perConnection = count / connections
            return try await withThrowingTaskGroup(of: (Int, Duration).self) { group in
                for _ in 0..<connections {
                    group.addTask {
                        let connection = try proxy.connect()
                        defer { connection.close() }
                        var denied = 0
                        var slowest = Duration.zero
                        var sent = 0
                        let clock = ContinuousClock()
                        while sent < perConnection {
                            let batch = min(depth, perConnection - sent)
                            let started = clock.now
                            try await connection.send(
                                String(repeating: RawRequest.make("GET", path), count: batch))
                            let exchange = try await connection.readResponses(count: batch, timeout: .seconds(10))
                            slowest = max(slowest, clock.now - started)
                            denied += exchange.responses.filter { $0.status == 403 }.count
                            guard exchange.responses.count == batch else { break }
                            sent += batch
                        }
                        return (denied, slowest)
                    }
                }
                var total = 0
                var slowest = Duration.zero
                for try await (denied, slow) in group {
                    total += denied
                    slowest = max(slowest, slow)
                }
                return (total, slowest)
            }
        }

        @Test(.timeLimit(.minutes(3)))
        func journaldKilledWhileTheProxyRunsCostsNoRequestAndEveryDroppedRecordIsCounted() async throws {
            try await IntegrationContext.run { test in
                try await PrivateJournal.with(test) { journal in
                    let proxy = try await test.startProxy(
                        [:], arguments: ["--log-target", "journald"], launcher: journal.launcher)
                    let pid = "_PID=\(proxy.pid)"
                    for _ in 0..<5 {
                        let (status, _) = try await Self.timedStatus(proxy, "/_ping")
                        try #require(status == 200, "\(proxy.log)")
                    }
                    let written = try await journal.waitForEntries([pid, "SOCKET_PROXY_PATH=/_ping"]) { $0.count >= 5 }
                    try #require(written.count == 5, "the private journal did not get the first records: \(written)")

                    await journal.killJournald()
                    // While the journal is gone, over more than the 10 s between drop warnings.
                    let away = 40
                    var slowest = Duration.zero
                    var statuses: [Int: Int] = [:]
                    for _ in 0..<away {
                        let (status, took) = try await Self.timedStatus(proxy, "/_ping")
                        statuses[status, default: 0] += 1
                        slowest = max(slowest, took)
                        try await Task.sleep(for: .milliseconds(300))
                    }
                    #expect(statuses == [200: away], "\(statuses)\n\(proxy.log)")
                    #expect(slowest < .seconds(1), "a request took \(slowest) while the journal was gone")
                    #expect(proxy.isRunning, "the proxy died when the journal went away:\n\(proxy.log)")

                    try await journal.startJournald()
                    let (status, _) = try await Self.timedStatus(proxy, "/version")
                    #expect(status == 200)
                    // The drop warnings come at most every 10 s; wait for enough of them to account for every record
                    // the proxy could not write, or until it is clear they never will.
                    let entries = try await journal.waitForEntries([pid], timeout: .seconds(25)) { entries in
                        Self.droppedCounts(entries).reduce(0, +) >= away
                            && entries.contains { $0.audit("PATH") == "/version" }
                    }
                    let reported = Self.droppedCounts(entries)
                    let pings = entries.filter { $0.audit("PATH") == "/_ping" }.count
                    #expect(entries.contains { $0.audit("PATH") == "/version" }, "no record after journald came back")
                    #expect(pings == 5, "records written while the journal was gone: \(pings - 5)")
                    // Every record the proxy dropped is in a warning (in the journal once it is back, or on stderr).
                    let onStderr = proxy.log.split(separator: "\n").filter { $0.contains("audit records were dropped") }
                    let stderrCounts = onStderr.compactMap { line in
                        Int(line.drop { !$0.isNumber }.prefix { $0.isNumber })
                    }
                    let lost =
                        "\(away) audit records were dropped while journald was away, but the warnings report "
                        + "\(reported) in the journal and \(stderrCounts) on stderr: the warnings sent while the "
                        + "journal was gone were lost, and their counts with them (AuditWriter.run resets "
                        + "`unreported` even when backend.notice could not deliver it)"
                    #expect(reported.reduce(0, +) + stderrCounts.reduce(0, +) >= away, "\(lost)")
                }
            }
        }

        @Test(.timeLimit(.minutes(2)))
        func journaldGoneWithItsSocketFileLosesNoRecordWithoutCountingIt() async throws {
            try await IntegrationContext.run { test in
                try await PrivateJournal.with(test) { journal in
                    let proxy = try await test.startProxy(
                        [:], arguments: ["--log-target", "journald"], launcher: journal.launcher)
                    let pid = "_PID=\(proxy.pid)"
                    let (first, _) = try await Self.timedStatus(proxy, "/_ping")
                    try #require(first == 200)
                    _ = try await journal.waitForEntries([pid, "SOCKET_PROXY_PATH=/_ping"]) { !$0.isEmpty }

                    // journald gone and its socket file with it (as when /run/systemd/journal is cleaned up or
                    // the socket was never bind-mounted into a container): sending fails with ENOENT.
                    await journal.killJournald()
                    unlink(journal.socketPath)
                    let away = 20
                    for _ in 0..<away {
                        let (status, _) = try await Self.timedStatus(proxy, "/_ping")
                        #expect(status == 200)
                        try await Task.sleep(for: .milliseconds(200))
                    }
                    try await journal.startJournald()
                    let (status, _) = try await Self.timedStatus(proxy, "/version")
                    #expect(status == 200)
                    let entries = try await journal.waitForEntries([pid], timeout: .seconds(15)) { entries in
                        Self.droppedCounts(entries).reduce(0, +) >= away
                    }
                    let pings = entries.filter { $0.audit("PATH") == "/_ping" }.count - 1
                    let reported = Self.droppedCounts(entries).reduce(0, +)
                    let onStderr = proxy.log.contains("audit records were dropped")
                    let silent =
                        "\(away) audit records were made while the journal socket did not exist: \(pings) reached "
                        + "the journal, warnings report \(reported) dropped, stderr \(onStderr ? "has" : "has no") "
                        + "warning. sd_journal_sendv returns 0 when the socket is missing (\"fail silently if the "
                        + "journal is not available\"), so JournalAuditBackend.write reports them written"
                    #expect(pings + reported >= away || onStderr, "\(silent)")
                }
            }
        }

        @Test(.timeLimit(.minutes(3)))
        func aFrozenJournaldDelaysNoRequestAndEveryRecordIsWrittenOrCounted() async throws {
            try await IntegrationContext.run { test in
                try await PrivateJournal.with(test) { journal in
                    let proxy = try await test.startProxy(
                        [:], arguments: ["--log-target", "journald"], launcher: journal.launcher)
                    let pid = "_PID=\(proxy.pid)"
                    let version = test.daemon.version.apiVersion
                    let path = "/v\(version)/secrets"
                    let (first, _) = try await Self.timedStatus(proxy, "/_ping")
                    try #require(first == 200)
                    _ = try await journal.waitForEntries([pid, "SOCKET_PROXY_PATH=/_ping"]) { !$0.isEmpty }

                    journal.freezeJournald()
                    // Far more records than the journal socket's queue and the proxy's ring (16,384) hold.
                    let count = 24_000
                    let clock = ContinuousClock()
                    let started = clock.now
                    let (denied, slowest) = try await Self.deniedBurst(proxy, path: path, count: count)
                    let took = clock.now - started
                    let (ping, pingTime) = try await Self.timedStatus(proxy, "/_ping")
                    #expect(denied == count, "\(denied) of \(count) denied requests were answered 403")
                    #expect(slowest < .seconds(1), "a batch of 50 pipelined requests took \(slowest), journald frozen")
                    #expect(
                        ping == 200 && pingTime < .milliseconds(500), "ping \(ping) took \(pingTime), journald frozen")
                    #expect(proxy.isRunning)

                    journal.thawJournald()
                    // Every audit record made while journald was frozen (the denials and the one ping) is either in
                    // the journal or counted in a drop warning; the first ping's record was written before.
                    let made = count + 1
                    func accounted(_ entries: [JournalEntry]) -> (written: Int, dropped: Int) {
                        let records = entries.filter { $0.audit("REQUEST_ID") != nil }.count - 1
                        return (records, Self.droppedCounts(entries).reduce(0, +))
                    }
                    let entries = try await journal.waitForEntries([pid], timeout: .seconds(30)) { entries in
                        let (written, dropped) = accounted(entries)
                        return written + dropped >= made
                    }
                    let (written, dropped) = accounted(entries)
                    let denials = entries.filter { $0.audit("PATH") == path }.count
                    #expect(dropped > 0, "with journald frozen the ring must overflow: \(written) written")
                    #expect(
                        written + dropped == made,
                        "\(made) audit records: \(written) written (\(denials) denials), \(dropped) reported dropped"
                    )
                    print(
                        "frozen journald: \(count) denied requests in \(took), slowest batch \(slowest); "
                            + "\(written) records written, \(dropped) dropped and counted")
                }
            }
        }

        @Test(.timeLimit(.minutes(2)))
        func aProxyStopsWithinItsGracePeriodEvenWhenJournaldIsFrozen() async throws {
            try await IntegrationContext.run { test in
                try await PrivateJournal.with(test) { journal in
                    let proxy = try await test.startProxy(
                        [:], arguments: ["--log-target", "journald", "--grace-period", "2"], launcher: journal.launcher)
                    let path = "/v\(test.daemon.version.apiVersion)/secrets"
                    journal.freezeJournald()
                    // Enough records to fill the frozen journal's socket queue: from now on a send to it blocks.
                    let (denied, _) = try await Self.deniedBurst(proxy, path: path, count: 400)
                    #expect(denied == 400)
                    // The audit writer wakes every 50 ms: give it time to fill the queue and block on it.
                    try await Task.sleep(for: .milliseconds(500))

                    let clock = ContinuousClock()
                    let signalled = clock.now
                    proxy.signal(SIGTERM)
                    let exited = await proxy.waitForExit(timeout: .seconds(8))
                    let took = clock.now - signalled
                    journal.thawJournald()
                    let late = exited ? false : await proxy.waitForExit(timeout: .seconds(10))
                    let hung =
                        "SIGTERM with journald frozen: the proxy had not exited after \(took) (grace period 2 s)"
                        + (late
                            ? "; it exited only once journald ran again: the main thread blocks in "
                                + "JournalLogHandler.log -> sd_journal_sendv on the full journal socket" : "")
                    #expect(exited, "\(hung)")
                }
            }
        }
    }
}

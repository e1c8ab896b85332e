// The audit trail in the real systemd journal: one end record per request with every SOCKET_PROXY_* field, read
// back with journalctl; a debug start record for a hijacked `docker exec`; and the operational messages of
// swift-log with their logger label and source file.
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

// Serialized: every test starts a proxy, and the whole integration run starts them all at once otherwise; on two
// cores that many proxies and docker CLIs starting together miss the harness's 10 s start-up limit.
@Suite("Audit records in the systemd journal", .serialized)
struct AuditJournalTests {
    /// Starts a proxy that audits to the journal, after checking that there is a journal.
    static func startJournaledProxy(_ test: IntegrationContext, _ policy: [String: String]) async throws
        -> ProxyProcess
    {
        try Journal.requireRunning()
        return try await test.startProxy(policy, arguments: ["--log-target", "journald"])
    }

    /// The end records of one proxy, once there are at least `count` of them and no more arrive for a moment.
    static func endRecords(of proxy: ProxyProcess, since: Date, count: Int) async throws -> [JournalEntry] {
        let matches = ["_PID=\(proxy.pid)", "SOCKET_PROXY_PHASE=end"]
        _ = try await Journal.waitForEntries(matches, since: since) { $0.count >= count }
        // A second reading after a pause, so that a duplicate record written late is seen too.
        try await Task.sleep(for: .milliseconds(300))
        return try await Journal.entries(matches, since: since)
    }

    /// The one record whose query is `query`; records an issue and returns nil when there is not exactly one.
    static func record(_ records: [JournalEntry], query: String, sourceLocation: SourceLocation = #_sourceLocation)
        -> JournalEntry?
    {
        let matching = records.filter { $0.audit("QUERY") == query }
        #expect(matching.count == 1, "records with QUERY=\(query):\n\(records)", sourceLocation: sourceLocation)
        return matching.count == 1 ? matching[0] : nil
    }

    @Test func everyRequestHasExactlyOneEndRecordWithItsFields() async throws {
        try await IntegrationContext.run { test in
            let since = Date()
            let proxy = try await Self.startJournaledProxy(test, ["CONTAINERS": "1"])
            let version = test.daemon.version.apiVersion
            let close = [("Connection", "close")]
            let allowed = try await proxy.send([
                RawRequest.make("GET", "/v\(version)/containers/json?all=1&m=\(test.tag)-a", headers: close)
            ])
            let denied = try await proxy.send([
                RawRequest.make("GET", "/v\(version)/images/json?m=\(test.tag)-b", headers: close)
            ])
            // An allowed request with a denied one right behind it in the same write, on a keep-alive connection.
            let pipelined = try await proxy.send(
                [
                    RawRequest.make("GET", "/_ping?m=\(test.tag)-c1"),
                    RawRequest.make("GET", "/v\(version)/volumes?m=\(test.tag)-c2"),
                ], waitForClose: false)
            #expect(allowed.responses.map(\.status) == [200], "\(allowed)")
            #expect(denied.responses.map(\.status) == [403], "\(denied)")
            #expect(pipelined.responses.map(\.status) == [200, 403], "\(pipelined)")

            let records = try await Self.endRecords(of: proxy, since: since, count: 4)
            #expect(records.count == 4, "one end record per request, got:\n\(records)")
            let ids = records.compactMap { $0.audit("REQUEST_ID").flatMap { UInt64($0) } }
            #expect(ids.count == 4 && Set(ids).count == 4 && !ids.contains(0), "request IDs \(ids)")

            // Fields every record has.
            for record in records {
                #expect(record["SYSLOG_IDENTIFIER"] == "socket-proxy", "\(record)")
                #expect(record["_PID"] == String(proxy.pid), "\(record)")
                #expect(record.audit("PHASE") == "end", "\(record)")
                #expect(record.audit("METHOD") == "GET", "\(record)")
                #expect(record.audit("LISTENER") == "127.0.0.1:\(proxy.port)", "\(record)")
                #expect(record.audit("CLIENT_ADDRESS") == "127.0.0.1", "\(record)")
                let message = record["MESSAGE"] ?? ""
                #expect(!message.isEmpty && !message.contains("\n"), "MESSAGE is not one line: \(record)")
                let duration = record.integer("SOCKET_PROXY_DURATION_US") ?? -1
                #expect(duration >= 0 && duration < 10_000_000, "\(record)")
            }

            if let record = Self.record(records, query: "all=1&m=\(test.tag)-a") {
                #expect(record.audit("DECISION") == "allow")
                #expect(record["PRIORITY"] == "6")
                #expect(record.audit("PATH") == "/v\(version)/containers/json")
                #expect(record.audit("API_VERSION") == version)
                #expect(record.audit("SECTION") == "containers")
                #expect(record.audit("RULE") == "CONTAINERS")
                #expect(record.audit("PROFILE") == "tecnativa", "\(record)")

                #expect(record.audit("STATUS") == "200")
                #expect(record.audit("REASON") == nil, "an allowed request has no reason: \(record)")
                #expect(record.audit("CLIENT_PORT") == String(allowed.clientPort))
                #expect(record.integer("SOCKET_PROXY_BYTES_IN") == allowed.requestBytes[0])
                #expect(record.integer("SOCKET_PROXY_BYTES_OUT") == allowed.receivedBytes)
                #expect((record.integer("SOCKET_PROXY_DURATION_US") ?? 0) > 0, "the daemon answered in 0 us: \(record)")
                let duration = record.audit("DURATION_US") ?? "?"
                #expect(
                    record["MESSAGE"]
                        == "allow GET /v\(version)/containers/json?all=1&m=\(test.tag)-a -> 200 "
                        + "(rule CONTAINERS, client 127.0.0.1:\(allowed.clientPort), \(duration) us)")
            }

            if let record = Self.record(records, query: "m=\(test.tag)-b") {
                let reason = denied.responses.first?.jsonObject?["message"] as? String
                #expect(record.audit("DECISION") == "deny")
                #expect(record["PRIORITY"] == "4")
                #expect(record.audit("PATH") == "/v\(version)/images/json")
                #expect(record.audit("API_VERSION") == version)
                #expect(record.audit("SECTION") == "images")
                #expect(record.audit("RULE") == "IMAGES-off")
                #expect(record.audit("STATUS") == "403")
                // Docs/audit.md: REASON is why ("the images section is off (IMAGES=0)"), the end of what the client
                // was told, without the "socket-proxy: GET /path is denied: " the client's message starts with.
                let recorded = record.audit("REASON") ?? ""
                #expect(!recorded.isEmpty && reason?.hasSuffix(recorded) == true, "client was told: \(reason ?? "-")")
                #expect(!recorded.hasPrefix("socket-proxy: "), "\(recorded)")

                #expect(record.audit("CLIENT_PORT") == String(denied.clientPort))
                #expect(record.audit("BYTES_IN") == "0", "a denied request reached the daemon: \(record)")
                #expect(record.integer("SOCKET_PROXY_BYTES_OUT") == denied.receivedBytes)
                let duration = record.audit("DURATION_US") ?? "?"
                #expect(
                    record["MESSAGE"]
                        == "deny GET /v\(version)/images/json?m=\(test.tag)-b -> 403 "
                        + "(rule IMAGES-off, client 127.0.0.1:\(denied.clientPort), \(duration) us): \(recorded)")
            }

            let ping = Self.record(records, query: "m=\(test.tag)-c1")
            let volumes = Self.record(records, query: "m=\(test.tag)-c2")
            if let ping, let volumes {
                #expect(ping.audit("DECISION") == "allow")
                #expect(ping["PRIORITY"] == "6")
                #expect(ping.audit("PATH") == "/_ping")
                #expect(ping.audit("API_VERSION") == nil, "/_ping has no version prefix: \(ping)")
                #expect(ping.audit("SECTION") == "_ping")
                #expect(ping.audit("RULE") == "PING")
                #expect(ping.audit("STATUS") == "200")
                #expect(ping.integer("SOCKET_PROXY_BYTES_IN") == pipelined.requestBytes[0], "only its own bytes")
                #expect(volumes.audit("DECISION") == "deny")
                #expect(volumes["PRIORITY"] == "4")
                #expect(volumes.audit("PATH") == "/v\(version)/volumes")
                #expect(volumes.audit("SECTION") == "volumes")
                #expect(volumes.audit("RULE") == "VOLUMES-off")
                #expect(volumes.audit("STATUS") == "403")
                #expect(volumes.audit("BYTES_IN") == "0", "the pipelined denied request reached the daemon")
                for record in [ping, volumes] {
                    #expect(record.audit("CLIENT_PORT") == String(pipelined.clientPort), "\(record)")
                }
                let bytesOut =
                    (ping.integer("SOCKET_PROXY_BYTES_OUT") ?? 0) + (volumes.integer("SOCKET_PROXY_BYTES_OUT") ?? 0)
                #expect(bytesOut == pipelined.receivedBytes, "\(ping)\n\(volumes)\n\(pipelined)")
                let first = ping.integer("SOCKET_PROXY_REQUEST_ID") ?? 0
                let second = volumes.integer("SOCKET_PROXY_REQUEST_ID") ?? 0
                #expect(second > first, "request IDs must increase in the order requests arrive")
            }
        }
    }

    @Test func malformedRequestsAreRecordedAsWarningsWithTheirStatus() async throws {
        try await IntegrationContext.run { test in
            let since = Date()
            let proxy = try await Self.startJournaledProxy(test, ["CONTAINERS": "1"])
            let version = test.daemon.version.apiVersion
            let notHTTP = try await proxy.send(["THIS IS NOT HTTP\r\n\r\n"])
            let badPath = try await proxy.send([
                RawRequest.make("GET", "/v\(version)/containers%0D%0A%1b/json?m=\(test.tag)-e")
            ])
            #expect(notHTTP.responses.map(\.status) == [400], "\(notHTTP)")
            #expect(badPath.responses.map(\.status) == [400], "\(badPath)")

            let records = try await Self.endRecords(of: proxy, since: since, count: 2)
            #expect(records.count == 2, "one end record per request, got:\n\(records)")
            for record in records {
                #expect(record.audit("DECISION") == "malformed", "\(record)")
                #expect(record["PRIORITY"] == "4", "\(record)")
                #expect(record.audit("STATUS") == "400", "\(record)")
                #expect(record.audit("BYTES_IN") == "0", "\(record)")
                #expect(record.audit("LISTENER") == "127.0.0.1:\(proxy.port)", "\(record)")
                #expect(record.audit("REASON")?.isEmpty == false, "\(record)")
                #expect(record["MESSAGE"]?.contains("\n") == false, "\(record)")
            }
            if let record = records.first(where: { $0.audit("CLIENT_PORT") == String(notHTTP.clientPort) }) {
                #expect(record.integer("SOCKET_PROXY_BYTES_OUT") == notHTTP.receivedBytes)
                #expect((record.audit("METHOD") ?? "").isEmpty && (record.audit("PATH") ?? "").isEmpty, "\(record)")
                #expect(
                    record["MESSAGE"]?.hasPrefix("malformed - - -> 400 (client 127.0.0.1:\(notHTTP.clientPort), ")
                        == true)
                #expect((record.integer("SOCKET_PROXY_REQUEST_ID") ?? 0) > 0, "\(record)")

            } else {
                Issue.record("no record for client port \(notHTTP.clientPort):\n\(records)")
            }
            if let record = records.first(where: { $0.audit("CLIENT_PORT") == String(badPath.clientPort) }) {
                #expect(record.audit("QUERY") == "m=\(test.tag)-e", "\(record)")

                #expect(record.audit("METHOD") == "GET")
                #expect(
                    record.audit("PATH") == "/v\(version)/containers%0D%0A%1b/json", "logged as sent, still encoded")
                #expect(record.integer("SOCKET_PROXY_BYTES_OUT") == badPath.receivedBytes)
                #expect((record.integer("SOCKET_PROXY_REQUEST_ID") ?? 0) > 0, "\(record)")
            } else {
                Issue.record("no record for client port \(badPath.clientPort):\n\(records)")
            }
        }
    }

    @Test func journalctlFiltersFindExactlyTheDeniedRequests() async throws {
        try await IntegrationContext.run { test in
            let since = Date()
            let proxy = try await Self.startJournaledProxy(test, ["CONTAINERS": "1"])
            let version = test.daemon.version.apiVersion
            let close = [("Connection", "close")]
            var deniedQueries: [String] = []
            for (index, path) in ["/containers/json", "/images/json", "/_ping", "/networks", "/version", "/volumes"]
                .enumerated()
            {
                let query = "m=\(test.tag)-\(index)"
                let sent = try await proxy.send([RawRequest.make("GET", "/v\(version)\(path)?\(query)", headers: close)]
                )
                if sent.responses.first?.status == 403 { deniedQueries.append(query) }
            }
            #expect(deniedQueries == ["m=\(test.tag)-1", "m=\(test.tag)-3", "m=\(test.tag)-5"])
            _ = try await Self.endRecords(of: proxy, since: since, count: 6)
            let denied = try await Journal.entries(
                ["-t", "socket-proxy", "SOCKET_PROXY_DECISION=deny", "_PID=\(proxy.pid)"], since: since)
            #expect(denied.compactMap { $0.audit("QUERY") }.sorted() == deniedQueries, "\(denied)")
            #expect(denied.allSatisfy { $0["PRIORITY"] == "4" && $0.audit("STATUS") == "403" }, "\(denied)")
        }
    }

    @Test func aHijackedDockerExecHasADebugStartRecordAndOneUpgradedEndRecord() async throws {
        try await IntegrationContext.run { test in
            let container = try await test.runContainer("exec", ["sleep", "60"])
            let since = Date()
            let proxy = try await Self.startJournaledProxy(
                test, ["CONTAINERS": "1", "POST": "1", "EXEC": "1", "LOG_LEVEL": "debug"])
            let output = "exec-\(test.tag)"
            let exec = try await proxy.docker.run(["exec", container, "echo", output], timeout: .seconds(30))
            #expect(exec.succeeded, "\(exec)")
            #expect(exec.stdout == output + "\n", "\(exec)")

            func isExecStart(_ entry: JournalEntry) -> Bool {
                let path = entry.audit("PATH") ?? ""
                return path.contains("/exec/") && path.hasSuffix("/start")
            }
            let matches = ["_PID=\(proxy.pid)", "SYSLOG_IDENTIFIER=socket-proxy"]
            _ = try await Journal.waitForEntries(matches, since: since) { entries in
                entries.contains { isExecStart($0) && $0.audit("PHASE") == "end" }
            }
            try await Task.sleep(for: .milliseconds(300))
            let records = try await Journal.entries(matches, since: since).filter { $0.audit("PHASE") != nil }
            let starts = records.filter { isExecStart($0) && $0.audit("PHASE") == "start" }
            let ends = records.filter { isExecStart($0) && $0.audit("PHASE") == "end" }
            try #require(starts.count == 1 && ends.count == 1, "the exec start records:\n\(records)")
            let start = starts[0]
            let end = ends[0]
            #expect(start["PRIORITY"] == "7", "\(start)")
            #expect(start.audit("DECISION") == "allow", "\(start)")
            #expect(start.audit("METHOD") == "POST", "\(start)")
            #expect(start.audit("STATUS") == "101", "\(start)")
            #expect(start["MESSAGE"]?.hasPrefix("start allow POST /") == true, "\(start)")
            #expect(end["PRIORITY"] == "6", "\(end)")
            #expect(end.audit("DECISION") == "allow", "\(end)")
            #expect(end.audit("SECTION") == "exec", "\(end)")
            #expect(end.audit("STATUS") == "101", "\(end)")
            #expect(end.audit("UPGRADED") == "1", "\(end)")
            #expect(end.audit("REQUEST_ID") == start.audit("REQUEST_ID"), "start \(start)\nend \(end)")
            #expect((end.integer("SOCKET_PROXY_BYTES_IN") ?? 0) > 0, "\(end)")
            // The 101 head, then the multiplexed stream: an 8-byte frame header and the echoed line.
            #expect((end.integer("SOCKET_PROXY_BYTES_OUT") ?? 0) > 100 + 8 + output.utf8.count, "\(end)")

            // Every request of the CLI (ping, exec create, start, inspect) has exactly one end record, and every
            // start record belongs to one of them.
            let endIDs = records.filter { $0.audit("PHASE") == "end" }.compactMap { $0.audit("REQUEST_ID") }
            #expect(endIDs.count == Set(endIDs).count, "duplicate end records:\n\(records)")
            #expect(endIDs.count >= 3, "\(records)")
            let startIDs = records.filter { $0.audit("PHASE") == "start" }.compactMap { $0.audit("REQUEST_ID") }
            #expect(startIDs == [start.audit("REQUEST_ID") ?? "?"], "only the hijacked request starts a stream")
        }
    }

    @Test func anEventStreamTheClientEndsHasOneEndRecordAndADebugStartRecord() async throws {
        try await IntegrationContext.run { test in
            let since = Date()
            let proxy = try await Self.startJournaledProxy(test, ["LOG_LEVEL": "debug"])
            let events = test.own(
                try proxy.docker.start([
                    "events", "--since", IntegrationContext.timestamp(since.addingTimeInterval(-1)), "--filter",
                    "label=\(test.label)", "--format", "{{.Action}} {{.Actor.Attributes.name}}",
                ]))
            let container = try await test.createContainer("stream", ["true"])
            let flowing = try await events.waitForOutput(containing: "create \(container)", timeout: .seconds(20))
            try #require(flowing, "no event through the proxy: \(events.stdoutSoFar)\n\(events.stderrSoFar)")
            await events.stop()

            func isEvents(_ entry: JournalEntry) -> Bool { entry.audit("PATH")?.hasSuffix("/events") == true }
            let matches = ["_PID=\(proxy.pid)", "SYSLOG_IDENTIFIER=socket-proxy"]
            _ = try await Journal.waitForEntries(matches, since: since) { entries in
                entries.contains { isEvents($0) && $0.audit("PHASE") == "end" }
            }
            try await Task.sleep(for: .milliseconds(300))
            let records = try await Journal.entries(matches, since: since).filter(isEvents)
            let ends = records.filter { $0.audit("PHASE") == "end" }
            try #require(ends.count == 1, "the events records:\n\(records)")
            let end = ends[0]
            // The daemon ends its answer properly when the client hangs up, so the exchange is complete.
            #expect(end.audit("DECISION") == "allow", "\(end)")
            #expect(end["PRIORITY"] == "6", "\(end)")
            #expect((end.integer("SOCKET_PROXY_DURATION_US") ?? 0) > 0, "\(end)")
            #expect(end.audit("STATUS") == "200", "\(end)")
            #expect(end.audit("SECTION") == "events", "\(end)")
            #expect(end.audit("RULE") == "EVENTS", "\(end)")
            #expect(end.audit("UPGRADED") == nil, "\(end)")
            // At least the create event's JSON went out after the head.
            #expect((end.integer("SOCKET_PROXY_BYTES_OUT") ?? 0) > 200, "\(end)")
            let starts = records.filter { $0.audit("PHASE") == "start" }
            #expect(starts.count == 1, "\(records)")

            #expect(starts.count <= 1, "\(records)")
        }
    }

    @Test func operationalMessagesGoToTheJournalWithLoggerLabelAndSourceFile() async throws {
        try await IntegrationContext.run { test in
            let since = Date()
            let proxy = try await Self.startJournaledProxy(test, [:])
            let listening = try await Journal.waitForEntries(
                ["_PID=\(proxy.pid)", "LOGGER_LABEL=socket-proxy"], since: since
            ) {
                $0.contains { $0["MESSAGE"]?.hasPrefix("listening on ") == true }
            }
            let records = listening.filter { $0["MESSAGE"]?.hasPrefix("listening on ") == true }
            try #require(records.count == 1, "the listening message:\n\(listening)")
            let record = records[0]
            #expect(
                record["MESSAGE"]
                    == "listening on 127.0.0.1:\(proxy.port); Docker socket \(test.daemon.socketPath); "
                    + "policy from the environment (profiles tecnativa), mode enforce; audit to journald"
            )
            #expect(record["PRIORITY"] == "5")
            #expect(record["SYSLOG_IDENTIFIER"] == "socket-proxy")
            #expect(record["LOGGER_LABEL"] == "socket-proxy")
            #expect(record["CODE_FILE"]?.hasSuffix("Serve.swift") == true, "\(record)")
            #expect(record.integer("CODE_LINE").map { $0 > 0 } == true, "\(record)")
            #expect(record["CODE_FUNC"]?.isEmpty == false, "\(record)")
            #expect(record.audit("LISTENERS") == "127.0.0.1:\(proxy.port)", "metadata as a field: \(record)")
            #expect(record.audit("SOCKET_PATH") == test.daemon.socketPath, "metadata as a field: \(record)")
            #expect(record.audit("PHASE") == nil, "an operational message looks like an audit record: \(record)")

            // A reload is logged the same way.
            proxy.signal(SIGHUP)
            let reloaded = try await Journal.waitForEntries(
                ["_PID=\(proxy.pid)", "LOGGER_LABEL=socket-proxy"], since: since
            ) {
                $0.contains { $0["MESSAGE"] == Self.reloadMessage }
            }
            #expect(
                reloaded.contains {
                    $0["MESSAGE"] == Self.reloadMessage && $0["PRIORITY"] == "5"
                },
                "\(reloaded)")
        }
    }

    static let reloadMessage = "reloaded the policy from the environment (mode enforce); new requests use it"
}

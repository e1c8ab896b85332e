// The Docker daemon failing under the proxy: killed while a request waits for its answer, while a body uploads,
// in the middle of a stream; stopped cleanly; not there at all when the proxy starts. Clients get a clean error
// (a 502 in Docker's JSON format while nothing of the answer was sent, a closed connection mid-stream), the proxy
// keeps serving, and it recovers by itself once the daemon is back.
//
// These tests take the daemon away, so they use a second, private dockerd of their own (PrivateDockerd): it
// starts and restarts in well under a second, on the same data, and the shared daemon of the other tests is never
// touched. A socat relay in front of the shared socket would have been quicker still, but it is not what a
// client of the proxy meets: a relay does not hold requests the way dockerd does (`stop?t=60` waiting for a
// container), does not remove its socket on SIGTERM, and keeps established connections alive when its listening
// process dies.
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension FaultTests {
    @Suite("The Docker daemon fails")
    struct DaemonFailures {
        /// `GET path` on a fresh connection with `Connection: close`.
        static func get(_ proxy: ProxyProcess, _ path: String, timeout: Duration = .seconds(15)) async throws
            -> RawResponse
        {
            let connection = try proxy.connect()
            defer { connection.close() }
            try await connection.send(RawRequest.make("GET", path, headers: [("Connection", "close")]))
            let exchange = try await connection.readResponses(count: 1, timeout: timeout)
            guard let response = exchange.responses.first else {
                throw HarnessError("no answer to GET \(path): \(exchange)\nproxy log:\n\(tail(proxy.log))")
            }
            return response
        }

        /// A Unix time for `/events?since=`: a second before now.
        static var aSecondAgo: Int { Int(Date().timeIntervalSince1970) - 1 }

        /// The `message` of a JSON error body, or nil when the body is not one.
        static func message(_ response: RawResponse) -> String? {
            response.jsonObject?["message"] as? String
        }

        /// Whether `response` is the proxy's own 502 in Docker's error format.
        static func isJSON502(_ response: RawResponse) -> Bool {
            response.status == 502 && response.header("Content-Type") == "application/json" && message(response) != nil
        }

        /// The audit records of `proxy` (started with `--log-target stderr`) once `done` holds for them.
        static func records(
            _ proxy: ProxyProcess, until done: @escaping ([[String: String]]) -> Bool
        ) async throws -> [[String: String]] {
            try await AuditLines.wait({ proxy.log }, until: done)
        }

        @Test(.timeLimit(.minutes(3)))
        func aDaemonKilledWhileARequestWaitsForItsAnswerGivesA502AndTheProxyRecoversByItself() async throws {
            try await IntegrationContext.run { test in
                try await PrivateDockerd.with(test) { dockerd in
                    let version = dockerd.daemon.version.apiVersion
                    // busybox sleep is PID 1 of its container and ignores SIGTERM: the daemon holds `stop?t=60` for a
                    // minute before it answers.
                    let container = "spf-stop-\(test.tag)"
                    try await dockerd.docker.succeed(
                        ["run", "-d", "--network", "none", "--name", container, TestImage.reference, "sleep", "3600"])
                    let proxy = try await test.startProxy(
                        ["CONTAINERS": "1", "POST": "1"], arguments: ["--log-target", "stderr"],
                        socketPath: dockerd.socketPath)

                    let keepAlive = try proxy.connect()
                    defer { keepAlive.close() }
                    try await keepAlive.send(RawRequest.make("GET", "/_ping"))
                    let before = try await keepAlive.readResponses(count: 1)
                    try #require(before.responses.first?.status == 200, "\(before)\n\(tail(proxy.log))")

                    let waiting = try proxy.connect()
                    defer { waiting.close() }
                    try await waiting.send(
                        RawRequest.make(
                            "POST", "/v\(version)/containers/\(container)/stop?t=60", headers: [("Connection", "close")]
                        ))
                    let early = try await waiting.readResponses(
                        count: 1, methods: ["POST"], timeout: .milliseconds(800))
                    try #require(early.responses.isEmpty && !early.closedByPeer, "stop answered at once: \(early)")

                    try await dockerd.kill()
                    let clock = ContinuousClock()
                    let killed = clock.now
                    let answer = try await waiting.readResponses(count: 1, methods: ["POST"], timeout: .seconds(5))
                    let answered = clock.now - killed
                    let failure = try #require(answer.responses.first, "no answer after the daemon died: \(answer)")
                    #expect(Self.isJSON502(failure), "\(failure)")
                    #expect(
                        Self.message(failure)?.hasPrefix("socket-proxy: the Docker daemon closed the connection")
                            == true,
                        "\(failure)")
                    #expect(answered < .seconds(2), "the 502 took \(answered)")
                    #expect(
                        try await waiting.waitForClose(timeout: .seconds(3)), "the connection stayed open after 502")

                    // While the daemon is away its socket file stays (SIGKILL) and refuses connections; every answer
                    // names the socket, on new connections and on the old keep-alive one alike.
                    let during = try await Self.get(proxy, "/_ping")
                    #expect(Self.isJSON502(during), "\(during)")
                    let text = Self.message(during) ?? ""
                    #expect(text.contains("unix:\(dockerd.socketPath)") && text.contains("refused"), "\(text)")
                    try await keepAlive.send(RawRequest.make("GET", "/_ping"))
                    let reused = try await keepAlive.readResponses(count: 1)
                    #expect(reused.responses.first.map(Self.isJSON502) == true, "\(reused)")
                    // What the proxy decides by itself it still answers.
                    #expect(try await Self.get(proxy, "/v\(version)/images/json").status == 403)
                    #expect(proxy.isRunning, "\(tail(proxy.log))")

                    try await dockerd.start()
                    // The very first request after the restart succeeds: nothing stale is left in the proxy's pools.
                    let first = try await Self.get(proxy, "/_ping")
                    #expect(
                        first.status == 200, "first request after the daemon came back: \(first)\n\(tail(proxy.log))")
                    let listing = try await proxy.docker.run(["ps", "--all", "--format", "{{.Names}}"])
                    #expect(listing.succeeded && listing.lines.contains(container), "\(listing)")

                    let records = try await Self.records(proxy) { records in
                        records.contains { $0["path"]?.hasSuffix("/stop") == true }
                    }
                    let stop = records.first { $0["path"]?.hasSuffix("/stop") == true }
                    #expect(stop?["decision"] == "upstream-error" && stop?["status"] == "502", "\(records)")
                    #expect(stop?["level"] == "err", "\(String(describing: stop))")
                }
            }
        }

        @Test(.timeLimit(.minutes(3)))
        func aDaemonKilledMidStreamClosesTheStreamsAndTheProxyRecoversByItself() async throws {
            try await IntegrationContext.run { test in
                try await PrivateDockerd.with(test) { dockerd in
                    let version = dockerd.daemon.version.apiVersion
                    let size = 64 << 20
                    let container = "spf-stream-\(test.tag)"
                    try await dockerd.docker.succeed([
                        "run", "-d", "--network", "none", "--name", container, TestImage.reference, "sh", "-c",
                        "head -c \(size) /dev/urandom > /big && touch /ready && sleep 3600",
                    ])
                    let clock = ContinuousClock()
                    let deadline = clock.now + .seconds(60)
                    while try await dockerd.api.request("HEAD", "/containers/\(container)/archive?path=/ready").status
                        != 200
                    {
                        guard clock.now < deadline else { throw HarnessError("the container did not write /big") }
                        try await Task.sleep(for: .milliseconds(100))
                    }
                    let proxy = try await test.startProxy(
                        ["CONTAINERS": "1", "ALLOW_ARCHIVE": "1"], arguments: ["--log-target", "stderr"],
                        socketPath: dockerd.socketPath)

                    // An event stream, shown to be flowing. With `since` the daemon replays what happened from then
                    // on: it writes the answer's head before it subscribes the stream, so without it an event right
                    // after the head can be missed.
                    let events = try proxy.connect()
                    defer { events.close() }
                    try await events.send(RawRequest.make("GET", "/v\(version)/events?since=\(Self.aSecondAgo)"))
                    let marker = "spf-marker-\(test.tag)"
                    _ = try await dockerd.api.request("POST", "/volumes/create", json: #"{"Name":"\#(marker)"}"#)
                    var seen = false
                    for _ in 0..<100 where !seen {
                        try await events.receiveRaw(atLeast: events.bytesReceived + 1, timeout: .milliseconds(100))
                        seen = events.receivedPrefix.contains(marker)
                    }
                    try #require(
                        events.receivedPrefix.hasPrefix("HTTP/1.1 200") && seen,
                        "the event stream did not show the marker volume:\n\(events.receivedPrefix)")

                    // A download, part read, the rest held back by full socket buffers.
                    let download = try proxy.connect()
                    defer { download.close() }
                    try await download.send(
                        RawRequest.make(
                            "GET", "/v\(version)/containers/\(container)/archive?path=/big",
                            headers: [("Connection", "close")]))
                    try await download.receiveRaw(atLeast: 1 << 20)
                    try #require(
                        download.receivedPrefix.hasPrefix("HTTP/1.1 200"), "\(download.receivedPrefix.prefix(300))")

                    try await dockerd.kill()

                    // Both end with the connection closed, without the last chunk a complete answer ends with: the
                    // client can tell the answer was cut.
                    try await events.receiveRaw(atLeast: .max, timeout: .seconds(5))
                    #expect(events.closedByPeer, "the event stream stayed open after the daemon died")
                    #expect(!events.receivedPrefix.hasSuffix("\r\n0\r\n\r\n"), "the cut stream looks complete")
                    try await download.receiveRaw(atLeast: .max, timeout: .seconds(15))
                    #expect(download.closedByPeer, "the download stayed open after the daemon died")
                    #expect(download.bytesReceived < size, "\(download.bytesReceived) bytes of a \(size)-byte file")
                    #expect(proxy.isRunning, "\(tail(proxy.log))")

                    let during = try await Self.get(proxy, "/_ping")
                    #expect(Self.isJSON502(during), "\(during)")

                    try await dockerd.start()
                    let first = try await Self.get(proxy, "/_ping")
                    #expect(
                        first.status == 200, "first request after the daemon came back: \(first)\n\(tail(proxy.log))")
                    // A new stream flows again.
                    let again = try proxy.connect()
                    defer { again.close() }
                    try await again.send(RawRequest.make("GET", "/v\(version)/events?since=\(Self.aSecondAgo)"))
                    let second = "spf-marker2-\(test.tag)"
                    _ = try await dockerd.api.request("POST", "/volumes/create", json: #"{"Name":"\#(second)"}"#)
                    var flowing = false
                    for _ in 0..<100 where !flowing {
                        try await again.receiveRaw(atLeast: again.bytesReceived + 1, timeout: .milliseconds(100))
                        flowing = again.receivedPrefix.contains(second)
                    }
                    #expect(flowing, "no event on a new stream after the restart:\n\(again.receivedPrefix)")

                    let records = try await Self.records(proxy) { records in
                        records.filter { $0["decision"] == "upstream-error" }.count >= 2
                    }
                    let cut = records.filter { $0["decision"] == "upstream-error" }.compactMap { $0["path"] }
                    #expect(
                        cut.contains { $0.hasSuffix("/events") } && cut.contains { $0.hasSuffix("/archive") },
                        "\(records)")
                }
            }
        }

        @Test(.timeLimit(.minutes(3)))
        func aDaemonKilledWhileARequestBodyUploadsGivesA502() async throws {
            try await IntegrationContext.run { test in
                try await PrivateDockerd.with(test) { dockerd in
                    let version = dockerd.daemon.version.apiVersion
                    let container = "spf-upload-\(test.tag)"
                    try await dockerd.docker.succeed(
                        ["create", "--network", "none", "--name", container, TestImage.reference, "true"])
                    let proxy = try await test.startProxy(
                        ["CONTAINERS": "1", "POST": "1", "ALLOW_ARCHIVE": "1"], arguments: ["--log-target", "stderr"],
                        socketPath: dockerd.socketPath)

                    let fileSize = 64 << 20
                    let archive = try TarStream(fileName: "big.bin", size: fileSize)
                    let upload = try proxy.connect()
                    defer { upload.close() }
                    let head =
                        "PUT /v\(version)/containers/\(container)/archive?path=/tmp HTTP/1.1\r\nHost: docker\r\n"
                        + "Content-Type: application/x-tar\r\nContent-Length: \(archive.totalSize)\r\n\r\n"
                    try await upload.send(Array(head.utf8) + archive.header)
                    try await upload.send([UInt8](repeating: 0x5A, count: 8 << 20))
                    try await Task.sleep(for: .milliseconds(300))
                    let early = try await upload.readResponses(count: 1, methods: ["PUT"], timeout: .milliseconds(10))
                    try #require(early.responses.isEmpty, "the daemon answered a half-sent upload: \(early)")

                    try await dockerd.kill()
                    let answer = try await upload.readResponses(count: 1, methods: ["PUT"], timeout: .seconds(5))
                    let failure = try #require(answer.responses.first, "no answer after the daemon died: \(answer)")
                    #expect(Self.isJSON502(failure), "\(failure)")
                    #expect(failure.header("Connection") == "close", "\(failure)")
                    #expect(proxy.isRunning, "\(tail(proxy.log))")

                    try await dockerd.start()
                    let first = try await Self.get(proxy, "/_ping")
                    #expect(
                        first.status == 200, "first request after the daemon came back: \(first)\n\(tail(proxy.log))")
                    let records = try await Self.records(proxy) { records in
                        records.contains { $0["path"]?.hasSuffix("/archive") == true }
                    }
                    let put = records.first { $0["path"]?.hasSuffix("/archive") == true }
                    #expect(put?["decision"] == "upstream-error" && put?["status"] == "502", "\(records)")
                }
            }
        }

        @Test(.timeLimit(.minutes(3)))
        func aDaemonStoppedCleanlyIsNamedInEvery502UntilItIsBack() async throws {
            try await IntegrationContext.run { test in
                try await PrivateDockerd.with(test) { dockerd in
                    let proxy = try await test.startProxy(
                        [:], arguments: ["--log-target", "stderr"], socketPath: dockerd.socketPath)
                    #expect(try await Self.get(proxy, "/_ping").status == 200)

                    try await dockerd.stop()
                    #expect(!FileManager.default.fileExists(atPath: dockerd.socketPath), "dockerd left its socket file")
                    let clock = ContinuousClock()
                    for _ in 0..<20 {
                        let started = clock.now
                        let answer = try await Self.get(proxy, "/_ping")
                        let took = clock.now - started
                        #expect(Self.isJSON502(answer), "\(answer)")
                        let text = Self.message(answer) ?? ""
                        #expect(
                            text.contains("unix:\(dockerd.socketPath)") && text.contains("No such file or directory"),
                            "\(text)")
                        #expect(took < .seconds(1), "a 502 for a missing socket took \(took)")
                    }
                    #expect(proxy.isRunning)

                    try await dockerd.start()
                    let first = try await Self.get(proxy, "/_ping")
                    #expect(
                        first.status == 200, "first request after the daemon came back: \(first)\n\(tail(proxy.log))")
                    let version = try await proxy.docker.run(["version", "--format", "{{.Server.Version}}"])
                    #expect(version.succeeded, "\(version)")
                }
            }
        }

        @Test(.timeLimit(.minutes(2)))
        func aSocketMissingAtStartIsNamedInThe502AndTheStatusUntilItAppears() async throws {
            try await IntegrationContext.run { test in
                let missing = test.file("later.sock").path
                let notify = try NotifySocket(path: test.file("notify.sock").path)
                let proxy = try await test.startProxy(
                    ["NOTIFY_SOCKET": notify.path], arguments: ["--ready-timeout", "0.5", "--log-target", "stderr"],
                    socketPath: missing)

                let ready = await notify.wait { $0.contains { $0["READY"] == "1" } }
                #expect(ready, "no READY=1 after the ready timeout: \(notify.messages)\n\(proxy.log)")
                let status = notify.messages.first { $0["READY"] == "1" }?["STATUS"] ?? ""
                #expect(
                    status
                        == "the Docker daemon at unix:\(missing) is not reachable yet; serving anyway "
                        + "(requests get 502)",
                    "\(notify.messages)")
                #expect(proxy.log.contains("the Docker daemon at unix:\(missing) is not reachable yet"), "\(proxy.log)")

                let answer = try await Self.get(proxy, "/_ping")
                #expect(Self.isJSON502(answer), "\(answer)")
                let text = Self.message(answer) ?? ""
                #expect(text.contains("unix:\(missing)") && text.contains("No such file or directory"), "\(text)")

                // The socket appears (here: a link to the real daemon's): the next request goes through.
                guard symlink(test.daemon.socketPath, missing) == 0 else {
                    throw HarnessError("symlink \(missing): \(String(cString: strerror(errno)))")
                }
                let first = try await Self.get(proxy, "/_ping")
                #expect(first.status == 200, "\(first)\n\(tail(proxy.log))")
                let version = try await proxy.docker.run(["version", "--format", "{{.Server.Version}}"])
                #expect(version.succeeded && version.stdout.contains(test.daemon.version.version), "\(version)")
            }
        }
    }
}

/// The start of a tar stream holding one file of `size` bytes: its 512-byte header, and the size of the whole
/// archive (header, data padded to 512, two zero blocks), so a test can announce it and send only a part.
struct TarStream {
    let header: [UInt8]
    let totalSize: Int

    init(fileName: String, size: Int) throws {
        var block = [UInt8](repeating: 0, count: 512)
        func put(_ text: String, at offset: Int) {
            for (index, byte) in text.utf8.enumerated() { block[offset + index] = byte }
        }
        put(fileName, at: 0)
        put("0000644\0", at: 100)
        put("0000000\0", at: 108)
        put("0000000\0", at: 116)
        put(String(format: "%011o\0", size), at: 124)
        put(String(format: "%011o\0", Int(Date().timeIntervalSince1970)), at: 136)
        put("        ", at: 148)
        put("0", at: 156)
        put("ustar\0" + "00", at: 257)
        let checksum = block.reduce(0) { $0 + Int($1) }
        put(String(format: "%06o\0 ", checksum), at: 148)
        header = block
        totalSize = 512 + (size + 511) / 512 * 512 + 1024
    }
}

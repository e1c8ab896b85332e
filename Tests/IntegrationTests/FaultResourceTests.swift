// The proxy under resource pressure: out of file descriptors (it pauses accepting instead of spinning, and comes
// back by itself), at its connection limit, and with a thousand slowloris clients trickling one header byte at a
// time (everyone else is still served at once; they get 408 when the header timeout ends).
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension FaultTests {
    @Suite("Descriptors and connections run out")
    struct ResourceExhaustion {
        /// Runs the proxy with a hard and soft descriptor limit of `limit` (the proxy raises its soft limit to the hard
        /// one at start, so both are set).
        static func limited(_ limit: Int) throws -> [String] {
            guard ChildProcess.which("prlimit") != nil else {
                throw HarnessError("`prlimit` is not installed: the descriptor-limit tests need it (util-linux)")
            }
            return ["prlimit", "--nofile=\(limit):\(limit)", "--"]
        }

        /// CPU time the process uses over `interval`.
        static func cpuUsed(by pid: pid_t, over interval: Duration) async throws -> Duration {
            let before = try ProcessProbe.cpuTime(of: pid)
            try await Task.sleep(for: interval)
            return try ProcessProbe.cpuTime(of: pid) - before
        }

        /// `GET path` on a fresh connection; the answer and how long it took.
        static func timedGet(_ proxy: ProxyProcess, _ path: String, timeout: Duration = .seconds(10)) async throws
            -> (RawResponse?, Duration)
        {
            let clock = ContinuousClock()
            let started = clock.now
            let connection = try proxy.connect()
            defer { connection.close() }
            try await connection.send(RawRequest.make("GET", path, headers: [("Connection", "close")]))
            let exchange = try await connection.readResponses(count: 1, timeout: timeout)
            return (exchange.responses.first, clock.now - started)
        }

        @Test(.timeLimit(.minutes(2)))
        func runningOutOfDescriptorsPausesAcceptingWithoutSpinningAndRecovers() async throws {
            try await IntegrationContext.run { test in
                let limit = 64
                let proxy = try await test.startProxy(
                    [:], arguments: ["--max-connections", "1000", "--header-timeout", "60", "--log-target", "stderr"],
                    launcher: try Self.limited(limit))
                let (warm, _) = try await Self.timedGet(proxy, "/_ping")
                try #require(warm?.status == 200, "\(String(describing: warm))\n\(proxy.log)")
                let baseline = try ProcessProbe.descriptorCount(of: proxy.pid)

                // More clients than descriptors: the kernel completes every connection into the listen backlog, the
                // proxy accepts until accept fails with EMFILE.
                var clients: [RawHTTPConnection] = []
                defer { for client in clients { client.close() } }
                for _ in 0..<(limit * 2) { clients.append(try proxy.connect()) }
                let clock = ContinuousClock()
                let deadline = clock.now + .seconds(5)
                var open = 0
                while clock.now < deadline {
                    open = try ProcessProbe.descriptorCount(of: proxy.pid)
                    if open >= limit { break }
                    try await Task.sleep(for: .milliseconds(20))
                }
                try #require(open >= limit, "the proxy never ran out of descriptors: \(open) of \(limit) open")

                // Out of descriptors with clients waiting, it must not spin on a listener that stays readable.
                let spent = try await Self.cpuUsed(by: proxy.pid, over: .seconds(3))
                #expect(spent < .milliseconds(300), "the proxy used \(spent) of CPU in 3 s while out of descriptors")

                // Clients it did accept get an answer, not silence: without a descriptor for the daemon connection
                // that is a 503.
                for client in clients.prefix(3) {
                    try await client.send(RawRequest.make("GET", "/_ping"))
                    let exchange = try await client.readResponses(count: 1, timeout: .seconds(5))
                    let answer = exchange.responses.first
                    #expect(answer?.status == 503 || answer?.status == 200, "\(exchange)")
                    if answer?.status == 503 {
                        #expect(answer?.bodyText.contains("Too many open files") == true, "\(exchange)")
                    }
                }
                #expect(proxy.isRunning, "\(tail(proxy.log))")

                // Once the clients go, it serves again by itself, at once.
                for client in clients { client.close() }
                clients = []
                let settled = try await ProcessProbe.waitForDescriptors(of: proxy.pid, atMost: baseline + 4)
                let (after, took) = try await Self.timedGet(proxy, "/_ping")
                #expect(after?.status == 200, "\(String(describing: after))\n\(tail(proxy.log))")
                #expect(took < .seconds(1), "the first request after the clients left took \(took)")
                #expect(
                    settled <= baseline + 4, "\(settled) descriptors open after the clients left, \(baseline) before")
                let idle = try await Self.cpuUsed(by: proxy.pid, over: .seconds(1))
                #expect(idle < .milliseconds(100), "the proxy used \(idle) of CPU in 1 s of idling after recovery")
            }
        }

        @Test(.timeLimit(.minutes(2)))
        func aSplicePipeTheProxyCannotCreateIsNotBlamedOnTheDaemon() async throws {
            try await IntegrationContext.run { test in
                let version = test.daemon.version.apiVersion
                let container = try await test.createContainer("emfile-pipe", ["true"])
                let limit = 64
                let proxy = try await test.startProxy(
                    ["CONTAINERS": "1", "POST": "1", "ALLOW_ARCHIVE": "1"],
                    arguments: [
                        "--max-connections", "1000", "--header-timeout", "60", "--threads", "1", "--log-target",
                        "stderr",
                    ],
                    launcher: try Self.limited(limit))
                // Idle clients, one at a time, until the proxy holds every descriptor it may have: none is left
                // waiting in the backlog.
                var clients: [RawHTTPConnection] = []
                defer { for client in clients { client.close() } }
                var open = try ProcessProbe.descriptorCount(of: proxy.pid)
                while open < limit {
                    guard clients.count <= limit else {
                        throw HarnessError("\(open) descriptors after \(clients.count)")
                    }
                    clients.append(try proxy.connect())
                    open = try await Self.waitForDescriptorCount(of: proxy.pid, above: open)
                }
                // Two free: one for the next client, one for its daemon connection, none for a splice pipe.
                clients.removeLast().close()
                clients.removeLast().close()
                _ = try await ProcessProbe.waitForDescriptors(of: proxy.pid, atMost: limit - 2)

                let upload = try proxy.connect()
                defer { upload.close() }
                let body = [UInt8](repeating: 0, count: 4 << 20)
                let head =
                    "PUT /v\(version)/containers/\(container)/archive?path=/tmp HTTP/1.1\r\nHost: docker\r\n"
                    + "Content-Type: application/x-tar\r\nContent-Length: \(body.count)\r\n\r\n"
                try await upload.send(Array(head.utf8))
                try? await upload.send(body, timeout: .seconds(5))
                let exchange = try await upload.readResponses(count: 1, methods: ["PUT"], timeout: .seconds(5))
                let answer = try #require(exchange.responses.first, "no answer: \(exchange)")
                // Running out of descriptors is the proxy's own trouble; when the daemon connection cannot be made it
                // says 503, and a splice pipe that cannot be made must not turn into "the Docker daemon failed" (502).
                let message = (answer.jsonObject?["message"] as? String) ?? answer.bodyText
                #expect(
                    answer.status == 503 && !message.contains("Docker daemon failed"),
                    "the proxy's own EMFILE (pipe2) was answered \(answer.status) \(message)")
            }
        }

        /// Lifts this test process's soft descriptor limit to at least `count` (a thousand client sockets do not fit
        /// in the usual soft limit of 1024); fails when the hard limit does not allow it.
        static func raiseOwnDescriptorLimit(atLeast count: Int) throws {
            var limit = rlimit()
            guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else {
                throw HarnessError("getrlimit: \(String(cString: strerror(errno)))")
            }
            guard limit.rlim_cur < rlim_t(count) else { return }
            guard limit.rlim_max >= rlim_t(count) else {
                throw HarnessError(
                    "this test needs \(count) descriptors, the hard limit is \(limit.rlim_max) (raise `ulimit -Hn`)")
            }
            limit.rlim_cur = rlim_t(count)
            guard setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else {
                throw HarnessError("setrlimit to \(count) descriptors: \(String(cString: strerror(errno)))")
            }
        }

        /// Waits until `pid` has more than `count` descriptors open (at most a second); returns the count.
        static func waitForDescriptorCount(of pid: pid_t, above count: Int) async throws -> Int {
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(1)
            while true {
                let current = try ProcessProbe.descriptorCount(of: pid)
                if current > count || clock.now >= deadline { return current }
                try await Task.sleep(for: .milliseconds(5))
            }
        }

        @Test(.timeLimit(.minutes(2)))
        func theDefaultConnectionLimitFollowsTheDescriptorLimitAndRefusesTheRest() async throws {
            try await IntegrationContext.run { test in
                // 64 descriptors: the default limit is max(16, (64 - 256) / 2) = 16 client connections.
                let proxy = try await test.startProxy(
                    [:], arguments: ["--header-timeout", "60", "--log-target", "stderr"], launcher: try Self.limited(64)
                )
                var clients: [RawHTTPConnection] = []
                defer { for client in clients { client.close() } }
                for _ in 0..<40 { clients.append(try proxy.connect()) }
                // Until the proxy has turned away all it will (a loaded machine may take a while), then a little
                // longer: it must not turn away any of the 16 it holds.
                var refused = 0
                let clock = ContinuousClock()
                let deadline = clock.now + .seconds(10)
                var settledAt: ContinuousClock.Instant?
                while clock.now < deadline {
                    for client in clients where !client.closedByPeer {
                        try await client.receiveRaw(atLeast: 1, timeout: .milliseconds(5))
                    }
                    refused = clients.filter(\.closedByPeer).count
                    if refused >= 40 - 16 {
                        if let settledAt, clock.now - settledAt > .milliseconds(500) { break }
                        settledAt = settledAt ?? clock.now
                    }
                    try await Task.sleep(for: .milliseconds(20))
                }
                #expect(refused == 40 - 16, "\(refused) of 40 connections were closed; 16 should stay")
                let spent = try await Self.cpuUsed(by: proxy.pid, over: .seconds(2))
                #expect(spent < .milliseconds(200), "the proxy used \(spent) of CPU in 2 s at its connection limit")
                // The ones it holds are served.
                let held = clients.filter { !$0.closedByPeer }
                for client in held.prefix(3) {
                    try await client.send(RawRequest.make("GET", "/_ping"))
                    let exchange = try await client.readResponses(count: 1, timeout: .seconds(5))
                    #expect(exchange.responses.first?.status == 200, "\(exchange)")
                }
                for client in clients { client.close() }
                clients = []
                try await Task.sleep(for: .milliseconds(200))
                let (after, _) = try await Self.timedGet(proxy, "/_ping")
                #expect(after?.status == 200, "\(String(describing: after))\n\(tail(proxy.log))")
            }
        }

        @Test(.timeLimit(.minutes(3)))
        func aThousandSlowlorisClientsDoNotDelayOthersAndGet408AtTheHeaderTimeout() async throws {
            try await IntegrationContext.run { test in
                let version = test.daemon.version.apiVersion
                let count = 1000
                // The proxy inherits the raised limit; its connection limit is set, not derived from the descriptor
                // limit, so that all thousand are held whatever the machine's limits are.
                try Self.raiseOwnDescriptorLimit(atLeast: count + 1000)
                let proxy = try await test.startProxy(
                    ["CONTAINERS": "1"], arguments: ["--log-target", "stderr", "--max-connections", "\(count + 100)"])
                // A second proxy that no slow client touches, asked in turn with the first: whatever else loads
                // the machine (other test processes, the trickling itself) slows both alike.
                let control = try await test.startProxy(["CONTAINERS": "1"], arguments: ["--log-target", "stderr"])
                let path = "/v\(version)/containers/json"
                for target in [proxy, control] {
                    let (answer, _) = try await Self.timedGet(target, path)
                    try #require(answer?.status == 200, "\(String(describing: answer))")
                }

                // A thousand clients, each trickling one byte of a never-ending head per round.
                let headerTimeout: Duration = .seconds(10)
                let head = Array(
                    ("GET \(path) HTTP/1.1\r\nHost: docker\r\nX-Slow: " + String(repeating: "s", count: 8000)).utf8)
                var slow: [RawHTTPConnection] = []
                defer { for connection in slow { connection.close() } }
                let clock = ContinuousClock()
                let connected = clock.now
                for _ in 0..<count { slow.append(try proxy.connect()) }
                // Until a little before the header timeout: the 408 must come from the timeout, not from the
                // trickle stopping.
                let trickleEnd = headerTimeout - .milliseconds(800)
                let trickle = Task.detached { [slow] in
                    var index = 0
                    var failures = 0
                    while clock.now - connected < trickleEnd && index < head.count {
                        for connection in slow {
                            do { try await connection.send([head[index]]) } catch { failures += 1 }
                        }
                        index += 1
                        try? await Task.sleep(for: .milliseconds(20))
                    }
                    return (index, failures)
                }

                // Meanwhile, ordinary requests, to the besieged proxy and to the control in turn.
                try await Task.sleep(for: .seconds(1))
                var busy: [Duration] = []
                var calm: [Duration] = []
                var wrong: [String] = []
                while clock.now - connected < trickleEnd - .milliseconds(200) {
                    for (target, isBusy) in [(proxy, true), (control, false)] {
                        let (answer, took) = try await Self.timedGet(target, path)
                        if answer?.status != 200 { wrong.append(String(describing: answer)) }
                        if isBusy { busy.append(took) } else { calm.append(took) }
                    }
                    try await Task.sleep(for: .milliseconds(20))
                }
                let (sentBytes, sendFailures) = await trickle.value

                // Nothing has come back to the slow clients before the header timeout...
                var answeredEarly = 0
                for connection in slow {
                    try await connection.receiveRaw(atLeast: 1, timeout: .zero)
                    if connection.bytesReceived > 0 || connection.closedByPeer { answeredEarly += 1 }
                }
                let checkedEarly = clock.now - connected
                // ... and then every one gets 408.
                var statuses: [Int: Int] = [:]
                for connection in slow {
                    let exchange = try await connection.readResponses(count: 1, timeout: .seconds(6))
                    statuses[exchange.responses.first?.status ?? 0, default: 0] += 1
                }
                let answered = clock.now - connected

                func percentile(_ values: [Duration], _ p: Double) -> Duration {
                    let sorted = values.sorted()
                    return sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
                }
                let busyMedian = percentile(busy, 0.5)
                let busyP95 = percentile(busy, 0.95)
                let calmMedian = percentile(calm, 0.5)
                let calmP95 = percentile(calm, 0.95)
                let summary =
                    "\(busy.count) requests with \(count) slow clients: median \(busyMedian), p95 \(busyP95), max "
                    + "\(busy.max() ?? .zero); control: median \(calmMedian), p95 \(calmP95), max "
                    + "\(calm.max() ?? .zero); slow clients sent \(sentBytes) bytes each"
                #expect(wrong.isEmpty, "\(wrong.prefix(5))")
                #expect(busy.count >= 20, "too few requests got through: \(summary)")
                #expect(busyMedian < calmMedian * 3 + .milliseconds(10), "\(summary)")
                #expect(busyP95 < calmP95 * 3 + .milliseconds(50), "\(summary)")
                #expect(sendFailures == 0, "\(sendFailures) trickled bytes could not be sent: \(summary)")
                // (When this test process was held up past the header timeout itself, the check proves nothing.)
                #expect(
                    answeredEarly == 0 || checkedEarly >= headerTimeout,
                    "\(answeredEarly) slow clients were answered before \(checkedEarly)")
                #expect(statuses == [408: count], "answers of the slow clients: \(statuses), after \(answered)")
                #expect(proxy.isRunning)
                print("slowloris: \(summary); all answered 408 within \(answered) of connecting")
            }
        }
    }
}

// socket-proxy under systemd's protocols, with systemd's own systemd-socket-activate: a passed, named listening
// socket, and sd_notify messages (READY=1 with STATUS=, WATCHDOG=1, RELOADING=1 with MONOTONIC_USEC, STOPPING=1)
// on a notification socket the test owns.
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

// Serialized: every test starts a proxy, and the whole integration run starts them all at once otherwise; on two
// cores that many proxies and docker CLIs starting together miss the harness's 10 s start-up limit.
@Suite("Socket activation and sd_notify", .serialized)
struct SystemdActivationTests {
    /// The monotonic clock in microseconds, the clock MONOTONIC_USEC is read from.
    static func monotonicMicroseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec) / 1000
    }

    @Test func anActivatedProxyServesThePassedSocketAndTellsTheServiceManager() async throws {
        try await IntegrationContext.run { test in
            let proxy = try await SocketActivatedProxy.start(test, socketPath: test.daemon.socketPath)
            let ping = try await proxy.get("/_ping")
            #expect(ping.status == 200 && ping.bodyText == "OK", "\(ping)\n\(proxy.log)")

            let ready = await proxy.notify.wait { $0.contains { $0["READY"] == "1" } }
            #expect(ready, "no READY=1: \(proxy.notify.messages)\n\(proxy.log)")
            let readyMessage = proxy.notify.messages.first { $0["READY"] == "1" }
            let status = readyMessage?["STATUS"] ?? ""
            #expect(
                status.contains(" allowed, ") && status.contains(" denied, "),
                "READY=1 without a status: \(readyMessage.map(\.text) ?? "-")")
            #expect(proxy.notify.messages.filter { $0["READY"] == "1" }.count == 1, "\(proxy.notify.messages)")

            // WATCHDOG_USEC=1 s: pets at least every half second.
            let petted = await proxy.notify.wait(timeout: .seconds(5)) {
                $0.filter { $0["WATCHDOG"] == "1" }.count >= 2
            }
            #expect(petted, "fewer than two WATCHDOG=1: \(proxy.notify.messages)")

            // The audit record names the listener by the name systemd passed it with.
            let line = await waitForLine(in: proxy, containing: "path=/_ping")
            #expect(
                line?.contains("listener=\"\(SocketActivatedProxy.socketName) (127.0.0.1:\(proxy.port))\"") == true,
                "\(line ?? proxy.log)")

            proxy.child.signal(SIGTERM)
            let result = await proxy.child.wait(timeout: .seconds(5))
            #expect(result.exitCode == 0 && !result.timedOut, "\(result)")
            let stopping = proxy.notify.messages.filter { $0["STOPPING"] == "1" }
            #expect(stopping.count == 1, "\(proxy.notify.messages)")
            #expect(
                proxy.notify.messages.last?.text == "STOPPING=1", "nothing follows STOPPING=1: \(proxy.notify.messages)"
            )
        }
    }

    @Test func sighupReportsReloadingWithTheMonotonicClockThenReady() async throws {
        try await IntegrationContext.run { test in
            let proxy = try await SocketActivatedProxy.start(test, socketPath: test.daemon.socketPath)
            _ = try await proxy.get("/_ping")
            let ready = await proxy.notify.wait { $0.contains { $0["READY"] == "1" } }
            try #require(ready, "no READY=1: \(proxy.notify.messages)\n\(proxy.log)")
            let before = proxy.notify.messages.count
            let sentAt = Self.monotonicMicroseconds()
            proxy.child.signal(SIGHUP)
            let reloaded = await proxy.notify.wait { messages in
                let after = messages.dropFirst(before)
                guard let reloading = after.firstIndex(where: { $0["RELOADING"] == "1" }) else { return false }
                return after[reloading...].contains { $0["READY"] == "1" }
            }
            let after = Array(proxy.notify.messages.dropFirst(before))
            #expect(reloaded, "no RELOADING=1 then READY=1 after SIGHUP: \(after)\n\(proxy.log)")
            if let reloading = after.first(where: { $0["RELOADING"] == "1" }) {
                let stamp = reloading["MONOTONIC_USEC"].flatMap { Int64($0) }
                #expect(stamp != nil, "RELOADING=1 without a MONOTONIC_USEC number: \(reloading)")
                if let stamp {
                    #expect(
                        stamp >= sentAt && stamp <= Self.monotonicMicroseconds(),
                        "MONOTONIC_USEC \(stamp), signal at \(sentAt)")
                }
                #expect(reloading.assignments.map(\.name) == ["RELOADING", "MONOTONIC_USEC"], "\(reloading)")
            }
            let readyAgain = after.first { $0["READY"] == "1" }
            #expect(readyAgain?["STATUS"]?.contains(" allowed, ") == true, "\(after)")
            #expect(proxy.child.isRunning, "the proxy exited on SIGHUP:\n\(proxy.log)")
            let stillServes = try await proxy.get("/_ping")
            #expect(stillServes.status == 200)
        }
    }

    @Test func readyStatusSaysTheDaemonIsNotReachableWhenItsSocketIsMissing() async throws {
        try await IntegrationContext.run { test in
            let missing = test.file("missing.sock").path
            let proxy = try await SocketActivatedProxy.start(
                test, socketPath: missing, arguments: ["--ready-timeout", "0.3"])
            let ping = try await proxy.get("/_ping")
            #expect(ping.status == 502, "\(ping)")
            let ready = await proxy.notify.wait { $0.contains { $0["READY"] == "1" } }
            #expect(ready, "no READY=1 after the ready timeout: \(proxy.notify.messages)\n\(proxy.log)")
            let status = proxy.notify.messages.first { $0["READY"] == "1" }?["STATUS"] ?? ""
            #expect(
                status
                    == "the Docker daemon at unix:\(missing) is not reachable yet; serving anyway (requests get 502)",
                "\(proxy.notify.messages)")
        }
    }

    private func waitForLine(in proxy: SocketActivatedProxy, containing text: String) async -> String? {
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(5)
        while clock.now < deadline {
            if let line = proxy.log.split(separator: "\n").first(where: { $0.hasPrefix("level=") && $0.contains(text) })
            {
                return String(line)
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }
}

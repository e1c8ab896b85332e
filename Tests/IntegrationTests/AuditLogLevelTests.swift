// LOG_LEVEL decides which audit records are written: warning keeps denials and drops allowed requests, info
// keeps both.
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

// Serialized: every test starts a proxy, and the whole integration run starts them all at once otherwise; on two
// cores that many proxies and docker CLIs starting together miss the harness's 10 s start-up limit.
@Suite("LOG_LEVEL filters audit records", .serialized)
struct AuditLogLevelTests {
    @Test(arguments: [("warning", false), ("info", true), ("debug", true)])
    func theLevelDecidesWhetherAllowedRequestsAreWritten(level: String, writesAllowed: Bool) async throws {
        try await IntegrationContext.run { test in
            let proxy = try await test.startProxy(["LOG_LEVEL": level], arguments: ["--log-target", "stderr"])
            let version = test.daemon.version.apiVersion
            let close = [("Connection", "close")]
            // The allowed request goes first: records leave in order, so once the denial is written, the allowed
            // record would have been written before it.
            let allowed = try await proxy.send([RawRequest.make("GET", "/_ping?m=\(test.tag)-allowed", headers: close)])
            let denied = try await proxy.send([
                RawRequest.make("GET", "/v\(version)/containers/json?m=\(test.tag)-denied", headers: close)
            ])
            #expect(allowed.responses.map(\.status) == [200])
            #expect(denied.responses.map(\.status) == [403])
            let sawDenial = await proxy.waitForLog(containing: "query=\"m=\(test.tag)-denied\"")
            #expect(sawDenial, "LOG_LEVEL=\(level) did not write the denial:\n\(proxy.log)")
            let lines = proxy.log.split(separator: "\n").filter { $0.hasPrefix("level=") }
            #expect(lines.filter { $0.contains("query=\"m=\(test.tag)-denied\"") }.count == 1, "\(lines)")
            #expect(
                lines.filter { $0.contains("query=\"m=\(test.tag)-allowed\"") }.count == (writesAllowed ? 1 : 0),
                "LOG_LEVEL=\(level):\n\(lines.joined(separator: "\n"))")
            #expect(lines.count == (writesAllowed ? 2 : 1), "\(lines)")
        }
    }

    @Test func aReloadAppliesAChangedLevel() async throws {
        try await IntegrationContext.run { test in
            let envFile = test.file("level.env")
            try Data("LOG_LEVEL=warning\n".utf8).write(to: envFile)
            let proxy = try await test.startProxy(
                [:], arguments: ["--env-file", envFile.path, "--log-target", "stderr"])
            let version = test.daemon.version.apiVersion
            let close = [("Connection", "close")]
            func sendPair(_ round: String) async throws {
                _ = try await proxy.send([
                    RawRequest.make("GET", "/_ping?m=\(test.tag)-\(round)-allowed", headers: close)
                ])
                _ = try await proxy.send([
                    RawRequest.make("GET", "/v\(version)/containers/json?m=\(test.tag)-\(round)-denied", headers: close)
                ])
                let written = await proxy.waitForLog(containing: "query=\"m=\(test.tag)-\(round)-denied\"")
                #expect(written, "no denial in round \(round):\n\(proxy.log)")
            }
            try await sendPair("before")
            #expect(!proxy.log.contains("m=\(test.tag)-before-allowed"), "LOG_LEVEL=warning wrote an allowed request")

            try Data("LOG_LEVEL=info\n".utf8).write(to: envFile)
            proxy.signal(SIGHUP)
            #expect(await proxy.waitForLog(containing: "reloaded the policy"), "\(proxy.log)")
            try await sendPair("after")
            #expect(
                proxy.log.contains("query=\"m=\(test.tag)-after-allowed\""),
                "the new level was not applied:\n\(proxy.log)")
        }
    }

    @Test func anUnknownLevelIsRefusedAtStart() async throws {
        let binary = try ProxyProcess.binaryPath()
        let result = try await ChildProcess.run(
            binary, ["--listen", "127.0.0.1:\(try ProxyProcess.freePort())", "--log-target", "stderr"],
            environment: ["PATH": "/usr/bin:/bin", "LOG_LEVEL": "verbose"], timeout: .seconds(10))
        #expect(!result.succeeded && !result.timedOut, "\(result)")
        #expect(result.stderr.contains("LOG_LEVEL=\"verbose\" is not a log level"), "\(result)")
    }
}

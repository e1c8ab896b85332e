// A Unix listener that picks the profile by the peer's uid: root reads containers, nobody only pings, and a user
// no client rule names is disconnected at once and recorded.
import Foundation
import Testing

@Suite("Unix listeners with client rules", .serialized)
struct ListenerUnixClientTests {
    /// What curl got for one request.
    struct CurlResult {
        /// The HTTP status, or 0 when no answer came.
        let status: Int
        let body: String
        let result: ChildResult
    }

    /// `curl --unix-socket` as `uid` (through setpriv, with that uid as its group and no other groups).
    static func curl(_ uid: Int, socket: String, path: String) async throws -> CurlResult {
        for tool in ["setpriv", "curl"] where ChildProcess.which(tool) == nil {
            throw HarnessError(
                "`\(tool)` is not installed: the per-uid listener tests run clients under other uids with setpriv "
                    + "(util-linux) and curl")
        }
        let marker = "\n@@status="
        let arguments = [
            "--reuid=\(uid)", "--regid=\(uid)", "--clear-groups", "curl", "--silent", "--show-error", "--max-time", "5",
            "--unix-socket", socket, "--write-out", "\(marker)%{http_code}", "http://docker\(path)",
        ]
        let result = try await ChildProcess.run("setpriv", arguments, timeout: .seconds(15))
        let parts = result.stdout.components(separatedBy: marker)
        return CurlResult(status: Int(parts.last ?? "") ?? 0, body: parts.dropLast().joined(), result: result)
    }

    @Test func thePeerUidPicksTheProfileAndAnUnknownUidIsDisconnected() async throws {
        try await IntegrationContext.run { test in
            let socket = test.file("proxy.sock").path
            let file = test.file("policy.yaml")
            let listener = "local-\(test.tag)"
            try """
            listeners:
              - name: \(listener)
                unix: \(socket)
                mode: "0666"
                clients:
                  - uid: 0
                    profile: containers-read
                  - uid: 65534
                    profile: ping-only
            profiles:
              containers-read:
                rules:
                  - name: ping
                    path: /_ping
                  - name: list
                    path: /containers/json
              ping-only:
                rules:
                  - name: ping
                    path: /_ping

            """.write(to: file, atomically: true, encoding: .utf8)
            // The test folder must be searchable by the other uids.
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: test.folder.path)
            try FileManager.default.setAttributes(
                [.posixPermissions: 0o755], ofItemAtPath: test.folder.deletingLastPathComponent().path)
            let proxy = try await ConfiguredProxy.start(test, tcpPorts: 0, unixPaths: [socket]) { _ in
                ["--config", file.path, "--log-target", "stderr"]
            }
            let attributes = try FileManager.default.attributesOfItem(atPath: socket)
            #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o666, "\(attributes)")

            let version = test.daemon.version.apiVersion
            let rootList = try await Self.curl(0, socket: socket, path: "/v\(version)/containers/json")
            #expect(rootList.status == 200, "\(rootList.result)\n\(proxy.output)")
            #expect(rootList.body.hasPrefix("["), "\(rootList.result)")
            let rootPS = try await DockerCLI(host: "unix://\(socket)").run(["ps"])
            #expect(rootPS.succeeded, "\(rootPS)\n\(proxy.output)")

            let nobodyList = try await Self.curl(65534, socket: socket, path: "/v\(version)/containers/json")
            #expect(nobodyList.status == 403, "\(nobodyList.result)\n\(proxy.output)")
            #expect(nobodyList.body.contains("no rule of profile ping-only allows it"), "\(nobodyList.result)")
            let nobodyPing = try await Self.curl(65534, socket: socket, path: "/_ping")
            #expect(nobodyPing.status == 200 && nobodyPing.body == "OK", "\(nobodyPing.result)\n\(proxy.output)")

            let clock = ContinuousClock()
            let started = clock.now
            let stranger = try await Self.curl(1234, socket: socket, path: "/_ping")
            let took = clock.now - started
            #expect(stranger.status == 0, "uid 1234 got an answer: \(stranger.result)")
            // Closed before curl could send (7), before an answer (52) or with a reset (56), depending on when curl
            // notices; the audit record below proves the proxy accepted the connection and closed it itself.
            #expect([7, 52, 56].contains(stranger.result.exitCode), "\(stranger.result)")
            #expect(took < .seconds(3), "the connection was not closed at once (\(took))")

            let records = try await AuditLines.wait({ proxy.stderr }) { records in
                records.contains { $0["client_uid"] == "1234" } && records.count >= 6
            }
            let byUID = Dictionary(grouping: records) { $0["client_uid"] ?? "?" }
            #expect(
                byUID["0"]?.contains {
                    $0["path"] == "/v\(version)/containers/json" && $0["profile"] == "containers-read"
                        && $0["rule"] == "list" && $0["decision"] == "allow" && $0["listener"] == listener
                } == true, "\(proxy.output)")
            #expect(
                byUID["65534"]?.map { [$0["path"] ?? "", $0["profile"] ?? "", $0["rule"] ?? "", $0["decision"] ?? ""] }
                    == [
                        ["/v\(version)/containers/json", "ping-only", "default-deny", "deny"],
                        ["/_ping", "ping-only", "ping", "allow"],
                    ], "\(proxy.output)")
            let refused = try #require(byUID["1234"]?.first, "no audit record for uid 1234:\n\(proxy.output)")
            #expect(byUID["1234"]?.count == 1)
            #expect(refused["decision"] == "deny")
            #expect(refused["rule"] == "no-client-rule")
            #expect(refused["listener"] == listener)
            #expect(refused["client_gid"] == "1234")
            #expect(refused["reason"]?.contains("no client rule of listener \(listener) matches") == true)
        }
    }
}

// Clients that vanish mid-transfer: a reset (SO_LINGER 0) in the middle of a large upload and in the middle of
// large downloads (a file out of a container, a container export, an image save). Each is recorded as
// client-gone, other clients go on undisturbed, and the proxy's descriptor count does not grow with the number of
// resets.
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

// The proxies run one event loop (--threads 1): each loop keeps its own pools of pipes and daemon connections,
// filled by the first transfers it happens to get, so with several loops the count after the first reset would
// depend on which loop the kernel picked.

extension FaultTests {
    @Suite("Clients reset mid-transfer")
    struct ClientResets {
        /// The background client of these tests: pings and denials on keep-alive connections, every answer checked.
        static func bystanders(_ proxy: ProxyProcess, version: String) -> BackgroundLoad {
            BackgroundLoad(
                port: proxy.port, connections: 2, depth: 2,
                exchanges: [.get("/_ping", 200), .get("/v\(version)/secrets", 403), .get("/version", 200)])
        }

        /// Waits until the proxy's stderr holds `count` audit records of client-gone requests to `pathSuffix`.
        static func goneRecords(_ proxy: ProxyProcess, pathSuffix: String, count: Int) async throws -> [[String:
            String]]
        {
            let records = try await AuditLines.wait(timeout: .seconds(15), { proxy.log }) { records in
                records.filter { $0["path"]?.hasSuffix(pathSuffix) == true }.count >= count
            }
            return records.filter { $0["path"]?.hasSuffix(pathSuffix) == true }
        }

        @Test(.timeLimit(.minutes(3)))
        func aClientResetMidUploadIsRecordedAsGoneAndLeaksNoDescriptor() async throws {
            try await IntegrationContext.run { test in
                let version = test.daemon.version.apiVersion
                let container = try await test.createContainer("reset-up", ["true"])
                let proxy = try await test.startProxy(
                    ["CONTAINERS": "1", "POST": "1", "ALLOW_ARCHIVE": "1"],
                    arguments: ["--log-target", "stderr", "--threads", "1"])
                let load = Self.bystanders(proxy, version: version)

                let fileSize = 100 << 20
                let archive = try TarStream(fileName: "big.bin", size: fileSize)
                let head =
                    "PUT /v\(version)/containers/\(container)/archive?path=/tmp HTTP/1.1\r\nHost: docker\r\n"
                    + "Content-Type: application/x-tar\r\nContent-Length: \(archive.totalSize)\r\n\r\n"
                let filler = [UInt8](repeating: 0x5A, count: 1 << 20)
                func resetOneUpload() async throws {
                    let upload = try proxy.connect()
                    try await upload.send(Array(head.utf8) + archive.header)
                    for _ in 0..<16 { try await upload.send(filler) }
                    try await Task.sleep(for: .milliseconds(100))
                    upload.reset()
                }

                // The first reset fills the proxy's pools (pipes, daemon connections); later ones must add nothing.
                try await resetOneUpload()
                _ = try await Self.goneRecords(proxy, pathSuffix: "/archive", count: 1)
                try await Task.sleep(for: .milliseconds(300))
                let settled = try ProcessProbe.descriptorCount(of: proxy.pid)
                let kinds = try ProcessProbe.descriptors(of: proxy.pid)
                let rounds = 6
                for _ in 0..<rounds { try await resetOneUpload() }
                let records = try await Self.goneRecords(proxy, pathSuffix: "/archive", count: 1 + rounds)
                let after = try await ProcessProbe.waitForDescriptors(of: proxy.pid, atMost: settled)
                let summary = await load.stop()

                #expect(records.count == 1 + rounds, "\(records)")
                for record in records {
                    #expect(record["decision"] == "client-gone", "\(record)")
                    #expect(record["level"] == "notice", "\(record)")
                    let bytesIn = Int(record["bytes_in"] ?? "") ?? -1
                    #expect(bytesIn >= 1 << 20 && bytesIn < archive.totalSize, "\(record)")
                }
                let afterKinds = try ProcessProbe.descriptors(of: proxy.pid)
                // Splice pipes may stay in the loops' pipe pool (a bounded cache); everything else must be back.
                #expect((afterKinds["pipe"] ?? 0) <= 8, "\(afterKinds)")
                #expect(
                    after - (afterKinds["pipe"] ?? 0) <= settled - (kinds["pipe"] ?? 0),
                    "descriptors grew from \(settled) \(kinds) to \(after) \(afterKinds) over \(rounds) resets")
                #expect(summary.problemCount == 0 && summary.requests > 0, "\(summary)")
                #expect(proxy.isRunning)
                // The container is still usable through the proxy.
                let listed = try await proxy.docker.run(["ps", "--all", "--filter", "name=\(container)", "-q"])
                #expect(listed.succeeded && listed.lines.count == 1, "\(listed)")
            }
        }

        @Test(.timeLimit(.minutes(4)))
        func aClientResetMidDownloadIsRecordedAsGoneAndLeaksNoDescriptor() async throws {
            try await IntegrationContext.run { test in
                let version = test.daemon.version.apiVersion
                let size = 64 << 20
                let container = try await test.runContainer(
                    "reset-down", ["sh", "-c", "head -c \(size) /dev/urandom > /big && touch /ready && sleep 600"])
                let clock = ContinuousClock()
                let deadline = clock.now + .seconds(60)
                while try await test.api.request("HEAD", "/containers/\(container)/archive?path=/ready").status != 200 {
                    guard clock.now < deadline else { throw HarnessError("the test container did not write /big") }
                    try await Task.sleep(for: .milliseconds(100))
                }
                // An image with the 64 MiB file in a layer, for a save that takes a while.
                let image = test.name("reset-save", kind: .image)
                try await test.direct.succeed(["commit", container, image], timeout: .seconds(120))
                let proxy = try await test.startProxy(
                    ["CONTAINERS": "1", "IMAGES": "1", "ALLOW_ARCHIVE": "1", "ALLOW_EXPORT": "1"],
                    arguments: ["--log-target", "stderr", "--threads", "1"])
                let load = Self.bystanders(proxy, version: version)

                let downloads = [
                    ("/archive", "/v\(version)/containers/\(container)/archive?path=/big"),
                    ("/export", "/v\(version)/containers/\(container)/export"),
                    ("/get", "/v\(version)/images/\(image)/get"),
                ]
                func resetOneDownload(_ target: String) async throws {
                    let download = try proxy.connect()
                    try await download.send(RawRequest.make("GET", target))
                    try await download.receiveRaw(atLeast: 4 << 20)
                    guard download.receivedPrefix.hasPrefix("HTTP/1.1 200") else {
                        throw HarnessError("GET \(target): \(download.receivedPrefix.prefix(400))")
                    }
                    download.reset()
                }

                for (_, target) in downloads { try await resetOneDownload(target) }
                for (suffix, _) in downloads { _ = try await Self.goneRecords(proxy, pathSuffix: suffix, count: 1) }
                try await Task.sleep(for: .milliseconds(300))
                let settled = try ProcessProbe.descriptorCount(of: proxy.pid)
                let kinds = try ProcessProbe.descriptors(of: proxy.pid)
                let rounds = 3
                for _ in 0..<rounds {
                    for (_, target) in downloads { try await resetOneDownload(target) }
                }
                var records: [[String: String]] = []
                for (suffix, _) in downloads {
                    records += try await Self.goneRecords(proxy, pathSuffix: suffix, count: 1 + rounds)
                }
                let after = try await ProcessProbe.waitForDescriptors(of: proxy.pid, atMost: settled)
                let summary = await load.stop()

                #expect(records.count == downloads.count * (1 + rounds), "\(records)")
                for record in records {
                    #expect(record["decision"] == "client-gone", "\(record)")
                    #expect(record["status"] == "200", "\(record)")
                    let bytesOut = Int(record["bytes_out"] ?? "") ?? -1
                    #expect(bytesOut >= 4 << 20 && bytesOut < size, "\(record)")
                }
                let afterKinds = try ProcessProbe.descriptors(of: proxy.pid)
                let resets = rounds * downloads.count
                // Splice pipes may stay in the loops' pipe pool (a bounded cache); everything else must be back.
                #expect((afterKinds["pipe"] ?? 0) <= 8, "\(afterKinds)")
                #expect(
                    after - (afterKinds["pipe"] ?? 0) <= settled - (kinds["pipe"] ?? 0),
                    "descriptors grew from \(settled) \(kinds) to \(after) \(afterKinds) over \(resets) resets"
                )
                #expect(summary.problemCount == 0 && summary.requests > 0, "\(summary)")
                #expect(proxy.isRunning)
                // A whole download still works after all that.
                let out = test.file("out")
                try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
                let copied = try await proxy.docker.run(["cp", "\(container):/ready", out.path + "/"])
                #expect(copied.succeeded, "\(copied)")
            }
        }
    }
}

// The acceptance-size transfer: one gibibyte into a container and back out through the proxy, byte-identical
// to what the daemon's own socket gives. Runs by default (CI included); SOCKET_PROXY_TEST_SKIP_LARGE=1 skips it
// (reported as skipped, not passed) for quick local runs.
import Foundation
import Testing

@Suite("A gibibyte through the proxy")
struct LargeTransferTests {
    static let size = 1 << 30

    @Test(
        .enabled(if: ProcessInfo.processInfo.environment["SOCKET_PROXY_TEST_SKIP_LARGE"] != "1"),
        .timeLimit(.minutes(15)))
    func copyingAGibibyteInAndOutMatchesTheDirectSocket() async throws {
        try await IntegrationContext.run { test in
            let name = try await test.createContainer("large-cp", ["sleep", "300"])
            let proxy = try await test.startProxy(["CONTAINERS": "1", "POST": "1", "ALLOW_ARCHIVE": "1"])
            let payload = try TestFiles.writeStamped(test.file("large.bin"), transfer: 0, size: Self.size)
            let viaProxy = test.file("via-proxy")
            let viaSocket = test.file("via-socket")
            try FileManager.default.createDirectory(at: viaProxy, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(at: viaSocket, withIntermediateDirectories: true)

            let copyIn = try await proxy.docker.run(
                ["cp", payload.path, "\(name):/large.bin"], timeout: .seconds(600))
            try #require(copyIn.succeeded, "\(copyIn)\nproxy log:\n\(tail(proxy.log))")
            let expected = try await sha256(of: payload)
            try FileManager.default.removeItem(at: payload)

            let copyOut = try await proxy.docker.run(
                ["cp", "\(name):/large.bin", viaProxy.path + "/"], timeout: .seconds(600))
            #expect(copyOut.succeeded, "\(copyOut)\nproxy log:\n\(tail(proxy.log))")
            let outOfProxy = viaProxy.appendingPathComponent("large.bin")
            #expect(fileSize(outOfProxy) == Self.size)
            #expect(try await sha256(of: outOfProxy) == expected, "the gibibyte copied out through the proxy differs")
            try? FileManager.default.removeItem(at: outOfProxy)

            try await test.direct.succeed(["cp", "\(name):/large.bin", viaSocket.path + "/"], timeout: .seconds(600))
            let outOfSocket = viaSocket.appendingPathComponent("large.bin")
            #expect(fileSize(outOfSocket) == Self.size)
            #expect(try await sha256(of: outOfSocket) == expected, "the gibibyte copied in through the proxy differs")
        }
    }
}

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
            let payload = try Self.writePatternFile(test.file("large.bin"), size: Self.size)
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

    /// Writes `size` bytes fast: one random 4 MiB block repeated, each copy stamped with its index in its first
    /// 8 bytes, so that a lost, repeated or reordered block changes the digest.
    static func writePatternFile(_ url: URL, size: Int) throws -> URL {
        let blockSize = 4 << 20
        guard let random = FileHandle(forReadingAtPath: "/dev/urandom") else {
            throw HarnessError("cannot open /dev/urandom")
        }
        var block = try random.read(upToCount: blockSize) ?? Data()
        try random.close()
        guard block.count == blockSize else { throw HarnessError("short read from /dev/urandom") }
        _ = FileManager.default.createFile(atPath: url.path, contents: nil)
        let sink = try FileHandle(forWritingTo: url)
        defer { try? sink.close() }
        var written = 0
        var index: UInt64 = 0
        while written < size {
            withUnsafeBytes(of: index.littleEndian) { stamp in
                block.replaceSubrange(0..<8, with: stamp)
            }
            let count = min(blockSize, size - written)
            try sink.write(contentsOf: count == blockSize ? block : block.prefix(count))
            written += count
            index += 1
        }
        return url
    }
}

// Bulk data through the proxy: docker cp both ways, docker save, docker build with the classic builder.
import Foundation
import Testing

@Suite("Bulk transfers through the proxy are byte-identical")
struct TransferTests {
    @Test func copyingFiftyMebibytesIntoAndOutOfAContainerKeepsEveryByte() async throws {
        try await IntegrationContext.run { test in
            let name = try await test.createContainer("cp", ["sleep", "300"])
            let proxy = try await test.startProxy(["CONTAINERS": "1", "POST": "1", "ALLOW_ARCHIVE": "1"])
            let payload = try test.randomFile("payload.bin", size: 50 << 20)
            let viaProxy = test.file("via-proxy")
            let viaSocket = test.file("via-socket")
            try FileManager.default.createDirectory(at: viaProxy, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(at: viaSocket, withIntermediateDirectories: true)

            let copyIn = try await proxy.docker.run(["cp", payload.path, "\(name):/tmp/payload.bin"])
            #expect(copyIn.succeeded, "\(copyIn)\nproxy log:\n\(proxy.log)")
            let copyOut = try await proxy.docker.run(["cp", "\(name):/tmp/payload.bin", viaProxy.path + "/"])
            #expect(copyOut.succeeded, "\(copyOut)\nproxy log:\n\(proxy.log)")
            try await test.direct.succeed(["cp", "\(name):/tmp/payload.bin", viaSocket.path + "/"])

            let expected = try await sha256(of: payload)
            let outOfProxy = viaProxy.appendingPathComponent("payload.bin")
            let outOfSocket = viaSocket.appendingPathComponent("payload.bin")
            #expect(fileSize(outOfSocket) == 50 << 20)
            #expect(try await sha256(of: outOfSocket) == expected, "the copy into the container was not exact")
            #expect(fileSize(outOfProxy) == 50 << 20)
            #expect(try await sha256(of: outOfProxy) == expected, "the copy out of the container was not exact")
        }
    }

    @Test func savingTheTestImageMatchesSavingItDirectly() async throws {
        try await IntegrationContext.run { test in
            let proxy = try await test.startProxy(["IMAGES": "1"])
            let viaProxy = test.file("via-proxy.tar")
            let viaSocket = test.file("via-socket.tar")
            let saved = try await proxy.docker.run(["save", "--output", viaProxy.path, TestImage.reference])
            #expect(saved.succeeded, "\(saved)\nproxy log:\n\(proxy.log)")
            try await test.direct.succeed(["save", "--output", viaSocket.path, TestImage.reference])
            #expect(fileSize(viaSocket) > 1 << 20)
            #expect(fileSize(viaProxy) == fileSize(viaSocket))
            #expect(try await sha256(of: viaProxy) == (try await sha256(of: viaSocket)))
        }
    }

    @Test func buildingFromTheLocalBaseImageWorks() async throws {
        try await IntegrationContext.run { test in
            let proxy = try await test.startProxy(["BUILD": "1", "POST": "1"])
            let image = test.name("build", kind: .image)
            let context = test.file("build-context")
            try FileManager.default.createDirectory(at: context, withIntermediateDirectories: true)
            try Data(
                """
                FROM \(TestImage.reference)
                COPY greeting.txt /greeting.txt
                RUN echo built-\(test.tag) >> /greeting.txt
                CMD ["cat", "/greeting.txt"]

                """.utf8
            ).write(to: context.appendingPathComponent("Dockerfile"))
            try Data("hello-\(test.tag)\n".utf8).write(to: context.appendingPathComponent("greeting.txt"))

            // The classic builder: BuildKit would want a session and, for its frontend, a registry.
            let built = try await proxy.docker.run(
                ["build", "--network", "none", "--tag", image, context.path], timeout: .seconds(120),
                environment: ["DOCKER_BUILDKIT": "0"])
            #expect(built.succeeded, "\(built)\nproxy log:\n\(proxy.log)")
            try #require(try await test.api.image(image) != nil, "the built image \(image) is not on the daemon")
            let container = test.name("build-run")
            let ran = try await test.direct.succeed(["run", "--network", "none", "--name", container, image])
            #expect(ran.lines == ["hello-\(test.tag)", "built-\(test.tag)"], "\(ran)")
        }
    }
}

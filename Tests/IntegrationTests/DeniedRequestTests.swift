// Requests the policy denies: the CLI shows the proxy's message and the daemon's state is unchanged.
import Foundation
import Testing

@Suite("Denied requests leave the daemon unchanged")
struct DeniedRequestTests {
    @Test func execIsDeniedWithoutEXEC() async throws {
        try await IntegrationContext.run { test in
            let name = try await test.runContainer("exec-denied", ["sleep", "300"])
            let since = Date()
            let proxy = try await test.startProxy(["CONTAINERS": "1", "POST": "1"])
            let result = try await proxy.docker.run(["exec", name, "touch", "/tmp/exec-ran"])
            #expect(result.exitCode != 0, "\(result)")
            #expect(result.stderr.contains(proxyDenialText), "\(result)\nproxy log:\n\(proxy.log)")
            let details = try #require(try await test.api.container(name))
            #expect(details.execIDs ?? [] == [], "an exec instance was created: \(details.execIDs ?? [])")
            // An exec that already ended is gone from ExecIDs, but not from the daemon's event log.
            let events = try await test.events(of: name, since: since)
            #expect(!events.contains { $0.hasPrefix("exec_") }, "the daemon logged exec events: \(events)")
            // Looked at without exec, so that the check itself creates none.
            let marker = try await test.direct.run(["cp", "\(name):/tmp/exec-ran", "-"])
            #expect(marker.exitCode != 0, "the denied exec ran: /tmp/exec-ran exists")
        }
    }

    @Test func copyIsDeniedWithoutALLOW_ARCHIVE() async throws {
        try await IntegrationContext.run { test in
            let name = try await test.createContainer("cp-denied", ["sleep", "300"])
            let known = try test.randomFile("known.bin", size: 4096)
            try await test.direct.succeed(["cp", known.path, "\(name):/tmp/known.bin"])
            let proxy = try await test.startProxy(["CONTAINERS": "1", "POST": "1"])

            let upload = try test.randomFile("upload.bin", size: 4096)
            let copyIn = try await proxy.docker.run(["cp", upload.path, "\(name):/tmp/upload.bin"])
            #expect(copyIn.exitCode != 0, "\(copyIn)")
            #expect(copyIn.stderr.contains(proxyDenialText), "\(copyIn)\nproxy log:\n\(proxy.log)")
            let uploaded = try await test.direct.run(["cp", "\(name):/tmp/upload.bin", "-"])
            #expect(uploaded.exitCode != 0, "the denied copy wrote /tmp/upload.bin into the container")

            let out = test.file("out")
            try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
            let copyOut = try await proxy.docker.run(["cp", "\(name):/tmp/known.bin", out.path + "/"])
            #expect(copyOut.exitCode != 0, "\(copyOut)")
            #expect(copyOut.stderr.contains(proxyDenialText), "\(copyOut)\nproxy log:\n\(proxy.log)")
            #expect(fileSize(out.appendingPathComponent("known.bin")) == -1, "the denied copy read the file out")
        }
    }

    @Test func volumeCreateIsDeniedWhenVOLUMESIs0() async throws {
        try await IntegrationContext.run { test in
            let proxy = try await test.startProxy(["CONTAINERS": "1", "POST": "1"])
            let volume = test.name("volume", kind: .volume)
            let before = try await test.api.volumeNames()
            let result = try await proxy.docker.run(["volume", "create", volume])
            #expect(result.exitCode != 0, "\(result)")
            #expect(result.stderr.contains(proxyDenialText), "\(result)\nproxy log:\n\(proxy.log)")
            let after = try await test.api.volumeNames()
            #expect(!after.contains(volume))
            #expect(after == before)
        }
    }

    @Test func networkCreateIsDeniedWhenNETWORKSIs0() async throws {
        try await IntegrationContext.run { test in
            let proxy = try await test.startProxy(["CONTAINERS": "1", "POST": "1"])
            let network = test.name("network", kind: .network)
            let before = try await test.api.networkNames()
            let result = try await proxy.docker.run(["network", "create", "--internal", network])
            #expect(result.exitCode != 0, "\(result)")
            #expect(result.stderr.contains(proxyDenialText), "\(result)\nproxy log:\n\(proxy.log)")
            let after = try await test.api.networkNames()
            #expect(!after.contains(network))
            #expect(after == before)
        }
    }

    @Test func stopIsDeniedWhenPOSTIs0() async throws {
        try await IntegrationContext.run { test in
            let name = try await test.runContainer("stop-denied", ["sleep", "300"])
            let before = try #require(try await test.api.container(name))
            let proxy = try await test.startProxy(["CONTAINERS": "1"])
            let result = try await proxy.docker.run(["stop", "--time", "1", name])
            #expect(result.exitCode != 0, "\(result)")
            #expect(result.stderr.contains(proxyDenialText), "\(result)\nproxy log:\n\(proxy.log)")
            let after = try #require(try await test.api.container(name))
            #expect(after.state.running, "the container was stopped")
            #expect(after.state.startedAt == before.state.startedAt, "the container was restarted")
        }
    }
}

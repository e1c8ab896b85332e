// CONTAINERS=1 on its own: the docker CLI can look at containers through the proxy but cannot create one.
import Foundation
import Testing

@Suite("CONTAINERS=1 alone gives read-only container access")
struct ReadOnlyContainerAccessTests {
    @Test func dockerPsListsTheDaemonsContainers() async throws {
        try await IntegrationContext.run { test in
            let name = try await test.createContainer("ps-ro", ["true"])
            let proxy = try await test.startProxy(["CONTAINERS": "1"])
            let result = try await proxy.docker.run(
                ["ps", "--all", "--filter", "label=\(test.label)", "--format", "{{.Names}}"])
            #expect(result.succeeded, "\(result)\nproxy log:\n\(proxy.log)")
            #expect(result.lines == [name], "\(result)")
        }
    }

    @Test func dockerRunIsDeniedAndCreatesNoContainer() async throws {
        try await IntegrationContext.run { test in
            let proxy = try await test.startProxy(["CONTAINERS": "1"])
            let name = test.name("run-denied")
            let idsBefore = try await test.api.containerIDs()
            let result = try await proxy.docker.run(
                [
                    "run", "--network", "none", "--name", name, "--label", test.label, TestImage.reference,
                    "echo", "ran-\(test.tag)",
                ])
            #expect(result.exitCode != 0, "\(result)")
            #expect(result.stderr.contains(proxyDenialText), "\(result)\nproxy log:\n\(proxy.log)")
            #expect(try await test.api.container(name) == nil)
            #expect(try await test.api.containers(mentioning: test.tag).isEmpty)
            // Parallel tests create containers of their own; none of the new ones may be ours.
            let newIDs = try await test.api.containerIDs().subtracting(idsBefore)
            for id in newIDs {
                let details = try await test.api.container(id)
                #expect(details?.name != "/" + name, "a container named \(name) was created")
            }
        }
    }
}

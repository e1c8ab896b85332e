// Everyday container commands through a proxy that allows them: ps, inspect, run (attached), logs -f.
import Foundation
import Testing

@Suite("Container commands work through the proxy when allowed")
struct ContainerWorkflowTests {
    @Test func psAndInspectShowWhatTheDaemonShows() async throws {
        try await IntegrationContext.run { test in
            let name = try await test.runContainer("inspect", ["sleep", "300"])
            let direct = try #require(try await test.api.container(name))
            let proxy = try await test.startProxy(["CONTAINERS": "1", "POST": "1"])

            let ps = try await proxy.docker.run(
                ["ps", "--no-trunc", "--filter", "label=\(test.label)", "--format", "{{.ID}} {{.Names}}"])
            #expect(ps.succeeded, "\(ps)\nproxy log:\n\(proxy.log)")
            #expect(ps.lines == ["\(direct.id) \(name)"], "\(ps)")

            let inspect = try await proxy.docker.run(
                ["inspect", "--format", "{{.Id}} {{.Name}} {{.State.Running}}", name])
            #expect(inspect.succeeded, "\(inspect)\nproxy log:\n\(proxy.log)")
            #expect(inspect.lines == ["\(direct.id) /\(name) true"], "\(inspect)")
        }
    }

    @Test func runPrintsTheContainersOutputAndItsExitStatus() async throws {
        try await IntegrationContext.run { test in
            let proxy = try await test.startProxy(["CONTAINERS": "1", "POST": "1", "ALLOW_ATTACH": "1"])
            let name = test.name("run")
            let result = try await proxy.docker.run(
                [
                    "run", "--network", "none", "--name", name, "--label", test.label, TestImage.reference,
                    "sh", "-c", "echo hello-\(test.tag); echo oops-\(test.tag) >&2; exit 3",
                ])
            #expect(result.exitCode == 3, "\(result)\nproxy log:\n\(proxy.log)")
            #expect(result.stdout == "hello-\(test.tag)\n", "\(result)")
            #expect(result.stderr.contains("oops-\(test.tag)"), "\(result)")
            let details = try #require(try await test.api.container(name))
            #expect(details.state.status == "exited")
            #expect(details.state.exitCode == 3)
        }
    }

    @Test func logsFollowDeliversEveryLineAndEndsWhenTheContainerExits() async throws {
        try await IntegrationContext.run { test in
            let proxy = try await test.startProxy(["CONTAINERS": "1"])
            let name = try await test.runContainer(
                "logs", ["sh", "-c", "for i in $(seq 1 40); do echo line-$i; echo err-$i >&2; sleep 0.05; done"])
            let result = try await proxy.docker.run(["logs", "--follow", name], timeout: .seconds(60))
            #expect(result.succeeded, "\(result)\nproxy log:\n\(proxy.log)")
            #expect(result.lines == (1...40).map { "line-\($0)" }, "\(result)")
            #expect(
                result.stderr.split(whereSeparator: \.isNewline).map(String.init) == (1...40).map { "err-\($0)" },
                "\(result)")
            let details = try #require(try await test.api.container(name))
            #expect(!details.state.running, "logs -f ended while the container was still running")
        }
    }
}

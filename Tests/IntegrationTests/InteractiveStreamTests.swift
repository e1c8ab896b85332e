// Hijacked connections through the proxy: exec with stdin (and its half-close) and attach.
import Foundation
import Testing

@Suite("Interactive streams pass through the proxy")
struct InteractiveStreamTests {
    @Test func execWithStdinEchoesEveryByteAndEndsAfterStdinCloses() async throws {
        try await IntegrationContext.run { test in
            let name = try await test.runContainer("exec", ["sleep", "300"])
            let proxy = try await test.startProxy(["CONTAINERS": "1", "POST": "1", "EXEC": "1"])
            let input = try test.randomFile("exec-input.bin", size: 2 << 20)
            // `cat` ends only when it reads end-of-file: the CLI's half-close must reach the daemon.
            let result = try await proxy.docker.run(
                ["exec", "-i", name, "cat"], input: .file(input), timeout: .seconds(60))
            #expect(result.succeeded, "\(result)\nproxy log:\n\(proxy.log)")
            #expect(result.stdoutData == (try Data(contentsOf: input)), "exec output differs from its input")
        }
    }

    @Test func attachSendsInputAndReceivesOutput() async throws {
        try await IntegrationContext.run { test in
            let name = try await test.runContainer(
                "attach",
                ["sh", "-c", #"while read line; do [ "$line" = quit ] && exit 0; echo "echo:$line"; done"#],
                options: ["--interactive"])
            let proxy = try await test.startProxy(["CONTAINERS": "1", "POST": "1", "ALLOW_ATTACH": "1"])
            let attach = test.own(try proxy.docker.start(["attach", name], input: .interactive))
            // Each line's answer is awaited before the next is sent, so nothing depends on timing.
            for line in ["first-\(test.tag)", "second-\(test.tag)"] {
                try attach.write(line + "\n")
                let answered = try await attach.waitForOutput(containing: "echo:" + line, timeout: .seconds(20))
                #expect(answered, "no echo for \(line): \(attach.stdoutSoFar)\n\(attach.stderrSoFar)\n\(proxy.log)")
                guard answered else { return }
            }
            try attach.write("quit\n")
            let result = await attach.wait(timeout: .seconds(30))
            #expect(result.succeeded, "\(result)\nproxy log:\n\(proxy.log)")
            #expect(result.lines == ["echo:first-\(test.tag)", "echo:second-\(test.tag)"], "\(result)")
            let details = try #require(try await test.api.container(name))
            #expect(!details.state.running)
            #expect(details.state.exitCode == 0)
        }
    }
}

// Nothing lost, duplicated, reordered or crossed between transfers when many run at once: twenty 100 MiB copies
// into containers, twenty 100 MiB copies out of them and four 100 MiB exec streams (through a hijacked tunnel, both
// ways), all at the same time and under a background load of small requests, are byte-identical to what the
// daemon's own socket holds. Every file is different (each 4 MiB block carries its transfer and block number), so
// bytes delivered to the wrong transfer change a digest too.
//
// About six minutes on two busy cores (two preparing the files and containers, two for the transfers, the rest
// checking digests); SOCKET_PROXY_TEST_SKIP_LARGE=1 skips it, like the gibibyte test (reported as skipped, not
// passed).
import Foundation
import Testing

extension FaultTests {
    @Suite("Many large transfers at once")
    struct ConcurrentTransfers {
        static let size = 100 << 20
        static let copies = 20
        static let execStreams = 4

        /// What one transfer found.
        struct Outcome: Sendable {
            let label: String
            let problem: String?
        }

        @Test(
            .enabled(if: ProcessInfo.processInfo.environment["SOCKET_PROXY_TEST_SKIP_LARGE"] != "1"),
            .timeLimit(.minutes(15)))
        func twentyConcurrentTransfersEachWayUnderLoadAreByteIdentical() async throws {
            try await IntegrationContext.run { test in
                let clock = ContinuousClock()
                let began = clock.now
                let version = test.daemon.version.apiVersion
                // Each container makes its own 100 MiB to be copied out, and records its digest as the daemon sees it.
                let script =
                    "head -c \(Self.size) /dev/urandom > /out.bin && sha256sum /out.bin > /out.sha && touch /ready "
                    + "&& sleep 1200"
                let containers = try await withThrowingTaskGroup(of: String.self) { group in
                    for index in 0..<Self.copies {
                        group.addTask { try await test.runContainer("bulk\(index)", ["sh", "-c", script]) }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }.sorted()
                // Files to copy in, all different, with their digests.
                var inputs: [URL] = []
                for index in 0..<Self.copies {
                    inputs.append(
                        try TestFiles.writeStamped(test.file("in-\(index).bin"), transfer: index, size: Self.size))
                }
                let inputDigests = try await Self.digests(of: inputs)
                let deadline = clock.now + .seconds(180)
                for container in containers {
                    while try await test.api.request("HEAD", "/containers/\(container)/archive?path=/ready").status
                        != 200
                    {
                        guard clock.now < deadline else { throw HarnessError("\(container) did not write /out.bin") }
                        try await Task.sleep(for: .milliseconds(200))
                    }
                }
                var outputDigests: [String] = []
                for container in containers {
                    let line = try await test.direct.succeed(["exec", container, "cat", "/out.sha"])
                    outputDigests.append(String(line.stdout.prefix(64)))
                }
                let prepared = clock.now - began

                let proxy = try await test.startProxy([
                    "CONTAINERS": "1", "POST": "1", "ALLOW_ARCHIVE": "1", "EXEC": "1",
                ])
                let load = BackgroundLoad(
                    port: proxy.port, connections: 3, depth: 4,
                    exchanges: [
                        .get("/_ping", 200), .get("/v\(version)/containers/json", 200),
                        .get("/v\(version)/secrets", 403),
                        .get("/version", 200), .get("/v\(version)/images/json", 403),
                    ])
                let docker = proxy.docker
                let started = clock.now
                let outcomes = try await withThrowingTaskGroup(of: Outcome.self) { group in
                    for (index, container) in containers.enumerated() {
                        let input = inputs[index]
                        group.addTask {
                            let copy = try await docker.run(
                                ["cp", input.path, "\(container):/in.bin"], timeout: .seconds(900))
                            return Outcome(label: "cp in \(index)", problem: copy.succeeded ? nil : "\(copy)")
                        }
                        let folder = test.file("out-\(index)")
                        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                        group.addTask {
                            let copy = try await docker.run(
                                ["cp", "\(container):/out.bin", folder.path + "/"], timeout: .seconds(900))
                            return Outcome(label: "cp out \(index)", problem: copy.succeeded ? nil : "\(copy)")
                        }
                    }
                    for index in 0..<Self.execStreams {
                        let input = inputs[index]
                        let output = test.file("exec-\(index).bin")
                        let container = containers[index]
                        group.addTask {
                            let child = try ChildProcess.start(
                                DockerCLI.executable, ["exec", "-i", container, "cat"],
                                environment: docker.environment(),
                                input: .file(input), output: output)
                            let result = await child.wait(timeout: .seconds(900))
                            return Outcome(
                                label: "exec \(index)",
                                problem: result.exitCode == 0 && !result.timedOut
                                    ? nil : "exit \(result.exitCode), timed out \(result.timedOut): \(result.stderr)")
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                let transferred = clock.now - started
                let summary = await load.stop()

                let failed = outcomes.filter { $0.problem != nil }
                #expect(failed.isEmpty, "\(failed.map { "\($0.label): \($0.problem ?? "")" }.joined(separator: "\n"))")
                #expect(outcomes.count == 2 * Self.copies + Self.execStreams)

                // Copied in: the daemon's own digest of each file in its container.
                var mismatches: [String] = []
                let direct = test.direct
                let inside = try await withThrowingTaskGroup(of: (Int, String).self) { group in
                    for (index, container) in containers.enumerated() {
                        group.addTask {
                            let digest = try await direct.succeed(
                                ["exec", container, "sha256sum", "/in.bin"], timeout: .seconds(300))
                            return (index, String(digest.stdout.prefix(64)))
                        }
                    }
                    return try await group.reduce(into: [Int: String]()) { $0[$1.0] = $1.1 }
                }
                for index in 0..<Self.copies where inside[index] != inputDigests[index] {
                    mismatches.append("cp in \(index)")
                }
                // Copied out and echoed back: digests here.
                let outputs = (0..<Self.copies).map { test.file("out-\($0)").appendingPathComponent("out.bin") }
                for (index, digest) in try await Self.digests(of: outputs).enumerated()
                where digest != outputDigests[index] {
                    mismatches.append("cp out \(index) (\(fileSize(outputs[index])) bytes)")
                }
                let echoes = (0..<Self.execStreams).map { test.file("exec-\($0).bin") }
                for (index, digest) in try await Self.digests(of: echoes).enumerated()
                where digest != inputDigests[index] {
                    mismatches.append("exec \(index) (\(fileSize(echoes[index])) bytes)")
                }
                #expect(mismatches.isEmpty, "not byte-identical: \(mismatches)")
                #expect(summary.problemCount == 0 && summary.requests > 100, "background load: \(summary)")
                #expect(proxy.isRunning)

                let megabytes = Double((2 * Self.copies + 2 * Self.execStreams) * Self.size) / 1e6
                print(
                    "bulk: prepared in \(prepared); \(outcomes.count) transfers (\(Int(megabytes)) MB through the "
                        + "proxy) in \(transferred), \(Int(megabytes / transferred.seconds)) MB/s; background load: "
                        + "\(summary)")
            }
        }

        /// SHA-256 digests of files, several at a time.
        static func digests(of files: [URL]) async throws -> [String] {
            try await withThrowingTaskGroup(of: (Int, String).self) { group in
                for (index, file) in files.enumerated() {
                    group.addTask { (index, try await sha256(of: file)) }
                }
                var result = [String](repeating: "", count: files.count)
                for try await (index, digest) in group { result[index] = digest }
                return result
            }
        }
    }
}

// The differential test run live against the llhttp of the `node` on PATH, over freshly mutated requests.
import Foundation
import SocketProxyCore
import Testing

/// The recorded corpus (``HTTPDifferentialTests``) pins what two references said once; this test asks llhttp
/// again, now, about requests nobody recorded: mutations of the corpus's generated cases drawn from a seeded
/// generator. The same comparison applies: whatever llhttp rejects, socket-proxy rejects too (except the
/// ``HTTPDifferentialTests/KnownDifference``s), and where both read a request they read the same method, target,
/// fields, body length and end.
///
/// The seed is fixed so that a failure reproduces; `SOCKET_PROXY_DIFFERENTIAL_SEED=N` explores other mutations.
/// Without `node` the test is skipped, saying so (Debian: `apt-get install nodejs`).
struct HTTPDifferentialLiveTests {
    static let node = executableOnPath("node")
    static let mutantCount = 4000

    @Test(.enabled(if: node != nil, "node is not on PATH; install it (Debian: nodejs) to compare with llhttp live"))
    func llhttpRejectsNothingSocketProxyAcceptsAndReadsAcceptedRequestsAlike() throws {
        let seed = ProcessInfo.processInfo.environment["SOCKET_PROXY_DIFFERENTIAL_SEED"].flatMap(UInt64.init) ?? 7230
        var random = SeededRandom(seed: seed)
        let bases = HTTPDifferentialTests.corpus.cases.filter { $0.name.hasPrefix("gen/") }.map(\.bytes)
        var cases = bases
        for _ in 0..<Self.mutantCount {
            cases.append(Mutator.mutate(bases.randomElement(using: &random)!, others: bases, using: &random))
        }
        let verdicts = try Self.llhttp(cases)
        try #require(verdicts.count == cases.count, "llhttp.js answered \(verdicts.count) of \(cases.count) cases")

        var tally: [String: Int] = [:]
        var mismatches: [String] = []
        for (bytes, theirs) in zip(cases, verdicts) {
            let ours = HTTPDifferentialTests.read(bytes)
            switch HTTPDifferentialTests.compare(ours: ours, theirs: theirs, reference: "llhttp", bytes: bytes) {
            case .agree: tally["agree", default: 0] += 1
            case .stricter: tally["socket-proxy stricter", default: 0] += 1
            case .known(let difference): tally["known: \(difference.rawValue)", default: 0] += 1
            case .mismatch(let why):
                mismatches.append("\(why); socket-proxy: \(ours); llhttp: \(theirs); bytes: \(Self.show(bytes))")
            }
        }
        let summary = tally.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
        let shown = mismatches.prefix(20).joined(separator: "\n")
        #expect(mismatches.isEmpty, "seed \(seed): \(mismatches.count) mismatches (\(summary)):\n\(shown)")
        print("HTTPDifferentialLiveTests: seed \(seed), \(cases.count) cases; \(summary)")
    }

    /// Runs scripts/differential/llhttp.js over the cases in one node process.
    static func llhttp(_ cases: [[UInt8]]) throws -> [HTTPDifferentialTests.Reading] {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/differential/llhttp.js")
        let input = FileManager.default.temporaryDirectory.appendingPathComponent("llhttp-\(UUID().uuidString).json")
        try JSONEncoder().encode(cases.map { Data($0).base64EncodedString() }).write(to: input)
        defer { try? FileManager.default.removeItem(at: input) }

        let process = Process()
        process.executableURL = node
        process.arguments = [script.path]
        process.standardInput = try FileHandle(forReadingFrom: input)
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        // Read before waiting: the verdicts are larger than a pipe holds.
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "node \(script.path) exited with \(process.terminationStatus)")
        return try JSONDecoder().decode([HTTPDifferentialTests.Reading].self, from: data)
    }

    static func executableOnPath(_ name: String) -> URL? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = URL(fileURLWithPath: String(directory)).appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) {
                return candidate
            }
        }
        return nil
    }

    static func show(_ bytes: [UInt8]) -> String {
        HTTPDifferentialTests.latin1(bytes[...]).debugDescription
    }
}

/// Byte-level mutations aimed at framing: each inserts, removes or rewrites the bytes that decide where a line, a
/// field or a body ends, so most mutants stay close to a request and probe one rule.
enum Mutator {
    static let tokens: [[UInt8]] =
        [
            "\r\n", "\n", "\r", " ", "\t", ":", ",", ";", "\0", "\u{0B}", "0", "5", "f", "-", "+", "\"", "chunked",
            "Transfer-Encoding: chunked\r\n", "Content-Length: 5\r\n", "Content-Length: 0\r\n", "Host: x\r\n",
            "Connection: close\r\n", "Upgrade: tcp\r\n", "0\r\n\r\n", "5\r\nhello\r\n", "HTTP/1.0", "HTTP/1.1",
            "GET /secrets HTTP/1.1\r\nHost: x\r\n\r\n", "%2e", "/..", "//",
        ].map { Array($0.utf8) } + [[0xFF], [0x80], [0x7F]]

    static func mutate(
        _ base: [UInt8], others: [[UInt8]], using random: inout SeededRandom
    ) -> [UInt8] {
        var bytes = base
        for _ in 0..<Int.random(in: 1...3, using: &random) {
            let at = Int.random(in: 0...bytes.count, using: &random)
            switch Int.random(in: 0..<7, using: &random) {
            case 0, 1:
                bytes.insert(contentsOf: tokens.randomElement(using: &random)!, at: at)
            case 2 where at < bytes.count:
                let end = min(bytes.count, at + Int.random(in: 1...4, using: &random))
                bytes.removeSubrange(at..<end)
            case 3 where at < bytes.count:
                bytes[at] = UInt8.random(in: 0...255, using: &random)
            case 4 where at < bytes.count:
                // Flip the case of a letter: names and codings are case-insensitive, methods and versions are not.
                if (0x41...0x5A).contains(bytes[at]) || (0x61...0x7A).contains(bytes[at]) { bytes[at] ^= 0x20 }
            case 5:
                // Another request behind this one: a pipeline, or a request hidden in a body.
                bytes += others.randomElement(using: &random)!
            default:
                // Repeat a line: duplicate fields, duplicate chunk-size lines.
                let lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false)
                if let line = lines.randomElement(using: &random), !line.isEmpty {
                    bytes.insert(contentsOf: Array(line) + [0x0A], at: min(at, bytes.count))
                }
            }
        }
        return bytes
    }
}

/// SplitMix64, so that a seed names one set of mutants.
struct SeededRandom: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xbf58_476d_1ce4_e5b9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94d0_49bb_1331_11eb
        return mixed ^ (mixed >> 31)
    }
}

// The audit trail on stderr: one logfmt or JSON line per request, and no request target, however it is encoded,
// can end a line early and forge a record of its own.
import Foundation
import Testing

// Serialized: every test starts a proxy, and the whole integration run starts them all at once otherwise; on two
// cores that many proxies and docker CLIs starting together miss the harness's 10 s start-up limit.
@Suite("Audit lines on stderr", .serialized)
struct AuditStderrTests {
    /// Requests whose targets try to smuggle a line break or a terminal escape into the log, each on its own
    /// connection; returns the statuses the proxy answered with.
    static func sendHostileRequests(_ proxy: ProxyProcess, version: String) async throws -> [Int] {
        let requests = [
            // Allowed; the query is logged raw, so the encoded line feed stays three harmless characters.
            RawRequest.make(
                "GET", "/v\(version)/containers/json?x=%0Alevel=info%20forged", headers: [("Connection", "close")]),
            // A path with encoded CR, LF and ESC: refused as malformed, logged as sent.
            RawRequest.make(
                "GET", "/v\(version)/containers%0D%0A%1b/json?y=%1b%5b2J", headers: [("Connection", "close")]),
            // Bare line feeds and no header block: the second "line" looks like a logfmt record.
            "GET /_ping?z=1 HTTP/1.1\nlevel=info msg=forged decision=allow\n\n",
            // A raw escape byte and carriage return inside the target.
            "GET /_ping?e=\u{1B}[31m\rlevel=info%20forged HTTP/1.1\r\nHost: docker\r\n\r\n",
        ]
        var statuses: [Int] = []
        for request in requests {
            let sent = try await proxy.send([request])
            statuses.append(sent.responses.first?.status ?? 0)
        }
        return statuses
    }

    /// The lines of the proxy's output that start with `prefix`, once there are `count` of them and no more
    /// arrive for a moment.
    static func lines(of proxy: ProxyProcess, startingWith prefix: String, count: Int) async throws -> [String] {
        func current() -> [String] {
            proxy.log.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).filter {
                $0.hasPrefix(prefix)
            }
        }
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(10)
        while current().count < count && clock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        try await Task.sleep(for: .milliseconds(300))
        return current()
    }

    @Test func logfmtHasOneLinePerRequestAndNoForgedLines() async throws {
        try await IntegrationContext.run { test in
            let proxy = try await test.startProxy(["CONTAINERS": "1"], arguments: ["--log-target", "stderr"])
            let version = test.daemon.version.apiVersion
            let statuses = try await Self.sendHostileRequests(proxy, version: version)
            #expect(statuses == [200, 400, 400, 400], "proxy log:\n\(proxy.log)")
            let lines = try await Self.lines(of: proxy, startingWith: "level=", count: 4)
            #expect(lines.count == 4, "one audit line per request:\n\(proxy.log)")
            let records = try lines.map { try LogfmtLine.parse($0) }
            #expect(records.map { $0["decision"] } == ["allow", "malformed", "malformed", "malformed"], "\(lines)")
            #expect(records.map { $0["level"] } == ["info", "warning", "warning", "warning"], "\(lines)")
            #expect(records.map { $0["status"] } == ["200", "400", "400", "400"], "\(lines)")
            #expect(records.allSatisfy { $0["listener"] == "127.0.0.1:\(proxy.port)" && $0["phase"] == "end" })

            #expect(records[0]["query"] == "x=%0Alevel=info%20forged", "\(lines[0])")
            #expect(records[0]["path"] == "/v\(version)/containers/json")
            #expect(records[0]["section"] == "containers")
            #expect(records[0]["rule"] == "CONTAINERS")
            #expect(records[0]["api_version"] == version)
            #expect(
                records[0]["msg"]?.hasPrefix("allow GET /v\(version)/containers/json?x=%0Alevel=info%20forged -> 200")
                    == true)
            #expect(records[1]["path"] == "/v\(version)/containers%0D%0A%1b/json", "\(lines[1])")
            #expect(records[1]["query"] == "y=%1b%5b2J", "\(lines[1])")


            // Nothing anywhere in the output starts a line the way a forged record would.
            let output = proxy.log.split(separator: "\n").map(String.init)
            #expect(!output.contains { $0.hasPrefix("level=info forged") || $0.hasPrefix("level=info msg=forged") })
            #expect(!output.contains { $0.hasPrefix("level=") && !lines.contains($0) })
            #expect(!proxy.log.utf8.contains(0x1B), "a raw escape byte reached the log")
            #expect(!proxy.log.utf8.contains(0x0D), "a raw carriage return reached the log")
        }
    }

    @Test func jsonHasOneParsableObjectPerRequestWithTypedFields() async throws {
        try await IntegrationContext.run { test in
            let proxy = try await test.startProxy(
                ["CONTAINERS": "1"], arguments: ["--log-target", "stderr", "--log-format", "json"])
            let version = test.daemon.version.apiVersion
            let statuses = try await Self.sendHostileRequests(proxy, version: version)
            #expect(statuses == [200, 400, 400, 400], "proxy log:\n\(proxy.log)")
            let lines = try await Self.lines(of: proxy, startingWith: "{", count: 4)
            #expect(lines.count == 4, "one JSON line per request:\n\(proxy.log)")
            let objects = lines.map { line in
                (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
            }
            #expect(objects.allSatisfy { $0 != nil }, "lines that are not JSON objects:\n\(lines)")
            let records = objects.compactMap { $0 }
            try #require(records.count == 4)
            #expect(records.map { $0["decision"] as? String } == ["allow", "malformed", "malformed", "malformed"])
            #expect(records.map { $0["status"] as? Int } == [200, 400, 400, 400], "status is a number")
            #expect(records.allSatisfy { $0["request_id"] is Int }, "request_id is a number")
            #expect(
                records.allSatisfy { $0["client_port"] is Int && $0["bytes_out"] is Int && $0["duration_us"] is Int })
            #expect(records.allSatisfy { ($0["msg"] as? String)?.contains("\n") == false })
            #expect(records[0]["query"] as? String == "x=%0Alevel=info%20forged")
            #expect(records[0]["level"] as? String == "info")
            #expect(records[0]["rule"] as? String == "CONTAINERS")
            #expect(records[0]["client_address"] as? String == "127.0.0.1")
            #expect(records[1]["path"] as? String == "/v\(version)/containers%0D%0A%1b/json")
            #expect(
                !proxy.log.split(separator: "\n").contains { $0.hasPrefix("level=") },
                "logfmt despite --log-format json")
        }
    }
}

/// A logfmt line as socket-proxy writes it: `key=value` pairs separated by single spaces, values either bare or in
/// double quotes with JSON escapes.
enum LogfmtLine {
    /// The pairs of a line; throws unless the whole line is well-formed and no key repeats.
    static func parse(_ line: String) throws -> [String: String] {
        var result: [String: String] = [:]
        var rest = Substring(line)
        while !rest.isEmpty {
            guard let equals = rest.firstIndex(of: "="), rest[..<equals].allSatisfy({ $0.isLetter || $0 == "_" }),
                equals != rest.startIndex
            else {
                throw HarnessError("logfmt: no key at \(String(rest).debugDescription) in \(line.debugDescription)")
            }
            let key = String(rest[..<equals])
            rest = rest[rest.index(after: equals)...]
            let value: String
            if rest.first == "\"" {
                var index = rest.index(after: rest.startIndex)
                var escaped = false
                while index < rest.endIndex {
                    let character = rest[index]
                    if escaped {
                        escaped = false
                    } else if character == "\\" {
                        escaped = true
                    } else if character == "\"" {
                        break
                    }
                    index = rest.index(after: index)
                }
                guard index < rest.endIndex else {
                    throw HarnessError("logfmt: unterminated quote in \(line.debugDescription)")
                }
                let quoted = String(rest[rest.startIndex...index])
                guard
                    let decoded = try? JSONSerialization.jsonObject(with: Data(quoted.utf8), options: .fragmentsAllowed)
                        as? String
                else { throw HarnessError("logfmt: bad quoted value \(quoted) in \(line.debugDescription)") }
                value = decoded
                rest = rest[rest.index(after: index)...]
            } else {
                let end = rest.firstIndex(of: " ") ?? rest.endIndex
                value = String(rest[..<end])
                rest = rest[end...]
            }
            guard result.updateValue(value, forKey: key) == nil else {
                throw HarnessError("logfmt: \(key) twice in \(line.debugDescription)")
            }
            if rest.first == " " {
                rest = rest.dropFirst()
            } else if !rest.isEmpty {
                throw HarnessError("logfmt: junk after \(key) in \(line.debugDescription)")
            }
        }
        return result
    }
}

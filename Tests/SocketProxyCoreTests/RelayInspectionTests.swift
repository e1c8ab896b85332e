// Inspected request bodies through the relay, in front of a fake daemon: nothing reaches the daemon before the body
// is read and judged, however the client splits it; what passes goes on byte for byte; refusals keep or close the
// connection as their kind says, and each is audited once.
import Foundation
import Synchronization
import Testing

@testable import SocketProxyCore

/// Keeps the records a sink with a chosen threshold is given, as the journal and stderr sinks would.
private final class ThresholdAuditSink: AuditSink {
    let threshold: AuditPriority
    private let events = Mutex<[AuditEvent]>([])

    init(threshold: AuditPriority) {
        self.threshold = threshold
    }

    func record(_ record: AuditRecord) {
        let event = record.event
        events.withLock { $0.append(event) }
    }

    var records: [AuditEvent] { events.withLock { $0.filter { $0.phase == .end } } }
}

/// One body the inspector must refuse, and the answer it gets.
struct RefusedBody: Sendable, CustomTestStringConvertible {
    let name: String
    let request: String
    let status: Int
    let decision: AuditDecision
    var testDescription: String { name }
}

@Suite("Inspected bodies through the relay")
struct RelayInspectionTests {
    /// Rules: ping; create containers with the strict inspection (binds under /srv allowed, at most `maxBody` bytes);
    /// everything else under /containers without inspection.
    static func profile(maxBody: Int = 1 << 20) -> Profile {
        var inspection = InspectionPolicy.strict
        inspection.allowedBindPaths = ["/srv"]
        inspection.maxBodyBytes = maxBody
        return Profile(
            name: "inspecting",
            rules: [
                Rule(name: "ping", methods: .read, path: try! PathTemplate(parsing: "/_ping"), action: .allow),
                Rule(
                    name: "create", methods: .post, path: try! PathTemplate(parsing: "/containers/create"),
                    action: .allow, inspection: inspection),
                Rule(
                    name: "containers", methods: .all, path: try! PathTemplate(parsing: "/containers/{rest...}"),
                    action: .allow),
            ])
    }

    static let created = HTTPText.response(
        201, reason: "Created", body: #"{"Id":"abc","Warnings":[]}"#, fields: ["Content-Type: application/json"])
    static let createdText = String(decoding: created, as: UTF8.self)

    static let privilegedDenial =
        "socket-proxy: HostConfig.Privileged is not allowed by profile inspecting: privileged mode gives the container "
        + "every capability and device of the host"

    /// A chunked create request: each piece one chunk (with `extension` after the second one's size), then
    /// `trailer` lines.
    static func chunked(_ pieces: [String], extension: String = "", trailer: String = "") -> String {
        var text =
            "POST /v1.41/containers/create HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\n"
            + "Transfer-Encoding: chunked\r\n\r\n"
        for (index, piece) in pieces.enumerated() {
            text += String(piece.utf8.count, radix: 16) + (index == 1 ? `extension` : "") + "\r\n" + piece + "\r\n"
        }
        return text + "0\r\n" + trailer + "\r\n"
    }

    /// A chunked create whose `Privileged` is cut across three chunks.
    static let splitPrivileged = chunked([#"{"HostConfig":{""#, "Privi", #"leged":tr"#, "ue}}"])

    /// A chunked create that asks only for what the profile allows, with a chunk extension and a trailer.
    static let allowedChunked = chunked(
        [#"{"Image":"abc""#, #","HostConfig":{"Binds":[""#, #"/srv/data:/d"]}"#, "}"], extension: ";x=y",
        trailer: "X-Note: t\r\n")

    /// A create with a Content-Length body.
    static func create(_ body: String, contentType: String = "application/json", extra: String = "") -> String {
        "POST /v1.41/containers/create HTTP/1.1\r\nHost: docker\r\nContent-Type: \(contentType)\r\n\(extra)"
            + "Content-Length: \(body.utf8.count)\r\n\r\n\(body)"
    }

    /// Sends `request` in two writes cut at `split`, with a pause so the proxy reads them apart.
    static func sendSplit(_ client: StreamSocket, _ request: [UInt8], at split: Int) throws {
        try client.send(Array(request[..<split]))
        Thread.sleep(forTimeInterval: 0.001)
        try client.send(Array(request[split...]))
    }

    @Test func aBodyWithPrivilegedCutAcrossChunksIsDeniedWhereverTheClientSplitsIt() throws {
        let request = Array(Self.splitPrivileged.utf8)
        let denial = HTTPText.localAnswer(403, "Forbidden", message: Self.privilegedDenial, close: false)
        try withRelay(profile: Self.profile(), script: { _ in .bytes(Self.created) }) { proxy, upstream in
            for split in 1..<request.count {
                let client = try proxy.connect()
                defer { client.close() }
                try Self.sendSplit(client, request, at: split)
                let answer = try client.readResponse(to: "POST")
                #expect(answer.text == denial, "split at \(split): \(answer.text)")
            }
            #expect(upstream.connectionCount == 0, "a denied body reached the daemon")
            let records = proxy.audit.waitForRecords(request.count - 1)
            #expect(records.count == request.count - 1)
            #expect(records.allSatisfy { $0.decision == .deny && $0.status == 403 && $0.rule == "create" })
        }
    }

    @Test func anAllowedChunkedBodyReachesTheDaemonByteForByteWhereverTheClientSplitsIt() throws {
        let request = Array(Self.allowedChunked.utf8)
        try withRelay(profile: Self.profile(), script: { _ in .bytes(Self.created) }) { proxy, upstream in
            // Daemon connections are reused from client to client: together they hold every request, unchanged.
            var sent = 0
            for split in 1..<request.count {
                let client = try proxy.connect()
                defer { client.close() }
                try Self.sendSplit(client, request, at: split)
                let answer = try client.readResponse(to: "POST")
                #expect(answer.text == Self.createdText, "split at \(split): \(answer.text)")
                sent += 1
            }
            #expect(upstream.waitForRequests(sent))
            #expect(
                upstream.received.joined().elementsEqual(Array(repeating: request, count: sent).joined()),
                "a request was not forwarded byte for byte")
            #expect(
                upstream.requests.allSatisfy {
                    $0.bodyText == #"{"Image":"abc","HostConfig":{"Binds":["/srv/data:/d"]}}"#
                })
            #expect(upstream.requests.allSatisfy { $0.trailers.first?.name == "X-Note" })
        }
    }

    @Test func theProxyAnswersOneHundredAndTheDaemonSeesNothingUntilTheBodyIsJudged() throws {
        let body = #"{"Image":"abc"}"#
        let request = Self.create(body, extra: "Expect: 100-continue\r\n")
        let head = String(request.dropLast(body.utf8.count))
        try withRelay(profile: Self.profile(), script: { _ in .bytes(Self.created) }) { proxy, upstream in
            let client = try proxy.connect()
            try client.send(head)
            #expect(try client.read(exactly: 25) == Array("HTTP/1.1 100 Continue\r\n\r\n".utf8))
            #expect(client.staysQuiet(for: .milliseconds(50)))
            #expect(upstream.connectionCount == 0, "the daemon was asked before the body arrived")
            try client.send(body)
            #expect(try client.readResponse(to: "POST").text == Self.createdText)
            #expect(upstream.waitForRequests(1))
            #expect(upstream.received.map { String(decoding: $0, as: UTF8.self) } == [request])
        }
    }

    @Test func aBodyDeniedAfterOneHundredIsAnswered403AndNeverForwarded() throws {
        let body = #"{"HostConfig":{"Privileged":true}}"#
        let request = Self.create(body, extra: "Expect: 100-continue\r\n")
        try withRelay(profile: Self.profile(), script: { _ in .bytes(Self.created) }) { proxy, upstream in
            let client = try proxy.connect()
            try client.send(String(request.dropLast(body.utf8.count)))
            #expect(try client.read(exactly: 25) == Array("HTTP/1.1 100 Continue\r\n\r\n".utf8))
            try client.send(body)
            let answer = try client.readResponse(to: "POST")
            #expect(answer.status == 403)
            #expect(answer.bodyText.contains(Self.privilegedDenial), "\(answer)")
            #expect(upstream.connectionCount == 0)
        }
    }

    @Test func aBodySentWithItsHeadGetsNoOneHundred() throws {
        try withRelay(profile: Self.profile(), script: { _ in .bytes(Self.created) }) { proxy, _ in
            let client = try proxy.connect()
            try client.send(Self.create(#"{"Image":"abc"}"#, extra: "Expect: 100-continue\r\n"))
            // The client is already sending: a 100 would be an answer to nothing it waits for.
            #expect(try client.readResponse(to: "POST").text == Self.createdText)
        }
    }

    @Test func aDeniedBodyLeavesTheConnectionServingThePipelinedNextRequest() throws {
        try withRelay(profile: Self.profile(), script: { _ in .bytes(Self.created) }) { proxy, upstream in
            let client = try proxy.connect()
            try client.send(
                Self.create(#"{"HostConfig":{"Privileged":true}}"#) + Self.create(#"{"Image":"next"}"#)
                    + HTTPText.request("/_ping"))
            let first = try client.readResponse(to: "POST")
            #expect(first.text == HTTPText.localAnswer(403, "Forbidden", message: Self.privilegedDenial, close: false))
            #expect(try client.readResponse(to: "POST").text == Self.createdText)
            #expect(try client.readResponse().text == Self.createdText)
            #expect(upstream.waitForRequests(2))
            #expect(upstream.requests.map(\.bodyText) == [#"{"Image":"next"}"#, ""])
            #expect(proxy.audit.waitForRecords(3).map(\.decision) == [.deny, .allow, .allow])
        }
    }

    static let sizes: [(framing: String, size: Int, status: Int)] = [
        ("length", 64, 201), ("length", 65, 413), ("chunked", 64, 201), ("chunked", 65, 413),
    ]

    @Test(arguments: sizes)
    func aBodyIsReadUpToMaxBodyBytesAndRefusedPastIt(_ framing: String, _ size: Int, _ status: Int) throws {
        // A valid JSON body of exactly `size` bytes.
        let prefix = #"{"Image":""#
        let body = prefix + String(repeating: "a", count: size - prefix.utf8.count - 2) + #""}"#
        let request: String
        if framing == "length" {
            request = Self.create(body)
        } else {
            request =
                "POST /containers/create HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\n"
                + "Transfer-Encoding: chunked\r\n\r\n" + "1\r\n\(body.prefix(1))\r\n"
                + String(size - 1, radix: 16) + "\r\n\(body.dropFirst())\r\n0\r\n\r\n"
        }
        try withRelay(profile: Self.profile(maxBody: 64), script: { _ in .bytes(Self.created) }) { proxy, upstream in
            let client = try proxy.connect()
            try client.send(request)
            let answer = try client.readResponse(to: "POST")
            #expect(answer.status == status, "\(answer)")
            if status == 413 {
                #expect(answer.bodyText.contains("larger than the 64 bytes the inspector reads"), "\(answer)")
                #expect(answer.field("Connection") == "close")
                #expect(try client.endsWithoutMoreBytes(within: .seconds(3)))
                #expect(upstream.connectionCount == 0)
                #expect(proxy.audit.waitForRecords(1).map(\.decision) == [.malformed])
            } else {
                #expect(upstream.waitForRequests(1))
                #expect(upstream.requests.first?.bodyText == body)
            }
        }
    }

    static let refused: [RefusedBody] = [
        RefusedBody(
            name: "privileged", request: create(#"{"HostConfig":{"Privileged":true}}"#), status: 403, decision: .deny),
        RefusedBody(
            name: "bind outside /srv", request: create(#"{"HostConfig":{"Binds":["/etc:/x"]}}"#), status: 403,
            decision: .deny),
        RefusedBody(name: "trailing data", request: create(#"{"Image":"a"} x"#), status: 400, decision: .malformed),
        RefusedBody(
            name: "text/plain", request: create(#"{"Image":"a"}"#, contentType: "text/plain"), status: 415,
            decision: .malformed),
        RefusedBody(
            name: "too large", request: create(String(repeating: " ", count: 2 << 20) + "{}"), status: 413,
            decision: .malformed),
    ]

    @Test(arguments: refused)
    func aRefusedBodyIsAuditedOnceWithTheAllowingRule(_ item: RefusedBody) throws {
        try withRelay(profile: Self.profile(), script: { _ in .bytes(Self.created) }) { proxy, upstream in
            let client = try proxy.connect()
            try? client.send(item.request)
            #expect(try client.readResponse(to: "POST").status == item.status)
            let records = proxy.audit.waitForRecords(1)
            #expect(records.count == 1, "\(records)")
            #expect(records.first?.decision == item.decision)
            #expect(records.first?.status == item.status)
            #expect(records.first?.rule == "create")
            #expect(records.first?.profile == "inspecting")
            #expect(records.first?.path == "/v1.41/containers/create")
            #expect(upstream.connectionCount == 0)
        }
    }

    /// With LOG_LEVEL=warning (or notice) the sink keeps denials and drops allowed requests. A body refused by the
    /// inspector is a denial, but its record is built only when the rules' verdict (allow) is kept, so it vanishes.
    @Test(arguments: refused)
    func aRefusedBodyIsAuditedWhenOnlyWarningsAreKept(_ item: RefusedBody) throws {
        let upstream = try FakeUpstream { _ in .bytes(Self.created) }
        defer { upstream.stop() }
        let sink = ThresholdAuditSink(threshold: .warning)
        var configuration = ProxyConfiguration(policy: PolicySnapshot(profile: Self.profile()))
        configuration.upstream = .unix(upstream.path)
        configuration.listeners = [ListenerConfiguration(source: .address(try SocketAddress(parsing: "127.0.0.1:0")))]
        configuration.threads = 1
        let server = ProxyServer(configuration: configuration, audit: sink)
        try server.start()
        defer {
            server.shutdown(gracePeriod: .zero)
            server.wait()
        }
        let port = try #require(server.listeningAddresses.first?.port)
        let client = try StreamSocket.connect(port: port)
        try? client.send(item.request)
        #expect(try client.readResponse(to: "POST").status == item.status)
        _ = eventually(timeout: .seconds(1)) { !sink.records.isEmpty }
        #expect(
            sink.records.map(\.decision) == [item.decision],
            "a \(item.status) refusal of a body left no audit record at LOG_LEVEL=warning")
    }

    @Test func auditModeForwardsARefusedBodyAndRecordsWhyItWouldBeDenied() throws {
        try withRelay(
            profile: Self.profile(),
            configure: { $0.policy = PolicySnapshot(profiles: [Self.profile()], mode: .audit) },
            script: { _ in .bytes(Self.created) }
        ) { proxy, upstream in
            let request = Self.create(#"{"HostConfig":{"Privileged":true}}"#)
            let client = try proxy.connect()
            try client.send(request)
            #expect(try client.readResponse(to: "POST").text == Self.createdText)
            #expect(upstream.waitForRequests(1))
            #expect(upstream.received.map { String(decoding: $0, as: UTF8.self) } == [request])
            let record = try #require(proxy.audit.waitForRecords(1).first)
            #expect(record.decision == .deny)
            #expect(record.mode == "audit")
            #expect(record.status == 201)
            #expect(record.reason == String(Self.privilegedDenial.dropFirst("socket-proxy: ".count)))
        }
    }
}

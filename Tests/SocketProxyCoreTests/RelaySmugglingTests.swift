// Request smuggling through the relay: adversarial bytes on real sockets, and a daemon that reads them laxly.
import Foundation
import Testing

@testable import SocketProxyCore

extension RelayTests {
    /// For every adversarial byte sequence, the requests that reach the daemon are never more than the proxy let
    /// through, and are exactly the ones it let through.
    ///
    /// The fake daemon records every byte it receives per connection. Afterwards those bytes are read the way a
    /// lax daemon might read them, under several readings at once (``LaxReading``: Transfer-Encoding or
    /// Content-Length winning, bare LF as a line end, "chunked" anywhere in the value, names with whitespace before
    /// the colon, obs-fold unfolded, HTTP/1.0 with Transfer-Encoding). Under every reading:
    /// - the daemon finds no more requests than the proxy's audit records permitted (allowed, or allowed and then
    ///   cut off: `client-gone`, `upstream-error`), and every target it finds is the path of one of those records;
    /// - every request the daemon answered (an `allow` record) is found on the daemon's side.
    /// Each case runs with its bytes written at once and written in pieces, so every parser state meets a read
    /// boundary.
    struct Smuggling {
        /// One client connection: the bytes it writes, then how it ends its side.
        struct Session: Sendable {
            var bytes: [UInt8]
            /// Close at once after writing (no half-close, no reading), leaving the exchange unfinished.
            var abandon = false
        }

        struct Case: Sendable, CustomTestStringConvertible {
            let name: String
            let sessions: [Session]
            /// How the fake daemon answers each request it reads.
            let daemon: Daemon
            var testDescription: String { name }

            init(_ name: String, _ text: String, daemon: Daemon = .ok) {
                self.init(name, [Session(bytes: Array(text.utf8))], daemon: daemon)
            }

            init(_ name: String, bytes: [UInt8], daemon: Daemon = .ok) {
                self.init(name, [Session(bytes: bytes)], daemon: daemon)
            }

            init(_ name: String, _ sessions: [Session], daemon: Daemon = .ok) {
                self.name = name
                self.sessions = sessions
                self.daemon = daemon
            }
        }

        enum Daemon: Sendable {
            /// `200 OK` with an empty body to every request.
            case ok
            /// `101 Switching Protocols` to every request that carries an Upgrade field, as if it agreed; the
            /// connection is then a tunnel, whose bytes are not requests.
            case agreesToUpgrade
            /// `101 Switching Protocols` to every request, asked for or not.
            case switchesUnasked
        }

        enum Feed: String, Sendable, CaseIterable {
            case whole
            /// The bytes in pieces cut at a few fixed points, with a pause between pieces.
            case pieces
        }

        static let host = "Host: docker\r\n"
        /// A request the policy denies (no rule for /secrets).
        static let denied = "GET /secrets HTTP/1.1\r\n\(host)\r\n"
        static let deniedLength = denied.utf8.count
        /// A request whose body nobody inspects, so that its body streams through (POST /containers/{id}/kill).
        static func post(_ fields: String, version: String = "HTTP/1.1") -> String {
            "POST /containers/abc/kill \(version)\r\n\(host)\(fields)\r\n"
        }
        /// The denied request as one chunk: a front end reading chunked forwards it as data, a back end reading a
        /// Content-Length of 4 (the size line) reads it as the next request.
        static let smuggledChunk = String(deniedLength, radix: 16) + "\r\n" + denied + "\r\n"
        /// Content-Length covering "0\r\n\r\n" and the denied request: the CL.TE shape.
        static let coveringLength = "Content-Length: \(5 + deniedLength)\r\n"

        static let cases: [Case] = [
            // Content-Length and Transfer-Encoding together, in both orders and spellings.
            Case("CL.TE", post(coveringLength + "Transfer-Encoding: chunked\r\n") + "0\r\n\r\n" + denied),
            Case("TE.CL", post("Transfer-Encoding: chunked\r\nContent-Length: 4\r\n") + smuggledChunk + "0\r\n\r\n"),
            Case(
                "TE.CL lower case",
                post("transfer-encoding: chunked\r\ncontent-length: 4\r\n") + smuggledChunk + "0\r\n\r\n"),
            Case(
                "pipelined after CL and TE",
                post("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n") + "0\r\n\r\n" + denied),
            // Transfer-Encoding obfuscated so that one parser honours it and another does not.
            Case(
                "TE.TE xchunked",
                post("Content-Length: 4\r\nTransfer-Encoding: xchunked\r\n") + smuggledChunk + "0\r\n\r\n"),
            Case(
                "TE.TE space before colon",
                post("Content-Length: 4\r\nTransfer-Encoding : chunked\r\n") + smuggledChunk + "0\r\n\r\n"),
            Case(
                "TE.TE tab before value",
                post("Content-Length: 4\r\nTransfer-Encoding:\tchunked\r\n") + smuggledChunk + "0\r\n\r\n"),
            Case(
                "TE with HTAB before its value", post("Transfer-Encoding:\tchunked\r\n") + smuggledChunk + "0\r\n\r\n"),
            Case(
                "TE.TE two lines",
                post("Content-Length: 4\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n")
                    + smuggledChunk + "0\r\n\r\n"),
            Case(
                "TE.TE list",
                post("Content-Length: 4\r\nTransfer-Encoding: identity, chunked\r\n") + smuggledChunk + "0\r\n\r\n"),
            Case(
                "TE.TE chunked twice",
                post("Content-Length: 4\r\nTransfer-Encoding: chunked, chunked\r\n") + smuggledChunk + "0\r\n\r\n"),
            Case(
                "TE.TE obs-fold",
                post("Content-Length: 4\r\nTransfer-Encoding:\r\n chunked\r\n") + smuggledChunk + "0\r\n\r\n"),
            Case(
                "TE.TE folded into another field",
                post("Content-Length: 4\r\nX-Pad: x\r\n Transfer-Encoding: chunked\r\n") + smuggledChunk + "0\r\n\r\n"),
            Case(
                "TE.TE vertical tab",
                post("Content-Length: 4\r\nTransfer-Encoding: \u{0B}chunked\r\n") + smuggledChunk + "0\r\n\r\n"),
            Case(
                "TE.TE NUL in name",
                post("Content-Length: 4\r\nTransfer-Encoding\u{00}: chunked\r\n") + smuggledChunk + "0\r\n\r\n"),
            Case(
                "TE.TE quoted",
                post("Content-Length: 4\r\nTransfer-Encoding: \"chunked\"\r\n") + smuggledChunk + "0\r\n\r\n"),
            Case(
                "TE with CL 0 and chunk",
                post("Content-Length: 0\r\nTransfer-Encoding: chunked\r\n") + smuggledChunk + "0\r\n\r\n"),
            // Content-Length duplicated, signed, listed or padded.
            Case("duplicate CL", post("Content-Length: 0\r\nContent-Length: \(deniedLength)\r\n") + denied),
            Case(
                "duplicate identical CL",
                post("Content-Length: \(deniedLength)\r\nContent-Length: \(deniedLength)\r\n") + denied),
            Case("CL with plus sign", post("Content-Length: +\(deniedLength)\r\n") + denied),
            Case("CL with minus sign", post("Content-Length: -1\r\n") + denied),
            Case("CL list", post("Content-Length: 0, \(deniedLength)\r\n") + denied),
            Case("CL with inner space", post("Content-Length: 4 4\r\n") + denied),
            Case("CL in hex", post("Content-Length: 0x\(String(deniedLength, radix: 16))\r\n") + denied),
            Case("CL padded", post("Content-Length:  \t\(deniedLength) \t\r\n") + denied),
            Case("CL with leading zeros", post("Content-Length: 000\(deniedLength)\r\n") + denied),
            Case("CL with 19 digits", post("Content-Length: 0000000000000000005\r\n") + "hello" + denied),
            Case("CL overflowing 64 bits", post("Content-Length: 18446744073709551621\r\n") + "hello" + denied),
            Case("CL on a GET", "GET /_ping HTTP/1.1\r\n\(host)Content-Length: \(deniedLength)\r\n\r\n" + denied),
            // Chunk-size tricks.
            Case("chunk size 0x prefix", post("Transfer-Encoding: chunked\r\n") + "0x5\r\nhello\r\n0\r\n\r\n" + denied),
            Case("chunk size with sign", post("Transfer-Encoding: chunked\r\n") + "+5\r\nhello\r\n0\r\n\r\n" + denied),
            Case(
                "chunk size 17 digits",
                post("Transfer-Encoding: chunked\r\n") + "00000000000000005\r\nhello\r\n0\r\n\r\n" + denied),
            Case(
                "chunk size overflow",
                post("Transfer-Encoding: chunked\r\n") + "10000000000000005\r\nhello\r\n0\r\n\r\n" + denied),
            Case("chunk size max", post("Transfer-Encoding: chunked\r\n") + "ffffffffffffffff\r\n" + denied),
            Case("chunk size bare LF", post("Transfer-Encoding: chunked\r\n") + "5\nhello\r\n0\r\n\r\n" + denied),
            Case(
                "chunk size trailing space",
                post("Transfer-Encoding: chunked\r\n") + "5 \r\nhello\r\n0\r\n\r\n" + denied),
            Case(
                "chunk extension BWS", post("Transfer-Encoding: chunked\r\n") + "5 ; a=b\r\nhello\r\n0\r\n\r\n" + denied
            ),
            Case(
                "chunk extension with LF",
                post("Transfer-Encoding: chunked\r\n") + "5;a=\"\n\"\r\nhello\r\n0\r\n\r\n" + denied),
            Case("chunk data too long", post("Transfer-Encoding: chunked\r\n") + "2\r\nhello\r\n0\r\n\r\n" + denied),
            Case("chunk data bare LF end", post("Transfer-Encoding: chunked\r\n") + "5\r\nhello\n0\r\n\r\n" + denied),
            Case("last chunk without final CRLF", post("Transfer-Encoding: chunked\r\n") + "0\r\n" + denied),
            Case("trailer with CL", post("Transfer-Encoding: chunked\r\n") + "0\r\nContent-Length: 5\r\n\r\n" + denied),
            Case("trailer obs-fold", post("Transfer-Encoding: chunked\r\n") + "0\r\nX: a\r\n b\r\n\r\n" + denied),
            Case(
                "chunked request then denied",
                post("Transfer-Encoding: chunked\r\n") + "5\r\nhello\r\n0\r\n\r\n" + denied),
            // obs-fold, bare LF and bare CR in heads.
            Case("obs-fold", "GET /_ping HTTP/1.1\r\n\(host)X: a\r\n b\r\n\r\n" + denied),
            Case("bare LF head", "GET /_ping HTTP/1.1\n\(host.dropLast(2))\n\n" + denied),
            Case(
                "bare LF mid head",
                "GET /_ping HTTP/1.1\r\n\(host)X: a\nContent-Length: \(deniedLength)\r\n\r\n" + denied),
            Case(
                "bare CR in value",
                "GET /_ping HTTP/1.1\r\n\(host)X: a\rContent-Length: \(deniedLength)\r\n\r\n" + denied),
            Case("bare CR line end", "GET /_ping HTTP/1.1\r\(host)\r\n" + denied),
            Case("LF LF end of head", "GET /_ping HTTP/1.1\r\n\(host)\n\n" + denied),
            // Requests hidden in bodies, and pipelines mixing allowed and denied requests.
            Case("request in a length body", post("Content-Length: \(deniedLength)\r\n") + denied),
            Case("request in a chunked body", post("Transfer-Encoding: chunked\r\n") + smuggledChunk + "0\r\n\r\n"),
            Case(
                "pipeline allowed denied allowed",
                "GET /_ping HTTP/1.1\r\n\(host)\r\n" + denied + "GET /events?since=1 HTTP/1.1\r\n\(host)\r\n"),
            Case(
                "denied with a body hiding an allowed request",
                "POST /secrets/create HTTP/1.1\r\n\(host)Content-Length: 34\r\n\r\nGET /_ping HTTP/1.1\r\nHost: x\r\n\r\n"
                    + "GET /_ping HTTP/1.1\r\n\(host)\r\n"),
            Case(
                "expect continue with a request as body",
                post("Expect: 100-continue\r\nContent-Length: \(deniedLength)\r\n") + denied),
            Case(
                "inspected body hiding a request",
                "POST /containers/create HTTP/1.1\r\n\(host)Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
                    + denied),
            Case(
                "inspected chunked body then a request",
                "POST /containers/create HTTP/1.1\r\n\(host)Content-Type: application/json\r\n"
                    + "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n" + denied),
            // Upgrades: the daemon not agreeing, agreeing, or switching unasked.
            Case(
                "upgrade refused by the daemon, then a pipelined request",
                "POST /containers/abc/attach?stream=1 HTTP/1.1\r\n\(host)Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
                    + denied),
            Case(
                "upgrade without Connection, then a pipelined request",
                "POST /containers/abc/attach?stream=1 HTTP/1.1\r\n\(host)Upgrade: tcp\r\n\r\n" + denied,
                daemon: .switchesUnasked),
            Case(
                "daemon switching unasked, then a pipelined request",
                "GET /_ping HTTP/1.1\r\n\(host)\r\n" + denied, daemon: .switchesUnasked),
            Case(
                "upgrade agreed, tunnel bytes look like a request",
                "POST /containers/abc/attach?stream=1 HTTP/1.1\r\n\(host)Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
                    + denied, daemon: .agreesToUpgrade),
            Case("CONNECT", "CONNECT docker:2375 HTTP/1.1\r\n\(host)\r\n" + denied),
            // HTTP/1.0 with Transfer-Encoding.
            Case(
                "HTTP/1.0 TE",
                post("Content-Length: 4\r\nTransfer-Encoding: chunked\r\n", version: "HTTP/1.0") + smuggledChunk
                    + "0\r\n\r\n"),
            Case(
                "HTTP/1.0 TE and CL",
                post("Transfer-Encoding: chunked\r\n" + coveringLength, version: "HTTP/1.0") + "0\r\n\r\n" + denied),
            Case(
                "HTTP/1.0 keep-alive pipeline",
                "GET /_ping HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" + denied),
            // Targets the daemon would route elsewhere.
            Case("absolute-form", "GET http://docker/secrets HTTP/1.1\r\n\(host)\r\n" + denied),
            Case("absolute-form allowed path", "GET http://docker/_ping HTTP/1.1\r\n\(host)\r\n" + denied),
            Case("authority-form", "GET docker:2375 HTTP/1.1\r\n\(host)\r\n"),
            Case("asterisk-form", "OPTIONS * HTTP/1.1\r\n\(host)\r\n" + denied),
            Case("dot segments", "GET /containers/../secrets HTTP/1.1\r\n\(host)\r\n"),
            Case("encoded dot segments", "GET /containers/%2e%2e/secrets HTTP/1.1\r\n\(host)\r\n"),
            Case("encoded slash", "GET /containers%2F..%2Fsecrets HTTP/1.1\r\n\(host)\r\n"),
            Case("double version", "GET /v1.41/v1.41/secrets HTTP/1.1\r\n\(host)\r\n"),
            Case("fragment", "GET /_ping#/../secrets HTTP/1.1\r\n\(host)\r\n"),
            // Limits and NULs.
            Case(
                "huge header",
                "GET /_ping HTTP/1.1\r\n\(host)X: \(String(repeating: "a", count: 70_000))\r\n\r\n" + denied),
            Case(
                "too many fields",
                "GET /_ping HTTP/1.1\r\n\(host)" + (0..<120).map { "X-\($0): v\r\n" }.joined() + "\r\n" + denied),
            Case(
                "huge request line",
                "GET /_ping?\(String(repeating: "q", count: 9000)) HTTP/1.1\r\n\(host)\r\n" + denied),
            Case(
                "NUL in target", bytes: Array("GET /_ping".utf8) + [0] + Array(" HTTP/1.1\r\n\(host)\r\n\(denied)".utf8)
            ),
            Case(
                "NUL in value",
                bytes: Array("GET /_ping HTTP/1.1\r\n\(host)X: a".utf8) + [0] + Array("\r\n\r\n\(denied)".utf8)),
            Case("NUL before request", bytes: [0] + Array(denied.utf8)),
            Case("two hosts", "GET /_ping HTTP/1.1\r\n\(host)Host: other\r\n\r\n" + denied),
            // Daemon connections reused across clients must never carry one client's unfinished body.
            Case(
                "abandoned length body, then another client",
                [
                    Session(bytes: Array((post("Content-Length: 60\r\n") + "x").utf8), abandon: true),
                    Session(bytes: Array(("GET /_ping HTTP/1.1\r\n\(host)\r\n" + denied).utf8)),
                ]),
            Case(
                "abandoned chunked body, then another client",
                [
                    Session(bytes: Array((post("Transfer-Encoding: chunked\r\n") + "40\r\nxx").utf8), abandon: true),
                    Session(bytes: Array(("GET /_ping HTTP/1.1\r\n\(host)\r\n" + denied).utf8)),
                ]),
            Case(
                "abandoned head, then another client",
                [
                    Session(bytes: Array("GET /_ping HTTP/1.1\r\n\(host)".utf8), abandon: true),
                    Session(bytes: Array(("GET /_ping HTTP/1.1\r\n\(host)\r\n" + denied).utf8)),
                ]),
        ]

        @Test(arguments: cases, Feed.allCases)
        func noMoreRequestsReachTheDaemonThanTheProxyLetThrough(_ item: Case, _ feed: Feed) throws {
            let reply: FakeUpstream.Script
            switch item.daemon {
            case .ok:
                reply = { _ in .bytes(HTTPText.response()) }
            case .agreesToUpgrade:
                reply = { request in
                    request.field("Upgrade") == nil
                        ? .bytes(HTTPText.response()) : .tunnel(head: Smuggling.switched, farewell: [])
                }
            case .switchesUnasked:
                reply = { _ in .tunnel(head: Smuggling.switched, farewell: []) }
            }
            try withRelay(script: reply) { proxy, upstream in
                for session in item.sessions {
                    try run(session, feed: feed, proxy: proxy)
                }
                // Stopping records every unfinished exchange; afterwards the records and the bytes are final.
                proxy.stop()
                _ = eventually(timeout: .seconds(2)) { upstream.connectionCount == upstream.received.count }
                let received = settled(upstream)
                let records = proxy.audit.records
                let permitted = records.filter { ![.deny, .malformed].contains($0.decision) }.map(\.path)
                let answered = records.filter { $0.decision == .allow }.map(\.path)
                let tunnels: SmugglingTunnels = item.daemon == .ok ? .never : .afterUpgradeRequest

                for reading in LaxReading.all {
                    let found = received.flatMap { reading.targets(in: $0, tunnels: tunnels) }
                    #expect(
                        found.count <= permitted.count,
                        "\(reading.name): the daemon finds \(found) but the proxy permitted \(permitted)")
                    #expect(
                        isSubMultiset(found, of: permitted),
                        "\(reading.name): the daemon finds \(found), the proxy permitted only \(permitted)")
                }
                let strict = received.flatMap { LaxReading.rfc9112.targets(in: $0, tunnels: tunnels) }
                #expect(
                    isSubMultiset(answered, of: strict),
                    "the daemon answered \(answered) but its bytes hold \(strict): \(received.map(StreamSocket.show))")
                #expect(upstream.requests.count <= permitted.count, "the fake daemon read \(upstream.requests)")
            }
        }

        /// The daemon-side readings are not blind: on the raw attack bytes (what a proxy without checks would
        /// forward), some reading finds the hidden request, so a proxy forwarding it would fail the test above.
        @Test(arguments: [
            "CL.TE", "TE.CL", "TE.TE space before colon", "TE.TE list", "duplicate CL", "CL list", "bare LF head",
            "TE.TE obs-fold", "HTTP/1.0 TE", "chunk size overflow",
        ])
        func aLaxReadingFindsTheHiddenRequestInTheRawAttackBytes(_ name: String) throws {
            let item = try #require(Self.cases.first { $0.name == name })
            let findings = LaxReading.all.map { $0.targets(in: item.sessions[0].bytes, tunnels: .never) }
            #expect(findings.contains { $0.contains("/secrets") }, "no reading finds the hidden request: \(findings)")
        }

        static let switched = Array(
            "HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\n"
                .utf8)

        /// Writes the session's bytes, then half-closes and reads until the proxy ends the connection (or closes at
        /// once when the session is abandoned).
        func run(_ session: Session, feed: Feed, proxy: TestProxy) throws {
            let client = try proxy.connect()
            defer { client.close() }
            let bytes = session.bytes
            switch feed {
            case .whole:
                try client.send(bytes)
            case .pieces:
                // Cuts inside the request line, the fields, the blank line and the body of a typical case.
                var start = 0
                for cut in [3, 20, 45, 60, 61, 62, 90, 130] + [bytes.count] where cut > start && cut <= bytes.count {
                    try client.send(Array(bytes[start..<cut]))
                    start = cut
                    Thread.sleep(forTimeInterval: 0.003)
                }
            }
            if session.abandon {
                // Give the proxy time to forward what it may, then vanish mid-request.
                Thread.sleep(forTimeInterval: 0.05)
                client.reset()
                Thread.sleep(forTimeInterval: 0.05)
                return
            }
            client.shutdownWrite()
            _ = try? client.readToEnd(timeout: .seconds(5))
        }

        /// The bytes each daemon connection received, once no more arrive.
        func settled(_ upstream: FakeUpstream) -> [[UInt8]] {
            var last = upstream.received
            while true {
                Thread.sleep(forTimeInterval: 0.05)
                let now = upstream.received
                if now == last { return now }
                last = now
            }
        }

        func isSubMultiset(_ small: [String], of large: [String]) -> Bool {
            var pool = large
            for item in small {
                guard let index = pool.firstIndex(of: item) else { return false }
                pool.remove(at: index)
            }
            return true
        }
    }

    /// Whether a daemon connection can turn into a tunnel, whose bytes are not requests.
    enum SmugglingTunnels {
        case never
        /// After a request with an Upgrade field (the daemon answered 101 to it).
        case afterUpgradeRequest
    }

    /// One way a lax daemon might read a byte stream of requests. Every reading agrees with RFC 9112 on strictly
    /// valid requests, which is all the proxy may forward; they differ only on what the proxy must refuse.
    struct LaxReading: Sendable {
        var name: String
        /// A lone LF ends a line (and a head), as in many servers; else only CRLF does.
        var lineFeedEndsLines = false
        /// Transfer-Encoding beats Content-Length (RFC 9112 §6.3); else Content-Length wins.
        var transferEncodingWins = true
        /// Any Transfer-Encoding value mentioning "chunked" means chunked; else only a last coding "chunked".
        var chunkedIfMentioned = false
        /// The last Content-Length (and the last element of a list) counts; else the first.
        var lastContentLength = false
        /// Whitespace between a field name and its colon is dropped; else the field is not recognised.
        var trimsNames = false
        /// A line starting with whitespace continues the previous field's value.
        var unfolds = false
        /// Transfer-Encoding counts in HTTP/1.0 requests too.
        var chunkedInHTTP10 = false

        static let rfc9112 = LaxReading(name: "RFC 9112")
        static let all: [LaxReading] = [
            rfc9112,
            LaxReading(
                name: "lax, Transfer-Encoding wins", lineFeedEndsLines: true, chunkedIfMentioned: true,
                lastContentLength: true, trimsNames: true, unfolds: true, chunkedInHTTP10: true),
            LaxReading(
                name: "lax, Content-Length wins", lineFeedEndsLines: true, transferEncodingWins: false,
                chunkedIfMentioned: true, trimsNames: true, unfolds: true),
            LaxReading(
                name: "strict lines, Content-Length wins", transferEncodingWins: false, lastContentLength: true,
                chunkedInHTTP10: true),
        ]

        /// The path (without query) of every request head found in `stream`, in order. A head counts once its
        /// blank line has arrived, whether or not its body has; reading stops at bytes that cannot start a request.
        func targets(in stream: [UInt8], tunnels: RelayTests.SmugglingTunnels) -> [String] {
            var found: [String] = []
            var index = 0
            while index < stream.count {
                while index < stream.count && (stream[index] == 0x0D || stream[index] == 0x0A) { index += 1 }
                guard index < stream.count, let head = readHead(stream, from: index) else { break }
                let parts = head.lines[0].split(whereSeparator: { $0 == 0x20 || $0 == 0x09 })
                guard parts.count >= 2, parts[0].allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { break }
                let target = String(decoding: parts[1], as: UTF8.self)
                found.append(String(target.prefix { $0 != "?" }))
                let version = parts.count > 2 ? String(decoding: parts[2], as: UTF8.self) : "HTTP/0.9"
                let fields = self.fields(head.lines.dropFirst())
                if case .afterUpgradeRequest = tunnels, fields.contains(where: { $0.name == "upgrade" }) { break }
                guard let next = bodyEnd(stream, from: head.end, fields: fields, version: version) else { break }
                index = next
            }
            return found
        }

        private func readHead(_ stream: [UInt8], from start: Int) -> (lines: [ArraySlice<UInt8>], end: Int)? {
            var lines: [ArraySlice<UInt8>] = []
            var lineStart = start
            var index = start
            while index < stream.count {
                let byte = stream[index]
                var lineEnd: Int?
                var next = index + 1
                if byte == 0x0D && index + 1 < stream.count && stream[index + 1] == 0x0A {
                    lineEnd = index
                    next = index + 2
                } else if byte == 0x0A && lineFeedEndsLines {
                    lineEnd = index > lineStart && stream[index - 1] == 0x0D ? index - 1 : index
                }
                if let lineEnd {
                    if lineEnd == lineStart { return lines.isEmpty ? nil : (lines, next) }
                    lines.append(stream[lineStart..<lineEnd])
                    lineStart = next
                }
                index = next
            }
            return nil
        }

        private func fields(_ lines: ArraySlice<ArraySlice<UInt8>>) -> [(name: String, value: String)] {
            var fields: [(name: String, value: String)] = []
            for line in lines {
                if unfolds, let first = line.first, first == 0x20 || first == 0x09, !fields.isEmpty {
                    fields[fields.count - 1].value += " " + trimmed(line)
                    continue
                }
                guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { continue }
                var name = String(decoding: line[..<colon], as: UTF8.self).lowercased()
                if trimsNames { name = name.trimmingCharacters(in: .whitespaces) }
                fields.append((name, trimmed(line[(colon + 1)...])))
            }
            return fields
        }

        private func trimmed(_ bytes: ArraySlice<UInt8>) -> String {
            String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }

        /// Where the body after a head ends under this reading; nil when the bytes end first.
        private func bodyEnd(
            _ stream: [UInt8], from start: Int, fields: [(name: String, value: String)], version: String
        ) -> Int? {
            let codings = fields.filter { $0.name == "transfer-encoding" }.map { $0.value.lowercased() }
            let chunked =
                (version != "HTTP/1.0" || chunkedInHTTP10)
                && (chunkedIfMentioned
                    ? codings.contains { $0.contains("chunked") }
                    : codings.last?.split(separator: ",").last?.trimmingCharacters(in: .whitespaces) == "chunked")
            let lengths = fields.filter { $0.name == "content-length" }.map(\.value)
            let elements = (lastContentLength ? lengths.last : lengths.first)?.split(separator: ",")
            let lengthText = lastContentLength ? elements?.last : elements?.first
            let length = lengthText.flatMap { UInt64($0.trimmingCharacters(in: .whitespaces).drop { $0 == "+" }) }
            if chunked && (transferEncodingWins || length == nil) {
                return chunkedEnd(stream, from: start)
            }
            if let length {
                return UInt64(stream.count - start) >= length ? start + Int(length) : nil
            }
            return start
        }

        /// Hex digits up to the first other byte, wrapping past 64 bits; data; then any line end.
        private func chunkedEnd(_ stream: [UInt8], from start: Int) -> Int? {
            var index = start
            func line() -> ArraySlice<UInt8>? {
                var end = index
                while end < stream.count {
                    if stream[end] == 0x0A && (lineFeedEndsLines || end > index && stream[end - 1] == 0x0D) {
                        let text = stream[index..<(end > index && stream[end - 1] == 0x0D ? end - 1 : end)]
                        index = end + 1
                        return text
                    }
                    end += 1
                }
                return nil
            }
            while true {
                guard let sizeLine = line() else { return nil }
                var size: UInt64 = 0
                for byte in sizeLine {
                    guard let digit = Int(String(UnicodeScalar(byte)), radix: 16) else { break }
                    size = size &<< 4 | UInt64(digit)
                }
                if size == 0 {
                    while true {
                        guard let trailer = line() else { return nil }
                        if trailer.isEmpty { return index }
                    }
                }
                guard UInt64(stream.count - index) >= size else { return nil }
                index += Int(size)
                guard line() != nil else { return nil }
            }
        }
    }
}

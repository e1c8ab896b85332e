// Tests for RequestTarget.parse: the path dockerd routes on, or the reason a target is refused.
import Testing

@testable import SocketProxyCore

/// `RequestTarget.parse`, through the strings a client would send.
struct PathNormalisationTests {
    /// What a target parses to, with the ranges turned back into text.
    enum Parsed: Equatable, CustomStringConvertible {
        case target(path: String, version: String?, query: String?)
        case error(TargetError)

        var description: String {
            switch self {
            case .target(let path, let version, let query):
                "path \(path), version \(version ?? "none"), query \(query ?? "none")"
            case .error(let error): "error \(error)"
            }
        }
    }

    /// Parses `text` with a scratch buffer of exactly its size.
    static func parse(_ text: String) -> Parsed {
        let target = Array(text.utf8)
        var scratch = [UInt8](repeating: 0xAA, count: target.count)
        return target.withUnsafeBytes { target in
            scratch.withUnsafeMutableBytes { scratch in
                switch RequestTarget.parse(target, scratch: scratch) {
                case .failure(let error):
                    return .error(error)
                case .success(let parsed):
                    return .target(
                        path: String(decoding: scratch[parsed.path], as: UTF8.self),
                        version: parsed.version.map { String(decoding: scratch[$0], as: UTF8.self) },
                        query: parsed.query.map { String(decoding: target[$0], as: UTF8.self) })
                }
            }
        }
    }

    static let accepted: [(String, Parsed)] = [
        ("/v1.41/containers/json?all=1", .target(path: "/containers/json", version: "1.41", query: "all=1")),
        ("/containers/json", .target(path: "/containers/json", version: nil, query: nil)),
        ("/containers%2Fjson", .target(path: "/containers/json", version: nil, query: nil)),
        ("/containers%2fjson", .target(path: "/containers/json", version: nil, query: nil)),
        ("/%63ontainers/json", .target(path: "/containers/json", version: nil, query: nil)),
        ("/v1.41%2Fcontainers%2Fjson", .target(path: "/containers/json", version: "1.41", query: nil)),
        ("/%76%31.41/containers", .target(path: "/containers", version: "1.41", query: nil)),
        ("/v1%2E41/containers", .target(path: "/containers", version: "1.41", query: nil)),
        ("/containers/%252Fjson", .target(path: "/containers/%2Fjson", version: nil, query: nil)),
        ("/containers%252Fjson", .target(path: "/containers%2Fjson", version: nil, query: nil)),
        ("/%252e%252e/secrets", .target(path: "/%2e%2e/secrets", version: nil, query: nil)),
        ("/containers/a%20b", .target(path: "/containers/a b", version: nil, query: nil)),
        ("/v1.41", .target(path: "/", version: "1.41", query: nil)),
        ("/v1.41?x=1", .target(path: "/", version: "1.41", query: "x=1")),
        ("/v1", .target(path: "/", version: "1", query: nil)),
        ("/v1/containers/json", .target(path: "/containers/json", version: "1", query: nil)),
        ("/v1.41/v1.40/containers", .target(path: "/v1.40/containers", version: "1.41", query: nil)),
        ("/V1.41/containers", .target(path: "/V1.41/containers", version: nil, query: nil)),
        ("/v/containers", .target(path: "/v/containers", version: nil, query: nil)),
        ("/version", .target(path: "/version", version: nil, query: nil)),
        ("/v1.41/version", .target(path: "/version", version: "1.41", query: nil)),
        ("/v1x/containers", .target(path: "/v1x/containers", version: nil, query: nil)),
        ("/_ping", .target(path: "/_ping", version: nil, query: nil)),
        ("/", .target(path: "/", version: nil, query: nil)),
        ("/?", .target(path: "/", version: nil, query: "")),
        ("/containers/json?", .target(path: "/containers/json", version: nil, query: "")),
        (
            "/containers/json?filters=/secrets/../x",
            .target(path: "/containers/json", version: nil, query: "filters=/secrets/../x")
        ),
        ("/_ping?path=/v1.41/secrets%2F..", .target(path: "/_ping", version: nil, query: "path=/v1.41/secrets%2F..")),
        ("/containers/json?a=%zz&b=%00", .target(path: "/containers/json", version: nil, query: "a=%zz&b=%00")),
        ("/containers/json?x=1?y=2", .target(path: "/containers/json", version: nil, query: "x=1?y=2")),
        ("/containers/.x/...", .target(path: "/containers/.x/...", version: nil, query: nil)),
    ]

    @Test(arguments: accepted)
    func normalisesTheTargetToThePathTheDaemonRoutes(target: String, expected: Parsed) {
        #expect(Self.parse(target) == expected)
    }

    static let refused: [(String, TargetError)] = [
        ("", .notOriginForm),
        ("*", .notOriginForm),
        ("http://x/containers/json", .notOriginForm),
        ("docker:2375", .notOriginForm),
        ("containers/json", .notOriginForm),
        ("%2Fcontainers/json", .notOriginForm),
        ("/containers/json#x", .fragment),
        ("/containers/json?all=1#x", .fragment),
        ("/#", .fragment),
        ("/containers/%zz", .invalidPercentEncoding),
        ("/containers/%4", .invalidPercentEncoding),
        ("/containers/%", .invalidPercentEncoding),
        ("/containers/%4?x=1", .invalidPercentEncoding),
        ("/containers/%?41", .invalidPercentEncoding),
        ("/containers/%%41", .invalidPercentEncoding),
        ("/containers/%00", .controlCharacter),
        ("/containers/%0A", .controlCharacter),
        ("/containers/%0d", .controlCharacter),
        ("/containers/%1F", .controlCharacter),
        ("/containers/%7F", .controlCharacter),
        ("/containers/\u{7F}", .controlCharacter),
        ("/containers/\t", .controlCharacter),
        ("/v1.41/containers/../secrets", .dotSegment),
        ("/%2e%2e/secrets", .dotSegment),
        ("/%2E%2e/secrets", .dotSegment),
        ("/..", .dotSegment),
        ("/.", .dotSegment),
        ("/containers/./json", .dotSegment),
        ("/containers/%2e/json", .dotSegment),
        ("/containers/json%2F..%2F..%2Fsecrets", .dotSegment),
        ("/v1.41/..", .dotSegment),
        ("/containers//json", .emptySegment),
        ("/containers/json/", .emptySegment),
        ("/containers/json%2F", .emptySegment),
        ("/containers%2F%2Fjson", .emptySegment),
        ("//containers/json", .emptySegment),
        ("//", .emptySegment),
        ("/v1.41/", .emptySegment),
        ("/v1.41//containers", .emptySegment),
        ("/v1..2/containers", .invalidVersion),
        ("/v./containers", .invalidVersion),
        ("/v1./containers", .invalidVersion),
        ("/v.1/containers", .invalidVersion),
        ("/v1.2.3/containers", .invalidVersion),
        ("/v../containers", .invalidVersion),
        ("/v1.41.", .invalidVersion),
        ("/v1%2E%2E2/containers", .invalidVersion),
    ]

    @Test(arguments: refused)
    func refusesAnAmbiguousTarget(target: String, expected: TargetError) {
        #expect(Self.parse(target) == .error(expected))
    }

    @Test func keepsNonASCIIBytesInThePath() {
        let target = Array("/containers/%C3%A9t\u{E9}%FF".utf8)
        var scratch = [UInt8](repeating: 0, count: target.count + 8)
        let path = target.withUnsafeBytes { target in
            scratch.withUnsafeMutableBytes { scratch in
                let parsed = RequestTarget.parse(target, scratch: scratch)
                return (try? parsed.get()).map { Array(scratch[$0.path]) } ?? []
            }
        }
        #expect(path == Array("/containers/".utf8) + [0xC3, 0xA9, 0x74, 0xC3, 0xA9, 0xFF])
    }

    @Test func reportsTheQueryAsARangeOfTheOriginalTarget() {
        let target = Array("/v1.41/containers%2Fjson?all=1".utf8)
        var scratch = [UInt8](repeating: 0, count: target.count)
        let parsed = target.withUnsafeBytes { target in
            scratch.withUnsafeMutableBytes { RequestTarget.parse(target, scratch: $0) }
        }
        #expect(parsed == .success(RequestTarget(path: 6..<22, version: 2..<6, query: 25..<30)))
    }

    @Test(arguments: TargetError.allCasesForTests)
    func describesEveryErrorInWords(error: TargetError) {
        #expect(error.description.hasPrefix("the "))
    }

    @Test func describesADotSegment() {
        #expect(TargetError.dotSegment.description == "the path has a dot segment")
    }
}

extension TargetError {
    /// Every case, to check each has words.
    static let allCasesForTests: [TargetError] = [
        .notOriginForm, .invalidPercentEncoding, .fragment, .controlCharacter, .dotSegment, .emptySegment,
        .invalidVersion,
    ]
}

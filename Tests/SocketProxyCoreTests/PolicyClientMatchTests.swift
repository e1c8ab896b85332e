// Tests for choosing a client's profile: networks (IPv4, IPv6, mapped), user and group ids, first match wins.
import Testing

@testable import SocketProxyCore

/// `IPNetwork`: parsing and containment.
struct PolicyIPNetworkTests {
    static func address(_ text: String) -> SocketAddress {
        try! SocketAddress(parsing: text)
    }

    /// Network, client address, contained.
    static let containment: [(String, String, Bool)] = [
        ("10.0.0.0/8", "10.1.2.3:5000", true),
        ("10.0.0.0/8", "11.0.0.1:5000", false),
        ("10.0.0.0/8", "[::ffff:10.9.9.9]:5000", true),
        ("10.0.0.0/8", "[::ffff:11.9.9.9]:5000", false),
        ("10.0.0.0/8", "[::a00:1]:5000", false),
        ("192.168.1.7", "192.168.1.7:1", true),
        ("192.168.1.7", "192.168.1.8:1", false),
        ("192.168.1.7/32", "[::ffff:192.168.1.7]:1", true),
        ("0.0.0.0/0", "203.0.113.9:1", true),
        ("0.0.0.0/0", "[2001:db8::1]:1", false),
        ("172.16.0.0/12", "172.31.255.255:1", true),
        ("172.16.0.0/12", "172.32.0.0:1", false),
        ("::1/128", "[::1]:1", true),
        ("::1/128", "127.0.0.1:1", false),
        ("::1", "[::1]:1", true),
        ("fd00::/8", "[fd12:3456::1]:1", true),
        ("fd00::/8", "[fe80::1]:1", false),
        ("2001:db8::/32", "[2001:db8:ffff::1]:1", true),
        ("2001:db8::/33", "[2001:db8:8000::1]:1", false),
        ("::/0", "[2001:db8::1]:1", true),
        ("::/0", "10.0.0.1:1", true),
        ("::ffff:0:0/96", "10.0.0.1:1", true),
        ("10.0.0.0/8", "unix:/run/x.sock", false),
    ]

    @Test(arguments: containment)
    func containsTheAddressesOfItsPrefix(network: String, client: String, expected: Bool) throws {
        #expect(try IPNetwork(parsing: network).contains(Self.address(client)) == expected)
    }

    @Test func neverContainsAnUnknownAddress() throws {
        #expect(try !IPNetwork(parsing: "::/0").contains(.unknown))
    }

    static let descriptions: [(String, String)] = [
        ("10.0.0.0/8", "10.0.0.0/8"), ("192.168.1.7", "192.168.1.7/32"), ("::1", "::1/128"),
        ("fd00::/8", "fd00::/8"), ("0.0.0.0/0", "0.0.0.0/0"),
    ]

    @Test(arguments: descriptions)
    func printsItselfAsWrittenWithItsPrefix(text: String, expected: String) throws {
        #expect(try IPNetwork(parsing: text).description == expected)
    }

    static let invalid: [(String, String)] = [
        ("10.0.0.1/8", "has bits set after the /8 prefix; write 10.0.0.0/8"),
        ("fd00::1/8", "has bits set after the /8 prefix; write fd00::/8"),
        ("10.0.0.0/33", "the prefix length must be a number from 0 to 32"),
        ("::/129", "the prefix length must be a number from 0 to 128"),
        ("10.0.0.0/", "the prefix length must be a number from 0 to 32"),
        ("10.0.0.0/+8", "the prefix length must be a number from 0 to 32"),
        ("10.0.0/8", "\"10.0.0\" is not a numeric IPv4 or IPv6 address"),
        ("example.com/8", "\"example.com\" is not a numeric IPv4 or IPv6 address"),
        ("localhost", "expected a numeric IPv4 or IPv6 address"),
        ("", "expected a numeric IPv4 or IPv6 address"),
    ]

    @Test(arguments: invalid)
    func refusesWhatIsNotANetworkNamingTheProblem(text: String, problem: String) {
        #expect(throws: ConfigurationError("network \"\(text)\": \(problem)")) { try IPNetwork(parsing: text) }
    }
}

/// `ClientRule.select`: the first matching rule picks the profile.
struct PolicyClientRuleTests {
    static let tcpRules = [
        ClientRule(match: .network(try! IPNetwork(parsing: "10.1.0.0/16")), profile: "inner"),
        ClientRule(match: .network(try! IPNetwork(parsing: "10.0.0.0/8")), profile: "outer"),
        ClientRule(match: .network(try! IPNetwork(parsing: "fd00::/8")), profile: "v6"),
    ]

    static let tcpClients: [(String, String?)] = [
        ("10.1.2.3:40000", "inner"),
        ("10.2.2.3:40000", "outer"),
        ("[::ffff:10.1.0.1]:40000", "inner"),
        ("[fd00::5]:40000", "v6"),
        ("192.168.0.1:40000", nil),
    ]

    @Test(arguments: tcpClients)
    func picksTheFirstNetworkThatHoldsTheClient(client: String, expected: String?) throws {
        let address = try SocketAddress(parsing: client)
        #expect(ClientRule.select(Self.tcpRules, network: address, uid: nil, gid: nil) == expected)
    }

    static let unixRules = [
        ClientRule(match: .uid(1000), profile: "ci"),
        ClientRule(match: .gid(998), profile: "read-only"),
        ClientRule(match: .uid(0), profile: "admin"),
    ]

    static let unixClients: [(UInt32?, UInt32?, String?)] = [
        (1000, 998, "ci"),
        (1001, 998, "read-only"),
        (0, 0, "admin"),
        (0, 998, "read-only"),
        (1001, 1001, nil),
        (nil, nil, nil),
    ]

    @Test(arguments: unixClients)
    func picksTheFirstMatchingUserOrGroup(uid: UInt32?, gid: UInt32?, expected: String?) {
        #expect(ClientRule.select(Self.unixRules, network: .unix("/run/x.sock"), uid: uid, gid: gid) == expected)
    }

    @Test func anyMatchesEveryClientAndShadowsWhatFollows() {
        let rules = [ClientRule(match: .any, profile: "all"), ClientRule(match: .uid(1000), profile: "never")]
        #expect(ClientRule.select(rules, network: nil, uid: 1000, gid: nil) == "all")
        #expect(ClientRule.select(rules, network: nil, uid: nil, gid: nil) == "all")
    }

    @Test func aNetworkRuleNeverMatchesAUnixClientNorAUserRuleATCPClient() throws {
        let address = try SocketAddress(parsing: "10.0.0.1:1")
        #expect(
            ClientRule.select([ClientRule(match: .uid(0), profile: "x")], network: address, uid: nil, gid: nil) == nil)
        let network = ClientRule(match: .network(try IPNetwork(parsing: "::/0")), profile: "x")
        #expect(ClientRule.select([network], network: nil, uid: 0, gid: 0) == nil)
        #expect(ClientRule.select([], network: address, uid: 0, gid: 0) == nil)
    }

    @Test func describesEachMatch() throws {
        #expect(ClientMatch.network(try IPNetwork(parsing: "10.0.0.0/8")).description == "cidr 10.0.0.0/8")
        #expect(ClientMatch.uid(1000).description == "uid 1000")
        #expect(ClientMatch.gid(998).description == "gid 998")
        #expect(ClientMatch.any.description == "any client")
    }
}

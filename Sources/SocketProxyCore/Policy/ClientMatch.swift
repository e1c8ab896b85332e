// Which profile a client gets: networks for TCP clients, user and group ids for Unix clients, first match wins.

/// An IPv4 or IPv6 network: an address and a prefix length ("10.0.0.0/8", "fd00::/8", "192.168.1.7").
///
/// Addresses are compared in IPv6 form, IPv4 ones mapped to `::ffff:a.b.c.d`, so an IPv4 client on a dual-stack
/// socket (which the kernel reports as a mapped IPv6 address) matches an IPv4 network, and `::/0` matches every
/// client.
public struct IPNetwork: Sendable, Hashable, CustomStringConvertible {
    /// The prefix length as written: 0 to 32 for IPv4, 0 to 128 for IPv6.
    public let prefixLength: Int
    /// Whether the network was written as IPv4.
    public let isIPv4: Bool
    /// The network address in mapped IPv6 form, high and low 64 bits.
    private let high: UInt64
    private let low: UInt64
    /// The prefix as a mask over the mapped IPv6 form.
    private let maskHigh: UInt64
    private let maskLow: UInt64

    /// Parses `ADDRESS/PREFIX` or a single `ADDRESS` (a /32 or /128). The address must be numeric, and have no bits
    /// set after the prefix (`10.0.0.1/8` is refused: it is either a typo for a host or for `10.0.0.0/8`).
    public init(parsing text: String) throws(ConfigurationError) {
        func failure(_ problem: String) -> ConfigurationError {
            ConfigurationError("network \"\(text)\": \(problem)")
        }
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let host = String(parts[0])
        guard !host.isEmpty, host != "localhost" else { throw failure("expected a numeric IPv4 or IPv6 address") }
        let isIPv4 = !host.contains(":")
        let address: SocketAddress
        do {
            address = try SocketAddress(parsing: isIPv4 ? "\(host):0" : "[\(host)]:0")
        } catch {
            throw failure("\"\(host)\" is not a numeric IPv4 or IPv6 address")
        }
        let maximum = isIPv4 ? 32 : 128
        var prefixLength = maximum
        if parts.count == 2 {
            guard parts[1].allSatisfy({ $0.isASCII && $0.isNumber }), let length = Int(parts[1]),
                (0...maximum).contains(length)
            else {
                throw failure("the prefix length must be a number from 0 to \(maximum)")
            }
            prefixLength = length
        }
        guard let (high, low) = Self.mappedBits(of: address) else {
            throw failure("expected a numeric IPv4 or IPv6 address")
        }
        let (maskHigh, maskLow) = Self.mask(prefixLength + (isIPv4 ? 96 : 0))
        guard high & ~maskHigh == 0, low & ~maskLow == 0 else {
            let network = IPNetwork(
                prefixLength: prefixLength, isIPv4: isIPv4, high: high & maskHigh, low: low & maskLow,
                maskHigh: maskHigh, maskLow: maskLow)
            throw failure("has bits set after the /\(prefixLength) prefix; write \(network)")
        }
        self.init(
            prefixLength: prefixLength, isIPv4: isIPv4, high: high, low: low, maskHigh: maskHigh, maskLow: maskLow)
    }

    private init(prefixLength: Int, isIPv4: Bool, high: UInt64, low: UInt64, maskHigh: UInt64, maskLow: UInt64) {
        self.prefixLength = prefixLength
        self.isIPv4 = isIPv4
        self.high = high
        self.low = low
        self.maskHigh = maskHigh
        self.maskLow = maskLow
    }

    /// Whether `address` (a client's peer address) lies in the network. Unix and unknown addresses never do.
    public func contains(_ address: SocketAddress) -> Bool {
        guard let (addressHigh, addressLow) = Self.mappedBits(of: address) else { return false }
        return addressHigh & maskHigh == high && addressLow & maskLow == low
    }

    /// The network as `ADDRESS/PREFIX`, IPv4 in dotted form.
    public var description: String {
        if isIPv4 {
            let value = UInt32(truncatingIfNeeded: low)
            let octets = [value >> 24, value >> 16 & 0xFF, value >> 8 & 0xFF, value & 0xFF].map(String.init)
            return octets.joined(separator: ".") + "/\(prefixLength)"
        }
        var bytes: [UInt8] = []
        for word in [high, low] {
            for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: word >> shift)) }
        }
        return SocketAddress.ipv6(bytes, port: 0).host + "/\(prefixLength)"
    }

    /// An address as 128 bits, IPv4 mapped into `::ffff:0:0/96`; nil for Unix and unknown addresses.
    private static func mappedBits(of address: SocketAddress) -> (UInt64, UInt64)? {
        switch address {
        case .ipv4(let raw, _):
            // `raw` is the address in network byte order, as the kernel stores it.
            return (0, 0x0000_FFFF_0000_0000 | UInt64(UInt32(bigEndian: raw)))
        case .ipv6(let bytes, _):
            guard bytes.count == 16 else { return nil }
            var high: UInt64 = 0
            var low: UInt64 = 0
            for index in 0..<8 { high = high << 8 | UInt64(bytes[index]) }
            for index in 8..<16 { low = low << 8 | UInt64(bytes[index]) }
            return (high, low)
        case .unix, .unknown:
            return nil
        }
    }

    /// The mask of the first `bits` of 128.
    private static func mask(_ bits: Int) -> (UInt64, UInt64) {
        let high: UInt64 = bits >= 64 ? .max : bits == 0 ? 0 : .max << UInt64(64 - bits)
        let low: UInt64 = bits <= 64 ? 0 : bits >= 128 ? .max : .max << UInt64(128 - bits)
        return (high, low)
    }
}

/// What a client must be for a ``ClientRule`` to apply.
public enum ClientMatch: Sendable, Hashable, CustomStringConvertible {
    /// A TCP client whose address lies in the network.
    case network(IPNetwork)
    /// A Unix-socket client whose user id (from `SO_PEERCRED`) is this.
    case uid(UInt32)
    /// A Unix-socket client whose primary group id (from `SO_PEERCRED`) is this. Supplementary groups are not seen:
    /// the kernel reports only the peer's effective user and group.
    case gid(UInt32)
    /// Every client.
    case any

    /// Whether a client with this address (TCP) or these credentials (Unix) matches.
    public func matches(network: SocketAddress?, uid: UInt32?, gid: UInt32?) -> Bool {
        switch self {
        case .network(let ipNetwork): network.map(ipNetwork.contains) ?? false
        case .uid(let wanted): uid == wanted
        case .gid(let wanted): gid == wanted
        case .any: true
        }
    }

    /// The match as a policy file writes it: `cidr 10.0.0.0/8`, `uid 1000`, `gid 998`, `any client`.
    public var description: String {
        switch self {
        case .network(let network): "cidr \(network)"
        case .uid(let uid): "uid \(uid)"
        case .gid(let gid): "gid \(gid)"
        case .any: "any client"
        }
    }
}

/// One entry of a listener's `clients` list: clients that match get the named profile.
public struct ClientRule: Sendable, Hashable {
    /// Which clients the rule applies to.
    public var match: ClientMatch
    /// The profile they get.
    public var profile: String

    /// Creates a rule.
    public init(match: ClientMatch, profile: String) {
        self.match = match
        self.profile = profile
    }

    /// The profile for a connection: that of the first rule matching the client, or nil when none does (the
    /// connection is refused). `network` is a TCP client's peer address; `uid` and `gid` a Unix client's
    /// credentials; pass nil for what the connection does not have.
    public static func select(_ rules: [ClientRule], network: SocketAddress?, uid: UInt32?, gid: UInt32?) -> String? {
        rules.first { $0.match.matches(network: network, uid: uid, gid: gid) }?.profile
    }
}

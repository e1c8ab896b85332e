// The policy file: listeners, the profile each client gets, the profiles' rules, and the proxy's mode.
#if canImport(Glibc)
    import Glibc
#endif

/// What the proxy does with a request the policy denies.
public enum ProxyMode: String, Sendable, CaseIterable {
    /// Denied requests are refused (403). The default.
    case enforce
    /// Every request passes; those the policy would deny are recorded as such.
    case audit
    /// Every request passes; the proxy collects what it sees and prints the smallest policy that allows it.
    case learn
}

/// A policy file (YAML, or JSON, which is YAML) read and checked: where to listen, which profile each client gets,
/// and the profiles. ``load(path:accounts:)`` reads one; Docs/policy.md describes every key.
public struct PolicyFile: Sendable {
    /// One place clients connect to, and how its clients get a profile.
    public struct Listener: Sendable, Equatable {
        /// The name in audit records and messages; default: the address as written.
        public var name: String
        /// Where to listen. For `*:PORT` this is `[::]:PORT` and ``anyInterface`` is set.
        public var address: SocketAddress
        /// Written as `*:PORT`: every interface, IPv6 and IPv4 (dual stack), or `0.0.0.0:PORT` where IPv6 is off.
        public var anyInterface: Bool
        /// Permission bits of a Unix socket file.
        public var unixMode: UInt32?
        /// Owner (user id) of a Unix socket file.
        public var unixOwner: UInt32?
        /// Group id of a Unix socket file.
        public var unixGroup: UInt32?
        /// The profile of every client; nil when ``clients`` decides.
        public var profile: String?
        /// First match wins; a client matching none is refused when it connects. Empty when ``profile`` is set.
        public var clients: [ClientRule]

        /// Creates a listener.
        public init(
            name: String, address: SocketAddress, anyInterface: Bool = false, unixMode: UInt32? = nil,
            unixOwner: UInt32? = nil, unixGroup: UInt32? = nil, profile: String? = nil, clients: [ClientRule] = []
        ) {
            self.name = name
            self.address = address
            self.anyInterface = anyInterface
            self.unixMode = unixMode
            self.unixOwner = unixOwner
            self.unixGroup = unixGroup
            self.profile = profile
            self.clients = clients
        }

        /// The profile name for a client: ``profile``, or the first of ``clients`` that matches; nil to refuse.
        /// `network` is a TCP client's peer address, `uid` and `gid` a Unix client's credentials.
        public func profileName(network: SocketAddress?, uid: UInt32?, gid: UInt32?) -> String? {
            profile ?? ClientRule.select(clients, network: network, uid: uid, gid: gid)
        }
    }

    /// The file as named when it was read, for messages.
    public var source: String
    /// `socket_path`: the Docker daemon's socket; nil when the file leaves it to the environment or the default.
    public var socketPath: String?
    /// `mode`: enforce (default), audit or learn.
    public var mode: ProxyMode
    /// `listeners`, in file order.
    public var listeners: [Listener]
    /// The profiles of `profiles` in file order, then the presets listeners name directly.
    public var profiles: [Profile]
    /// Findings that do not stop the proxy: profiles no listener uses, client rules that can never match.
    public var warnings: [String]

    /// Creates a policy from its parts (the file reader uses this; tests may too).
    public init(
        source: String, socketPath: String? = nil, mode: ProxyMode = .enforce, listeners: [Listener],
        profiles: [Profile], warnings: [String] = []
    ) {
        self.source = source
        self.socketPath = socketPath
        self.mode = mode
        self.listeners = listeners
        self.profiles = profiles
        self.warnings = warnings
    }

    /// The profile named `name`, or nil.
    public func profile(named name: String) -> Profile? {
        profiles.first { $0.name == name }
    }

    /// The listener named `name`, or nil.
    public func listener(named name: String) -> Listener? {
        listeners.first { $0.name == name }
    }

    /// Reads and checks the file at `path`. Errors name the file, the line and column, and the key path of the bad
    /// value: `policy.yaml:12:16: profiles.ci.rules[2].methods[0]: "GETT" is not an HTTP method; ...`.
    public static func load(path: String, accounts: AccountLookup = .system) throws(ConfigurationError) -> PolicyFile {
        try parse(text: try readFile(path), source: path, accounts: accounts)
    }

    /// Parses and checks policy text; `source` names it in errors. User and group names go through `accounts`.
    public static func parse(
        text: String, source: String, accounts: AccountLookup = .system
    ) throws(ConfigurationError) -> PolicyFile {
        try PolicyFileReader(source: source, accounts: accounts).read(
            try ConfigValue.document(text: text, source: source))
    }

    /// The whole file as text; an error says why it cannot be read.
    private static func readFile(_ path: String) throws(ConfigurationError) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ConfigurationError("\(path): cannot read the policy file: \(errnoText())") }
        defer { _ = close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw ConfigurationError("\(path): cannot read the policy file: \(errnoText())")
            }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
            guard bytes.count <= 16 << 20 else {
                throw ConfigurationError("\(path): the policy file is larger than 16 MiB; is it the right file?")
            }
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ConfigurationError("\(path): the policy file is not UTF-8 text")
        }
        return text
    }

    private static func errnoText() -> String {
        let code = errno
        return "\(String(cString: strerror(code))) (errno \(code))"
    }
}

// The knobs of a running proxy: where the daemon is, limits and timeouts, and the policy in force.

/// Where a listener gets its socket.
public enum ListenerSource: Sendable, Equatable, CustomStringConvertible {
    /// Bind and listen on an address.
    case address(SocketAddress)
    /// An already listening socket (from systemd socket activation), with its name.
    case inherited(FileDescriptor, name: String)

    public var description: String {
        switch self {
        case .address(let address): return address.description
        case .inherited(let fd, let name): return "\(name) (inherited \(fd))"
        }
    }
}

/// One place clients connect to, and which profile its clients get.
public struct ListenerConfiguration: Sendable, Equatable {
    /// Where the socket comes from.
    public var source: ListenerSource
    /// The name in audit records (nil: the address, or systemd's name for a passed socket).
    public var name: String?
    /// For an IPv6 address: serve IPv6 only (false: IPv4 clients too, dual stack).
    public var v6Only: Bool
    /// Permission bits for a Unix socket file (nil: leave as the umask made it).
    public var unixMode: UInt32?
    /// Owner and group for a Unix socket file (nil: leave as created).
    public var unixOwner: UInt32?
    public var unixGroup: UInt32?
    /// The profile every client of this listener gets; nil: decided by ``clients``, or the snapshot's default
    /// profile when there are no client rules.
    public var profile: String?
    /// Client rules, first match wins; a client matching none is refused when it connects.
    public var clients: [ClientRule]

    /// The name in audit records and in ``PolicySnapshot/listenerAccess``: ``name``, else the address, else the
    /// name systemd gave a passed socket.
    public var displayName: String {
        if let name { return name }
        switch source {
        case .address(let address): return address.description
        case .inherited(_, let label): return label
        }
    }

    /// The profile and client rules of this listener.
    public var access: ListenerAccess { ListenerAccess(profile: profile, clients: clients) }

    /// Creates a listener configuration.
    public init(
        source: ListenerSource, v6Only: Bool = true, unixMode: UInt32? = nil, unixOwner: UInt32? = nil,
        unixGroup: UInt32? = nil, profile: String? = nil, clients: [ClientRule] = [], name: String? = nil
    ) {
        self.source = source
        self.name = name
        self.v6Only = v6Only
        self.unixMode = unixMode
        self.unixOwner = unixOwner
        self.unixGroup = unixGroup
        self.profile = profile
        self.clients = clients
    }
}

/// Which profile a listener's clients get: one for all, or by client rules (a client matching none is refused).
public struct ListenerAccess: Sendable, Equatable {
    public var profile: String?
    public var clients: [ClientRule]
    /// Creates an assignment.
    public init(profile: String?, clients: [ClientRule]) {
        self.profile = profile
        self.clients = clients
    }
}

/// The policy in force; replaced as a whole on reload, so a request sees one consistent version.
public final class PolicySnapshot: Sendable {
    /// Every profile a listener or client rule can name; the first is the default.
    public let profiles: [Profile]
    /// Enforce the decisions, or only record them (audit, learn).
    public let mode: ProxyMode
    /// In learn mode, what was seen.
    public let learner: PolicyLearner?
    /// Listener name -> the profile and client rules its new clients get; a listener not named here keeps what it
    /// was started with. Lets a reload change them without reopening sockets.
    public let listenerAccess: [String: ListenerAccess]
    private let indexByName: [String: Int]

    /// A snapshot with one profile, enforced.
    public convenience init(profile: Profile) {
        self.init(profiles: [profile], mode: .enforce)
    }

    /// A snapshot with `profiles` (at least one; names unique) in `mode`. Learn mode gets a ``PolicyLearner``
    /// unless one is passed (to keep what a reload's predecessor learnt).
    public init(
        profiles: [Profile], mode: ProxyMode, learner: PolicyLearner? = nil,
        listenerAccess: [String: ListenerAccess] = [:]
    ) {
        precondition(!profiles.isEmpty, "a policy needs at least one profile")
        self.profiles = profiles
        self.mode = mode
        self.listenerAccess = listenerAccess
        self.learner = mode == .learn ? (learner ?? PolicyLearner()) : nil
        var index: [String: Int] = [:]
        for (position, profile) in profiles.enumerated() where index[profile.name] == nil {
            index[profile.name] = position
        }
        indexByName = index
    }

    /// The default profile.
    public var profile: Profile { profiles[0] }

    /// The position of the profile named `name`, if there is one.
    public func index(of name: String) -> Int? { indexByName[name] }
}

/// Everything a ``ProxyServer`` needs.
public struct ProxyConfiguration: Sendable {
    /// The daemon's socket.
    public var upstream: SocketAddress = .unix("/var/run/docker.sock")
    /// Where clients connect.
    public var listeners: [ListenerConfiguration] = []
    /// The policy.
    public var policy: PolicySnapshot
    /// Request head limits.
    public var limits = HTTPLimits()
    /// Event loops (threads); 0 means one per core.
    public var threads = 0
    /// A request head must be complete this long after its first byte (or after connect), else 408.
    public var headerTimeout: Duration = .seconds(10)
    /// An idle keep-alive connection is closed after this long.
    public var idleTimeout: Duration = .seconds(60)
    /// Connecting to the daemon may take this long, else 502.
    public var connectTimeout: Duration = .seconds(5)
    /// A response or stream with no bytes moving for this long is cut; zero means never (the default, so that
    /// `/events` and `logs --follow` stay open as long as both ends do).
    public var streamIdleTimeout: Duration = .zero
    /// Open client connections allowed at once; 0 derives it from the descriptor limit.
    public var maxConnections = 0
    /// Capacity asked for each splice pipe.
    public var pipeSize = 1 << 18

    /// Creates a configuration with a policy and defaults for the rest.
    public init(policy: PolicySnapshot) {
        self.policy = policy
    }
}

extension Duration {
    /// Whole nanoseconds, saturating.
    var nanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0 else { return 0 }
        let whole = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        if whole.overflow { return .max }
        return whole.partialValue &+ UInt64(attoseconds / 1_000_000_000)
    }
}

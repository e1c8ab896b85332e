// The Docker API sections: the first path segment after the version prefix, one Tecnativa variable each.

/// A Docker Engine API section, named by the first path segment after the version prefix.
///
/// The cases follow the Tecnativa configuration, one variable per section.
public enum Section: String, CaseIterable, Sendable {
    case auth, build, commit, configs, containers, distribution, events, exec, grpc, images, info, networks, nodes,
        ping = "_ping", plugins, secrets, services, session, swarm, system, tasks, version, volumes

    /// The section named by the first segment of `path` ("/containers/json" is ``containers``), or nil.
    ///
    /// The match is exact and case-sensitive, like the daemon's router: "/containersX" and "/Containers" name no
    /// section. Allocates nothing.
    public init?(firstSegmentOf path: UnsafeRawBufferPointer) {
        // SAFETY: every index read is below path.count.
        guard path.count >= 2, path[0] == UInt8(ascii: "/") else { return nil }
        var end = 1
        while end < path.count && path[end] != UInt8(ascii: "/") { end += 1 }
        guard let section = Section.named(UnsafeRawBufferPointer(rebasing: path[1..<end])) else { return nil }
        self = section
    }

    /// The Tecnativa variable that turns the section on: "CONTAINERS", "PING" for `_ping`.
    public var variable: String {
        switch self {
        case .ping: "PING"
        default: rawValue.uppercased()
        }
    }

    /// The section whose name is exactly `segment`.
    static func named(_ segment: UnsafeRawBufferPointer) -> Section? {
        for (section, name) in namesAsBytes where name.count == segment.count {
            if name.elementsEqual(segment) { return section }
        }
        return nil
    }

    /// Every section with its segment as bytes, built once so that matching a request allocates nothing.
    private static let namesAsBytes: [(Section, [UInt8])] = allCases.map { ($0, Array($0.rawValue.utf8)) }
}

extension Section {
    /// The position in ``allCases``, without searching.
    var ordinal: Int {
        switch self {
        case .auth: return 0
        case .build: return 1
        case .commit: return 2
        case .configs: return 3
        case .containers: return 4
        case .distribution: return 5
        case .events: return 6
        case .exec: return 7
        case .grpc: return 8
        case .images: return 9
        case .info: return 10
        case .networks: return 11
        case .nodes: return 12
        case .ping: return 13
        case .plugins: return 14
        case .secrets: return 15
        case .services: return 16
        case .session: return 17
        case .swarm: return 18
        case .system: return 19
        case .tasks: return 20
        case .version: return 21
        case .volumes: return 22
        }
    }
}

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

// The requests whose bodies the inspector reads, recognised from method and normalised path.

/// An endpoint whose JSON body can ask the daemon for access to the host.
///
/// The daemon routes `/containers/{name:.*}/update` with a name that may hold slashes, so the endpoints with a name
/// in the path match on prefix and suffix, the way the daemon's router does.
public enum InspectedEndpoint: String, Sendable, CaseIterable {
    /// `POST /containers/create`: a container config, with `HostConfig` inside and (for daemons before 27.0) also at
    /// the top level. Also `POST /containers/{id}/start` with a body: daemons before 25.0 still apply a HostConfig
    /// sent there on API versions below 1.24, decoded by the same wrapper as a create body.
    case containerCreate
    /// `POST /containers/{id}/update`: the `Resources` fields at the top level.
    case containerUpdate
    /// `POST /containers/{id}/exec`: `Privileged`.
    case execCreate
    /// `POST /volumes/create`: the driver and its options (`o=bind`, `device`).
    case volumeCreate
    /// `POST /services/create`: a service spec.
    case serviceCreate
    /// `POST /services/{id}/update`: a whole service spec, as for create.
    case serviceUpdate
    /// `POST /plugins/pull`: the privileges the client accepts, as a JSON array.
    case pluginPull
    /// `POST /plugins/{name}/upgrade`: the privileges the client accepts, as a JSON array.
    case pluginUpgrade

    /// The endpoint a request is, from its method and normalised path (decoded, version prefix removed, e.g.
    /// "/containers/create"); nil when its body needs no inspection.
    public init?(method: HTTPMethod, path: UnsafeRawBufferPointer) {
        guard method == .post else { return nil }
        if Self.path(path, is: "/containers/create") {
            self = .containerCreate
        } else if Self.path(path, is: "/volumes/create") {
            self = .volumeCreate
        } else if Self.path(path, is: "/services/create") {
            self = .serviceCreate
        } else if Self.path(path, is: "/plugins/pull") {
            self = .pluginPull
        } else if Self.path(path, startsWith: "/containers/", endsWith: "/update") {
            self = .containerUpdate
        } else if Self.path(path, startsWith: "/containers/", endsWith: "/start") {
            self = .containerCreate
        } else if Self.path(path, startsWith: "/containers/", endsWith: "/exec") {
            self = .execCreate
        } else if Self.path(path, startsWith: "/services/", endsWith: "/update") {
            self = .serviceUpdate
        } else if Self.path(path, startsWith: "/plugins/", endsWith: "/upgrade") {
            self = .pluginUpgrade
        } else {
            return nil
        }
    }

    private static func path(_ path: UnsafeRawBufferPointer, is literal: String) -> Bool {
        path.elementsEqual(literal.utf8)
    }

    /// Prefix and suffix do not overlap: the name between them may be empty (the router's `.*`), never negative.
    private static func path(_ path: UnsafeRawBufferPointer, startsWith prefix: String, endsWith suffix: String) -> Bool
    {
        guard path.count >= prefix.utf8.count + suffix.utf8.count else { return false }
        return path.starts(with: prefix.utf8) && path.suffix(suffix.utf8.count).elementsEqual(suffix.utf8)
    }
}

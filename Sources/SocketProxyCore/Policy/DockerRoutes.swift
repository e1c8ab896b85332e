// The Docker Engine API's routes as path templates, to name a concrete path by the endpoint it reaches.

/// The routes of the Docker Engine API (api/swagger.yaml), most specific first within each section.
public enum DockerRoutes {
    /// Every route template, in the order they are tried.
    public static let templates: [PathTemplate] = [
        "/_ping", "/version", "/info", "/events", "/auth",
        "/system/df",
        "/containers/json", "/containers/create", "/containers/prune",
        "/containers/{id+}/json", "/containers/{id+}/top", "/containers/{id+}/logs", "/containers/{id+}/changes",
        "/containers/{id+}/export", "/containers/{id+}/stats", "/containers/{id+}/resize", "/containers/{id+}/start",
        "/containers/{id+}/stop", "/containers/{id+}/restart", "/containers/{id+}/kill", "/containers/{id+}/update",
        "/containers/{id+}/rename", "/containers/{id+}/pause", "/containers/{id+}/unpause",
        "/containers/{id+}/attach", "/containers/{id+}/attach/ws", "/containers/{id+}/wait",
        "/containers/{id+}/archive", "/containers/{id+}/exec", "/containers/{id}",
        "/exec/{id}/start", "/exec/{id}/resize", "/exec/{id}/json",
        "/images/json", "/images/create", "/images/load", "/images/get", "/images/prune", "/images/search",
        "/images/{name+}/json", "/images/{name+}/history", "/images/{name+}/push", "/images/{name+}/tag",
        "/images/{name+}/get", "/images/{name+}",
        "/build", "/build/prune", "/build/cancel", "/commit", "/session", "/grpc",
        "/distribution/{name+}/json",
        "/networks", "/networks/create", "/networks/prune", "/networks/{id}/connect", "/networks/{id}/disconnect",
        "/networks/{id}",
        "/volumes", "/volumes/create", "/volumes/prune", "/volumes/{name}",
        "/plugins", "/plugins/privileges", "/plugins/pull", "/plugins/create", "/plugins/{name+}/json",
        "/plugins/{name+}/enable", "/plugins/{name+}/disable", "/plugins/{name+}/upgrade",
        "/plugins/{name+}/push", "/plugins/{name+}/set", "/plugins/{name+}",
        "/swarm", "/swarm/init", "/swarm/join", "/swarm/leave", "/swarm/update", "/swarm/unlockkey", "/swarm/unlock",
        "/nodes", "/nodes/{id}/update", "/nodes/{id}",
        "/services", "/services/create", "/services/{id}/update", "/services/{id}/logs", "/services/{id}",
        "/tasks", "/tasks/{id}/logs", "/tasks/{id}",
        "/secrets", "/secrets/create", "/secrets/{id}/update", "/secrets/{id}",
        "/configs", "/configs/create", "/configs/{id}/update", "/configs/{id}",
    ].map { text in
        do {
            return try PathTemplate(parsing: text)
        } catch {
            preconditionFailure("built-in route \(text): \(error)")
        }
    }

    /// The first route template matching a normalised path, or nil for a path the API does not have.
    public static func template(for path: UnsafeRawBufferPointer) -> PathTemplate? {
        templates.first { $0.matches(path) }
    }
}

// Whole inspect records from the daemon's own socket, for tests that check exactly what configuration a container
// or volume was created with.
import Foundation

extension DockerAPI {
    /// `GET /containers/{id}/json` as a JSON object, or nil when there is no such container.
    func containerRecord(_ nameOrID: String) async throws -> [String: Any]? {
        try await record("/containers/\(escapePath(nameOrID))/json")
    }

    /// `GET /volumes/{name}` as a JSON object, or nil when there is no such volume.
    func volumeRecord(_ name: String) async throws -> [String: Any]? {
        try await record("/volumes/\(escapePath(name))")
    }

    private func record(_ path: String) async throws -> [String: Any]? {
        let response = try await request("GET", path)
        if response.status == 404 { return nil }
        guard response.status == 200, let object = response.jsonObject else {
            throw HarnessError("GET \(path) on the daemon answered \(response.status): \(response.bodyText)")
        }
        return object
    }
}

/// Reading nested values out of `JSONSerialization` objects: `record[path: "HostConfig", "Privileged"]`.
extension Dictionary where Key == String, Value == Any {
    /// The value at a path of keys, or nil when any step is missing or not an object.
    subscript(path keys: String...) -> Any? {
        var current: Any? = self
        for key in keys {
            guard let object = current as? [String: Any] else { return nil }
            current = object[key]
        }
        return current
    }

    /// The strings at a path (nil when absent, JSON null, or not a list of strings).
    func strings(_ keys: String...) -> [String]? {
        var current: Any? = self
        for key in keys {
            guard let object = current as? [String: Any] else { return nil }
            current = object[key]
        }
        return current as? [String]
    }
}

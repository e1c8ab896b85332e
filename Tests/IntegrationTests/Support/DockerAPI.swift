// Direct questions to the daemon on its Unix socket, bypassing the proxy: the ground truth for
// "the daemon's state did not change".
import Foundation

/// A client for the daemon's own socket. Every call opens a connection, sends one request with
/// `Connection: close`, and reads the whole answer.
struct DockerAPI: Sendable {
    /// The daemon's Unix socket.
    let socketPath: String

    /// Sends one request and returns the response.
    func request(_ method: String, _ path: String, json body: String? = nil, timeout: Duration = .seconds(30))
        async throws -> RawResponse
    {
        let connection = try RawHTTPConnection.unix(path: socketPath)
        defer { connection.close() }
        var headers = [("Connection", "close")]
        if body != nil { headers.append(("Content-Type", "application/json")) }
        try await connection.send(RawRequest.make(method, path, headers: headers, body: body))
        let exchange = try await connection.readResponses(count: 1, methods: [method], timeout: timeout)
        guard let response = exchange.responses.first else {
            throw HarnessError("no response from the daemon to \(method) \(path): \(exchange)")
        }
        return response
    }

    /// GETs a path and decodes its JSON body; throws unless the status is 200.
    func get<T: Decodable>(_ path: String, as type: T.Type) async throws -> T {
        let response = try await request("GET", path)
        guard response.status == 200 else {
            throw HarnessError("GET \(path) on the daemon answered \(response.status): \(response.bodyText)")
        }
        do {
            return try JSONDecoder().decode(T.self, from: response.body)
        } catch {
            throw HarnessError("GET \(path) on the daemon: cannot decode \(T.self): \(error)\n\(response.bodyText)")
        }
    }

    /// Whether `GET /_ping` answers OK.
    func ping() async -> Bool {
        guard let response = try? await request("GET", "/_ping", timeout: .seconds(5)) else { return false }
        return response.status == 200 && response.bodyText == "OK"
    }

    /// The daemon's version and API version.
    func version() async throws -> DaemonVersion {
        try await get("/version", as: DaemonVersion.self)
    }

    // MARK: Containers

    /// Containers, running or not, optionally filtered (`["label": ["k=v"]]`, `["name": ["x"]]`).
    func containers(filters: [String: [String]] = [:]) async throws -> [ContainerSummary] {
        try await get("/containers/json?all=1" + filterQuery(filters), as: [ContainerSummary].self)
    }

    /// The containers that carry a label, e.g. the one a test put on everything it tried to create.
    func containers(labelled label: String) async throws -> [ContainerSummary] {
        try await containers(filters: ["label": [label]])
    }

    /// The IDs of all containers.
    func containerIDs() async throws -> Set<String> {
        Set(try await containers().map(\.id))
    }

    /// Containers whose name, label or command mentions `token`: the proof that a request a test expected to be
    /// denied created nothing, which holds even while parallel tests create containers of their own.
    func containers(mentioning token: String) async throws -> [ContainerSummary] {
        try await containers().filter { container in
            container.command.contains(token) || container.names.contains { $0.contains(token) }
                || (container.labels ?? [:]).contains { $0.key.contains(token) || $0.value.contains(token) }
        }
    }

    /// A container's inspect record, or nil when there is no container by that name or ID.
    func container(_ nameOrID: String) async throws -> ContainerDetails? {
        let path = "/containers/\(escapePath(nameOrID))/json"
        let response = try await request("GET", path)
        if response.status == 404 { return nil }
        guard response.status == 200 else {
            throw HarnessError("GET \(path) on the daemon answered \(response.status): \(response.bodyText)")
        }
        return try JSONDecoder().decode(ContainerDetails.self, from: response.body)
    }

    /// Removes a container and its anonymous volumes, running or not; absent ones are fine.
    func removeContainer(_ nameOrID: String) async {
        _ = try? await request("DELETE", "/containers/\(escapePath(nameOrID))?force=1&v=1")
    }

    // MARK: Images, volumes, networks

    /// The IDs of all images, intermediate ones included.
    func imageIDs() async throws -> Set<String> {
        Set(try await get("/images/json?all=1", as: [ImageSummary].self).map(\.id))
    }

    /// The image a reference names, or nil when there is none.
    func image(_ reference: String) async throws -> ImageSummary? {
        let response = try await request("GET", "/images/\(escapePath(reference))/json")
        if response.status == 404 { return nil }
        guard response.status == 200 else {
            throw HarnessError("GET /images/\(reference)/json on the daemon answered \(response.status)")
        }
        return try JSONDecoder().decode(ImageSummary.self, from: response.body)
    }

    /// Removes an image by reference or ID; absent ones are fine.
    func removeImage(_ reference: String) async {
        _ = try? await request("DELETE", "/images/\(escapePath(reference))?force=1")
    }

    /// The names of all volumes.
    func volumeNames() async throws -> Set<String> {
        Set((try await get("/volumes", as: VolumeList.self).volumes ?? []).map(\.name))
    }

    /// Removes a volume; absent ones are fine.
    func removeVolume(_ name: String) async {
        _ = try? await request("DELETE", "/volumes/\(escapePath(name))?force=1")
    }

    /// The names of all networks.
    func networkNames() async throws -> Set<String> {
        Set(try await get("/networks", as: [NetworkSummary].self).map(\.name))
    }

    /// Removes a network; absent ones are fine.
    func removeNetwork(_ name: String) async {
        _ = try? await request("DELETE", "/networks/\(escapePath(name))")
    }

    private func filterQuery(_ filters: [String: [String]]) -> String {
        guard !filters.isEmpty,
            let data = try? JSONSerialization.data(withJSONObject: filters, options: [.sortedKeys])
        else { return "" }
        return "&filters=" + escapeQuery(String(decoding: data, as: UTF8.self))
    }
}

/// Percent-encodes everything but unreserved characters, for a query value.
func escapeQuery(_ text: String) -> String {
    var allowed = CharacterSet.alphanumerics
    allowed.insert(charactersIn: "-._~")
    return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
}

/// Percent-encodes a path segment (keeps `/` and `:` so that `repo/name:tag` stays readable).
func escapePath(_ text: String) -> String {
    var allowed = CharacterSet.alphanumerics
    allowed.insert(charactersIn: "-._~/:@")
    return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
}

/// `GET /version`.
struct DaemonVersion: Decodable, Sendable {
    let version: String
    let apiVersion: String
    let minAPIVersion: String?
    let os: String?

    enum CodingKeys: String, CodingKey {
        case version = "Version"
        case apiVersion = "ApiVersion"
        case minAPIVersion = "MinAPIVersion"
        case os = "Os"
    }
}

/// One entry of `GET /containers/json`.
struct ContainerSummary: Decodable, Sendable {
    let id: String
    let names: [String]
    let state: String
    let command: String
    let labels: [String: String]?

    enum CodingKeys: String, CodingKey {
        case id = "Id"
        case names = "Names"
        case state = "State"
        case command = "Command"
        case labels = "Labels"
    }
}

/// The parts of `GET /containers/{id}/json` the tests look at.
struct ContainerDetails: Decodable, Sendable {
    let id: String
    let name: String
    let state: State
    let execIDs: [String]?

    /// The container's run state.
    struct State: Decodable, Sendable {
        let status: String
        let running: Bool
        let exitCode: Int
        let startedAt: String

        enum CodingKeys: String, CodingKey {
            case status = "Status"
            case running = "Running"
            case exitCode = "ExitCode"
            case startedAt = "StartedAt"
        }
    }

    enum CodingKeys: String, CodingKey {
        case id = "Id"
        case name = "Name"
        case state = "State"
        case execIDs = "ExecIDs"
    }
}

/// One entry of `GET /images/json`, or `GET /images/{name}/json`.
struct ImageSummary: Decodable, Sendable {
    let id: String

    enum CodingKeys: String, CodingKey {
        case id = "Id"
    }
}

/// `GET /volumes`.
struct VolumeList: Decodable, Sendable {
    let volumes: [Volume]?

    /// One volume.
    struct Volume: Decodable, Sendable {
        let name: String
        enum CodingKeys: String, CodingKey { case name = "Name" }
    }

    enum CodingKeys: String, CodingKey { case volumes = "Volumes" }
}

/// One entry of `GET /networks`.
struct NetworkSummary: Decodable, Sendable {
    let name: String
    enum CodingKeys: String, CodingKey { case name = "Name" }
}

// `socket-proxy explain`: would this request be allowed, under which profile, by which rule, and why.
import ArgumentParser
import SocketProxyCore

#if canImport(Glibc)
    import Glibc
#endif

struct Explain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show whether a request would be allowed, by which rule of which profile, and why.",
        discussion: """
            Parses TARGET as the proxy does (percent-decoding once, removing the API version prefix, refusing \
            targets the daemon would read differently) and tries the profile's rules in order, with the query \
            constraints, exactly as the proxy does for a request. Prints allow or deny, the profile, the path the \
            rules saw, the deciding rule (its index and name, or the default deny), the reason, and for an allowed \
            request the body inspection that applies to it. With --body, the body is checked against that \
            inspection too, as the proxy checks container create, exec create, volume, service and plugin bodies \
            before forwarding them; a body the inspection refuses makes the answer deny.

            The profile: with --profile, that profile (of the policy file, a built-in preset such as read-only, or \
            "tecnativa" for the environment's). With --config and no --profile, the profile of the listener named \
            by --listener (or of the only listener), for the client given by --from (a TCP client's address) or \
            --uid / --gid (a Unix client's credentials) when the listener picks a profile per client. Without \
            --config, the profile the environment variables stand for, as serve builds it.

            Examples:
              socket-proxy explain GET '/v1.47/containers/json?all=1'
              socket-proxy explain POST /containers/create --config p.yaml --listener ci --uid 1000
              socket-proxy explain GET /containers/abc/archive --profile read-only
              socket-proxy explain POST /containers/create --body create.json

            Exits 0 when the request would be allowed, 1 when it would be denied, 2 when the configuration is \
            invalid or the profile cannot be found.
            """
    )

    @Argument(
        help: ArgumentHelp(
            "The request method: GET, HEAD, POST, PUT, DELETE, ... (case-insensitive).",
            valueName: "method"))
    var method: String

    @Argument(
        help: ArgumentHelp(
            "The request target as a client sends it, with version prefix and query: /v1.47/containers/json?all=1.",
            valueName: "target"))
    var target: String

    @Option(
        help: ArgumentHelp(
            "The policy file (YAML or JSON). Without it, the environment's policy.",
            valueName: "path"))
    var config: String?

    @Option(
        help: ArgumentHelp(
            "The profile to consult: one of the file's, a built-in preset, or tecnativa (the environment's).",
            valueName: "name"))
    var profile: String?

    @Option(help: ArgumentHelp("With --config: the listener whose clients are meant.", valueName: "name"))
    var listener: String?

    @Option(
        name: .customLong("from"),
        help: ArgumentHelp(
            "With --config: the TCP client's address, for listeners with cidr client rules.",
            valueName: "address"))
    var from: String?

    @Option(help: ArgumentHelp("With --config: the Unix client's user id, for uid client rules.", valueName: "uid"))
    var uid: UInt32?

    @Option(help: ArgumentHelp("With --config: the Unix client's group id, for gid client rules.", valueName: "gid"))
    var gid: UInt32?

    @Option(
        help: ArgumentHelp(
            "Without --config: a file of VARIABLE=value lines read over the process environment, as serve reads it.",
            valueName: "path"))
    var envFile: String?

    @Option(
        help: ArgumentHelp(
            "A file holding the request body (JSON), checked by the body inspection when the rules allow the request.",
            valueName: "path"))
    var body: String?

    @Option(
        help: ArgumentHelp("The body's Content-Type (default application/json).", valueName: "type"))
    var contentType: String?

    func validate() throws {
        if config == nil, listener != nil || from != nil || uid != nil || gid != nil {
            throw ValidationError(
                "--listener, --from, --uid and --gid choose a client of a policy file's listener; "
                    + "they need --config")
        }
        if config != nil && envFile != nil {
            throw ValidationError(
                "--env-file applies to the environment mode; a policy file (--config) does not read it")
        }
        if contentType != nil && body == nil {
            throw ValidationError("--content-type describes the body given with --body")
        }
        if profile != nil, listener != nil || from != nil || uid != nil || gid != nil {
            throw ValidationError("--profile names the profile directly; leave out --listener, --from, --uid and --gid")
        }
    }

    func run() throws {
        let chosen: Profile
        do {
            chosen = try resolveProfile()
        } catch let error as ConfigurationError {
            CheckConfig.fail(error.message, status: 2)
        }
        var bodyBytes: [UInt8]? = nil
        if let body {
            guard let bytes = Self.readFile(body) else {
                CheckConfig.fail("--body \(body): \(String(cString: strerror(errno)))", status: 2)
            }
            bodyBytes = bytes
        }
        let explanation = Explanation(
            method: method, target: target, profile: chosen, body: bodyBytes,
            contentType: body == nil ? nil : contentType ?? "application/json")
        print(explanation)
        if explanation.verdict == .deny { throw ExitCode(1) }
    }

    /// The profile named on the command line, or the one a client of the policy file's listener gets.
    private func resolveProfile() throws -> Profile {
        if let config {
            let file = try PolicyFile.load(path: config)
            if let profile {
                if let found = file.profile(named: profile) ?? Presets.named(profile)?.profile { return found }
                let names = (file.profiles.map(\.name) + Presets.names).joined(separator: ", ")
                throw ConfigurationError("no profile is named \"\(profile)\"; profiles: \(names)")
            }
            return try file.profile(forListener: listener, network: try clientAddress(), uid: uid, gid: gid)
        }
        if let profile, profile != "tecnativa" {
            guard let preset = Presets.named(profile) else {
                throw ConfigurationError(
                    "no profile is named \"\(profile)\"; without --config: tecnativa (the environment's) or a "
                        + "preset: \(Presets.names.joined(separator: ", "))")
            }
            return preset.profile
        }
        return try CheckConfig.environmentSettings(envFile: envFile).profile()
    }

    /// The whole file, or nil with errno set.
    private static func readFile(_ path: String) -> [UInt8]? {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
            if count > 0 { bytes.append(contentsOf: chunk[0..<count]) }
            if count < chunk.count {
                if ferror(file) != 0 { return nil }
                return bytes
            }
        }
    }

    /// --from as a socket address: an IPv4 or IPv6 address, with or without a port.
    private func clientAddress() throws -> SocketAddress? {
        guard let from else { return nil }
        for text in [from, "\(from):0", "[\(from)]:0"] {
            if let address = try? SocketAddress(parsing: text), address.port != nil { return address }
        }
        throw ConfigurationError("--from \(from): expected a numeric IPv4 or IPv6 address")
    }
}

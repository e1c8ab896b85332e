// Command-line switches for every boolean environment variable; a switch given wins over the variable.
import ArgumentParser
import SocketProxyCore

/// `--containers` / `--no-containers` and friends: one pair per Tecnativa-style boolean variable.
struct PolicySwitches: ParsableArguments {
    @Flag(inversion: .prefixedNo, help: ArgumentHelp(help("AUTH"), valueName: "AUTH"))
    var auth: Bool? = nil

    @Flag(inversion: .prefixedNo, help: ArgumentHelp(help("BUILD"), valueName: "BUILD"))
    var build: Bool? = nil

    @Flag(inversion: .prefixedNo, help: ArgumentHelp(help("COMMIT"), valueName: "COMMIT"))
    var commit: Bool? = nil

    @Flag(inversion: .prefixedNo, help: ArgumentHelp(help("CONFIGS"), valueName: "CONFIGS"))
    var configs: Bool? = nil

    @Flag(inversion: .prefixedNo, help: ArgumentHelp(help("CONTAINERS"), valueName: "CONTAINERS"))
    var containers: Bool? = nil

    @Flag(inversion: .prefixedNo, help: ArgumentHelp(help("DISTRIBUTION"), valueName: "DISTRIBUTION"))
    var distribution: Bool? = nil

    @Flag(inversion: .prefixedNo, help: ArgumentHelp(help("EVENTS"), valueName: "EVENTS"))
    var events: Bool? = nil

    @Flag(inversion: .prefixedNo, help: ArgumentHelp(help("EXEC"), valueName: "EXEC"))
    var exec: Bool? = nil

    @Flag(inversion: .prefixedNo, help: ArgumentHelp(help("GRPC"), valueName: "GRPC"))
    var grpc: Bool? = nil

    @Flag(inversion: .prefixedNo, help: ArgumentHelp(help("IMAGES"), valueName: "IMAGES"))
    var images: Bool? = nil

    @Flag(inversion: .prefixedNo, help: ArgumentHelp(help("INFO"), valueName: "INFO"))
    var info: Bool? = nil

    @Flag(inversion: .prefixedNo, help: ArgumentHelp(help("NETWORKS"), valueName: "NETWORKS"))
    var networks: Bool? = nil

    @Flag(inversion: .prefixedNo, help: ArgumentHelp(help("NODES"), valueName: "NODES"))
    var nodes: Bool? = nil

    @Flag(inversion: .prefixedNo, help: ArgumentHelp(help("PING"), valueName: "PING"))
    var ping: Bool? = nil

    @Flag(inversion: .prefixedNo, help: ArgumentHelp(help("PLUGINS"), valueName: "PLUGINS"))
    var plugins: Bool? = nil

    @Flag(inversion: .prefixedNo, help: ArgumentHelp(help("POST"), valueName: "POST"))
    var post: Bool? = nil

    @Flag(inversion: .prefixedNo, help: ArgumentHelp(help("SECRETS"), valueName: "SECRETS"))
    var secrets: Bool? = nil

    @Flag(inversion: .prefixedNo, help: ArgumentHelp(help("SERVICES"), valueName: "SERVICES"))
    var services: Bool? = nil

    @Flag(inversion: .prefixedNo, help: ArgumentHelp(help("SESSION"), valueName: "SESSION"))
    var session: Bool? = nil

    @Flag(inversion: .prefixedNo, help: ArgumentHelp(help("SWARM"), valueName: "SWARM"))
    var swarm: Bool? = nil

    @Flag(inversion: .prefixedNo, help: ArgumentHelp(help("SYSTEM"), valueName: "SYSTEM"))
    var system: Bool? = nil

    @Flag(inversion: .prefixedNo, help: ArgumentHelp(help("TASKS"), valueName: "TASKS"))
    var tasks: Bool? = nil

    @Flag(inversion: .prefixedNo, help: ArgumentHelp(help("VERSION"), valueName: "VERSION"))
    var version: Bool? = nil

    @Flag(inversion: .prefixedNo, help: ArgumentHelp(help("VOLUMES"), valueName: "VOLUMES"))
    var volumes: Bool? = nil

    @Flag(inversion: .prefixedNo, help: ArgumentHelp(help("ALLOW_START"), valueName: "ALLOW_START"))
    var allowStart: Bool? = nil

    @Flag(inversion: .prefixedNo, help: ArgumentHelp(help("ALLOW_STOP"), valueName: "ALLOW_STOP"))
    var allowStop: Bool? = nil

    @Flag(inversion: .prefixedNo, help: ArgumentHelp(help("ALLOW_RESTARTS"), valueName: "ALLOW_RESTARTS"))
    var allowRestarts: Bool? = nil

    @Flag(inversion: .prefixedNo, help: ArgumentHelp(help("ALLOW_ARCHIVE"), valueName: "ALLOW_ARCHIVE"))
    var allowArchive: Bool? = nil

    @Flag(inversion: .prefixedNo, help: ArgumentHelp(help("ALLOW_EXPORT"), valueName: "ALLOW_EXPORT"))
    var allowExport: Bool? = nil

    @Flag(inversion: .prefixedNo, help: ArgumentHelp(help("ALLOW_ATTACH"), valueName: "ALLOW_ATTACH"))
    var allowAttach: Bool? = nil

    @Flag(inversion: .prefixedNo, help: ArgumentHelp(help("DISABLE_IPV6"), valueName: "DISABLE_IPV6"))
    var disableIpv6: Bool? = nil

    /// The switches given on the command line, as environment variable names and values.
    var overrides: [String: String] {
        var result: [String: String] = [:]
        if let value = auth { result["AUTH"] = value ? "1" : "0" }
        if let value = build { result["BUILD"] = value ? "1" : "0" }
        if let value = commit { result["COMMIT"] = value ? "1" : "0" }
        if let value = configs { result["CONFIGS"] = value ? "1" : "0" }
        if let value = containers { result["CONTAINERS"] = value ? "1" : "0" }
        if let value = distribution { result["DISTRIBUTION"] = value ? "1" : "0" }
        if let value = events { result["EVENTS"] = value ? "1" : "0" }
        if let value = exec { result["EXEC"] = value ? "1" : "0" }
        if let value = grpc { result["GRPC"] = value ? "1" : "0" }
        if let value = images { result["IMAGES"] = value ? "1" : "0" }
        if let value = info { result["INFO"] = value ? "1" : "0" }
        if let value = networks { result["NETWORKS"] = value ? "1" : "0" }
        if let value = nodes { result["NODES"] = value ? "1" : "0" }
        if let value = ping { result["PING"] = value ? "1" : "0" }
        if let value = plugins { result["PLUGINS"] = value ? "1" : "0" }
        if let value = post { result["POST"] = value ? "1" : "0" }
        if let value = secrets { result["SECRETS"] = value ? "1" : "0" }
        if let value = services { result["SERVICES"] = value ? "1" : "0" }
        if let value = session { result["SESSION"] = value ? "1" : "0" }
        if let value = swarm { result["SWARM"] = value ? "1" : "0" }
        if let value = system { result["SYSTEM"] = value ? "1" : "0" }
        if let value = tasks { result["TASKS"] = value ? "1" : "0" }
        if let value = version { result["VERSION"] = value ? "1" : "0" }
        if let value = volumes { result["VOLUMES"] = value ? "1" : "0" }
        if let value = allowStart { result["ALLOW_START"] = value ? "1" : "0" }
        if let value = allowStop { result["ALLOW_STOP"] = value ? "1" : "0" }
        if let value = allowRestarts { result["ALLOW_RESTARTS"] = value ? "1" : "0" }
        if let value = allowArchive { result["ALLOW_ARCHIVE"] = value ? "1" : "0" }
        if let value = allowExport { result["ALLOW_EXPORT"] = value ? "1" : "0" }
        if let value = allowAttach { result["ALLOW_ATTACH"] = value ? "1" : "0" }
        if let value = disableIpv6 { result["DISABLE_IPV6"] = value ? "1" : "0" }
        return result
    }
}

/// The help text of a variable, with its default, from the one table in SocketProxyCore.
private func help(_ name: String) -> String {
    guard let variable = TecnativaSettings.booleanVariables.first(where: { $0.name == name }) else { return name }
    return "\(variable.help) Env: \(name) (default \(variable.defaultValue ? 1 : 0))."
}

// Tests for reading the Tecnativa environment: defaults, boolean spellings, errors, and warnings for near-misses.
import Testing

@testable import SocketProxyCore

/// `TecnativaSettings(environment:)`.
struct TecnativaSettingsTests {
    @Test func knowsEveryTecnativaVariableAndOurAdditions() {
        #expect(
            TecnativaSettings.booleanVariables.map(\.name) == [
                "AUTH", "BUILD", "COMMIT", "CONFIGS", "CONTAINERS", "DISTRIBUTION", "EVENTS", "EXEC", "GRPC", "IMAGES",
                "INFO", "NETWORKS", "NODES", "PING", "PLUGINS", "POST", "SECRETS", "SERVICES", "SESSION", "SWARM",
                "SYSTEM", "TASKS", "VERSION", "VOLUMES", "ALLOW_START", "ALLOW_STOP", "ALLOW_RESTARTS",
                "ALLOW_ARCHIVE", "ALLOW_EXPORT", "ALLOW_ATTACH", "DISABLE_IPV6",
            ])
        #expect(TecnativaSettings.booleanVariables.allSatisfy { !$0.help.isEmpty })
    }

    @Test func hasAVariableForEverySection() {
        let names = Set(TecnativaSettings.booleanVariables.map(\.name))
        #expect(Section.allCases.allSatisfy { names.contains($0.variable) })
    }

    @Test func defaultsToTecnativasDefaults() throws {
        let settings = try TecnativaSettings(environment: [:])
        let enabled = TecnativaSettings.booleanVariables.map(\.name).filter { settings[$0] }
        #expect(enabled == ["EVENTS", "PING", "VERSION"])
        #expect(settings.values.count == TecnativaSettings.booleanVariables.count)
        #expect(settings.socketPath == "/var/run/docker.sock")
        #expect(settings.logLevel == "info")
        #expect(settings.listen == [])
        #expect(settings.warnings == [])
    }

    static let spellings: [(String, Bool)] = [
        ("1", true), ("0", false), ("true", true), ("false", false), ("TRUE", true), ("False", false),
        ("yes", true), ("no", false), ("Yes", true), ("NO", false), ("on", true), ("off", false), ("On", true),
        ("OFF", false), (" 1 ", true), ("\tno\n", false),
    ]

    @Test(arguments: spellings)
    func acceptsTheUsualBooleanSpellings(text: String, expected: Bool) throws {
        #expect(try TecnativaSettings(environment: ["CONTAINERS": text])["CONTAINERS"] == expected)
        #expect(try TecnativaSettings(environment: ["PING": text])["PING"] == expected)
    }

    @Test(arguments: ["2", "maybe", "", "y", "enabled", "-1", "0x1", "tru"])
    func refusesAnythingElseNamingTheVariableAndValue(text: String) {
        let expected = ConfigurationError(
            "CONTAINERS=\"\(text)\" is not a boolean; use 1 or 0, true or false, yes or no, on or off")
        #expect(throws: expected) { try TecnativaSettings(environment: ["CONTAINERS": text]) }
    }

    @Test func readsTheOtherVariables() throws {
        let settings = try TecnativaSettings(environment: [
            "SOCKET_PATH": "/run/user/1000/docker.sock", "LOG_LEVEL": " Debug ",
            "LISTEN": "127.0.0.1:2375, unix:/run/socket-proxy.sock,", "DISABLE_IPV6": "1",
        ])
        #expect(settings.socketPath == "/run/user/1000/docker.sock")
        #expect(settings.logLevel == "debug")
        #expect(settings.listen == ["127.0.0.1:2375", "unix:/run/socket-proxy.sock"])
        #expect(settings["DISABLE_IPV6"])
        #expect(settings.warnings == [])
    }

    @Test(arguments: TecnativaSettings.logLevels)
    func acceptsEveryHAProxyLogLevel(level: String) throws {
        #expect(try TecnativaSettings(environment: ["LOG_LEVEL": level]).logLevel == level)
    }

    @Test func refusesAnUnknownLogLevel() {
        let expected = ConfigurationError(
            "LOG_LEVEL=\"verbose\" is not a log level; use one of "
                + "debug, info, notice, warning, err, crit, alert, emerg")
        #expect(throws: expected) { try TecnativaSettings(environment: ["LOG_LEVEL": "verbose"]) }
    }

    @Test func refusesAnEmptySocketPath() {
        let expected = ConfigurationError("SOCKET_PATH is empty; leave it unset for /var/run/docker.sock")
        #expect(throws: expected) { try TecnativaSettings(environment: ["SOCKET_PATH": " "]) }
    }

    static let warned: [(String, String)] = [
        ("ALLOWED_PATHS", "unknown variable ALLOWED_PATHS ignored"),
        ("CONTAINER", "unknown variable CONTAINER ignored (did you mean CONTAINERS?)"),
        ("ALLOW_EXEC", "unknown variable ALLOW_EXEC ignored"),
        ("ALLOW_RESTART", "unknown variable ALLOW_RESTART ignored (did you mean ALLOW_RESTARTS?)"),
        ("ALLOW_STARTS", "unknown variable ALLOW_STARTS ignored (did you mean ALLOW_START?)"),
        ("CONTIANERS", "unknown variable CONTIANERS ignored (did you mean CONTAINERS?)"),
        ("CONTAINERSS", "unknown variable CONTAINERSS ignored (did you mean CONTAINERS?)"),
        ("VOLUMS", "unknown variable VOLUMS ignored (did you mean VOLUMES?)"),
        ("IMAGE", "unknown variable IMAGE ignored (did you mean IMAGES?)"),
        ("NODE", "unknown variable NODE ignored (did you mean NODES?)"),
        ("SECRET", "unknown variable SECRET ignored (did you mean SECRETS?)"),
        ("POSTS", "unknown variable POSTS ignored (did you mean POST?)"),
        ("LOGLEVEL", "unknown variable LOGLEVEL ignored (did you mean LOG_LEVEL?)"),
        ("SOCKETPATH", "unknown variable SOCKETPATH ignored (did you mean SOCKET_PATH?)"),
        ("DISABLE_IPV4", "unknown variable DISABLE_IPV4 ignored (did you mean DISABLE_IPV6?)"),
        ("containers", "unknown variable containers ignored (did you mean CONTAINERS?)"),
        ("Allow_Start", "unknown variable Allow_Start ignored (did you mean ALLOW_START?)"),
    ]

    @Test(arguments: warned)
    func warnsAboutAVariableThatLooksLikeOurs(name: String, warning: String) throws {
        #expect(try TecnativaSettings(environment: [name: "1"]).warnings == [warning])
    }

    static let ordinary = [
        "PATH", "HOME", "HOSTNAME", "TERM", "LANG", "PWD", "SHLVL", "USER", "OLDPWD", "TZ", "LC_ALL", "SHELL",
        "LOGNAME", "HTTP_PROXY", "NO_PROXY", "DOCKER_HOST", "PORT", "HOST", "container", "INVOCATION_ID",
        "NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "JOURNAL_STREAM",
    ]

    @Test(arguments: ordinary)
    func neverWarnsAboutOrdinaryVariables(name: String) throws {
        #expect(try TecnativaSettings(environment: [name: "x"]).warnings == [])
    }

    @Test func listsWarningsInNameOrder() throws {
        let settings = try TecnativaSettings(environment: ["SECRET": "1", "ALLOWED_PATHS": "/x", "PATH": "/bin"])
        #expect(
            settings.warnings == [
                "unknown variable ALLOWED_PATHS ignored",
                "unknown variable SECRET ignored (did you mean SECRETS?)",
            ])
    }

    @Test func readsAndWritesBooleansByName() throws {
        var settings = try TecnativaSettings(environment: ["CONTAINERS": "1"])
        #expect(settings["CONTAINERS"])
        #expect(!settings["IMAGES"])
        settings["IMAGES"] = true
        settings["CONTAINERS"] = false
        #expect(settings["IMAGES"])
        #expect(!settings["CONTAINERS"])
        #expect(settings.values["IMAGES"] == true)
    }
}

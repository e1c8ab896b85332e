// `socket-proxy check-config`: read the policy file (or the environment), check it, and print the effective policy.
import ArgumentParser
import SocketProxyCore

#if canImport(Glibc)
    import Glibc
#endif

struct CheckConfig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Check a policy file, or the environment variables, and print the policy they stand for.",
        discussion: """
            With --config, reads the policy file (YAML or JSON) and prints its mode, its listeners with the profile \
            each client gets, and every profile with its rules in the order they are tried, each with its index, \
            its name and, for rules that let writes through, the body inspection it applies. Errors name the file, \
            the line and column, and the key path of the bad value.

            Without --config, builds the policy from the environment variables (CONTAINERS=1, POST=0, \
            ALLOW_BIND_MOUNTS=/srv, ...) exactly as serve does, reading --env-file over the process environment, \
            and prints it as the built-in profile "tecnativa".

            Exits 0 when the configuration is valid (warnings are printed but do not fail), 1 with the error on \
            standard error when it is not. Docs/policy.md describes every key and variable.

            Body inspection in the environment mode (each variable also checked here):

            """ + inspectionVariables
    )

    /// The inspection variables with their syntax and meaning, one paragraph each.
    private static var inspectionVariables: String {
        TecnativaSettings.inspectionVariables.map { "\($0.name) (\($0.syntax)): \($0.help)" }
            .joined(separator: "\n")
    }

    @Option(
        help: ArgumentHelp(
            "The policy file to check (YAML or JSON). Without it, the environment is checked.",
            valueName: "path"))
    var config: String?

    @Option(
        help: ArgumentHelp(
            "A file of VARIABLE=value lines read over the process environment, as serve --env-file reads it.",
            valueName: "path"))
    var envFile: String?

    func validate() throws {
        if config != nil && envFile != nil {
            throw ValidationError(
                "--env-file applies to the environment mode; a policy file (--config) does not read it")
        }
    }

    func run() throws {
        do {
            if let config {
                print(try PolicyFile.load(path: config).describe())
            } else {
                print(try Self.environmentSettings(envFile: envFile).describe())
            }
        } catch let error as ConfigurationError {
            Self.fail(error.message)
        }
    }

    /// The settings serve builds without a policy file: the process environment, then the environment file.
    static func environmentSettings(envFile: String?) throws -> TecnativaSettings {
        var environment = ProcessEnvironment.all
        if let envFile {
            for (name, value) in try EnvironmentFile.read(envFile) { environment[name] = value }
        }
        return try TecnativaSettings(environment: environment)
    }

    /// Prints `message` on standard error and exits 1.
    static func fail(_ message: String, status: Int32 = 1) -> Never {
        var line = "socket-proxy: \(message)\n"
        line.withUTF8 { bytes in _ = write(2, bytes.baseAddress, bytes.count) }
        Glibc.exit(status)
    }
}

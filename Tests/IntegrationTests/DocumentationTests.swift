// The user documentation against the code: every option, switch, variable, default and policy-file key that the
// binary and the library know must appear in Docs/configuration.md, README.md and Docs/policy.md, so that the
// reference cannot drift. No daemon needed; the binary is the one the other integration tests run.
import Foundation
import Testing

@testable import SocketProxyCore

/// One option, flag or argument of one command, as `socket-proxy --experimental-dump-help` describes it.
struct CommandOption: Sendable, CustomTestStringConvertible {
    /// The command path without the program name: "serve", "explain"; "" for the root command.
    let command: String
    /// Every spelling: "--listen"; "-h", "--help"; "METHOD" for a positional argument.
    let names: [String]
    /// The default swift-argument-parser prints, if any: "10.0", "auto".
    let defaultValue: String?
    let kind: String
    /// The help text, where the variable it reads is named as "Env: NAME".
    let abstract: String

    var longNames: [String] { names.filter { $0.hasPrefix("--") } }
    var testDescription: String { "\(command.isEmpty ? "socket-proxy" : command) \(names.joined(separator: ", "))" }
}

/// The documents, read once per test.
struct Documents {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func read(_ relative: String) throws -> String {
        let url = root.appendingPathComponent(relative)
        guard let text = try? String(contentsOf: url, encoding: .utf8) else {
            throw HarnessError(
                "cannot read \(url.path): the documentation tests need the repository's Docs/ and README")
        }
        return text
    }

    /// The lines of markdown tables whose first cell holds `code` in backticks (`| \`--listen ADDRESS\` | ...`).
    static func rows(_ text: String, naming code: String) -> [String] {
        text.split(separator: "\n").map(String.init).filter { line in
            guard line.hasPrefix("|") else { return false }
            let firstCell = line.dropFirst().prefix { $0 != "|" }
            return firstCell.contains("`\(code)`") || firstCell.contains("`\(code) ")
        }
    }

    /// The cells of a table row, trimmed.
    static func cells(_ row: String) -> [String] {
        row.split(separator: "|", omittingEmptySubsequences: false).dropFirst().dropLast()
            .map { $0.trimmingCharacters(in: .whitespaces) }
    }

    /// The part of a markdown document under `heading` (a whole heading line), up to the next heading of the same or
    /// a higher level.
    static func section(_ text: String, heading: String) -> String? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let start = lines.firstIndex(of: heading) else { return nil }
        let level = heading.prefix { $0 == "#" }.count
        var end = start + 1
        var inCodeBlock = false
        while end < lines.count {
            if lines[end].hasPrefix("```") { inCodeBlock.toggle() }
            let hashes = lines[end].prefix { $0 == "#" }.count
            if !inCodeBlock && hashes > 0 && hashes <= level && lines[end].dropFirst(hashes).hasPrefix(" ") { break }
            end += 1
        }
        return lines[start..<end].joined(separator: "\n")
    }
}

@Suite("Documentation matches the code")
struct DocumentationTests {
    /// Every option of every command, from the built binary's `--experimental-dump-help`.
    static func options() async throws -> [CommandOption] {
        let binary = try ProxyProcess.binaryPath()
        let result = try await ChildProcess.run(binary, ["--experimental-dump-help"], timeout: .seconds(30))
        guard result.succeeded else { throw HarnessError("socket-proxy --experimental-dump-help failed: \(result)") }
        guard let json = try JSONSerialization.jsonObject(with: result.stdoutData) as? [String: Any],
            let command = json["command"] as? [String: Any]
        else { throw HarnessError("socket-proxy --experimental-dump-help printed no command: \(result.stdout)") }
        var options: [CommandOption] = []
        func walk(_ command: [String: Any], path: [String]) {
            let name = path.joined(separator: " ")
            for argument in command["arguments"] as? [[String: Any]] ?? [] {
                let kind = argument["kind"] as? String ?? ""
                var names = (argument["names"] as? [[String: Any]] ?? []).compactMap { entry -> String? in
                    guard let text = entry["name"] as? String else { return nil }
                    switch entry["kind"] as? String {
                    case "short": return "-" + text
                    case "long", "longWithSingleDash": return "--" + text
                    default: return text
                    }
                }
                if kind == "positional" { names = [(argument["valueName"] as? String ?? "").uppercased()] }
                options.append(
                    CommandOption(
                        command: name, names: names, defaultValue: argument["defaultValue"] as? String, kind: kind,
                        abstract: argument["abstract"] as? String ?? ""))
            }
            for subcommand in command["subcommands"] as? [[String: Any]] ?? [] {
                guard let sub = subcommand["commandName"] as? String, sub != "help" else { continue }
                walk(subcommand, path: path + [sub])
            }
        }
        walk(command, path: [])
        guard options.contains(where: { $0.command == "serve" && $0.names.contains("--listen") }) else {
            throw HarnessError("the dump of socket-proxy's commands has no serve --listen: \(tail(result.stdout))")
        }
        return options
    }

    /// Every environment variable the code knows: the Tecnativa booleans, the body inspection variables, and
    /// every "Env: NAME" in the commands' help (LISTEN, SOCKET_PATH, LOG_LEVEL, MODE).
    static func variables(_ options: [CommandOption]) -> [String] {
        var names = TecnativaSettings.booleanVariables.map(\.name) + TecnativaSettings.inspectionVariables.map(\.name)
        for option in options {
            var rest = Substring(option.abstract)
            while let range = rest.range(of: "Env: ") {
                let name = rest[range.upperBound...].prefix { $0.isUppercase || $0.isNumber || $0 == "_" }
                if !name.isEmpty && !names.contains(String(name)) { names.append(String(name)) }
                rest = rest[range.upperBound...]
            }
        }
        return names
    }

    /// Whether a table row of `text` names `name` in code: `--listen`, `--listen ADDRESS`, `-h`, `--help`. A mention
    /// in prose does not count. `--no-x` also counts as documented where `--x` has a row and the text says that
    /// every switch has a `--no-` form.
    static func isDocumented(_ name: String, in text: String, options: [CommandOption]) -> Bool {
        let table = text.split(separator: "\n").filter { $0.hasPrefix("|") }
        func inTable(_ code: String) -> Bool {
            table.contains { $0.contains("`\(code)`") || $0.contains("`\(code) ") }
        }
        if inTable(name) { return true }
        if name.hasPrefix("--no-") {
            return inTable("--" + name.dropFirst(5)) && text.contains("`--no-` form")
        }
        return false
    }

    @Test func everyOptionOfEveryCommandIsInTheConfigurationReference() async throws {
        let options = try await Self.options()
        let reference = try Documents.read("Docs/configuration.md")
        var missing: [String] = []
        for option in options {
            let command = option.command.isEmpty ? "socket-proxy" : "socket-proxy \(option.command)"
            guard let part = Documents.section(reference, heading: "### `\(command)`") else {
                missing.append("a section \"### `\(command)`\" (for \(option.testDescription))")
                continue
            }
            let searched = option.kind == "flag" && option.command == "serve" ? reference : part
            for name in option.names where !Self.isDocumented(name, in: searched, options: options) {
                missing.append("\(command) \(name)")
            }
        }
        #expect(missing.isEmpty, "Docs/configuration.md does not document: \(missing.joined(separator: "; "))")
    }

    @Test func everyServeOptionIsInTheReadmeSettings() async throws {
        let options = try await Self.options()
        let readme = try Documents.read("README.md")
        guard let settings = Documents.section(readme, heading: "## Settings") else {
            Issue.record("README.md has no \"## Settings\" section")
            return
        }
        let missing = options.filter { $0.command == "serve" }.flatMap(\.longNames)
            .filter { $0 != "--help" && !Self.isDocumented($0, in: settings, options: options) }
        #expect(missing.isEmpty, "README.md's settings tables do not list: \(missing.joined(separator: ", "))")
    }

    @Test func everyDefaultInTheConfigurationReferenceIsTheBinarys() async throws {
        let options = try await Self.options()
        let reference = try Documents.read("Docs/configuration.md")
        var wrong: [String] = []
        for option in options where option.defaultValue != nil && option.kind == "option" {
            let expected =
                option.defaultValue!.hasSuffix(".0") ? String(option.defaultValue!.dropLast(2)) : option.defaultValue!
            let command = "socket-proxy \(option.command)"
            guard let part = Documents.section(reference, heading: "### `\(command)`") else { continue }
            for name in option.longNames {
                let rows = Documents.rows(part, naming: name)
                if rows.isEmpty { wrong.append("\(command) \(name): no table row") }
                for row in rows where !Documents.cells(row).contains("`\(expected)`") {
                    wrong.append("\(command) \(name): the binary's default is \(expected); the row says \(row)")
                }
            }
        }
        #expect(wrong.isEmpty, "Docs/configuration.md: \(wrong.joined(separator: "\n"))")
    }

    @Test func everyOptionInTheConfigurationReferenceExists() async throws {
        let options = try await Self.options()
        let known = Set(options.flatMap(\.names))
        let reference = try Documents.read("Docs/configuration.md")
        var unknown: [String] = []
        for line in reference.split(separator: "\n") where line.hasPrefix("| `-") {
            let firstCell = line.dropFirst().prefix { $0 != "|" }
            let pieces = firstCell.split(separator: "`", omittingEmptySubsequences: false)
            for piece in pieces.enumerated() where piece.offset % 2 == 1 {
                let name = String(piece.element.prefix { $0 != " " })
                guard name.hasPrefix("-") else { continue }
                let builtIn = ["--generate-completion-script", "--experimental-dump-help"]
                if !known.contains(name) && !builtIn.contains(name) { unknown.append(name) }
            }
        }
        #expect(unknown.isEmpty, "Docs/configuration.md lists options the binary does not have: \(unknown)")
    }

    @Test func everyVariableIsInTheConfigurationReferenceAndTheReadme() async throws {
        let variables = Self.variables(try await Self.options())
        #expect(variables.contains("LISTEN") && variables.contains("MODE") && variables.contains("SOCKET_PATH"))
        for document in ["Docs/configuration.md", "README.md"] {
            let text = try Documents.read(document)
            let missing = variables.filter { Documents.rows(text, naming: $0).isEmpty }
            #expect(missing.isEmpty, "\(document) has no table row for: \(missing.joined(separator: ", "))")
        }
    }

    @Test func everyBooleanDefaultInTheDocumentsIsTheLibrarys() throws {
        for document in ["Docs/configuration.md", "README.md"] {
            let text = try Documents.read(document)
            var wrong: [String] = []
            for variable in TecnativaSettings.booleanVariables {
                let expected = variable.defaultValue ? "1" : "0"
                for row in Documents.rows(text, naming: variable.name) {
                    let cells = Documents.cells(row)
                    // | `VARIABLE` | switch | default | ... in both documents.
                    guard cells.count >= 3, cells[0] == "`\(variable.name)`" else { continue }
                    if cells[2].trimmingCharacters(in: CharacterSet(charactersIn: "`")) != expected {
                        wrong.append("\(variable.name) defaults to \(expected), the table says \(cells[2])")
                    }
                }
            }
            #expect(wrong.isEmpty, "\(document): \(wrong.joined(separator: "; "))")
        }
    }

    @Test func theImageSetsTheTecnativaDefaults() throws {
        let dockerfile = try Documents.read("Dockerfile")
        for variable in TecnativaSettings.booleanVariables where dockerfile.contains(" \(variable.name)=") {
            let expected = "\(variable.name)=\(variable.defaultValue ? 1 : 0)"
            #expect(
                dockerfile.contains(" \(expected)"),
                "the Dockerfile sets \(variable.name) to another value than \(expected)")
        }
        for setting in ["LOG_LEVEL=info", "SOCKET_PATH=/var/run/docker.sock", "LISTEN=*:2375", "EVENTS=1", "PING=1"] {
            #expect(dockerfile.contains(setting), "the Dockerfile does not set \(setting)")
        }
    }

    /// The key lists come from `PolicyFileReader`, which rejects every key it does not list, so they are exactly the
    /// keys a policy file can use.
    @Test(arguments: [
        ("### Top level", PolicyFileReader.topKeys),
        ("### `listeners[]`", PolicyFileReader.listenerKeys),
        ("### `clients[]`", PolicyFileReader.clientKeys),
        ("### `profiles.<name>`", PolicyFileReader.profileKeys),
        ("### `rules[]`", PolicyFileReader.ruleKeys),
        ("### `inspect`", PolicyFileReader.inspectKeys),
    ])
    func everyPolicyFileKeyIsInThePolicyGuide(heading: String, keys: [String]) throws {
        let guide = try Documents.read("Docs/policy.md")
        guard let part = Documents.section(guide, heading: heading) else {
            Issue.record("Docs/policy.md has no section \"\(heading)\" for the keys \(keys)")
            return
        }
        let missing = keys.filter { !part.contains("`\($0)`") }
        #expect(missing.isEmpty, "Docs/policy.md, \(heading), does not describe: \(missing.joined(separator: ", "))")
        let reference = try Documents.read("Docs/configuration.md")
        let summary = Documents.section(reference, heading: "## Policy file keys") ?? ""
        let unlisted = keys.filter { !summary.contains("`\($0)`") }
        #expect(unlisted.isEmpty, "Docs/configuration.md's policy file keys do not list: \(unlisted)")
    }

    @Test(arguments: ["serve", "healthcheck", "check-config", "explain"])
    func helpOfEachCommandListsItsOptions(command: String) async throws {
        let options = try await Self.options().filter { $0.command == command }
        let result = try await ChildProcess.run(
            try ProxyProcess.binaryPath(), [command, "--help"], timeout: .seconds(30))
        #expect(result.succeeded, "socket-proxy \(command) --help: \(result)")
        let missing = options.flatMap(\.longNames).filter { name in
            // Inverted switches are printed as "--x/--no-x".
            !result.stdout.contains(name + " ") && !result.stdout.contains(name + "/")
                && !result.stdout.contains(name + "\n")
        }
        #expect(!options.isEmpty, "the dump has no options for \(command)")
        #expect(missing.isEmpty, "socket-proxy \(command) --help does not show \(missing)")
    }
}

/// The recipes of Docs/security.md and the policy file of Docs/quick-start.md, run through `socket-proxy
/// check-config`: a recipe that the binary would refuse, or that names a variable it does not know, fails here.
@Suite("Documented policies are valid")
struct DocumentedPolicyTests {
    /// The fenced YAML blocks of a document, or of one section of it.
    static func yamlBlocks(_ text: String) -> [String] {
        var blocks: [String] = []
        var current: [Substring]? = nil
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if current == nil, line == "```yaml" {
                current = []
            } else if current != nil, line.hasPrefix("```") {
                blocks.append(current!.joined(separator: "\n"))
                current = nil
            } else if current != nil {
                current!.append(line)
            }
        }
        return blocks
    }

    /// The variables of an `environment:` block: `NAME: value` lines, and, when `withComments`, also the
    /// `NAME: value` pairs of comment lines (`# swarm provider: SERVICES: 1, TASKS: 1`), which the recipes offer as
    /// additions.
    static func variables(_ block: String, withComments: Bool) -> [String: String] {
        var variables: [String: String] = [:]
        for line in block.split(separator: "\n").dropFirst() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            let isComment = trimmed.hasPrefix("#")
            if isComment && !withComments { continue }
            let code = isComment ? trimmed : String(trimmed.prefix { $0 != "#" })
            for pair in code.split(separator: ",") {
                let words = pair.split(separator: " ")
                for (index, word) in words.enumerated()
                where word.hasSuffix(":") && word.dropLast().allSatisfy({ $0.isUppercase || $0 == "_" })
                    && word.count > 1 && index + 1 < words.count
                {
                    variables[String(word.dropLast())] = String(words[index + 1])
                }
            }
        }
        return variables
    }

    /// `check-config` with exactly these variables (and PATH): it must exit 0 and print no warnings.
    static func checkEnvironment(_ variables: [String: String]) async throws -> String? {
        var environment = variables
        environment["PATH"] = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        let result = try await ChildProcess.run(
            try ProxyProcess.binaryPath(), ["check-config"], environment: environment, timeout: .seconds(30))
        if !result.succeeded { return "check-config failed: \(result.stderr)" }
        if result.stdout.contains("\nwarnings:") { return "check-config warns: \(result.stdout)" }
        return nil
    }

    /// `check-config --config` of the block. The CI runner recipe names the user and group gitlab-runner, which
    /// this machine need not have; they become root, which every machine has.
    static func checkFile(_ block: String) async throws -> String? {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("socket-proxy-documented-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("policy.yaml")
        try block.replacingOccurrences(of: "gitlab-runner", with: "root").write(
            to: file, atomically: true, encoding: .utf8)
        let result = try await ChildProcess.run(
            try ProxyProcess.binaryPath(), ["check-config", "--config", file.path], timeout: .seconds(30))
        if !result.succeeded { return "check-config --config failed: \(result.stderr)" }
        if result.stdout.contains("\nwarnings:") { return "check-config --config warns: \(result.stdout)" }
        return nil
    }

    @Test func everyRecipeInTheSecurityGuidePassesCheckConfig() async throws {
        let guide = try Documents.read("Docs/security.md")
        guard let recipes = Documents.section(guide, heading: "## Recipes") else {
            Issue.record("Docs/security.md has no \"## Recipes\" section")
            return
        }
        let blocks = Self.yamlBlocks(recipes)
        var environments = 0
        var files = 0
        var problems: [String] = []
        for block in blocks {
            let first = block.split(separator: "\n").first.map(String.init) ?? ""
            if first == "environment:" {
                environments += 1
                for withComments in [false, true] {
                    let variables = Self.variables(block, withComments: withComments)
                    if variables.isEmpty { problems.append("no variables in:\n\(block)") }
                    if let problem = try await Self.checkEnvironment(variables) {
                        problems.append("\(variables.keys.sorted()): \(problem)")
                    }
                }
            } else if first.hasPrefix("listeners:") || first.hasPrefix("profiles:") {
                files += 1
                if let problem = try await Self.checkFile(block) { problems.append("\(block)\n\(problem)") }
            } else {
                problems.append("a YAML block that is neither an environment nor a policy file:\n\(block)")
            }
        }
        // Traefik, Watchtower, Portainer, Homepage, a CI runner: each in both forms.
        #expect(environments == 5 && files == 5, "found \(environments) environment and \(files) policy blocks")
        #expect(problems.isEmpty, "Docs/security.md: \(problems.joined(separator: "\n\n"))")
    }

    @Test func theQuickStartPolicyFilePassesCheckConfig() async throws {
        let page = try Documents.read("Docs/quick-start.md")
        let blocks = Self.yamlBlocks(page).filter { $0.hasPrefix("# policy.yaml\n") }
        #expect(blocks.count == 1, "Docs/quick-start.md should have one policy.yaml block")
        for block in blocks {
            let problem = try await Self.checkFile(block)
            #expect(problem == nil, "Docs/quick-start.md policy.yaml: \(problem ?? "")")
        }
    }

    @Test func theComposeExampleEnvironmentPassesCheckConfig() async throws {
        let file = try Documents.read("Examples/compose/docker-compose.yml")
        // The environment: block of the socket-proxy service, up to the next key of the same indentation.
        guard let start = file.range(of: "    environment:\n") else {
            Issue.record("Examples/compose/docker-compose.yml has no environment for socket-proxy")
            return
        }
        let lines = file[start.upperBound...].split(separator: "\n").prefix { $0.hasPrefix("      ") }
        let block = "environment:\n" + lines.joined(separator: "\n")
        for withComments in [false, true] {
            let problem = try await Self.checkEnvironment(Self.variables(block, withComments: withComments))
            #expect(problem == nil, "Examples/compose/docker-compose.yml: \(problem ?? "")")
        }
    }
}

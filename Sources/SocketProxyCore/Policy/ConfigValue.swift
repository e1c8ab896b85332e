// A value read from a YAML or JSON policy file, with its file, line, column and key path for error messages.
import Yams

/// One node of a policy file and where it is. Every error made from it names the file, the line and column, and
/// the path of keys to the value: `policy.yaml:12:16: profiles.ci.rules[2].methods[0]: "GETT" is not ...`.
///
/// Only configuration loading uses this; nothing here runs per request.
struct ConfigValue {
    /// The YAML node.
    let node: Node
    /// The key path, `profiles.ci.rules[2]`; empty for the document itself.
    let path: String
    /// The file, as the user named it.
    let source: String

    /// Parses `text` as one YAML document (JSON is accepted: it is YAML).
    static func document(text: String, source: String) throws(ConfigurationError) -> ConfigValue {
        var text = text
        // A JSON file may be indented with tabs, which YAML refuses outside strings. A tab can be in a JSON document
        // only as whitespace between tokens (inside strings JSON requires \t), so spaces mean the same there.
        if let first = text.first(where: { !$0.isWhitespace }), first == "{" || first == "[" {
            text = String(text.map { $0 == "\t" ? " " : $0 })
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw ConfigurationError(Self.message(for: error, source: source))
        } catch {
            throw ConfigurationError("\(source): not valid YAML or JSON: \(error)")
        }
        guard let root else { throw ConfigurationError("\(source): the file is empty") }
        return ConfigValue(node: root, path: "", source: source)
    }

    /// A YAML error in the same form as ours: file, line and column, the problem.
    private static func message(for error: YamlError, source: String) -> String {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            let context = context.map { " (\($0.text) at line \($0.mark.line), column \($0.mark.column))" } ?? ""
            return "\(source):\(mark.line):\(mark.column): not valid YAML or JSON: \(problem)\(context)"
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.map { "\"\($0)\"" }.joined(separator: ", ")
            let given = duplicates.count == 1 ? "is" : "are"
            return
                "\(source):\(context.mark.line):\(context.mark.column): the key \(keys) \(given) given twice in one mapping"
        case .reader(let problem, _, _, _):
            return "\(source): not valid YAML or JSON: \(problem)"
        default:
            return "\(source): not valid YAML or JSON: \(error)"
        }
    }

    /// `file:line:column`, or the file alone when the node has no position.
    var location: String {
        guard let mark = node.mark else { return source }
        return "\(source):\(mark.line):\(mark.column)"
    }

    /// An error about this value: its location, its path, and `problem`.
    func error(_ problem: String) -> ConfigurationError {
        ConfigurationError(path.isEmpty ? "\(location): \(problem)" : "\(location): \(path): \(problem)")
    }

    /// An error from a checker that does not know where the value is (e.g. ``PathTemplate``), placed here.
    func error(_ error: ConfigurationError) -> ConfigurationError {
        self.error(error.message)
    }

    /// The result of a checker that does not know where the value is; its error is placed here.
    func checked<T>(_ body: () throws(ConfigurationError) -> T) throws(ConfigurationError) -> T {
        do {
            return try body()
        } catch {
            throw self.error(error)
        }
    }

    /// What the value is, for "expected a list, found a mapping".
    var kind: String {
        switch node {
        case .scalar: isNull ? "nothing" : "a single value"
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        }
    }

    /// Whether the value is YAML's null: empty, `~` or `null`, unquoted.
    var isNull: Bool {
        guard case .scalar(let scalar) = node, scalar.style == .plain || scalar.style == .any else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    /// A scalar's text. Numbers and booleans are returned as written (`0660` stays "0660").
    func string() throws(ConfigurationError) -> String {
        guard case .scalar(let scalar) = node, !isNull else { throw error("expected a single value, found \(kind)") }
        return scalar.string
    }

    /// A non-empty scalar's text.
    func nonEmptyString() throws(ConfigurationError) -> String {
        let text = try string()
        guard !ConfigurationText.trimmed(text).isEmpty else { throw error("is empty") }
        return text
    }

    /// `true` or `false` (any case, as YAML writes them).
    func bool() throws(ConfigurationError) -> Bool {
        let text = try string()
        switch text {
        case "true", "True", "TRUE": return true
        case "false", "False", "FALSE": return false
        default: throw error("expected true or false, found \"\(text)\"")
        }
    }

    /// A whole number from `range`, written in decimal.
    func integer(in range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
        let text = try string()
        guard text.utf8.allSatisfy({ (0x30...0x39).contains($0) }), let value = Int(text), range.contains(value) else {
            throw error("expected a whole number from \(range.lowerBound) to \(range.upperBound), found \"\(text)\"")
        }
        return value
    }

    /// The items of a list, each with its index in the path.
    func sequence() throws(ConfigurationError) -> [ConfigValue] {
        guard case .sequence(let sequence) = node else { throw error("expected a list, found \(kind)") }
        return sequence.enumerated().map { index, item in
            ConfigValue(node: item, path: "\(path)[\(index)]", source: source)
        }
    }

    /// A list of scalars; a single scalar is taken as a list of one when `singleAllowed`.
    func strings(singleAllowed: Bool = false) throws(ConfigurationError) -> [(text: String, value: ConfigValue)] {
        if singleAllowed, case .scalar = node, !isNull { return [(try string(), self)] }
        var result: [(text: String, value: ConfigValue)] = []
        for item in try sequence() { result.append((try item.string(), item)) }
        return result
    }

    /// A mapping whose keys are all in `keys`. An unknown key is an error at the key, naming it and the keys
    /// allowed here; a key given twice is an error at its second occurrence.
    func mapping(keys: [String]) throws(ConfigurationError) -> ConfigMapping {
        let mapping = try anyMapping()
        for (key, value) in mapping.entries where !keys.contains(key) {
            let keyValue = ConfigValue(node: mapping.keyNodes[key]!, path: value.path, source: source)
            var message = "unknown key \"\(key)\""
            if let suggestion = ConfigValue.suggestion(for: key, among: keys) {
                message += " (did you mean \"\(suggestion)\"?)"
            }
            message += "; expected " + keys.map { "\"\($0)\"" }.joined(separator: ", ")
            throw keyValue.error(message)
        }
        return mapping
    }

    /// A mapping with any keys (names chosen by the user, such as profile names).
    func anyMapping() throws(ConfigurationError) -> ConfigMapping {
        guard case .mapping(let mapping) = node else { throw error("expected a mapping, found \(kind)") }
        var entries: [(key: String, value: ConfigValue)] = []
        var keyNodes: [String: Node] = [:]
        for (keyNode, valueNode) in mapping {
            let keyValue = ConfigValue(node: keyNode, path: path, source: source)
            guard case .scalar(let scalar) = keyNode, !keyValue.isNull else {
                throw keyValue.error("a key must be a single value, found \(keyValue.kind)")
            }
            let key = scalar.string
            let childPath = path.isEmpty ? key : "\(path).\(key)"
            if keyNodes[key] != nil {
                throw ConfigValue(node: keyNode, path: childPath, source: source).error("is given twice")
            }
            keyNodes[key] = keyNode
            entries.append((key, ConfigValue(node: valueNode, path: childPath, source: source)))
        }
        return ConfigMapping(value: self, entries: entries, keyNodes: keyNodes)
    }

    /// The allowed key `name` is probably a misspelling of: same letters in another case, `-` for `_`, or one edit.
    private static func suggestion(for name: String, among keys: [String]) -> String? {
        let normalised = name.lowercased().replacingDashes
        if let match = keys.first(where: { $0 == normalised }) { return match }
        return keys.first { key in
            let a = Array(normalised.utf8)
            let b = Array(key.utf8)
            guard abs(a.count - b.count) <= 1, a.count >= 3 else { return false }
            let prefix = zip(a, b).prefix { $0 == $1 }.count
            let suffix = zip(a.reversed(), b.reversed()).prefix { $0 == $1 }.count
            return prefix + suffix >= max(a.count, b.count) - 1
        }
    }
}

/// The entries of a mapping in file order, looked up by key.
struct ConfigMapping {
    /// The mapping itself, for errors about a missing key.
    let value: ConfigValue
    /// Keys and values in the order of the file.
    let entries: [(key: String, value: ConfigValue)]
    /// The node of each key, for errors about the key itself.
    fileprivate let keyNodes: [String: Node]

    /// The value of `key`, or nil when it is absent.
    subscript(_ key: String) -> ConfigValue? {
        entries.first { $0.key == key }?.value
    }

    /// The value of `key`, or nil when it is absent or null (`key:` with nothing after it).
    func optional(_ key: String) -> ConfigValue? {
        guard let value = self[key], !value.isNull else { return nil }
        return value
    }

    /// The value of `key`; its absence is an error naming the mapping.
    func required(_ key: String, _ purpose: String) throws(ConfigurationError) -> ConfigValue {
        guard let value = optional(key) else { throw value.error("needs \"\(key)\": \(purpose)") }
        return value
    }

    /// The key node of `key` as a value, for an error that concerns the key rather than its value.
    func key(_ key: String) -> ConfigValue? {
        guard let node = keyNodes[key], let value = self[key] else { return nil }
        return ConfigValue(node: node, path: value.path, source: value.source)
    }
}

extension String {
    /// The text with every "-" replaced by "_".
    fileprivate var replacingDashes: String { String(map { $0 == "-" ? "_" : $0 }) }
}

// A value read from a YAML or JSON policy file, with its file, line, column and key path for error messages.

/// One node of a policy file and where it is. Every error made from it names the file, the line and column, and
/// the path of keys to the value: `policy.yaml:12:16: profiles.ci.rules[2].methods[0]: "GETT" is not ...`.
///
/// Only configuration loading uses this; nothing here runs per request.
struct ConfigValue {
    /// The YAML node.
    let node: YAMLNode
    /// The key path, `profiles.ci.rules[2]`; empty for the document itself.
    let path: String
    /// The file, as the user named it.
    let source: String

    /// Parses `text` as one YAML document (JSON is accepted: it is YAML), in the subset ``YAMLParser`` reads.
    static func document(text: String, source: String) throws(ConfigurationError) -> ConfigValue {
        let root: YAMLNode?
        do {
            root = try YAMLParser.parse(text)
        } catch {
            throw ConfigurationError("\(source):\(error.mark.line):\(error.mark.column): \(error.message)")
        }
        guard let root else { throw ConfigurationError("\(source): the file is empty") }
        return ConfigValue(node: root, path: "", source: source)
    }

    /// `file:line:column`.
    var location: String {
        "\(source):\(node.mark.line):\(node.mark.column)"
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
        }
    }

    /// Whether the value is YAML's null: empty, `~` or `null`, unquoted.
    var isNull: Bool {
        guard case .scalar(let text, .plain, _) = node else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(text)
    }

    /// A scalar's text. Numbers and booleans are returned as written (`0660` stays "0660").
    func string() throws(ConfigurationError) -> String {
        guard case .scalar(let text, _, _) = node, !isNull else {
            throw error("expected a single value, found \(kind)")
        }
        return text
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
        guard case .sequence(let items, _) = node else { throw error("expected a list, found \(kind)") }
        return items.enumerated().map { index, item in
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
    /// allowed here.
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
        guard case .mapping(let pairs, _) = node else { throw error("expected a mapping, found \(kind)") }
        var entries: [(key: String, value: ConfigValue)] = []
        var keyNodes: [String: YAMLNode] = [:]
        // The parser has refused keys given twice, so each key names one entry.
        for pair in pairs {
            let keyValue = ConfigValue(node: pair.key, path: path, source: source)
            guard case .scalar(let key, _, _) = pair.key, !keyValue.isNull else {
                throw keyValue.error("a key must be a single value, found \(keyValue.kind)")
            }
            let childPath = path.isEmpty ? key : "\(path).\(key)"
            keyNodes[key] = pair.key
            entries.append((key, ConfigValue(node: pair.value, path: childPath, source: source)))
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
    fileprivate let keyNodes: [String: YAMLNode]

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

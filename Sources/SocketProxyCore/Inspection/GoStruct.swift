// A JSON object read the way Go's encoding/json fills a struct: folded field names, duplicates, null.

/// A JSON object as Go's `encoding/json` decodes it into a struct, for the fields the inspector asks about.
///
/// Go matches a key to a field by exact name first, then by `foldName`: ASCII case, plus U+017F (long s) for "s"
/// and U+212A (Kelvin sign) for "k"; no other non-ASCII scalar folds to ASCII. A repeated key decodes again into
/// the same field, so the last wins; `null` leaves the field as it was.
///
/// Two spellings of one field in an object (e.g. "Privileged" and "privileged") are refused as ambiguous. A
/// repeated key whose values include an object or array is refused too: Go merges those into the earlier value,
/// element by element for arrays, which no inspector should try to reproduce.
struct GoStruct {
    /// The object's members in document order.
    let members: [JSONMember]
    /// The field path of this struct ("HostConfig", "HostConfig.Mounts[0]"), empty at the top level.
    let path: String

    /// Reads `node` as a struct at `path`; a JSON object is required.
    init(_ node: JSONNode, path: String) throws(InspectionError) {
        guard case .object(let members) = node.value else {
            throw .badRequest("\(path.isEmpty ? "the body" : path) must be a JSON object, not \(node.kindName)")
        }
        self.members = members
        self.path = path
    }

    /// The path of the field `name` of this struct, as the daemon's Go types spell it.
    func fieldPath(_ name: String) -> String {
        path.isEmpty ? name : "\(path).\(name)"
    }

    /// The value Go decodes into the field `name` (ASCII), nil when the field is absent or null.
    func value(_ name: String) throws(InspectionError) -> JSONNode? {
        var spelling: String?
        var count = 0
        var hasComposite = false
        var last: JSONNode?
        for member in members where Self.foldedEqual(key: member.key, field: name) {
            if let spelling, !GoText.equal(spelling, member.key) {
                throw .badRequest(
                    "ambiguous: duplicate keys differing only by case: \"\(GoText.printable(spelling))\" and "
                        + "\"\(GoText.printable(member.key))\" in "
                        + (path.isEmpty ? "the top-level object" : path))
            }
            spelling = member.key
            count += 1
            if !member.value.isScalar { hasComposite = true }
            guard !member.value.isNull else { continue }
            if let last, last.kindName != member.value.kindName {
                throw .badRequest("\(fieldPath(name)) is repeated with values of different types")
            }
            last = member.value
        }
        if count > 1 && hasComposite {
            throw .badRequest("\(fieldPath(name)) is repeated with an object or array value, which Go merges")
        }
        return last
    }

    /// The node when the boolean field `name` is true.
    func trueValue(_ name: String) throws(InspectionError) -> JSONNode? {
        guard let node = try value(name) else { return nil }
        guard case .bool(let flag) = node.value else { throw typeError(name, expected: "a boolean", node) }
        return flag ? node : nil
    }

    /// The string field `name`.
    func string(_ name: String) throws(InspectionError) -> (text: String, node: JSONNode)? {
        guard let node = try value(name) else { return nil }
        guard case .string(let text) = node.value else { throw typeError(name, expected: "a string", node) }
        return (text, node)
    }

    /// The struct (or pointer to struct) field `name`.
    func object(_ name: String) throws(InspectionError) -> GoStruct? {
        guard let node = try value(name) else { return nil }
        guard case .object = node.value else { throw typeError(name, expected: "an object", node) }
        return try GoStruct(node, path: fieldPath(name))
    }

    /// The `map[string]...` field `name`.
    func map(_ name: String) throws(InspectionError) -> GoMap? {
        guard let node = try value(name) else { return nil }
        guard case .object(let members) = node.value else { throw typeError(name, expected: "an object", node) }
        return GoMap(members: members, node: node, path: fieldPath(name))
    }

    /// The slice field `name`: an empty array is present (Go makes an empty, non-nil slice).
    func array(_ name: String) throws(InspectionError) -> (elements: [JSONNode], node: JSONNode)? {
        guard let node = try value(name) else { return nil }
        guard case .array(let elements) = node.value else { throw typeError(name, expected: "an array", node) }
        return (elements, node)
    }

    /// The `[]string` field `name`, each element with its field path; a null element decodes as "". With
    /// `acceptingOneString`, a lone string is a one-element list, as `strslice.StrSlice` (older `CapAdd`) takes it.
    func strings(
        _ name: String, acceptingOneString: Bool = false
    ) throws(InspectionError) -> [(text: String, field: String, node: JSONNode)]? {
        guard let node = try value(name) else { return nil }
        switch node.value {
        case .string(let text) where acceptingOneString:
            return [(text, fieldPath(name), node)]
        case .array(let elements):
            var result: [(text: String, field: String, node: JSONNode)] = []
            for (index, element) in elements.enumerated() {
                let field = "\(fieldPath(name))[\(index)]"
                switch element.value {
                case .string(let text): result.append((text, field, element))
                case .null: result.append(("", field, element))
                default: throw .badRequest("\(field) must be a string, not \(element.kindName)")
                }
            }
            return result
        default:
            throw typeError(name, expected: acceptingOneString ? "an array or a string" : "an array", node)
        }
    }

    private func typeError(_ name: String, expected: String, _ node: JSONNode) -> InspectionError {
        .badRequest("\(fieldPath(name)) must be \(expected), not \(node.kindName)")
    }

    /// Go's `foldName(key) == foldName(field)` for an ASCII field name.
    static func foldedEqual(key: String, field: String) -> Bool {
        var fieldBytes = field.utf8.makeIterator()
        for scalar in key.unicodeScalars {
            guard let expected = fieldBytes.next() else { return false }
            let folded: UInt8
            switch scalar.value {
            case 0x61...0x7A: folded = UInt8(scalar.value) - 0x20
            case 0x00...0x7F: folded = UInt8(scalar.value)
            case 0x17F: folded = UInt8(ascii: "S")
            case 0x212A: folded = UInt8(ascii: "K")
            default: return false
            }
            let expectedFolded = (0x61...0x7A).contains(expected) ? expected - 0x20 : expected
            guard folded == expectedFolded else { return false }
        }
        return fieldBytes.next() == nil
    }
}

// A JSON object read the way Go's encoding/json fills a map: exact keys, last one wins.

/// A JSON object as Go decodes it into a `map[string]T`: keys are taken exactly (no case folding, so `Labels`
/// holding "Privileged" is only a label), a repeated key overwrites, and a null value stores the zero value.
struct GoMap {
    /// The object's members in document order, repeats included.
    let members: [JSONMember]
    /// The map itself, for its offset.
    let node: JSONNode
    /// The field path of the map ("HostConfig.Sysctls").
    let path: String

    /// The path of the entry `key`.
    func fieldPath(_ key: String) -> String {
        "\(path).\(GoText.printable(key))"
    }

    /// The members that survive decoding: the last of each key, in document order.
    var entries: [JSONMember] {
        members.enumerated().filter { index, member in
            !members[(index + 1)...].contains { GoText.equal($0.key, member.key) }
        }.map(\.element)
    }

    /// The `string` value of `key`: the last one wins and null reads as "" (Go zeroes each map element before
    /// decoding into it).
    func string(_ key: String) throws(InspectionError) -> (text: String, node: JSONNode)? {
        guard let member = members.last(where: { GoText.equal($0.key, key) }) else { return nil }
        switch member.value.value {
        case .string(let text): return (text, member.value)
        case .null: return ("", member.value)
        default: throw .badRequest("\(fieldPath(key)) must be a string, not \(member.value.kindName)")
        }
    }

    /// Throws unless every value is a string or null, as in a `map[string]string`.
    func requireStringValues() throws(InspectionError) {
        for member in members where !(member.value.isNull) {
            guard case .string = member.value.value else {
                throw .badRequest("\(fieldPath(member.key)) must be a string, not \(member.value.kindName)")
            }
        }
    }
}

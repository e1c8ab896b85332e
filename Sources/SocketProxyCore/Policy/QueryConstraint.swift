// Conditions on query parameters, read the way the daemon reads them and matched on the raw query without allocating.

/// A condition on one query parameter. A rule with constraints matches only when all of them hold.
///
/// Parameters are read as the daemon's Go code reads them (`url.ParseQuery`): pairs split at `&`, name and value at
/// the first `=`, both percent-decoded with `+` as a space. Every pair with the name counts, not only the first, so
/// `?force=0&force=1` does not satisfy `force: ["0"]`. A query the daemon would read differently depending on its Go
/// version, one with a `;` or a `%` not followed by two hex digits, satisfies no constraint list at all: the rule
/// does not match, and a later rule or the default deny decides.
///
/// Values are compared exactly. The daemon reads booleans loosely (`1`, `true`, `yes`, `on` and more all mean true),
/// so write value lists in allow rules ("only these spellings pass"); in a deny rule prefer ``Requirement/absent``
/// or ``Requirement/anyValue``, which no other spelling can sidestep.
///
/// For POST, PUT and PATCH with a `application/x-www-form-urlencoded` body, Go's `Request.Form` also reads parameters
/// from the body, ahead of the query; the body is outside what a query constraint sees.
public struct QueryConstraint: Sendable, Equatable, CustomStringConvertible {
    /// What the parameter must be.
    public enum Requirement: Sendable, Equatable {
        /// The parameter does not appear.
        case absent
        /// The parameter appears, with any value (the empty value too).
        case anyValue
        /// The parameter appears, and every occurrence has one of these values (after percent-decoding).
        case oneOf([String])
        /// The parameter does not appear, or every occurrence has one of these values.
        case absentOrOneOf([String])
    }

    /// The parameter's name, decoded.
    public let name: String
    /// What the parameter must be.
    public let requirement: Requirement

    /// The name as bytes, compared with each decoded name.
    private let nameBytes: [UInt8]
    /// The allowed values as bytes, for ``Requirement/oneOf(_:)``.
    private let valueBytes: [[UInt8]]

    /// Creates a constraint on the parameter `name`.
    public init(name: String, _ requirement: Requirement) {
        self.name = name
        self.requirement = requirement
        self.nameBytes = Array(name.utf8)
        switch requirement {
        case .oneOf(let values), .absentOrOneOf(let values): self.valueBytes = values.map { Array($0.utf8) }
        case .absent, .anyValue: self.valueBytes = []
        }
    }

    /// Equal when the name and the requirement are; the byte forms follow from them.
    public static func == (lhs: QueryConstraint, rhs: QueryConstraint) -> Bool {
        lhs.name == rhs.name && lhs.requirement == rhs.requirement
    }

    /// The constraint as a policy file writes it: `force: absent`, `filters: any`, `all: ["1", "true"]`,
    /// `force: [absent, "0"]`.
    public var description: String {
        switch requirement {
        case .absent: "\(name): absent"
        case .anyValue: "\(name): any"
        case .oneOf(let values): "\(name): [" + values.map { "\"\($0)\"" }.joined(separator: ", ") + "]"
        case .absentOrOneOf(let values): "\(name): [absent" + values.map { ", \"\($0)\"" }.joined() + "]"
        }
    }

    /// Whether every constraint holds for `query`, the raw bytes after "?" (empty when there is none).
    ///
    /// An empty list always holds. Allocates nothing.
    public static func allSatisfied(_ constraints: [QueryConstraint], by query: UnsafeRawBufferPointer) -> Bool {
        if constraints.isEmpty { return true }
        guard isWellFormed(query) else { return false }
        for constraint in constraints where !constraint.isSatisfied(byWellFormed: query) { return false }
        return true
    }

    /// Whether this constraint holds for `query`, the raw bytes after "?". Allocates nothing.
    public func isSatisfied(by query: UnsafeRawBufferPointer) -> Bool {
        Self.isWellFormed(query) && isSatisfied(byWellFormed: query)
    }

    private func isSatisfied(byWellFormed query: UnsafeRawBufferPointer) -> Bool {
        var seen = false
        var start = 0
        while start <= query.count {
            var end = start
            while end < query.count && query[end] != Self.ampersand { end += 1 }
            if end > start {
                var equals = start
                while equals < end && query[equals] != Self.equalsSign { equals += 1 }
                if Self.decodedEquals(query, start..<equals, nameBytes) {
                    seen = true
                    switch requirement {
                    case .absent:
                        return false
                    case .anyValue:
                        return true
                    case .oneOf, .absentOrOneOf:
                        let value = equals < end ? equals + 1..<end : end..<end
                        guard valueBytes.contains(where: { Self.decodedEquals(query, value, $0) }) else { return false }
                    }
                }
            }
            start = end + 1
        }
        switch requirement {
        case .absent, .absentOrOneOf: return true
        case .anyValue, .oneOf: return seen
        }
    }

    /// No `;` (Go before 1.17 split pairs on it, later versions drop the pair) and every `%` starts a valid escape.
    private static func isWellFormed(_ query: UnsafeRawBufferPointer) -> Bool {
        var index = 0
        while index < query.count {
            let byte = query[index]
            if byte == semicolon { return false }
            if byte == percent {
                guard index + 2 < query.count, isHex(query[index + 1]), isHex(query[index + 2]) else { return false }
                index += 3
            } else {
                index += 1
            }
        }
        return true
    }

    /// Whether `query[range]`, decoded (`%XX`, and `+` as a space), is exactly `expected`. The range is well formed.
    private static func decodedEquals(
        _ query: UnsafeRawBufferPointer, _ range: Range<Int>, _ expected: [UInt8]
    ) -> Bool {
        // SAFETY: isWellFormed checked that every "%" inside the query has two hex digits after it.
        var index = range.lowerBound
        var matched = 0
        while index < range.upperBound {
            var byte = query[index]
            if byte == percent {
                byte = hexValue(query[index + 1]) << 4 | hexValue(query[index + 2])
                index += 3
            } else {
                if byte == plus { byte = 0x20 }
                index += 1
            }
            guard matched < expected.count, expected[matched] == byte else { return false }
            matched += 1
        }
        return matched == expected.count
    }

    @inline(__always)
    private static func isHex(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"),
            UInt8(ascii: "A")...UInt8(ascii: "F"):
            true
        default: false
        }
    }

    @inline(__always)
    private static func hexValue(_ byte: UInt8) -> UInt8 {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte &- UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte &- UInt8(ascii: "a") &+ 10
        default: byte &- UInt8(ascii: "A") &+ 10
        }
    }

    private static let ampersand = UInt8(ascii: "&")
    private static let equalsSign = UInt8(ascii: "=")
    private static let semicolon = UInt8(ascii: ";")
    private static let percent = UInt8(ascii: "%")
    private static let plus = UInt8(ascii: "+")
}

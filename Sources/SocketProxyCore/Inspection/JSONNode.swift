// The JSON tree the inspector reads: values with the byte offset where each starts.

/// One JSON value and the offset of its first byte in the body, so findings can be reported in document order.
struct JSONNode: Sendable {
    /// The value; numbers are checked against the grammar but not kept, no inspected field is a number.
    enum Value: Sendable {
        case null
        case bool(Bool)
        case number
        case string(String)
        case array([JSONNode])
        case object([JSONMember])
    }

    var offset: Int
    var value: Value

    var isNull: Bool {
        if case .null = value { return true }
        return false
    }

    /// The JSON kind in words, for type errors.
    var kindName: String {
        switch value {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }

    /// Scalars are what Go decodes into a fresh value; a repeated key with an object or array value is merged
    /// into the earlier one instead, which the inspector refuses to model.
    var isScalar: Bool {
        switch value {
        case .array, .object: false
        default: true
        }
    }
}

/// One member of a JSON object, in document order; keys are unescaped and may repeat.
struct JSONMember: Sendable {
    var key: String
    var value: JSONNode
}

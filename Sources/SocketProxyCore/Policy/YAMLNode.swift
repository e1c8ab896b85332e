// The tree the policy file's YAML reader builds: scalars, mappings and lists, each with the line and column it starts at.

/// Where a node or an error is: line and column, both counted from 1, the column in Unicode scalars (a tab is one).
struct YAMLMark: Equatable, Sendable, CustomStringConvertible {
    /// The line, from 1.
    let line: Int
    /// The column, from 1.
    let column: Int

    var description: String { "\(line):\(column)" }
}

/// How a scalar was written. Only a plain (unquoted) scalar can be null; numbers and booleans are not told apart
/// from text here: the policy reader reads every scalar as the text written (`0660` stays "0660").
enum YAMLScalarStyle: Equatable, Sendable {
    /// Unquoted: `read-only`, `0660`, `true`, `~`, or nothing at all (`key:`).
    case plain
    /// `'...'`, where `''` is one quote.
    case singleQuoted
    /// `"..."`, with backslash escapes.
    case doubleQuoted
}

/// One node of a YAML (or JSON) document, in the subset ``YAMLParser`` reads.
enum YAMLNode: Equatable, Sendable {
    /// A single value: its text, how it was written, where it starts.
    case scalar(String, YAMLScalarStyle, YAMLMark)
    /// Keys and values in the order of the document; no key is given twice. Its mark is its first key's (block)
    /// or its `{` (flow).
    case mapping([YAMLPair], YAMLMark)
    /// Items in order. Its mark is its first `-` (block) or its `[` (flow).
    case sequence([YAMLNode], YAMLMark)

    /// Where the node starts.
    var mark: YAMLMark {
        switch self {
        case .scalar(_, _, let mark), .mapping(_, let mark), .sequence(_, let mark): mark
        }
    }
}

/// One entry of a mapping.
struct YAMLPair: Equatable, Sendable {
    /// The key; always a scalar.
    let key: YAMLNode
    /// The value; a plain empty scalar when the document gives none (`key:`).
    let value: YAMLNode
}

/// Why a document cannot be read, and where. ``message`` is complete without the file name: syntax errors start with
/// "not valid YAML or JSON", constructs left out of the subset say that they are not supported.
struct YAMLError: Error, Equatable, Sendable {
    /// Where the problem is.
    let mark: YAMLMark
    /// What it is, in words a person can act on.
    let message: String
}

// The structure of the YAML subset policy files are written in: indented mappings and lists, [...] and {...} (so JSON),
// one document; what the subset leaves out is refused where it stands, never read some other way.

/// Reads a policy file's text into a ``YAMLNode`` tree with the line and column of every node, without Foundation.
///
/// The subset: block mappings and lists by indentation (`- key: value` items, lists lined up with their key), flow
/// lists and mappings over any number of lines (`[a, "b"]`, `{ all: ["1"], force: absent }`, and so JSON documents),
/// plain, single-quoted and double-quoted scalars (with YAML's and JSON's escapes), `key:` with no value (null),
/// `#` comments, and `---` before the document and `...` after it.
///
/// Refused, at the place they appear: anchors and aliases (`&a`, `*a`), tags (`!a`), block scalars (`|`, `>`),
/// explicit keys (`? `), directives (`%YAML`), lists or mappings as keys, `key: value` pairs inside `[...]`, a
/// second document, tabs in indentation, values continued on another line, and a key given twice in one mapping.
///
/// Scalars are not typed: `0660`, `true` and `~` are kept as written, with whether they were quoted, and
/// ``ConfigValue`` decides what they mean.
struct YAMLParser {
    /// Lists and mappings inside each other deeper than this are refused rather than risking the stack.
    static let maximumDepth = 64

    private var scanner: YAMLScanner
    private var depth = 0

    private init(_ text: String) {
        scanner = YAMLScanner(text)
    }

    /// The root of the one document in `text`, or nil when there is none (no text, or only comments).
    static func parse(_ text: String) throws(YAMLError) -> YAMLNode? {
        var parser = YAMLParser(text)
        try parser.checkCharacters()
        return try parser.document()
    }

    // MARK: - The document

    /// Control characters are refused wherever they are: YAML allows them only as escapes. So are NEL, LS and PS
    /// (U+0085, U+2028, U+2029), which YAML 1.1 and libyaml (and so Yams, which read these files before) take for
    /// line breaks and YAML 1.2 does not: refusing them keeps every file meaning what it meant.
    private func checkCharacters() throws(YAMLError) {
        let bytes = scanner.bytes
        var index = scanner.offset
        var code: UInt32? = nil
        while index < bytes.count {
            let byte = bytes[index]
            if YAMLByte.isControl(byte) {
                code = UInt32(byte)
            } else if byte == 0xC2, index + 1 < bytes.count, bytes[index + 1] == 0x85 {
                code = 0x85
            } else if byte == 0xE2, index + 2 < bytes.count, bytes[index + 1] == 0x80,
                bytes[index + 2] == 0xA8 || bytes[index + 2] == 0xA9
            {
                code = 0x2028 + UInt32(bytes[index + 2] - 0xA8)
            }
            if code != nil { break }
            index += 1
        }
        guard let code else { return }
        var probe = scanner
        while probe.offset < index { probe.advance() }
        let hex = String(code, radix: 16, uppercase: true)
        let name = "U+\(String(repeating: "0", count: 4 - hex.count))\(hex)"
        throw probe.error(
            "not valid YAML or JSON: the \(code < 0x80 ? "control " : "")character \(name) is not allowed; write it as "
                + "an escape in a double-quoted value")
    }

    /// `---` (optional), one node, `...` (optional), and nothing after it but comments.
    private mutating func document() throws(YAMLError) -> YAMLNode? {
        var started = false
        while true {
            guard let column = try nextContentLine() else {
                if scanner.current == nil { return nil }
                if scanner.current == YAMLByte.dot {
                    try documentEnd()
                    return nil
                }
                if started { throw secondDocument() }
                started = true
                scanner.advance(by: 3)
                scanner.skipWhite()
                if let byte = scanner.current, byte != YAMLByte.hash, !YAMLByte.isBreak(byte) {
                    throw scanner.error(
                        "a value on the line of \"---\" is not supported in policy files; start the document on the "
                            + "next line")
                }
                continue
            }
            let root = try blockNode(at: column, compact: true)
            if try nextContentLine() != nil {
                throw scanner.error(
                    "not valid YAML or JSON: unexpected content after the end of the document's value, which starts "
                        + "at line \(root.mark.line), column \(root.mark.column)" + Self.continuationHint(after: root))
            }
            if scanner.current == YAMLByte.dot {
                try documentEnd()
            } else if scanner.current != nil {
                throw secondDocument()
            }
            return root
        }
    }

    /// After `...`: comments only.
    private mutating func documentEnd() throws(YAMLError) {
        scanner.advance(by: 3)
        try endOfLine()
        if try nextContentLine() != nil || scanner.current != nil { throw secondDocument() }
    }

    private func secondDocument() -> YAMLError {
        scanner.error("a policy file is one YAML document; a second one starts here")
    }

    /// Moves to the first character of the next line with content, past blanks, comments and line breaks, and
    /// returns its column (0 for the first); nil at the end of the text or at a document marker (`---`, `...`). At
    /// content already, it stays there. A tab in the indentation of a line with content is an error.
    private mutating func nextContentLine() throws(YAMLError) -> Int? {
        while true {
            let indenting = scanner.isAtIndentation
            var tab: YAMLMark? = nil
            while let byte = scanner.current, YAMLByte.isWhite(byte) {
                if byte == YAMLByte.tab, indenting, tab == nil { tab = scanner.mark }
                scanner.advance()
            }
            guard let byte = scanner.current, !scanner.isAtDocumentMarker else { return nil }
            if byte == YAMLByte.hash {
                scanner.skipComment()
            } else if YAMLByte.isBreak(byte) {
                scanner.skipBreak()
            } else {
                if let tab {
                    throw YAMLError(
                        mark: tab, message: "not valid YAML or JSON: a tab indents this line; YAML indents with spaces")
                }
                return scanner.indentation
            }
        }
    }

    /// Moves past the rest of the line, where only blanks and a comment may be.
    private mutating func endOfLine() throws(YAMLError) {
        scanner.skipWhite()
        if scanner.current == YAMLByte.hash { scanner.skipComment() }
        guard let byte = scanner.current else { return }
        guard YAMLByte.isBreak(byte) else {
            throw scanner.error("not valid YAML or JSON: unexpected \"\(scanner.currentCharacter)\" after the value")
        }
        scanner.skipBreak()
    }

    // MARK: - Block structure

    /// The node at the position, which is at `column`. `compact`: a list or mapping may start here (the document,
    /// a list item, a value on the lines below its key), not only a scalar or a flow collection (after `key: `).
    private mutating func blockNode(at column: Int, compact: Bool) throws(YAMLError) -> YAMLNode {
        if isAtSequenceEntry {
            guard compact else {
                throw scanner.error(
                    "not valid YAML or JSON: a list cannot start on the line of its key; start it on the next line")
            }
            return try blockSequence(at: column, indentless: false)
        }
        let node = try inlineNode()
        if try isAtKeyIndicator(after: node) {
            guard compact else {
                throw scanner.error(
                    "not valid YAML or JSON: a second \": \" on the line; quote the value if \": \" is part of it, or "
                        + "start the mapping on the next line")
            }
            return try blockMapping(at: column, firstKey: node)
        }
        try endOfLine()
        return node
    }

    /// A list whose `-` are at `column`. `indentless`: lined up with its key, so a line at `column` without `-`
    /// ends it rather than being an error.
    private mutating func blockSequence(at column: Int, indentless: Bool) throws(YAMLError) -> YAMLNode {
        let mark = scanner.mark
        try enter()
        defer { depth -= 1 }
        var items: [YAMLNode] = []
        while true {
            scanner.advance()
            let nullMark = scanner.mark
            // libyaml refuses a tab after "-", where it would have to guess the column of what follows.
            while let byte = scanner.current, YAMLByte.isWhite(byte) {
                guard byte == YAMLByte.space else {
                    throw scanner.error("not valid YAML or JSON: a tab after \"-\"; separate the item with spaces")
                }
                scanner.advance()
            }
            let item = try blockValue(after: column, nullMark: nullMark, compact: true, indentlessList: false)
            items.append(item)
            guard let next = try nextContentLine(), next >= column else { break }
            if next == column, isAtSequenceEntry { continue }
            if next == column, indentless { break }
            throw scanner.error(
                "not valid YAML or JSON: expected \"-\" in column \(mark.column), lined up with the list at line "
                    + "\(mark.line), or a line indented less"
                    + (next > column ? Self.continuationHint(after: item) : ""))
        }
        return .sequence(items, mark)
    }

    /// A mapping whose keys are at `column`; the position is at the `:` after `firstKey`.
    private mutating func blockMapping(at column: Int, firstKey: YAMLNode) throws(YAMLError) -> YAMLNode {
        let mark = firstKey.mark
        try enter()
        defer { depth -= 1 }
        var pairs: [YAMLPair] = []
        var key = firstKey
        while true {
            scanner.advance()
            let value = try blockValue(after: column, nullMark: scanner.mark, compact: false, indentlessList: true)
            pairs.append(YAMLPair(key: key, value: value))
            guard let next = try nextContentLine(), next >= column else { break }
            guard next == column else {
                throw scanner.error(
                    "not valid YAML or JSON: expected a key in column \(mark.column), lined up with the mapping at "
                        + "line \(mark.line), or a line indented less" + Self.continuationHint(after: value))
            }
            key = try blockKey(of: mark)
        }
        try Self.checkDuplicates(pairs)
        return .mapping(pairs, mark)
    }

    /// The value after `key:` or `-` (the position is just after it) in a collection at `indentation`: on the same
    /// line, on the lines below indented more, a list lined up with its key (`indentlessList`), or nothing: null,
    /// placed at `nullMark`, as libyaml places it.
    private mutating func blockValue(
        after indentation: Int, nullMark: YAMLMark, compact: Bool, indentlessList: Bool
    ) throws(YAMLError) -> YAMLNode {
        scanner.skipWhite()
        if let byte = scanner.current, byte != YAMLByte.hash, !YAMLByte.isBreak(byte) {
            return try blockNode(at: scanner.indentation, compact: compact)
        }
        guard let next = try nextContentLine() else { return .scalar("", .plain, nullMark) }
        if next > indentation { return try blockNode(at: next, compact: true) }
        if next == indentation, indentlessList, isAtSequenceEntry {
            return try blockSequence(at: next, indentless: true)
        }
        return .scalar("", .plain, nullMark)
    }

    /// A key of the mapping at `mapping`, then the `:` after it.
    private mutating func blockKey(of mapping: YAMLMark) throws(YAMLError) -> YAMLNode {
        guard !isAtSequenceEntry else {
            throw scanner.error(
                "not valid YAML or JSON: a list item among the keys of the mapping at line \(mapping.line); put the "
                    + "list under a key")
        }
        let node = try inlineNode()
        guard try isAtKeyIndicator(after: node) else {
            let what = if case .scalar(let text, _, _) = node { "the key \"\(text)\"" } else { "the key" }
            throw YAMLError(
                mark: node.mark,
                message: "not valid YAML or JSON: expected \":\" after \(what) (an entry of the mapping at line "
                    + "\(mapping.line)); write \"key: value\"")
        }
        return node
    }

    /// A scalar or a flow collection, in block context.
    private mutating func inlineNode() throws(YAMLError) -> YAMLNode {
        switch scanner.current! {
        case YAMLByte.openBracket, YAMLByte.openBrace: return try flowCollection()
        case YAMLByte.doubleQuote: return try scanner.doubleQuotedScalar()
        case YAMLByte.singleQuote: return try scanner.singleQuotedScalar()
        default:
            try checkPlainStart(flow: false)
            return try scanner.plainScalar(flow: false)
        }
    }

    /// Whether `: ` follows `node`, making it a key; the position is left at the `:`.
    private mutating func isAtKeyIndicator(after node: YAMLNode) throws(YAMLError) -> Bool {
        scanner.skipWhite()
        guard scanner.current == YAMLByte.colon, YAMLByte.isBlankOrEnd(scanner.peek()) else { return false }
        guard case .scalar = node else {
            throw YAMLError(
                mark: node.mark, message: "a list or mapping as a key is not supported in policy files")
        }
        return true
    }

    private var isAtSequenceEntry: Bool {
        scanner.current == YAMLByte.dash && YAMLByte.isBlankOrEnd(scanner.peek())
    }

    /// For an error after a plain scalar: YAML would have read the more indented line as more of that value.
    private static func continuationHint(after node: YAMLNode) -> String {
        guard case .scalar(let text, .plain, _) = node, !text.isEmpty else { return "" }
        return "; a value cannot continue on another line"
    }

    // MARK: - Flow structure

    /// `[...]` or `{...}` at the position, over as many lines as it takes; indentation means nothing inside.
    private mutating func flowCollection() throws(YAMLError) -> YAMLNode {
        try enter()
        defer { depth -= 1 }
        return try scanner.current == YAMLByte.openBracket ? flowSequence() : flowMapping()
    }

    private mutating func flowSequence() throws(YAMLError) -> YAMLNode {
        let mark = scanner.mark
        scanner.advance()
        var items: [YAMLNode] = []
        while true {
            try skipFlowBlanks(opener: mark, "[")
            if scanner.current == YAMLByte.closeBracket { break }
            let item = try flowNode()
            items.append(item)
            let itemLine = scanner.line
            try skipFlowBlanks(opener: mark, "[")
            if scanner.current == YAMLByte.colon {
                throw scanner.error(
                    "a \"key: value\" pair inside [...] is not supported in policy files; write it as {key: value}")
            }
            if scanner.current == YAMLByte.closeBracket { break }
            guard scanner.current == YAMLByte.comma else {
                throw scanner.error(
                    "not valid YAML or JSON: expected \",\" or \"]\" after an item of the list at line \(mark.line), "
                        + "column \(mark.column)"
                        + (scanner.line > itemLine ? Self.continuationHint(after: item) : ""))
            }
            scanner.advance()
        }
        scanner.advance()
        return .sequence(items, mark)
    }

    private mutating func flowMapping() throws(YAMLError) -> YAMLNode {
        let mark = scanner.mark
        scanner.advance()
        var pairs: [YAMLPair] = []
        while true {
            try skipFlowBlanks(opener: mark, "{")
            if scanner.current == YAMLByte.closeBrace { break }
            if scanner.current == YAMLByte.openBracket || scanner.current == YAMLByte.openBrace {
                throw scanner.error("a list or mapping as a key is not supported in policy files")
            }
            let key = try flowNode()
            let keyLine = scanner.line
            var valueLine = keyLine
            try skipFlowBlanks(opener: mark, "{")
            var value = YAMLNode.scalar("", .plain, scanner.mark)
            if scanner.current == YAMLByte.colon {
                // An implicit key is on one line with its ":" (YAML 1.2.2, 7.4.2); libyaml refuses the rest too.
                guard scanner.line == keyLine else {
                    throw scanner.error("not valid YAML or JSON: a \":\" on another line than its key")
                }
                scanner.advance()
                try skipFlowBlanks(opener: mark, "{")
                // A value left out is null, placed at what follows, as libyaml places it.
                value = .scalar("", .plain, scanner.mark)
                if scanner.current != YAMLByte.comma, scanner.current != YAMLByte.closeBrace {
                    value = try flowNode()
                    valueLine = scanner.line
                    try skipFlowBlanks(opener: mark, "{")
                }
            } else if scanner.current != YAMLByte.comma, scanner.current != YAMLByte.closeBrace {
                throw scanner.error(
                    "not valid YAML or JSON: expected \":\", \",\" or \"}\" after a key of the mapping at line "
                        + "\(mark.line), column \(mark.column)"
                        + (scanner.line > keyLine ? Self.continuationHint(after: key) : ""))
            }
            pairs.append(YAMLPair(key: key, value: value))
            if scanner.current == YAMLByte.closeBrace { break }
            guard scanner.current == YAMLByte.comma else {
                throw scanner.error(
                    "not valid YAML or JSON: expected \",\" or \"}\" after an entry of the mapping at line "
                        + "\(mark.line), column \(mark.column)"
                        + (scanner.line > valueLine ? Self.continuationHint(after: value) : ""))
            }
            scanner.advance()
        }
        scanner.advance()
        try Self.checkDuplicates(pairs)
        return .mapping(pairs, mark)
    }

    /// A scalar or a collection inside `[...]` or `{...}`.
    private mutating func flowNode() throws(YAMLError) -> YAMLNode {
        switch scanner.current! {
        case YAMLByte.openBracket, YAMLByte.openBrace: return try flowCollection()
        case YAMLByte.doubleQuote: return try scanner.doubleQuotedScalar()
        case YAMLByte.singleQuote: return try scanner.singleQuotedScalar()
        case YAMLByte.comma, YAMLByte.closeBracket, YAMLByte.closeBrace:
            throw scanner.error("not valid YAML or JSON: expected a value before \"\(scanner.currentCharacter)\"")
        default:
            try checkPlainStart(flow: true)
            return try scanner.plainScalar(flow: true)
        }
    }

    /// Moves past blanks, line breaks and comments inside the collection opened by `opener` at `mark`; the end of
    /// the text or a document marker means it is never closed.
    private mutating func skipFlowBlanks(opener mark: YAMLMark, _ opener: String) throws(YAMLError) {
        while true {
            guard let byte = scanner.current, !scanner.isAtDocumentMarker else {
                throw YAMLError(
                    mark: mark, message: "not valid YAML or JSON: this \"\(opener)\" is never closed")
            }
            if YAMLByte.isWhite(byte) {
                scanner.advance()
            } else if YAMLByte.isBreak(byte) {
                scanner.skipBreak()
            } else if byte == YAMLByte.hash {
                scanner.skipComment()
            } else {
                return
            }
        }
    }

    // MARK: - Scalars and what the subset leaves out

    /// Refuses a character that cannot start a plain scalar (c-indicator), saying what YAML would have read there
    /// when the subset leaves that out.
    private func checkPlainStart(flow: Bool) throws(YAMLError) {
        let byte = scanner.current!
        let next = scanner.peek()
        let standsAlone = YAMLByte.isBlankOrEnd(next) || (flow && YAMLByte.isFlowIndicator(next!))
        switch byte {
        case UInt8(ascii: "&"):
            throw scanner.error("YAML anchors (&name) are not supported in policy files; write the value out")
        case UInt8(ascii: "*"):
            throw scanner.error(
                "YAML aliases (*name) are not supported in policy files; quote a value that starts with \"*\", such "
                    + "as \"*:2375\"")
        case UInt8(ascii: "!"):
            throw scanner.error(
                "YAML tags (!name) are not supported in policy files; quote a value that starts with \"!\"")
        case UInt8(ascii: "|"), UInt8(ascii: ">"):
            guard flow else {
                throw scanner.error(
                    "YAML block scalars (| and >) are not supported in policy files; write the value on one line, "
                        + "quoted if needed")
            }
        case YAMLByte.percent:
            throw scanner.error(
                "YAML directives (%YAML, %TAG) are not supported in policy files; quote a value that starts with "
                    + "\"%\"")
        // Inside [...] and {...}, libyaml (and so Yams, which read these files before) takes `?` and `:` as
        // indicators whatever follows them; refusing `?x` and `:x` there keeps every file meaning what it meant.
        case YAMLByte.question where standsAlone || flow:
            throw scanner.error("YAML explicit keys (\"? \") are not supported in policy files; write \"key: value\"")
        case YAMLByte.colon where standsAlone || flow:
            throw scanner.error("not valid YAML or JSON: expected a key before \":\"")
        case YAMLByte.dash where standsAlone:
            break
        case YAMLByte.dash, YAMLByte.question, YAMLByte.colon:
            return
        case YAMLByte.comma, YAMLByte.openBracket, YAMLByte.closeBracket, YAMLByte.openBrace, YAMLByte.closeBrace,
            YAMLByte.hash, UInt8(ascii: "@"), UInt8(ascii: "`"):
            break
        default:
            return
        }
        throw scanner.error(
            "not valid YAML or JSON: \"\(scanner.currentCharacter)\" cannot start an unquoted value; quote it")
    }

    /// Refuses a key given twice, as Yams did: at the first place of the (alphabetically) first such key.
    private static func checkDuplicates(_ pairs: [YAMLPair]) throws(YAMLError) {
        var first: [String: YAMLMark] = [:]
        var duplicates: Set<String> = []
        for pair in pairs {
            guard case .scalar(let key, _, let mark) = pair.key else { continue }
            if first[key] == nil { first[key] = mark } else { duplicates.insert(key) }
        }
        guard let earliest = duplicates.min() else { return }
        let keys = duplicates.sorted().map { "\"\($0)\"" }.joined(separator: ", ")
        throw YAMLError(
            mark: first[earliest]!,
            message: "the key \(keys) \(duplicates.count == 1 ? "is" : "are") given twice in one mapping")
    }

    /// One level deeper; refuses to go past ``maximumDepth``.
    private mutating func enter() throws(YAMLError) {
        depth += 1
        guard depth <= Self.maximumDepth else {
            throw scanner.error(
                "lists and mappings nested more than \(Self.maximumDepth) deep are not supported in policy files")
        }
    }
}

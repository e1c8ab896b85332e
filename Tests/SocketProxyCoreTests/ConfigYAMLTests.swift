// Tests for the YAML subset policy files are read with: each construct with its tree and places, each refusal.
import Testing

@testable import SocketProxyCore

/// A plain scalar at line:column.
private func plain(_ text: String, _ line: Int, _ column: Int) -> YAMLNode {
    .scalar(text, .plain, YAMLMark(line: line, column: column))
}

/// A `'...'` scalar at line:column.
private func single(_ text: String, _ line: Int, _ column: Int) -> YAMLNode {
    .scalar(text, .singleQuoted, YAMLMark(line: line, column: column))
}

/// A `"..."` scalar at line:column.
private func double(_ text: String, _ line: Int, _ column: Int) -> YAMLNode {
    .scalar(text, .doubleQuoted, YAMLMark(line: line, column: column))
}

/// A mapping at line:column.
private func map(_ line: Int, _ column: Int, _ pairs: KeyValuePairs<YAMLNode, YAMLNode>) -> YAMLNode {
    .mapping(pairs.map { YAMLPair(key: $0.key, value: $0.value) }, YAMLMark(line: line, column: column))
}

/// A list at line:column.
private func list(_ line: Int, _ column: Int, _ items: [YAMLNode]) -> YAMLNode {
    .sequence(items, YAMLMark(line: line, column: column))
}

/// `YAMLParser.parse(_:)`. Every tree below, places included, is the one Yams (libyaml) composed from the same text
/// (but where a comment says otherwise), so the messages `ConfigValue` makes from them name the places they named
/// before.
struct ConfigYAMLTests {
    /// Text and the tree it reads as.
    static let constructs: [(text: String, tree: YAMLNode)] = [
        // Block mappings, nested by indentation (any width).
        ("a: 1\nb: two\n", map(1, 1, [plain("a", 1, 1): plain("1", 1, 4), plain("b", 2, 1): plain("two", 2, 4)])),
        (
            "a:\n    b:\n      c: d\n    e: f\ng: h\n",
            map(
                1, 1,
                [
                    plain("a", 1, 1): map(
                        2, 5,
                        [
                            plain("b", 2, 5): map(3, 7, [plain("c", 3, 7): plain("d", 3, 10)]),
                            plain("e", 4, 5): plain("f", 4, 8),
                        ]),
                    plain("g", 5, 1): plain("h", 5, 4),
                ])
        ),
        // Block lists, lists of mappings, lists lined up with their key, lists in lists.
        ("- a\n- b\n", list(1, 1, [plain("a", 1, 3), plain("b", 2, 3)])),
        (
            "listeners:\n  - name: x\n    tcp: y\n  - unix: z\n",
            map(
                1, 1,
                [
                    plain("listeners", 1, 1): list(
                        2, 3,
                        [
                            map(2, 5, [plain("name", 2, 5): plain("x", 2, 11), plain("tcp", 3, 5): plain("y", 3, 10)]),
                            map(4, 5, [plain("unix", 4, 5): plain("z", 4, 11)]),
                        ])
                ])
        ),
        (
            "listeners:\n- a\n- b\nprofiles: c\n",
            map(
                1, 1,
                [
                    plain("listeners", 1, 1): list(2, 1, [plain("a", 2, 3), plain("b", 3, 3)]),
                    plain("profiles", 4, 1): plain("c", 4, 11),
                ])
        ),
        (
            "- clients:\n  - uid: 0\n  profile: p\n",
            list(
                1, 1,
                [
                    map(
                        1, 3,
                        [
                            plain("clients", 1, 3): list(2, 3, [map(2, 5, [plain("uid", 2, 5): plain("0", 2, 10)])]),
                            plain("profile", 3, 3): plain("p", 3, 12),
                        ])
                ])
        ),
        ("- - a\n  - b\n- c\n", list(1, 1, [list(1, 3, [plain("a", 1, 5), plain("b", 2, 5)]), plain("c", 3, 3)])),
        (
            "-   a: 1\n    b: 2\n",
            list(1, 1, [map(1, 5, [plain("a", 1, 5): plain("1", 1, 8), plain("b", 2, 5): plain("2", 2, 8)])])
        ),
        // A value on the line below its key, or below its "-".
        ("a:\n  b\n", map(1, 1, [plain("a", 1, 1): plain("b", 2, 3)])),
        ("-\n  a: 1\n", list(1, 1, [map(2, 3, [plain("a", 2, 3): plain("1", 2, 6)])])),
        // Null: nothing (placed just after the ":" or "-"), ~ and null; quoted, they are text.
        (
            "a:\nb: ~\nc: null\nd: # nothing\ne: '~'\n",
            map(
                1, 1,
                [
                    plain("a", 1, 1): plain("", 1, 3), plain("b", 2, 1): plain("~", 2, 4),
                    plain("c", 3, 1): plain("null", 3, 4), plain("d", 4, 1): plain("", 4, 3),
                    plain("e", 5, 1): single("~", 5, 4),
                ])
        ),
        ("-\n- a\n-", list(1, 1, [plain("", 1, 2), plain("a", 2, 3), plain("", 3, 2)])),
        // Numbers and booleans are kept as written; quoting is remembered.
        (
            "mode: 0660\nquoted: \"0660\"\non: true\nbig: 2097152\n",
            map(
                1, 1,
                [
                    plain("mode", 1, 1): plain("0660", 1, 7), plain("quoted", 2, 1): double("0660", 2, 9),
                    plain("on", 3, 1): plain("true", 3, 5), plain("big", 4, 1): plain("2097152", 4, 6),
                ])
        ),
        // Comments: whole lines, after values, never inside quotes nor without a space before "#".
        (
            "# head\na: x#y # tail\n  # indented\nb: \"no # comment\"\n",
            map(2, 1, [plain("a", 2, 1): plain("x#y", 2, 4), plain("b", 4, 1): double("no # comment", 4, 4)])
        ),
        // Plain scalars hold ":" not followed by a space, and inner spaces; trailing spaces are not part of them.
        (
            "tcp: 127.0.0.1:2375\nunix: unix:/run/x.sock\nreason: no secrets here   # why\n",
            map(
                1, 1,
                [
                    plain("tcp", 1, 1): plain("127.0.0.1:2375", 1, 6),
                    plain("unix", 2, 1): plain("unix:/run/x.sock", 2, 7),
                    plain("reason", 3, 1): plain("no secrets here", 3, 9),
                ])
        ),
        ("- -1\n- :x\n- ?x\n", list(1, 1, [plain("-1", 1, 3), plain(":x", 2, 3), plain("?x", 3, 3)])),
        // Quoted scalars: '' in single quotes, YAML's escapes (JSON's among them) in double quotes.
        ("a: 'it''s # not a comment'\n", map(1, 1, [plain("a", 1, 1): single("it's # not a comment", 1, 4)])),
        (
            #"a: "\"\\\/\n\t\r\0\a\b\e\f\v\ \_\N\L\P\x41\u00e9\U0001F600""#,
            map(
                1, 1,
                [
                    plain("a", 1, 1): double(
                        "\"\\/\n\t\r\0\u{07}\u{08}\u{1B}\u{0C}\u{0B} \u{A0}\u{85}\u{2028}\u{2029}Aé😀", 1, 4)
                ])
        ),
        // JSON's surrogate pairs, which libyaml refused.
        (#"{"a": "\uD83D\uDE00"}"#, map(1, 1, [double("a", 1, 2): double("😀", 1, 7)])),
        ("\"my profile\": 'x'\n", map(1, 1, [double("my profile", 1, 1): single("x", 1, 15)])),
        ("a : b\n", map(1, 1, [plain("a", 1, 1): plain("b", 1, 5)])),
        // Flow lists and mappings, nested, empty, with trailing commas, over several lines.
        (
            "methods: [GET, \"HEAD\", 'PUT', 3]\n",
            map(
                1, 1,
                [
                    plain("methods", 1, 1): list(
                        1, 10, [plain("GET", 1, 11), double("HEAD", 1, 16), single("PUT", 1, 24), plain("3", 1, 31)])
                ])
        ),
        (
            "query: { all: [\"1\", \"true\"], filters: any, force: absent, v: [absent, \"0\"] }\n",
            map(
                1, 1,
                [
                    plain("query", 1, 1): map(
                        1, 8,
                        [
                            plain("all", 1, 10): list(1, 15, [double("1", 1, 16), double("true", 1, 21)]),
                            plain("filters", 1, 30): plain("any", 1, 39),
                            plain("force", 1, 44): plain("absent", 1, 51),
                            plain("v", 1, 59): list(1, 62, [plain("absent", 1, 63), double("0", 1, 71)]),
                        ])
                ])
        ),
        ("a: []\nb: {}\n", map(1, 1, [plain("a", 1, 1): list(1, 4, []), plain("b", 2, 1): map(2, 4, [:])])),
        ("[a, b, ]", list(1, 1, [plain("a", 1, 2), plain("b", 1, 5)])),
        (
            "{a: , b, c: {d: [e, {f: g}]},}",
            map(
                1, 1,
                [
                    plain("a", 1, 2): plain("", 1, 5), plain("b", 1, 7): plain("", 1, 8),
                    plain("c", 1, 10): map(
                        1, 13,
                        [
                            plain("d", 1, 14): list(
                                1, 17, [plain("e", 1, 18), map(1, 21, [plain("f", 1, 22): plain("g", 1, 25)])])
                        ]),
                ])
        ),
        (
            "rules: [\n  {path: /a},  # first\n  {path: /b}\n]\n",
            map(
                1, 1,
                [
                    plain("rules", 1, 1): list(
                        1, 8,
                        [
                            map(2, 3, [plain("path", 2, 4): plain("/a", 2, 10)]),
                            map(3, 3, [plain("path", 3, 4): plain("/b", 3, 10)]),
                        ])
                ])
        ),
        // JSON, minified and indented with tabs.
        (
            #"{"a":1,"b":[true,false,null],"c":{"d":-1.5e3,"e":"x\"y"}}"#,
            map(
                1, 1,
                [
                    double("a", 1, 2): plain("1", 1, 6),
                    double("b", 1, 8): list(
                        1, 12, [plain("true", 1, 13), plain("false", 1, 18), plain("null", 1, 24)]),
                    double("c", 1, 30): map(
                        1, 34, [double("d", 1, 35): plain("-1.5e3", 1, 39), double("e", 1, 46): double("x\"y", 1, 50)]),
                ])
        ),
        (
            "{\n\t\"listeners\": [\n\t\t{\"tcp\": \"*:2375\"}\n\t]\n}\n",
            map(
                1, 1,
                [double("listeners", 2, 2): list(2, 15, [map(3, 3, [double("tcp", 3, 4): double("*:2375", 3, 11)])])])
        ),
        // Document markers, line ends, byte order mark, and tabs where YAML allows them.
        ("---\na: 1\n...\n# after\n", map(2, 1, [plain("a", 2, 1): plain("1", 2, 4)])),
        ("--- # start\na: 1\n", map(2, 1, [plain("a", 2, 1): plain("1", 2, 4)])),
        (
            "a: 1\r\nb:\r\n  - c\r\n",
            map(1, 1, [plain("a", 1, 1): plain("1", 1, 4), plain("b", 2, 1): list(3, 3, [plain("c", 3, 5)])])
        ),
        // A byte order mark is skipped and takes no column (Yams counted one, and refused a block document after it).
        ("\u{FEFF}a: 1\n", map(1, 1, [plain("a", 1, 1): plain("1", 1, 4)])),
        ("a:\tb\t# c\n", map(1, 1, [plain("a", 1, 1): plain("b", 1, 4)])),
        // Columns count characters, not bytes.
        ("ключ: [é, x]\n", map(1, 1, [plain("ключ", 1, 1): list(1, 7, [plain("é", 1, 8), plain("x", 1, 11)])])),
        // A document that is one value.
        ("just text\n", plain("just text", 1, 1)),
    ]

    @Test(arguments: constructs)
    func readsTheConstructIntoItsTreeWithPlaces(text: String, tree: YAMLNode) throws {
        #expect(try YAMLParser.parse(text) == tree)
    }

    /// Texts without a document: the policy reader says the file is empty.
    static let empty = [
        "", "\n\n", "# only a comment\n", "  # indented comment\n\t\n", "---\n", "--- # c\n...\n", "\u{FEFF}",
    ]

    @Test(arguments: empty)
    func readsNoDocumentFromTextWithoutOne(text: String) throws {
        #expect(try YAMLParser.parse(text) == nil)
    }

    /// Text and the error it gives, as `line:column: message`.
    static let refusals: [(text: String, message: String)] = [
        // What the subset leaves out, at the place it appears.
        ("a: &x 1\n", "1:4: YAML anchors (&name) are not supported in policy files; write the value out"),
        (
            "listeners:\n  - tcp: *:2375\n",
            "2:10: YAML aliases (*name) are not supported in policy files; quote a value that starts with \"*\", such "
                + "as \"*:2375\""
        ),
        (
            "a: !str 1\n",
            "1:4: YAML tags (!name) are not supported in policy files; quote a value that starts with \"!\""
        ),
        (
            "reason: |\n  text\n",
            "1:9: YAML block scalars (| and >) are not supported in policy files; write the value on one line, quoted "
                + "if needed"
        ),
        (
            "reason: >\n  text\n",
            "1:9: YAML block scalars (| and >) are not supported in policy files; write the value on one line, quoted "
                + "if needed"
        ),
        (
            "%YAML 1.2\n---\na: 1\n",
            "1:1: YAML directives (%YAML, %TAG) are not supported in policy files; quote a value that starts with \"%\""
        ),
        ("? a\n: b\n", "1:1: YAML explicit keys (\"? \") are not supported in policy files; write \"key: value\""),
        ("{?x: 1}", "1:2: YAML explicit keys (\"? \") are not supported in policy files; write \"key: value\""),
        ("a: 1\n---\nb: 2\n", "2:1: a policy file is one YAML document; a second one starts here"),
        ("a: 1\n...\nb: 2\n", "3:1: a policy file is one YAML document; a second one starts here"),
        ("---\n---\n", "2:1: a policy file is one YAML document; a second one starts here"),
        (
            "--- {a: 1}\n",
            "1:5: a value on the line of \"---\" is not supported in policy files; start the document on the next line"
        ),
        ("a:\n\tb: 1\n", "2:1: not valid YAML or JSON: a tab indents this line; YAML indents with spaces"),
        ("a:\n  \tb: 1\n", "2:3: not valid YAML or JSON: a tab indents this line; YAML indents with spaces"),
        ("-\ta\n", "1:2: not valid YAML or JSON: a tab after \"-\"; separate the item with spaces"),
        ("[a]: b\n", "1:1: a list or mapping as a key is not supported in policy files"),
        ("{[a]: b}", "1:2: a list or mapping as a key is not supported in policy files"),
        (
            "[a: b]",
            "1:3: a \"key: value\" pair inside [...] is not supported in policy files; write it as {key: value}"
        ),
        (
            "lists: [\"a\": b]",
            "1:12: a \"key: value\" pair inside [...] is not supported in policy files; write it as {key: value}"
        ),
        (
            "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
            "1:65: lists and mappings nested more than 64 deep are not supported in policy files"
        ),
        // A key given twice: at the first place of the first such key, as Yams said it.
        ("a: 1\nb: 2\na: 3\n", "1:1: the key \"a\" is given twice in one mapping"),
        ("b: 1\na: 1\nb: 2\na: 2\n", "2:1: the key \"a\", \"b\" are given twice in one mapping"),
        ("x: {a: 1, 'a': 2}", "1:5: the key \"a\" is given twice in one mapping"),
        ("- p: 1\n  q: 2\n  p: 3\n", "1:3: the key \"p\" is given twice in one mapping"),
        // Values continued on another line (YAML would fold them) and quotes not closed on their line.
        (
            "reason: no\n  secrets\n",
            "2:3: not valid YAML or JSON: expected a key in column 1, lined up with the mapping at line 1, or a line "
                + "indented less; a value cannot continue on another line"
        ),
        (
            "- a\n  b\n",
            "2:3: not valid YAML or JSON: expected \"-\" in column 1, lined up with the list at line 1, or a line "
                + "indented less; a value cannot continue on another line"
        ),
        (
            "methods: [GET,\n  HEAD\n  POST]\n",
            "3:3: not valid YAML or JSON: expected \",\" or \"]\" after an item of the list at line 1, column 10; a "
                + "value cannot continue on another line"
        ),
        (
            "just\ntext\n",
            "2:1: not valid YAML or JSON: unexpected content after the end of the document's value, which starts at "
                + "line 1, column 1; a value cannot continue on another line"
        ),
        (
            "a: \"x\n  y\"\n",
            "1:4: the value quoted with \" is not closed on its line (values spanning lines are not supported in "
                + "policy files)"
        ),
        (
            "a: 'x\n",
            "1:4: the value quoted with ' is not closed on its line (values spanning lines are not supported in "
                + "policy files)"
        ),
        (
            "a: \"x\\\n  y\"\n",
            "1:6: a backslash at the end of the line continues the value on the next line, which is not supported in "
                + "policy files; write the value on one line"
        ),
        // Indentation that lines up with nothing.
        (
            "listeners:\n  - tcp: 127.0.0.1:2375\n   profile: p\n",
            "3:4: not valid YAML or JSON: expected \"-\" in column 3, lined up with the list at line 2, or a line "
                + "indented less"
        ),
        (
            "a:\n  b: [1]\n c: 2\n",
            "3:2: not valid YAML or JSON: expected a key in column 1, lined up with the mapping at line 1, or a line "
                + "indented less"
        ),
        (
            "a:\n  - x\n  y: 1\n",
            "3:3: not valid YAML or JSON: expected \"-\" in column 3, lined up with the list at line 2, or a line "
                + "indented less"
        ),
        // Structure out of place.
        (
            "methods: - GET\n",
            "1:10: not valid YAML or JSON: a list cannot start on the line of its key; start it on the next line"
        ),
        (
            "reason: note: this\n",
            "1:13: not valid YAML or JSON: a second \": \" on the line; quote the value if \": \" is part of it, or "
                + "start the mapping on the next line"
        ),
        (
            "a: 1\n- b\n",
            "2:1: not valid YAML or JSON: a list item among the keys of the mapping at line 1; put the list under a key"
        ),
        (
            "a: 1\nb\n",
            "2:1: not valid YAML or JSON: expected \":\" after the key \"b\" (an entry of the mapping at line 1); write "
                + "\"key: value\""
        ),
        (": x\n", "1:1: not valid YAML or JSON: expected a key before \":\""),
        ("a: \"x\" y\n", "1:8: not valid YAML or JSON: unexpected \"y\" after the value"),
        ("\"a\":b\n", "1:4: not valid YAML or JSON: unexpected \":\" after the value"),
        ("a: @x\n", "1:4: not valid YAML or JSON: \"@\" cannot start an unquoted value; quote it"),
        ("a: `x`\n", "1:4: not valid YAML or JSON: \"`\" cannot start an unquoted value; quote it"),
        ("a: ]\n", "1:4: not valid YAML or JSON: \"]\" cannot start an unquoted value; quote it"),
        ("[- a]", "1:2: not valid YAML or JSON: \"-\" cannot start an unquoted value; quote it"),
        ("[a, :b]", "1:5: not valid YAML or JSON: expected a key before \":\""),
        // Flow collections.
        ("a: [x, y\n", "1:4: not valid YAML or JSON: this \"[\" is never closed"),
        ("{a: 1\n", "1:1: not valid YAML or JSON: this \"{\" is never closed"),
        ("[a,,b]", "1:4: not valid YAML or JSON: expected a value before \",\""),
        (
            "{a: 1 b: 2}",
            "1:8: not valid YAML or JSON: expected \",\" or \"}\" after an entry of the mapping at line 1, column 1"
        ),
        (
            "{\"a\" x}",
            "1:6: not valid YAML or JSON: expected \":\", \",\" or \"}\" after a key of the mapping at line 1, column 1"
        ),
        ("{\"a\"\n: 1}", "2:1: not valid YAML or JSON: a \":\" on another line than its key"),
        ("{a:[1]}", "1:3: not valid YAML or JSON: write a space after the \":\" of an unquoted key"),
        ("[a b}", "1:5: not valid YAML or JSON: expected \",\" or \"]\" after an item of the list at line 1, column 1"),
        // Escapes and characters.
        (
            "a: \"\\q\"\n",
            "1:5: not valid YAML or JSON: \"\\q\" is not an escape in a double-quoted value (write \"\\\\\" for a backslash)"
        ),
        ("a: \"\\u12\"\n", "1:5: not valid YAML or JSON: the escape needs 4 hexadecimal digits"),
        ("a: \"\\uD83D\"\n", "1:5: not valid YAML or JSON: a \\u escape of a lone surrogate"),
        ("a: \"\\uDE00\"\n", "1:5: not valid YAML or JSON: the escape stands for no character (a lone surrogate)"),
        (
            "a: b\u{01}\n",
            "1:5: not valid YAML or JSON: the control character U+0001 is not allowed; write it as an escape in a "
                + "double-quoted value"
        ),
        (
            "a: 'x\u{2028}y'\n",
            "1:6: not valid YAML or JSON: the character U+2028 is not allowed; write it as an escape in a "
                + "double-quoted value"
        ),
    ]

    @Test(arguments: refusals)
    func refusesWithThePlaceAndTheReason(text: String, message: String) {
        do {
            let tree = try YAMLParser.parse(text)
            Issue.record("read \(String(describing: tree)) where \"\(message)\" was expected")
        } catch {
            #expect("\(error.mark): \(error.message)" == message)
        }
    }
}

/// `ConfigValue`: scalars from the subset reader mean what they meant when Yams read them.
struct ConfigYAMLValueTests {
    static func document(_ text: String) throws -> ConfigValue {
        try ConfigValue.document(text: text, source: "p.yaml")
    }

    @Test func onlyPlainNothingTildeAndNullAreNull() throws {
        let top = try Self.document("a:\nb: ~\nc: null\nd: NULL\ne: '~'\nf: \"null\"\ng: ''\n").anyMapping()
        #expect(top.entries.map(\.value.isNull) == [true, true, true, true, false, false, false])
        #expect(try top["e"]!.string() == "~")
        #expect(try top["g"]!.string() == "")
    }

    @Test func numbersAreReadAsWrittenQuotedOrNot() throws {
        let top = try Self.document("a: 0660\nb: \"0660\"\nc: 4096\nd: '4096'\ne: 1e3\n").anyMapping()
        #expect(try top["a"]!.string() == "0660")
        #expect(try top["b"]!.string() == "0660")
        #expect(try top["c"]!.integer(in: 1...5000) == 4096)
        #expect(try top["d"]!.integer(in: 1...5000) == 4096)
        #expect(throws: ConfigurationError("p.yaml:5:4: e: expected a whole number from 1 to 5000, found \"1e3\"")) {
            try top["e"]!.integer(in: 1...5000)
        }
    }

    @Test func booleansAreTheSpellingsYAMLWritesAndNoOthers() throws {
        let top = try Self.document("a: true\nb: False\nc: \"TRUE\"\nd: yes\n").anyMapping()
        #expect(try top["a"]!.bool() == true)
        #expect(try top["b"]!.bool() == false)
        #expect(try top["c"]!.bool() == true)
        #expect(throws: ConfigurationError("p.yaml:4:4: d: expected true or false, found \"yes\"")) {
            try top["d"]!.bool()
        }
    }

    @Test func aSocketModeIsTheSameWrittenPlainOrQuoted() throws {
        for mode in ["0660", "\"0660\"", "'660'", "0o660", "\"0o660\""] {
            let file = try PolicyFile.parse(
                text: "listeners:\n  - unix: /run/x.sock\n    mode: \(mode)\n    profile: read-only\n",
                source: "p.yaml",
                accounts: .table(users: [:], groups: [:]))
            #expect(file.listeners[0].unixMode == 0o660, "mode: \(mode)")
        }
    }

    @Test func parserErrorsNameTheFileAndThePlace() {
        #expect(
            throws: ConfigurationError(
                "p.yaml:2:10: YAML aliases (*name) are not supported in policy files; quote a value that starts with "
                    + "\"*\", such as \"*:2375\"")
        ) { try PolicyFile.parse(text: "listeners:\n  - tcp: *:2375\n    profile: read-only\n", source: "p.yaml") }
        #expect(throws: ConfigurationError("p.yaml: the file is empty")) { try Self.document("---\n") }
    }
}

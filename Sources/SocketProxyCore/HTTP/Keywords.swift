// The few methods, field names and list options the parsers recognise, matched byte by byte as they arrive.

/// A family of keywords that a ``KeywordMatcher`` recognises.
///
/// Recognising a token while it is scanned means no byte is read twice and a token split across two reads needs no
/// buffering: the matcher keeps a bit per keyword that still fits the bytes seen so far.
enum KeywordSet: Sendable {
    /// Request methods, case-sensitive (RFC 9110 §9.1); index = ``HTTPMethod`` raw value.
    case methods
    /// Field names, case-insensitive (RFC 9110 §5.1); index = ``FieldName`` raw value.
    case fieldNames
    /// Connection options, transfer codings and expectations, case-insensitive; index = ``ListOption`` raw value.
    case options

    /// The keyword at `index`; lower case for the case-insensitive sets.
    func keyword(_ index: Int) -> StaticString {
        switch self {
        case .methods:
            switch index {
            case 0: "GET"
            case 1: "HEAD"
            case 2: "POST"
            case 3: "PUT"
            case 4: "DELETE"
            case 5: "PATCH"
            case 6: "OPTIONS"
            case 7: "CONNECT"
            default: "TRACE"
            }
        case .fieldNames:
            switch index {
            case 0: "host"
            case 1: "content-length"
            case 2: "transfer-encoding"
            case 3: "connection"
            case 4: "upgrade"
            case 5: "expect"
            case 6: "content-type"
            default: "trailer"
            }
        case .options:
            switch index {
            case 0: "close"
            case 1: "keep-alive"
            case 2: "upgrade"
            case 3: "chunked"
            default: "100-continue"
            }
        }
    }

    /// One bit per keyword.
    var all: UInt16 {
        switch self {
        case .methods: 0b1_1111_1111
        case .fieldNames: 0b1111_1111
        case .options: 0b1_1111
        }
    }

    /// Methods are case-sensitive; the rest compare ASCII letters without case.
    var isCaseSensitive: Bool {
        if case .methods = self { return true }
        return false
    }
}

/// The field names whose values decide framing, routing or connection handling.
enum FieldName: Int, Sendable {
    case host, contentLength, transferEncoding, connection, upgrade, expect, contentType, trailer
}

/// Options recognised inside comma-separated field values.
enum ListOption: Int, Sendable {
    case close, keepAlive, upgrade, chunked, continue100

    /// This option's bit in ``OptionList/found``.
    var bit: UInt16 { 1 << UInt16(rawValue) }
}

/// Matches one token against a ``KeywordSet`` as its bytes arrive.
struct KeywordMatcher: Sendable {
    /// Keywords that still agree with every byte fed so far, one bit each.
    private(set) var alive: UInt16
    /// Bytes fed so far, while any keyword was still alive.
    private(set) var length = 0

    /// Starts a token that may be any keyword whose bit is in `candidates`.
    init(candidates: UInt16) {
        alive = candidates
    }

    /// Feeds the next byte of the token.
    @inline(__always)
    mutating func feed(_ byte: UInt8, in set: KeywordSet) {
        // Most tokens match no keyword after a byte or two; then there is nothing left to compare.
        guard alive != 0 else {
            return
        }
        let folded = set.isCaseSensitive ? byte : ByteClass.lowercased(byte)
        var remaining = alive
        while remaining != 0 {
            let index = remaining.trailingZeroBitCount
            remaining &= remaining &- 1
            let fits = set.keyword(index).withUTF8Buffer { word in
                length < word.count && word[length] == folded
            }
            if !fits {
                alive &= ~(1 << UInt16(index))
            }
        }
        length &+= 1
    }

    /// The index of the keyword equal to the whole token, if any.
    func match(in set: KeywordSet) -> Int? {
        var remaining = alive
        while remaining != 0 {
            let index = remaining.trailingZeroBitCount
            remaining &= remaining &- 1
            if set.keyword(index).utf8CodeUnitCount == length {
                return index
            }
        }
        return nil
    }
}

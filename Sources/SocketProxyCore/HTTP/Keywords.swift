// The few methods, field names and list options the parsers recognise, each matched once its token has ended.

/// The field names whose values decide framing, routing or connection handling.
enum FieldName: Int, Sendable {
    case host, contentLength, transferEncoding, connection, upgrade, expect, contentType, trailer

    /// The length of the longest name recognised, `transfer-encoding`.
    static let longest = 17

    /// Bit n is set when some recognised name has n bytes: 4, 6, 7, 10, 12, 14 and 17.
    private static let lengths: UInt32 = 1 << 4 | 1 << 6 | 1 << 7 | 1 << 10 | 1 << 12 | 1 << 14 | 1 << 17

    /// Whether a name of `length` bytes may be a recognised one; one test, before any byte is compared.
    @inline(__always)
    static func isCandidate(length: Int) -> Bool {
        length <= longest && lengths & 1 << UInt32(truncatingIfNeeded: length) != 0
    }

    /// Recognises a whole field name of `count` bytes at `name`, without case (RFC 9110 §5.1); nil for any other
    /// name. `name` must be a token, as the scanner has checked by the time the name ends.
    ///
    /// The length decides first, so most names are dismissed without reading a byte, and a name of a matching
    /// length is compared a word at a time.
    @inline(__always)
    init?(_ name: UnsafeRawPointer, count: Int) {
        switch count {
        case 4 where Keyword.equals(name, "host", ignoringCase: true): self = .host
        case 6 where Keyword.equals(name, "expect", ignoringCase: true): self = .expect
        case 7 where Keyword.equals(name, "upgrade", ignoringCase: true): self = .upgrade
        case 7 where Keyword.equals(name, "trailer", ignoringCase: true): self = .trailer
        case 10 where Keyword.equals(name, "connection", ignoringCase: true): self = .connection
        case 12 where Keyword.equals(name, "content-type", ignoringCase: true): self = .contentType
        case 14 where Keyword.equals(name, "content-length", ignoringCase: true): self = .contentLength
        case 17 where Keyword.equals(name, "transfer-encoding", ignoringCase: true): self = .transferEncoding
        default: return nil
        }
    }
}

/// Options recognised inside comma-separated field values.
enum ListOption: Int, Sendable {
    case close, keepAlive, upgrade, chunked, continue100

    /// This option's bit in ``OptionList/found``.
    var bit: UInt16 { 1 << UInt16(rawValue) }

    /// Recognises an element of `count` bytes from ``OptionList``'s packing of it: each byte with bit 5 set (which
    /// lower-cases a letter), the first byte in the highest place. The constants are the options' ASCII bytes.
    @inline(__always)
    init?(packed: UInt128, count: Int) {
        switch count {
        case 5 where packed == 0x63_6C_6F_73_65: self = .close  // "close"
        case 7 where packed == 0x75_70_67_72_61_64_65: self = .upgrade  // "upgrade"
        case 7 where packed == 0x63_68_75_6E_6B_65_64: self = .chunked  // "chunked"
        case 10 where packed == 0x6B_65_65_70_2D_61_6C_69_76_65: self = .keepAlive  // "keep-alive"
        case 12 where packed == 0x31_30_30_2D_63_6F_6E_74_69_6E_75_65: self = .continue100  // "100-continue"
        default: return nil
        }
    }
}

extension HTTPMethod {
    /// Recognises a whole method token of `count` bytes at `token`; methods are case-sensitive (RFC 9110 §9.1).
    init(_ token: UnsafeRawPointer, count: Int) {
        switch count {
        case 3 where Keyword.equals(token, "GET", ignoringCase: false): self = .get
        case 3 where Keyword.equals(token, "PUT", ignoringCase: false): self = .put
        case 4 where Keyword.equals(token, "POST", ignoringCase: false): self = .post
        case 4 where Keyword.equals(token, "HEAD", ignoringCase: false): self = .head
        case 5 where Keyword.equals(token, "PATCH", ignoringCase: false): self = .patch
        case 5 where Keyword.equals(token, "TRACE", ignoringCase: false): self = .trace
        case 6 where Keyword.equals(token, "DELETE", ignoringCase: false): self = .delete
        case 7 where Keyword.equals(token, "OPTIONS", ignoringCase: false): self = .options
        case 7 where Keyword.equals(token, "CONNECT", ignoringCase: false): self = .connect
        default: self = .other
        }
    }
}

/// Comparing a token that has ended with one keyword of the same length.
enum Keyword {
    /// Whether the `keyword.utf8CodeUnitCount` bytes at `bytes` equal `keyword`, which must be lower case when
    /// `ignoringCase`.
    ///
    /// Without case, each byte gets bit 5 set before the comparison. That lower-cases an ASCII letter, and in a token
    /// it makes no other byte equal to a lower-case letter, a digit or "-": only bytes below 0x20 would, and none of
    /// them is a tchar. So the comparison is exact for tokens against keywords made of those characters.
    @inline(__always)
    static func equals(_ bytes: UnsafeRawPointer, _ keyword: StaticString, ignoringCase: Bool) -> Bool {
        let count = keyword.utf8CodeUnitCount
        let word = UnsafeRawPointer(keyword.utf8Start)
        // Two loads cover any length from one to two words; they overlap when the length is not a whole number of
        // words. SAFETY: every load below lies within the first `count` bytes of both buffers.
        switch count {
        case 8...:
            let fold: UInt64 = ignoringCase ? 0x2020_2020_2020_2020 : 0
            var offset = 0
            while offset + 8 < count {
                guard load(bytes, offset, as: UInt64.self) | fold == load(word, offset, as: UInt64.self) else {
                    return false
                }
                offset += 8
            }
            return load(bytes, count - 8, as: UInt64.self) | fold == load(word, count - 8, as: UInt64.self)
        case 4...7:
            let fold: UInt32 = ignoringCase ? 0x2020_2020 : 0
            return load(bytes, 0, as: UInt32.self) | fold == load(word, 0, as: UInt32.self)
                && load(bytes, count - 4, as: UInt32.self) | fold == load(word, count - 4, as: UInt32.self)
        case 2...3:
            let fold: UInt16 = ignoringCase ? 0x2020 : 0
            return load(bytes, 0, as: UInt16.self) | fold == load(word, 0, as: UInt16.self)
                && load(bytes, count - 2, as: UInt16.self) | fold == load(word, count - 2, as: UInt16.self)
        case 1:
            let fold: UInt8 = ignoringCase ? 0x20 : 0
            return load(bytes, 0, as: UInt8.self) | fold == load(word, 0, as: UInt8.self)
        default:
            return true
        }
    }

    @inline(__always)
    private static func load<Word: FixedWidthInteger>(_ base: UnsafeRawPointer, _ offset: Int, as: Word.Type) -> Word {
        base.loadUnaligned(fromByteOffset: offset, as: Word.self)
    }
}

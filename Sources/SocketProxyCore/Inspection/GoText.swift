// String operations on UTF-8 bytes, as Go does them; Swift's String compares and splits by grapheme cluster.

/// Byte-wise string operations with Go's semantics.
///
/// Swift's `String` equality is canonical equivalence ("\u{212A}" == "K") and its `hasPrefix` and `split` work on
/// grapheme clusters, so "container:\u{301}db".hasPrefix("container:") is false while Go's `strings.Cut` sees the
/// colon. Every comparison the inspector makes on client text goes through here instead.
enum GoText {
    static let slash = UInt8(ascii: "/")

    /// Go's `a == b`.
    static func equal(_ a: String, _ b: String) -> Bool {
        a.utf8.elementsEqual(b.utf8)
    }

    /// Go's `strings.HasPrefix`.
    static func hasPrefix(_ text: String, _ prefix: String) -> Bool {
        text.utf8.starts(with: prefix.utf8)
    }

    /// Go's `strings.Contains`.
    static func contains(_ text: String, _ needle: String) -> Bool {
        let haystack = Array(text.utf8)
        let pattern = Array(needle.utf8)
        guard pattern.count <= haystack.count else { return false }
        if pattern.isEmpty { return true }
        for start in 0...(haystack.count - pattern.count)
        where haystack[start..<start + pattern.count].elementsEqual(pattern) {
            return true
        }
        return false
    }

    /// ASCII letters lowered, every other byte kept: for matching ASCII keywords without regard to case. The
    /// daemon compares most keywords exactly; matching more spellings than it does only makes the inspector stricter.
    static func asciiLowercased(_ text: String) -> String {
        String(decoding: text.utf8.map { (0x41...0x5A).contains($0) ? $0 | 0x20 : $0 }, as: UTF8.self)
    }

    /// `text` equals the lower-case ASCII `keyword` ignoring ASCII case.
    static func equalIgnoringASCIICase(_ text: String, _ keyword: String) -> Bool {
        equal(asciiLowercased(text), keyword)
    }

    /// Go's `strings.Cut(text, separator)`: the text before and after the first `separator` byte.
    static func cut(_ text: String, at separator: UInt8) -> (before: String, after: String)? {
        let bytes = Array(text.utf8)
        guard let index = bytes.firstIndex(of: separator) else { return nil }
        return (
            String(decoding: bytes[..<index], as: UTF8.self), String(decoding: bytes[(index + 1)...], as: UTF8.self)
        )
    }

    /// Go's `strings.ToUpper` as far as it can produce ASCII: ASCII letters, U+017F (long s) to "S" and U+0131
    /// (dotless i) to "I". Other scalars are kept; a capability name holding one is unknown to the daemon anyway.
    static func goUppercased(_ text: String) -> String {
        var result = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x61...0x7A: result.append(Unicode.Scalar(UInt8(scalar.value) - 0x20))
            case 0x17F: result.append("S")
            case 0x131: result.append("I")
            default: result.append(scalar)
            }
        }
        return String(result)
    }

    /// `text` made safe for a one-line message: control characters (C0, DEL, C1) written as `\u{..}`, and at most
    /// `limit` scalars kept. Field paths and details carry client text into responses and audit records.
    static func printable(_ text: String, limit: Int = 256) -> String {
        var result = ""
        for (index, scalar) in text.unicodeScalars.enumerated() {
            if index == limit {
                result += "..."
                break
            }
            switch scalar.value {
            case 0x00..<0x20, 0x7F..<0xA0: result += "\\u{\(String(scalar.value, radix: 16))}"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }
}

// Incremental readers for the field values that matter for framing: Content-Length and comma-separated options.

/// Reads a Content-Length value (RFC 9110 §8.6) one byte at a time, after the parser skipped leading OWS.
///
///     Content-Length = 1*DIGIT
///
/// No sign, no comma-separated list (RFC 9110 allows identical repeats; we reject them as ambiguous), no
/// whitespace between digits. More than 18 digits is rejected, which also rules out overflow of `UInt64`.
struct DecimalNumber: Sendable {
    private var value: UInt64 = 0
    private var digits = 0
    private var sawTrailingWhitespace = false
    private var invalid = false

    /// The longest value accepted: 18 digits always fit in a `UInt64` (and in an `Int64`).
    static let maxDigits = 18

    /// Feeds the next byte of the value; trailing OWS is allowed, anything after it is not.
    mutating func feed(_ byte: UInt8) {
        if let digit = ByteClass.digitValue(byte), !sawTrailingWhitespace {
            if digits == Self.maxDigits {
                invalid = true
            } else {
                value = value * 10 + UInt64(digit)
                digits += 1
            }
        } else if ByteClass.isWhitespace(byte) {
            sawTrailingWhitespace = true
        } else {
            invalid = true
        }
    }

    /// The number, or nil when the value was empty or malformed.
    var result: UInt64? { invalid || digits == 0 ? nil : value }
}

/// Reads a comma-separated list of tokens (RFC 9110 §5.6.1) and records which known options it contained.
///
///     #element => [ element ] *( OWS "," OWS [ element ] )
///
/// Elements are compared without case. An element that is not a plain token (for example `a b` or `x=1`) is not
/// recognised as anything; it is not an error here because Connection may carry options we do not know.
struct OptionList: Sendable {
    private var candidates: UInt16
    private var element: KeywordMatcher
    private var elementStarted = false
    private var elementEnded = false
    private var elementInvalid = false
    /// Options seen as whole elements, one ``ListOption/bit`` each.
    private(set) var found: UInt16 = 0
    /// Whether the value had a comma, i.e. was a list rather than a single element.
    private(set) var sawComma = false

    /// Starts a value in which only the options in `candidates` are of interest.
    init(candidates: UInt16) {
        self.candidates = candidates
        element = KeywordMatcher(candidates: candidates)
    }

    /// Feeds the next byte of the value (leading OWS already skipped by the parser).
    mutating func feed(_ byte: UInt8) {
        if byte == ByteClass.comma {
            finish()
            sawComma = true
            return
        }
        if ByteClass.isWhitespace(byte) {
            if elementStarted {
                elementEnded = true
            }
            return
        }
        if elementEnded || !ByteClass.isTokenChar(byte) {
            elementInvalid = true
        }
        elementStarted = true
        element.feed(byte, in: .options)
    }

    /// Ends the current element; called at each comma and once at the end of the field line.
    mutating func finish() {
        if !elementInvalid, let index = element.match(in: .options) {
            found |= 1 << UInt16(index)
        }
        element = KeywordMatcher(candidates: candidates)
        elementStarted = false
        elementEnded = false
        elementInvalid = false
    }

    /// The value was exactly one element, and it was `option`.
    func isOnly(_ option: ListOption) -> Bool {
        !sawComma && found == option.bit
    }
}

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
    @inline(__always)
    mutating func feed(_ byte: UInt8) {
        if let digit = ByteClass.digitValue(byte), !sawTrailingWhitespace {
            if digits == Self.maxDigits {
                invalid = true
            } else {
                // At most 18 digits: no overflow.
                value = value &* 10 &+ UInt64(digit)
                digits &+= 1
            }
        } else if ByteClass.isWhitespace(byte) {
            sawTrailingWhitespace = true
        } else {
            invalid = true
        }
    }

    /// Reads the value's bytes from `start` up to the first byte that is not field content (CR ends the line) or
    /// `end`, and returns that offset; `valueEnd` moves past each byte that is not OWS.
    mutating func read(_ bytes: UnsafeRawBufferPointer, from start: Int, to end: Int, valueEnd: inout Int) -> Int {
        var i = start
        // The digits of a well-formed value in a tight loop, in registers; everything else through `feed`.
        if !sawTrailingWhitespace {
            var value = self.value
            var digits = self.digits
            while i < end && digits < Self.maxDigits {
                let digit = bytes[i] &- 0x30
                guard digit < 10 else {
                    break
                }
                // At most 18 digits: no overflow.
                value = value &* 10 &+ UInt64(digit)
                digits &+= 1
                i &+= 1
            }
            if i != start {
                valueEnd = i
                self.value = value
                self.digits = digits
            }
        }
        while i < end && ByteClass.isFieldContent(bytes[i]) {
            let byte = bytes[i]
            i &+= 1
            if !ByteClass.isWhitespace(byte) {
                valueEnd = i
            }
            feed(byte)
        }
        return i
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
///
/// Each element's bytes are packed into one integer as they stream past, so an element split between two reads
/// needs no buffer, and recognising it when it ends is a length check and one comparison (``ListOption``).
struct OptionList: Sendable {
    private var candidates: UInt16
    /// The current element's bytes, each with bit 5 set, the first byte in the highest place. Only the last 16 bytes
    /// stay; that is enough, since no option is longer and ``elementLength`` tells longer elements apart.
    private var element: UInt128 = 0
    /// Bytes of the current element so far; 0 while only OWS was seen.
    private var elementLength = 0
    private var elementEnded = false
    private var elementInvalid = false
    /// Options seen as whole elements, one ``ListOption/bit`` each.
    private(set) var found: UInt16 = 0
    /// Whether the value had a comma, i.e. was a list rather than a single element.
    private(set) var sawComma = false

    /// Starts a value in which only the options in `candidates` are of interest.
    init(candidates: UInt16) {
        self.candidates = candidates
    }

    /// Feeds the next byte of the value (leading OWS already skipped by the parser).
    @inline(__always)
    mutating func feed(_ byte: UInt8) {
        if ByteClass.isTokenChar(byte) && !elementEnded {
            element = element &<< 8 | UInt128(byte | 0x20)
            elementLength &+= 1
            return
        }
        if byte == ByteClass.comma {
            finish()
            sawComma = true
            return
        }
        if ByteClass.isWhitespace(byte) {
            if elementLength > 0 {
                elementEnded = true
            }
            return
        }
        // A byte that is not tchar, or anything after OWS inside the element.
        elementInvalid = true
        elementLength &+= 1
    }

    /// Reads the value's bytes from `start` up to the first byte that is not field content (CR ends the line) or
    /// `end`, and returns that offset; `valueEnd` moves past each byte that is not OWS.
    mutating func read(_ bytes: UnsafeRawBufferPointer, from start: Int, to end: Int, valueEnd: inout Int) -> Int {
        var i = start
        while i < end {
            // A run of token bytes, the common case, in a tight loop with the element in registers; every other
            // byte (comma, OWS, a byte that spoils the element) through `feed`.
            if !elementEnded {
                var element = self.element
                let run = i
                while i < end && ByteClass.isTokenChar(bytes[i]) {
                    element = element &<< 8 | UInt128(bytes[i] | 0x20)
                    i &+= 1
                }
                if i != run {
                    self.element = element
                    elementLength &+= i &- run
                    valueEnd = i
                    continue
                }
            }
            let byte = bytes[i]
            guard ByteClass.isFieldContent(byte) else {
                break
            }
            i &+= 1
            if !ByteClass.isWhitespace(byte) {
                valueEnd = i
            }
            feed(byte)
        }
        return i
    }

    /// Ends the current element; called at each comma and once at the end of the field line.
    mutating func finish() {
        if !elementInvalid, let option = ListOption(packed: element, count: elementLength),
            candidates & option.bit != 0
        {
            found |= option.bit
        }
        element = 0
        elementLength = 0
        elementEnded = false
        elementInvalid = false
    }

    /// The value was exactly one element, and it was `option`.
    func isOnly(_ option: ListOption) -> Bool {
        !sawComma && found == option.bit
    }
}

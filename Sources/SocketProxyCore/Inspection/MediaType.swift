// Content-Type checks as the daemon's httputils.CheckForJSON makes them, on Go's mime.ParseMediaType grammar.

/// The media type of a request body.
///
/// The grammar is Go's `mime.ParseMediaType`: type/subtype tokens (RFC 2045), lower-cased; `;`-separated
/// parameters with token or quoted-string values; a trailing `;` is fine, a parameter repeated with another value
/// is not. Where Go lower-cases with Unicode rules (so "applİcation/json" passes there), this parser accepts only
/// ASCII and calls the rest malformed: refusing more than the daemon is safe, accepting more is not.
enum MediaType {
    /// The lower-cased "type/subtype" of `value`, or why it is malformed.
    static func parse(_ value: String) -> Result<String, MalformedMediaType> {
        let bytes = Array(value.utf8)
        let baseEnd = bytes.firstIndex(of: semicolon) ?? bytes.endIndex
        let base = trimmed(bytes[..<baseEnd])
        let mediaType = lowercased(base)

        let (type, afterType) = token(mediaType[...])
        if type.isEmpty { return .failure(MalformedMediaType(reason: "no media type")) }
        if !afterType.isEmpty {
            guard afterType.first == GoText.slash else {
                return .failure(MalformedMediaType(reason: "expected slash after first token"))
            }
            let (subtype, rest) = token(afterType.dropFirst())
            if subtype.isEmpty { return .failure(MalformedMediaType(reason: "expected token after slash")) }
            if !rest.isEmpty { return .failure(MalformedMediaType(reason: "unexpected content after media subtype")) }
        }

        var parameters: [(name: [UInt8], value: [UInt8])] = []
        var rest = bytes[baseEnd...]
        while !rest.isEmpty {
            rest = rest.drop(while: isSpace)
            if rest.isEmpty { break }
            guard let (name, parameterValue, remainder) = parameter(rest) else {
                if trimmed(rest).elementsEqual([semicolon]) { break }
                return .failure(MalformedMediaType(reason: "invalid media parameter"))
            }
            // Go keeps RFC 2231 continuations ("name*0") apart from plain names; a repeat is an error only when
            // its value differs.
            if let earlier = parameters.first(where: { $0.name == name }), earlier.value != parameterValue {
                return .failure(MalformedMediaType(reason: "duplicate parameter name"))
            }
            parameters.append((name, parameterValue))
            rest = remainder
        }
        return .success(String(decoding: mediaType, as: UTF8.self))
    }

    /// Throws unless the request may carry `body` with `contentType`: a body needs `application/json`; an empty
    /// body may come without a Content-Type, but one that is sent must still be JSON, as the daemon requires.
    static func requireJSON(_ contentType: String?, bodyIsEmpty: Bool) throws(InspectionError) {
        let sent = contentType.map { String(decoding: trimmed(Array($0.utf8)[...]), as: UTF8.self) } ?? ""
        let shown = GoText.printable(sent)
        if sent.isEmpty {
            if bodyIsEmpty { return }
            throw InspectionError(
                status: 415, reason: "the request has a body but no Content-Type header: it must be 'application/json'")
        }
        switch parse(sent) {
        case .failure(let error):
            throw InspectionError.badRequest("malformed Content-Type header (\(shown)): \(error.reason)")
        case .success(let mediaType):
            guard GoText.equal(mediaType, "application/json") else {
                throw InspectionError(
                    status: 415, reason: "unsupported Content-Type header (\(shown)): must be 'application/json'")
            }
        }
    }

    /// Why a Content-Type value does not parse; the reasons are Go's, without the "mime: " prefix.
    struct MalformedMediaType: Error, Equatable {
        var reason: String
    }

    private static let semicolon = UInt8(ascii: ";")
    private static let quote = UInt8(ascii: "\"")
    private static let backslash = UInt8(ascii: "\\")

    /// RFC 2045 tspecials, as Go's `isTSpecial`.
    private static let specials = Set(#"()<>@,;:\"/[]?="#.utf8)

    private static func isTokenByte(_ byte: UInt8) -> Bool {
        byte > 0x20 && byte < 0x7F && !specials.contains(byte)
    }

    /// Go's `unicode.IsSpace` for ASCII; a non-ASCII space is left in place and then fails the token grammar.
    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || (0x09...0x0D).contains(byte)
    }

    private static func trimmed(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        let head = bytes.drop(while: isSpace)
        guard let last = head.lastIndex(where: { !isSpace($0) }) else { return head[head.startIndex..<head.startIndex] }
        return head[...last]
    }

    private static func lowercased(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        bytes.map { (0x41...0x5A).contains($0) ? $0 | 0x20 : $0 }
    }

    /// Go's `consumeToken`: the leading token and what follows it.
    private static func token(_ bytes: ArraySlice<UInt8>) -> (ArraySlice<UInt8>, ArraySlice<UInt8>) {
        let end = bytes.firstIndex(where: { !isTokenByte($0) }) ?? bytes.endIndex
        return (bytes[..<end], bytes[end...])
    }

    /// Go's `consumeMediaParam`: "; name=value" with optional spaces; nil when it is not one.
    private static func parameter(
        _ bytes: ArraySlice<UInt8>
    ) -> (name: [UInt8], value: [UInt8], rest: ArraySlice<UInt8>)? {
        var rest = bytes.drop(while: isSpace)
        guard rest.first == semicolon else { return nil }
        rest = rest.dropFirst().drop(while: isSpace)
        let (name, afterName) = token(rest)
        if name.isEmpty { return nil }
        rest = afterName.drop(while: isSpace)
        guard rest.first == UInt8(ascii: "=") else { return nil }
        rest = rest.dropFirst().drop(while: isSpace)
        guard let (value, afterValue) = parameterValue(rest) else { return nil }
        return (lowercased(name), value, afterValue)
    }

    /// Go's `consumeValue`: a token or a quoted string; nil when neither is there.
    private static func parameterValue(_ bytes: ArraySlice<UInt8>) -> ([UInt8], ArraySlice<UInt8>)? {
        guard let first = bytes.first else { return nil }
        guard first == quote else {
            let (value, rest) = token(bytes)
            return value.isEmpty ? nil : (Array(value), rest)
        }
        var value: [UInt8] = []
        var index = bytes.index(after: bytes.startIndex)
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == quote { return (value, bytes[(index + 1)...]) }
            // Go takes a backslash before a tspecial as an escape and any other backslash literally (for MSIE).
            if byte == backslash, index + 1 < bytes.endIndex, specials.contains(bytes[index + 1]) {
                value.append(bytes[index + 1])
                index += 2
                continue
            }
            if byte == 0x0D || byte == 0x0A { return nil }
            value.append(byte)
            index += 1
        }
        return nil
    }
}

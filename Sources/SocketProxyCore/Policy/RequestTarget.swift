// Request-target normalisation: the exact path dockerd routes on, or a named reason to refuse the target.

/// Why a request target is refused before any rule sees it.
///
/// Each case is a target the daemon would read differently from a naive proxy (decoded twice, cleaned and
/// redirected, routed on another segment), so the proxy refuses it instead of guessing.
public enum TargetError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The target does not start with "/": absolute-form, authority-form or "*".
    case notOriginForm
    /// A "%" is not followed by two hex digits.
    case invalidPercentEncoding
    /// The target has a "#"; clients never send fragments.
    case fragment
    /// A decoded byte is a control character (below 0x20, or 0x7F), such as `%00` or `%0A`.
    case controlCharacter
    /// A decoded segment is "." or ".."; the daemon would redirect to the cleaned path.
    case dotSegment
    /// The decoded path has "//" or ends in "/" (other than the root "/").
    case emptySegment
    /// The first segment looks like a version prefix ("v" and digits or dots) but is not `v<digits>[.<digits>]`.
    case invalidVersion

    /// The reason in words, for a denial message.
    public var description: String {
        switch self {
        case .notOriginForm: "the request target is not a path starting with \"/\""
        case .invalidPercentEncoding: "the path has a \"%\" not followed by two hex digits"
        case .fragment: "the request target has a fragment (\"#\")"
        case .controlCharacter: "the path has a control character"
        case .dotSegment: "the path has a dot segment"
        case .emptySegment: "the path has an empty segment"
        case .invalidVersion: "the path has a malformed API version prefix"
        }
    }
}

/// A request target split the way dockerd routes it: API version, decoded path, raw query.
///
/// Dockerd (gorilla/mux) routes on the percent-decoded path, redirects any path that `path.Clean` would change,
/// and registers every route both with a `/v<version>` prefix and without. ``parse(_:scratch:)`` produces exactly
/// the path the daemon will route, so the policy decides on what the daemon does, not on what the client wrote.
public struct RequestTarget: Sendable, Equatable {
    /// The decoded path without the version prefix, in the scratch buffer; always starts with "/".
    public var path: Range<Int>
    /// The version without its "v" ("1.41"), in the scratch buffer, when the target has a version prefix.
    public var version: Range<Int>?
    /// The raw query after "?", in the original target bytes; it never affects the path.
    public var query: Range<Int>?

    /// Decodes `target` exactly once into `scratch` (scratch.count >= target.count) and normalises it.
    ///
    /// A decoded `%2F` is a real segment separator, because that is what the daemon routes on. Only one version
    /// prefix is removed: `/v1.41/v1.40/containers` has the path `/v1.40/containers`. Allocates nothing.
    public static func parse(
        _ target: UnsafeRawBufferPointer, scratch: UnsafeMutableRawBufferPointer
    ) -> Result<RequestTarget, TargetError> {
        precondition(scratch.count >= target.count, "the scratch buffer is smaller than the request target")
        guard let first = target.first, first == slash else { return .failure(.notOriginForm) }

        // The query starts at the first "?"; a "#" anywhere, even in the query, refuses the whole target.
        var pathEnd = target.count
        var query: Range<Int>? = nil
        var index = 1
        while index < target.count {
            let byte = target[index]
            if byte == hash { return .failure(.fragment) }
            if byte == questionMark && query == nil {
                pathEnd = index
                query = index + 1..<target.count
            }
            index += 1
        }

        // Decode exactly once: a decoded "%" is a literal byte, never the start of another escape.
        // SAFETY: every decoded byte consumes at least one target byte, so length < pathEnd <= scratch.count.
        var length = 0
        index = 0
        while index < pathEnd {
            var byte = target[index]
            if byte == percent {
                guard index + 2 < pathEnd, let high = hexValue(target[index + 1]), let low = hexValue(target[index + 2])
                else { return .failure(.invalidPercentEncoding) }
                byte = high << 4 | low
                index += 3
            } else {
                index += 1
            }
            if byte < 0x20 || byte == 0x7F { return .failure(.controlCharacter) }
            scratch[length] = byte
            length += 1
        }

        // scratch[0] is "/" because target[0] is a literal "/". The root "/" alone has no segments.
        // SAFETY: segmentStart <= segmentEnd <= length, and segments are non-empty before they are read.
        var version: Range<Int>? = nil
        var pathStart = 0
        var segmentStart = 1
        while length > 1 {
            var segmentEnd = segmentStart
            while segmentEnd < length && scratch[segmentEnd] != slash { segmentEnd += 1 }
            if segmentEnd == segmentStart { return .failure(.emptySegment) }
            let segment = UnsafeRawBufferPointer(rebasing: scratch[segmentStart..<segmentEnd])
            if isDotSegment(segment) { return .failure(.dotSegment) }
            if segmentStart == 1 {
                switch classifyVersion(segment) {
                case .notVersion: break
                case .invalid: return .failure(.invalidVersion)
                case .valid:
                    version = segmentStart + 1..<segmentEnd
                    pathStart = segmentEnd
                }
            }
            if segmentEnd == length { break }
            segmentStart = segmentEnd + 1
        }

        // "/v1.41" alone routes as the root: point at the leading "/".
        let path = pathStart == length ? 0..<1 : pathStart..<length
        return .success(RequestTarget(path: path, version: version, query: query))
    }

    @inline(__always)
    private static func isDotSegment(_ segment: UnsafeRawBufferPointer) -> Bool {
        segment[0] == dot && (segment.count == 1 || segment.count == 2 && segment[1] == dot)
    }

    private enum VersionClass { case notVersion, invalid, valid }

    /// Mux's version matcher is `v[0-9.]+` on the first segment; of those, only `v<digits>[.<digits>]` is a
    /// version we accept, the rest (`v1..2`, `v.`, `v1.`, `v1.2.3`) is refused rather than passed through.
    private static func classifyVersion(_ segment: UnsafeRawBufferPointer) -> VersionClass {
        guard segment.count >= 2, segment[0] == UInt8(ascii: "v") else { return .notVersion }
        var digitsBeforeDot = 0
        var digitsAfterDot = 0
        var dots = 0
        for byte in segment[1...] {
            if byte == dot {
                dots += 1
            } else if byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
                if dots == 0 { digitsBeforeDot += 1 } else { digitsAfterDot += 1 }
            } else {
                return .notVersion
            }
        }
        if digitsBeforeDot == 0 { return .invalid }
        switch dots {
        case 0: return .valid
        case 1: return digitsAfterDot > 0 ? .valid : .invalid
        default: return .invalid
        }
    }

    @inline(__always)
    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte &- UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte &- UInt8(ascii: "a") &+ 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte &- UInt8(ascii: "A") &+ 10
        default: nil
        }
    }

    private static let slash = UInt8(ascii: "/")
    private static let dot = UInt8(ascii: ".")
    private static let percent = UInt8(ascii: "%")
    private static let questionMark = UInt8(ascii: "?")
    private static let hash = UInt8(ascii: "#")
}

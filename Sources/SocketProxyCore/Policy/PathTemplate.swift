// Path templates ("/containers/{id}/start") parsed once from configuration and matched on bytes per request.

/// A path pattern: literal segments, `{name}` for exactly one non-empty segment, `{name...}` as the last segment
/// for zero or more remaining segments, and `{name+}` anywhere for one or more segments.
///
/// `{name+}` is for the daemon's `{name:.*}` routes, whose names may hold slashes: image references
/// (`/images/{name+}/json` matches `/images/ghcr.io/team/app:1/json`) and container names made by legacy links
/// (`/containers/{id+}/archive` matches `/containers/web/db/archive`, which the daemon routes to the container
/// `web/db`). A template has at most one variable that matches a varying number of segments.
///
/// Templates match the path ``RequestTarget/parse(_:scratch:)`` produces: decoded, without the version prefix,
/// without the query. Literals match exactly and case-sensitively, as the daemon's router does.
public struct PathTemplate: Sendable, Equatable, CustomStringConvertible {
    /// One segment of a template.
    enum Segment: Sendable, Equatable {
        /// These exact bytes.
        case literal([UInt8])
        /// Exactly one non-empty segment.
        case variable(String)
        /// Zero or more remaining segments; only last.
        case rest(String)
        /// One or more segments, anywhere; the segments after it are matched from the end of the path.
        case multiple(String)
    }

    /// The segments, parsed once; matching walks them without allocating.
    let segments: [Segment]

    /// The template as written.
    public let description: String

    /// Parses "/containers/{id}/start", "/containers/{rest...}" or "/_ping". Errors name the problem.
    public init(parsing text: String) throws(ConfigurationError) {
        func failure(_ problem: String) -> ConfigurationError {
            ConfigurationError("path template \"\(text)\": \(problem)")
        }
        guard text.utf8.first == UInt8(ascii: "/") else { throw failure("must start with \"/\"") }
        var segments: [Segment] = []
        var names: Set<String> = []
        if text != "/" {
            for part in text.utf8.dropFirst().split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false) {
                let bytes = Array(part)
                if case .rest(let name)? = segments.last {
                    throw failure("{\(name)...} must be the last segment")
                }
                if bytes.isEmpty { throw failure("has an empty segment (\"//\" or a trailing \"/\")") }
                if bytes == [UInt8(ascii: ".")] || bytes == [UInt8(ascii: "."), UInt8(ascii: ".")] {
                    throw failure("has a dot segment, which never matches a normalised path")
                }
                if bytes.contains(where: { $0 < 0x20 || $0 == 0x7F }) { throw failure("has a control character") }
                let opens = bytes.contains(UInt8(ascii: "{"))
                let closes = bytes.contains(UInt8(ascii: "}"))
                guard opens || closes else {
                    if segments.isEmpty && PathTemplate.looksLikeVersion(bytes) {
                        throw failure("starts with a version prefix; paths are matched without it")
                    }
                    segments.append(.literal(bytes))
                    continue
                }
                guard bytes.first == UInt8(ascii: "{"), bytes.last == UInt8(ascii: "}"),
                    bytes.count(where: { $0 == UInt8(ascii: "{") || $0 == UInt8(ascii: "}") }) == 2
                else { throw failure("a variable must be a whole segment, written {name} or {name...}") }
                var name = bytes.dropFirst().dropLast()
                let isRest = name.count >= 3 && name.suffix(3).allSatisfy { $0 == UInt8(ascii: ".") }
                let isMultiple = !isRest && name.last == UInt8(ascii: "+")
                if isRest { name = name.dropLast(3) }
                if isMultiple { name = name.dropLast() }
                let nameText = String(decoding: name, as: UTF8.self)
                guard !name.isEmpty else { throw failure("has a variable without a name") }
                guard name.allSatisfy(PathTemplate.isNameByte) else {
                    throw failure("variable name \"\(nameText)\" must be letters, digits or \"_\"")
                }
                guard names.insert(nameText).inserted else { throw failure("names the variable \"\(nameText)\" twice") }
                if isRest || isMultiple, segments.contains(where: \.matchesManySegments) {
                    throw failure("has two variables that match several segments; only one may")
                }
                segments.append(isRest ? .rest(nameText) : isMultiple ? .multiple(nameText) : .variable(nameText))
            }
        }
        self.segments = segments
        self.description = text
    }

    /// Whether `path` (as produced by ``RequestTarget/parse(_:scratch:)``) matches. Allocates nothing.
    public func matches(_ path: UnsafeRawBufferPointer) -> Bool {
        guard path.count >= 1, path[0] == UInt8(ascii: "/") else { return false }
        // The root "/" has no segments; otherwise segments start after each "/".
        var position = 1
        var exhausted = path.count == 1
        for index in segments.indices {
            switch segments[index] {
            case .rest:
                return true
            case .multiple:
                return !exhausted && matchesTail(path, from: position, after: index)
            case .literal, .variable:
                if exhausted { return false }
                guard let end = Self.matchOne(segments[index], path, at: position) else { return false }
                if end == path.count { exhausted = true } else { position = end + 1 }
            }
        }
        return exhausted
    }

    /// Matches a `{name+}` at `segments[index]` on `path[position...]`: the segments after it take the last segments
    /// of the path, and at least one non-empty segment is left for the variable.
    private func matchesTail(_ path: UnsafeRawBufferPointer, from position: Int, after index: Int) -> Bool {
        // SAFETY: every index read lies in position..<path.count.
        let suffixCount = segments.count - index - 1
        // Walk back over the last `suffixCount` segments to the "/" in front of them.
        var cut = path.count
        var remaining = suffixCount
        while remaining > 0 {
            cut -= 1
            while cut >= position && path[cut] != UInt8(ascii: "/") { cut -= 1 }
            if cut < position { return false }
            remaining -= 1
        }
        // The variable's own segments: at least one, none of them empty.
        guard cut > position, path[position] != UInt8(ascii: "/"), path[cut - 1] != UInt8(ascii: "/") else {
            return false
        }
        var scan = position + 1
        while scan < cut {
            if path[scan] == UInt8(ascii: "/") && path[scan - 1] == UInt8(ascii: "/") { return false }
            scan += 1
        }
        var start = cut + 1
        for segment in segments[(index + 1)...] {
            guard start <= path.count, let end = Self.matchOne(segment, path, at: start) else { return false }
            start = end + 1
        }
        return start == path.count + 1
    }

    /// Matches one literal or `{name}` segment starting at `position`; returns where it ends (at "/" or the end).
    @inline(__always)
    private static func matchOne(_ segment: Segment, _ path: UnsafeRawBufferPointer, at position: Int) -> Int? {
        // SAFETY: position <= end <= path.count, and a literal is compared only when it has end - position bytes.
        var end = position
        while end < path.count && path[end] != UInt8(ascii: "/") { end += 1 }
        switch segment {
        case .literal(let bytes):
            guard bytes.count == end - position else { return nil }
            var index = 0
            while index < bytes.count {
                guard bytes[index] == path[position + index] else { return nil }
                index += 1
            }
        case .variable:
            if end == position { return nil }
        case .rest, .multiple:
            preconditionFailure("matchOne is only called for a literal or a single-segment variable")
        }
        return end
    }

    /// Whether the first segment is a literal: then only paths with that first segment can match. False for `/`
    /// and for templates that start with a variable.
    var startsWithLiteral: Bool {
        guard case .literal? = segments.first else { return false }
        return true
    }

    /// The section the first segment names, when it is a literal.
    public var section: Section? {
        guard case .literal(let bytes)? = segments.first else { return nil }
        return bytes.withUnsafeBytes { Section.named($0) }
    }

    /// A first segment the daemon would take for a version prefix (`v` then digits and dots).
    private static func looksLikeVersion(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 2 && bytes[0] == UInt8(ascii: "v")
            && bytes.dropFirst().allSatisfy { $0 == UInt8(ascii: ".") || ($0 >= 0x30 && $0 <= 0x39) }
    }

    private static func isNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"):
            true
        default: false
        }
    }
}

extension PathTemplate.Segment {
    /// Whether the segment matches a varying number of path segments.
    var matchesManySegments: Bool {
        switch self {
        case .rest, .multiple: true
        case .literal, .variable: false
        }
    }
}

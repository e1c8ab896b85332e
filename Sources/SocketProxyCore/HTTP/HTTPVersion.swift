// The HTTP version of a request or status line.

/// `HTTP/` DIGIT `.` DIGIT, as numbers. The parsers accept only 1.0 and 1.1.
public struct HTTPVersion: Sendable, Equatable {
    /// The digit before the dot.
    public var major: UInt8
    /// The digit after the dot.
    public var minor: UInt8

    /// Creates a version from its two digits.
    public init(major: UInt8, minor: UInt8) {
        self.major = major
        self.minor = minor
    }

    /// HTTP/1.0: no persistent connections unless asked for, no chunked coding, no Host required.
    public static let http1_0 = HTTPVersion(major: 1, minor: 0)
    /// HTTP/1.1.
    public static let http1_1 = HTTPVersion(major: 1, minor: 1)
}

// Errors from system calls, named by the operation that failed.
#if canImport(Glibc)
import Glibc
#endif

/// A failed system call: the operation and the `errno` it returned.
///
/// The description reads like `splice: Broken pipe (errno 32)`.
public struct SystemError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The call that failed, for example `"splice"`.
    public let operation: StaticString
    /// The `errno` value.
    public let errno: Int32

    /// Creates an error for `operation` failing with `errno`.
    public init(_ operation: StaticString, errno: Int32) {
        self.operation = operation
        self.errno = errno
    }

    public var description: String {
        let text = String(cString: strerror(errno))
        return "\(operation): \(text) (errno \(errno))"
    }

    public static func == (lhs: SystemError, rhs: SystemError) -> Bool {
        lhs.errno == rhs.errno && lhs.operation.description == rhs.operation.description
    }
}

/// The outcome of a nonblocking call: done (with a value), or it would have blocked.
public enum IOResult<Value: Sendable>: Sendable {
    case processed(Value)
    case wouldBlock
}

extension IOResult: Equatable where Value: Equatable {}

// The one place that turns raw system call results into values and errors.
#if canImport(Glibc)
import Glibc
#endif

/// Errnos that can only come from a bug in this process (a closed or foreign descriptor, a bad pointer).
@inline(__always)
private func isProgrammerError(_ code: Int32) -> Bool {
    code == EBADF || code == EFAULT
}

/// Runs a system call that reports failure as -1 plus errno. EINTR is retried; EAGAIN becomes
/// ``IOResult/wouldBlock``; EBADF and EFAULT stop the process, since they mean a bug here, not a peer's fault.
@inline(__always)
func syscall<T: FixedWidthInteger & Sendable>(
    _ operation: StaticString, _ body: () -> T
) throws(SystemError) -> IOResult<T> {
    while true {
        #if DEBUG
        if let code = FaultInjection.take(operation) {
            if code == EINTR { continue }
            if code == EAGAIN { return .wouldBlock }
            throw SystemError(operation, errno: code)
        }
        #endif
        let result = body()
        if result >= 0 { return .processed(result) }
        let code = Glibc.errno
        switch code {
        case EINTR:
            continue
        case EAGAIN:
            return .wouldBlock
        default:
            if isProgrammerError(code) {
                preconditionFailure("\(operation) failed with errno \(code): a descriptor or buffer bug")
            }
            throw SystemError(operation, errno: code)
        }
    }
}

/// Like ``syscall(_:_:)`` for calls that never return EAGAIN (or where it is an error).
@inline(__always)
func blockingSyscall<T: FixedWidthInteger & Sendable>(
    _ operation: StaticString, _ body: () -> T
) throws(SystemError) -> T {
    switch try syscall(operation, body) {
    case .processed(let value): return value
    case .wouldBlock: throw SystemError(operation, errno: EAGAIN)
    }
}

#if DEBUG
import Synchronization

/// Debug-only seam that makes the next calls of a named operation fail with a chosen errno, so that paths which
/// are hard to reach on purpose (EINTR, EAGAIN, EPIPE) are tested. Compiled out of release builds.
public enum FaultInjection {
    private static let pending = Mutex<[(operation: String, errno: Int32, count: Int)]>([])
    private static let armed = Atomic<Bool>(false)

    /// Makes the next `count` calls of `operation` (for example `"splice"`) fail with `errno` before they run.
    public static func inject(_ operation: String, errno: Int32, count: Int = 1) {
        pending.withLock { $0.append((operation, errno, count)) }
        armed.store(true, ordering: .releasing)
    }

    /// Drops every pending fault.
    public static func reset() {
        pending.withLock { $0.removeAll() }
        armed.store(false, ordering: .releasing)
    }

    static func take(_ operation: StaticString) -> Int32? {
        guard armed.load(ordering: .acquiring) else { return nil }
        let name = operation.description
        return pending.withLock { list -> Int32? in
            guard let index = list.firstIndex(where: { $0.operation == name }) else { return nil }
            let code = list[index].errno
            list[index].count -= 1
            if list[index].count == 0 { list.remove(at: index) }
            if list.isEmpty { armed.store(false, ordering: .releasing) }
            return code
        }
    }
}
#endif

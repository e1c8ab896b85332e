// Audit records leave the event loops through a bounded queue; one writer thread hands them to the backend.
import CSocketProxyLinux
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Where the writer thread puts records: the journal, or lines on a stream. Called on the writer thread only, so
/// it may block.
public protocol AuditBackend: AnyObject, Sendable {
    /// Writes one record; returns false when it could not (the record is counted as dropped).
    func write(_ event: AuditEvent) -> Bool
    /// Writes an operational notice of the audit system itself (dropped records), best effort.
    func notice(_ message: String, priority: AuditPriority)
}

/// An ``AuditSink`` that never blocks its callers: records go into a bounded queue and a writer thread passes them
/// to a backend. When the queue is full (the backend is slow or gone) records are counted and dropped, and a
/// notice, at most one every `warningInterval`, says how many.
public final class AuditWriter: AuditSink, @unchecked Sendable {
    // SAFETY (@unchecked Sendable): `thread` is set once in init; everything shared lives in Mutex and Atomic.
    private let thresholdValue: Atomic<Int>
    private let backend: AuditBackend
    private let capacity: Int
    private let queue: Mutex<[AuditEvent]>
    private let dropped = Atomic<UInt64>(0)
    private let totalDropped = Atomic<UInt64>(0)
    private let written = Atomic<UInt64>(0)
    private let sleeping = Atomic<Bool>(false)
    private let stopping = Atomic<Bool>(false)
    private let finished = Atomic<Bool>(false)
    private let wakeFD: Int32
    private let warningInterval: UInt64
    private var thread: LoopThread?

    /// Starts the writer thread. Records less severe than `threshold` are never built.
    public init(
        backend: AuditBackend, threshold: AuditPriority, capacity: Int = 16_384,
        warningInterval: Duration = .seconds(10)
    ) throws(SystemError) {
        self.backend = backend
        thresholdValue = Atomic(threshold.rawValue)
        self.capacity = capacity
        self.warningInterval = warningInterval.nanoseconds
        var initial: [AuditEvent] = []
        initial.reserveCapacity(capacity)
        queue = Mutex(initial)
        // A blocking eventfd: the writer sleeps in read(2) until a record arrives.
        let fd = CSocketProxyLinux_eventfd_blocking()
        guard fd >= 0 else { throw SystemError("eventfd", errno: errno) }
        wakeFD = fd
        let box = UncheckedBox(self)
        thread = try LoopThread(name: "audit-writer") { box.value.run() }
    }

    deinit {
        Glibc.close(wakeFD)
    }

    /// The least severe priority recorded; can be changed while running (on reload).
    public var threshold: AuditPriority {
        get { AuditPriority(rawValue: thresholdValue.load(ordering: .relaxed)) ?? .info }
        set { thresholdValue.store(newValue.rawValue, ordering: .relaxed) }
    }

    /// Records accepted but not written because the queue was full or the backend failed.
    public var droppedCount: UInt64 { totalDropped.load(ordering: .relaxed) }
    /// Records written.
    public var writtenCount: UInt64 { written.load(ordering: .relaxed) }

    public func record(_ event: AuditEvent) {
        let accepted = queue.withLock { list -> Bool in
            guard list.count < capacity else { return false }
            list.append(event)
            return true
        }
        if !accepted {
            dropped.wrappingAdd(1, ordering: .relaxed)
            totalDropped.wrappingAdd(1, ordering: .relaxed)
        }
        if sleeping.load(ordering: .acquiring) { wake() }
    }

    /// Writes what is queued and stops the writer thread, waiting at most `timeout` for a backend that hangs
    /// (a wedged journal); then it gives up on the remaining records.
    public func close(timeout: Duration = .seconds(3)) {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        wake()
        let deadline = Linux.monotonicNanoseconds() &+ timeout.nanoseconds
        while !finished.load(ordering: .acquiring) {
            if Linux.monotonicNanoseconds() >= deadline { return }
            usleep(2_000)
        }
        thread?.join()
    }

    private func wake() {
        var one: UInt64 = 1
        _ = withUnsafeBytes(of: &one) { Glibc.write(wakeFD, $0.baseAddress, 8) }
    }

    private func run() {
        var batch: [AuditEvent] = []
        batch.reserveCapacity(capacity)
        var lastWarning: UInt64 = 0
        var unreported: UInt64 = 0
        while true {
            queue.withLock { list in swap(&list, &batch) }
            if batch.isEmpty {
                if stopping.load(ordering: .acquiring) { break }
                sleeping.store(true, ordering: .releasing)
                // Check again after announcing sleep, so a record queued in between is not left waiting.
                let empty = queue.withLock { $0.isEmpty }
                if empty && !stopping.load(ordering: .acquiring) {
                    var value: UInt64 = 0
                    _ = withUnsafeMutableBytes(of: &value) { Glibc.read(wakeFD, $0.baseAddress, 8) }
                }
                sleeping.store(false, ordering: .releasing)
                continue
            }
            for event in batch {
                if backend.write(event) {
                    written.wrappingAdd(1, ordering: .relaxed)
                } else {
                    dropped.wrappingAdd(1, ordering: .relaxed)
                    totalDropped.wrappingAdd(1, ordering: .relaxed)
                }
            }
            batch.removeAll(keepingCapacity: true)
            unreported &+= dropped.exchange(0, ordering: .relaxed)
            let now = Linux.monotonicNanoseconds()
            if unreported > 0 && (lastWarning == 0 || now &- lastWarning >= warningInterval) {
                backend.notice(
                    "socket-proxy: \(unreported) audit records were dropped because the log could not keep up",
                    priority: .warning)
                unreported = 0
                lastWarning = now
            }
        }
        unreported &+= dropped.exchange(0, ordering: .relaxed)
        if unreported > 0 {
            backend.notice(
                "socket-proxy: \(unreported) audit records were dropped because the log could not keep up",
                priority: .warning)
        }
        finished.store(true, ordering: .releasing)
    }
}

/// Records as lines (logfmt or JSON) on a file descriptor, stderr by default.
public final class StreamAuditBackend: AuditBackend {
    /// The line format.
    public enum Format: String, Sendable, CaseIterable {
        case logfmt, json
    }

    private let fd: Int32
    private let format: Format

    /// Writes to `fd` in `format`.
    public init(fd: Int32 = 2, format: Format = .logfmt) {
        self.fd = fd
        self.format = format
    }

    public func write(_ event: AuditEvent) -> Bool {
        var line = format == .json ? AuditFormat.json(event) : AuditFormat.logfmt(event)
        line.append(UInt8(ascii: "\n"))
        return writeAll(line)
    }

    public func notice(_ message: String, priority: AuditPriority) {
        var line: [UInt8] = []
        if format == .json {
            line.append(contentsOf: "{\"level\":\"\(priority.name)\",\"msg\":\"".utf8)
            LocalResponse.appendJSONEscaped(message, to: &line)
            line.append(contentsOf: "\"}".utf8)
        } else {
            line.append(contentsOf: "level=\(priority.name) msg=".utf8)
            AuditFormat.appendLogfmtValue(message, to: &line)
        }
        line.append(UInt8(ascii: "\n"))
        _ = writeAll(line)
    }

    private func writeAll(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let count = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if count < 0 && errno == EINTR { continue }
                if count <= 0 { return false }
                offset += count
            }
            return true
        }
    }
}

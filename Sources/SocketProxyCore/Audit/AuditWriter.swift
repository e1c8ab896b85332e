// Audit records leave the event loops through a preallocated ring; one writer thread hands them to the backend.
import CSocketProxyLinux
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Where the writer thread puts records: the journal, or lines on a stream. Called on the writer thread only, so
/// it may block.
public protocol AuditBackend: AnyObject, Sendable {
    /// Writes (or buffers) one record; false when it could not (the record counts as dropped). The record's byte
    /// views are valid only during the call.
    func write(_ record: AuditRecord) -> Bool
    /// Writes out whatever ``write(_:)`` buffered; called after each batch. Returns how many buffered records
    /// could not be written.
    func flush() -> Int
    /// Writes an operational notice of the audit system itself (dropped records), best effort.
    func notice(_ message: String, priority: AuditPriority)
}

extension AuditBackend {
    public func flush() -> Int { 0 }
}

/// An ``AuditSink`` that never blocks its callers and allocates nothing per record: each record is moved into a
/// slot of a preallocated ring, its text (method, API version, query and path: at most 1,024 bytes, truncated when
/// longer) into a preallocated text ring where it takes only its own length, and a writer thread passes batches to
/// a backend, waking every `batchInterval`, or sooner once 1,024 records (or half the ring, if that is fewer) are
/// waiting. Both rings are reserved up front but touched only as deep as the backlog gets, so they cost memory only
/// while the backend lags. When either ring is full (the backend is slow or gone) records are counted and dropped,
/// and a notice, at most one every `warningInterval`, says how many.
public final class AuditWriter: AuditSink, @unchecked Sendable {
    // SAFETY (@unchecked Sendable): the ring's slots are written by a loop thread only between claiming a slot and
    // publishing it, and read by the writer only after publication; both happen under `lock`. `thread` is set once
    // in init.

    /// The copy of one record in the ring.
    struct Slot {
        var record = AuditRecord()
        /// Where the record's text starts in the text ring.
        var textStart = 0
        var methodCount = 0
        var pathCount = 0
        var queryCount = 0
        var versionCount = 0
    }

    private struct Ring {
        var head = 0  // next slot to write
        var count = 0  // published slots waiting for the writer
        /// INVARIANT: slots below this index are initialised. Slots are used in order from index 0, and `head`
        /// goes back to 0 whenever the writer has emptied the ring, so only as many slots are ever touched (and
        /// made resident) as the deepest backlog needed.
        var initialized = 0
        /// Where the published records' text lies.
        var text = AuditTextRing()
    }

    /// The most text one record keeps.
    private static let textBytes = 1024

    private let thresholdValue: Atomic<Int>
    private let backend: AuditBackend
    private let capacity: Int
    /// Pending records that make the writer start a batch before its interval is up.
    private let wakeThreshold: Int
    /// INVARIANT: room for `capacity` slots (the first `Ring.initialized` of them initialised), and `textSize`
    /// bytes of text, for the writer's life.
    private let slots: UnsafeMutablePointer<Slot>
    private let text: UnsafeMutableRawPointer
    /// 256 bytes per slot: a request's method, version and path usually take under a hundred.
    private let textSize: Int
    private let lock = Mutex(Ring())
    private let dropped = Atomic<UInt64>(0)
    private let totalDropped = Atomic<UInt64>(0)
    private let written = Atomic<UInt64>(0)
    private let sleeping = Atomic<Bool>(false)
    private let stopping = Atomic<Bool>(false)
    private let finished = Atomic<Bool>(false)
    private let wakeFD: Int32
    private let warningInterval: UInt64
    private let batchInterval: Duration
    private var thread: LoopThread?

    /// Starts the writer thread. Records less severe than `threshold` are never built.
    public init(
        backend: AuditBackend, threshold: AuditPriority, capacity: Int = 16384,
        batchInterval: Duration = .milliseconds(50), warningInterval: Duration = .seconds(10)
    ) throws(SystemError) {
        self.backend = backend
        thresholdValue = Atomic(threshold.rawValue)
        self.capacity = max(capacity, 2)
        wakeThreshold = min(self.capacity / 2, 1024)
        self.warningInterval = warningInterval.nanoseconds
        self.batchInterval = batchInterval
        slots = .allocate(capacity: self.capacity)
        textSize = max(self.capacity * 256, 4 * Self.textBytes)
        text = .allocate(byteCount: textSize, alignment: 16)
        // A blocking eventfd: the writer sleeps in poll(2) on it until woken or the batch interval passes.
        let fd = CSocketProxyLinux_eventfd_blocking()
        guard fd >= 0 else { throw SystemError("eventfd", errno: errno) }
        wakeFD = fd
        let box = UncheckedBox(self)
        thread = try LoopThread(name: "audit-writer") { box.value.run() }
    }

    deinit {
        Glibc.close(wakeFD)
        slots.deinitialize(count: lock.withLock { $0.initialized })
        slots.deallocate()
        text.deallocate()
    }

    /// The least severe priority recorded; can be changed while running (on reload).
    public var threshold: AuditPriority {
        get { AuditPriority(rawValue: thresholdValue.load(ordering: .relaxed)) ?? .info }
        set { thresholdValue.store(newValue.rawValue, ordering: .relaxed) }
    }

    /// Records accepted but not written because the ring was full or the backend failed.
    public var droppedCount: UInt64 { totalDropped.load(ordering: .relaxed) }
    /// Records written.
    public var writtenCount: UInt64 { written.load(ordering: .relaxed) }
    /// Slots ever used: the deepest the backlog has been.
    var touchedSlots: Int { lock.withLock { $0.initialized } }
    /// Records in the ring, written or not, whose slots the writer has not yet handed back.
    var queuedCount: Int { lock.withLock { $0.count } }

    public func record(_ record: consuming AuditRecord) {
        let waiting = lock.withLock { ring -> Int? in
            guard ring.count < capacity else { return nil }
            let length = min(
                record.method.count + record.apiVersion.count + record.query.count + record.path.count,
                Self.textBytes)
            guard let textStart = ring.text.claim(length, size: textSize, empty: ring.count == 0) else { return nil }
            let index = (ring.head + ring.count) % capacity
            while ring.initialized <= index {
                (slots + ring.initialized).initialize(to: Slot())
                ring.initialized += 1
            }
            store(&record, at: index, textStart: textStart, length: length)
            ring.count += 1
            return ring.count
        }
        guard let waiting else {
            dropped.wrappingAdd(1, ordering: .relaxed)
            totalDropped.wrappingAdd(1, ordering: .relaxed)
            return
        }
        // The writer wakes by itself every batch interval; only a filling ring is worth a system call, and only
        // one: the first caller to see the writer asleep takes the flag, so the callers that follow while the
        // writer waits for a core do not each write to the eventfd.
        if waiting >= wakeThreshold
            && sleeping.compareExchange(expected: true, desired: false, ordering: .acquiringAndReleasing).exchanged
        {
            wake()
        }
    }

    /// Moves `record` into slot `index` (leaving it with the slot's empty record), its text (`length` bytes, claimed
    /// at `textStart`) copied into the text ring. Swapping, not assigning, spares retaining the record's strings
    /// here and releasing them again when the caller's copy goes.
    private func store(_ record: inout AuditRecord, at index: Int, textStart: Int, length: Int) {
        // SAFETY: `index` < capacity; [textStart, textStart + length) was claimed inside the text ring, and the
        // copies are clamped to `length`.
        let base = text + textStart
        var used = 0
        func copy(_ bytes: UnsafeRawBufferPointer) -> Int {
            let count = min(bytes.count, length - used)
            if count > 0 { (base + used).copyMemory(from: bytes.baseAddress!, byteCount: count) }
            used += count
            return count
        }
        slots[index].methodCount = copy(record.method)
        slots[index].versionCount = copy(record.apiVersion)
        slots[index].queryCount = copy(record.query)
        slots[index].pathCount = copy(record.path)
        slots[index].textStart = textStart
        swap(&slots[index].record, &record)
    }

    /// The record in slot `index`, moved out (the slot keeps an empty record), its views pointing at its text in the
    /// text ring.
    private func take(_ index: Int) -> AuditRecord {
        let slot = slots + index
        let base = UnsafeRawPointer(text + slot.pointee.textStart)
        var record = AuditRecord()
        swap(&record, &slot.pointee.record)
        var offset = 0
        func view(_ count: Int) -> UnsafeRawBufferPointer {
            defer { offset += count }
            return UnsafeRawBufferPointer(start: base + offset, count: count)
        }
        record.method = view(slot.pointee.methodCount)
        record.apiVersion = view(slot.pointee.versionCount)
        record.query = view(slot.pointee.queryCount)
        record.path = view(slot.pointee.pathCount)
        return record
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
        Linux.signalCounter(FileDescriptor(rawValue: wakeFD))
    }

    private func sleep() {
        sleeping.store(true, ordering: .releasing)
        var descriptor = pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0)
        let milliseconds = Int32(batchInterval.nanoseconds / 1_000_000)
        if poll(&descriptor, 1, max(milliseconds, 1)) > 0 {
            Linux.resetCounter(FileDescriptor(rawValue: wakeFD))
        }
        sleeping.store(false, ordering: .releasing)
    }

    private func run() {
        // Formatting a batch must not delay the event loops on a busy machine: the writer yields to them.
        _ = CSocketProxyLinux_set_thread_nice(10)
        var lastWarning: UInt64 = 0
        var unreported: UInt64 = 0
        while true {
            let stop = stopping.load(ordering: .acquiring)
            // Take what is published; the slots stay reserved until they are written.
            let (start, count) = lock.withLock { ($0.head, $0.count) }
            for offset in 0..<count {
                if backend.write(take((start + offset) % capacity)) {
                    written.wrappingAdd(1, ordering: .relaxed)
                } else {
                    dropped.wrappingAdd(1, ordering: .relaxed)
                    totalDropped.wrappingAdd(1, ordering: .relaxed)
                }
            }
            let failed = backend.flush()
            if failed > 0 {
                written.wrappingSubtract(UInt64(failed), ordering: .relaxed)
                dropped.wrappingAdd(UInt64(failed), ordering: .relaxed)
                totalDropped.wrappingAdd(UInt64(failed), ordering: .relaxed)
            }
            lock.withLock { ring in
                // The records were moved out as they were written, so the slots hold nothing to release.
                ring.count -= count
                ring.head = ring.count == 0 ? 0 : (ring.head + count) % capacity
                ring.text.release(nextStart: ring.count == 0 ? nil : slots[ring.head].textStart)
            }
            unreported &+= dropped.exchange(0, ordering: .relaxed)
            let now = Linux.monotonicNanoseconds()
            if unreported > 0 && (lastWarning == 0 || now &- lastWarning >= warningInterval) {
                backend.notice(
                    "socket-proxy: \(unreported) audit records were dropped because the log could not keep up",
                    priority: .warning)
                unreported = 0
                lastWarning = now
            }
            if stop && count == 0 { break }
            if count == 0 || !stop { sleep() }
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

/// Records as lines (logfmt or JSON) on a file descriptor, stderr by default; a batch goes out in one write.
public final class StreamAuditBackend: AuditBackend, @unchecked Sendable {
    // SAFETY (@unchecked Sendable): the buffers are used only by the writer thread that calls write and flush.

    /// The line format.
    public enum Format: String, Sendable, CaseIterable {
        case logfmt, json
    }

    private let fd: Int32
    private let format: Format
    private var pending = AuditBuffer(capacity: 1 << 17)
    private var pendingRecords = 0

    /// Writes to `fd` in `format`.
    public init(fd: Int32 = 2, format: Format = .logfmt) {
        self.fd = fd
        self.format = format
    }

    public func write(_ record: AuditRecord) -> Bool {
        switch format {
        case .logfmt: AuditFormat.appendLogfmtLine(record, to: &pending)
        case .json: AuditFormat.appendJSONLine(record, to: &pending)
        }
        pendingRecords += 1
        if pending.count >= 1 << 16 { return flush() == 0 }
        return true
    }

    public func flush() -> Int {
        defer {
            pending.removeAll()
            pendingRecords = 0
        }
        guard !pending.isEmpty else { return 0 }
        return writeAll(pending.bytes) ? 0 : pendingRecords
    }

    public func notice(_ message: String, priority: AuditPriority) {
        var line = AuditBuffer(capacity: 256)
        if format == .json {
            line.append("{\"level\":\"")
            AuditFormat.appendString(priority.name, to: &line)
            line.append("\",\"msg\":\"")
            AuditFormat.withBytes(of: message) { AuditFormat.appendEscaped($0, .quoted, to: &line) }
            line.append("\"}")
        } else {
            line.append("level=")
            AuditFormat.appendString(priority.name, to: &line)
            line.append(" msg=")
            AuditFormat.appendLogfmtValue(message, to: &line)
        }
        line.append(UInt8(ascii: "\n"))
        _ = writeAll(line.bytes)
    }

    private func writeAll(_ raw: UnsafeRawBufferPointer) -> Bool {
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

/// The bookkeeping of a ring of text bytes shared by records that leave in the order they came: each record's text
/// takes one contiguous piece, so a piece that does not fit before the end starts the next lap at offset 0.
struct AuditTextRing {
    /// The text of the waiting records lies in [begin, end) or, once it has wrapped round to the start, in
    /// [begin, end of the last lap) and [0, end). INVARIANT: when wrapped, end < begin, so a full ring is never
    /// mistaken for an empty one.
    private(set) var begin = 0
    private(set) var end = 0
    private(set) var wrapped = false

    /// Claims `length` contiguous bytes of a ring of `size` bytes: their offset, or nil when there is no room.
    /// `empty` says no record is waiting, so the whole ring is free.
    mutating func claim(_ length: Int, size: Int, empty: Bool) -> Int? {
        if empty { self = AuditTextRing() }
        if !wrapped {
            if end + length <= size {
                defer { end += length }
                return end
            }
            // Not enough room before the end: start the next lap at 0, in front of the oldest text.
            guard length < begin else { return nil }
            wrapped = true
            end = length
            return 0
        }
        guard end + length < begin else { return nil }
        defer { end += length }
        return end
    }

    /// After the oldest records were handed back: `nextStart` is where the text of the oldest record still
    /// waiting starts, nil when none is.
    mutating func release(nextStart: Int?) {
        guard let nextStart else {
            self = AuditTextRing()
            return
        }
        // Text of the current lap starts below the previous lap's: reaching it ends the wrap.
        if wrapped && nextStart < begin { wrapped = false }
        begin = nextStart
    }
}

// The byte buffer the audit formats write into: one owner, one allocation, reused for every record.

#if canImport(Glibc)
import Glibc
#endif

/// A growable run of bytes that audit records are formatted into. An append is a bounds check and a copy: no
/// uniqueness check and no generic sequence path, which is what `[UInt8]` costs per call. A record takes some fifty
/// appends, so this is most of what formatting costs.
struct AuditBuffer: ~Copyable {
    /// INVARIANT: `capacity` bytes allocated at `base`, of which the first `count` are written.
    private var base: UnsafeMutableRawPointer
    private(set) var capacity: Int
    private(set) var count = 0

    init(capacity: Int = 4096) {
        self.capacity = max(capacity, 64)
        base = .allocate(byteCount: self.capacity, alignment: 16)
    }

    deinit {
        base.deallocate()
    }

    var isEmpty: Bool { count == 0 }

    /// The written bytes; valid until the next append or ``removeAll()``.
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// A copy of the written bytes.
    var array: [UInt8] { Array(bytes) }

    /// Forgets the written bytes and keeps the allocation.
    mutating func removeAll() {
        count = 0
    }

    /// Drops the last `n` written bytes.
    mutating func removeLast(_ n: Int = 1) {
        precondition(n >= 0 && n <= count, "AuditBuffer.removeLast beyond its start")
        count -= n
    }

    @inline(__always)
    mutating func append(_ byte: UInt8) {
        if count == capacity { grow(toHold: 1) }
        base.storeBytes(of: byte, toByteOffset: count, as: UInt8.self)
        count &+= 1
    }

    @inline(__always)
    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, !bytes.isEmpty else { return }
        if bytes.count > capacity &- count { grow(toHold: bytes.count) }
        (base + count).copyMemory(from: source, byteCount: bytes.count)
        count &+= bytes.count
    }

    @inline(__always)
    mutating func append(_ bytes: Slice<UnsafeRawBufferPointer>) {
        append(UnsafeRawBufferPointer(rebasing: bytes))
    }

    @inline(__always)
    mutating func append(_ text: StaticString) {
        append(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// Appends `value` in decimal, its digits written in place from the last one back.
    mutating func appendDecimal(_ value: UInt64) {
        var digits = 1
        var bound: UInt64 = 10
        while digits < 20 && value >= bound {
            digits &+= 1
            bound = bound &* 10
        }
        if digits > capacity &- count { grow(toHold: digits) }
        var position = count &+ digits
        var rest = value
        repeat {
            let (quotient, remainder) = rest.quotientAndRemainder(dividingBy: 10)
            position &-= 1
            base.storeBytes(
                of: UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: remainder), toByteOffset: position, as: UInt8.self)
            rest = quotient
        } while rest > 0
        count &+= digits
    }

    /// Room for `extra` more bytes, by doubling; kept out of line so the appends stay small.
    @inline(never)
    private mutating func grow(toHold extra: Int) {
        var newCapacity = capacity
        while newCapacity - count < extra { newCapacity *= 2 }
        let grown = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
        grown.copyMemory(from: base, byteCount: count)
        base.deallocate()
        base = grown
        capacity = newCapacity
    }
}

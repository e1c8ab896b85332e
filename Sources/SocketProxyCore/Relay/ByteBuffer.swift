// A connection's head buffer, borrowed from a per-loop pool while it holds bytes.

/// Bytes read from one side and not yet handed on: `bytes[start..<end]` of a pooled block.
struct ByteBuffer {
    /// INVARIANT: nil, or a block of `BufferPool.blockSize` bytes owned by this buffer until it is given back.
    var storage: UnsafeMutableRawBufferPointer?
    var start = 0
    var end = 0

    var isEmpty: Bool { start == end }
    var count: Int { end - start }

    /// The unread bytes.
    var readable: UnsafeRawBufferPointer {
        guard let storage else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        // SAFETY: start...end lie within the block (every mutation keeps 0 <= start <= end <= capacity).
        return UnsafeRawBufferPointer(rebasing: storage[start..<end])
    }

    /// Free space after `end`, at most `limit` bytes.
    func writable(limit: Int) -> UnsafeMutableRawBufferPointer {
        let storage = self.storage!
        let upper = min(storage.count, end + limit)
        return UnsafeMutableRawBufferPointer(rebasing: storage[end..<upper])
    }

    var freeSpace: Int { (storage?.count ?? 0) - end }

    mutating func consume(_ count: Int) {
        start += count
        precondition(start <= end, "consumed past the end of a connection buffer")
        if start == end {
            start = 0
            end = 0
        }
    }

    /// Moves the unread bytes to the front, so a head that started late in the block can grow.
    mutating func compact() {
        guard start > 0, let storage else { return }
        let length = end - start
        if length > 0 {
            // SAFETY: both ranges lie in the block; memmove semantics allow the overlap.
            storage.baseAddress!.copyMemory(from: storage.baseAddress! + start, byteCount: length)
        }
        start = 0
        end = length
    }
}

/// Fixed-size blocks for connection buffers, reused so an idle connection holds none and a busy one allocates none.
final class BufferPool {
    let blockSize: Int
    @exclusivity(unchecked) private var free: [UnsafeMutableRawBufferPointer] = []
    private let keep: Int

    init(blockSize: Int, keep: Int = 256) {
        self.blockSize = blockSize
        self.keep = keep
        free.reserveCapacity(keep)
    }

    deinit {
        for block in free { block.deallocate() }
    }

    /// Gives `buffer` a block if it has none.
    func attach(_ buffer: inout ByteBuffer) {
        guard buffer.storage == nil else { return }
        buffer.storage = free.popLast() ?? .allocate(byteCount: blockSize, alignment: 16)
        buffer.start = 0
        buffer.end = 0
    }

    /// Takes the block back from an empty buffer.
    func detachIfEmpty(_ buffer: inout ByteBuffer) {
        guard buffer.isEmpty, let block = buffer.storage else { return }
        buffer.storage = nil
        if free.count < keep { free.append(block) } else { block.deallocate() }
    }

    /// Takes the block back whatever it holds (the connection is closing).
    func release(_ buffer: inout ByteBuffer) {
        buffer.start = 0
        buffer.end = 0
        detachIfEmpty(&buffer)
    }
}

extension Array where Element == UInt8 {
    /// Appends raw bytes in one copy. `append(contentsOf:)` given an `UnsafeRawBufferPointer` (or a slice of one)
    /// takes the generic sequence path and copies byte by byte; a typed buffer pointer is copied with memcpy.
    @inline(__always)
    mutating func appendBytes(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        append(contentsOf: UnsafeBufferPointer(start: base.assumingMemoryBound(to: UInt8.self), count: bytes.count))
    }

    @inline(__always)
    mutating func appendBytes(_ bytes: Slice<UnsafeRawBufferPointer>) {
        appendBytes(UnsafeRawBufferPointer(rebasing: bytes))
    }
}

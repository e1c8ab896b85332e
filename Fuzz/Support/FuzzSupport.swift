// What every fuzz target shares: invariant checks that trap, knobs derived from the input, exact-size copies.
import SocketProxyCore

/// Stops the process when an invariant breaks. libFuzzer reports the stop as a crash and keeps the input, so a
/// broken invariant is a finding just as an out-of-bounds read is.
@inline(__always)
func require(
    _ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String, file: StaticString = #fileID,
    line: UInt = #line
) {
    if !condition() {
        fatalError("fuzz invariant broken: \(message())", file: file, line: line)
    }
}

/// Choices a target makes besides the bytes under test (where to split them, which limits to use), drawn from a
/// hash of the input: the same input always makes the same choices, so every crash reproduces from its file alone,
/// and each mutation of the input explores other choices.
struct FuzzKnobs {
    private var state: UInt64

    /// Seeds the choices with the FNV-1a hash of `bytes`.
    init(_ bytes: UnsafeRawBufferPointer) {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        state = hash
    }

    /// A number in 0..<bound (splitmix64), or 0 when bound is 0.
    mutating func next(_ bound: Int) -> Int {
        state &+= 0x9e37_79b9_7f4a_7c15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xbf58_476d_1ce4_e5b9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94d0_49bb_1331_11eb
        mixed ^= mixed >> 31
        return bound <= 0 ? 0 : Int(mixed % UInt64(bound))
    }

    /// Ascending offsets in 0...count where to cut `count` bytes into `pieces` pieces (some may be empty).
    mutating func cuts(_ count: Int, pieces: Int) -> [Int] {
        (0..<max(pieces - 1, 0)).map { _ in next(count + 1) }.sorted()
    }
}

/// Calls `body` with a fresh allocation holding exactly `bytes`, so that AddressSanitizer sees any read past the
/// end of what the parser was given (a prefix of the fuzzer's buffer would hide it behind the rest).
func withExactCopy<Result>(
    _ bytes: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> Result
) -> Result {
    if bytes.count == 1 && !singleByteInUse {
        // Decoders fed a byte at a time would otherwise spend most of a run allocating; one reused byte is as exact.
        singleByteInUse = true
        defer { singleByteInUse = false }
        singleByte[0] = bytes[0]
        return body(UnsafeRawBufferPointer(singleByte))
    }
    let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 0), alignment: 1)
    defer { copy.deallocate() }
    if let base = bytes.baseAddress, bytes.count > 0 {
        copy.baseAddress!.copyMemory(from: base, byteCount: bytes.count)
    }
    return body(UnsafeRawBufferPointer(copy))
}

/// The allocation of exactly one byte that ``withExactCopy(_:_:)`` reuses. libFuzzer runs the target on one thread.
nonisolated(unsafe) private let singleByte = UnsafeMutableRawBufferPointer.allocate(byteCount: 1, alignment: 1)
nonisolated(unsafe) private var singleByteInUse = false

/// AddressSanitizer's manual poisoning (compiler-rt's `sanitizer/asan_interface.h`). The fuzz build always links
/// the ASan runtime; both take a pointer and a size, which Swift passes as C would.
@_silgen_name("__asan_poison_memory_region")
private func asanPoisonMemoryRegion(_ address: UnsafeRawPointer, _ size: Int)
@_silgen_name("__asan_unpoison_memory_region")
private func asanUnpoisonMemoryRegion(_ address: UnsafeRawPointer, _ size: Int)

/// The input in one allocation of its exact size, handed out as growing prefixes, the way a connection's buffer
/// fills: the bytes past the prefix are poisoned, so AddressSanitizer stops a parser that reads past what it was
/// given exactly as ``withExactCopy(_:_:)`` does, without a fresh allocation and copy for every prefix (feeding an
/// input one byte at a time would otherwise spend most of a run in the allocator).
struct GrowingCopy {
    private let storage: UnsafeMutableRawBufferPointer

    init(_ bytes: UnsafeRawBufferPointer) {
        storage = .allocate(byteCount: bytes.count, alignment: 1)
        if let base = bytes.baseAddress, bytes.count > 0 {
            storage.baseAddress!.copyMemory(from: base, byteCount: bytes.count)
        }
    }

    /// The first `count` bytes; every byte after them is unreadable until a longer prefix is asked for.
    func prefix(_ count: Int) -> UnsafeRawBufferPointer {
        precondition(count <= storage.count, "GrowingCopy.prefix(\(count)) of \(storage.count) bytes")
        guard let base = storage.baseAddress else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        asanUnpoisonMemoryRegion(base, count)
        asanPoisonMemoryRegion(base + count, storage.count - count)
        return UnsafeRawBufferPointer(start: base, count: count)
    }

    /// Frees the copy; ASan wants the memory readable again before it takes it back.
    func deallocate() {
        if let base = storage.baseAddress {
            asanUnpoisonMemoryRegion(base, storage.count)
        }
        storage.deallocate()
    }
}

/// Small limits, drawn from the knobs, so that every limit is reached at every kind of position.
func tinyLimits(_ knobs: inout FuzzKnobs) -> HTTPLimits {
    HTTPLimits(
        maxRequestLineBytes: 1 + knobs.next(96), maxHeadBytes: 1 + knobs.next(384),
        maxHeaderFields: knobs.next(6))
}

/// The bytes, printable, for a message: at most 200 of them, escapes for the rest.
func show(_ bytes: UnsafeRawBufferPointer) -> String {
    var text = ""
    for byte in bytes.prefix(200) {
        switch byte {
        case 0x0D: text += "\\r"
        case 0x0A: text += "\\n"
        case 0x09: text += "\\t"
        case 0x5C: text += "\\\\"
        case 0x20...0x7E: text.unicodeScalars.append(Unicode.Scalar(byte))
        default: text += "\\x" + (byte < 16 ? "0" : "") + String(byte, radix: 16)
        }
    }
    return bytes.count > 200 ? text + "... (\(bytes.count) bytes)" : text
}

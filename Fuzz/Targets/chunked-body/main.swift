// Fuzz target: ChunkedDecoder, fed the way the relay feeds it, checked against a lenient reference decoder.
import SocketProxyCore

/// Invariants, each true by design:
/// - Whole, in pieces, one byte at a time, or the relay's way (chunk data skipped with `skipData`, framing bytes
///   fed), the decoder gives the same answer: the same error, or the same count of consumed bytes and completion.
/// - The consumed count never exceeds the input; a call returns less than it was given only when the body is
///   complete, and a complete body ends with CRLF.
/// - When the strict decoder finds a complete body, a lenient decoder (any size line ending at the first CRLF,
///   hex digits up to the first other byte, trailers to the empty line) ends the body at the same byte with the
///   same amount of data: the two can never frame the same bytes differently, which is what smuggling needs.
/// - Smaller limits only turn an answer into a size-line or trailer error; errors are sticky.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzChunkedBody(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    var knobs = FuzzKnobs(bytes)
    let limits = HTTPLimits()
    let whole = decode(bytes, cuts: [], limits: limits)
    require(whole.consumed <= size, "consumed \(whole.consumed) of \(size) bytes")

    let cuts = knobs.cuts(size, pieces: 2 + knobs.next(3))
    let pieces = decode(bytes, cuts: cuts, limits: limits)
    require(pieces == whole, "fed in pieces cut at \(cuts): \(pieces), whole: \(whole), input \(show(bytes))")
    if size <= 256 {
        let byByte = decode(bytes, cuts: Array(0...size), limits: limits)
        require(byByte == whole, "fed byte by byte: \(byByte), whole: \(whole), input \(show(bytes))")
    }
    let spliced = decodeSpliced(bytes, limits: limits, step: 1)
    require(
        spliced.outcome == whole, "fed the relay's way: \(spliced.outcome), whole: \(whole), input \(show(bytes))")
    let step = 2 + knobs.next(16)
    let mixed = decodeSpliced(bytes, limits: limits, step: step).outcome
    require(mixed == whole, "fed the relay's way, \(step) framing bytes at a time: \(mixed), whole: \(whole)")

    if whole.complete {
        require(
            whole.consumed >= 5 && bytes[whole.consumed - 2] == 0x0D && bytes[whole.consumed - 1] == 0x0A,
            "a complete body of \(whole.consumed) bytes does not end with CRLF")
        let lenient = lenientDecode(bytes)
        require(
            lenient?.consumed == whole.consumed && lenient?.data == spliced.data,
            "strict: \(whole.consumed) bytes with \(spliced.data) data bytes; lenient: \(String(describing: lenient)); "
                + "input \(show(bytes))")
    }
    if whole.error != nil {
        var decoder = ChunkedDecoder(limits: limits)
        _ = withExactCopy(bytes) { decoder.consume($0) }
        let again = Array("0\r\n\r\n".utf8).withUnsafeBytes { decoder.consume($0) }
        require(again == .failure(whole.error!), "after \(whole.error!), more bytes give \(again)")
    }

    let small = tinyLimits(&knobs)
    let limited = decode(bytes, cuts: knobs.cuts(size, pieces: 2), limits: small)
    require(
        limited == whole || limited.error == .invalidChunkExtension || limited.error == .invalidTrailer,
        "with limits \(small): \(limited), with the defaults: \(whole), input \(show(bytes))")
    return 0
}

struct Outcome: Equatable {
    var consumed = 0
    var complete = false
    var error: HTTPParseError?
}

/// Feeds the bytes between consecutive cuts as separate calls, each an exact-size copy, like reads off a socket.
private func decode(_ bytes: UnsafeRawBufferPointer, cuts: [Int], limits: HTTPLimits) -> Outcome {
    var decoder = ChunkedDecoder(limits: limits)
    var outcome = Outcome()
    var start = 0
    for end in cuts.filter({ $0 < bytes.count }) + [bytes.count] where end >= start {
        let piece = UnsafeRawBufferPointer(rebasing: bytes[start..<end])
        switch withExactCopy(piece, { decoder.consume($0) }) {
        case .success(let count):
            require(count <= piece.count, "consumed \(count) of a piece of \(piece.count) bytes")
            require(count == piece.count || decoder.isComplete, "stopped at \(count) of \(piece.count) unfinished")
            outcome.consumed += count
            if decoder.isComplete {
                outcome.complete = true
                let after = withExactCopy(UnsafeRawBufferPointer(rebasing: bytes[start + count..<bytes.count])) {
                    decoder.consume($0)
                }
                require(after == .success(0), "a complete decoder consumed more: \(after)")
                return outcome
            }
        case .failure(let error):
            // A failure reports no count: the bytes before it are not a body.
            return Outcome(consumed: 0, complete: false, error: error)
        }
        start = end
    }
    return outcome
}

/// The relay's way: while chunk data is due the caller moves it itself (`skipData`), and the other bytes are fed
/// `step` at a time. Those calls may take chunk data too, so the returned count of data bytes is exact only when
/// `step` is 1 (a single framing byte never is data).
private func decodeSpliced(_ bytes: UnsafeRawBufferPointer, limits: HTTPLimits, step: Int) -> (
    outcome: Outcome, data: Int
) {
    var decoder = ChunkedDecoder(limits: limits)
    var outcome = Outcome()
    var data = 0
    var offset = 0
    while offset < bytes.count && !decoder.isComplete {
        let due = decoder.dataRemaining
        if due > 0 {
            let count = min(Int(clamping: due), bytes.count - offset)
            decoder.skipData(UInt64(count))
            offset += count
            data += count
            continue
        }
        let piece = UnsafeRawBufferPointer(rebasing: bytes[offset..<min(offset + step, bytes.count)])
        switch withExactCopy(piece, { decoder.consume($0) }) {
        case .success(let count):
            offset += count
        case .failure(let error):
            return (Outcome(consumed: 0, complete: false, error: error), data)
        }
    }
    outcome.consumed = offset
    outcome.complete = decoder.isComplete
    if outcome.error == nil && outcome.consumed > 0 && !outcome.complete {
        require(offset == bytes.count, "stopped at \(offset) of \(bytes.count) unfinished")
    }
    return (outcome, data)
}

/// A decoder that accepts much more than RFC 9112 does, as a lax upstream might: a size line is hex digits up to
/// the first other byte and ends at the first CRLF; a trailer section ends at the first empty line. It returns
/// where the body ends and how much data it holds, or nil when it does not find a complete body.
private func lenientDecode(_ bytes: UnsafeRawBufferPointer) -> (consumed: Int, data: Int)? {
    func lineEnd(from start: Int) -> Int? {
        var index = start
        while index + 1 < bytes.count {
            if bytes[index] == 0x0D && bytes[index + 1] == 0x0A { return index }
            index += 1
        }
        return nil
    }
    var index = 0
    var data = 0
    while true {
        guard let end = lineEnd(from: index) else { return nil }
        var size = 0
        var cursor = index
        while cursor < end, let digit = hexDigit(bytes[cursor]) {
            guard size < 1 << 40 else { return nil }
            size = size * 16 + Int(digit)
            cursor += 1
        }
        index = end + 2
        if size == 0 {
            while true {
                guard let trailerEnd = lineEnd(from: index) else { return nil }
                if trailerEnd == index { return (index + 2, data) }
                index = trailerEnd + 2
            }
        }
        guard index + size + 2 <= bytes.count, bytes[index + size] == 0x0D, bytes[index + size + 1] == 0x0A else {
            return nil
        }
        data += size
        index += size + 2
    }
}

private func hexDigit(_ byte: UInt8) -> UInt8? {
    switch byte {
    case 0x30...0x39: byte - 0x30
    case 0x41...0x46: byte - 0x41 + 10
    case 0x61...0x66: byte - 0x61 + 10
    default: nil
    }
}

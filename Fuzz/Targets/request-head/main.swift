// Fuzz target: RequestHeadParser. Any feeding gives one answer, and a complete head is checked against the bytes.
import SocketProxyCore

/// Invariants, each true by design:
/// - Fed whole, split into two or three pieces, or (for short inputs) one byte at a time, the parser gives the same
///   answer: the same head, the same error, or "need more bytes".
/// - Smaller limits change an answer only into a limit error (431), never into another head or another error.
/// - A complete head lies inside the input and inside the limits; its bytes read as `method SP target SP
///   HTTP/1.x CRLF *(field-line CRLF) CRLF` without bare CR, bare LF, obs-fold or controls; its offsets, field
///   walk, framing, Host, Content-Type and connection facts agree with an independent reading of those bytes.
/// - A complete head is decided by its own bytes: parsing only `bytes[0..<headEnd]` gives the same head.
/// - Errors are sticky: calling again after a failure (with more bytes) gives the same failure.
/// - The target of a complete head, normalised, obeys the path invariants (see the request-target target).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRequestHead(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    var knobs = FuzzKnobs(bytes)
    let limits = HTTPLimits()
    let whole = parse(bytes, cuts: [], limits: limits)

    let cuts = knobs.cuts(size, pieces: 2 + knobs.next(2))
    let pieces = parse(bytes, cuts: cuts, limits: limits)
    require(pieces == whole, "fed in pieces cut at \(cuts): \(pieces), whole: \(whole), input \(show(bytes))")
    if size <= 128 {
        let byByte = parse(bytes, cuts: Array(0...size), limits: limits)
        require(byByte == whole, "fed byte by byte: \(byByte), whole: \(whole), input \(show(bytes))")
    }

    let small = tinyLimits(&knobs)
    let limited = parse(bytes, cuts: knobs.cuts(size, pieces: 2), limits: small)
    require(
        limited == whole || isLimitFailure(limited),
        "with limits \(small): \(limited), with the defaults: \(whole), input \(show(bytes))")

    switch whole {
    case .complete(let head):
        checkComplete(head, bytes, limits: limits)
        let own = parse(UnsafeRawBufferPointer(rebasing: bytes[0..<head.headEnd]), cuts: [], limits: limits)
        require(own == whole, "the head's own bytes give \(own), the whole input \(whole)")
    case .failed(let error):
        // Sticky: more bytes do not revive a failed parser.
        var parser = RequestHeadParser(limits: limits)
        _ = withExactCopy(bytes) { parser.parse($0) }
        let longer = Array(bytes) + [0x0D, 0x0A, 0x0D, 0x0A]
        let again = longer.withUnsafeBytes { extended in withExactCopy(extended) { parser.parse($0) } }
        require(again == .failed(error), "after \(error), more bytes give \(again)")
    case .needMoreBytes:
        require(size <= limits.maxHeadBytes, "need more bytes after \(size) bytes, past the head limit")
    }
    if case .complete(let head) = limited {
        checkComplete(head, bytes, limits: small)
    }
    return 0
}

/// Parses `bytes`, first `bytes[0..<cut]` for each cut, then the whole; each call gets an exact-size copy.
private func parse(_ bytes: UnsafeRawBufferPointer, cuts: [Int], limits: HTTPLimits) -> HeadParseResult<RequestHead> {
    var parser = RequestHeadParser(limits: limits)
    let copy = GrowingCopy(bytes)
    defer { copy.deallocate() }
    for cut in cuts where cut < bytes.count {
        let result = parser.parse(copy.prefix(cut))
        guard case .needMoreBytes = result else {
            // A prefix may already complete the head or fail; the full buffer must then give the same answer.
            let final = parser.parse(copy.prefix(bytes.count))
            require(final == result, "a finished parser changed its answer from \(result) to \(final)")
            return result
        }
    }
    return parser.parse(copy.prefix(bytes.count))
}

private func isLimitFailure(_ result: HeadParseResult<RequestHead>) -> Bool {
    switch result {
    case .failed(.requestLineTooLong), .failed(.headTooLarge), .failed(.tooManyHeaderFields): true
    default: false
    }
}

private func checkComplete(_ head: RequestHead, _ bytes: UnsafeRawBufferPointer, limits: HTTPLimits) {
    let what = "request head"
    let walked = HeadGrammar.checkedWalk(
        bytes, headEnd: head.headEnd, headerCount: head.headerCount, limits: limits,
        forEachField: { head.forEachField(in: bytes, $0) }, what: what)

    // request-line = method SP request-target SP HTTP-version
    let line = walked.startLine
    require(line.count <= limits.maxRequestLineBytes, "\(what): a request line of \(line.count) bytes past the limit")
    require(
        head.methodBytes.lowerBound == 0 && !head.methodBytes.isEmpty
            && bytes[head.methodBytes].allSatisfy(HeadGrammar.isTokenChar),
        "\(what): method bytes \(head.methodBytes) are not a token")
    require(
        head.target.lowerBound == head.methodBytes.upperBound + 1 && bytes[head.methodBytes.upperBound] == 0x20,
        "\(what): the target does not follow the method and one space")
    require(
        !head.target.isEmpty && bytes[head.target].allSatisfy({ (0x21...0x7E).contains($0) }),
        "\(what): target \(head.target) is empty or has a byte outside %x21-7E")
    require(head.target.upperBound + 9 == line.upperBound, "\(what): the version is not the last 8 bytes of the line")
    let version = String(decoding: bytes[head.target.upperBound..<line.upperBound], as: UTF8.self)
    switch version {
    case " HTTP/1.1": require(head.version == .http1_1, "\(what): HTTP/1.1 read as \(head.version)")
    case " HTTP/1.0": require(head.version == .http1_0, "\(what): HTTP/1.0 read as \(head.version)")
    default: require(false, "\(what): accepted version '\(version)'")
    }
    let methodName = String(decoding: bytes[head.methodBytes], as: UTF8.self)
    let known: [String: HTTPMethod] = [
        "GET": .get, "HEAD": .head, "POST": .post, "PUT": .put, "DELETE": .delete, "PATCH": .patch,
        "OPTIONS": .options, "CONNECT": .connect, "TRACE": .trace,
    ]
    require(head.method == (known[methodName] ?? .other), "\(what): method \(methodName) read as \(head.method)")

    // Framing, routing and connection facts, from the field lines alone.
    let framing = HeadGrammar.framing(walked, in: bytes, version: head.version, absent: .none)
    require(framing == head.framing, "\(what): framing \(head.framing), the fields say \(String(describing: framing))")
    let hosts = walked.values("host", in: bytes)
    require(hosts.count == 1 || hosts.isEmpty && head.version == .http1_0, "\(what): \(hosts.count) Host fields")
    require(head.host == hosts.first, "\(what): host \(String(describing: head.host)), first Host \(hosts)")
    let contentTypes = walked.values("content-type", in: bytes)
    require(head.contentType == contentTypes.first, "\(what): contentType is not the first Content-Type")
    let connection = walked.values("connection", in: bytes)
    let close = HeadGrammar.listContains(bytes, connection, "close")
    let keepAlive = !close && (head.version == .http1_1 || HeadGrammar.listContains(bytes, connection, "keep-alive"))
    require(head.keepAlive == keepAlive, "\(what): keepAlive \(head.keepAlive), Connection \(connection)")
    let upgrade =
        !walked.values("upgrade", in: bytes).isEmpty && HeadGrammar.listContains(bytes, connection, "upgrade")
    require(head.upgrade == upgrade, "\(what): upgrade \(head.upgrade), Connection \(connection)")
    let expect = walked.values("expect", in: bytes).contains {
        HeadGrammar.equalsIgnoringCase(bytes, $0, "100-continue")
    }
    require(
        head.expectContinue == (expect && head.version == .http1_1), "\(what): expectContinue \(head.expectContinue)")

    // The target, normalised, keeps the path invariants.
    let target = UnsafeRawBufferPointer(rebasing: bytes[head.target])
    _ = TargetOracle.check(target)
}

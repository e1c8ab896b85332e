// Fuzz target: ResponseHeadParser. Any feeding gives one answer, and a complete head is checked against the bytes.
import SocketProxyCore

/// Invariants, each true by design:
/// - Fed whole, in pieces or one byte at a time, the parser gives the same answer; smaller limits only turn an
///   answer into a limit error; errors are sticky; a complete head is decided by its own bytes.
/// - A complete head lies inside the input and the limits; its bytes read as `HTTP/1.x SP 3DIGIT [SP reason] CRLF
///   *(field-line CRLF) CRLF`; status, framing (none for HEAD, 1xx, 204 and 304; chunked, a length, or until
///   close otherwise), keep-alive, upgrade and informational agree with an independent reading of those bytes.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzResponseHead(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    var knobs = FuzzKnobs(bytes)
    let methods: [HTTPMethod] = [.get, .head, .post, .put, .delete, .connect, .other]
    let method = methods[knobs.next(methods.count)]
    let limits = HTTPLimits()
    let whole = parse(bytes, cuts: [], limits: limits, method: method)

    let cuts = knobs.cuts(size, pieces: 2 + knobs.next(2))
    let pieces = parse(bytes, cuts: cuts, limits: limits, method: method)
    require(pieces == whole, "fed in pieces cut at \(cuts): \(pieces), whole: \(whole), input \(show(bytes))")
    if size <= 128 {
        let byByte = parse(bytes, cuts: Array(0...size), limits: limits, method: method)
        require(byByte == whole, "fed byte by byte: \(byByte), whole: \(whole), input \(show(bytes))")
    }

    let small = tinyLimits(&knobs)
    let limited = parse(bytes, cuts: knobs.cuts(size, pieces: 2), limits: small, method: method)
    require(
        limited == whole || isLimitFailure(limited),
        "with limits \(small): \(limited), with the defaults: \(whole), input \(show(bytes))")

    switch whole {
    case .complete(let head):
        checkComplete(head, bytes, limits: limits, method: method)
        let own = parse(
            UnsafeRawBufferPointer(rebasing: bytes[0..<head.headEnd]), cuts: [], limits: limits, method: method)
        require(own == whole, "the head's own bytes give \(own), the whole input \(whole)")
    case .failed(let error):
        var parser = ResponseHeadParser(limits: limits)
        _ = withExactCopy(bytes) { parser.parse($0, requestMethod: method) }
        let longer = Array(bytes) + [0x0D, 0x0A, 0x0D, 0x0A]
        let again = longer.withUnsafeBytes { extended in
            withExactCopy(extended) { parser.parse($0, requestMethod: method) }
        }
        require(again == .failed(error), "after \(error), more bytes give \(again)")
    case .needMoreBytes:
        require(size <= limits.maxHeadBytes, "need more bytes after \(size) bytes, past the head limit")
    }
    if case .complete(let head) = limited {
        checkComplete(head, bytes, limits: small, method: method)
    }
    return 0
}

private func parse(
    _ bytes: UnsafeRawBufferPointer, cuts: [Int], limits: HTTPLimits, method: HTTPMethod
) -> HeadParseResult<ResponseHead> {
    var parser = ResponseHeadParser(limits: limits)
    let copy = GrowingCopy(bytes)
    defer { copy.deallocate() }
    for cut in cuts where cut < bytes.count {
        let result = parser.parse(copy.prefix(cut), requestMethod: method)
        guard case .needMoreBytes = result else {
            // A prefix may already complete the head or fail; the full buffer must then give the same answer.
            let final = parser.parse(copy.prefix(bytes.count), requestMethod: method)
            require(final == result, "a finished parser changed its answer from \(result) to \(final)")
            return result
        }
    }
    return parser.parse(copy.prefix(bytes.count), requestMethod: method)
}

private func isLimitFailure(_ result: HeadParseResult<ResponseHead>) -> Bool {
    switch result {
    case .failed(.headTooLarge), .failed(.tooManyHeaderFields): true
    default: false
    }
}

private func checkComplete(
    _ head: ResponseHead, _ bytes: UnsafeRawBufferPointer, limits: HTTPLimits, method: HTTPMethod
) {
    let what = "response head"
    let walked = HeadGrammar.checkedWalk(
        bytes, headEnd: head.headEnd, headerCount: head.headerCount, limits: limits,
        forEachField: { head.forEachField(in: bytes, $0) }, what: what)

    // status-line = HTTP-version SP status-code SP [ reason-phrase ], the SP before an empty reason optional.
    let line = Array(bytes[walked.startLine])
    require(line.count >= 12, "\(what): a status line of \(line.count) bytes")
    let version = String(decoding: line[0..<8], as: UTF8.self)
    require(
        version == "HTTP/1.1" && head.version == .http1_1 || version == "HTTP/1.0" && head.version == .http1_0,
        "\(what): version '\(version)' read as \(head.version)")
    require(line[8] == 0x20, "\(what): no space after the version")
    require(line[9..<12].allSatisfy({ (0x30...0x39).contains($0) }), "\(what): the status is not three digits")
    let status = line[9..<12].reduce(0) { $0 * 10 + Int($1 - 0x30) }
    require(
        head.status == status && (100...599).contains(status), "\(what): status \(head.status), the line has \(status)")
    require(line.count == 12 || line[12] == 0x20, "\(what): no space after the status")

    let lengths = walked.values("content-length", in: bytes)
    require(lengths.count <= 1, "\(what): \(lengths.count) Content-Length fields accepted")
    if let length = lengths.first {
        require(
            HeadGrammar.contentLength(bytes, length) != nil,
            "\(what): Content-Length \(show(UnsafeRawBufferPointer(rebasing: bytes[length])))")
    }
    let bodiless = method == .head || (100...199).contains(status) || status == 204 || status == 304
    let framing: BodyFraming? =
        bodiless ? BodyFraming.none : HeadGrammar.framing(walked, in: bytes, version: head.version, absent: .untilClose)
    require(framing == head.framing, "\(what): framing \(head.framing), the fields say \(String(describing: framing))")
    let connection = walked.values("connection", in: bytes)
    let keepAlive =
        head.framing != .untilClose && !HeadGrammar.listContains(bytes, connection, "close")
        && (head.version == .http1_1 || HeadGrammar.listContains(bytes, connection, "keep-alive"))
    require(head.keepAlive == keepAlive, "\(what): keepAlive \(head.keepAlive), Connection \(connection)")
    require(head.upgrade == (status == 101), "\(what): upgrade \(head.upgrade) with status \(status)")
    require(
        head.isInformational == ((100...199).contains(status) && status != 101),
        "\(what): isInformational \(head.isInformational) with status \(status)")
    require(
        head.contentType == walked.values("content-type", in: bytes).first,
        "\(what): contentType is not the first Content-Type")
}

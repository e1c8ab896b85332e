// The per-exchange part of a connection (parsers, the request under way, its audit text), pooled per loop.

/// What a connection needs only while it has a request under way or bytes to parse. Connections borrow one from
/// their loop's pool and give it back when they go idle, so thousands of idle keep-alive connections cost little.
final class ExchangeState {
    @exclusivity(unchecked) var requestParser: RequestHeadParser
    @exclusivity(unchecked) var responseParser: ResponseHeadParser
    @exclusivity(unchecked) var requestChunks: ChunkedDecoder
    @exclusivity(unchecked) var responseChunks: ChunkedDecoder
    @exclusivity(unchecked) var requestAfterForward = Connection.RequestPhase.sent
    @exclusivity(unchecked) var responseAfterForward = Connection.ResponsePhase.done
    @exclusivity(unchecked) var exchange: Connection.Exchange?
    @exclusivity(unchecked) var collection: Connection.Collection?
    /// Our own answer being sent.
    @exclusivity(unchecked) var local: [UInt8] = []
    /// The request's method, path, query and API version, copied for the audit record (truncated to fit).
    /// INVARIANT: `auditText` holds `auditTextCapacity` bytes for the state's life.
    let auditText: UnsafeMutableRawBufferPointer
    static let auditTextCapacity = 2048

    init(limits: HTTPLimits) {
        requestParser = RequestHeadParser(limits: limits)
        responseParser = ResponseHeadParser(limits: limits)
        requestChunks = ChunkedDecoder(limits: limits)
        responseChunks = ChunkedDecoder(limits: limits)
        auditText = .allocate(byteCount: Self.auditTextCapacity, alignment: 8)
    }

    deinit {
        auditText.deallocate()
    }

    /// Back to what a fresh state holds.
    func reset() {
        requestParser.reset()
        responseParser.reset()
        requestChunks.reset()
        responseChunks.reset()
        requestAfterForward = .sent
        responseAfterForward = .done
        exchange = nil
        collection = nil
        local.removeAll(keepingCapacity: true)
    }
}

/// A per-loop free list of exchange states.
final class ExchangeStatePool {
    @exclusivity(unchecked) private var free: [ExchangeState] = []
    private let limits: HTTPLimits
    private let keep: Int

    init(limits: HTTPLimits, keep: Int = 1024) {
        self.limits = limits
        self.keep = keep
        free.reserveCapacity(keep)
    }

    func take() -> ExchangeState {
        free.popLast() ?? ExchangeState(limits: limits)
    }

    func give(_ state: ExchangeState) {
        guard free.count < keep else { return }
        state.reset()
        free.append(state)
    }
}

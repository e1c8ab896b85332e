// One client connection: parse each request head, decide it, relay allowed ones to the daemon, answer the rest.
#if canImport(Glibc)
import Glibc
#endif

/// The per-connection state machine. Requests are handled one at a time in arrival order: the next pipelined head
/// is parsed only after the previous exchange has ended, so answers always go back in order and the daemon never
/// receives a request before it was decided. Heads (and body bytes that arrive with them) pass through a pooled
/// buffer; the rest of each body and every stream moves with splice(2).
///
/// SAFETY: a connection is touched only by its loop's thread, so its stored properties are marked
/// `@exclusivity(unchecked)`: the runtime's dynamic exclusivity checks cost about a seventh of the proxy's
/// instructions per request. The debug tests and the relay tests are what guard against overlapping accesses.
final class Connection: EventHandler, TimerHandler {
    /// Which socket of the connection.
    enum Side { case client, upstream, proxy }

    enum RequestPhase {
        /// Waiting for (or parsing) the next request head.
        case head
        /// Sending the first `count` buffered bytes (head plus body bytes that came with it) to the daemon.
        case forwarding(Int)
        /// Splicing the rest of a Content-Length body.
        case lengthBody(UInt64)
        /// Relaying a chunked body.
        case chunkedBody
        /// Reading a body the inspector must see before anything goes to the daemon.
        case collecting
        /// Sending the inspected request (head and body) from the collection, from `offset`.
        case forwardingCollected(Int)
        /// Everything of this request has been handled; waiting for its answer to finish.
        case sent
        /// After 101: client bytes go to the daemon unchanged until the client ends its side.
        case tunnel
        /// The client's side of a tunnel has ended and was passed on.
        case closed
    }

    enum ResponsePhase {
        /// No exchange under way.
        case idle
        /// The daemon connection is being set up.
        case connecting
        /// Reading the daemon's response head.
        case head
        /// Sending the first `count` buffered bytes to the client, then going to `next`.
        case forwarding(Int)
        case lengthBody(UInt64)
        case chunkedBody
        /// A response without length: everything until the daemon closes.
        case untilClose
        /// Sending our own answer (`local`), from `offset`.
        case local(offset: Int)
        /// The answer is complete.
        case done
        /// After 101: daemon bytes go to the client unchanged until the daemon ends its side.
        case tunnel
        case closed
    }

    enum TimerPurpose { case none, header, idle, connect, connectRetry, stream, linger }

    /// What the proxy knows about the request under way.
    struct Exchange {
        var started: UInt64
        var id: UInt64
        var method: HTTPMethod
        var keepAlive: Bool
        var upgrade: Bool
        var decided: AuditDecision
        var bytesIn: UInt64 = 0
        var bytesOut: UInt64 = 0
        var status = 0
        var closeAfter = false
        var upstreamReusable = true
        var streaming = false
        /// A stream that ends only when a side ends it (events, logs --follow, stats, attach, wait, tunnels): cut
        /// at shutdown instead of waited for.
        var openEnded = false
        /// In audit and learn modes: why the policy would have denied this request that was let through.
        var wouldDeny: String?
        /// Whether the audit sink wants this exchange's record; the fields below are filled only then.
        var audited = false
        var section: Section?
        var profile = ""
        var rule = ""
        var reason = ""
        var mode: ProxyMode?
        var upgraded = false
        /// Lengths of the method, path, query and API version copied into the state's audit text, in that order.
        var methodCount = 0
        var pathCount = 0
        var queryCount = 0
        var versionCount = 0
    }

    /// A request body held back until the inspector has read it.
    struct Collection {
        var endpoint: InspectedEndpoint
        var policy: InspectionPolicy
        /// The bytes as the client sent them, head included: forwarded unchanged if the body passes.
        var raw: [UInt8] = []
        /// The body's content (de-chunked), what the daemon will decode.
        var content: [UInt8] = []
        /// Content-Length bytes still to come, or nil for a chunked body.
        var remaining: UInt64?
        var contentType: String?
        var profileName: String
        /// The normalised path, kept for learn mode.
        var learnPath: [UInt8]?
        var method: HTTPMethod
    }

    /// SAFETY: the loop's context outlives every connection of the loop (it closes them all before it goes).
    unowned(unsafe) let context: LoopContext
    let client: FileDescriptor
    let identity: ClientIdentity
    let listenerName: String
    /// The profile this client's requests are decided by (nil: the policy's default).
    let profileName: String?
    @exclusivity(unchecked) var registryIndex = -1
    /// The snapshot `profileIndex` was looked up in; a reload replaces the snapshot and the index is looked up again.
    @exclusivity(unchecked) private var profileSnapshot: PolicySnapshot?
    @exclusivity(unchecked) private var profileIndex = 0

    @exclusivity(unchecked) private var clientRegistration: Registration?
    @exclusivity(unchecked) private var upstream: FileDescriptor?
    @exclusivity(unchecked) private var upstreamRegistration: Registration?
    @exclusivity(unchecked) private var timer: LoopTimer!
    @exclusivity(unchecked) private var timerPurpose = TimerPurpose.none

    // Edge-triggered readiness: set by events, cleared when a call says it would block.
    @exclusivity(unchecked) private var clientReadable = true
    @exclusivity(unchecked) private var clientWritable = true
    @exclusivity(unchecked) private var upstreamReadable = false
    @exclusivity(unchecked) private var upstreamWritable = false
    /// Whether the daemon connection's registration includes writability. It does only from the first write that
    /// would block until the exchange ends: otherwise every read the daemon makes of a request would wake the loop
    /// once more for nothing (a Unix socket reports room to write each time its peer reads).
    @exclusivity(unchecked) private var upstreamWritesWatched = false
    /// The client shut down its sending side (EPOLLRDHUP), possibly with bytes still unread.
    @exclusivity(unchecked) private var clientHangup = false
    /// The daemon shut down its sending side (EPOLLRDHUP), possibly with bytes still unread.
    @exclusivity(unchecked) private var upstreamHangup = false
    /// A read from the client returned end of stream.
    @exclusivity(unchecked) private var clientEnded = false
    @exclusivity(unchecked) private var hangupPassedOn = false

    @exclusivity(unchecked) private var input = ByteBuffer()
    @exclusivity(unchecked) private var output = ByteBuffer()
    /// Everything an exchange needs beyond the sockets, borrowed from the loop's pool while the connection has
    /// work and given back when it goes idle, so an idle keep-alive connection stays small.
    @exclusivity(unchecked) private var state: ExchangeState?
    /// Bytes at the front of a buffer that the chunked decoder has already checked and that wait to be sent.
    @exclusivity(unchecked) private var requestChecked = 0
    @exclusivity(unchecked) private var responseChecked = 0
    @exclusivity(unchecked) private var requestPipe: SplicePipe?
    @exclusivity(unchecked) private var responsePipe: SplicePipe?

    @exclusivity(unchecked) private var requestPhase = RequestPhase.head
    @exclusivity(unchecked) private var responsePhase = ResponsePhase.idle
    @exclusivity(unchecked) private var served = 0
    @exclusivity(unchecked) private var lingering = false
    @exclusivity(unchecked) private var isClosed = false
    @exclusivity(unchecked) private var lastChunkWasLarge = false

    init(
        context: LoopContext, client: FileDescriptor, identity: ClientIdentity, listenerName: String,
        profileName: String? = nil
    ) {
        self.context = context
        self.client = client
        self.identity = identity
        self.listenerName = listenerName
        self.profileName = profileName
        timer = LoopTimer(handler: self)
    }

    /// Registers the client socket and starts reading.
    func start() throws(SystemError) {
        clientRegistration = try context.loop.register(
            client, interest: [.readable, .writable, .readHangup], edgeTriggered: true, handler: self)
        context.add(self)
        setTimer(.header, after: context.headerTimeout)
        drive()
    }

    // MARK: Pooled exchange state

    /// Up to this many connections on a loop, an idle connection keeps its exchange state.
    static let keepStateBelow = 256

    // The properties below live in `state`. Reading them without a state gives an idle value; writing them
    // without one is a bug, except for `exchange`, whose writes attach a state.

    private var requestParser: RequestHeadParser {
        _read { yield state!.requestParser }
        _modify { yield &state!.requestParser }
    }
    private var responseParser: ResponseHeadParser {
        _read { yield state!.responseParser }
        _modify { yield &state!.responseParser }
    }
    private var requestChunks: ChunkedDecoder {
        _read { yield state!.requestChunks }
        _modify { yield &state!.requestChunks }
    }
    private var responseChunks: ChunkedDecoder {
        _read { yield state!.responseChunks }
        _modify { yield &state!.responseChunks }
    }
    private var requestAfterForward: RequestPhase {
        get { state!.requestAfterForward }
        set { state!.requestAfterForward = newValue }
    }
    private var responseAfterForward: ResponsePhase {
        get { state!.responseAfterForward }
        set { state!.responseAfterForward = newValue }
    }
    private var exchange: Exchange? {
        get { state?.exchange }
        // Kept to one small statement: a yield-once accessor whose frame outgrows the caller's fixed buffer (a
        // local `Exchange?`, say) allocates that frame on the heap at every access.
        _modify { yield &attachedState.exchange }
    }

    // Reads of the exchange go through `state` (`state?.exchange?.method`, `hasExchange`): the getter above returns
    // a copy of the whole exchange, retaining its strings, only to read one field of it.
    private var hasExchange: Bool { state?.exchange != nil }

    /// The state, attaching one if there is none (a write to the exchange of an idle connection).
    private var attachedState: ExchangeState {
        if let state { return state }
        attachState()
        return state!
    }
    private var collection: Collection? {
        get { state?.collection }
        set { state!.collection = newValue }
    }
    private var local: [UInt8] {
        get { state?.local ?? [] }
        set { state!.local = newValue }
    }

    private func attachState() {
        guard state == nil else { return }
        state = context.states.take()
    }

    /// Gives the state back once nothing is under way and no bytes wait to be parsed, when the loop has many
    /// connections (with few, keeping it saves the reset on every request, and the memory does not matter).
    private func detachStateIfIdle(always: Bool = false) {
        guard let current = state, current.exchange == nil, input.isEmpty, requestPipe == nil,
            responsePipe == nil, always || context.connections.count > Self.keepStateBelow
        else { return }
        state = nil
        context.states.give(current)
    }

    // MARK: Events

    func handleEvent(_ events: EventSet, registration: Registration) {
        let failed = !events.isDisjoint(with: [.error, .hangup])
        if registration == clientRegistration {
            if failed || events.contains(.readable) { clientReadable = true }
            if failed || events.contains(.writable) { clientWritable = true }
            if failed || events.contains(.readHangup) { clientHangup = true }
        } else if registration == upstreamRegistration {
            if failed || events.contains(.readable) { upstreamReadable = true }
            if failed || events.contains(.writable) { upstreamWritable = true }
            if failed || events.contains(.readHangup) { upstreamHangup = true }
        } else {
            return
        }
        drive()
    }

    func timerFired(_ timer: LoopTimer) {
        let purpose = timerPurpose
        timerPurpose = .none
        switch purpose {
        case .none:
            return
        case .header:
            if !hasExchange && !input.isEmpty {
                startLocalExchange(decision: .malformed, status: 408, reason: "the request head did not arrive in time")
                drive()
            } else if !hasExchange {
                close()
            }
        case .idle, .linger:
            close()
        case .connect:
            failUpstream(reason: "the Docker daemon did not accept a connection in time", status: 504)
            drive()
        case .connectRetry:
            connectUpstream()
            drive()
        case .stream:
            abort(.upstreamError, reason: "no bytes moved within the stream idle timeout")
        }
    }

    /// Stops serving: an idle connection closes now; a busy one closes after its current answer.
    func beginDrain() {
        if !hasExchange {
            close()
        } else if let current = exchange, current.openEnded || current.upgrade && current.streaming {
            abort(current.decided, reason: "ended by the proxy shutting down")
        } else {
            exchange?.closeAfter = true
        }
    }

    // MARK: The driver

    /// Makes all the progress the sockets allow, then arms the right timer.
    private func drive() {
        while !isClosed {
            let movedRequest = pumpRequest()
            if isClosed { return }
            let movedResponse = pumpResponse()
            if !(movedRequest || movedResponse) { break }
        }
        if !upstreamWritable && !upstreamWritesWatched && upstream != nil {
            if let error = watchUpstreamWrites(true) {
                failUpstream(reason: "cannot wait for the Docker daemon connection: \(error)", status: 502)
                drive()
            }
        }
    }

    /// Adds writability to the daemon connection's registration (a write to it would block), or takes it away
    /// again; the error if epoll refused. Gaining the interest when the socket has room again by then reports it
    /// at once, so nothing is missed. A connection still watched is never pooled.
    @discardableResult
    private func watchUpstreamWrites(_ watch: Bool) -> SystemError? {
        guard let registration = upstreamRegistration, upstreamWritesWatched != watch else { return nil }
        do {
            try context.loop.modify(
                registration, interest: watch ? [.readable, .writable, .readHangup] : Self.upstreamInterest)
            upstreamWritesWatched = watch
            return nil
        } catch {
            return error
        }
    }

    /// What a daemon connection is registered for between writes that block.
    private static let upstreamInterest: EventSet = [.readable, .readHangup]

    private func pumpRequest() -> Bool {
        if lingering { return discardLingering() }
        switch requestPhase {
        case .head:
            guard !hasExchange else { return false }
            return readHead()
        case .forwarding(let count):
            return forwardRequest(count)
        case .lengthBody(let remaining):
            return spliceRequest(remaining)
        case .chunkedBody:
            return relayChunked(request: true)
        case .collecting:
            return collectBody()
        case .forwardingCollected(let offset):
            return forwardCollected(from: offset)
        case .sent:
            return watchClientWhileWaiting()
        case .tunnel:
            return tunnelRequest()
        case .closed:
            return false
        }
    }

    private func pumpResponse() -> Bool {
        switch responsePhase {
        case .idle:
            return probeIdleUpstream()
        case .connecting, .done, .closed:
            return false
        case .head:
            return readResponseHead()
        case .forwarding(let count):
            return forwardResponse(count)
        case .lengthBody(let remaining):
            return spliceResponse(remaining, untilClose: false)
        case .chunkedBody:
            return relayChunked(request: false)
        case .untilClose:
            return spliceResponse(.max, untilClose: true)
        case .local(let offset):
            return sendLocal(from: offset)
        case .tunnel:
            return tunnelResponse()
        }
    }

    // MARK: Request heads

    private func readHead() -> Bool {
        while true {
            if !input.isEmpty {
                attachState()
                switch requestParser.parse(input.readable) {
                case .complete(let head):
                    begin(head)
                    return true
                case .failed(let error):
                    startLocalExchange(decision: .malformed, status: error.status, reason: error.description)
                    return true
                case .needMoreBytes:
                    break
                }
            }
            guard !clientEnded else {
                if input.isEmpty {
                    close()
                } else {
                    startLocalExchange(decision: .malformed, status: 400, reason: "the request head is incomplete")
                }
                return true
            }
            guard clientReadable else {
                context.buffers.detachIfEmpty(&input)
                detachStateIfIdle()
                return false
            }
            let wasEmpty = input.isEmpty
            switch fill(.client) {
            case .ended:
                clientEnded = true
            case .read:
                if wasEmpty && served > 0 { setTimer(.header, after: context.headerTimeout) }
            case .blocked:
                break
            case .full:
                startLocalExchange(decision: .malformed, status: 431, reason: HTTPParseError.headTooLarge.description)
                return true
            case .failed:
                close()
                return true
            }
        }
    }

    /// What reading one side into its buffer gave.
    enum ReadOutcome {
        case read(Int)
        case ended
        case blocked
        /// The buffer has no room left.
        case full
        case failed(SystemError)
    }

    /// Reads from one side into its buffer (a pooled block, compacted when full), at most `limit` bytes. Keeps the
    /// edge-triggered flag honest: cleared on EAGAIN, and on a short read unless the peer's end of stream was
    /// already reported (then the next read returns it, and no further event would say so).
    private func fill(_ side: Side, limit: Int = .max) -> ReadOutcome {
        let fromClient = side == .client
        guard let fd = fromClient ? client : upstream else { return .blocked }
        if fromClient {
            context.buffers.attach(&input)
            if input.freeSpace == 0 { input.compact() }
        } else {
            context.buffers.attach(&output)
            if output.freeSpace == 0 { output.compact() }
        }
        let free = fromClient ? input.freeSpace : output.freeSpace
        guard free > 0 else { return .full }
        let space = fromClient ? input.writable(limit: min(free, limit)) : output.writable(limit: min(free, limit))
        do {
            switch try Linux.read(fd, into: space) {
            case .processed(0):
                return .ended
            case .processed(let count):
                if fromClient {
                    input.end += count
                    if count < space.count && !clientHangup { clientReadable = false }
                } else {
                    output.end += count
                    if count < space.count && !upstreamHangup { upstreamReadable = false }
                }
                return .read(count)
            case .wouldBlock:
                if fromClient { clientReadable = false } else { upstreamReadable = false }
                return .blocked
            }
        } catch {
            return .failed(error)
        }
    }

    /// A complete head: decide it, then either forward it or answer it ourselves.
    private func begin(_ head: RequestHead) {
        served += 1
        let bytes = input.readable
        let now = context.loop.now
        var current = Exchange(
            started: now, id: context.statistics.nextRequestID.wrappingAdd(1, ordering: .relaxed).oldValue,
            method: head.method, keepAlive: head.keepAlive, upgrade: head.upgrade, decided: .allow)
        // The client asked to close after this answer (Connection: close, or HTTP/1.0 without keep-alive); that
        // holds whatever the daemon's answer says about its own connection. The request goes to the daemon as it
        // came, Connection header included, so the daemon closes its side too: that connection is not pooled.
        current.closeAfter = !head.keepAlive
        current.upstreamReusable = head.keepAlive
        let hasBody: Bool
        switch head.framing {
        case .none, .length(0): hasBody = false
        default: hasBody = true
        }
        let target = UnsafeRawBufferPointer(rebasing: bytes[head.target])
        let policy = context.policy
        let parsed: RequestTarget
        switch RequestTarget.parse(target, scratch: context.scratch) {
        case .failure(let error):
            current.decided = .malformed
            exchange = current
            fillEvent(head: head, bytes: bytes, target: nil, decision: nil, profile: nil)
            exchange?.reason = error.description
            respond(status: 400, message: refusal(head: head, bytes: bytes, reason: error.description), close: true)
            return
        case .success(let value):
            parsed = value
        }
        guard let profile = currentProfile(policy) else {
            current.decided = .deny
            exchange = current
            fillEvent(head: head, bytes: bytes, target: parsed, decision: nil, profile: nil)
            let reason = "this client's profile \(profileName ?? "") is gone from the reloaded policy"
            exchange?.reason = reason
            respond(status: 403, message: refusal(head: head, bytes: bytes, reason: reason), close: true)
            return
        }
        let path = UnsafeRawBufferPointer(rebasing: context.scratch[parsed.path])
        let query = parsed.query.map { UnsafeRawBufferPointer(rebasing: target[$0]) } ?? UnsafeRawBufferPointer(start: nil, count: 0)
        let decision = profile.decide(method: head.method, path: path, query: query)
        current.openEnded = head.upgrade || Self.isOpenEnded(path: path, query: query)
        current.decided = decision.allowed ? .allow : .deny
        let enforcing = policy.mode == .enforce
        if !decision.allowed && !enforcing {
            current.decided = .allow
            current.wouldDeny = profile.denialReason(for: decision)
        }
        exchange = current
        fillEvent(head: head, bytes: bytes, target: parsed, decision: decision, profile: profile)
        guard decision.allowed || !enforcing else {
            let reason = profile.denialReason(for: decision)
            let message = "socket-proxy: \(methodName(head, bytes)) \(displayPath(head, bytes)) is denied: \(reason)"
            let closeAfter = hasBody || !head.keepAlive
            if !closeAfter { input.consume(head.headEnd) }
            exchange?.reason = reason
            respond(status: 403, message: message, close: closeAfter)
            return
        }
        // Bodies that can ask for the host are read whole and inspected before anything goes to the daemon. In
        // audit and learn modes every such body is read, so that what it asks for is recorded.
        if let endpoint = InspectedEndpoint(method: head.method, path: path),
            let inspection = profile.inspection(for: decision) ?? (enforcing ? nil : InspectionPolicy.strict)
        {
            beginCollecting(
                head, bytes: bytes, endpoint: endpoint, inspection: inspection, profile: profile.name,
                learnPath: policy.learner == nil ? nil : Array(path))
            return
        }
        policy.learner?.record(method: head.method, path: path)
        // Allowed: the head and whatever body bytes arrived with it go out in one write.
        var sendCount = head.headEnd
        let available = bytes.count - head.headEnd
        switch head.framing {
        case .none, .untilClose, .length(0):
            requestAfterForward = .sent
        case .length(let length):
            let take = Int(min(length, UInt64(available)))
            sendCount += take
            let rest = length - UInt64(take)
            requestAfterForward = rest > 0 ? .lengthBody(rest) : .sent
        case .chunked:
            requestChunks.reset()
            switch requestChunks.consume(UnsafeRawBufferPointer(rebasing: bytes[head.headEnd...])) {
            case .success(let used):
                sendCount += used
                requestAfterForward = requestChunks.isComplete ? .sent : .chunkedBody
            case .failure(let error):
                exchange?.decided = .malformed
                exchange?.reason = error.description
                respond(status: error.status, message: refusal(head: head, bytes: bytes, reason: error.description),
                    close: true)
                return
            }
        }
        requestChecked = 0
        requestPhase = .forwarding(sendCount)
        startUpstreamExchange()
    }

    /// The request is on its way to the daemon: read its answer, connecting first if needed.
    private func startUpstreamExchange() {
        responseParser.reset()
        cancelTimer()
        if upstream == nil {
            connectUpstream()
        } else {
            responsePhase = .head
        }
    }

    /// The profile for this connection's next request, looked up again after a reload; nil when a reload removed
    /// the profile this client was given.
    private func currentProfile(_ policy: PolicySnapshot) -> Profile? {
        if profileSnapshot !== policy {
            guard let name = profileName else {
                profileIndex = 0
                profileSnapshot = policy
                return policy.profiles[0]
            }
            guard let index = policy.index(of: name) else { return nil }
            profileIndex = index
            profileSnapshot = policy
        }
        return policy.profiles[profileIndex]
    }

    /// Endpoints whose answer lasts as long as a side wants: `/events`, `logs` with `follow`, `stats` unless
    /// `stream=0`, `attach`, `wait`.
    static func isOpenEnded(path: UnsafeRawBufferPointer, query: UnsafeRawBufferPointer) -> Bool {
        // Keyword.equals compares a word or two at a time; this runs for every request.
        func hasSuffix(_ suffix: StaticString) -> Bool {
            let count = suffix.utf8CodeUnitCount
            guard path.count >= count, let base = path.baseAddress else { return false }
            return Keyword.equals(base + (path.count - count), suffix, ignoringCase: false)
        }
        if path.count == 7 && hasSuffix("/events") { return true }
        if hasSuffix("/attach") || hasSuffix("/attach/ws") || hasSuffix("/wait") { return true }
        if hasSuffix("/logs") { return queryFlag(query, "follow") == true }
        if hasSuffix("/stats") { return queryFlag(query, "stream") != false }
        return false
    }

    /// The boolean value of a query parameter as Docker reads it (`1`/`true` and `0`/`false`), nil when absent.
    private static func queryFlag(_ query: UnsafeRawBufferPointer, _ name: StaticString) -> Bool? {
        let key = UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
        for pair in query.split(separator: UInt8(ascii: "&")) {
            let parts = pair.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.first?.elementsEqual(key) == true else { continue }
            guard parts.count == 2 else { return true }
            let value = parts[1]
            if value.elementsEqual("1".utf8) || value.elementsEqual("true".utf8) || value.elementsEqual("True".utf8) {
                return true
            }
            return false
        }
        return nil
    }

    // MARK: Inspected bodies

    private func beginCollecting(
        _ head: RequestHead, bytes: UnsafeRawBufferPointer, endpoint: InspectedEndpoint, inspection: InspectionPolicy,
        profile: String, learnPath: [UInt8]?
    ) {
        var remaining: UInt64?
        switch head.framing {
        case .none, .untilClose: remaining = 0
        case .length(let length):
            guard length <= UInt64(inspection.maxBodyBytes) else {
                tooLarge(inspection.maxBodyBytes)
                return
            }
            remaining = length
        case .chunked:
            remaining = nil
            requestChunks.reset()
        }
        var collected = Collection(
            endpoint: endpoint, policy: inspection, remaining: remaining,
            contentType: head.contentType.map { String(decoding: bytes[$0], as: UTF8.self) }, profileName: profile,
            learnPath: learnPath, method: head.method)
        collected.raw.appendBytes(bytes[0..<head.headEnd])
        input.consume(head.headEnd)
        collection = collected
        requestPhase = .collecting
        cancelTimer()
        if head.expectContinue && input.isEmpty {
            // The client waits for this before it sends the body; the daemon cannot say it, it has not seen the
            // request yet. Its own 100 later is a second informational answer, which clients accept.
            let answer: StaticString = "HTTP/1.1 100 Continue\r\n\r\n"
            _ = try? Linux.send(client, UnsafeRawBufferPointer(start: answer.utf8Start, count: answer.utf8CodeUnitCount))
        }
    }

    /// Moves body bytes from the input buffer into the collection until the body is complete.
    private func collectBody() -> Bool {
        guard var collected = collection else { return false }
        collection = nil
        defer { if collection == nil && requestPhase == .collecting { collection = collected } }
        var moved = false
        while true {
            // Take what is buffered.
            while !input.isEmpty {
                let bytes = input.readable
                if let remaining = collected.remaining {
                    if remaining == 0 { break }
                    let take = Int(min(remaining, UInt64(bytes.count)))
                    collected.raw.appendBytes(bytes[0..<take])
                    collected.content.appendBytes(bytes[0..<take])
                    collected.remaining = remaining - UInt64(take)
                    input.consume(take)
                } else {
                    if requestChunks.isComplete { break }
                    let data = requestChunks.dataRemaining
                    if data > 0 {
                        let take = Int(min(data, UInt64(bytes.count)))
                        collected.raw.appendBytes(bytes[0..<take])
                        collected.content.appendBytes(bytes[0..<take])
                        requestChunks.skipData(UInt64(take))
                        input.consume(take)
                    } else {
                        // Framing: one byte at a time, so the decoder stops exactly where data begins.
                        let one = UnsafeRawBufferPointer(rebasing: bytes[0..<1])
                        switch requestChunks.consume(one) {
                        case .success(let used):
                            collected.raw.appendBytes(bytes[0..<used])
                            input.consume(used)
                            if used == 0 { break }
                        case .failure(let error):
                            collection = nil
                            exchange?.decided = .malformed
                                        exchange?.reason = error.description
                            respond(status: error.status, message: "socket-proxy: invalid chunked body: \(error)",
                                close: true)
                            return true
                        }
                    }
                }
                moved = true
                let limit = collected.policy.maxBodyBytes
                if collected.content.count > limit || collected.raw.count > 2 * limit + 65536 {
                    collection = nil
                    tooLarge(limit)
                    return true
                }
            }
            let complete = collected.remaining.map { $0 == 0 } ?? requestChunks.isComplete
            if complete {
                collection = nil
                finishCollecting(collected)
                return true
            }
            guard !clientEnded else {
                collection = nil
                abort(.clientGone, reason: "the client closed the connection in the middle of the request body")
                return true
            }
            guard clientReadable else { return moved }
            switch fill(.client) {
            case .ended:
                clientEnded = true
            case .read:
                moved = true
            case .blocked, .full:
                context.buffers.detachIfEmpty(&input)
                return moved
            case .failed(let error):
                collection = nil
                abort(.clientGone, reason: error.description)
                return true
            }
        }
    }

    /// The body is complete: inspect it, then forward it unchanged or refuse it.
    private func finishCollecting(_ collected: Collection) {
        let enforcing = context.policy.mode == .enforce
        let verdict = collected.content.withUnsafeBytes {
            BodyInspector.inspect(
                $0, contentType: collected.contentType, endpoint: collected.endpoint, policy: collected.policy)
        }
        if let learner = context.policy.learner, let path = collected.learnPath {
            let findings = collected.content.withUnsafeBytes {
                (try? BodyInspector.findings($0, contentType: collected.contentType, endpoint: collected.endpoint)
                    .get()) ?? []
            }
            path.withUnsafeBytes { learner.record(method: collected.method, path: $0, findings: findings) }
        }
        switch verdict {
        case .allow:
            break
        case .deny(let finding, let detail):
            let reason = "\(finding.field) is not allowed by profile \(collected.profileName): \(detail)"
            if enforcing {
                exchange?.decided = .deny
                exchange?.reason = reason
                // The body has been read whole: the connection can go on with the next request.
                respond(status: 403, message: "socket-proxy: \(reason)", close: false)
                return
            }
            if exchange?.wouldDeny == nil { exchange?.wouldDeny = reason }
        case .invalid(let status, let reason):
            if enforcing {
                exchange?.decided = .malformed
                exchange?.reason = reason
                respond(status: status, message: "socket-proxy: the request body cannot be inspected: \(reason)",
                    close: true)
                return
            }
            if exchange?.wouldDeny == nil { exchange?.wouldDeny = "the body cannot be inspected: \(reason)" }
        }
        collection = collected
        collection?.content = []
        requestPhase = .forwardingCollected(0)
        startUpstreamExchange()
    }

    private func forwardCollected(from offset: Int) -> Bool {
        guard let upstream, upstreamWritable, let raw = collection?.raw else { return false }
        let result = raw.withUnsafeBytes { bytes in
            Result { () throws(SystemError) in
                try Linux.send(upstream, UnsafeRawBufferPointer(rebasing: bytes[offset...]))
            }
        }
        do {
            switch try result.get() {
            case .processed(let sent):
                exchange?.bytesIn += UInt64(sent)
                if offset + sent < raw.count {
                    requestPhase = .forwardingCollected(offset + sent)
                } else {
                    collection = nil
                    requestBodyDone()
                }
                return true
            case .wouldBlock:
                upstreamWritable = false
                return false
            }
        } catch {
            upstreamBroke(error)
            return true
        }
    }

    private func tooLarge(_ limit: Int) {
        exchange?.decided = .malformed
        let reason = "the request body is larger than the \(limit) bytes the inspector reads"
        exchange?.reason = reason
        respond(status: 413, message: "socket-proxy: \(reason)", close: true)
    }

    // MARK: Request bodies and tunnels

    private func forwardRequest(_ count: Int) -> Bool {
        guard let upstream, upstreamWritable else { return false }
        let bytes = UnsafeRawBufferPointer(rebasing: input.readable[0..<count])
        do {
            switch try Linux.send(upstream, bytes) {
            case .processed(let sent):
                input.consume(sent)
                exchange?.bytesIn += UInt64(sent)
                if sent < count {
                    requestPhase = .forwarding(count - sent)
                } else {
                    if requestAfterForward == .sent { requestBodyDone() } else { requestPhase = requestAfterForward }
                    context.buffers.detachIfEmpty(&input)
                }
                return true
            case .wouldBlock:
                upstreamWritable = false
                return false
            }
        } catch {
            upstreamBroke(error)
            return true
        }
    }

    private func spliceRequest(_ remaining: UInt64) -> Bool {
        guard let upstream else { return false }
        var left = remaining
        let outcome = splice(
            from: client, to: upstream, limit: &left, pipe: &requestPipe, sourceReadable: &clientReadable,
            destinationWritable: &upstreamWritable, counter: \.bytesIn)
        switch outcome {
        case .idle:
            return false
        case .moved:
            if left == 0, requestPipe?.count ?? 0 == 0 {
                releasePipe(&requestPipe)
                requestBodyDone()
            } else {
                requestPhase = .lengthBody(left)
            }
            return true
        case .sourceEnded:
            abort(.clientGone, reason: "the client closed the connection in the middle of the request body")
            return true
        case .failed(let error, .proxy):
            // No pipe for the body (out of descriptors): the proxy's own trouble, not the daemon's.
            let status = error.errno == EMFILE || error.errno == ENFILE ? 503 : 500
            failUpstream(reason: "cannot relay the request body: \(error)", status: status)
            return true
        case .failed(let error, let side):
            side == .client ? abort(.clientGone, reason: error.description) : upstreamBroke(error)
            return true
        }
    }

    private func tunnelRequest() -> Bool {
        guard let upstream else { return false }
        if !input.isEmpty {
            var count = input.count
            do {
                return try sendChecked(
                    &input, count: &count, to: upstream, writable: &upstreamWritable, counter: \.bytesIn)
            } catch {
                abort(.upstreamError, reason: error.description)
                return true
            }
        }
        var left = UInt64.max
        switch splice(
            from: client, to: upstream, limit: &left, pipe: &requestPipe, sourceReadable: &clientReadable,
            destinationWritable: &upstreamWritable, counter: \.bytesIn)
        {
        case .idle:
            return false
        case .moved:
            return true
        case .sourceEnded:
            if requestPipe?.count ?? 0 > 0 { return false }
            releasePipe(&requestPipe)
            Linux.shutdownWrite(upstream)
            requestPhase = .closed
            finishTunnelIfDone()
            return true
        case .failed(let error, let side):
            abort(side == .client ? .clientGone : .upstreamError, reason: error.description)
            return true
        }
    }

    /// While an answer is on its way, the client is read only to see whether it has gone away.
    private func watchClientWhileWaiting() -> Bool {
        guard clientHangup, !hangupPassedOn else { return false }
        // Read what is pending: pipelined requests stay buffered for later; end of stream with nothing pending
        // means the client is done sending, which the daemon is told about the way a direct client would tell it.
        while !clientEnded && clientReadable {
            switch fill(.client) {
            case .ended: clientEnded = true
            case .read, .blocked: break
            case .full: return false
            case .failed(let error):
                abort(.clientGone, reason: error.description)
                return true
            }
        }
        guard clientEnded else { return false }
        hangupPassedOn = true
        if input.isEmpty, let upstream {
            Linux.shutdownWrite(upstream)
            exchange?.upstreamReusable = false
            exchange?.closeAfter = true
        }
        return true
    }

    /// Between requests the daemon has nothing to say; if its socket becomes readable it closed the connection
    /// (or broke the protocol), so drop it now instead of failing the next request on it.
    private func probeIdleUpstream() -> Bool {
        guard let upstream, upstreamReadable else { return false }
        var byte: UInt8 = 0
        let result = try? withUnsafeMutableBytes(of: &byte) { raw throws(SystemError) in
            try Linux.read(upstream, into: raw)
        }
        if case .wouldBlock? = result {
            upstreamReadable = false
            return false
        }
        closeUpstream()
        return true
    }

    /// The request body is through: wait for the answer, or join a tunnel the answer already opened.
    private func requestBodyDone() {
        switch responsePhase {
        case .tunnel: requestPhase = .tunnel
        case .forwarding where responseAfterForward == .tunnel: requestPhase = .tunnel
        default: requestPhase = .sent
        }
    }

    // MARK: Responses

    private func readResponseHead() -> Bool {
        guard upstream != nil, let method = state?.exchange?.method else { return false }
        while true {
            if !output.isEmpty {
                switch responseParser.parse(output.readable, requestMethod: method) {
                case .complete(let head):
                    handleResponseHead(head)
                    return true
                case .failed(let error):
                    failUpstream(reason: "the Docker daemon sent an invalid response: \(error)", status: 502)
                    return true
                case .needMoreBytes:
                    break
                }
            }
            guard upstreamReadable else { return false }
            switch fill(.upstream) {
            case .read:
                continue
            case .blocked:
                return false
            case .ended:
                failUpstream(reason: "the Docker daemon closed the connection without answering", status: 502)
            case .full:
                failUpstream(reason: "the Docker daemon's response head is too large", status: 502)
            case .failed(let error):
                failUpstream(reason: "reading from the Docker daemon failed: \(error)", status: 502)
            }
            return true
        }
    }

    private func handleResponseHead(_ head: ResponseHead) {
        let available = output.count - head.headEnd
        if head.isInformational {
            responseAfterForward = .head
            responsePhase = .forwarding(head.headEnd)
            responseParser.reset()
            return
        }
        exchange?.status = head.status
        if !head.keepAlive {
            // The daemon closes its connection after this answer: it must not go back to the pool, where the next
            // client could take it in the moment before its hangup is seen and have its request reset.
            exchange?.closeAfter = true
            exchange?.upstreamReusable = false
        }
        if head.upgrade {
            guard state?.exchange?.upgrade == true else {
                failUpstream(reason: "the Docker daemon switched protocols without being asked to", status: 502)
                return
            }
            exchange?.streaming = true
            exchange?.upgraded = true
            context.statistics.activeStreams.wrappingAdd(1, ordering: .relaxed)
            recordStart()
            responseAfterForward = .tunnel
            responsePhase = .forwarding(output.count)
            requestPhase = requestPhaseForTunnel()
            return
        }
        switch head.framing {
        case .none:
            if available > 0 { exchange?.upstreamReusable = false }
            responseAfterForward = .done
            responsePhase = .forwarding(head.headEnd)
        case .length(let length):
            let take = Int(min(length, UInt64(available)))
            let rest = length - UInt64(take)
            if available > take { exchange?.upstreamReusable = false }
            responseAfterForward = rest > 0 ? .lengthBody(rest) : .done
            responsePhase = .forwarding(head.headEnd + take)
        case .chunked:
            responseChunks.reset()
            switch responseChunks.consume(UnsafeRawBufferPointer(rebasing: output.readable[head.headEnd...])) {
            case .success(let used):
                if responseChunks.isComplete && available > used { exchange?.upstreamReusable = false }
                responseAfterForward = responseChunks.isComplete ? .done : .chunkedBody
                responsePhase = .forwarding(head.headEnd + used)
                responseChecked = 0
            case .failure(let error):
                failUpstream(reason: "the Docker daemon sent an invalid chunked body: \(error)", status: 502)
                return
            }
        case .untilClose:
            exchange?.closeAfter = true
            exchange?.upstreamReusable = false
            responseAfterForward = .untilClose
            responsePhase = .forwarding(output.count)
        }
        if responseAfterForward != .done { markStreaming() }
    }

    /// A response whose body does not arrive at once is a stream as far as timeouts go.
    private func markStreaming() {
        guard state?.exchange?.streaming == false else { return }
        exchange?.streaming = true
        context.statistics.activeStreams.wrappingAdd(1, ordering: .relaxed)
        if context.streamIdleTimeout > 0 { setTimer(.stream, after: context.streamIdleTimeout) }
        if state?.exchange?.openEnded == true { recordStart() }
    }

    private func requestPhaseForTunnel() -> RequestPhase {
        switch requestPhase {
        case .sent: return .tunnel
        default: return requestPhase  // still sending the request body; the tunnel starts after it
        }
    }

    private func forwardResponse(_ count: Int) -> Bool {
        guard clientWritable else { return false }
        let bytes = UnsafeRawBufferPointer(rebasing: output.readable[0..<count])
        do {
            switch try Linux.send(client, bytes) {
            case .processed(let sent):
                output.consume(sent)
                exchange?.bytesOut += UInt64(sent)
                if sent < count {
                    responsePhase = .forwarding(count - sent)
                    return true
                }
                context.buffers.detachIfEmpty(&output)
                responsePhase = responseAfterForward
                if case .tunnel = responseAfterForward, case .sent = requestPhase { requestPhase = .tunnel }
                if case .done = responsePhase { responseFinished() }
                return true
            case .wouldBlock:
                clientWritable = false
                return false
            }
        } catch {
            abort(.clientGone, reason: error.description)
            return true
        }
    }

    private func spliceResponse(_ remaining: UInt64, untilClose: Bool) -> Bool {
        guard let upstream else { return false }
        var left = remaining
        let outcome = splice(
            from: upstream, to: client, limit: &left, pipe: &responsePipe, sourceReadable: &upstreamReadable,
            destinationWritable: &clientWritable, counter: \.bytesOut)
        switch outcome {
        case .idle:
            return false
        case .moved:
            touchStreamTimer()
            if !untilClose {
                if left == 0, responsePipe?.count ?? 0 == 0 {
                    releasePipe(&responsePipe)
                    responsePhase = .done
                    responseFinished()
                } else {
                    responsePhase = .lengthBody(left)
                }
            }
            return true
        case .sourceEnded:
            if untilClose {
                if responsePipe?.count ?? 0 > 0 { return false }
                releasePipe(&responsePipe)
                responsePhase = .done
                responseFinished()
            } else {
                abort(.upstreamError, reason: "the Docker daemon closed the connection in the middle of a response")
            }
            return true
        case .failed(let error, let side):
            abort(side == .client ? .clientGone : .upstreamError, reason: error.description)
            return true
        }
    }

    private func tunnelResponse() -> Bool {
        guard let upstream else { return false }
        var left = UInt64.max
        switch splice(
            from: upstream, to: client, limit: &left, pipe: &responsePipe, sourceReadable: &upstreamReadable,
            destinationWritable: &clientWritable, counter: \.bytesOut)
        {
        case .idle:
            return false
        case .moved:
            touchStreamTimer()
            return true
        case .sourceEnded:
            if responsePipe?.count ?? 0 > 0 { return false }
            releasePipe(&responsePipe)
            Linux.shutdownWrite(client)
            responsePhase = .closed
            finishTunnelIfDone()
            return true
        case .failed(let error, let side):
            abort(side == .client ? .clientGone : .upstreamError, reason: error.description)
            return true
        }
    }

    private func finishTunnelIfDone() {
        guard case .closed = requestPhase, case .closed = responsePhase else { return }
        exchange?.closeAfter = true
        endExchange()
    }

    // MARK: Chunked bodies

    /// Relays a chunked body in either direction: framing bytes (and data that arrived with them) through the
    /// buffer, large chunk data by splice. The decoder sees every framing byte exactly once.
    private func relayChunked(request: Bool) -> Bool {
        guard let upstream else { return false }
        let source = request ? client : upstream
        let destination = request ? upstream : client
        var moved = false
        while true {
            // Bytes already in the pipe go first, so nothing is reordered.
            let pipeCount = request ? (requestPipe?.count ?? 0) : (responsePipe?.count ?? 0)
            if pipeCount > 0 {
                var none: UInt64 = 0
                let outcome =
                    request
                    ? splice(
                        from: source, to: destination, limit: &none, pipe: &requestPipe,
                        sourceReadable: &clientReadable, destinationWritable: &upstreamWritable, counter: \.bytesIn)
                    : splice(
                        from: source, to: destination, limit: &none, pipe: &responsePipe,
                        sourceReadable: &upstreamReadable, destinationWritable: &clientWritable, counter: \.bytesOut)
                switch outcome {
                case .moved: moved = true; continue
                case .idle, .sourceEnded: return moved
                case .failed(let error, let side): return chunkFailure(error.description, side: side)
                }
            }
            let complete = request ? requestChunks.isComplete : responseChunks.isComplete
            let checked = request ? requestChecked : responseChecked
            if checked > 0 {
                let sent: Bool
                do {
                    sent =
                        request
                        ? try sendChecked(
                            &input, count: &requestChecked, to: destination, writable: &upstreamWritable,
                            counter: \.bytesIn)
                        : try sendChecked(
                            &output, count: &responseChecked, to: destination, writable: &clientWritable,
                            counter: \.bytesOut)
                } catch {
                    return chunkFailure(error.description, side: request ? .upstream : .client)
                }
                if sent { moved = true; continue }
                return moved
            }
            if complete {
                if request { releasePipe(&requestPipe) } else { releasePipe(&responsePipe) }
                if request {
                    requestBodyDone()
                } else {
                    responsePhase = .done
                    responseFinished()
                }
                return true
            }
            let buffered = request ? input.count : output.count
            if buffered > 0 {
                let bytes = request ? input.readable : output.readable
                let result = request ? requestChunks.consume(bytes) : responseChunks.consume(bytes)
                switch result {
                case .success(let used):
                    if used == 0 { break }
                    if request { requestChecked = used } else { responseChecked = used }
                    continue
                case .failure(let error):
                    return chunkFailure("invalid chunked body: \(error)", side: request ? .client : .upstream)
                }
            }
            let dataLeft = request ? requestChunks.dataRemaining : responseChunks.dataRemaining
            if dataLeft > 0 && buffered == 0 {
                var limit = dataLeft
                let outcome =
                    request
                    ? splice(
                        from: source, to: destination, limit: &limit, pipe: &requestPipe,
                        sourceReadable: &clientReadable, destinationWritable: &upstreamWritable, counter: \.bytesIn)
                    : splice(
                        from: source, to: destination, limit: &limit, pipe: &responsePipe,
                        sourceReadable: &upstreamReadable, destinationWritable: &clientWritable, counter: \.bytesOut)
                let taken = dataLeft - limit
                if taken > 0 {
                    if request { requestChunks.skipData(taken) } else { responseChunks.skipData(taken) }
                }
                switch outcome {
                case .moved: moved = true; touchStreamTimer(); continue
                case .idle: return moved
                case .sourceEnded:
                    return chunkFailure("the connection closed in the middle of a chunked body",
                        side: request ? .client : .upstream)
                case .failed(let error, let side): return chunkFailure(error.description, side: side)
                }
            }
            // Framing bytes are needed: read a little, so that large chunk data is left for splice.
            let side: Side = request ? .client : .upstream
            guard request ? clientReadable : upstreamReadable else { return moved }
            switch fill(side, limit: lastChunkWasLarge ? 64 : .max) {
            case .read: moved = true
            case .blocked: return moved
            case .ended: return chunkFailure("the connection closed in the middle of a chunked body", side: side)
            case .full: return chunkFailure("chunk framing too large", side: side)
            case .failed(let error): return chunkFailure(error.description, side: side)
            }
            // Remember whether chunks are big, to read framing in small pieces next time.
            let nextData = request ? requestChunks.dataRemaining : responseChunks.dataRemaining
            lastChunkWasLarge = nextData >= 8192 || lastChunkWasLarge
        }
    }

    private func chunkFailure(_ reason: String, side: Side) -> Bool {
        abort(side == .client ? .clientGone : .upstreamError, reason: reason)
        return true
    }

    /// Sends the first `count` buffered bytes; true when some went, false when blocked. A failed send throws, and
    /// the caller aborts once `buffer` is no longer borrowed: closing releases the buffer, and doing that while it
    /// is passed `inout` here is an exclusivity violation that stops the process.
    private func sendChecked(
        _ buffer: inout ByteBuffer, count: inout Int, to fd: FileDescriptor, writable: inout Bool,
        counter: WritableKeyPath<Exchange, UInt64>
    ) throws(SystemError) -> Bool {
        guard writable else { return false }
        switch try Linux.send(fd, UnsafeRawBufferPointer(rebasing: buffer.readable[0..<count])) {
        case .processed(let sent):
            buffer.consume(sent)
            count -= sent
            exchange?[keyPath: counter] += UInt64(sent)
            if count > 0 { writable = false }
            return true
        case .wouldBlock:
            writable = false
            return false
        }
    }

    // MARK: Splice

    enum SpliceOutcome {
        case idle
        case moved
        case sourceEnded
        case failed(SystemError, Side)
    }

    /// Moves bytes source -> pipe -> destination: first empties the pipe, then refills it with at most `limit`
    /// bytes (decremented by what was taken from the source). Loops until nothing more can move right now.
    private func splice(
        from source: FileDescriptor, to destination: FileDescriptor, limit: inout UInt64, pipe: inout SplicePipe?,
        sourceReadable: inout Bool, destinationWritable: inout Bool, counter: WritableKeyPath<Exchange, UInt64>
    ) -> SpliceOutcome {
        var moved = false
        if pipe == nil {
            guard limit > 0 else { return .idle }
            do {
                pipe = try context.pipes.take()
            } catch {
                return .failed(error, .proxy)
            }
        }
        while true {
            var progressed = false
            if pipe!.count > 0 && destinationWritable {
                do {
                    switch try Linux.splice(from: pipe!.read, to: destination, length: pipe!.count) {
                    case .processed(let count):
                        pipe!.count -= count
                        exchange?[keyPath: counter] += UInt64(count)
                        progressed = true
                    case .wouldBlock:
                        destinationWritable = false
                    }
                } catch {
                    return .failed(error, destination == client ? .client : .upstream)
                }
            }
            if limit > 0 && sourceReadable && pipe!.count < pipe!.capacity {
                let want = Int(min(limit, UInt64(pipe!.capacity - pipe!.count)))
                do {
                    switch try Linux.splice(from: source, to: pipe!.write, length: want) {
                    case .processed(0):
                        return .sourceEnded
                    case .processed(let count):
                        pipe!.count += count
                        if limit != .max { limit -= UInt64(count) }
                        progressed = true
                    case .wouldBlock:
                        // Splicing into a pipe that holds bytes also fails with EAGAIN when the pipe has no free
                        // slot (each skb fragment takes one, however small), long before `count` reaches
                        // `capacity`. Only an empty pipe proves the socket is drained; otherwise leave the flag
                        // set and try again once the pipe has been emptied.
                        if pipe!.count == 0 { sourceReadable = false }
                    }
                } catch {
                    return .failed(error, source == client ? .client : .upstream)
                }
            }
            if !progressed { break }
            moved = true
        }
        return moved ? .moved : .idle
    }

    private func releasePipe(_ pipe: inout SplicePipe?) {
        if let current = pipe {
            context.pipes.give(current)
            pipe = nil
        }
    }

    // MARK: The daemon connection

    private func connectUpstream() {
        responsePhase = .connecting
        if let (fd, registration) = context.upstreams.take(for: self) {
            upstream = fd
            upstreamRegistration = registration
            upstreamWritable = true
            upstreamWritesWatched = false  // the pool keeps only connections without the interest
            upstreamReadable = false
            upstreamHangup = false
            responsePhase = .head
            cancelTimer()
            return
        }
        do {
            switch try Socket.connect(to: context.upstream) {
            case .processed(let fd):
                upstream = fd
                upstreamRegistration = try context.loop.register(
                    fd, interest: Self.upstreamInterest, edgeTriggered: true, handler: self)
                upstreamWritable = true
                upstreamWritesWatched = false
                upstreamReadable = false
                responsePhase = .head
                cancelTimer()
            case .wouldBlock:
                // The daemon's listen backlog is full: try again shortly, within the connect timeout.
                if timerPurpose != .connectRetry {
                    connectDeadline = context.loop.now &+ context.connectTimeout
                }
                if context.loop.now >= connectDeadline {
                    failUpstream(reason: "the Docker daemon did not accept a connection in time", status: 504)
                } else {
                    setTimer(.connectRetry, after: 5_000_000)
                }
            }
        } catch {
            let status = error.errno == EMFILE || error.errno == ENFILE ? 503 : 502
            failUpstream(reason: "cannot reach the Docker daemon at \(context.upstream): \(error)", status: status)
        }
    }

    @exclusivity(unchecked) private var connectDeadline: UInt64 = 0

    /// The daemon failed before any of its answer reached the client: answer 502 (or `status`) ourselves.
    private func failUpstream(reason: String, status: Int) {
        guard hasExchange else {
            closeUpstream()
            return
        }
        context.statistics.upstreamErrors.wrappingAdd(1, ordering: .relaxed)
        exchange?.decided = .upstreamError
        exchange?.upstreamReusable = false
        closeUpstream()
        if state!.exchange!.bytesOut > 0 || state!.exchange!.streaming {
            abort(.upstreamError, reason: reason)
            return
        }
        // The request may be only half sent; it cannot continue on this connection.
        switch requestPhase {
        case .sent: break
        default: exchange?.closeAfter = true
        }
        requestPhase = .sent
        releasePipe(&requestPipe)
        respond(status: status, message: "socket-proxy: \(reason)", close: state!.exchange!.closeAfter)
    }

    private func upstreamBroke(_ error: SystemError) {
        failUpstream(reason: "sending to the Docker daemon failed: \(error)", status: 502)
    }

    /// Lets go of the daemon connection: back to the loop's pool when `reusable` (it finished an exchange
    /// cleanly and has nothing pending), closed otherwise.
    private func closeUpstream(reusable: Bool = false) {
        guard let fd = upstream else { return }
        // Only a connection between exchanges can be reused: nothing of an answer may still be on its way.
        let between = responsePhase == .idle && requestPhase == .head
        if let registration = upstreamRegistration {
            // Still watched for writes only if endExchange could not take the interest away: not pooled then.
            if reusable && between && !upstreamHangup && output.isEmpty && requestPipe == nil && responsePipe == nil
                && !upstreamWritesWatched
            {
                context.upstreams.give(fd, registration: registration)
            } else {
                context.loop.deregister(registration, closing: true)
                Linux.close(fd)
            }
        } else {
            Linux.close(fd)
        }
        upstream = nil
        upstreamRegistration = nil
        upstreamReadable = false
        upstreamWritable = false
        upstreamWritesWatched = false
        upstreamHangup = false
        releasePipe(&requestPipe)
        releasePipe(&responsePipe)
        context.buffers.release(&output)
    }

    // MARK: Our own answers

    /// Starts an exchange for something that never became a decidable request (bad head, timeout).
    private func startLocalExchange(decision: AuditDecision, status: Int, reason: String) {
        attachState()
        var current = Exchange(
            started: context.loop.now, id: context.statistics.nextRequestID.wrappingAdd(1, ordering: .relaxed).oldValue,
            method: .other, keepAlive: false, upgrade: false, decided: decision)
        current.audited = context.audit.threshold >= .warning
        current.reason = reason
        exchange = current
        respond(status: status, message: "socket-proxy: \(reason)", close: true)
    }

    private func respond(status: Int, message: String, close: Bool) {
        exchange?.status = status
        if close { exchange?.closeAfter = true }
        if exchange?.reason.isEmpty == true { exchange?.reason = message }
        switch state!.exchange!.decided {
        case .deny: context.statistics.deniedRequests.wrappingAdd(1, ordering: .relaxed)
        case .malformed: context.statistics.malformedRequests.wrappingAdd(1, ordering: .relaxed)
        default: break
        }
        local = LocalResponse.make(status: status, message: message, close: state!.exchange!.closeAfter)
        // The request goes no further than here (a head answered at once, or a body read for inspection).
        switch requestPhase {
        case .head, .collecting: requestPhase = .sent
        default: break
        }
        responsePhase = .local(offset: 0)
        cancelTimer()
    }

    private func sendLocal(from offset: Int) -> Bool {
        guard clientWritable else { return false }
        let result = local.withUnsafeBytes { raw in
            Result { () throws(SystemError) in try Linux.send(client, UnsafeRawBufferPointer(rebasing: raw[offset...])) }
        }
        do {
            switch try result.get() {
            case .processed(let sent):
                exchange?.bytesOut += UInt64(sent)
                if offset + sent < local.count {
                    responsePhase = .local(offset: offset + sent)
                } else {
                    local = []
                    responsePhase = .done
                    responseFinished()
                }
                return true
            case .wouldBlock:
                clientWritable = false
                return false
            }
        } catch {
            abort(.clientGone, reason: error.description)
            return true
        }
    }

    // MARK: Ending exchanges

    private func responseFinished() {
        switch requestPhase {
        case .sent, .head:
            endExchange()
        default:
            // The daemon answered before the whole request body arrived; finish the answer and close.
            exchange?.closeAfter = true
            exchange?.upstreamReusable = false
            endExchange()
        }
    }

    private func endExchange() {
        guard let finished = state?.exchange.take() else { return }
        if finished.decided == .allow { context.statistics.allowedRequests.wrappingAdd(1, ordering: .relaxed) }
        if finished.streaming { context.statistics.activeStreams.wrappingSubtract(1, ordering: .relaxed) }
        record(finished, decision: finished.decided, reason: nil)
        releasePipe(&requestPipe)
        releasePipe(&responsePipe)
        if !finished.upstreamReusable {
            closeUpstream()
        } else {
            // The next exchange on this connection starts again without the interest.
            watchUpstreamWrites(false)
        }
        requestPhase = .head
        responsePhase = .idle
        if finished.closeAfter || context.draining || clientEnded && input.isEmpty {
            closeGracefully()
            return
        }
        requestParser.reset()
        context.buffers.detachIfEmpty(&input)
        context.buffers.detachIfEmpty(&output)
        detachStateIfIdle()
        if input.isEmpty {
            setTimer(.idle, after: context.idleTimeout)
        } else {
            setTimer(.header, after: context.headerTimeout)
        }
    }

    /// After a final answer: stop sending, then read and drop what the client still sends for a moment, so that
    /// closing with unread bytes does not reset the connection before the client has read our answer.
    private func closeGracefully() {
        // endExchange closed the daemon connection if it could not be reused; one still here can be.
        closeUpstream(reusable: true)
        if clientEnded || input.isEmpty && clientIsQuiet() {
            // Nothing unread: closing now sends a plain FIN behind the answer, no reset can overtake it.
            close()
            return
        }
        Linux.shutdownWrite(client)
        lingering = true
        context.buffers.release(&input)
        detachStateIfIdle(always: true)
        setTimer(.linger, after: 2_000_000_000)
    }

    /// Whether the client has sent nothing more (a read would block); what it did send is dropped.
    private func clientIsQuiet() -> Bool {
        var scratch: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        let result = withUnsafeMutableBytes(of: &scratch) { raw in
            Result { () throws(SystemError) in try Linux.read(client, into: raw) }
        }
        switch result {
        case .success(.wouldBlock): return true
        case .success(.processed(0)):
            clientEnded = true
            return true
        default: return false
        }
    }

    private func discardLingering() -> Bool {
        guard clientReadable else { return false }
        context.buffers.attach(&input)
        var total = 0
        while total < 1 << 20 {
            do {
                switch try Linux.read(client, into: input.writable(limit: input.freeSpace)) {
                case .processed(0):
                    close()
                    return true
                case .processed(let count):
                    total += count
                case .wouldBlock:
                    clientReadable = false
                    return false
                }
            } catch {
                close()
                return true
            }
        }
        close()
        return true
    }

    /// Ends the connection at once because something failed mid-exchange; the exchange is recorded as `decision`.
    private func abort(_ decision: AuditDecision, reason: String) {
        if var current = exchange {
            if decision == .upstreamError && current.decided != .upstreamError {
                context.statistics.upstreamErrors.wrappingAdd(1, ordering: .relaxed)
            }
            if current.decided == .allow || current.decided == .upstreamError { current.decided = decision }
            if current.streaming { context.statistics.activeStreams.wrappingSubtract(1, ordering: .relaxed) }
            record(current, decision: current.decided, reason: reason)
            exchange = nil
        }
        close()
    }

    /// Closes both sockets and gives everything back. Records an unfinished exchange as the client going away.
    func close() {
        guard !isClosed else { return }
        // A daemon connection is reusable only between exchanges.
        let idle = !hasExchange && collection == nil
        if let current = exchange {
            if current.streaming { context.statistics.activeStreams.wrappingSubtract(1, ordering: .relaxed) }
            record(current, decision: current.decided == .allow ? .clientGone : current.decided,
                reason: "the connection closed before the answer was complete")
            exchange = nil
        }
        isClosed = true
        cancelTimer()
        closeUpstream(reusable: idle)
        if let registration = clientRegistration { context.loop.deregister(registration, closing: true) }
        Linux.close(client)
        clientRegistration = nil
        context.buffers.release(&input)
        context.buffers.release(&output)
        if let current = state {
            state = nil
            context.states.give(current)
        }
        context.remove(self)
        context.statistics.openConnections.wrappingSubtract(1, ordering: .relaxed)
    }

    // MARK: Audit

    private func methodName(_ head: RequestHead, _ bytes: UnsafeRawBufferPointer) -> String {
        head.method == .other
            ? LocalResponse.printable(UnsafeRawBufferPointer(rebasing: bytes[head.methodBytes]), limit: 32)
            : head.method.name
    }

    private func displayPath(_ head: RequestHead, _ bytes: UnsafeRawBufferPointer) -> String {
        let target = bytes[head.target]
        let end = target.firstIndex(of: UInt8(ascii: "?")) ?? target.endIndex
        return LocalResponse.printable(UnsafeRawBufferPointer(rebasing: bytes[target.startIndex..<end]))
    }

    private func refusal(head: RequestHead, bytes: UnsafeRawBufferPointer, reason: String) -> String {
        "socket-proxy: \(methodName(head, bytes)) \(displayPath(head, bytes)) is refused: \(reason)"
    }

    /// Builds the audit record for a decided request, only if the sink will keep it.
    /// Copies what the audit record needs from the head (whose bytes are gone by the time the answer ends) into
    /// the state's audit text, if the sink will keep a record of this exchange. Allocates nothing.
    private func fillEvent(
        head: RequestHead, bytes: UnsafeRawBufferPointer, target: RequestTarget?, decision: Decision?,
        profile: Profile?
    ) {
        // Captured whenever any outcome could be written (an allowed request can still end as a denial of its
        // body, a daemon error or a client gone); the record is filtered by its final priority. Copying costs
        // little and allocates nothing.
        guard context.audit.threshold >= .err else { return }
        let text = state!.auditText
        var used = 0
        func copy(_ source: UnsafeRawBufferPointer) -> Int {
            let count = min(source.count, text.count - used)
            if count > 0 {
                UnsafeMutableRawBufferPointer(rebasing: text[used..<(used + count)])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: source[0..<count]))
            }
            used += count
            return count
        }
        let raw = UnsafeRawBufferPointer(rebasing: bytes[head.target])
        let mark = raw.firstIndex(of: UInt8(ascii: "?"))
        // Written in place: copying the exchange would copy (and retain) its strings.
        let holder = state!
        holder.exchange!.audited = true
        holder.exchange!.methodCount = copy(UnsafeRawBufferPointer(rebasing: bytes[head.methodBytes]))
        holder.exchange!.pathCount = copy(UnsafeRawBufferPointer(rebasing: raw[..<(mark ?? raw.endIndex)]))
        holder.exchange!.queryCount = mark.map { copy(UnsafeRawBufferPointer(rebasing: raw[($0 + 1)...])) } ?? 0
        holder.exchange!.versionCount =
            target?.version.map { copy(UnsafeRawBufferPointer(rebasing: context.scratch[$0])) } ?? 0
        if let decision, let profile {
            holder.exchange!.section = decision.section
            holder.exchange!.rule = profile.ruleName(for: decision)
            holder.exchange!.profile = profile.name
        }
        let mode = context.policy.mode
        if mode != .enforce { holder.exchange!.mode = mode }
    }

    private func recordStart() {
        guard context.audit.threshold >= .debug, let current = exchange, current.audited else { return }
        var record = auditRecord(current, decision: current.decided)
        record.phase = .start
        context.audit.record(record)
    }

    private func record(_ finished: Exchange, decision: AuditDecision, reason: String?) {
        guard finished.audited else { return }
        var record = auditRecord(finished, decision: decision)
        if let wouldDeny = finished.wouldDeny, decision == .allow {
            // Audit and learn modes: let through, recorded as what enforcing would have done.
            record.decision = .deny
            record.reason = wouldDeny
        }
        guard context.audit.threshold >= record.priority else { return }
        record.durationNanoseconds = Linux.monotonicNanoseconds() &- finished.started
        if let reason, record.reason.isEmpty { record.reason = reason }
        context.audit.record(record)
    }

    /// The exchange as an audit record; its text views point into the state's audit text.
    private func auditRecord(_ current: Exchange, decision: AuditDecision) -> AuditRecord {
        var record = AuditRecord()
        record.requestID = current.id
        record.decision = decision
        if let text = state?.auditText {
            var offset = 0
            func view(_ count: Int) -> UnsafeRawBufferPointer {
                defer { offset += count }
                return UnsafeRawBufferPointer(rebasing: text[offset..<(offset + count)])
            }
            record.method = view(current.methodCount)
            record.path = view(current.pathCount)
            record.query = view(current.queryCount)
            record.apiVersion = view(current.versionCount)
        }
        record.section = current.section
        record.profile = current.profile
        record.rule = current.rule
        // The mode is written only on the records it changed: requests let through that enforcing would deny.
        record.mode = current.wouldDeny == nil ? nil : current.mode
        record.reason = current.reason
        record.listener = listenerName
        record.client = identity
        record.status = current.status
        record.bytesIn = current.bytesIn
        record.bytesOut = current.bytesOut
        record.upgraded = current.upgraded
        return record
    }

    // MARK: Timers

    private func setTimer(_ purpose: TimerPurpose, after nanoseconds: UInt64) {
        guard nanoseconds > 0 else {
            cancelTimer()
            return
        }
        timerPurpose = purpose
        context.loop.schedule(timer, after: nanoseconds)
    }

    private func cancelTimer() {
        timerPurpose = .none
        context.loop.cancel(timer)
    }

    private func touchStreamTimer() {
        guard context.streamIdleTimeout > 0 else { return }
        setTimer(.stream, after: context.streamIdleTimeout)
    }
}

extension Connection.ResponsePhase: Equatable {}
extension Connection.RequestPhase: Equatable {}

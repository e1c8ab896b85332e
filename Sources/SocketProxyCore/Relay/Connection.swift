// One client connection: parse each request head, decide it, relay allowed ones to the daemon, answer the rest.
#if canImport(Glibc)
import Glibc
#endif

/// The per-connection state machine. Requests are handled one at a time in arrival order: the next pipelined head
/// is parsed only after the previous exchange has ended, so answers always go back in order and the daemon never
/// receives a request before it was decided. Heads (and body bytes that arrive with them) pass through a pooled
/// buffer; the rest of each body and every stream moves with splice(2).
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
        /// Filled only when the audit sink wants a record of this priority.
        var event: AuditEvent?
    }

    unowned let context: LoopContext
    let client: FileDescriptor
    let identity: ClientIdentity
    let listenerName: String
    var registryIndex = -1

    private var clientRegistration: Registration?
    private var upstream: FileDescriptor?
    private var upstreamRegistration: Registration?
    private var timer: LoopTimer!
    private var timerPurpose = TimerPurpose.none

    // Edge-triggered readiness: set by events, cleared when a call says it would block.
    private var clientReadable = true
    private var clientWritable = true
    private var upstreamReadable = false
    private var upstreamWritable = false
    /// The client shut down its sending side (EPOLLRDHUP), possibly with bytes still unread.
    private var clientHangup = false
    /// A read from the client returned end of stream.
    private var clientEnded = false
    private var hangupPassedOn = false

    private var input = ByteBuffer()
    private var output = ByteBuffer()
    private var requestParser: RequestHeadParser
    private var responseParser: ResponseHeadParser
    private var requestChunks: ChunkedDecoder
    private var responseChunks: ChunkedDecoder
    /// Bytes at the front of a buffer that the chunked decoder has already checked and that wait to be sent.
    private var requestChecked = 0
    private var responseChecked = 0
    private var requestPipe: SplicePipe?
    private var responsePipe: SplicePipe?

    private var requestPhase = RequestPhase.head
    private var responsePhase = ResponsePhase.idle
    private var requestAfterForward = RequestPhase.sent
    private var responseAfterForward = ResponsePhase.done
    private var exchange: Exchange?
    private var local: [UInt8] = []
    private var served = 0
    private var lingering = false
    private var isClosed = false
    private var lastChunkWasLarge = false

    init(context: LoopContext, client: FileDescriptor, identity: ClientIdentity, listenerName: String) {
        self.context = context
        self.client = client
        self.identity = identity
        self.listenerName = listenerName
        requestParser = RequestHeadParser(limits: context.limits)
        responseParser = ResponseHeadParser(limits: context.limits)
        requestChunks = ChunkedDecoder(limits: context.limits)
        responseChunks = ChunkedDecoder(limits: context.limits)
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
            if exchange == nil && !input.isEmpty {
                startLocalExchange(decision: .malformed, status: 408, reason: "the request head did not arrive in time")
                drive()
            } else if exchange == nil {
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
        if exchange == nil {
            close()
        } else if let current = exchange, current.streaming || current.upgrade {
            abort(.clientGone, reason: "the proxy is shutting down")
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
    }

    private func pumpRequest() -> Bool {
        if lingering { return discardLingering() }
        switch requestPhase {
        case .head:
            guard exchange == nil else { return false }
            return readHead()
        case .forwarding(let count):
            return forwardRequest(count)
        case .lengthBody(let remaining):
            return spliceRequest(remaining)
        case .chunkedBody:
            return relayChunked(request: true)
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
                return false
            }
            context.buffers.attach(&input)
            if input.freeSpace == 0 { input.compact() }
            guard input.freeSpace > 0 else {
                startLocalExchange(decision: .malformed, status: 431, reason: HTTPParseError.headTooLarge.description)
                return true
            }
            let wasEmpty = input.isEmpty
            let space = input.writable(limit: input.freeSpace)
            do {
                switch try Linux.read(client, into: space) {
                case .processed(0):
                    clientEnded = true
                case .processed(let count):
                    input.end += count
                    if count < space.count { clientReadable = false }
                    if wasEmpty && served > 0 { setTimer(.header, after: context.headerTimeout) }
                case .wouldBlock:
                    clientReadable = false
                }
            } catch {
                close()
                return true
            }
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
        let hasBody: Bool
        switch head.framing {
        case .none, .length(0): hasBody = false
        default: hasBody = true
        }
        let target = UnsafeRawBufferPointer(rebasing: bytes[head.target])
        let policy = context.policy
        switch RequestTarget.parse(target, scratch: context.scratch) {
        case .failure(let error):
            current.decided = .malformed
            exchange = current
            fillEvent(head: head, bytes: bytes, target: nil, decision: nil, policy: policy)
            respond(status: 400, message: refusal(head: head, bytes: bytes, reason: error.description), close: true)
            return
        case .success(let parsed):
            let path = UnsafeRawBufferPointer(rebasing: context.scratch[parsed.path])
            let decision = policy.profile.decide(method: head.method, path: path)
            current.decided = decision.allowed ? .allow : .deny
            exchange = current
            fillEvent(head: head, bytes: bytes, target: parsed, decision: decision, policy: policy)
            guard decision.allowed else {
                let message = policy.profile.denialMessage(
                    for: decision, method: methodName(head, bytes), displayPath: displayPath(head, bytes))
                let closeAfter = hasBody || !head.keepAlive
                if !closeAfter { input.consume(head.headEnd) }
                exchange?.event?.reason = message
                respond(status: 403, message: message, close: closeAfter)
                return
            }
        }
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
                exchange?.event?.decision = .malformed
                respond(status: error.status, message: refusal(head: head, bytes: bytes, reason: error.description),
                    close: true)
                return
            }
        }
        requestChecked = 0
        requestPhase = .forwarding(sendCount)
        responseParser.reset()
        cancelTimer()
        if upstream == nil {
            connectUpstream()
        } else {
            responsePhase = .head
        }
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
        case .failed(let error, let side):
            side == .client ? abort(.clientGone, reason: error.description) : upstreamBroke(error)
            return true
        }
    }

    private func tunnelRequest() -> Bool {
        guard let upstream else { return false }
        if !input.isEmpty {
            return forwardBuffered(&input, to: upstream, writable: &upstreamWritable, counter: \.bytesIn)
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
            context.buffers.attach(&input)
            if input.freeSpace == 0 { input.compact() }
            guard input.freeSpace > 0 else { return false }
            let space = input.writable(limit: input.freeSpace)
            do {
                switch try Linux.read(client, into: space) {
                case .processed(0): clientEnded = true
                case .processed(let count): input.end += count
                case .wouldBlock: clientReadable = false
                }
            } catch {
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
        guard let upstream, let method = exchange?.method else { return false }
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
            context.buffers.attach(&output)
            if output.freeSpace == 0 { output.compact() }
            guard output.freeSpace > 0 else {
                failUpstream(reason: "the Docker daemon's response head is too large", status: 502)
                return true
            }
            let space = output.writable(limit: output.freeSpace)
            do {
                switch try Linux.read(upstream, into: space) {
                case .processed(0):
                    failUpstream(reason: "the Docker daemon closed the connection without answering", status: 502)
                    return true
                case .processed(let count):
                    output.end += count
                    if count < space.count { upstreamReadable = false }
                case .wouldBlock:
                    upstreamReadable = false
                    return false
                }
            } catch {
                failUpstream(reason: "reading from the Docker daemon failed: \(error)", status: 502)
                return true
            }
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
        if !head.keepAlive { exchange?.closeAfter = true }
        if head.upgrade {
            guard exchange?.upgrade == true else {
                failUpstream(reason: "the Docker daemon switched protocols without being asked to", status: 502)
                return
            }
            exchange?.streaming = true
            exchange?.event?.upgraded = true
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
        guard exchange?.streaming == false else { return }
        exchange?.streaming = true
        context.statistics.activeStreams.wrappingAdd(1, ordering: .relaxed)
        if context.streamIdleTimeout > 0 { setTimer(.stream, after: context.streamIdleTimeout) }
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
                let ok =
                    request
                    ? sendChecked(&input, count: &requestChecked, to: destination, writable: &upstreamWritable,
                        counter: \.bytesIn)
                    : sendChecked(&output, count: &responseChecked, to: destination, writable: &clientWritable,
                        counter: \.bytesOut)
                switch ok {
                case .some(true): moved = true; continue
                case .some(false): return moved
                case .none: return true
                }
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
            let readable = request ? clientReadable : upstreamReadable
            guard readable else { return moved }
            if request { context.buffers.attach(&input) } else { context.buffers.attach(&output) }
            if request { input.compact() } else { output.compact() }
            let free = request ? input.freeSpace : output.freeSpace
            guard free > 0 else { return chunkFailure("chunk framing too large", side: request ? .client : .upstream) }
            let limit = lastChunkWasLarge ? min(free, 64) : free
            let space = request ? input.writable(limit: limit) : output.writable(limit: limit)
            do {
                switch try Linux.read(source, into: space) {
                case .processed(0):
                    return chunkFailure("the connection closed in the middle of a chunked body",
                        side: request ? .client : .upstream)
                case .processed(let count):
                    if request { input.end += count } else { output.end += count }
                    if count < space.count {
                        if request { clientReadable = false } else { upstreamReadable = false }
                    }
                    moved = true
                case .wouldBlock:
                    if request { clientReadable = false } else { upstreamReadable = false }
                    return moved
                }
            } catch {
                return chunkFailure(error.description, side: request ? .client : .upstream)
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

    /// Sends the first `count` buffered bytes; true when some went, false when blocked, nil when the connection
    /// failed and was closed.
    private func sendChecked(
        _ buffer: inout ByteBuffer, count: inout Int, to fd: FileDescriptor, writable: inout Bool,
        counter: WritableKeyPath<Exchange, UInt64>
    ) -> Bool? {
        guard writable else { return false }
        do {
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
        } catch {
            abort(fd == client ? .clientGone : .upstreamError, reason: error.description)
            return nil
        }
    }

    private func forwardBuffered(
        _ buffer: inout ByteBuffer, to fd: FileDescriptor, writable: inout Bool,
        counter: WritableKeyPath<Exchange, UInt64>
    ) -> Bool {
        var count = buffer.count
        return sendChecked(&buffer, count: &count, to: fd, writable: &writable, counter: counter) ?? true
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
                        sourceReadable = false
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
        do {
            switch try Socket.connect(to: context.upstream) {
            case .processed(let fd):
                upstream = fd
                upstreamRegistration = try context.loop.register(
                    fd, interest: [.readable, .writable, .readHangup], edgeTriggered: true, handler: self)
                upstreamWritable = true
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

    private var connectDeadline: UInt64 = 0

    /// The daemon failed before any of its answer reached the client: answer 502 (or `status`) ourselves.
    private func failUpstream(reason: String, status: Int) {
        guard exchange != nil else {
            closeUpstream()
            return
        }
        context.statistics.upstreamErrors.wrappingAdd(1, ordering: .relaxed)
        exchange?.decided = .upstreamError
        exchange?.event?.decision = .upstreamError
        exchange?.upstreamReusable = false
        closeUpstream()
        if exchange!.bytesOut > 0 || exchange!.streaming {
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
        respond(status: status, message: "socket-proxy: \(reason)", close: exchange!.closeAfter)
    }

    private func upstreamBroke(_ error: SystemError) {
        failUpstream(reason: "sending to the Docker daemon failed: \(error)", status: 502)
    }

    private func closeUpstream() {
        guard let fd = upstream else { return }
        if let registration = upstreamRegistration { context.loop.deregister(registration) }
        Linux.close(fd)
        upstream = nil
        upstreamRegistration = nil
        upstreamReadable = false
        upstreamWritable = false
        releasePipe(&requestPipe)
        releasePipe(&responsePipe)
        context.buffers.release(&output)
    }

    // MARK: Our own answers

    /// Starts an exchange for something that never became a decidable request (bad head, timeout).
    private func startLocalExchange(decision: AuditDecision, status: Int, reason: String) {
        exchange = Exchange(
            started: context.loop.now, id: context.statistics.nextRequestID.wrappingAdd(1, ordering: .relaxed).oldValue,
            method: .other, keepAlive: false, upgrade: false, decided: decision)
        if context.audit.threshold >= .warning {
            var event = AuditEvent()
            event.decision = decision
            event.listener = listenerName
            event.client = identity
            event.reason = reason
            exchange?.event = event
        }
        respond(status: status, message: "socket-proxy: \(reason)", close: true)
    }

    private func respond(status: Int, message: String, close: Bool) {
        exchange?.status = status
        if close { exchange?.closeAfter = true }
        if exchange?.event?.reason.isEmpty == true { exchange?.event?.reason = message }
        switch exchange!.decided {
        case .deny: context.statistics.deniedRequests.wrappingAdd(1, ordering: .relaxed)
        case .malformed: context.statistics.malformedRequests.wrappingAdd(1, ordering: .relaxed)
        default: break
        }
        local = LocalResponse.make(status: status, message: message, close: exchange!.closeAfter)
        if case .head = requestPhase { requestPhase = .sent }
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
        guard let finished = exchange else { return }
        if finished.decided == .allow { context.statistics.allowedRequests.wrappingAdd(1, ordering: .relaxed) }
        if finished.streaming { context.statistics.activeStreams.wrappingSubtract(1, ordering: .relaxed) }
        record(finished, decision: finished.decided, reason: nil)
        exchange = nil
        releasePipe(&requestPipe)
        releasePipe(&responsePipe)
        if !finished.upstreamReusable { closeUpstream() }
        if finished.closeAfter || context.draining || clientEnded && input.isEmpty {
            closeGracefully()
            return
        }
        requestPhase = .head
        responsePhase = .idle
        requestParser.reset()
        context.buffers.detachIfEmpty(&input)
        context.buffers.detachIfEmpty(&output)
        if input.isEmpty {
            setTimer(.idle, after: context.idleTimeout)
        } else {
            setTimer(.header, after: context.headerTimeout)
        }
    }

    /// After a final answer: stop sending, then read and drop what the client still sends for a moment, so that
    /// closing with unread bytes does not reset the connection before the client has read our answer.
    private func closeGracefully() {
        closeUpstream()
        if clientEnded {
            close()
            return
        }
        Linux.shutdownWrite(client)
        lingering = true
        context.buffers.release(&input)
        setTimer(.linger, after: 2_000_000_000)
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
        if let current = exchange {
            if current.streaming { context.statistics.activeStreams.wrappingSubtract(1, ordering: .relaxed) }
            record(current, decision: current.decided == .allow ? .clientGone : current.decided,
                reason: "the connection closed before the answer was complete")
            exchange = nil
        }
        isClosed = true
        cancelTimer()
        closeUpstream()
        if let registration = clientRegistration { context.loop.deregister(registration) }
        Linux.close(client)
        clientRegistration = nil
        context.buffers.release(&input)
        context.buffers.release(&output)
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
    private func fillEvent(
        head: RequestHead, bytes: UnsafeRawBufferPointer, target: RequestTarget?, decision: Decision?,
        policy: PolicySnapshot
    ) {
        let priority: AuditPriority = decision?.allowed == true ? .info : .warning
        guard context.audit.threshold >= priority || (head.upgrade && context.audit.threshold >= .debug) else {
            return
        }
        var event = AuditEvent()
        event.requestID = exchange!.id
        event.method = methodName(head, bytes)
        event.path = displayPath(head, bytes)
        if let target {
            if let query = target.query {
                let raw = UnsafeRawBufferPointer(rebasing: bytes[head.target])
                event.query = LocalResponse.printable(UnsafeRawBufferPointer(rebasing: raw[query]))
            }
            if let version = target.version {
                event.apiVersion = String(decoding: UnsafeRawBufferPointer(rebasing: context.scratch[version]), as: UTF8.self)
            }
        }
        if let decision {
            event.section = decision.section?.rawValue ?? ""
            event.rule = policy.profile.ruleName(for: decision)
        }
        event.listener = listenerName
        event.client = identity
        exchange!.event = event
    }

    private func recordStart() {
        guard context.audit.threshold >= .debug, var event = exchange?.event else { return }
        event.phase = .start
        event.status = exchange!.status
        context.audit.record(event)
    }

    private func record(_ finished: Exchange, decision: AuditDecision, reason: String?) {
        guard var event = finished.event else { return }
        event.decision = decision
        guard context.audit.threshold >= event.priority else { return }
        event.status = finished.status
        event.bytesIn = finished.bytesIn
        event.bytesOut = finished.bytesOut
        event.durationNanoseconds = Linux.monotonicNanoseconds() &- finished.started
        if let reason, event.reason.isEmpty { event.reason = reason }
        context.audit.record(event)
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

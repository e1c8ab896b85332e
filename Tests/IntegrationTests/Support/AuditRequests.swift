// Sending single requests on fresh raw connections and remembering what a correct audit record must say about
// them: the client port, the bytes sent and the bytes received.
import Foundation

/// One connection's worth of requests and what came back.
struct SentRequests: Sendable, CustomStringConvertible {
    /// The client port the proxy saw.
    let clientPort: Int
    /// The byte count of each request as sent.
    let requestBytes: [Int]
    /// Every byte received on the connection.
    let receivedBytes: Int
    /// The responses, in order.
    let responses: [RawResponse]

    var description: String {
        "client port \(clientPort), sent \(requestBytes) bytes, received \(receivedBytes) bytes, statuses "
            + "\(responses.map(\.status))"
    }
}

extension ProxyProcess {
    /// Sends `requests` in one write on a fresh connection, reads `requests.count` responses (or until the proxy
    /// closes), then, when `waitForClose`, reads until the proxy closes the connection.
    func send(_ requests: [String], waitForClose: Bool = true) async throws -> SentRequests {
        try await send(requests, to: connect(), waitForClose: waitForClose)
    }

    /// The same on a given connection.
    func send(_ requests: [String], to connection: RawHTTPConnection, waitForClose: Bool = true) async throws
        -> SentRequests
    {
        defer { connection.close() }
        guard let port = connection.localPort else { throw HarnessError("no local port on a TCP connection") }
        try await connection.send(requests.joined())
        let exchange = try await connection.readResponses(count: requests.count)
        if waitForClose {
            guard try await connection.waitForClose() else {
                throw HarnessError("the proxy kept the connection open after \(exchange)\nproxy log:\n\(tail(log))")
            }
        }
        return SentRequests(
            clientPort: port, requestBytes: requests.map { $0.utf8.count }, receivedBytes: connection.bytesReceived,
            responses: exchange.responses)
    }
}

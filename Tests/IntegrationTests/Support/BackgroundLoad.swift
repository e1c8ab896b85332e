// Requests kept going in the background on keep-alive connections while a test does something else to the proxy,
// with every answer checked: the proof that a fault elsewhere did not disturb other clients.
import Foundation
import Synchronization

/// One kind of request of a background load and the status it must get.
struct ExpectedExchange: Sendable {
    let method: String
    let request: String
    let status: Int

    /// `GET path` expecting `status`.
    static func get(_ path: String, _ status: Int) -> ExpectedExchange {
        ExpectedExchange(method: "GET", request: RawRequest.make("GET", path), status: status)
    }
}

/// Keep-alive clients sending a cycle of requests, `depth` pipelined at a time, until stopped.
final class BackgroundLoad: Sendable {
    /// What the load saw.
    struct Summary: Sendable, CustomStringConvertible {
        var requests = 0
        var connections = 0
        /// Answers that were not what the request must get, failed connections, timeouts (the first few).
        var problems: [String] = []
        var problemCount = 0
        /// Round-trip time of each batch, in milliseconds.
        var latencies: [Double] = []

        var description: String {
            let sorted = latencies.sorted()
            func percentile(_ p: Double) -> Double {
                sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
            }
            return "\(requests) requests on \(connections) connections, \(problemCount) problems, batch latency "
                + String(
                    format: "p50 %.1f ms, p99 %.1f ms, max %.1f ms", percentile(0.5), percentile(0.99),
                    sorted.last ?? 0)
                + (problems.isEmpty ? "" : "; first problems:\n" + problems.joined(separator: "\n"))
        }
    }

    private let tasks: [Task<Summary, Never>]
    private let stopFlag: StopFlag

    /// Starts `connections` clients on 127.0.0.1:`port`, each sending `exchanges` in turn, `depth` at a time.
    init(port: Int, connections: Int = 2, depth: Int = 1, exchanges: [ExpectedExchange]) {
        var started: [Task<Summary, Never>] = []
        let stop = StopFlag()
        for index in 0..<connections {
            started.append(
                Task.detached {
                    await Self.client(port: port, depth: depth, exchanges: exchanges, offset: index, stop: stop)
                })
        }
        tasks = started
        stopFlag = stop
    }

    /// Stops the clients after their current batch and returns what they saw.
    func stop() async -> Summary {
        stopFlag.set()
        var total = Summary()
        for task in tasks {
            let part = await task.value
            total.requests += part.requests
            total.connections += part.connections
            total.problemCount += part.problemCount
            total.problems += part.problems.prefix(max(0, 10 - total.problems.count))
            total.latencies += part.latencies
        }
        return total
    }

    private static func client(
        port: Int, depth: Int, exchanges: [ExpectedExchange], offset: Int, stop: StopFlag
    ) async -> Summary {
        var summary = Summary()
        var connection: RawHTTPConnection?
        var next = offset
        let clock = ContinuousClock()
        func problem(_ text: String) {
            summary.problemCount += 1
            if summary.problems.count < 10 { summary.problems.append(text) }
        }
        while !stop.isSet {
            do {
                if connection == nil {
                    connection = try RawHTTPConnection.tcp(port: port)
                    summary.connections += 1
                }
                guard let current = connection else { continue }
                var batch: [ExpectedExchange] = []
                for _ in 0..<depth {
                    batch.append(exchanges[next % exchanges.count])
                    next += 1
                }
                let started = clock.now
                try await current.send(batch.map(\.request).joined())
                let exchange = try await current.readResponses(
                    count: batch.count, methods: batch.map(\.method), timeout: .seconds(30))
                summary.latencies.append((clock.now - started).seconds * 1000)
                summary.requests += batch.count
                for (index, response) in exchange.responses.enumerated() where response.status != batch[index].status {
                    problem(
                        "\(batch[index].request.prefix { $0 != "\r" }) got \(response.status), wanted "
                            + "\(batch[index].status): \(response.bodyText.prefix(200))")
                }
                if exchange.responses.count < batch.count {
                    problem("\(batch.count - exchange.responses.count) of \(batch.count) answers missing: \(exchange)")
                    current.close()
                    connection = nil
                } else if exchange.closedByPeer {
                    current.close()
                    connection = nil
                }
            } catch {
                problem("\(error)")
                connection?.close()
                connection = nil
                try? await Task.sleep(for: .milliseconds(50))
            }
        }
        connection?.close()
        return summary
    }
}

/// A flag set once, read from any thread.
final class StopFlag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .releasing) }
    var isSet: Bool { value.load(ordering: .acquiring) }
}

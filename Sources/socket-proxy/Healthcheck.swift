// `socket-proxy healthcheck`: is the proxy answering, and is the daemon behind it? For container HEALTHCHECKs.
import ArgumentParser
import SocketProxyCore

#if canImport(Glibc)
import Glibc
#endif

struct Healthcheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Exit 0 when the proxy answers and the Docker daemon behind it answers /_ping.",
        discussion: """
            Sends GET /_ping to the proxy. A 200 means both answer. When the policy denies /_ping (PING=0), the \
            daemon's socket is asked directly. Any other outcome exits 1 with the reason on stderr. Made for \
            HEALTHCHECK lines in images without curl: HEALTHCHECK CMD ["socket-proxy", "healthcheck"].
            """
    )

    @Option(
        help: ArgumentHelp(
            "The proxy's address (default: the first LISTEN address, *:PORT asked on 127.0.0.1, else 127.0.0.1:2375).",
            valueName: "address"))
    var address: String?

    @Option(help: ArgumentHelp("The daemon's socket, asked when /_ping is denied. Env: SOCKET_PATH.", valueName: "path"))
    var socketPath: String?

    @Option(help: ArgumentHelp("Seconds to wait for each answer.", valueName: "seconds"))
    var timeout: Double = 3

    func run() throws {
        let environment = ProcessEnvironment.all
        let target = try proxyAddress(environment)
        switch PingProbe.ping(target, timeout: .seconds(timeout)) {
        case .failure(let error):
            fail("socket-proxy does not answer on \(target): \(error)")
        case .success(let answer) where answer.status == 200:
            print("healthy: socket-proxy on \(target) and the Docker daemon behind it answer")
        case .success(let answer) where answer.status == 403:
            let socket = socketPath ?? environment["SOCKET_PATH"] ?? "/var/run/docker.sock"
            switch PingProbe.ping(.unix(socket), timeout: .seconds(timeout)) {
            case .success(let direct) where direct.status == 200:
                print("healthy: socket-proxy on \(target) answers (/_ping is denied by the policy); the daemon at \(socket) answers")
            case .success(let direct):
                fail("the Docker daemon at \(socket) answered /_ping with \(direct.status)")
            case .failure(let error):
                fail("socket-proxy answers, but the Docker daemon at \(socket) does not: \(error)")
            }
        case .success(let answer) where answer.status == 502 || answer.status == 504:
            fail("socket-proxy answers, but the Docker daemon behind it does not: \(answer.body)")
        case .success(let answer):
            fail("socket-proxy on \(target) answered /_ping with \(answer.status): \(answer.body)")
        }
    }

    private func proxyAddress(_ environment: [String: String]) throws -> SocketAddress {
        var text = address ?? environment["LISTEN"]?.split(separator: ",").first.map(String.init) ?? "127.0.0.1:2375"
        text = text.trimmingCharacters(in: " \t")
        if text.hasPrefix("*:") { text = "127.0.0.1:" + text.dropFirst(2) }
        if text.hasPrefix("0.0.0.0:") { text = "127.0.0.1:" + text.dropFirst(8) }
        if text.hasPrefix("[::]:") { text = "[::1]:" + text.dropFirst(5) }
        do {
            return try SocketAddress(parsing: text)
        } catch {
            throw ValidationError(error.message)
        }
    }

    private func fail(_ reason: String) -> Never {
        var line = "unhealthy: \(reason)\n"
        line.withUTF8 { bytes in _ = write(2, bytes.baseAddress, bytes.count) }
        Glibc.exit(1)
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: String) -> String {
        var text = Substring(self)
        while let first = text.first, set.contains(first) { text.removeFirst() }
        while let last = text.last, set.contains(last) { text.removeLast() }
        return String(text)
    }
}

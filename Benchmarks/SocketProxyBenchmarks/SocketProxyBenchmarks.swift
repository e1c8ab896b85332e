// In-process figures: parser throughput, policy decisions per second, and heap allocations per proxied request.
import Benchmark
import SocketProxyCore

#if canImport(Glibc)
import Glibc
#endif

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.throughput, .wallClock, .mallocCountTotal], warmupIterations: 10, scalingFactor: .kilo,
        maxDuration: .seconds(2), maxIterations: 1000)

    let request = Array(
        "GET /v1.41/containers/json?all=1 HTTP/1.1\r\nHost: 127.0.0.1:2375\r\nUser-Agent: Docker-Client/28.2.2 (linux)\r\n\r\n"
            .utf8)
    let response = Array(
        ("HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Type: application/json\r\nDocker-Experimental: false\r\n"
            + "Ostype: linux\r\nServer: Docker/20.10.24 (linux)\r\nDate: Sun, 29 Nov 2026 16:37:54 GMT\r\n"
            + "Content-Length: 3\r\n\r\n[]\n").utf8)

    Benchmark("Parser.RequestHead") { benchmark in
        var parser = RequestHeadParser()
        request.withUnsafeBytes { bytes in
            for _ in benchmark.scaledIterations {
                parser.reset()
                blackHole(parser.parse(bytes))
            }
        }
    }

    Benchmark("Parser.ResponseHead") { benchmark in
        var parser = ResponseHeadParser()
        response.withUnsafeBytes { bytes in
            for _ in benchmark.scaledIterations {
                parser.reset()
                blackHole(parser.parse(bytes, requestMethod: .get))
            }
        }
    }

    Benchmark("Policy.NormaliseAndDecideTecnativa") { benchmark in
        let profile = try TecnativaSettings(environment: ["CONTAINERS": "1", "IMAGES": "1", "POST": "1"]).profile()
        let target = Array("/v1.41/containers/abc/json?size=1".utf8)
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 8192, alignment: 8)
        defer { scratch.deallocate() }
        target.withUnsafeBytes { bytes in
            for _ in benchmark.scaledIterations {
                guard case .success(let parsed) = RequestTarget.parse(bytes, scratch: scratch) else { return }
                let path = UnsafeRawBufferPointer(rebasing: scratch[parsed.path])
                blackHole(profile.decide(method: .get, path: path))
            }
        }
    }

    // The allocation check of Docs/performance.md: a keep-alive client, the proxy with its audit trail at
    // LOG_LEVEL=info (records formatted as logfmt into /dev/null), and a daemon that answers at once. The rig is
    // set up once; after warm-up, each iteration is one proxied request and must cost zero heap allocations in
    // the whole process. scripts/check-allocations.sh runs it in CI and fails on any allocation.
    Benchmark(
        "Allocations.ProxiedRequestKeepAlive",
        configuration: .init(
            metrics: [.mallocCountTotal], warmupIterations: 200, scalingFactor: .one,
            maxDuration: .seconds(3), maxIterations: 5000),
        closure: { benchmark in
            guard let rig = ProxyRig.shared else { fatalError("the rig was not set up") }
            for _ in benchmark.scaledIterations {
                rig.roundTrip(request)
            }
        },
        setup: { ProxyRig.shared = try ProxyRig(response: response) },
        teardown: {
            ProxyRig.shared?.stop()
            ProxyRig.shared = nil
        })
}

// swift-tools-version: 6.1
// socket-proxy: a policy-checking proxy for the Docker Engine API socket.
import PackageDescription

let package = Package(
    name: "socket-proxy",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "SocketProxyCore", targets: ["SocketProxyCore"]),
        .executable(name: "socket-proxy", targets: ["socket-proxy"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        // In-process benchmarks (Benchmarks/), with heap allocation counters.
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // Linux calls the Swift importer cannot see (epoll, splice, pipe2, accept4, eventfd, SO_PEERCRED).
        .target(name: "CSocketProxyLinux"),
        // libsystemd: the journal and the sd_notify / socket-activation protocol.
        .systemLibrary(
            name: "CSystemd",
            pkgConfig: "libsystemd",
            providers: [.apt(["libsystemd-dev"])]
        ),
        .target(
            name: "SocketProxyCore",
            dependencies: [
                "CSocketProxyLinux",
                "CSystemd",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "socket-proxy",
            dependencies: [
                "SocketProxyCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["HotFunctions.order"],
            linkerSettings: [
                // Release builds place the functions that serve requests side by side (HotFunctions.order, made by
                // scripts/generate-link-order.sh), so they fault in a few hundred KiB of code instead of about
                // 2 MiB spread over the whole binary. lld comes with the Swift toolchain.
                .unsafeFlags(
                    [
                        "-use-ld=lld",
                        "-Xlinker", "--symbol-ordering-file=\(Context.packageDirectory)/Sources/socket-proxy/HotFunctions.order",
                        "-Xlinker", "--no-warn-symbol-ordering",
                    ],
                    .when(platforms: [.linux], configuration: .release)
                )
            ]
        ),
        // `swift package benchmark`: parser throughput, policy decisions, allocations per proxied request.
        .executableTarget(
            name: "SocketProxyBenchmarks",
            dependencies: [
                "SocketProxyCore",
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/SocketProxyBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .testTarget(
            name: "SocketProxyCoreTests",
            dependencies: ["SocketProxyCore"]
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["SocketProxyCore"]
        ),
    ]
)

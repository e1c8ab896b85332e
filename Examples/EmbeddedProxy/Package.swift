// swift-tools-version: 6.1
// EmbeddedProxy: SocketProxyCore in a program of its own, with a profile built in code.
//
//   swift build --package-path Examples/EmbeddedProxy
//   Examples/EmbeddedProxy/.build/debug/EmbeddedProxy /var/run/docker.sock 127.0.0.1:2376
import PackageDescription

let package = Package(
    name: "EmbeddedProxy",
    platforms: [.macOS(.v15)],
    dependencies: [
        // The socket-proxy package in this repository; name: gives the path dependency the identity the product
        // below refers to, whatever the checkout's folder is called.
        .package(name: "socket-proxy", path: "../..")
    ],
    targets: [
        .executableTarget(
            name: "EmbeddedProxy",
            dependencies: [.product(name: "SocketProxyCore", package: "socket-proxy")]
        )
    ]
)

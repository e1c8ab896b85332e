// The test image socket-proxy-test/busybox:latest: Debian's static busybox imported as a one-layer image, made
// once per daemon (no registry is needed or reachable).
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The image every test container runs.
enum TestImage {
    /// Its reference.
    static let reference = "socket-proxy-test/busybox:latest"

    /// Makes sure the image exists on the daemon; imports it on first use. Safe to call from parallel tests and
    /// from several test processes sharing one daemon.
    static func ensure(on daemon: TestDaemon) async throws {
        try await ImageRegistry.shared.ensure(on: daemon)
    }

    /// The static busybox to put in the image: `SOCKET_PROXY_TEST_BUSYBOX`, else Debian's busybox-static.
    static var busyboxPath: String {
        ProcessInfo.processInfo.environment["SOCKET_PROXY_TEST_BUSYBOX"] ?? "/bin/busybox"
    }
}

/// Imports the image at most once per daemon socket in this process.
private actor ImageRegistry {
    static let shared = ImageRegistry()
    private var tasks: [String: Task<Void, Error>] = [:]

    func ensure(on daemon: TestDaemon) async throws {
        if let task = tasks[daemon.socketPath] { return try await task.value }
        let task = Task { try await Self.importIfMissing(on: daemon) }
        tasks[daemon.socketPath] = task
        try await task.value
    }

    private static func importIfMissing(on daemon: TestDaemon) async throws {
        if try await daemon.api.image(TestImage.reference) != nil { return }
        // Another test process may be importing into the same daemon: take a machine-wide lock and look again.
        let lock = open("/tmp/socket-proxy-test-image.lock", O_CREAT | O_RDWR | O_CLOEXEC, 0o666)
        guard lock >= 0 else { throw HarnessError("open the image lock: \(String(cString: strerror(errno)))") }
        defer { close(lock) }
        while flock(lock, LOCK_EX | LOCK_NB) != 0 {
            try await Task.sleep(for: .milliseconds(100))
        }
        defer { flock(lock, LOCK_UN) }
        if try await daemon.api.image(TestImage.reference) != nil { return }
        try await importImage(on: daemon)
    }

    private static func importImage(on daemon: TestDaemon) async throws {
        let busybox = TestImage.busyboxPath
        guard FileManager.default.isExecutableFile(atPath: busybox) else {
            throw HarnessError(
                "the test image needs a static busybox at \(busybox) (Debian package busybox-static, "
                    + "or set SOCKET_PROXY_TEST_BUSYBOX)")
        }
        let listing = try await ChildProcess.run(busybox, ["--list"])
        guard listing.succeeded, !listing.lines.isEmpty else {
            throw HarnessError("`\(busybox) --list` failed; is it busybox?\n\(listing)")
        }

        let folder = ChildProcess.scratch.appendingPathComponent("image-\(UUID().uuidString.prefix(8))")
        let root = folder.appendingPathComponent("rootfs")
        defer { try? FileManager.default.removeItem(at: folder) }
        let files = FileManager.default
        for directory in ["bin", "etc", "tmp", "proc", "sys", "dev", "root"] {
            try files.createDirectory(at: root.appendingPathComponent(directory), withIntermediateDirectories: true)
        }
        chmod(root.appendingPathComponent("tmp").path, 0o1777)
        try files.copyItem(atPath: busybox, toPath: root.appendingPathComponent("bin/busybox").path)
        for applet in listing.lines where applet != "busybox" && !applet.contains("/") {
            try files.createSymbolicLink(
                atPath: root.appendingPathComponent("bin/" + applet).path, withDestinationPath: "busybox")
        }
        try Data("root:x:0:0:root:/root:/bin/sh\n".utf8).write(to: root.appendingPathComponent("etc/passwd"))
        try Data("root:x:0:\n".utf8).write(to: root.appendingPathComponent("etc/group"))

        let tarball = folder.appendingPathComponent("rootfs.tar")
        let tar = try await ChildProcess.run(
            "tar", ["--numeric-owner", "--owner=0", "--group=0", "-C", root.path, "-cf", tarball.path, "."])
        guard tar.succeeded else { throw HarnessError("packing the test image's rootfs failed:\n\(tar)") }
        let imported = try await daemon.docker.run(
            ["import", "--change", #"CMD ["/bin/sh"]"#, tarball.path, TestImage.reference], timeout: .seconds(120))
        guard imported.succeeded else {
            throw HarnessError("`docker import` of the test image into \(daemon.origin) failed:\n\(imported)")
        }
    }
}

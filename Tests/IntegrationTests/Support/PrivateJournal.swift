// A systemd-journald of the test's own, which it can kill, freeze and start again without touching the machine's
// journal: it runs in a private mount namespace where the journal's fixed paths are the test's folders.
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A real systemd-journald listening on `/run/systemd/journal/socket` inside a mount namespace of its own, in which
/// `/run/systemd/journal`, `/run/log/journal` and (when the machine has it) `/var/log/journal` are bind mounts of
/// folders under /tmp. A proxy started with ``launcher`` lives in that namespace and logs there, through the same
/// fixed path libsystemd always uses; the machine's own journald never sees it.
///
/// The namespace is held by a `sleep` started with `unshare`; journald and proxies join it with `nsenter`, which
/// execs them, so their process ids are their own.
final class PrivateJournal: @unchecked Sendable {
    // @unchecked: owned by one test task.
    /// The folder holding the namespace's journal directories.
    let folder: String
    private let holder: RunningChild
    private var journald: RunningChild?

    private init(folder: String, holder: RunningChild) {
        self.folder = folder
        self.holder = holder
    }

    /// The journal's socket as seen from outside the namespace.
    var socketPath: String { folder + "/run/socket" }
    /// Where the journal files go, for `journalctl -D`.
    var journalFolder: String { folder + "/log" }
    /// The command prefix that runs a program in the namespace (it execs it: same process id).
    var launcher: [String] { ["nsenter", "--target", String(holder.pid), "--mount", "--"] }
    /// The running journald's process id.
    var journaldPID: pid_t? { journald?.isRunning == true ? journald?.pid : nil }

    /// Runs `body` with a private journald started, and removes it all afterwards, also when `body` throws.
    static func with<T>(_ test: IntegrationContext, _ body: (PrivateJournal) async throws -> T) async throws -> T {
        guard geteuid() == 0 else {
            throw HarnessError(
                "the journald-failure tests run a private systemd-journald in a mount namespace of their own: that "
                    + "needs root (euid \(geteuid()))")
        }
        for tool in ["unshare", "nsenter", "journalctl"] where ChildProcess.which(tool) == nil {
            throw HarnessError("`\(tool)` is not installed: the journald-failure tests need it (util-linux, systemd)")
        }
        guard journaldBinary != nil else {
            throw HarnessError(
                "systemd-journald is not installed (looked in /lib/systemd and /usr/lib/systemd): the "
                    + "journald-failure tests need it (Debian package systemd)")
        }
        var template = Array("/tmp/spjd-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else {
            throw HarnessError("mkdtemp for the private journald: \(String(cString: strerror(errno)))")
        }
        let folder = String(cString: made)
        for sub in ["run", "log", "var"] {
            try FileManager.default.createDirectory(atPath: folder + "/" + sub, withIntermediateDirectories: true)
        }
        let script = """
            set -e
            folder=$1
            mkdir -p /run/systemd/journal /run/log/journal
            mount --bind "$folder/run" /run/systemd/journal
            mount --bind "$folder/log" /run/log/journal
            if [ -d /var/log/journal ]; then mount --bind "$folder/var" /var/log/journal; fi
            exec sleep 100000
            """
        let holder = try ChildProcess.start(
            "unshare", ["--mount", "--propagation", "private", "--", "/bin/sh", "-c", script, "sh", folder])
        let journal = PrivateJournal(folder: folder, holder: holder)
        do {
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(10)
            while (try? String(contentsOfFile: "/proc/\(holder.pid)/comm", encoding: .utf8)) != "sleep\n" {
                guard holder.isRunning, clock.now < deadline else {
                    let result = await holder.wait(timeout: .seconds(1))
                    throw HarnessError("could not set up the private journal's mount namespace:\n\(result)")
                }
                try await Task.sleep(for: .milliseconds(20))
            }
            try await journal.startJournald()
            let result = try await body(journal)
            await journal.remove()
            return result
        } catch {
            await journal.remove()
            throw error
        }
    }

    static var journaldBinary: String? {
        ["/lib/systemd/systemd-journald", "/usr/lib/systemd/systemd-journald"].first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
    }

    /// Starts journald (again) in the namespace and waits until its socket accepts datagrams.
    func startJournald() async throws {
        guard journaldPID == nil, let binary = Self.journaldBinary else { return }
        let child = try ChildProcess.start(launcher[0], Array(launcher.dropFirst()) + [binary], mergeErrors: true)
        journald = child
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(10)
        while !Self.acceptsDatagrams(socketPath) {
            guard child.isRunning, clock.now < deadline else {
                throw HarnessError(
                    "the private systemd-journald did not listen on \(socketPath):\n\(child.stdoutSoFar)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Kills journald with SIGKILL and waits until it is gone; its socket file stays and refuses datagrams.
    func killJournald() async {
        guard let journald else { return }
        journald.signal(SIGKILL)
        _ = await journald.wait(timeout: .seconds(5))
        self.journald = nil
    }

    /// Freezes journald (SIGSTOP): its socket still accepts datagrams until its queue is full, then senders block.
    func freezeJournald() {
        if let pid = journaldPID { kill(pid, SIGSTOP) }
    }

    /// Lets a frozen journald run again (SIGCONT).
    func thawJournald() {
        if let pid = journaldPID { kill(pid, SIGCONT) }
    }

    /// The entries of the private journal matching `arguments` (journalctl matches such as `_PID=123`).
    func entries(_ arguments: [String]) async throws -> [JournalEntry] {
        let result = try await ChildProcess.run(
            "journalctl", ["--directory", journalFolder, "--no-pager", "--output", "json"] + arguments,
            timeout: .seconds(30))
        // journalctl exits 1 with "No entries" on an empty journal folder.
        guard result.exitCode == 0 || result.stdout.isEmpty else {
            throw HarnessError("journalctl on the private journal failed:\n\(result)")
        }
        return result.stdout.split(separator: "\n").compactMap { JournalEntry(jsonLine: $0) }
    }

    /// Reads `entries` again and again until `done` holds or `timeout` passes; returns the last reading.
    func waitForEntries(
        _ arguments: [String], timeout: Duration = .seconds(10), until done: ([JournalEntry]) -> Bool
    ) async throws -> [JournalEntry] {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while true {
            let entries = try await entries(arguments)
            if done(entries) || clock.now >= deadline { return entries }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    private func remove() async {
        thawJournald()
        if let journald { await journald.stop(grace: .seconds(2)) }
        journald = nil
        await holder.stop(grace: .seconds(2))
        try? FileManager.default.removeItem(atPath: folder)
    }

    /// Whether a datagram socket at `path` accepts a connection (a journald listens there).
    static func acceptsDatagrams(_ path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        return result == 0
    }
}

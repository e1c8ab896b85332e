// Running helper programs (docker, dockerd, the proxy, sha256sum, tar) with files for their output and a time
// limit, spawned with a clean signal state.
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Where a child process reads its standard input from.
enum ChildInput: Sendable {
    /// `/dev/null`: the child sees end-of-file at once.
    case none
    /// These bytes, then end-of-file.
    case data(Data)
    /// The contents of a file, then end-of-file.
    case file(URL)
    /// A socket the test writes to through `RunningChild.write` and closes with `closeInput`.
    case interactive
}

/// The outcome of a finished child process.
struct ChildResult: Sendable, CustomStringConvertible {
    /// The command line, for messages.
    let command: [String]
    /// The exit status, or 128 + signal number when a signal ended it.
    let exitCode: Int32
    /// Everything the child wrote to standard output.
    let stdoutData: Data
    /// Everything the child wrote to standard error.
    let stderrData: Data
    /// Whether the harness had to kill the child because it ran past its time limit.
    let timedOut: Bool

    /// Standard output as text.
    var stdout: String { String(decoding: stdoutData, as: UTF8.self) }
    /// Standard error as text.
    var stderr: String { String(decoding: stderrData, as: UTF8.self) }
    /// Exit status 0 within the time limit.
    var succeeded: Bool { exitCode == 0 && !timedOut }
    /// Standard output split into lines, without empty ones.
    var lines: [String] { stdout.split(whereSeparator: \.isNewline).map(String.init) }

    var description: String {
        let status = timedOut ? "timed out (killed)" : "exited with status \(exitCode)"
        return """
            `\(command.joined(separator: " "))` \(status)
            --- stdout ---
            \(tail(stdout, limit: 2000))
            --- stderr ---
            \(tail(stderr, limit: 2000))
            """
    }
}

/// A child process that is still running: the test can feed it input, watch its output and stop it.
final class RunningChild: @unchecked Sendable {
    // @unchecked: the mutable state (exit status, input socket) is guarded by `lock`.
    let command: [String]
    /// The process id, for signals.
    let pid: pid_t
    private let stdoutURL: URL
    private let stderrURL: URL
    private let cleanupURLs: [URL]
    private let lock = NSLock()
    private var status: Int32?
    private var inputFD: Int32

    fileprivate init(command: [String], pid: pid_t, stdoutURL: URL, stderrURL: URL, inputFD: Int32, cleanupURLs: [URL])
    {
        self.command = command
        self.pid = pid
        self.stdoutURL = stdoutURL
        self.stderrURL = stderrURL
        self.inputFD = inputFD
        self.cleanupURLs = cleanupURLs
    }

    deinit {
        if inputFD >= 0 { close(inputFD) }
    }

    /// Whether the child has not exited yet (reaps it when it has).
    var isRunning: Bool { exitStatus() == nil }

    /// The exit status (128 + signal number for a signal) once the child has exited, nil while it runs.
    var exitCode: Int32? { exitStatus() }

    /// Standard output so far.
    var stdoutSoFar: String { (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? "" }
    /// Standard error so far.
    var stderrSoFar: String { (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "" }

    /// Writes text to the child's standard input (only for `ChildInput.interactive`).
    func write(_ text: String) throws {
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let fd = lock.withLock { inputFD }
            guard fd >= 0 else { throw HarnessError("\(command.joined(separator: " ")) has no open input") }
            let written = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written < 0 {
                if errno == EINTR { continue }
                throw HarnessError("writing to \(command.first ?? "child"): \(String(cString: strerror(errno)))")
            }
            offset += written
        }
    }

    /// Closes the child's standard input, so that it reads end-of-file.
    func closeInput() {
        lock.withLock {
            if inputFD >= 0 {
                close(inputFD)
                inputFD = -1
            }
        }
    }

    /// Waits until standard output contains `text`; false when the time limit passes or the child exits first
    /// without having printed it.
    func waitForOutput(containing text: String, timeout: Duration = .seconds(30)) async throws -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while clock.now < deadline {
            if stdoutSoFar.contains(text) { return true }
            if !isRunning { return stdoutSoFar.contains(text) }
            try await Task.sleep(for: .milliseconds(50))
        }
        return stdoutSoFar.contains(text)
    }

    /// Sends a signal to the child if it is still running.
    func signal(_ number: Int32) {
        if isRunning { kill(pid, number) }
    }

    /// Waits for the child to exit; past `timeout` it is sent SIGTERM, then SIGKILL, and marked as timed out.
    func wait(timeout: Duration) async -> ChildResult {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var timedOut = false
        while isRunning {
            if clock.now >= deadline {
                timedOut = true
                await stop()
                break
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        closeInput()
        let result = ChildResult(
            command: command,
            exitCode: exitStatus() ?? -1,
            stdoutData: (try? Data(contentsOf: stdoutURL)) ?? Data(),
            stderrData: (try? Data(contentsOf: stderrURL)) ?? Data(),
            timedOut: timedOut
        )
        for url in cleanupURLs { try? FileManager.default.removeItem(at: url) }
        return result
    }

    /// Stops the child: SIGTERM, a grace period, then SIGKILL; returns once it has exited.
    func stop(grace: Duration = .seconds(5)) async {
        guard isRunning else { return }
        kill(pid, SIGTERM)
        let clock = ContinuousClock()
        let deadline = clock.now + grace
        while isRunning && clock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        if isRunning {
            kill(pid, SIGKILL)
            while isRunning { try? await Task.sleep(for: .milliseconds(10)) }
        }
    }

    /// The exit status once the child has exited (reaping it), nil while it runs.
    private func exitStatus() -> Int32? {
        lock.withLock {
            if let status { return status }
            var raw: Int32 = 0
            let result = waitpid(pid, &raw, WNOHANG)
            guard result == pid else {
                if result < 0 && errno == ECHILD { status = -1 }
                return status
            }
            // WIFEXITED / WEXITSTATUS / WTERMSIG are macros the Swift importer does not see.
            let signal = raw & 0x7f
            status = signal == 0 ? (raw >> 8) & 0xff : 128 + signal
            return status
        }
    }
}

/// Starting and running child processes.
///
/// Foundation's `Process` is not used: it spawns from whatever thread calls it, and the children of a thread of
/// the concurrency pool inherit its blocked signal mask, so a proxy under test would never see SIGTERM. Here
/// every child starts with no signal blocked, every signal at its default, and no descriptor but 0, 1 and 2.
enum ChildProcess {
    /// The folder where output files of children are kept; removed when the test process exits.
    static let scratch: URL = {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("socket-proxy-it-\(getpid())", isDirectory: true)
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(at: ChildProcess.scratch) }
        return url
    }()

    /// Finds an executable by name on PATH (and in the sbin folders, which a non-login PATH may lack).
    static func which(_ name: String) -> String? {
        if name.contains("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        let folders = path.split(separator: ":").map(String.init) + ["/usr/local/sbin", "/usr/sbin", "/sbin"]
        for folder in folders {
            let candidate = folder + "/" + name
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// Starts `executable` (a path, or a name looked up on PATH) and returns at once.
    ///
    /// - Parameters:
    ///   - environment: the child's whole environment; nil inherits this process's.
    ///   - output: where standard output goes; nil for a fresh file in `scratch`.
    ///   - mergeErrors: send standard error to the same file as standard output.
    static func start(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String]? = nil,
        input: ChildInput = .none,
        output: URL? = nil,
        mergeErrors: Bool = false
    ) throws -> RunningChild {
        guard let path = which(executable) else {
            throw HarnessError("`\(executable)` is not installed (not found on PATH)")
        }
        let id = UUID().uuidString.prefix(8)
        let stdoutURL = output ?? scratch.appendingPathComponent("\(id).out")
        let stderrURL = mergeErrors ? stdoutURL : scratch.appendingPathComponent("\(id).err")
        var cleanup = output == nil ? [stdoutURL] : []
        if !mergeErrors { cleanup.append(stderrURL) }

        var inputPath = "/dev/null"
        var parentEnd: Int32 = -1
        var childEnd: Int32 = -1
        switch input {
        case .none:
            break
        case .data(let data):
            let inputURL = scratch.appendingPathComponent("\(id).in")
            try data.write(to: inputURL)
            cleanup.append(inputURL)
            inputPath = inputURL.path
        case .file(let url):
            inputPath = url.path
        case .interactive:
            // A socket rather than a pipe: writes use MSG_NOSIGNAL, so a child that exits cannot kill the test
            // process with SIGPIPE.
            var pair: [Int32] = [-1, -1]
            guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
                throw HarnessError("socketpair: \(String(cString: strerror(errno)))")
            }
            parentEnd = pair[0]
            childEnd = pair[1]
            shutdown(parentEnd, Int32(SHUT_RD))
        }
        defer { if childEnd >= 0 { close(childEnd) } }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if childEnd >= 0 {
            posix_spawn_file_actions_adddup2(&actions, childEnd, 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, inputPath, O_RDONLY, 0)
        }
        posix_spawn_file_actions_addopen(&actions, 1, stdoutURL.path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        if mergeErrors {
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        } else {
            posix_spawn_file_actions_addopen(&actions, 2, stderrURL.path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        }
        if let closeFrom = addCloseFrom { _ = closeFrom(&actions, 3) }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = [path] + arguments
        let envp = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
        var cArguments = argv.map { strdup($0) } + [nil]
        var cEnvironment = envp.map { strdup($0) } + [nil]
        defer {
            for pointer in cArguments { free(pointer) }
            for pointer in cEnvironment { free(pointer) }
        }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, path, &actions, &attributes, &cArguments, &cEnvironment)
        guard spawned == 0 else {
            if parentEnd >= 0 { close(parentEnd) }
            throw HarnessError("posix_spawn \(path): \(String(cString: strerror(spawned)))")
        }
        return RunningChild(
            command: [executable] + arguments, pid: pid, stdoutURL: stdoutURL, stderrURL: stderrURL,
            inputFD: parentEnd, cleanupURLs: cleanup)
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34 and later), which the Glibc module does not
    /// export: without it, descriptors this process opened without O_CLOEXEC would leak into every child.
    private static let addCloseFrom:
        (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
            guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else { return nil }
            return unsafeBitCast(
                symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
        }()

    /// Runs a command to completion (or until `timeout`, when it is killed and marked as timed out).
    static func run(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String]? = nil,
        input: ChildInput = .none,
        timeout: Duration = .seconds(60)
    ) async throws -> ChildResult {
        let child = try start(executable, arguments, environment: environment, input: input)
        return await child.wait(timeout: timeout)
    }
}

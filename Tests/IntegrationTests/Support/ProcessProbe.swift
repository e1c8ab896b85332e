// What /proc says about a running process: its open descriptors, the CPU time it has used, its resident memory.
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Readings of another process from /proc, for leak and busy-loop checks.
enum ProcessProbe {
    /// The open descriptors of `pid` by kind (`socket`, `pipe`, `anon_inode:[eventpoll]`, `file`, ...); throws when
    /// the process is gone.
    static func descriptors(of pid: pid_t) throws -> [String: Int] {
        let folder = "/proc/\(pid)/fd"
        let entries: [String]
        do {
            entries = try FileManager.default.contentsOfDirectory(atPath: folder)
        } catch {
            throw HarnessError("cannot list \(folder) (has process \(pid) exited?): \(error)")
        }
        var kinds: [String: Int] = [:]
        for entry in entries {
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "\(folder)/\(entry)") else {
                continue  // closed between the listing and the read
            }
            let kind: String
            if target.hasPrefix("socket:") {
                kind = "socket"
            } else if target.hasPrefix("pipe:") {
                kind = "pipe"
            } else if target.hasPrefix("anon_inode:") {
                kind = target
            } else {
                kind = "file"
            }
            kinds[kind, default: 0] += 1
        }
        return kinds
    }

    /// How many descriptors `pid` has open.
    static func descriptorCount(of pid: pid_t) throws -> Int {
        try descriptors(of: pid).values.reduce(0, +)
    }

    /// The CPU time `pid` has used so far, user and system, all threads (utime + stime of /proc/PID/stat).
    static func cpuTime(of pid: pid_t) throws -> Duration {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { throw HarnessError("cannot read /proc/\(pid)/stat (has process \(pid) exited?)") }
        // After "pid (comm)": state is field 3, utime field 14, stime field 15.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Int(fields[11]), let system = Int(fields[12]) else {
            throw HarnessError("unexpected /proc/\(pid)/stat: \(stat)")
        }
        let ticks = Int(sysconf(Int32(_SC_CLK_TCK)))
        return .milliseconds((user + system) * 1000 / max(ticks, 1))
    }

    /// A field of /proc/PID/status in kB (`VmRSS`, `VmHWM`), or a count (`Threads`).
    static func status(_ field: String, of pid: pid_t) throws -> Int {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else {
            throw HarnessError("cannot read /proc/\(pid)/status (has process \(pid) exited?)")
        }
        for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
            let value = line.dropFirst(field.count + 1).split(separator: " ").first.flatMap { Int($0) }
            if let value { return value }
        }
        throw HarnessError("no \(field) in /proc/\(pid)/status")
    }

    /// Waits until `pid` has at most `count` descriptors open (connections closing, pools settling) or `timeout`
    /// passes; returns the last count.
    static func waitForDescriptors(of pid: pid_t, atMost count: Int, timeout: Duration = .seconds(10)) async throws
        -> Int
    {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while true {
            let current = try descriptorCount(of: pid)
            if current <= count || clock.now >= deadline { return current }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}

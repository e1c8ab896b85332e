// The sd_notify protocol: readiness, status, reload, stop and the watchdog.
import CSystemd

#if canImport(Glibc)
import Glibc
#endif

/// Tells the service manager about the proxy's state. Every call does nothing when `NOTIFY_SOCKET` is unset.
public struct ServiceNotifier: Sendable {
    /// Creates a notifier for this process.
    public init() {}

    /// Whether a service manager listens (`NOTIFY_SOCKET` is set).
    public var isEnabled: Bool { getenv("NOTIFY_SOCKET") != nil }

    /// Sends `READY=1`, with a status line.
    public func ready(status: String) { send("READY=1\nSTATUS=\(status)") }

    /// Sends a `STATUS=` line.
    public func status(_ text: String) { send("STATUS=\(text)") }

    /// Sends `RELOADING=1` with `MONOTONIC_USEC`, as `Type=notify-reload` expects.
    public func reloading() {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let microseconds = UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1000
        send("RELOADING=1\nMONOTONIC_USEC=\(microseconds)")
    }

    /// Sends `STOPPING=1`.
    public func stopping() { send("STOPPING=1") }

    /// Sends `WATCHDOG=1`.
    public func watchdog() { send("WATCHDOG=1") }

    /// The watchdog interval systemd expects pings within (`WATCHDOG_USEC` for this process), or nil.
    public var watchdogInterval: Duration? {
        var microseconds: UInt64 = 0
        guard sd_watchdog_enabled(0, &microseconds) > 0, microseconds > 0 else { return nil }
        return .microseconds(Int64(microseconds))
    }

    private func send(_ state: String) {
        _ = sd_notify(0, state)
    }
}

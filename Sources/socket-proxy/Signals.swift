// Signals are taken synchronously on the main thread; the event-loop threads never see them.
#if canImport(Glibc)
import Glibc
#endif

enum Signals {
    static let handled: [Int32] = [SIGTERM, SIGINT, SIGHUP, SIGUSR1]

    private static var set: sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in handled { sigaddset(&set, signal) }
        return set
    }

    /// Blocks the handled signals in this thread and every thread it starts afterwards, and ignores SIGPIPE
    /// (splice to a closed socket raises it; the error comes back as EPIPE instead).
    static func block() {
        var set = self.set
        pthread_sigmask(SIG_BLOCK, &set, nil)
        signal(SIGPIPE, SIG_IGN)
    }

    /// Waits for the next handled signal, at most `timeout`; 0 when none came.
    static func wait(timeout: Duration) -> Int32 {
        var set = self.set
        let (seconds, attoseconds) = timeout.components
        var limit = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
        while true {
            let received = sigtimedwait(&set, nil, &limit)
            if received > 0 { return received }
            if errno == EINTR { continue }
            return 0
        }
    }
}

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

    /// Blocks the handled signals in this thread and every thread it starts afterwards.
    static func block() {
        var set = self.set
        pthread_sigmask(SIG_BLOCK, &set, nil)
        signal(SIGPIPE, SIG_IGN)
    }

    /// Waits for the next handled signal.
    static func wait() -> Int32 {
        var set = self.set
        var received: Int32 = 0
        while sigwait(&set, &received) != 0 {}
        return received
    }
}

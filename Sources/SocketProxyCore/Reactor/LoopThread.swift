// Running event loops on their own threads.
import CSocketProxyLinux

#if canImport(Glibc)
import Glibc
#endif

/// A POSIX thread that runs one closure with SIGPIPE blocked; ``join()`` waits for it.
public final class LoopThread: @unchecked Sendable {
    // SAFETY (@unchecked Sendable): `thread` is written once in init, before any other thread can see self.
    private var thread = pthread_t()

    private final class Box {
        let name: String
        let body: () -> Void
        init(_ name: String, _ body: @escaping () -> Void) {
            self.name = name
            self.body = body
        }
    }

    /// Starts a thread named `name` (at most 15 bytes are kept) that runs `body`.
    public init(name: String, _ body: @escaping @Sendable () -> Void) throws(SystemError) {
        let box = Unmanaged.passRetained(Box(name, body)).toOpaque()
        let result = pthread_create(&thread, nil, { argument in
            let box = Unmanaged<Box>.fromOpaque(argument!).takeRetainedValue()
            CSocketProxyLinux_set_thread_name(box.name)
            // splice(2) into a socket whose peer has gone raises SIGPIPE (it has no MSG_NOSIGNAL), and SIGPIPE
            // ends the process unless someone ignores it. An embedder of the library should not have to: block it
            // in this thread, where the kernel directs it, so it stays pending and the call fails with EPIPE.
            var pipeSignal = sigset_t()
            sigemptyset(&pipeSignal)
            sigaddset(&pipeSignal, SIGPIPE)
            pthread_sigmask(SIG_BLOCK, &pipeSignal, nil)
            box.body()
            return nil
        }, box)
        guard result == 0 else {
            Unmanaged<Box>.fromOpaque(box).release()
            throw SystemError("pthread_create", errno: result)
        }
    }

    /// Waits for the thread to end.
    public func join() {
        pthread_join(thread, nil)
    }
}

// Kernel pipes for splice, lent to a connection while body or stream bytes move and taken back when empty.

/// A pipe used as splice's kernel-side buffer, and how many bytes sit in it.
struct SplicePipe {
    let read: FileDescriptor
    let write: FileDescriptor
    let capacity: Int
    /// Bytes spliced in and not yet spliced out.
    var count = 0
}

/// Per-loop pool of pipes, so that an idle connection holds no pipe descriptors.
final class PipePool {
    @exclusivity(unchecked) private var free: [SplicePipe] = []
    private let keep: Int
    private let size: Int

    /// Pipes get `size` bytes of capacity where the kernel allows it; at most `keep` idle pipes stay open.
    init(size: Int, keep: Int = 32) {
        self.size = size
        self.keep = keep
    }

    deinit {
        for pipe in free {
            Linux.close(pipe.read)
            Linux.close(pipe.write)
        }
    }

    func take() throws(SystemError) -> SplicePipe {
        if let pipe = free.popLast() { return pipe }
        let (read, write) = try Linux.pipe()
        let capacity = Linux.setPipeSize(write, size)
        return SplicePipe(read: read, write: write, capacity: capacity)
    }

    /// Takes a pipe back; a pipe that still holds bytes is closed instead (its bytes belong to a dead transfer).
    func give(_ pipe: SplicePipe) {
        if pipe.count == 0 && free.count < keep {
            free.append(pipe)
        } else {
            Linux.close(pipe.read)
            Linux.close(pipe.write)
        }
    }
}

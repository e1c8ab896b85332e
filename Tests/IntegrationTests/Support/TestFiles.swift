// Large test files whose digest changes if any part of them is lost, repeated, reordered or misdelivered.
import Foundation

enum TestFiles {
    /// Writes `size` bytes fast: one random 4 MiB block repeated, each copy stamped in its first 16 bytes with the
    /// transfer number and its block number, so that files of different transfers differ and a lost, repeated,
    /// reordered or misdelivered block changes the digest.
    static func writeStamped(_ url: URL, transfer: Int, size: Int) throws -> URL {
        let blockSize = 4 << 20
        guard let random = FileHandle(forReadingAtPath: "/dev/urandom") else {
            throw HarnessError("cannot open /dev/urandom")
        }
        var block = try random.read(upToCount: blockSize) ?? Data()
        try random.close()
        guard block.count == blockSize else { throw HarnessError("short read from /dev/urandom") }
        _ = FileManager.default.createFile(atPath: url.path, contents: nil)
        let sink = try FileHandle(forWritingTo: url)
        defer { try? sink.close() }
        var written = 0
        var index: UInt64 = 0
        while written < size {
            withUnsafeBytes(of: UInt64(transfer).littleEndian) { block.replaceSubrange(0..<8, with: $0) }
            withUnsafeBytes(of: index.littleEndian) { block.replaceSubrange(8..<16, with: $0) }
            let count = min(blockSize, size - written)
            try sink.write(contentsOf: count == blockSize ? block : block.prefix(count))
            written += count
            index += 1
        }
        return url
    }
}

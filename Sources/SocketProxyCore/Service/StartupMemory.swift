// Giving back memory that only start-up needed: pages of the program's own code and data read once, and freed
// heap.
import CSocketProxyLinux

#if canImport(Glibc)
import Glibc
#endif

/// Returns memory start-up used and the running proxy does not: the pages of this program's file mappings that
/// start-up touched (argument parsing, configuration, the Swift runtime's metadata scans) and heap freed since.
/// Dropped file pages stay in the page cache; the few the proxy uses later come back on first use.
public enum StartupMemory {
    /// Drops this executable's resident file pages from the process and trims the heap. Only mappings that were
    /// never written are touched (`Anonymous: 0 kB` in smaps): a relocated read-only segment holds private copies,
    /// and dropping those would lose the relocations. Returns how many bytes of mappings were advised.
    @discardableResult
    public static func trim() -> Int {
        var target = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &target, target.count - 1)
        guard count > 0, let smaps = fopen("/proc/self/smaps", "r") else { return 0 }
        defer { fclose(smaps) }
        let executable = String(decoding: target[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        var candidates: [(address: UnsafeMutableRawPointer, length: Int, anonymous: Bool)] = []
        var current: (address: UnsafeMutableRawPointer, length: Int, anonymous: Bool)?
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, smaps) > 0 {
            var text = String(cString: line!)
            while text.last == "\n" { text.removeLast() }
            let fields = text.split(separator: " ", omittingEmptySubsequences: true)
            if let first = fields.first, first.contains("-"), fields.count >= 5 {
                // A mapping header: start-end perms offset dev inode [path]
                if let mapping = current { candidates.append(mapping) }
                current = nil
                guard fields.count >= 6, String(fields[5...].joined(separator: " ")) == executable,
                    !fields[1].contains("w")
                else { continue }
                let bounds = first.split(separator: "-")
                guard bounds.count == 2, let start = UInt(bounds[0], radix: 16),
                    let end = UInt(bounds[1], radix: 16), let address = UnsafeMutableRawPointer(bitPattern: start)
                else { continue }
                current = (address, Int(end - start), false)
            } else if fields.first == "Anonymous:", fields.count >= 2, fields[1] != "0" {
                current?.anonymous = true
            }
        }
        if let mapping = current { candidates.append(mapping) }
        var advised = 0
        for mapping in candidates where !mapping.anonymous {
            if madvise(mapping.address, mapping.length, MADV_DONTNEED) == 0 { advised += mapping.length }
        }
        _ = CSocketProxyLinux_malloc_trim()
        return advised
    }
}


// Tests for the stderr backend: whole lines on a file descriptor, records and notices alike, in logfmt and JSON.
import Foundation
import Testing

@testable import SocketProxyCore

#if canImport(Glibc)
    import Glibc
#endif

/// `StreamAuditBackend`: what reaches the descriptor.
struct AuditStreamBackendTests {
    /// Runs `body` with a backend writing to a pipe, and returns what the pipe received.
    static func written(_ format: StreamAuditBackend.Format, _ body: (StreamAuditBackend) -> Void) throws -> String {
        var fds: [Int32] = [-1, -1]
        try #require(pipe(&fds) == 0)
        defer { close(fds[0]) }
        body(StreamAuditBackend(fd: fds[1], format: format))
        close(fds[1])
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fds[0], $0.baseAddress, $0.count) }
            if count <= 0 { break }
            output.append(contentsOf: buffer[0..<count])
        }
        return String(decoding: output, as: UTF8.self)
    }

    @Test func writesOneLogfmtLinePerRecordAndNotice() throws {
        let event = try AuditFormatTests.hostileEvent()
        let text = try Self.written(.logfmt) { backend in
            #expect(backend.write(event))
            #expect(backend.flush() == 0)
            backend.notice("socket-proxy: 3 audit records were dropped\nbecause", priority: .warning)
        }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 3 && lines.last == "", "\(text.debugDescription)")
        #expect(lines.first.map(String.init) == String(decoding: AuditFormat.logfmt(event), as: UTF8.self))
        #expect(lines.dropFirst().first == #"level=warning msg="socket-proxy: 3 audit records were dropped\nbecause""#)
    }

    @Test func writesOneJSONObjectPerRecordAndNotice() throws {
        let event = try AuditFormatTests.hostileEvent()
        let text = try Self.written(.json) { backend in
            #expect(backend.write(event))
            #expect(backend.flush() == 0)
            backend.notice("dropped \"3\"\u{1B}", priority: .err)
        }
        let lines = text.split(separator: "\n")
        #expect(lines.count == 2, "\(text.debugDescription)")
        let objects = lines.map { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }
        #expect(objects.first??["query"] as? String == event.query)
        #expect(objects.last??["level"] as? String == "err")
        #expect(objects.last??["msg"] as? String == "dropped \"3\"\u{1B}")
    }

    @Test func aClosedDescriptorMakesWriteReportFailure() throws {
        var fds: [Int32] = [-1, -1]
        try #require(pipe(&fds) == 0)
        close(fds[0])
        defer { close(fds[1]) }
        // Writing to a pipe without a reader raises SIGPIPE unless it is ignored, as the proxy does. It stays
        // ignored: restoring the default while parallel tests write to pipes could kill the test process.
        _ = signal(SIGPIPE, SIG_IGN)
        let backend = StreamAuditBackend(fd: fds[1], format: .logfmt)
        // Lines are batched: the failure shows when the batch is written, as the count of records lost.
        #expect(backend.write(try AuditFormatTests.hostileEvent()))
        #expect(backend.flush() == 1)
    }
}

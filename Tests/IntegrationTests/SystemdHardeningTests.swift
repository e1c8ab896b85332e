// The shipped unit file's sandbox, as systemd itself scores it.
import Foundation
import Testing

@Suite("The systemd unit's hardening")
struct SystemdHardeningTests {
    /// The repository's root, from this file's place in it (Tests/IntegrationTests/...).
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    @Test func theServiceHasAnOverallExposureOfAtMost1_5() async throws {
        guard ChildProcess.which("systemd-analyze") != nil else {
            throw HarnessError("systemd-analyze is not installed: this test needs it (Debian package systemd)")
        }
        let unit = Self.repositoryRoot.appendingPathComponent("systemd/socket-proxy.service").path
        try #require(FileManager.default.fileExists(atPath: unit), "no unit file at \(unit)")
        let result = try await ChildProcess.run(
            "systemd-analyze", ["security", "--offline=true", "--no-pager", unit], timeout: .seconds(60))
        #expect(result.succeeded, "\(result)")
        let last = result.lines.last { $0.contains("Overall exposure level") } ?? ""
        // "→ Overall exposure level for socket-proxy.service: 0.6 SAFE 😀"
        let number = last.split(separator: ":").last?.split(separator: " ").first.flatMap { Double($0) }
        let exposure = try #require(number, "no exposure number in the last line:\n\(result)")
        #expect(exposure <= 1.5, "\(last)")
        #expect(last.contains("socket-proxy.service"), "\(last)")
    }
}

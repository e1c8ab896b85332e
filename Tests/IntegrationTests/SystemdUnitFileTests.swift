// The shipped unit files say what Docs/systemd.md says they do.
import Foundation
import Testing

@Suite("The systemd unit files")
struct SystemdUnitFileTests {
    /// `Key=value` lines of a unit file, in order, without comments.
    static func settings(_ file: String) throws -> [(key: String, value: String)] {
        let url = SystemdHardeningTests.repositoryRoot.appendingPathComponent("systemd/\(file)")
        let text = try String(contentsOf: url, encoding: .utf8)
        return text.split(separator: "\n").compactMap { line in
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard !trimmed.hasPrefix("#"), !trimmed.hasPrefix(";"), let equals = trimmed.firstIndex(of: "=") else {
                return nil
            }
            return (String(trimmed[..<equals]), String(trimmed[trimmed.index(after: equals)...]))
        }
    }

    @Test func reloadRereadsThePolicyFileBecauseTheProxyIsGivenIt() throws {
        let service = try Self.settings("socket-proxy.service")
        let execStart = service.first { $0.key == "ExecStart" }?.value ?? ""
        #expect(service.first { $0.key == "ExecReload" }?.value == "/bin/kill -HUP $MAINPID")
        // systemd reads EnvironmentFile= only at start; a reload can only see a file the proxy reads itself, and a
        // variable from an EnvironmentFile= would linger in the process environment after it left the file.
        #expect(execStart.contains("--env-file /etc/socket-proxy/env"), "ExecStart=\(execStart)")
        #expect(!service.contains { $0.key == "EnvironmentFile" }, "\(service.filter { $0.key == "EnvironmentFile" })")
    }

    @Test func theServiceIsNotifyTypeWithAWatchdogAndAuditsToTheJournal() throws {
        let service = try Self.settings("socket-proxy.service")
        func value(_ key: String) -> String? { service.last { $0.key == key }?.value }
        #expect(value("Type") == "notify")
        #expect(value("WatchdogSec") == "30")
        #expect(value("ExecStart")?.hasPrefix("/usr/local/bin/socket-proxy serve --log-target journald") == true)
        #expect(value("Requires") == "socket-proxy.socket")
    }

    @Test func theSocketNamesItsListenerAndListensOnLoopbackOnly() throws {
        let socket = try Self.settings("socket-proxy.socket")
        #expect(socket.filter { $0.key == "ListenStream" }.map(\.value) == ["127.0.0.1:2375"])
        #expect(socket.first { $0.key == "FileDescriptorName" }?.value == SocketActivatedProxy.socketName)
    }
}

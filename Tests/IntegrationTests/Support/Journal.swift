// Reading back what a proxy wrote to the systemd journal, with the real journalctl.
import Foundation
import SocketProxyCore

/// One journal entry as `journalctl -o json` prints it.
struct JournalEntry: Sendable, CustomStringConvertible {
    /// Every field with all its values (a field the sender wrote twice has two).
    let fields: [String: [String]]

    /// The field's value; when the field appears more than once, a text that names all values (and so matches no
    /// expected value).
    subscript(_ name: String) -> String? {
        guard let values = fields[name] else { return nil }
        return values.count == 1 ? values[0] : "<\(values.count) values: \(values)>"
    }

    /// The field's value as an integer.
    func integer(_ name: String) -> Int? {
        self[name].flatMap { Int($0) }
    }

    /// An audit field, by its name without `SOCKET_PROXY_`.
    func audit(_ name: String) -> String? {
        self[AuditFormat.fieldPrefix + name]
    }

    /// The entry's own fields (not the ones journald adds, except `_PID`), for failure messages.
    var description: String {
        fields.filter { !$0.key.hasPrefix("_") || $0.key == "_PID" }
            .sorted { $0.key < $1.key }
            .map { "\($0.key)=\($0.value.count == 1 ? $0.value[0] : "\($0.value)")" }
            .joined(separator: " ")
    }

    /// Parses one line of `journalctl -o json`. Values are strings, byte arrays (for values that are not
    /// printable text), or arrays of those (for fields that appear more than once).
    init?(jsonLine: Substring) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(jsonLine.utf8)) as? [String: Any] else {
            return nil
        }
        var fields: [String: [String]] = [:]
        for (name, value) in object {
            fields[name] = Self.values(value)
        }
        self.fields = fields
    }

    private static func values(_ value: Any) -> [String] {
        if let text = value as? String { return [text] }
        if let bytes = value as? [Int] {
            return [String(decoding: bytes.map { UInt8(truncatingIfNeeded: $0) }, as: UTF8.self)]
        }
        if let list = value as? [Any] { return list.flatMap { values($0) } }
        if value is NSNull { return ["<null>"] }
        return ["\(value)"]
    }
}

/// The machine's journal, through journalctl.
enum Journal {
    /// Throws, saying what is missing, unless journalctl is installed and a journald listens.
    static func requireRunning() throws {
        guard ChildProcess.which("journalctl") != nil else {
            throw HarnessError(
                "journalctl is not installed: the journal tests need systemd's journal (Debian package systemd)")
        }
        guard JournalAuditBackend.isAvailable else {
            throw HarnessError(
                "no systemd-journald listens on \(JournalAuditBackend.socketPath): the journal tests need a real "
                    + "journal (scripts/test.sh and .ci/run start one; by hand: /lib/systemd/systemd-journald &)")
        }
    }

    /// The entries matching `arguments` (journalctl matches and options, e.g. `_PID=123`, `-t socket-proxy`)
    /// written since `since`, after asking journald to flush what it has received.
    static func entries(_ arguments: [String], since: Date) async throws -> [JournalEntry] {
        _ = try? await ChildProcess.run("journalctl", ["--sync"], timeout: .seconds(10))
        let result = try await ChildProcess.run(
            "journalctl",
            ["--no-pager", "--output", "json", "--since", "@\(Int(since.timeIntervalSince1970) - 1)"] + arguments,
            timeout: .seconds(30))
        guard result.exitCode == 0 else { throw HarnessError("journalctl failed:\n\(result)") }
        return result.stdout.split(separator: "\n").compactMap { JournalEntry(jsonLine: $0) }
    }

    /// Reads `entries` again and again (the journal is asynchronous) until `done` holds for them or `timeout`
    /// passes; returns the last reading either way.
    static func waitForEntries(
        _ arguments: [String], since: Date, timeout: Duration = .seconds(10),
        until done: ([JournalEntry]) -> Bool
    ) async throws -> [JournalEntry] {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while true {
            let entries = try await entries(arguments, since: since)
            if done(entries) || clock.now >= deadline { return entries }
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}

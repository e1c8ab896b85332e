// Tests for the syslog priorities: LOG_LEVEL names, their order, and the priority each kind of record gets.
import Testing

@testable import SocketProxyCore

/// `AuditPriority` and `AuditEvent.priority`.
struct AuditPriorityTests {
    @Test(arguments: [
        ("emerg", AuditPriority.emerg), ("emergency", .emerg), ("alert", .alert), ("crit", .crit),
        ("critical", .crit), ("err", .err), ("error", .err), ("warning", .warning), ("warn", .warning),
        ("notice", .notice), ("info", .info), ("debug", .debug), ("DEBUG", .debug), ("Warning", .warning),
    ])
    func parsesLogLevelNames(name: String, expected: AuditPriority) {
        #expect(AuditPriority(name: name) == expected)
    }

    @Test(arguments: ["", "verbose", "trace", "information", "warnings", " info", "info ", "6", "none"])
    func rejectsOtherNames(name: String) {
        #expect(AuditPriority(name: name) == nil)
    }

    @Test func everyPriorityHasTheSyslogNumberAndANameThatParsesBack() {
        #expect(AuditPriority.allCases.map(\.rawValue) == Array(0...7))
        #expect(
            AuditPriority.allCases.map(\.name) == [
                "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
            ])
        for priority in AuditPriority.allCases {
            #expect(AuditPriority(name: priority.name) == priority)
        }
    }

    @Test func everyLogLevelTheSettingsAcceptIsAPriority() {
        for level in TecnativaSettings.logLevels {
            #expect(AuditPriority(name: level) != nil, "LOG_LEVEL=\(level)")
        }
    }

    @Test func moreSevereComparesLess() {
        #expect(AuditPriority.err < .warning)
        #expect(AuditPriority.warning < .info)
        #expect(!(AuditPriority.debug < .info))
        #expect(AuditPriority.allCases.sorted() == AuditPriority.allCases)
    }

    @Test(arguments: [
        (AuditEvent.Phase.end, AuditDecision.allow, AuditPriority.info), (.end, .deny, .warning),
        (.end, .malformed, .warning), (.end, .upstreamError, .err), (.end, .clientGone, .notice),
        (.start, .allow, .debug), (.start, .deny, .debug),
    ])
    func recordsGetThePriorityOfTheirOutcome(phase: AuditEvent.Phase, decision: AuditDecision, expected: AuditPriority)
    {
        var event = AuditEvent()
        event.phase = phase
        event.decision = decision
        #expect(event.priority == expected)
    }
}

/// LOG_LEVEL as the settings read it, against what Docs/audit.md promises.
struct AuditLogLevelSettingTests {
    @Test(arguments: [("warn", AuditPriority.warning), ("error", .err)])
    func theSettingsAcceptTheAliasesTheAuditGuideLists(alias: String, expected: AuditPriority) throws {
        let settings = try TecnativaSettings(environment: ["LOG_LEVEL": alias])
        #expect(AuditPriority(name: settings.logLevel) == expected)

    }

    @Test(arguments: TecnativaSettings.logLevels)
    func theSettingsAcceptEverySyslogName(level: String) throws {
        let settings = try TecnativaSettings(environment: ["LOG_LEVEL": level.uppercased()])
        #expect(settings.logLevel == level)
        #expect(AuditPriority(name: settings.logLevel)?.name == level)
    }
}

// The parent of the fault-injection suites (FaultDaemonTests.swift, FaultClientTests.swift,
// FaultResourceTests.swift, FaultJournalTests.swift, FaultTransferTests.swift): one at a time, because they
// measure CPU time, latency and descriptor counts, and start daemons, journals and forty-four concurrent 100 MiB
// transfers; on two cores any two of them at once would disturb each other's measurements.
import Testing

/// Faults injected around a running proxy: the daemon, the clients, the descriptor table, the journal.
@Suite("Fault injection", .serialized)
struct FaultTests {}

// Findings gathered while walking a body, put back into document order at the end.

/// Collects findings with the offsets of the values they come from. Checks run field by field, not in the order
/// the client wrote them; sorting by offset restores document order, so the first denial is the first in the body.
struct FindingCollector {
    private var entries: [(offset: Int, sequence: Int, finding: InspectionFinding)] = []

    /// Records `kind` at `field`, found in the value `node`.
    mutating func add(_ kind: InspectionFinding.Kind, field: String, at node: JSONNode) {
        entries.append((node.offset, entries.count, InspectionFinding(field: field, kind: kind)))
    }

    /// The findings in document order; findings from one value keep the order they were added in.
    var findings: [InspectionFinding] {
        entries.sorted { ($0.offset, $0.sequence) < ($1.offset, $1.sequence) }.map(\.finding)
    }
}

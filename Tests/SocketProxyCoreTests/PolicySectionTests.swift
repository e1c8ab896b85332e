// Tests for the section table the profile's rule index relies on.
import Testing

@testable import SocketProxyCore

struct PolicySectionOrdinalTests {
    @Test func everySectionsOrdinalIsItsPositionInAllCases() {
        for (position, section) in Section.allCases.enumerated() {
            #expect(section.ordinal == position, "\(section)")
        }
    }
}

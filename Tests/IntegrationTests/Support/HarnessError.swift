// The one error type the integration harness throws: it says what is missing or what went wrong.
import Foundation

/// A failure of the test harness itself (no daemon, no binary, a fixture that did not come up), as opposed to a
/// failed expectation about the proxy. Its description is what the test report shows, so it must say what to do.
struct HarnessError: Error, CustomStringConvertible {
    /// What went wrong, in words a person running the tests can act on.
    let description: String

    init(_ description: String) {
        self.description = description
    }
}

/// Conversions between `Duration` and the plain numbers that system calls and `Date` want.
extension Duration {
    /// The duration in seconds, with its fractional part.
    var seconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }
}

/// The last `limit` characters of a text, for failure messages that quote logs.
func tail(_ text: String, limit: Int = 4000) -> String {
    guard text.count > limit else { return text }
    return "…" + String(text.suffix(limit))
}

// Reading the process environment without Foundation.
#if canImport(Glibc)
import Glibc
#endif

enum ProcessEnvironment {
    /// Every variable of the process environment.
    static var all: [String: String] {
        var result: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") {
                result[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            pointer += 1
        }
        return result
    }
}

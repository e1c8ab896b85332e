// Fuzz target: RequestTarget.parse, the path normalisation every policy decision rests on.
import SocketProxyCore

/// Invariants, each true by design (``TargetOracle`` holds the checks):
/// - The answer, path or error, is the one an independent decoder written from the documentation gives.
/// - An accepted path starts with "/", has no "//", no "." or ".." segment, no control byte and no trailing "/"
///   (except the root); a version is `<digits>[.<digits>]` right after "/v"; the query is what follows the first
///   "?"; a target with "#" is never accepted.
/// - Normalising is a fixed point: the decoded path, re-encoded, normalises to itself (nothing is decoded twice).
/// - The query never changes the path: the same path with another query normalises the same way.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRequestTarget(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let target = UnsafeRawBufferPointer(start: data, count: size)
    let result = TargetOracle.check(target)
    guard case .success(let parsed) = result else { return 0 }
    let pathEnd = parsed.query.map { $0.lowerBound - 1 } ?? size
    let otherQuery = Array(target[..<pathEnd]) + Array("?other=1".utf8)
    let other = otherQuery.withUnsafeBytes { TargetOracle.check($0) }
    guard case .success(let second) = other else {
        require(false, "the same path with another query is refused: \(other), input \(show(target))")
        return 0
    }
    require(
        second.path.count == parsed.path.count && second.version?.count == parsed.version?.count,
        "the query changed the path: \(parsed) versus \(second), input \(show(target))")
    return 0
}

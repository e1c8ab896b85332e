// Host paths as the daemon reads them: Go's path.Clean, and whole-segment matching against an allow-list.

/// Host paths of bind mounts and bind-like volumes.
enum HostPath {
    /// Go's `path.Clean`: collapses "//", drops ".", resolves ".." lexically (never above "/"), "" becomes ".".
    /// Works on bytes, so a combining mark after "/" does not hide the separator.
    static func clean(_ path: String) -> String {
        let bytes = Array(path.utf8)
        if bytes.isEmpty { return "." }
        let rooted = bytes[0] == GoText.slash
        var segments: [ArraySlice<UInt8>] = []
        for segment in bytes.split(separator: GoText.slash, omittingEmptySubsequences: true) {
            if segment.elementsEqual([0x2E]) { continue }
            if segment.elementsEqual([0x2E, 0x2E]) {
                if let last = segments.last, !last.elementsEqual([0x2E, 0x2E]) {
                    segments.removeLast()
                } else if !rooted {
                    segments.append(segment)
                }
                continue
            }
            segments.append(segment)
        }
        var result: [UInt8] = rooted ? [GoText.slash] : []
        for (index, segment) in segments.enumerated() {
            if index > 0 { result.append(GoText.slash) }
            result.append(contentsOf: segment)
        }
        return result.isEmpty ? "." : String(decoding: result, as: UTF8.self)
    }

    /// Whether `hostPath` equals or lies under one of `allowedPaths`, comparing whole segments ("/srv" covers
    /// "/srv/x", not "/srvx"). "/" covers everything, relative paths included; other relative entries cover nothing.
    static func isAllowed(_ hostPath: String, by allowedPaths: [String]) -> Bool {
        let path = clean(hostPath)
        for entry in allowedPaths {
            let root = clean(entry)
            guard GoText.hasPrefix(root, "/") else { continue }
            if GoText.equal(root, "/") { return true }
            if GoText.equal(path, root) || GoText.hasPrefix(path, root + "/") { return true }
        }
        return false
    }
}

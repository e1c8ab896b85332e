// A small HTTP/1.1 response reader for the raw-socket tests: status, headers, and bodies framed by
// Content-Length, chunked encoding or the end of the connection.
import Foundation

/// One HTTP response as the client saw it.
struct RawResponse: Sendable, CustomStringConvertible {
    /// The status code, e.g. 200.
    let status: Int
    /// The reason phrase, e.g. "OK".
    let reason: String
    /// The header fields in the order they came, names as sent.
    let headers: [(name: String, value: String)]
    /// The body with any chunked framing removed.
    let body: Data

    /// The value of the first header with this name, compared without regard to case.
    func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }

    /// The body as text.
    var bodyText: String { String(decoding: body, as: UTF8.self) }

    /// The body parsed as a JSON object, if it is one.
    var jsonObject: [String: Any]? {
        (try? JSONSerialization.jsonObject(with: body)) as? [String: Any]
    }

    var description: String {
        let head = headers.map { "\($0.name): \($0.value)" }.joined(separator: "\n")
        return "HTTP \(status) \(reason)\n\(head)\n\n\(tail(bodyText, limit: 1000))"
    }
}

/// Parses responses out of the bytes received so far.
enum HTTPResponseParser {
    /// What one attempt to parse a response found.
    enum Outcome {
        /// A whole response, and how many bytes it took.
        case complete(RawResponse, consumed: Int)
        /// More bytes are needed (or, for a body framed by close, the end of the connection).
        case needMore
    }

    /// A response the client cannot make sense of.
    struct MalformedResponse: Error, CustomStringConvertible {
        let description: String
    }

    /// Parses one response starting at `start`.
    ///
    /// - Parameters:
    ///   - method: the method of the request this response answers; a response to HEAD has no body.
    ///   - atEOF: whether the peer has closed; then a body without framing ends here.
    static func parse(_ bytes: [UInt8], from start: Int, method: String, atEOF: Bool) throws -> Outcome {
        guard let headEnd = find([13, 10, 13, 10], in: bytes, from: start) else { return .needMore }
        let headText = String(decoding: bytes[start..<headEnd], as: UTF8.self)
        var lines = headText.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst()
        let statusParts = statusLine.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard statusParts.count >= 2, statusParts[0].hasPrefix("HTTP/1."), let status = Int(statusParts[1]) else {
            throw MalformedResponse(description: "bad status line: \(statusLine.debugDescription)")
        }
        let reason = statusParts.count > 2 ? String(statusParts[2]) : ""
        var headers: [(name: String, value: String)] = []
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else {
                throw MalformedResponse(description: "bad header line: \(line.debugDescription)")
            }
            headers.append(
                (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        func header(_ name: String) -> String? {
            headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
        }
        let bodyStart = headEnd + 4

        let hasNoBody = method == "HEAD" || (100..<200).contains(status) || status == 204 || status == 304
        if hasNoBody {
            return .complete(
                RawResponse(status: status, reason: reason, headers: headers, body: Data()),
                consumed: bodyStart - start)
        }
        if let encoding = header("Transfer-Encoding"), encoding.lowercased().contains("chunked") {
            guard let (body, end) = try decodeChunked(bytes, from: bodyStart) else { return .needMore }
            return .complete(
                RawResponse(status: status, reason: reason, headers: headers, body: body),
                consumed: end - start)
        }
        if let lengthText = header("Content-Length") {
            guard let length = Int(lengthText), length >= 0 else {
                throw MalformedResponse(description: "bad Content-Length: \(lengthText)")
            }
            guard bytes.count - bodyStart >= length else { return .needMore }
            let body = Data(bytes[bodyStart..<(bodyStart + length)])
            return .complete(
                RawResponse(status: status, reason: reason, headers: headers, body: body),
                consumed: bodyStart + length - start)
        }
        guard atEOF else { return .needMore }
        let body = Data(bytes[bodyStart...])
        return .complete(
            RawResponse(status: status, reason: reason, headers: headers, body: body),
            consumed: bytes.count - start)
    }

    /// Decodes a chunked body; nil when it is not complete yet. Returns the body and the index after it.
    private static func decodeChunked(_ bytes: [UInt8], from start: Int) throws -> (Data, Int)? {
        var body = Data()
        var index = start
        while true {
            guard let lineEnd = find([13, 10], in: bytes, from: index) else { return nil }
            let sizeLine = String(decoding: bytes[index..<lineEnd], as: UTF8.self)
            let sizeText = sizeLine.split(separator: ";", maxSplits: 1).first.map(String.init) ?? ""
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16), size >= 0 else {
                throw MalformedResponse(description: "bad chunk size line: \(sizeLine.debugDescription)")
            }
            index = lineEnd + 2
            if size == 0 {
                // Trailer fields, then an empty line.
                while true {
                    guard let trailerEnd = find([13, 10], in: bytes, from: index) else { return nil }
                    let isEmpty = trailerEnd == index
                    index = trailerEnd + 2
                    if isEmpty { return (body, index) }
                }
            }
            guard bytes.count >= index + size + 2 else { return nil }
            body.append(contentsOf: bytes[index..<(index + size)])
            guard bytes[index + size] == 13, bytes[index + size + 1] == 10 else {
                throw MalformedResponse(description: "chunk data not followed by CRLF")
            }
            index += size + 2
        }
    }

    private static func find(_ needle: [UInt8], in bytes: [UInt8], from start: Int) -> Int? {
        guard bytes.count >= needle.count, start <= bytes.count - needle.count else { return nil }
        var index = start
        while index <= bytes.count - needle.count {
            if bytes[index] == needle[0] {
                var matches = true
                for offset in 1..<needle.count where bytes[index + offset] != needle[offset] {
                    matches = false
                    break
                }
                if matches { return index }
            }
            index += 1
        }
        return nil
    }
}

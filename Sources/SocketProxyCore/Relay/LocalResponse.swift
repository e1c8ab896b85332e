// Answers the proxy writes itself (denials, malformed requests, an unreachable daemon), in Docker's error format.

/// Builds complete HTTP responses with a `{"message": "..."}` body, the shape the Docker CLI prints as
/// "Error response from daemon: ...".
public enum LocalResponse {
    /// The full response bytes for `status` with `message`; `close` adds `Connection: close`.
    public static func make(status: Int, message: String, close: Bool) -> [UInt8] {
        var body: [UInt8] = []
        body.reserveCapacity(message.utf8.count + 16)
        body.append(contentsOf: #"{"message":""#.utf8)
        appendJSONEscaped(message, to: &body)
        body.append(contentsOf: "\"}\n".utf8)
        var head = "HTTP/1.1 \(status) \(reasonPhrase(status))\r\n"
        head += "Content-Type: application/json\r\n"
        head += "Content-Length: \(body.count)\r\n"
        if close { head += "Connection: close\r\n" }
        head += "\r\n"
        return Array(head.utf8) + body
    }

    /// The standard reason phrase for the statuses the proxy produces.
    public static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 400: return "Bad Request"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 408: return "Request Timeout"
        case 413: return "Content Too Large"
        case 415: return "Unsupported Media Type"
        case 431: return "Request Header Fields Too Large"
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        case 504: return "Gateway Timeout"
        case 505: return "HTTP Version Not Supported"
        default: return "Error"
        }
    }

    /// Appends `text` as the inside of a JSON string: quotes, backslashes and control characters escaped.
    public static func appendJSONEscaped(_ text: String, to output: inout [UInt8]) {
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case UInt8(ascii: "\n"): output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case UInt8(ascii: "\r"): output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case UInt8(ascii: "\t"): output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20, 0x7F:
                output.append(contentsOf: Array("\\u00".utf8))
                output.append(hex[Int(byte >> 4)])
                output.append(hex[Int(byte & 0xF)])
            default:
                output.append(byte)
            }
        }
    }

    /// Text safe to show in a message or log line: bytes that are not printable ASCII become `\xNN`.
    public static func printable(_ bytes: UnsafeRawBufferPointer, limit: Int = 512) -> String {
        var result = ""
        result.reserveCapacity(min(bytes.count, limit))
        for (index, byte) in bytes.enumerated() {
            if index == limit {
                result += "..."
                break
            }
            if byte >= 0x20 && byte < 0x7F {
                result.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                let hex = Array("0123456789abcdef".unicodeScalars)
                result += "\\x"
                result.unicodeScalars.append(hex[Int(byte >> 4)])
                result.unicodeScalars.append(hex[Int(byte & 0xF)])
            }
        }
        return result
    }
}

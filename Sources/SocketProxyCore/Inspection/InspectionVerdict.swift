// What the inspector says about a body: forward it, refuse it for a finding, or refuse it as uninspectable.

/// The inspector's answer for one request body.
public enum InspectionVerdict: Sendable, Equatable {
    /// Nothing in the body is beyond the policy: forward it byte for byte.
    case allow
    /// The first finding the policy does not allow; the proxy answers 403 "socket-proxy: <field> is not allowed by
    /// profile <name>: <detail>".
    case deny(InspectionFinding, detail: String)
    /// The body cannot be inspected safely: 400 (bad JSON, duplicate keys differing only by case, trailing data,
    /// invalid UTF-8, nesting deeper than a limit), 415 (Content-Type not application/json when there is a body).
    /// 413 is decided by the caller from the size.
    case invalid(status: Int, reason: String)
}

/// Why a body cannot be inspected, with the status the proxy answers.
public struct InspectionError: Error, Sendable, Equatable {
    /// 400 for a body that is not the JSON the daemon expects, 415 for a body that is not declared as JSON.
    public var status: Int
    /// What is wrong, for the response body and the audit record.
    public var reason: String

    /// An error with `status` and `reason`.
    public init(status: Int, reason: String) {
        self.status = status
        self.reason = reason
    }

    /// 400: the body is not JSON the inspector can read exactly as the daemon would.
    static func badRequest(_ reason: String) -> InspectionError {
        InspectionError(status: 400, reason: reason)
    }
}

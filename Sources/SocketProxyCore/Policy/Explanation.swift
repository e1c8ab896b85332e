// Why a request would be allowed or denied: the target parsed and the profile consulted exactly as the proxy does.

/// The decision for one request under one profile, with the rule that made it and why, for `socket-proxy explain`.
///
/// Made by ``init(method:target:profile:)`` with the same steps as the proxy: ``RequestTarget/parse(_:scratch:)``,
/// then ``Profile/decide(method:path:query:)`` on the normalised path and the raw query.
public struct Explanation: Sendable, Equatable, CustomStringConvertible {
    /// The outcome.
    public enum Verdict: String, Sendable, Equatable {
        /// The request goes to the daemon (its body still checked when the rule inspects bodies).
        case allow
        /// The request is refused.
        case deny
    }

    /// The method as given, upper-cased.
    public var method: String
    /// The request target as given.
    public var target: String
    /// The profile consulted.
    public var profile: String
    /// Allow or deny.
    public var verdict: Verdict
    /// Whether the rules allow the request; the verdict can still be deny when a given body is refused.
    public var rulesAllow = false
    /// The path the rules were matched against: decoded, without version prefix or query. Nil when the target was
    /// refused before any rule saw it.
    public var path: String?
    /// The API version prefix without its "v", when the target had one.
    public var apiVersion: String?
    /// The raw query, when the target had one.
    public var query: String?
    /// The index of the deciding rule in the profile; nil for the default deny and for a refused target.
    public var ruleIndex: Int?
    /// The deciding rule's name; "default-deny" when no rule matched, "invalid-target" for a refused target.
    public var ruleName: String
    /// The deciding rule in policy-file words (`allow GET,HEAD /containers/{rest...}`); nil without a rule.
    public var rule: String?
    /// Why, in words.
    public var reason: String
    /// For an allowed request: the limits its body must keep (nil: not inspected).
    public var inspection: InspectionPolicy?
    /// What the body inspection made of the body given with the request; nil when no body was given.
    public var body: BodyCheck?

    /// The body inspection's part in the decision, when a body is given.
    public enum BodyCheck: Sendable, Equatable {
        /// The rules denied the request; its body does not matter.
        case notReached
        /// The endpoint's body is not one the inspector reads (it reads container create, exec create, volume,
        /// service and plugin bodies).
        case notInspectedEndpoint
        /// The allowing rule does not inspect bodies (`inspect: false`, or INSPECT=0).
        case notInspectedByRule
        /// The body asks for nothing beyond the rule's inspection.
        case allowed
        /// The body asks for something the rule's inspection does not allow: the proxy answers 403.
        case denied(field: String, detail: String)
        /// The body cannot be inspected: 400 (not JSON the daemon would read the same way), 413 (larger than
        /// `max_body_bytes`), 415 (not declared as JSON).
        case invalid(status: Int, reason: String)
    }

    /// Decides `method` and `target` under `profile` as the proxy would. The method is upper-cased ("get" is GET);
    /// any name the proxy does not know counts as one "other" method, as it does for the proxy.
    ///
    /// With a `body` (the de-chunked content) and its `contentType`, an allowed request to an inspected endpoint
    /// also has its body checked against the allowing rule's inspection with ``BodyInspector``, as the proxy does
    /// before forwarding it; a body the inspection refuses turns the verdict into a denial.
    public init(
        method: String, target: String, profile: Profile, body: [UInt8]? = nil, contentType: String? = nil
    ) {
        self.method = method.uppercased()
        self.target = target
        self.profile = profile.name
        let httpMethod = Self.method(named: self.method)
        let bytes = Array(target.utf8)
        var scratch = [UInt8](repeating: 0, count: max(bytes.count, 1))
        let parsed = bytes.withUnsafeBytes { raw in
            scratch.withUnsafeMutableBytes { RequestTarget.parse(raw, scratch: $0) }
        }
        switch parsed {
        case .failure(let error):
            verdict = .deny
            ruleName = "invalid-target"
            reason = "the request target is refused before any rule sees it: \(error)"
            if body != nil { self.body = .notReached }
            return
        case .success(let request):
            path = String(decoding: scratch[request.path], as: UTF8.self)
            apiVersion = request.version.map { String(decoding: scratch[$0], as: UTF8.self) }
            query = request.query.map { String(decoding: bytes[$0], as: UTF8.self) }
            let decision = scratch.withUnsafeBytes { scratch in
                bytes.withUnsafeBytes { raw in
                    let queryBytes =
                        request.query.map { UnsafeRawBufferPointer(rebasing: raw[$0]) }
                        ?? UnsafeRawBufferPointer(start: nil, count: 0)
                    return profile.decide(
                        method: httpMethod, path: UnsafeRawBufferPointer(rebasing: scratch[request.path]),
                        query: queryBytes)
                }
            }
            verdict = decision.allowed ? .allow : .deny
            rulesAllow = decision.allowed
            ruleIndex = decision.ruleIndex
            ruleName = profile.ruleName(for: decision)
            inspection = profile.inspection(for: decision)
            if let index = decision.ruleIndex {
                let matched = profile.rules[index]
                rule = matched.summary
                if decision.allowed {
                    reason = "rule [\(index)] \(matched.name) of profile \(profile.name) allows it"
                } else {
                    reason = matched.reason ?? "rule [\(index)] \(matched.name) of profile \(profile.name) denies it"
                }
            } else if decision.section == nil {
                reason = "no rule of profile \(profile.name) allows it (not a Docker API section)"
            } else {
                reason = "no rule of profile \(profile.name) allows it"
            }
            if let body {
                let endpoint = scratch.withUnsafeBytes { scratch in
                    InspectedEndpoint(method: httpMethod, path: UnsafeRawBufferPointer(rebasing: scratch[request.path]))
                }
                checkBody(body, contentType: contentType, endpoint: endpoint, profile: profile.name)
            }
        }
    }

    /// Runs the body inspection as the proxy does after the rules allowed the request, and records its outcome.
    private mutating func checkBody(
        _ body: [UInt8], contentType: String?, endpoint: InspectedEndpoint?, profile: String
    ) {
        guard verdict == .allow else {
            self.body = .notReached
            return
        }
        guard let endpoint else {
            self.body = .notInspectedEndpoint
            return
        }
        guard let inspection else {
            self.body = .notInspectedByRule
            return
        }
        guard body.count <= inspection.maxBodyBytes else {
            self.body = .invalid(status: 413, reason: "the body is larger than \(inspection.maxBodyBytes) bytes")
            verdict = .deny
            reason = "the body is larger than max_body_bytes (\(inspection.maxBodyBytes)) of the allowing rule"
            return
        }
        let outcome = body.withUnsafeBytes {
            BodyInspector.inspect($0, contentType: contentType, endpoint: endpoint, policy: inspection)
        }
        switch outcome {
        case .allow:
            self.body = .allowed
        case .deny(let finding, let detail):
            self.body = .denied(field: finding.field, detail: detail)
            verdict = .deny
            reason = "\(finding.field) is not allowed by profile \(profile): \(detail)"
        case .invalid(let status, let why):
            self.body = .invalid(status: status, reason: why)
            verdict = .deny
            reason = "the body cannot be inspected (\(status)): \(why)"
        }
    }

    /// The proxy's method for a name; names it does not know are ``HTTPMethod/other``.
    private static func method(named name: String) -> HTTPMethod {
        let known: [HTTPMethod] = [.get, .head, .post, .put, .delete, .patch, .options, .connect, .trace]
        return known.first { $0.name == name } ?? .other
    }

    /// Several lines: the verdict, the profile, the path as matched, the rule and the reason, the inspection.
    public var description: String {
        var lines = ["\(verdict.rawValue): \(method) \(target)", "  profile: \(profile)"]
        if let path {
            var matched = "  path: \(path)"
            if let apiVersion { matched += " (API version \(apiVersion))" }
            if let query { matched += " query \(query)" }
            lines.append(matched)
        }
        if let ruleIndex, let rule {
            lines.append("  rule: [\(ruleIndex)] \(ruleName): \(rule)")
        } else {
            lines.append("  rule: \(ruleName)")
        }
        lines.append("  reason: \(reason)")
        if rulesAllow {
            lines.append("  body inspection: \(inspection?.summary ?? "off (bodies pass unread)")")
        }
        if let body {
            switch body {
            case .notReached: lines.append("  body: not inspected (the rules deny the request)")
            case .notInspectedEndpoint: lines.append("  body: not inspected (the endpoint's body asks for nothing)")
            case .notInspectedByRule: lines.append("  body: not inspected (the allowing rule does not inspect bodies)")
            case .allowed: lines.append("  body: allowed (asks for nothing beyond the inspection)")
            case .denied(let field, let detail): lines.append("  body: denied (403): \(field): \(detail)")
            case .invalid(let status, let why): lines.append("  body: refused (\(status)): \(why)")
            }
        }
        return lines.joined(separator: "\n")
    }
}

extension PolicyFile {
    /// The profile a client of a listener gets, for `explain`: the listener named `listener`, or the only one when
    /// the file has one; its `profile`, or its first client rule matching `network` (a TCP client's address), `uid`
    /// and `gid` (a Unix client's credentials). Errors say what to add to the command line.
    public func profile(
        forListener listener: String?, network: SocketAddress?, uid: UInt32?, gid: UInt32?
    ) throws(ConfigurationError) -> Profile {
        let chosen: Listener
        if let listener {
            guard let found = self.listener(named: listener) else {
                let names = listeners.map(\.name).joined(separator: ", ")
                throw ConfigurationError("\(source) has no listener named \"\(listener)\"; listeners: \(names)")
            }
            chosen = found
        } else if listeners.count == 1 {
            chosen = listeners[0]
        } else {
            let names = listeners.map(\.name).joined(separator: ", ")
            throw ConfigurationError(
                "\(source) has \(listeners.count) listeners (\(names)); name one with --listener, or a profile with "
                    + "--profile")
        }
        guard let name = chosen.profileName(network: network, uid: uid, gid: gid) else {
            if network == nil && uid == nil && gid == nil {
                throw ConfigurationError(
                    "listener \"\(chosen.name)\" picks a profile per client; say which client with --from ADDRESS, "
                        + "--uid or --gid, or name a profile with --profile")
            }
            throw ConfigurationError("listener \"\(chosen.name)\" refuses this client: no entry of its clients matches")
        }
        guard let profile = profile(named: name) else {
            preconditionFailure("listener \(chosen.name) names profile \(name), which the file reader checked exists")
        }
        return profile
    }
}

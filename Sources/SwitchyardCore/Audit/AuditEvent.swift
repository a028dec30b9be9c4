/// One entry of the audit trail: who tried to do what, and what came of it. Never holds a
/// credential, a prompt or a completion.
public struct AuditEvent: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        /// A credential was refused.
        case authentication
        /// An authenticated caller was refused (roles, attribute rules, allowed models).
        case authorization
        /// An administrative change or attempt (keys, ...).
        case admin
        /// A configuration reload.
        case config
        /// A guardrail acted on a prompt or an answer (the finding types, never the text).
        case guardrail
        /// A call through `/mcp` (a tool, a prompt, a resource): who, which server and tool, the
        /// arguments' digest (never the arguments), the outcome and how long it took.
        case tool
    }

    public var time: Double
    public var kind: Kind
    /// `key.create`, `request.denied`, `config.reload`, ...
    public var action: String
    /// Who acted: a key id, a JWT subject, `master`, `anonymous`, or `unauthenticated`.
    public var actor: String
    /// `success`, `denied` or `failed`.
    public var outcome: String
    /// What was acted on (a key id, a model).
    public var target: String?
    public var reason: String?
    public var requestID: String?
    /// Extra non-secret facts (team, org, rule, endpoint).
    public var details: [String: String]

    public init(
        kind: Kind, action: String, actor: String, outcome: String, target: String? = nil, reason: String? = nil, requestID: String? = nil,
        details: [String: String] = [:], time: Double = WallClock.unixTime()
    ) {
        self.time = time
        self.kind = kind
        self.action = action
        self.actor = actor
        self.outcome = outcome
        self.target = target
        self.reason = reason
        self.requestID = requestID
        self.details = details
    }
}

/// Receives audit events; recording never blocks or fails the request that caused it.
public protocol AuditSink: Sendable {
    func record(_ event: AuditEvent)
}

/// Records authorization refusals of inference requests (403s, with the rule or the key
/// restriction that refused them) into the audit trail.
public struct AuditingObserver: RequestObserver {
    public let sink: any AuditSink

    public init(sink: any AuditSink) {
        self.sink = sink
    }

    public func requestFinished(_ record: RequestRecord) {
        for decision in record.guardrails where decision.audited {
            var details: [String: String] = [
                "direction": decision.direction, "endpoint": record.dialect.routeLabel(record.endpoint),
                "entities": decision.entities.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: ","),
            ]
            if let score = decision.score { details["score"] = String(score) }
            if let team = record.identity.teamID { details["team"] = team }
            if let route = record.guardrailRoute, decision.action == "route" { details["routed_to"] = route }
            sink.record(
                AuditEvent(
                    kind: .guardrail, action: "guardrail.\(decision.action)", actor: record.identity.subject,
                    outcome: decision.action == "block" ? "denied" : "success", target: decision.name, reason: decision.reason,
                    requestID: record.requestID, details: details))
        }
        guard record.status == 403 || record.accessDenied != nil else { return }
        var details: [String: String] = ["endpoint": record.dialect.routeLabel(record.endpoint)]
        if let team = record.identity.teamID { details["team"] = team }
        if let org = record.identity.organizationID { details["org"] = org }
        if let rule = record.accessDenied?.rule { details["rule"] = rule }
        if !record.identity.roles.isEmpty { details["roles"] = record.identity.roles.sorted().joined(separator: ",") }
        sink.record(
            AuditEvent(
                kind: .authorization, action: "request.denied", actor: record.identity.subject, outcome: "denied",
                target: record.requestedModel, reason: record.accessDenied?.reason ?? record.errorCode, requestID: record.requestID,
                details: details))
    }
}

/// Authorization of inference requests: what the caller's roles allow, then the attribute rules
/// of `access.rules` (ABAC) over identity, request and environment. Built once per
/// configuration; evaluating it does no I/O.
public struct AccessPolicy: Sendable {
    /// Roles the gateway knows without configuration. `admin` may do everything; `org_admin`
    /// and `team_admin` administer keys and read usage within their organisation or team;
    /// `developer` and `service` call models (and read their own usage).
    public static let builtInRoles: Set<String> = ["admin", "org_admin", "team_admin", "developer", "service"]

    let settings: AccessSettings
    let rules: [(rule: AccessRule, conditions: CompiledConditions)]
    /// Whether rules look at the prompt.
    public let needsFeatures: Bool
    /// Whether rules look at request headers.
    public let needsHeaders: Bool

    public init(settings: AccessSettings) {
        self.settings = settings
        rules = settings.rules.map { ($0, CompiledConditions($0.conditions)) }
        needsFeatures = rules.contains { $0.conditions.needsFeatures }
        needsHeaders = settings.rules.contains { !$0.conditions.headers.isEmpty }
    }

    public var isEmpty: Bool { settings.rules.isEmpty && settings.roles.isEmpty && settings.defaultAllow }

    /// Why the caller may not make this request, or nil when it may. `group` is the model group
    /// the request was planned to; `endpoint` the route label (`chat_completions`, `messages`).
    public func check(
        request: OpenAIRequest, identity: Identity, endpoint: String, group: ModelGroup, headers: [HeaderField], features: PromptFeatures?,
        unixTime: Double
    ) -> AccessDenial? {
        // The master key (and an open local gateway) are the operator.
        if identity.kind == .master || identity.kind == .anonymous || identity.roles.contains("admin") { return nil }
        if let denial = checkRoles(identity: identity, endpoint: endpoint, model: request.model, group: group) { return denial }
        for (rule, conditions) in rules {
            if let roles = rule.roles, identity.roles.isDisjoint(with: roles) { continue }
            if let endpoints = rule.endpoints, !endpoints.contains(endpoint) { continue }
            if let regions = rule.regions, !regions.contains(settings.region ?? "") { continue }
            guard conditions.matches(request: request, identity: identity, headers: headers, features: features, unixTime: unixTime) else {
                continue
            }
            switch rule.effect {
            case .allow: return nil
            case .deny: return AccessDenial(rule: rule.name, reason: rule.reason ?? "denied by access rule '\(rule.name)'")
            }
        }
        return settings.defaultAllow ? nil : AccessDenial(rule: nil, reason: "no access rule allows this request (access.default is deny)")
    }

    /// Whether some plain request to `model` would pass the caller's role policies and the
    /// access rules: a one-message request on each endpoint in turn, with no headers. Rules on
    /// the prompt (`has_images`, `min_prompt_tokens`, ...) judge that empty prompt, so a deny
    /// rule on content never hides a model, while a model no role of the caller may use, or
    /// that a rule denies to the caller outright, is hidden. What `/v1/models` lists.
    public func permitsSomeRequest(to model: String, group: ModelGroup, identity: Identity, unixTime: Double) -> Bool {
        if isEmpty || identity.kind == .master || identity.kind == .anonymous || identity.roles.contains("admin") { return true }
        let quoted = String(decoding: JSONWriter.quoted(model), as: UTF8.self)
        let probes: [(Endpoint, String, String)] = [
            (.chatCompletions, "chat_completions", #"{"model":\#(quoted),"messages":[{"role":"user","content":""}]}"#),
            (.chatCompletions, "messages", #"{"model":\#(quoted),"messages":[{"role":"user","content":""}]}"#),
            (.chatCompletions, "responses", #"{"model":\#(quoted),"messages":[{"role":"user","content":""}]}"#),
            (.completions, "completions", #"{"model":\#(quoted),"prompt":""}"#),
            (.embeddings, "embeddings", #"{"model":\#(quoted),"input":""}"#),
        ]
        return probes.contains { endpoint, label, body in
            guard let request = try? OpenAIRequest(endpoint: endpoint, body: Array(body.utf8)) else { return false }
            let features = needsFeatures ? PromptFeatures(request: request) : nil
            return check(request: request, identity: identity, endpoint: label, group: group, headers: [], features: features, unixTime: unixTime)
                == nil
        }
    }

    /// Role policies, failing closed: roles that are neither built in nor configured (an
    /// identity provider's `offline_access`) are ignored, a caller left with no role is a
    /// `developer`, and only roles with a policy count — a request passes when one of them
    /// permits it. A role without a policy never lifts the restriction of one that has a policy;
    /// a caller none of whose roles has a policy is unrestricted (as built-in roles are).
    func checkRoles(identity: Identity, endpoint: String, model: String, group: ModelGroup) -> AccessDenial? {
        guard case let (roles, defined)? = rolePolicies(of: identity) else { return nil }
        guard defined.contains(where: \.inference) else {
            return AccessDenial(rule: "role", reason: "the role \(roles) may not call models")
        }
        let names = [model, group.name, group.qualifiedName]
        if !defined.contains(where: { $0.inference && ($0.models == nil || $0.models!.contains(where: names.contains)) }) {
            return AccessDenial(rule: "role", reason: "the role \(roles) may not use model '\(model)'")
        }
        if !defined.contains(where: { $0.inference && ($0.endpoints == nil || $0.endpoints!.contains(endpoint)) }) {
            return AccessDenial(rule: "role", reason: "the role \(roles) may not use the \(endpoint) endpoint")
        }
        return nil
    }
}

extension AccessPolicy {
    /// The policies of the caller's roles that have one, and those roles' names for messages;
    /// nil when none has a policy (the caller is unrestricted by roles).
    func rolePolicies(of identity: Identity) -> (names: String, policies: [RolePolicy])? {
        guard !settings.roles.isEmpty else { return nil }
        var known = identity.roles.filter { Self.builtInRoles.contains($0) || settings.roles[$0] != nil }
        if known.isEmpty { known = ["developer"] }
        let withPolicy = known.filter { settings.roles[$0] != nil }
        let defined = withPolicy.compactMap { settings.roles[$0] }
        if defined.isEmpty { return nil }
        return (withPolicy.sorted().joined(separator: ", "), defined)
    }
}

/// A refused request: the rule that refused it and the reason told to the client.
public struct AccessDenial: Sendable, Equatable {
    public var rule: String?
    public var reason: String

    public var error: GatewayError {
        .permissionDenied("Access denied: \(reason).", code: .accessDenied)
    }
}

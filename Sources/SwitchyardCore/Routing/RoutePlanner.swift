/// Where a request goes before any deployment is chosen: the rule that matched, the model
/// group (after version lifecycle and experiment assignment) and what the client is told.
public struct RoutePlan: Sendable {
    public var requestedModel: String
    public var group: ModelGroup
    /// Name of the routing rule that matched.
    public var rule: String?
    /// Region restriction (from a rule or the caller's identity).
    public var regions: [String]?
    public var experiment: String?
    public var arm: String?
    /// Set when a sunset model was redirected to its successor.
    public var redirectedFrom: String?
    /// Extra response headers (deprecation notices, experiment arm).
    public var headers: [HeaderField] = []
    public var features: PromptFeatures?
    /// Mirror target, from the requested group (or the experiment arm's).
    public var shadow: ShadowConfig?
}

/// Turns a requested model into a ``RoutePlan``: ordered rules, `name@version` and sunset
/// redirects, sticky experiment arms. Pure: time and randomness are passed in.
public struct RoutePlanner: Sendable {
    struct CompiledRule: Sendable {
        var rule: RoutingRule
        var conditions: CompiledConditions
    }

    let rules: [CompiledRule]
    public let catalog: ModelCatalog
    /// Whether plans need the prompt's features (rules, cost strategy, context windows, TPM).
    public let needsFeatures: Bool
    /// Whether plans look at request headers (rules or header-sticky experiments).
    public let needsHeaders: Bool

    public init(config: GatewayConfig, catalog: ModelCatalog) {
        self.catalog = catalog
        self.rules = config.routingRules.map { rule in
            CompiledRule(rule: rule, conditions: CompiledConditions(rule.conditions))
        }
        self.needsFeatures =
            !config.routingRules.isEmpty
            || config.models.contains { model in
                model.strategy == .cost || model.deployments.contains { $0.contextWindow != nil || $0.tpm != nil }
            }
        self.needsHeaders =
            config.routingRules.contains { !$0.conditions.headers.isEmpty }
            || config.models.contains { if case .header = $0.experiment?.sticky { true } else { false } }
            || config.access.rules.contains { !$0.conditions.headers.isEmpty }
    }

    /// Plans a request; throws 404 for unknown models and 410 for models past their sunset.
    public func plan(
        _ request: OpenAIRequest,
        identity: Identity,
        headers: [HeaderField],
        unixTime: Double,
        random: () -> Double,
        visible: (String) -> Bool = { _ in true }
    ) throws(GatewayError) -> RoutePlan {
        let features = needsFeatures ? PromptFeatures(request: request) : nil
        var target = request.model
        var matchedRule: RoutingRule?
        for compiled in rules
        where compiled.conditions.matches(request: request, identity: identity, headers: headers, features: features, unixTime: unixTime) {
            matchedRule = compiled.rule
            if let routeTo = compiled.rule.routeTo { target = routeTo }
            break
        }
        guard var group = catalog.group(for: target) else {
            throw GatewayError.modelNotFound(request.model, suggestions: catalog.suggestions(for: request.model, visible: visible))
        }
        var plan = RoutePlan(requestedModel: request.model, group: group, rule: matchedRule?.name, features: features)
        if let regions = matchedRule?.regions { plan.regions = regions }
        if let allowed = identity.allowedRegions {
            plan.regions = plan.regions.map { $0.filter(allowed.contains) } ?? allowed
        }

        // Version lifecycle: past the sunset, follow successors (at most a few hops) or refuse.
        var hops = 0
        while let deprecation = group.deprecation {
            if let sunset = deprecation.sunset, unixTime >= Double(sunset) {
                guard let successor = deprecation.successor, hops < 4, let next = catalog.group(for: successor) else {
                    throw GatewayError.modelSunset(
                        "Model '\(group.qualifiedName)' was retired on \(HTTPDate.format(sunset)) and is no longer served.")
                }
                plan.redirectedFrom = plan.redirectedFrom ?? group.qualifiedName
                group = next
                hops += 1
                continue
            }
            plan.headers.append(HeaderField("Deprecation", deprecation.deprecatedSince.map { "@\($0)" } ?? "true"))
            if let sunset = deprecation.sunset { plan.headers.append(HeaderField("Sunset", HTTPDate.format(sunset))) }
            var notice = "Model '\(group.qualifiedName)' is deprecated"
            if let sunset = deprecation.sunset { notice += " and will be retired on \(HTTPDate.format(sunset))" }
            if let successor = deprecation.successor { notice += "; use '\(successor)'" }
            plan.headers.append(HeaderField("x-switchyard-deprecation", notice + "."))
            break
        }
        if let redirected = plan.redirectedFrom { plan.headers.append(HeaderField("x-switchyard-redirected-from", redirected)) }

        plan.shadow = group.shadow
        if let experiment = group.experiment {
            let arm = Self.assign(experiment, request: request, identity: identity, headers: headers, random: random)
            guard let armGroup = catalog.group(for: arm.model) else {
                throw GatewayError.internalError("Experiment '\(experiment.name)' names an unknown model.")
            }
            plan.experiment = experiment.name
            plan.arm = arm.name
            plan.headers.append(HeaderField("x-switchyard-experiment", "\(experiment.name)=\(arm.name)"))
            group = armGroup
            plan.shadow = plan.shadow ?? armGroup.shadow
        }
        plan.group = group
        return plan
    }

    /// The arm for a request: the sticky value's hash decides, so one user stays on one arm
    /// (on every instance); without a sticky value the draw is random.
    public static func assign(
        _ experiment: ExperimentConfig, request: OpenAIRequest, identity: Identity, headers: [HeaderField], random: () -> Double
    ) -> ExperimentConfig.Arm {
        let anonymous = identity.kind == .anonymous
        let stickyValue: String? =
            switch experiment.sticky {
            case .user: request.user ?? identity.endUser ?? identity.userID ?? (anonymous ? nil : identity.subject)
            case .key: anonymous ? nil : identity.subject
            case .header(let name): headers.first { $0.name.lowercased() == name }?.value
            case .none: nil
            }
        let point = stickyValue.map { StableHash.unit(experiment.name, $0) } ?? random()
        let total = experiment.arms.reduce(0) { $0 + $1.weight }
        var remaining = point * total
        for arm in experiment.arms {
            if remaining < arm.weight { return arm }
            remaining -= arm.weight
        }
        return experiment.arms.last { $0.weight > 0 } ?? experiment.arms[0]
    }
}

/// Rule conditions ready to evaluate: the message pattern compiled and parameter comparisons
/// parsed once per configuration. Shared by routing rules and access rules.
struct CompiledConditions: Sendable {
    let conditions: RuleConditions
    let pattern: SendableRegex?
    /// `params` conditions (the loader has rejected unreadable ones).
    let comparisons: [(key: String, comparison: ParamComparison)]

    init(_ conditions: RuleConditions) {
        self.conditions = conditions
        pattern = conditions.messagePattern.flatMap(SendableRegex.init)
        comparisons = conditions.params.compactMap { key, expression in ParamComparison(expression).map { (key, $0) } }
    }

    /// Whether the conditions look at the prompt (they need ``PromptFeatures``).
    var needsFeatures: Bool {
        conditions.hasImages != nil || conditions.hasTools != nil || conditions.jsonMode != nil || conditions.minPromptTokens != nil
            || conditions.maxPromptTokens != nil || !conditions.keywords.isEmpty || pattern != nil || !conditions.languages.isEmpty
    }

    func matchesHeadersAndMetadata(identity: Identity, endUser: String?, headers: [HeaderField]) -> Bool {
        for (name, expected) in conditions.headers {
            guard let value = headers.first(where: { $0.name.lowercased() == name })?.value else { return false }
            if expected != "*", value != expected { return false }
        }
        for (key, expected) in conditions.metadata {
            let actual: String? =
                switch key {
                case "team": identity.teamID
                case "user": identity.userID
                case "org", "organization": identity.organizationID
                case "key", "subject": identity.subject
                case "end_user": endUser
                case "role": identity.roles.contains(expected) ? expected : nil
                default: identity.attributes[key]
                }
            if actual != expected { return false }
        }
        return true
    }

    /// For calls that are not model requests (MCP): the conditions on the caller, headers and
    /// time. Conditions on a model request (model, parameters, prompt) never hold for them.
    func matchesCaller(identity: Identity, headers: [HeaderField], unixTime: Double) -> Bool {
        if conditions.models != nil || !comparisons.isEmpty || conditions.stream != nil || needsFeatures { return false }
        guard matchesHeadersAndMetadata(identity: identity, endUser: identity.endUser, headers: headers) else { return false }
        if let time = conditions.time, !time.contains(unixTime: unixTime) { return false }
        return true
    }

    func matches(request: OpenAIRequest, identity: Identity, headers: [HeaderField], features: PromptFeatures?, unixTime: Double) -> Bool {
        if let models = conditions.models,
            !models.contains(where: { $0.hasSuffix("*") ? request.model.hasPrefix(String($0.dropLast())) : $0 == request.model })
        {
            return false
        }
        guard matchesHeadersAndMetadata(identity: identity, endUser: request.user ?? identity.endUser, headers: headers) else { return false }
        for (key, comparison) in comparisons where !comparison.matches(request.scan.value(key)) {
            return false
        }
        if let stream = conditions.stream, stream != request.stream { return false }
        if let time = conditions.time, !time.contains(unixTime: unixTime) { return false }
        guard let features else { return true }
        if let wanted = conditions.hasImages, wanted != features.hasImages { return false }
        if let wanted = conditions.hasTools, wanted != features.hasTools { return false }
        if let wanted = conditions.jsonMode, wanted != features.jsonMode { return false }
        if let minimum = conditions.minPromptTokens, features.estimatedPromptTokens < minimum { return false }
        if let maximum = conditions.maxPromptTokens, features.estimatedPromptTokens > maximum { return false }
        if !conditions.keywords.isEmpty {
            let text = features.lastUserText.lowercased()
            if !conditions.keywords.contains(where: { text.contains($0) }) { return false }
        }
        if let pattern = pattern, !pattern.matches(features.lastUserText) { return false }
        if !conditions.languages.isEmpty {
            guard let language = LanguageDetector.detect(features.lastUserText), conditions.languages.contains(language) else { return false }
        }
        return true
    }
}

/// A compiled regular expression shared by concurrent requests (matching does not mutate it).
struct SendableRegex: @unchecked Sendable {
    let regex: Regex<AnyRegexOutput>

    init?(_ pattern: String) {
        guard let regex = try? Regex(pattern) else { return nil }
        self.regex = regex
    }

    func matches(_ text: String) -> Bool {
        (try? regex.firstMatch(in: text)) != nil
    }
}

/// IMF-fixdate formatting (`Sun, 06 Nov 1994 08:49:37 GMT`) for Sunset headers and messages.
public enum HTTPDate {
    public static func format(_ unixTime: Int64) -> String {
        let days = CivilDate.days(unixTime)
        let secondsOfDay = unixTime - days * 86_400
        let date = CivilDate(daysSinceEpoch: days)
        let (year, month, day) = (date.year, date.month, date.day)
        let weekdays = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let weekday = weekdays[Int(((days % 7) + 7) % 7)]
        func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return
            "\(weekday), \(two(day)) \(months[Int(month - 1)]) \(year) \(two(secondsOfDay / 3600)):\(two(secondsOfDay % 3600 / 60)):\(two(secondsOfDay % 60)) GMT"
    }
}

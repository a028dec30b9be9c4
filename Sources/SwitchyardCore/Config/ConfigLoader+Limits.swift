/// Decoding of `limits:`.
extension Context {
    static let limitValueKeys = ["requests_per_minute", "tokens_per_minute", "tokens_per_day", "concurrent", "burst"]

    mutating func decodeLimitValues(_ mapping: inout MappingReader, path: String) -> LimitValues {
        var values = LimitValues()
        for (key, keyPath) in [
            ("requests_per_minute", \LimitValues.requestsPerMinute), ("tokens_per_minute", \.tokensPerMinute),
            ("tokens_per_day", \.tokensPerDay), ("concurrent", \.concurrent), ("burst", \.burst),
        ] {
            if let node = mapping.take(key), let value = integer(node, path: "\(path).\(key)") {
                if value <= 0 { error("\(path).\(key) must be positive", at: node.location) }
                values[keyPath: keyPath] = max(1, value)
            }
        }
        return values
    }

    mutating func decodeLimits(_ node: ConfigNode) -> LimitSettings {
        var settings = LimitSettings()
        guard var mapping = MappingReader(node, path: "limits", context: &self) else { return settings }
        if let node = mapping.take("tiers") {
            if case .mapping(let entries, _) = node {
                for entry in entries {
                    guard var tier = MappingReader(entry.value, path: "limits.tiers.\(entry.key)", context: &self) else { continue }
                    let values = decodeLimitValues(&tier, path: "limits.tiers.\(entry.key)")
                    tier.finish(known: Self.limitValueKeys, context: &self)
                    if values.isEmpty { error("tier '\(entry.key)' sets no limit", at: entry.value.location) }
                    settings.tiers[entry.key] = values
                }
            } else {
                error("limits.tiers must be a mapping of tier names", at: node.location, hint: "tiers: {free: {requests_per_minute: 20}}")
            }
        }
        if let node = mapping.take("default_tier") { settings.defaultTier = string(node, path: "limits.default_tier") }
        if let node = mapping.take("backend"), let value = string(node, path: "limits.backend") {
            if let backend = LimitSettings.Backend(rawValue: value) {
                settings.backend = backend
            } else {
                error("limits.backend must be memory or redis", at: node.location)
            }
        }
        if let node = mapping.take("on_backend_failure"), let value = string(node, path: "limits.on_backend_failure") {
            switch value {
            case "open", "allow": settings.failOpen = true
            case "closed", "deny": settings.failOpen = false
            default: error("limits.on_backend_failure must be open or closed", at: node.location)
            }
        }
        if let node = mapping.take("default_completion_tokens"), let value = integer(node, path: "limits.default_completion_tokens") {
            settings.defaultCompletionEstimate = max(0, value)
        }
        if let node = mapping.take("rules") {
            for item in sequence(node, path: "limits.rules") {
                guard var rule = MappingReader(item.node, path: item.path, context: &self) else { continue }
                var scope = LimitScope.key
                if let node = rule.take("scope"), let text = string(node, path: "\(item.path).scope") {
                    if let value = LimitScope(rawValue: text) {
                        scope = value
                    } else {
                        let names = LimitScope.allCases.map(\.rawValue)
                        error(
                            "unknown limit scope '\(text)'", at: node.location,
                            hint: Suggestions.closest(to: text, in: names).map { "did you mean '\($0)'?" }
                                ?? "use one of: \(names.joined(separator: ", "))")
                    }
                }
                var limit = LimitRule(scope: scope)
                limit.location = item.node.location
                if let node = rule.take("models") {
                    limit.models = sequence(node, path: "\(item.path).models").compactMap { string($0.node, path: $0.path) }
                }
                if let node = rule.take("tier") { limit.tier = string(node, path: "\(item.path).tier") }
                limit.values = decodeLimitValues(&rule, path: item.path)
                rule.finish(known: ["scope", "models", "tier"] + Self.limitValueKeys, context: &self)
                if limit.values.isEmpty, limit.tier == nil {
                    error("\(item.path) sets no limit", at: item.node.location, hint: "e.g. requests_per_minute: 60, or tier: free")
                }
                settings.rules.append(limit)
            }
        }
        mapping.finish(known: ["tiers", "default_tier", "backend", "on_backend_failure", "default_completion_tokens", "rules"], context: &self)
        for rule in settings.rules {
            if let tier = rule.tier, tier != "from_identity", settings.tiers[tier] == nil {
                error(
                    "limit rule refers to unknown tier '\(tier)'", at: rule.location,
                    hint: Suggestions.closest(to: tier, in: Array(settings.tiers.keys)).map { "did you mean '\($0)'?" }
                        ?? "define it under limits.tiers")
            }
        }
        if let tier = settings.defaultTier, settings.tiers[tier] == nil {
            error("limits.default_tier '\(tier)' is not defined under limits.tiers", at: node.location)
        }
        return settings
    }
}

/// Decoding of `cache:`.
extension Context {
    mutating func decodeCache(_ node: ConfigNode) -> CacheSettings {
        var settings = CacheSettings()
        settings.enabled = true
        guard var mapping = MappingReader(node, path: "cache", context: &self) else { return settings }
        if let node = mapping.take("enabled"), let value = bool(node, path: "cache.enabled") { settings.enabled = value }
        if let node = mapping.take("ttl"), let value = duration(node, path: "cache.ttl") { settings.ttl = value }
        if let node = mapping.take("max_size"), let value = byteSize(node, path: "cache.max_size") { settings.maxBytes = value }
        if let node = mapping.take("max_entry_size"), let value = byteSize(node, path: "cache.max_entry_size") { settings.maxEntryBytes = value }
        if let node = mapping.take("partition"), let text = string(node, path: "cache.partition") {
            if let value = CacheSettings.Partition(rawValue: text) {
                settings.partition = value
            } else {
                let names = CacheSettings.Partition.allCases.map(\.rawValue)
                error(
                    "unknown cache partition '\(text)'", at: node.location,
                    hint: Suggestions.closest(to: text, in: names).map { "did you mean '\($0)'?" } ?? "use one of: \(names.joined(separator: ", "))")
            }
        }
        if let node = mapping.take("ignore_params") { settings.ignoreParameters = strings(node, path: "cache.ignore_params") }
        if let node = mapping.take("max_temperature") { settings.maxTemperature = number(node, path: "cache.max_temperature") }
        if let node = mapping.take("models") { settings.models = strings(node, path: "cache.models") }
        if let node = mapping.take("count_hits_for_limits"), let value = bool(node, path: "cache.count_hits_for_limits") {
            settings.countHitsForLimits = value
        }
        if let node = mapping.take("tools"), let value = bool(node, path: "cache.tools") { settings.cacheTools = value }
        if let node = mapping.take("semantic"), var semantic = MappingReader(node, path: "cache.semantic", context: &self) {
            if let model = semantic.take("model").flatMap({ string($0, path: "cache.semantic.model") }) {
                var settings_ = SemanticCacheSettings(model: model)
                if let node = semantic.take("threshold"), let value = number(node, path: "cache.semantic.threshold") {
                    if value <= 0 || value > 1 { error("cache.semantic.threshold must be in (0, 1]", at: node.location) }
                    settings_.threshold = value
                }
                if let node = semantic.take("min_prompt_length"), let value = integer(node, path: "cache.semantic.min_prompt_length") {
                    settings_.minPromptCharacters = max(0, value)
                }
                if let node = semantic.take("max_entries"), let value = integer(node, path: "cache.semantic.max_entries") {
                    settings_.maxEntries = max(1, value)
                }
                if let node = semantic.take("tools"), let value = bool(node, path: "cache.semantic.tools") { settings_.allowTools = value }
                if let node = semantic.take("verify"), var verify = MappingReader(node, path: "cache.semantic.verify", context: &self) {
                    if let model = verify.take("model").flatMap({ string($0, path: "cache.semantic.verify.model") }) {
                        settings_.verifyModel = model
                    } else {
                        error("cache.semantic.verify needs a 'model'", at: node.location, hint: "verify: {model: judge}")
                    }
                    verify.finish(known: ["model"], context: &self)
                }
                settings.semantic = settings_
            } else {
                error("cache.semantic needs the embedding 'model'", at: node.location, hint: "semantic: {model: embeddings, threshold: 0.95}")
            }
            semantic.finish(known: ["model", "threshold", "min_prompt_length", "max_entries", "tools", "verify"], context: &self)
        }
        if let node = mapping.take("mode"), let text = string(node, path: "cache.mode") {
            if let value = CacheSettings.Mode(rawValue: text) {
                settings.mode = value
            } else {
                error("cache.mode must be read_write, read_only or write_only", at: node.location)
            }
        }
        if let node = mapping.take("backend"), let text = string(node, path: "cache.backend") {
            if let value = CacheSettings.Backend(rawValue: text) {
                settings.backend = value
            } else {
                error("cache.backend must be memory, redis or sqlite", at: node.location)
            }
        }
        if let node = mapping.take("rules") {
            for item in sequence(node, path: "cache.rules") {
                guard var entry = MappingReader(item.node, path: item.path, context: &self) else { continue }
                var rule = CachePolicy()
                rule.scope = decodeScope(&entry, path: item.path)
                if let node = entry.take("enabled"), let value = bool(node, path: "\(item.path).enabled") { rule.enabled = value }
                if let node = entry.take("ttl"), let value = duration(node, path: "\(item.path).ttl") { rule.ttl = value }
                if let node = entry.take("mode"), let text = string(node, path: "\(item.path).mode") {
                    if let value = CacheSettings.Mode(rawValue: text) {
                        rule.mode = value
                    } else {
                        error("\(item.path).mode must be read_write, read_only or write_only", at: node.location)
                    }
                }
                if let node = entry.take("max_temperature") { rule.maxTemperature = number(node, path: "\(item.path).max_temperature") }
                if let node = entry.take("max_entry_size"), let value = byteSize(node, path: "\(item.path).max_entry_size") {
                    rule.maxEntryBytes = value
                }
                if let node = entry.take("semantic"), let value = bool(node, path: "\(item.path).semantic") { rule.semantic = value }
                entry.finish(known: ["enabled", "ttl", "mode", "max_temperature", "max_entry_size", "semantic"] + Self.scopeKeys, context: &self)
                settings.rules.append(rule)
            }
        }
        mapping.finish(
            known: [
                "enabled", "ttl", "max_size", "max_entry_size", "partition", "ignore_params", "max_temperature", "models", "count_hits_for_limits",
                "tools", "backend", "semantic", "mode", "rules",
            ], context: &self)
        return settings
    }
}

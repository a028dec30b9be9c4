/// Decoding of `logging:` and `tracing:`.
extension Context {
    mutating func headerSecrets(_ node: ConfigNode, path: String) -> [HeaderField] {
        guard case .mapping(let entries, _) = node else {
            error("\(path) must be a mapping of header names to values", at: node.location)
            return []
        }
        return entries.compactMap { entry in
            secret(entry.value, path: "\(path).\(entry.key)").map { HeaderField(entry.key, $0.reveal()) }
        }
    }

    mutating func positive(_ node: ConfigNode, path: String, max: Int) -> Int? {
        guard let value = integer(node, path: path) else { return nil }
        guard value >= 1 && value <= max else {
            error("\(path) must be between 1 and \(max)", at: node.location)
            return nil
        }
        return value
    }

    mutating func decodeLogging(_ node: ConfigNode) -> RequestLogSettings {
        var settings = RequestLogSettings()
        guard var mapping = MappingReader(node, path: "logging", context: &self) else { return settings }
        if let node = mapping.take("bodies") {
            if case .scalar = node {
                if let on = bool(node, path: "logging.bodies"), on { settings.bodies = [PromptScope()] }
            } else {
                for item in sequence(node, path: "logging.bodies") {
                    guard var entry = MappingReader(item.node, path: item.path, context: &self) else { continue }
                    settings.bodies.append(decodeScope(&entry, path: item.path))
                    entry.finish(known: Self.scopeKeys, context: &self)
                }
            }
        }
        if let node = mapping.take("max_body_size"), let value = byteSize(node, path: "logging.max_body_size") {
            settings.maxBodyBytes = value
        }
        if let node = mapping.take("database"), let value = bool(node, path: "logging.database") { settings.database = value }
        if let node = mapping.take("retention") {
            if case .scalar(let text, _, _) = node, ["off", "forever", "never"].contains(text.lowercased()) {
                settings.retention = nil
            } else if let value = duration(node, path: "logging.retention") {
                settings.retention = value
            }
        }
        if let node = mapping.take("webhook"), var hook = MappingReader(node, path: "logging.webhook", context: &self) {
            if let url = hook.take("url").flatMap({ string($0, path: "logging.webhook.url") }) {
                var webhook = LogWebhookSettings(url: url)
                if !(url.hasPrefix("http://") || url.hasPrefix("https://")) {
                    error("logging.webhook.url must be an http:// or https:// URL", at: node.location)
                }
                if let node = hook.take("headers") { webhook.headers = headerSecrets(node, path: "logging.webhook.headers") }
                if let node = hook.take("format"), let text = string(node, path: "logging.webhook.format") {
                    if let format = LogWebhookSettings.Format(rawValue: text) {
                        webhook.format = format
                    } else {
                        error("logging.webhook.format must be json or ndjson", at: node.location)
                    }
                }
                if let node = hook.take("batch_size"), let value = positive(node, path: "logging.webhook.batch_size", max: 10_000) {
                    webhook.batchSize = value
                }
                if let node = hook.take("flush_interval"), let value = duration(node, path: "logging.webhook.flush_interval") {
                    webhook.flushInterval = value
                }
                if let node = hook.take("timeout"), let value = duration(node, path: "logging.webhook.timeout") { webhook.timeout = value }
                if let node = hook.take("max_retries"), let value = integer(node, path: "logging.webhook.max_retries") {
                    webhook.maxRetries = max(0, min(value, 20))
                }
                if let node = hook.take("max_buffer"), let value = positive(node, path: "logging.webhook.max_buffer", max: 10_000_000) {
                    webhook.maxBuffer = value
                }
                if let node = hook.take("include_bodies"), let value = bool(node, path: "logging.webhook.include_bodies") {
                    webhook.includeBodies = value
                }
                settings.webhook = webhook
            } else {
                error("logging.webhook needs a 'url'", at: node.location)
            }
            hook.finish(
                known: ["url", "headers", "format", "batch_size", "flush_interval", "timeout", "max_retries", "max_buffer", "include_bodies"],
                context: &self)
        }
        mapping.finish(known: ["bodies", "max_body_size", "database", "retention", "webhook"], context: &self)
        return settings
    }

    mutating func decodeTracing(_ node: ConfigNode) -> TracingSettings {
        var settings = TracingSettings()
        guard var mapping = MappingReader(node, path: "tracing", context: &self) else { return settings }
        settings.enabled = true
        if let node = mapping.take("enabled"), let value = bool(node, path: "tracing.enabled") { settings.enabled = value }
        if let node = mapping.take("endpoint"), let url = string(node, path: "tracing.endpoint") {
            if url.hasPrefix("http://") || url.hasPrefix("https://") {
                settings.endpoint = url
            } else {
                error("tracing.endpoint must be an http:// or https:// URL", at: node.location, hint: "e.g. http://localhost:4318/v1/traces")
            }
        }
        if let node = mapping.take("headers") { settings.headers = headerSecrets(node, path: "tracing.headers") }
        if let node = mapping.take("sample_ratio"), let value = number(node, path: "tracing.sample_ratio") {
            if value >= 0 && value <= 1 {
                settings.sampleRatio = value
            } else {
                error("tracing.sample_ratio must be between 0 and 1", at: node.location)
            }
        }
        if let node = mapping.take("service_name"), let value = string(node, path: "tracing.service_name") { settings.serviceName = value }
        if let node = mapping.take("batch_size"), let value = positive(node, path: "tracing.batch_size", max: 10_000) { settings.batchSize = value }
        if let node = mapping.take("export_interval"), let value = duration(node, path: "tracing.export_interval") {
            settings.exportInterval = value
        }
        if let node = mapping.take("timeout"), let value = duration(node, path: "tracing.timeout") { settings.timeout = value }
        if let node = mapping.take("max_queue"), let value = positive(node, path: "tracing.max_queue", max: 10_000_000) { settings.maxQueue = value }
        if let node = mapping.take("propagate"), let value = bool(node, path: "tracing.propagate") { settings.propagate = value }
        mapping.finish(
            known: [
                "enabled", "endpoint", "headers", "sample_ratio", "service_name", "batch_size", "export_interval", "timeout", "max_queue",
                "propagate",
            ],
            context: &self)
        return settings
    }
}

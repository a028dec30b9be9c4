import Foundation

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

    /// The OpenTelemetry SDK's environment variables, as the defaults a `tracing:` section
    /// overrides field by field. An endpoint variable turns tracing on (`OTEL_SDK_DISABLED=true`
    /// or `OTEL_TRACES_EXPORTER=none` keep it off); malformed values are warnings, as the
    /// OpenTelemetry specification asks, never a reason to refuse the file.
    mutating func tracingFromEnvironment() -> TracingSettings {
        var settings = TracingSettings()
        func variable(_ name: String) -> String? {
            guard let value = environment[name]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
            return value
        }
        if let traces = variable("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
            settings.endpoint = traces
            settings.enabled = true
        } else if var base = variable("OTEL_EXPORTER_OTLP_ENDPOINT") {
            // The base endpoint gets the signal's path; the traces endpoint is taken as it is.
            while base.hasSuffix("/") { base.removeLast() }
            settings.endpoint = base + "/v1/traces"
            settings.enabled = true
        }
        if settings.enabled, !(settings.endpoint.hasPrefix("http://") || settings.endpoint.hasPrefix("https://")) {
            warning(
                "the OTLP endpoint from the environment is not an http:// or https:// URL: tracing stays off", at: nil,
                hint: "set OTEL_EXPORTER_OTLP_ENDPOINT to e.g. http://collector:4318")
            settings = TracingSettings()
        }
        if variable("OTEL_SDK_DISABLED")?.lowercased() == "true" || variable("OTEL_TRACES_EXPORTER")?.lowercased() == "none" {
            settings.enabled = false
        }
        if let transport = variable("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") ?? variable("OTEL_EXPORTER_OTLP_PROTOCOL"), transport.hasPrefix("grpc") {
            warning(
                "OTEL_EXPORTER_OTLP_PROTOCOL is \(transport), but Switchyard exports OTLP over HTTP (JSON)", at: nil,
                hint: "point the endpoint at the collector's OTLP/HTTP port (4318)")
        }
        var headers: [String: HeaderField] = [:]
        for name in ["OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"] {
            for (key, value) in keyValueList(variable(name), variable: name) { headers[key.lowercased()] = HeaderField(key, value) }
        }
        settings.headers = headers.keys.sorted().compactMap { headers[$0] }
        var resource: [String: String] = [:]
        for (key, value) in keyValueList(variable("OTEL_RESOURCE_ATTRIBUTES"), variable: "OTEL_RESOURCE_ATTRIBUTES") { resource[key] = value }
        if let name = variable("OTEL_SERVICE_NAME") ?? resource["service.name"] { settings.serviceName = name }
        resource["service.name"] = nil
        settings.resourceAttributes = resource
        if let sampler = variable("OTEL_TRACES_SAMPLER")?.lowercased() {
            let argument = variable("OTEL_TRACES_SAMPLER_ARG")
            switch sampler {
            case "always_on", "parentbased_always_on": settings.sampleRatio = 1
            case "always_off", "parentbased_always_off": settings.sampleRatio = 0
            case "traceidratio", "parentbased_traceidratio":
                if let argument {
                    if let ratio = Double(argument), ratio >= 0, ratio <= 1 {
                        settings.sampleRatio = ratio
                    } else {
                        warning("OTEL_TRACES_SAMPLER_ARG '\(argument)' is not a ratio between 0 and 1: sampling everything", at: nil)
                    }
                }
            default:
                warning(
                    "OTEL_TRACES_SAMPLER '\(sampler)' is not supported: sampling everything", at: nil,
                    hint: "one of always_on, always_off, traceidratio and their parentbased_ forms")
            }
        }
        return settings
    }

    /// `key1=value1,key2=value2` with percent-encoded values (the W3C baggage form the
    /// OpenTelemetry variables use); a malformed entry is a warning that names the variable,
    /// never its value (headers carry credentials).
    mutating func keyValueList(_ text: String?, variable: String) -> [(String, String)] {
        guard let text else { return [] }
        var pairs: [(String, String)] = []
        for entry in text.split(separator: ",") {
            let parts = entry.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, !parts[0].isEmpty, let value = parts[1].removingPercentEncoding else {
                warning("\(variable) has an entry that is not key=value: it is ignored", at: nil)
                continue
            }
            pairs.append((parts[0], value))
        }
        return pairs
    }

    mutating func decodeTracing(_ node: ConfigNode, defaults: TracingSettings) -> TracingSettings {
        var settings = defaults
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

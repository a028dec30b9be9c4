/// Decoding of `guardrails:`.
extension Context {
    mutating func decodeGuardrails(_ node: ConfigNode) -> GuardrailSettings {
        var settings = GuardrailSettings()
        var names: Set<String> = []
        for item in sequence(node, path: "guardrails") {
            guard var mapping = MappingReader(item.node, path: item.path, context: &self) else { continue }
            let path = item.path
            let name = mapping.take("name").flatMap { string($0, path: "\(path).name") } ?? path
            if !names.insert(name).inserted { error("guardrail name '\(name)' is used twice", at: item.node.location) }
            guard let detectorNode = mapping.take("detector"), let detectorText = string(detectorNode, path: "\(path).detector") else {
                error(
                    "\(path) needs a 'detector'", at: item.node.location,
                    hint: "one of: \(GuardrailRule.Detector.allCases.map(\.rawValue).joined(separator: ", "))")
                mapping.finishAll()
                continue
            }
            guard let detector = GuardrailRule.Detector(rawValue: detectorText) else {
                let names = GuardrailRule.Detector.allCases.map(\.rawValue)
                error(
                    "unknown guardrail detector '\(detectorText)'", at: detectorNode.location,
                    hint: Suggestions.closest(to: detectorText, in: names).map { "did you mean '\($0)'?" }
                        ?? "use one of: \(names.joined(separator: ", "))")
                mapping.finishAll()
                continue
            }
            var rule = GuardrailRule(name: name, detector: detector)
            rule.location = item.node.location
            if let node = mapping.take("direction"), let text = string(node, path: "\(path).direction") {
                if let value = GuardrailRule.Direction(rawValue: text) {
                    rule.direction = value
                } else {
                    error("\(path).direction must be input, output or both", at: node.location)
                }
            }
            if let node = mapping.take("action"), let text = string(node, path: "\(path).action") {
                if let value = GuardrailRule.Action(rawValue: text) {
                    rule.action = value
                } else {
                    error(
                        "\(path).action must be one of: \(GuardrailRule.Action.allCases.map(\.rawValue).joined(separator: ", "))", at: node.location)
                }
            }
            rule.routeTo = mapping.take("route_to").flatMap { string($0, path: "\(path).route_to") }
            if detector == .jsonSchema {
                rule.direction = .output
                if ![.block, .retry, .flag].contains(rule.action) {
                    error("\(path): the json_schema detector takes action block, retry or flag", at: item.node.location)
                }
            } else if rule.action == .retry {
                error("\(path): action retry applies to the json_schema detector only", at: item.node.location)
            }
            if rule.action == .route && rule.routeTo == nil {
                error("\(path): action route needs 'route_to' (the model to send such requests to)", at: item.node.location)
            }
            if rule.action == .route && rule.direction != .input {
                error("\(path): action route applies to prompts only; use direction: input", at: item.node.location)
            }
            if rule.action == .pseudonymize && !(detector == .pii || detector == .secrets || detector == .regex || detector == .words) {
                error("\(path): pseudonymize needs a detector that finds values (pii, secrets, regex or words)", at: item.node.location)
            }
            if let node = mapping.take("threshold"), let value = number(node, path: "\(path).threshold") {
                if value <= 0 { error("\(path).threshold must be positive", at: node.location) }
                rule.threshold = value
            }
            if let node = mapping.take("entities") {
                let values = strings(node, path: "\(path).entities")
                let known = (detector == .secrets ? PIIDetector.Entity.secrets : PIIDetector.Entity.personal).map(\.rawValue)
                if detector != .pii && detector != .secrets {
                    error("\(path).entities applies to the pii and secrets detectors", at: node.location)
                }
                for value in values where !known.contains(value) {
                    error(
                        "unknown \(detector.rawValue) entity '\(value)'", at: node.location,
                        hint: Suggestions.closest(to: value, in: known).map { "did you mean '\($0)'?" } ?? "known: \(known.joined(separator: ", "))")
                }
                rule.entities = values
            }
            if let node = mapping.take("categories") {
                let values = strings(node, path: "\(path).categories")
                for value in values where !ContentDetector.categories.contains(value) {
                    error(
                        "unknown content category '\(value)'", at: node.location, hint: "known: \(ContentDetector.categories.joined(separator: ", "))"
                    )
                }
                rule.categories = values
            }
            if let node = mapping.take("extra") {
                if case .mapping(let entries, _) = node {
                    for entry in entries { rule.extraPhrases[entry.key] = strings(entry.value, path: "\(path).extra.\(entry.key)") }
                } else {
                    error(
                        "\(path).extra must map categories to phrase lists", at: node.location,
                        hint: "extra: {illegal: [\"our competitor's exploit\"]}")
                }
            }
            if let node = mapping.take("words") { rule.words = strings(node, path: "\(path).words") }
            if let node = mapping.take("patterns") {
                if case .mapping(let entries, _) = node {
                    for entry in entries {
                        guard let pattern = string(entry.value, path: "\(path).patterns.\(entry.key)") else { continue }
                        do {
                            _ = try Regex(pattern)
                            rule.patterns.append((entry.key, pattern))
                        } catch {
                            self.error("\(path).patterns.\(entry.key) is not a valid regular expression: \(error)", at: entry.value.location)
                        }
                    }
                } else {
                    error(
                        "\(path).patterns must map names to regular expressions", at: node.location, hint: #"patterns: {employee_id: "EMP-[0-9]{6}"}"#
                    )
                }
            }
            if let node = mapping.take("webhook"), var hook = MappingReader(node, path: "\(path).webhook", context: &self) {
                if let url = hook.take("url").flatMap({ string($0, path: "\(path).webhook.url") }) {
                    var webhook = GuardrailWebhookSettings(url: url)
                    if !(url.hasPrefix("http://") || url.hasPrefix("https://")) {
                        error("\(path).webhook.url must be an http(s) URL", at: node.location)
                    }
                    if let node = hook.take("timeout"), let value = duration(node, path: "\(path).webhook.timeout") { webhook.timeout = value }
                    if let node = hook.take("on_error"), let text = string(node, path: "\(path).webhook.on_error") {
                        switch text {
                        case "allow": webhook.failOpen = true
                        case "block": webhook.failOpen = false
                        default: error("\(path).webhook.on_error must be allow or block", at: node.location)
                        }
                    }
                    if let node = hook.take("headers") { webhook.headers = headerSecrets(node, path: "\(path).webhook.headers") }
                    rule.webhook = webhook
                } else {
                    error("\(path).webhook needs a 'url'", at: node.location)
                }
                hook.finish(known: ["url", "timeout", "on_error", "headers"], context: &self)
            }
            if let node = mapping.take("classifier"), var reader = MappingReader(node, path: "\(path).classifier", context: &self) {
                if detector != .injection { error("\(path).classifier applies to the injection detector", at: node.location) }
                if let model = reader.take("model").flatMap({ string($0, path: "\(path).classifier.model") }) {
                    var classifier = InjectionClassifierSettings(model: model)
                    if let node = reader.take("cache_size"), let value = integer(node, path: "\(path).classifier.cache_size") {
                        classifier.cacheSize = max(0, value)
                    }
                    if let node = reader.take("min_length"), let value = integer(node, path: "\(path).classifier.min_length") {
                        classifier.minLength = max(0, value)
                    }
                    if let node = reader.take("on_error"), let text = string(node, path: "\(path).classifier.on_error") {
                        switch text {
                        case "allow": classifier.failOpen = true
                        case "block": classifier.failOpen = false
                        default: error("\(path).classifier.on_error must be allow or block", at: node.location)
                        }
                    }
                    rule.classifier = classifier
                } else {
                    error("\(path).classifier needs a 'model'", at: node.location, hint: "classifier: {model: guard-model}")
                }
                reader.finish(known: ["model", "cache_size", "min_length", "on_error"], context: &self)
            }
            if let node = mapping.take("learned"), let value = bool(node, path: "\(path).learned") {
                if detector != .injection { error("\(path).learned applies to the injection detector", at: node.location) }
                rule.learned = value
            }
            if let node = mapping.take("learned_weight"), let value = number(node, path: "\(path).learned_weight") {
                if detector != .injection { error("\(path).learned_weight applies to the injection detector", at: node.location) }
                if value < 0 || value > 10 { error("\(path).learned_weight must be between 0 and 10", at: node.location) }
                rule.learnedWeight = min(max(value, 0), 10)
            }
            if let node = mapping.take("messages") { rule.messageRoles = strings(node, path: "\(path).messages") }
            if let node = mapping.take("non_text"), let text = string(node, path: "\(path).non_text") {
                switch text {
                case "allow": rule.allowsNonText = true
                case "refuse": rule.allowsNonText = false
                default: error("\(path).non_text must be refuse or allow", at: node.location)
                }
            }
            if let node = mapping.take("endpoints") { rule.endpoints = strings(node, path: "\(path).endpoints") }
            if let node = mapping.take("models") { rule.models = strings(node, path: "\(path).models") }
            if let node = mapping.take("keys") { rule.keys = strings(node, path: "\(path).keys") }
            if let node = mapping.take("teams") { rule.teams = strings(node, path: "\(path).teams") }
            if let node = mapping.take("orgs") { rule.orgs = strings(node, path: "\(path).orgs") }
            if let node = mapping.take("users") { rule.users = strings(node, path: "\(path).users") }
            if let node = mapping.take("roles") { rule.roles = strings(node, path: "\(path).roles") }
            if let node = mapping.take("when") { rule.conditions = decodeConditions(node, path: "\(path).when") }
            if let node = mapping.take("stream_window"), let value = integer(node, path: "\(path).stream_window") {
                if value < 16 || value > 65_536 { error("\(path).stream_window must be between 16 and 65536 bytes", at: node.location) }
                rule.streamWindow = min(max(value, 16), 65_536)
            }
            if let node = mapping.take("enabled"), let value = bool(node, path: "\(path).enabled") { rule.enabled = value }
            if let node = mapping.take("audit"), let value = bool(node, path: "\(path).audit") { rule.audit = value }
            switch detector {
            case .words where rule.words.isEmpty:
                error("\(path): the words detector needs a 'words' list", at: item.node.location)
            case .regex where rule.patterns.isEmpty:
                error("\(path): the regex detector needs 'patterns'", at: item.node.location)
            case .webhook where rule.webhook == nil:
                error("\(path): the webhook detector needs 'webhook: {url: ...}'", at: item.node.location)
            default:
                break
            }
            mapping.finish(
                known: [
                    "name", "detector", "direction", "action", "route_to", "threshold", "entities", "categories", "extra", "words", "patterns",
                    "webhook", "classifier", "learned", "learned_weight", "messages", "non_text", "endpoints", "models", "keys", "teams", "orgs",
                    "users", "roles", "when",
                    "stream_window",
                    "enabled",
                ], context: &self)
            settings.rules.append(rule)
        }
        return settings
    }
}

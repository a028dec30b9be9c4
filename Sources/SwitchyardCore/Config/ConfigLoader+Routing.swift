/// Decoding of model groups, deployments, the router's settings and routing rules.
extension Context {
    // MARK: Models

    static let deploymentKeys = [
        "weight", "priority", "rpm", "tpm", "context_window", "max_output_tokens", "price", "tags", "region", "native_batches", "batch_discount",
    ]
    static let modelKeys =
        [
            "name", "provider", "model", "aliases", "deployments", "strategy", "version", "default", "deprecated", "sunset",
            "successor", "retry", "fallbacks", "timeout", "first_token_timeout", "experiment", "shadow", "health_check",
        ] + deploymentKeys

    mutating func decodeModel(_ node: ConfigNode, path: String) -> ModelConfig? {
        guard var mapping = MappingReader(node, path: path, context: &self) else { return nil }
        let name = mapping.take("name").flatMap { string($0, path: "\(path).name") }
        let provider = mapping.take("provider").flatMap { string($0, path: "\(path).provider") }
        let upstream = mapping.take("model").flatMap { string($0, path: "\(path).model") }
        var aliases: [String] = []
        if let aliasNode = mapping.take("aliases") {
            aliases = sequence(aliasNode, path: "\(path).aliases").compactMap { string($0.node, path: $0.path) }
        }
        guard let name, !name.isEmpty else {
            mapping.finishAll()
            error("\(path) has no 'name'", at: node.location, hint: "the name clients send as 'model', e.g. name: gpt-4o")
            return nil
        }
        var model = ModelConfig(name: name, provider: provider ?? "", upstreamModel: upstream, aliases: aliases, location: node.location)
        let deploymentsNode = mapping.take("deployments")
        let experimentNode = mapping.take("experiment")
        if let deploymentsNode {
            if provider != nil || upstream != nil {
                error(
                    "model '\(name)' has both 'deployments' and 'provider'/'model'", at: deploymentsNode.location,
                    hint: "list every deployment under 'deployments:'")
            }
            model.deployments = sequence(deploymentsNode, path: "\(path).deployments").compactMap {
                decodeDeployment($0.node, path: $0.path)
            }
            if model.deployments.isEmpty {
                error("model '\(name)' has an empty 'deployments' list", at: deploymentsNode.location)
            }
            model.provider = model.deployments.first?.provider ?? ""
        } else if let experimentNode {
            model.deployments = []
            model.experiment = decodeExperiment(experimentNode, path: "\(path).experiment")
            if provider != nil {
                error(
                    "model '\(name)' has both 'experiment' and 'provider'", at: experimentNode.location, hint: "an experiment's arms name the models")
            }
        } else if provider == nil {
            mapping.finishAll()
            error(
                "model '\(name)' has no 'provider'", at: node.location,
                hint: "name one of the providers defined under 'providers:', or list 'deployments:'")
            return nil
        } else if !model.deployments.isEmpty {
            decodeDeploymentFields(&mapping, into: &model.deployments[0], path: path)
        }
        if deploymentsNode != nil, experimentNode != nil {
            error("model '\(name)' has both 'deployments' and 'experiment'", at: experimentNode!.location)
        }
        if model.deployments.count <= 1, deploymentsNode == nil {
            // Deployment fields of the short form were read above; on other forms they are errors.
            for key in Self.deploymentKeys where mapping.entries.contains(where: { $0.key == key }) && !mapping.used.contains(key) {
                error("'\(key)' belongs to a deployment in model '\(name)'", at: mapping.take(key)?.location, hint: "put it under 'deployments:'")
            }
        } else {
            for key in Self.deploymentKeys where mapping.entries.contains(where: { $0.key == key }) {
                error("'\(key)' belongs to a deployment in model '\(name)'", at: mapping.take(key)?.location, hint: "put it under 'deployments:'")
            }
        }
        if let node = mapping.take("strategy"), let value = string(node, path: "\(path).strategy") {
            if let strategy = RoutingStrategyKind(rawValue: value) {
                model.strategy = strategy
            } else {
                let names = RoutingStrategyKind.allCases.map(\.rawValue)
                error(
                    "unknown strategy '\(value)'", at: node.location,
                    hint: Suggestions.closest(to: value, in: names).map { "did you mean '\($0)'?" } ?? "use one of: \(names.joined(separator: ", "))")
            }
        }
        if let node = mapping.take("version"), let value = string(node, path: "\(path).version") {
            if value.isEmpty || value.contains("@") {
                error("\(path).version must be a non-empty name without '@'", at: node.location)
            }
            model.version = value
        }
        if let node = mapping.take("default"), let value = bool(node, path: "\(path).default") { model.isDefaultVersion = value }
        model.deprecation = decodeDeprecation(&mapping, path: path)
        if let node = mapping.take("retry") { model.retry = decodeRetry(node, path: "\(path).retry", base: RetryPolicy()) }
        if let node = mapping.take("fallbacks") {
            model.fallbacks = sequence(node, path: "\(path).fallbacks").compactMap { decodeFallback($0.node, path: $0.path) }
        }
        if let node = mapping.take("timeout") { model.timeout = duration(node, path: "\(path).timeout") }
        if let node = mapping.take("first_token_timeout") { model.firstTokenTimeout = duration(node, path: "\(path).first_token_timeout") }
        if let node = mapping.take("shadow") { model.shadow = decodeShadow(node, path: "\(path).shadow") }
        if let node = mapping.take("health_check") { model.healthCheck = decodeHealthCheck(node, path: "\(path).health_check") }
        mapping.finish(known: Self.modelKeys, context: &self)
        if name.dropLast().contains("*") {
            error("model '\(name)': '*' is only allowed at the end of a name", at: node.location, hint: "use a prefix pattern such as openai/*")
        }
        if name.contains("@") {
            error("model '\(name)': '@' separates a version; use 'version:'", at: node.location, hint: "name: \(name.split(separator: "@")[0])")
        }
        if model.isPattern, model.deployments.count > 1 || model.experiment != nil {
            error("pattern model '\(name)' can only have one provider", at: node.location)
        }
        return model
    }

    mutating func decodeDeployment(_ node: ConfigNode, path: String) -> DeploymentConfig? {
        guard var mapping = MappingReader(node, path: path, context: &self) else { return nil }
        let provider = mapping.take("provider").flatMap { string($0, path: "\(path).provider") }
        let upstream = mapping.take("model").flatMap { string($0, path: "\(path).model") }
        let id = mapping.take("id").flatMap { string($0, path: "\(path).id") }
        guard let provider, let upstream else {
            mapping.finishAll()
            error("\(path) needs 'provider' and 'model'", at: node.location, hint: "e.g. {provider: openai, model: gpt-4o}")
            return nil
        }
        var deployment = DeploymentConfig(id: id, provider: provider, upstreamModel: upstream)
        decodeDeploymentFields(&mapping, into: &deployment, path: path)
        mapping.finish(known: ["id", "provider", "model"] + Self.deploymentKeys, context: &self)
        return deployment
    }

    mutating func decodeDeploymentFields(_ mapping: inout MappingReader, into deployment: inout DeploymentConfig, path: String) {
        if let node = mapping.take("weight"), let value = number(node, path: "\(path).weight") {
            if value < 0 { error("\(path).weight must not be negative", at: node.location) }
            deployment.weight = max(0, value)
        }
        if let node = mapping.take("priority"), let value = integer(node, path: "\(path).priority") { deployment.priority = value }
        for (key, keyPath) in [
            ("rpm", \DeploymentConfig.rpm), ("tpm", \.tpm), ("context_window", \.contextWindow), ("max_output_tokens", \.maxOutputTokens),
        ] {
            if let node = mapping.take(key), let value = integer(node, path: "\(path).\(key)") {
                if value <= 0 { error("\(path).\(key) must be positive", at: node.location) }
                deployment[keyPath: keyPath] = value
            }
        }
        if let node = mapping.take("price") { deployment.price = decodePrice(node, path: "\(path).price") }
        if let node = mapping.take("tags") {
            deployment.tags = sequence(node, path: "\(path).tags").compactMap { string($0.node, path: $0.path) }
        }
        if let node = mapping.take("region") { deployment.region = string(node, path: "\(path).region") }
        if let node = mapping.take("native_batches"), let value = bool(node, path: "\(path).native_batches") { deployment.nativeBatches = value }
        if let node = mapping.take("batch_discount"), let value = number(node, path: "\(path).batch_discount") {
            if value < 0 || value > 1 || !value.isFinite {
                error("\(path).batch_discount must be between 0 and 1", at: node.location, hint: "0.5 is OpenAI's and Anthropic's 50% discount")
            }
            deployment.batchDiscount = min(max(value, 0), 1)
        }
    }

    mutating func decodePrice(_ node: ConfigNode, path: String) -> ModelPrice? {
        guard var mapping = MappingReader(node, path: path, context: &self) else { return nil }
        let input = mapping.take("input").flatMap { number($0, path: "\(path).input") }
        let output = mapping.take("output").flatMap { number($0, path: "\(path).output") }
        let cached = mapping.take("cached_input").flatMap { number($0, path: "\(path).cached_input") }
        let cacheWrite = mapping.take("cache_write").flatMap { number($0, path: "\(path).cache_write") }
        let reasoning = mapping.take("reasoning").flatMap { number($0, path: "\(path).reasoning") }
        let perSecond = mapping.take("per_second").flatMap { number($0, path: "\(path).per_second") }
        let perCharacter = mapping.take("per_character").flatMap { number($0, path: "\(path).per_character") }
        var perImage: [String: Double]?
        if let node = mapping.take("per_image") { perImage = decodeImagePrices(node, path: "\(path).per_image") }
        mapping.finish(
            known: ["input", "output", "cached_input", "cache_write", "reasoning", "per_image", "per_second", "per_character"], context: &self)
        let hasMedia = perImage != nil || perSecond != nil || perCharacter != nil
        guard (input != nil && output != nil) || (hasMedia && input == nil && output == nil) else {
            error(
                "\(path) needs 'input' and 'output' (USD per million tokens), or only media rates (per_image, per_second, per_character)",
                at: node.location, hint: "price: {input: 2.5, output: 10}")
            return nil
        }
        for (name, value) in [
            ("input", input ?? 0), ("output", output ?? 0), ("cached_input", cached ?? 0), ("cache_write", cacheWrite ?? 0),
            ("reasoning", reasoning ?? 0),
            ("per_second", perSecond ?? 0), ("per_character", perCharacter ?? 0),
        ]
        where value < 0 || !value.isFinite {
            error("\(path).\(name) must be a non-negative number (USD)", at: node.location)
        }
        var price = ModelPrice(input: input ?? 0, output: output ?? 0, cachedInput: cached, cacheWrite: cacheWrite, reasoning: reasoning)
        price.perImage = perImage
        price.perSecond = perSecond
        price.perCharacter = perCharacter
        return price
    }

    /// `per_image`: one USD amount for every image, or amounts by `size/quality`, `size`,
    /// `quality` and `*`.
    mutating func decodeImagePrices(_ node: ConfigNode, path: String) -> [String: Double]? {
        if case .scalar = node {
            guard let value = number(node, path: path) else { return nil }
            if value < 0 || !value.isFinite { error("\(path) must be a non-negative number (USD per image)", at: node.location) }
            return ["*": value]
        }
        guard var mapping = MappingReader(node, path: path, context: &self) else { return nil }
        var prices: [String: Double] = [:]
        for (key, _) in mapping.remaining() {
            guard let child = mapping.take(key), let value = number(child, path: "\(path).\(key)") else { continue }
            if value < 0 || !value.isFinite { error("\(path).\(key) must be a non-negative number (USD per image)", at: child.location) }
            prices[key.lowercased()] = value
        }
        return prices
    }

    mutating func decodeDeprecation(_ mapping: inout MappingReader, path: String) -> Deprecation? {
        var deprecation = Deprecation()
        var any = false
        if let node = mapping.take("deprecated") {
            if case .scalar(let text, _, _) = node, let date = Self.parseDate(text) {
                deprecation.deprecatedSince = date
                any = true
            } else if let flag = bool(node, path: "\(path).deprecated") {
                any = any || flag
            }
        }
        if let node = mapping.take("sunset") {
            if case .scalar(let text, _, _) = node, let date = Self.parseDate(text) {
                deprecation.sunset = date
                any = true
            } else {
                error("\(path).sunset must be a date", at: node.location, hint: "for example 2026-12-31 or 2026-12-31T18:00:00Z")
            }
        }
        if let node = mapping.take("successor"), let value = string(node, path: "\(path).successor") {
            deprecation.successor = value
            any = true
        }
        return any ? deprecation : nil
    }

    /// `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM[:SS]Z` as Unix seconds (UTC).
    static func parseDate(_ text: String) -> Int64? { CivilDate.parseUnixTime(text) }

    mutating func errorClasses(_ node: ConfigNode, path: String) -> Set<ErrorClass> {
        var classes: Set<ErrorClass> = []
        let names = ErrorClass.allCases.map(\.rawValue)
        for item in sequence(node, path: path) {
            guard let text = string(item.node, path: item.path) else { continue }
            if let value = ErrorClass(rawValue: text) {
                classes.insert(value)
            } else {
                error(
                    "unknown error class '\(text)'", at: item.node.location,
                    hint: Suggestions.closest(to: text, in: names).map { "did you mean '\($0)'?" } ?? "use one of: \(names.joined(separator: ", "))")
            }
        }
        return classes
    }

    mutating func decodeRetry(_ node: ConfigNode, path: String, base: RetryPolicy) -> RetryPolicy {
        var policy = base
        guard var mapping = MappingReader(node, path: path, context: &self) else { return policy }
        if let node = mapping.take("attempts"), let value = integer(node, path: "\(path).attempts") {
            if !(0...10).contains(value) { error("\(path).attempts must be between 0 and 10", at: node.location) }
            policy.attempts = min(max(0, value), 10)
        }
        if let node = mapping.take("backoff"), let value = duration(node, path: "\(path).backoff") { policy.backoff = value }
        if let node = mapping.take("max_backoff"), let value = duration(node, path: "\(path).max_backoff") { policy.maxBackoff = value }
        if let node = mapping.take("on") { policy.on = errorClasses(node, path: "\(path).on") }
        mapping.finish(known: ["attempts", "backoff", "max_backoff", "on"], context: &self)
        return policy
    }

    mutating func decodeFallback(_ node: ConfigNode, path: String) -> FallbackRule? {
        if case .scalar(let name, _, _) = node { return FallbackRule(model: name, location: node.location) }
        guard var mapping = MappingReader(node, path: path, context: &self) else { return nil }
        let model = mapping.take("model").flatMap { string($0, path: "\(path).model") }
        var rule = FallbackRule(model: model ?? "", location: node.location)
        if let node = mapping.take("on") { rule.on = errorClasses(node, path: "\(path).on") }
        mapping.finish(known: ["model", "on"], context: &self)
        guard model != nil else {
            error("\(path) needs 'model'", at: node.location, hint: "e.g. {model: gpt-4o-mini, on: [rate_limit, server_error]}")
            return nil
        }
        return rule
    }

    mutating func decodeExperiment(_ node: ConfigNode, path: String) -> ExperimentConfig? {
        guard var mapping = MappingReader(node, path: path, context: &self) else { return nil }
        let name = mapping.take("name").flatMap { string($0, path: "\(path).name") }
        var sticky = ExperimentConfig.Sticky.user
        if let node = mapping.take("sticky"), let text = string(node, path: "\(path).sticky") {
            switch text.lowercased() {
            case "user": sticky = .user
            case "key": sticky = .key
            case "none", "off", "false": sticky = .none
            default:
                if text.lowercased().hasPrefix("header:"), text.count > 7 {
                    sticky = .header(String(text.dropFirst(7)).lowercased().trimmingSpaces())
                } else {
                    error("\(path).sticky must be user, key, none or header:<name>", at: node.location)
                }
            }
        }
        var arms: [ExperimentConfig.Arm] = []
        if let node = mapping.take("arms") {
            for item in sequence(node, path: "\(path).arms") {
                guard var arm = MappingReader(item.node, path: item.path, context: &self) else { continue }
                let armName = arm.take("name").flatMap { string($0, path: "\(item.path).name") }
                let model = arm.take("model").flatMap { string($0, path: "\(item.path).model") }
                let weight = arm.take("weight").flatMap { number($0, path: "\(item.path).weight") } ?? 1
                arm.finish(known: ["name", "model", "weight"], context: &self)
                guard let model else {
                    error("\(item.path) needs 'model'", at: item.node.location)
                    continue
                }
                if weight < 0 { error("\(item.path).weight must not be negative", at: item.node.location) }
                arms.append(ExperimentConfig.Arm(name: armName ?? model, model: model, weight: max(0, weight)))
            }
        }
        mapping.finish(known: ["name", "sticky", "arms"], context: &self)
        guard arms.count >= 2 else {
            error(
                "\(path) needs at least two arms", at: node.location,
                hint: "arms: [{name: control, model: a, weight: 90}, {name: canary, model: b, weight: 10}]")
            return nil
        }
        if arms.allSatisfy({ $0.weight == 0 }) { error("\(path): every arm has weight 0", at: node.location) }
        return ExperimentConfig(name: name ?? "experiment", sticky: sticky, arms: arms)
    }

    mutating func decodeShadow(_ node: ConfigNode, path: String) -> ShadowConfig? {
        guard var mapping = MappingReader(node, path: path, context: &self) else { return nil }
        let model = mapping.take("model").flatMap { string($0, path: "\(path).model") }
        var rate = 1.0
        if let node = mapping.take("sample_rate"), let value = number(node, path: "\(path).sample_rate") {
            if !(0...1).contains(value) { error("\(path).sample_rate must be between 0 and 1", at: node.location) }
            rate = min(max(0, value), 1)
        }
        mapping.finish(known: ["model", "sample_rate"], context: &self)
        guard let model else {
            error("\(path) needs 'model'", at: node.location)
            return nil
        }
        return ShadowConfig(model: model, sampleRate: rate)
    }

    mutating func decodeHealthCheck(_ node: ConfigNode, path: String) -> HealthCheckConfig? {
        guard var mapping = MappingReader(node, path: path, context: &self) else { return nil }
        var check = HealthCheckConfig(interval: .seconds(30), timeout: .seconds(10), endpoint: .chatCompletions)
        if let node = mapping.take("interval"), let value = duration(node, path: "\(path).interval") { check.interval = value }
        if let node = mapping.take("timeout"), let value = duration(node, path: "\(path).timeout") { check.timeout = value }
        if let node = mapping.take("endpoint"), let value = string(node, path: "\(path).endpoint") {
            switch value {
            case "chat", "chat_completions": check.endpoint = .chatCompletions
            case "embeddings": check.endpoint = .embeddings
            default: error("\(path).endpoint must be chat_completions or embeddings", at: node.location)
            }
        }
        mapping.finish(known: ["interval", "timeout", "endpoint"], context: &self)
        return check
    }

    // MARK: Router

    mutating func decodeRouter(_ node: ConfigNode) -> RouterSettings {
        var settings = RouterSettings()
        guard var mapping = MappingReader(node, path: "router", context: &self) else { return settings }
        if let node = mapping.take("retry") { settings.retry = decodeRetry(node, path: "router.retry", base: settings.retry) }
        if let node = mapping.take("retry_budget") {
            if var budget = MappingReader(node, path: "router.retry_budget", context: &self) {
                if let node = budget.take("ratio"), let value = number(node, path: "router.retry_budget.ratio") {
                    if !(0...10).contains(value) { error("router.retry_budget.ratio must be between 0 and 10", at: node.location) }
                    settings.retryBudgetRatio = min(max(0, value), 10)
                }
                if let node = budget.take("min_per_second"), let value = number(node, path: "router.retry_budget.min_per_second") {
                    settings.retryBudgetMinPerSecond = max(0, value)
                }
                budget.finish(known: ["ratio", "min_per_second"], context: &self)
            }
        }
        if let node = mapping.take("circuit_breaker") { settings.breaker = decodeBreaker(node) }
        if let node = mapping.take("timeout") { settings.timeout = duration(node, path: "router.timeout") }
        if let node = mapping.take("first_token_timeout") { settings.firstTokenTimeout = duration(node, path: "router.first_token_timeout") }
        if let node = mapping.take("seed"), let value = integer(node, path: "router.seed") { settings.seed = UInt64(bitPattern: Int64(value)) }
        if let node = mapping.take("shared_state"), let value = bool(node, path: "router.shared_state") { settings.sharedState = value }
        if let node = mapping.take("sync_interval"), let value = duration(node, path: "router.sync_interval") { settings.syncInterval = value }
        if let node = mapping.take("panic_routing"), let value = bool(node, path: "router.panic_routing") { settings.panicRouting = value }
        mapping.finish(
            known: [
                "retry", "retry_budget", "circuit_breaker", "timeout", "first_token_timeout", "seed", "shared_state", "sync_interval",
                "panic_routing",
            ],
            context: &self)
        return settings
    }

    mutating func decodeBreaker(_ node: ConfigNode) -> BreakerSettings {
        var settings = BreakerSettings()
        let path = "router.circuit_breaker"
        if case .scalar = node, let enabled = bool(node, path: path) {
            settings.enabled = enabled
            return settings
        }
        guard var mapping = MappingReader(node, path: path, context: &self) else { return settings }
        if let node = mapping.take("enabled"), let value = bool(node, path: "\(path).enabled") { settings.enabled = value }
        if let node = mapping.take("consecutive_failures"), let value = integer(node, path: "\(path).consecutive_failures") {
            settings.consecutiveFailures = max(1, value)
        }
        if let node = mapping.take("failure_rate"), let value = number(node, path: "\(path).failure_rate") {
            if !(0...1).contains(value) || value == 0 { error("\(path).failure_rate must be in (0, 1]", at: node.location) }
            settings.failureRate = min(max(0.01, value), 1)
        }
        if let node = mapping.take("minimum_requests"), let value = integer(node, path: "\(path).minimum_requests") {
            settings.minimumRequests = max(1, value)
        }
        if let node = mapping.take("window"), let value = duration(node, path: "\(path).window") { settings.window = value }
        if let node = mapping.take("cooldown"), let value = duration(node, path: "\(path).cooldown") { settings.cooldown = value }
        if let node = mapping.take("half_open_probes"), let value = integer(node, path: "\(path).half_open_probes") {
            settings.halfOpenProbes = max(1, value)
        }
        mapping.finish(
            known: ["enabled", "consecutive_failures", "failure_rate", "minimum_requests", "window", "cooldown", "half_open_probes"],
            context: &self)
        return settings
    }

    mutating func decodeRedis(_ node: ConfigNode) -> RedisSettings? {
        guard var mapping = MappingReader(node, path: "redis", context: &self) else { return nil }
        let url = mapping.take("url").flatMap { secret($0, path: "redis.url") }
        var settings = url.map(RedisSettings.init)
        if let node = mapping.take("key_prefix"), let value = string(node, path: "redis.key_prefix") { settings?.keyPrefix = value }
        if let node = mapping.take("command_timeout"), let value = duration(node, path: "redis.command_timeout") {
            settings?.commandTimeout = value
        }
        let caFileNode = mapping.take("ca_file")
        if let caFileNode, let value = string(caFileNode, path: "redis.ca_file") {
            settings?.caFile = value
            if !fileExists(value) {
                error(
                    "redis.ca_file '\(value)' does not exist", at: caFileNode.location,
                    hint: "a PEM file of the CA certificates that sign the server's")
            }
        }
        mapping.finish(known: ["url", "key_prefix", "command_timeout", "ca_file"], context: &self)
        if let url, !url.reveal().hasPrefix("redis://"), !url.reveal().hasPrefix("rediss://") {
            error(
                "redis.url must start with redis:// or rediss://", at: node.location,
                hint: "redis://[:password@]host[:port][/db], or rediss:// for TLS")
        } else if let url, let caFileNode, url.reveal().hasPrefix("redis://") {
            error("redis.ca_file is set but redis.url is not rediss://", at: caFileNode.location, hint: "use rediss:// to connect with TLS")
        }
        if url == nil, case .mapping = node { error("redis needs 'url'", at: node.location, hint: "url: redis://127.0.0.1:6379/0") }
        return settings
    }

    // MARK: Rules

    mutating func decodeRule(_ node: ConfigNode, path: String) -> RoutingRule? {
        guard var mapping = MappingReader(node, path: path, context: &self) else { return nil }
        let name = mapping.take("name").flatMap { string($0, path: "\(path).name") } ?? path
        let conditions = mapping.take("when").map { decodeConditions($0, path: "\(path).when") } ?? RuleConditions()
        let routeTo = mapping.take("route_to").flatMap { string($0, path: "\(path).route_to") }
        let regions = mapping.take("regions").map { sequence($0, path: "\(path).regions").compactMap { string($0.node, path: $0.path) } }
        mapping.finish(known: ["name", "when", "route_to", "regions"], context: &self)
        if routeTo == nil, regions == nil {
            error("rule '\(name)' does nothing", at: node.location, hint: "give it 'route_to: <model>' and/or 'regions: [...]'")
        }
        return RoutingRule(name: name, conditions: conditions, routeTo: routeTo, regions: regions, location: node.location)
    }

    mutating func stringMap(_ node: ConfigNode, path: String) -> [String: String] {
        guard case .mapping(let entries, _) = node else {
            error("\(path) must be a mapping", at: node.location)
            return [:]
        }
        var result: [String: String] = [:]
        for entry in entries {
            if let value = string(entry.value, path: "\(path).\(entry.key)") { result[entry.key] = value }
        }
        return result
    }

    mutating func decodeConditions(_ node: ConfigNode, path: String) -> RuleConditions {
        var conditions = RuleConditions()
        guard var mapping = MappingReader(node, path: path, context: &self) else { return conditions }
        if let node = mapping.take("model") {
            if case .scalar(let text, _, _) = node {
                conditions.models = [text]
            } else {
                conditions.models = sequence(node, path: "\(path).model").compactMap { string($0.node, path: $0.path) }
            }
        }
        if let node = mapping.take("headers") {
            conditions.headers = Dictionary(
                stringMap(node, path: "\(path).headers").map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { $1 })
        }
        if let node = mapping.take("metadata") { conditions.metadata = stringMap(node, path: "\(path).metadata") }
        if let node = mapping.take("params") {
            conditions.params = stringMap(node, path: "\(path).params")
            for (key, value) in conditions.params where ParamComparison(value) == nil {
                error(
                    "\(path).params.\(key): cannot read comparison '\(value)'", at: node.location,
                    hint: "use a value or >, >=, <, <= followed by a number")
            }
        }
        for (key, keyPath) in [
            ("has_images", \RuleConditions.hasImages), ("has_tools", \.hasTools), ("json_mode", \.jsonMode), ("stream", \.stream),
        ] {
            if let node = mapping.take(key), let value = bool(node, path: "\(path).\(key)") { conditions[keyPath: keyPath] = value }
        }
        if let node = mapping.take("min_prompt_tokens") { conditions.minPromptTokens = integer(node, path: "\(path).min_prompt_tokens") }
        if let node = mapping.take("max_prompt_tokens") { conditions.maxPromptTokens = integer(node, path: "\(path).max_prompt_tokens") }
        if let node = mapping.take("message_matches"), let pattern = string(node, path: "\(path).message_matches") {
            do {
                _ = try Regex(pattern)
                conditions.messagePattern = pattern
            } catch {
                self.error("\(path).message_matches is not a valid regular expression", at: node.location, hint: "\(error)")
            }
        }
        if let node = mapping.take("keywords") {
            conditions.keywords = sequence(node, path: "\(path).keywords").compactMap { string($0.node, path: $0.path)?.lowercased() }
        }
        if let node = mapping.take("language") {
            if case .scalar(let text, _, _) = node {
                conditions.languages = [text.lowercased()]
            } else {
                conditions.languages = sequence(node, path: "\(path).language").compactMap { string($0.node, path: $0.path)?.lowercased() }
            }
            for language in conditions.languages where !LanguageDetector.supported.contains(language) {
                error(
                    "\(path).language: '\(language)' is not a detectable language", at: node.location,
                    hint: "detectable: \(LanguageDetector.supported.sorted().joined(separator: ", "))")
            }
        }
        if let node = mapping.take("time") { conditions.time = decodeTimeWindow(node, path: "\(path).time") }
        mapping.finish(
            known: [
                "model", "headers", "metadata", "params", "has_images", "has_tools", "json_mode", "stream", "min_prompt_tokens",
                "max_prompt_tokens", "message_matches", "keywords", "language", "time",
            ],
            context: &self)
        return conditions
    }

    mutating func decodeTimeWindow(_ node: ConfigNode, path: String) -> TimeWindow? {
        guard var mapping = MappingReader(node, path: path, context: &self) else { return nil }
        var window = TimeWindow()
        let dayNames = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        if let node = mapping.take("days") {
            for item in sequence(node, path: "\(path).days") {
                guard let text = string(item.node, path: item.path) else { continue }
                if let index = dayNames.firstIndex(of: String(text.lowercased().prefix(3))) {
                    window.days.insert(index + 1)
                } else {
                    error("unknown day '\(text)'", at: item.node.location, hint: "use mon, tue, wed, thu, fri, sat, sun")
                }
            }
        }
        func minutes(_ text: String) -> Int? {
            let parts = text.split(separator: ":")
            guard parts.count == 2, let hours = Int(parts[0]), let minutes = Int(parts[1]), (0...24).contains(hours), (0..<60).contains(minutes)
            else { return nil }
            return min(hours * 60 + minutes, 24 * 60)
        }
        for (key, keyPath) in [("from", \TimeWindow.fromMinute), ("to", \.toMinute)] {
            if let node = mapping.take(key), let text = string(node, path: "\(path).\(key)") {
                if let value = minutes(text) {
                    window[keyPath: keyPath] = value
                } else {
                    error("\(path).\(key) must be a time like 09:00", at: node.location)
                }
            }
        }
        if let node = mapping.take("utc_offset"), let text = string(node, path: "\(path).utc_offset") {
            let sign = text.hasPrefix("-") ? -1 : 1
            let body = text.drop(while: { $0 == "+" || $0 == "-" })
            if let value = minutes(String(body)) {
                window.utcOffsetMinutes = sign * value
            } else {
                error("\(path).utc_offset must look like +02:00", at: node.location)
            }
        }
        mapping.finish(known: ["days", "from", "to", "utc_offset"], context: &self)
        return window
    }

    // MARK: Cross-checks

    mutating func crossCheckRouting(_ config: GatewayConfig) {
        let providerNames = config.providers.map(\.name)
        var names: [String: ConfigLocation?] = [:]
        var versioned: [String: [ModelConfig]] = [:]
        for model in config.models {
            for deployment in model.deployments where config.provider(named: deployment.provider) == nil {
                let suggestion = Suggestions.closest(to: deployment.provider, in: providerNames)
                error(
                    "model '\(model.name)' refers to unknown provider '\(deployment.provider)'",
                    at: model.location,
                    hint: suggestion.map { "did you mean '\($0)'?" } ?? "define it under 'providers:' first"
                )
            }
            if model.isPattern, config.provider(named: model.provider) == nil, !model.provider.isEmpty {
                error(
                    "model '\(model.name)' refers to unknown provider '\(model.provider)'", at: model.location,
                    hint: "define it under 'providers:' first")
            }
            for deployment in model.deployments where deployment.nativeBatches {
                guard let provider = config.provider(named: deployment.provider) else { continue }
                if !NativeBatchSupport.adapters.contains(provider.adapter) || provider.type == ProviderPresets.azure {
                    error(
                        "model '\(model.name)': provider '\(provider.name)' (type \(provider.type)) has no native batch API the gateway can use",
                        at: model.location,
                        hint: "native_batches works with OpenAI-compatible providers (OpenAI's /v1/batches) and Anthropic (Message Batches)")
                }
            }
            var ids: Set<String> = []
            for deployment in model.deployments where !ids.insert(deployment.id).inserted {
                error("model '\(model.name)' has two deployments with id '\(deployment.id)'", at: model.location, hint: "give them distinct 'id's")
            }
            versioned[model.name, default: []].append(model)
            var own = [model.qualifiedName] + model.aliases
            if model.version != nil, versioned[model.name]!.count == 1 { own.append(model.name) }
            for name in own {
                if let previous = names[name] {
                    error(
                        "model name or alias '\(name)' is defined twice", at: model.location,
                        hint: previous.map { "first defined at \($0)" } ?? "names and aliases must be unique")
                } else {
                    names[name] = model.location
                }
            }
        }
        for (name, entries) in versioned where entries.count > 1 {
            if entries.contains(where: { $0.version == nil }) {
                error(
                    "model '\(name)' is listed more than once; give each entry a 'version'", at: entries[1].location,
                    hint: "clients pin one with '\(name)@<version>'")
            }
            if entries.filter(\.isDefaultVersion).count > 1 {
                error("model '\(name)' has more than one default version", at: entries.last?.location)
            }
        }
        let known = Array(names.keys)
        func checkTarget(_ target: String, of what: String, at location: ConfigLocation?) {
            if names[target] == nil, !config.models.contains(where: { $0.isPattern && target.hasPrefix(String($0.name.dropLast())) }) {
                error(
                    "\(what) refers to unknown model '\(target)'", at: location,
                    hint: Suggestions.closest(to: target, in: known).map { "did you mean '\($0)'?" } ?? "define it under 'models:'")
            }
        }
        for model in config.models {
            for fallback in model.fallbacks {
                checkTarget(fallback.model, of: "fallback of '\(model.name)'", at: fallback.location ?? model.location)
            }
            for arm in model.experiment?.arms ?? [] {
                checkTarget(arm.model, of: "experiment arm '\(arm.name)' of '\(model.name)'", at: model.location)
                if let target = config.models.first(where: { $0.qualifiedName == arm.model || $0.name == arm.model }), target.experiment != nil {
                    error("experiment arm '\(arm.name)' of '\(model.name)' points at another experiment", at: model.location)
                }
            }
            if let shadow = model.shadow { checkTarget(shadow.model, of: "shadow of '\(model.name)'", at: model.location) }
            if let successor = model.deprecation?.successor {
                checkTarget(successor, of: "successor of '\(model.qualifiedName)'", at: model.location)
            }
        }
        for rule in config.routingRules {
            if let target = rule.routeTo { checkTarget(target, of: "rule '\(rule.name)'", at: rule.location) }
        }
    }
}

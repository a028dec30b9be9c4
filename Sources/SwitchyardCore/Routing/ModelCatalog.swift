/// A model group as the router uses it: its deployments and policies, defaults resolved.
public struct ModelGroup: Sendable {
    /// The public name (without version).
    public let name: String
    public let version: String?
    public let deployments: [DeploymentConfig]
    public let strategy: RoutingStrategyKind
    public let retry: RetryPolicy
    public let fallbacks: [FallbackRule]
    public let timeout: Duration?
    public let firstTokenTimeout: Duration?
    public let experiment: ExperimentConfig?
    public let shadow: ShadowConfig?
    public let deprecation: Deprecation?
    public let healthCheck: HealthCheckConfig?

    init(_ model: ModelConfig, deployments: [DeploymentConfig]? = nil, name: String? = nil, router: RouterSettings) {
        self.name = name ?? model.name
        self.version = name == nil ? model.version : nil
        self.deployments = deployments ?? model.deployments
        self.strategy = model.strategy
        self.retry = model.retry ?? router.retry
        self.fallbacks = model.fallbacks
        self.timeout = model.timeout ?? router.timeout
        self.firstTokenTimeout = model.firstTokenTimeout ?? router.firstTokenTimeout
        self.experiment = model.experiment
        self.shadow = model.shadow
        self.deprecation = model.deprecation
        self.healthCheck = model.healthCheck
    }

    /// `name@version` when versioned.
    public var qualifiedName: String { version.map { "\(name)@\($0)" } ?? name }

    /// The provider named in listings (`owned_by`).
    public var owner: String { deployments.first?.provider ?? "switchyard" }
}

/// Resolves the model name a client sends to its model group.
///
/// Exact names, `name@version` and aliases are looked up in a dictionary; prefix patterns
/// (`openai/*`) are tried longest first and yield a one-deployment group. Built once per
/// configuration snapshot.
public struct ModelCatalog: Sendable {
    private var exact: [String: ModelGroup] = [:]
    private var patterns: [(prefix: String, model: ModelConfig)] = []
    private let router: RouterSettings
    private let prices: PriceTable?
    /// Public names in configuration order (for `GET /v1/models`).
    public private(set) var listedModels: [(name: String, provider: String)] = []

    /// `prices`: when given, every deployment carries the price billing uses for it (its own,
    /// `pricing:` or the built-in table), so the cost strategy and `explain` judge by it too.
    public init(models: [ModelConfig], router: RouterSettings = RouterSettings(), prices: PriceTable? = nil) {
        self.router = router
        self.prices = prices
        var models = models
        for index in models.indices {
            models[index].deployments = models[index].deployments.map(BuiltInOutputLimits.resolving)
            if let prices { models[index].deployments = models[index].deployments.map(prices.pricing) }
        }
        var byName: [String: [ModelConfig]] = [:]
        var order: [String] = []
        for model in models where !model.isPattern {
            if byName[model.name] == nil { order.append(model.name) }
            byName[model.name, default: []].append(model)
        }
        for model in models where model.isPattern {
            patterns.append((String(model.name.dropLast()), model))
        }
        for name in order {
            let versions = byName[name]!
            let defaultVersion = versions.first(where: \.isDefaultVersion) ?? versions.last!
            let bare = ModelGroup(defaultVersion, router: router)
            exact[name] = bare
            listedModels.append((name, bare.owner))
            for model in versions {
                let group = ModelGroup(model, router: router)
                exact[model.qualifiedName] = group
                if model.version != nil { listedModels.append((model.qualifiedName, group.owner)) }
                for alias in model.aliases {
                    exact[alias] = group
                    listedModels.append((alias, group.owner))
                }
            }
        }
        patterns.sort { $0.prefix.count > $1.prefix.count }
        if exact[DetectorModerationAdapter.model] == nil {
            // The gateway's own moderation (unlisted, free), unless the name is configured.
            var model = ModelConfig(name: DetectorModerationAdapter.model, provider: DetectorModerationAdapter.provider)
            model.deployments[0].price = ModelPrice(input: 0, output: 0)
            exact[model.name] = ModelGroup(model, router: router)
        }
    }

    public func group(for model: String) -> ModelGroup? {
        if let group = exact[model] { return group }
        for pattern in patterns where model.hasPrefix(pattern.prefix) && model.count > pattern.prefix.count {
            let rest = String(model.dropFirst(pattern.prefix.count))
            var deployment = DeploymentConfig(provider: pattern.model.provider, upstreamModel: pattern.model.upstreamModel ?? rest)
            deployment = BuiltInOutputLimits.resolving(deployment)
            if let prices { deployment = prices.pricing(deployment) }
            return ModelGroup(pattern.model, deployments: [deployment], name: model, router: router)
        }
        return nil
    }

    /// Every configured group (each version once), for background work such as health checks.
    public var allGroups: [ModelGroup] {
        var seen: Set<String> = []
        return exact.values.filter { seen.insert($0.qualifiedName).inserted }.sorted { $0.qualifiedName < $1.qualifiedName }
    }

    /// Names close to `model`, for "did you mean" in 404 answers.
    /// Only names `visible` accepts are offered (a caller is never told of a model it may not
    /// use); a pattern is offered when its example name is.
    public func suggestions(for model: String, visible: (String) -> Bool = { _ in true }) -> [String] {
        var names = listedModels.map(\.name).filter(visible)
        names.append(contentsOf: patterns.filter { visible($0.prefix + "model") }.map { $0.prefix + "<model>" })
        return Suggestions.ranked(model, in: names, limit: 3)
    }
}

import Synchronization

/// Everything one configuration generation needs to serve requests, immutable once built.
///
/// A request takes the current snapshot when it starts and keeps it to the end, so a reload
/// never changes the rules under a request in flight.
public final class RuntimeSnapshot: Sendable {
    public let config: GatewayConfig
    public let catalog: ModelCatalog
    public let planner: RoutePlanner
    public let adapters: [String: any ProviderAdapter]
    public let scrubber: SecretScrubber
    public let authenticator: MasterKeyAuthenticator
    /// Model prices: the built-in table under `pricing:`.
    public let prices: PriceTable
    /// Roles and attribute rules (`access:`).
    public let access: AccessPolicy
    /// Guardrails (`guardrails:`), compiled.
    public let guardrails: GuardrailEngine
    /// Templates, system prompts, validation and response shaping (`prompts:`).
    public let prompts: PromptStage
    /// Increases by one with every successful reload.
    public let generation: Int
    /// Per provider name: the header that carries the request id upstream (`request_id_header`).
    public let requestIDHeaders: [String: String]
    /// The table's price (or none) of every configured deployment's upstream model, resolved
    /// once per generation rather than per request (a prefix search over the whole table).
    private let upstreamPrices: [String: ModelPrice?]

    public init(config: GatewayConfig, adapters: [String: any ProviderAdapter], generation: Int) {
        self.config = config
        let prices = PriceTable.builtIn(overriddenBy: config.pricing)
        self.prices = prices
        var upstreamPrices: [String: ModelPrice?] = [:]
        for deployment in config.models.flatMap(\.deployments) where upstreamPrices[deployment.upstreamModel] == nil {
            upstreamPrices[deployment.upstreamModel] = .some(prices.price(forModel: deployment.upstreamModel))
        }
        self.upstreamPrices = upstreamPrices
        self.catalog = ModelCatalog(models: config.models, router: config.router, prices: prices)
        self.planner = RoutePlanner(config: config, catalog: catalog)
        self.adapters = adapters
        var secrets = config.providers.compactMap(\.apiKey) + config.providers.flatMap { $0.headers.map(\.value) }
        secrets += config.providers.flatMap { [$0.awsSecretAccessKey, $0.awsSessionToken].compactMap { $0 } }
        secrets += config.providers.compactMap { $0.serviceAccount?.privateKey }
        secrets += config.mcp.servers.flatMap(\.secrets)
        secrets += config.providers.flatMap { $0.credentialEnvironment?.secretValues ?? [] }
        if let masterKey = config.server.masterKey { secrets.append(masterKey) }
        if let redis = config.redis { secrets.append(redis.url) }
        if let keySecret = config.server.keySecret { secrets.append(keySecret) }
        if let token = config.server.operationalToken { secrets.append(token) }
        if let database = config.server.databaseURL {
            secrets.append(database)
            if let password = (try? PostgresURL(parsing: database.reveal()))?.password {
                secrets.append(Secret(password, source: database.source))
            }
        }
        self.scrubber = SecretScrubber(secrets: secrets)
        self.authenticator = MasterKeyAuthenticator(masterKey: config.server.masterKey?.reveal())
        self.generation = generation
        self.requestIDHeaders = Dictionary(
            config.providers.compactMap { provider in provider.requestIDHeader.map { (provider.name, $0) } }, uniquingKeysWith: { first, _ in first })
        self.access = AccessPolicy(settings: config.access)
        self.guardrails = GuardrailEngine(settings: config.guardrails)
        self.prompts = PromptStage(settings: config.prompts)
    }

    /// Whether requests need their headers carried into the pipeline (rules, experiments,
    /// access conditions, guardrail conditions, prompt templates and context injection).
    public var needsRequestHeaders: Bool {
        planner.needsHeaders || access.needsHeaders || !guardrails.isEmpty || !prompts.isEmpty
    }

    /// Whether `identity` may call the model `name`: it exists, the caller's model list (key,
    /// token, directory) names it, and its role policies and access rules let a plain request
    /// to it through on some endpoint (see ``AccessPolicy/permitsSomeRequest(to:group:identity:unixTime:)``).
    /// What `/v1/models` lists and what "did you mean" suggests.
    public func mayUse(_ name: String, identity: Identity, unixTime: Double) -> Bool {
        guard let group = catalog.group(for: name) else { return false }
        if let allowed = identity.allowedModels,
            !allowed.contains(name) && !allowed.contains(group.name) && !allowed.contains(group.qualifiedName)
        {
            return false
        }
        return access.permitsSomeRequest(to: name, group: group, identity: identity, unixTime: unixTime)
    }

    /// Names close to `model` that `identity` may use, for the 404 of an unknown model.
    public func suggestions(for model: String, identity: Identity, unixTime: Double) -> [String] {
        catalog.suggestions(for: model) { mayUse($0, identity: identity, unixTime: unixTime) }
    }

    /// The price of a deployment: its own `price:`, else the table's for its upstream model.
    public func price(of deployment: DeploymentConfig) -> ModelPrice? {
        if let price = deployment.price { return price }
        if let known = upstreamPrices[deployment.upstreamModel] { return known }
        return prices.price(forModel: deployment.upstreamModel)
    }
}

/// Holds the current ``RuntimeSnapshot`` and swaps it atomically on reload.
public final class RuntimeHolder: Sendable {
    private let current: Mutex<RuntimeSnapshot>

    public init(_ snapshot: RuntimeSnapshot) {
        self.current = Mutex(snapshot)
    }

    public var snapshot: RuntimeSnapshot {
        current.withLock { $0 }
    }

    /// Installs a new snapshot; returns the previous one.
    @discardableResult
    public func replace(with snapshot: RuntimeSnapshot) -> RuntimeSnapshot {
        current.withLock { state in
            let previous = state
            state = snapshot
            return previous
        }
    }
}

/// The whole gateway configuration: what an operator writes in `switchyard.yaml`.
///
/// Values are resolved (secrets read from the environment, defaults applied) and validated; a
/// `GatewayConfig` that exists is one the gateway can run. Build it with ``ConfigLoader``.
public struct GatewayConfig: Sendable {
    public var server: ServerSettings
    public var providers: [ProviderConfig]
    public var models: [ModelConfig]
    /// Router-wide settings (`router:`).
    public var router = RouterSettings()
    /// Ordered routing rules (`routing_rules:`).
    public var routingRules: [RoutingRule] = []
    /// The shared Redis backend of several instances (`redis:`).
    public var redis: RedisSettings?
    /// Rate limits (`limits:`).
    public var limits = LimitSettings()
    /// The exact response cache (`cache:`).
    public var cache = CacheSettings()
    /// Spending caps (`budgets:`).
    public var budgets = BudgetSettings()
    /// Token issuers (`auth:`).
    public var auth = AuthSettings()
    /// Roles and attribute rules (`access:`).
    public var access = AccessSettings()
    /// Checks on prompts and answers (`guardrails:`).
    public var guardrails = GuardrailSettings()
    /// Templates, system prompts, validation and response shaping (`prompts:`).
    public var prompts = PromptSettings()
    /// The request log: bodies, database detail, webhook sink (`logging:`).
    public var logging = RequestLogSettings()
    /// OpenTelemetry traces (`tracing:`).
    public var tracing = TracingSettings()
    /// Upstream MCP servers behind `/mcp` (`mcp:`).
    public var mcp = MCPSettings()
    /// Uploaded files (`files:`).
    public var files = FileSettings()
    /// Batches run by the gateway (`batches:`).
    public var batches = BatchSettings()
    /// Prices by model name (`pricing:`), over the built-in table.
    public var pricing: [String: ModelPrice] = [:]
    /// Provider paths forwarded as they are (`passthrough:`); others stay 404.
    public var passthrough: [PassthroughRoute] = []
    /// Where the configuration came from (a file path or "embedded default").
    public var source: String

    public init(server: ServerSettings = .init(), providers: [ProviderConfig] = [], models: [ModelConfig] = [], source: String) {
        self.server = server
        self.providers = providers
        self.models = models
        self.source = source
    }

    public func provider(named name: String) -> ProviderConfig? {
        providers.first(where: { $0.name == name })
    }
}

/// Listener, limits and authentication settings (`server:` in the file).
public struct ServerSettings: Sendable {
    /// Address to bind. Default `127.0.0.1`.
    public var host: String = "127.0.0.1"
    /// Port to bind; 0 picks a free port. Default 8080.
    public var port: Int = 8080
    /// The master key; nil disables authentication (only allowed on a loopback address unless
    /// `allowUnauthenticated` is set).
    public var masterKey: Secret?
    /// Largest request body accepted; larger bodies get 413. Default 16 MiB.
    public var maxBodyBytes: Int = 16 * 1024 * 1024
    /// Per-endpoint body limits by route label (`server.endpoints.<label>.max_body_size`), over
    /// `maxBodyBytes`; see ``maxBodyBytes(forPath:)``.
    public var endpointMaxBodyBytes: [String: Int] = [:]
    /// Overall deadline for one upstream call, streams included. Default 600 s.
    public var requestTimeout: Duration = .seconds(600)
    /// How long in-flight requests and streams may run after SIGTERM. Default 30 s.
    public var shutdownGracePeriod: Duration = .seconds(30)
    /// Idle keep-alive connections are closed after this long. Default 75 s.
    public var idleTimeout: Duration = .seconds(75)
    /// Serve HTTPS with these PEM files when set.
    public var tls: TLSSettings?
    /// Log level: trace, debug, info, notice, warning, error, critical. Default info.
    public var logLevel: String = "info"
    /// One structured log line per request. Default true.
    public var accessLog: Bool = true
    /// Allow serving without a master key on a non-loopback address. Default false.
    public var allowUnauthenticated: Bool = false
    /// The SQLite database of virtual keys and usage; nil: `switchyard.db` next to the configuration file
    /// (the working directory for the embedded default), unless ``databaseURL`` is set. Created on first use.
    public var databasePath: String?
    /// The PostgreSQL server shared by several instances, when `server.database` is a
    /// `postgres://` URL (a secret: it holds a password). Then ``keySecret`` is required.
    public var databaseURL: Secret?
    /// Secret under which virtual keys are hashed; nil: generated once into `<database>.secret`
    /// (SQLite only: instances sharing PostgreSQL must share the secret).
    public var keySecret: Secret?
    /// Record every request's usage and cost in the database (`usage_records`). Default true.
    public var usageLedger = true
    /// Whether `switchyard_requests_by_identity_total` carries key and team labels (one series
    /// per key: off by default to keep cardinality bounded).
    public var metricsIdentityLabels = false
    /// When set (`server.operational_token`), `/metrics` and `/health/ready` answer only to
    /// `Authorization: Bearer <token>`: they name providers, their errors and (with identity
    /// labels) keys and teams. `/health/live` stays open; it reveals nothing.
    public var operationalToken: Secret?
    /// How often the configuration file is checked for changes; nil disables watching.
    public var reloadCheckInterval: Duration? = .seconds(2)

    public init() {}
}

/// Where the Redis server shared by several gateway instances is (`redis:`).
public struct RedisSettings: Sendable {
    /// `redis://[user:password@]host[:port][/db]`, or `rediss://...` for TLS; may be a secret reference.
    public var url: Secret
    /// A PEM file of the CA certificates that verify a `rediss://` server (`ca_file`); nil: the
    /// system's trust roots.
    public var caFile: String?
    /// Prefix of every key Switchyard writes. Default `switchyard`.
    public var keyPrefix = "switchyard"
    public var commandTimeout: Duration = .milliseconds(500)

    public init(url: Secret) {
        self.url = url
    }
}

public struct TLSSettings: Sendable, Equatable {
    public var certificatePath: String
    public var privateKeyPath: String

    public init(certificatePath: String, privateKeyPath: String) {
        self.certificatePath = certificatePath
        self.privateKeyPath = privateKeyPath
    }
}

/// One upstream provider account (`providers:` entries).
public struct ProviderConfig: Sendable {
    public var name: String
    /// The adapter: `openai-compatible` (alias `openai` and presets such as `groq`), `anthropic` or `mock`.
    public var type: String
    /// The canonical adapter kind after resolving presets (`openai-compatible`, `mock`).
    public var adapter: String
    public var baseURL: String
    public var apiKey: Secret?
    /// Header that carries the key. Default `Authorization` (value `Bearer <key>`).
    public var authHeader: String = "Authorization"
    /// Scheme put before the key in `authHeader`; empty sends the bare key. Default `Bearer`.
    public var authScheme: String = "Bearer"
    /// Extra headers sent on every upstream request (values may be secrets).
    public var headers: [(name: String, value: Secret)] = []
    public var connectTimeout: Duration = .seconds(10)
    /// Longest wait for the first response byte (and between stream chunks). Default 300 s.
    public var readTimeout: Duration = .seconds(300)
    /// Connections kept per upstream host. Default 512.
    public var maxConnections: Int = 512
    /// Adapter-specific settings (the mock provider's knobs, `region`, `api_version`).
    public var options: [String: String] = [:]
    /// The header that carries the gateway's request id upstream (`request_id_header`), or nil
    /// for none. Default: `X-Client-Request-Id` for `type: openai` (OpenAI documents it), none
    /// for every other provider: some servers reject ids they did not expect (llama.cpp's
    /// Python server answers 400 to an `x-request-id` that is not a UUID).
    public var requestIDHeader: String?
    /// AWS credentials for SigV4 (Bedrock).
    public var awsAccessKeyID: Secret?
    public var awsSecretAccessKey: Secret?
    public var awsSessionToken: Secret?
    /// A Google service-account key (Vertex AI), read from `credentials_file` at load.
    public var serviceAccount: ServiceAccountKey?
    /// Set for a Bedrock provider without static keys or API key, and for a Vertex provider
    /// without `credentials_file` or `api_key`: the environment its default credential chain
    /// (AWS's, or Google's application default credentials) reads. Nil: no chain.
    public var credentialEnvironment: CredentialEnvironment?
    public var location: ConfigLocation?

    public init(name: String, type: String, adapter: String, baseURL: String) {
        self.name = name
        self.type = type
        self.adapter = adapter
        self.baseURL = baseURL
    }
}

/// The fields of a Google service-account JSON key that the gateway uses to mint access tokens.
public struct ServiceAccountKey: Sendable {
    public var clientEmail: String
    public var privateKeyID: String
    /// The PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`).
    public var privateKey: Secret

    public init(clientEmail: String, privateKeyID: String, privateKey: Secret) {
        self.clientEmail = clientEmail
        self.privateKeyID = privateKeyID
        self.privateKey = privateKey
    }

    /// Reads a service-account JSON key (`type: service_account` with `client_email` and a PEM
    /// `private_key`); nil when the JSON is not one. `source` says where it came from, for the secret.
    public init?(json: JSONValue, source: String) {
        guard json["type"]?.stringValue == "service_account", let email = json["client_email"]?.stringValue, !email.isEmpty,
            let key = json["private_key"]?.stringValue, key.contains("-----BEGIN PRIVATE KEY-----")
        else { return nil }
        self.init(clientEmail: email, privateKeyID: json["private_key_id"]?.stringValue ?? "", privateKey: Secret(key, source: source))
    }
}

/// A public model name (a model group) and the deployments that serve it (`models:` entries).
///
/// The short form (`provider` + `model`) is a group of one deployment. Several entries may
/// share a name with different `version`s; `name@version` pins one, the bare name follows the
/// default version.
public struct ModelConfig: Sendable, Equatable {
    /// The name clients send. A trailing `*` makes it a prefix pattern (`openai/*`).
    public var name: String
    /// The first deployment's provider (the only one for patterns); empty for experiments.
    public var provider: String
    /// The upstream model name; for a pattern, nil means "the part the `*` matched".
    public var upstreamModel: String?
    public var aliases: [String]
    public var location: ConfigLocation?
    public var deployments: [DeploymentConfig]
    public var strategy: RoutingStrategyKind = .weighted
    public var version: String?
    /// Whether the bare name resolves to this version (else the last version listed).
    public var isDefaultVersion = false
    public var deprecation: Deprecation?
    /// nil: the router's default.
    public var retry: RetryPolicy?
    public var fallbacks: [FallbackRule] = []
    /// Per-attempt timeout (non-streams: the whole answer; streams: until the first event).
    public var timeout: Duration?
    /// Streams: longest wait for the first event of an attempt.
    public var firstTokenTimeout: Duration?
    public var experiment: ExperimentConfig?
    public var shadow: ShadowConfig?
    public var healthCheck: HealthCheckConfig?

    public init(name: String, provider: String, upstreamModel: String? = nil, aliases: [String] = [], location: ConfigLocation? = nil) {
        self.name = name
        self.provider = provider
        self.upstreamModel = upstreamModel
        self.aliases = aliases
        self.location = location
        self.deployments = []
        if !name.hasSuffix("*") {
            deployments = [DeploymentConfig(provider: provider, upstreamModel: upstreamModel ?? name)]
        }
    }

    public var isPattern: Bool { name.hasSuffix("*") }

    /// `name@version` when versioned, else the name.
    public var qualifiedName: String { version.map { "\(name)@\($0)" } ?? name }
}

/// Built-in provider types: presets of the OpenAI-compatible adapter with their default base URL.
public enum ProviderPresets {
    public static let openAICompatible = "openai-compatible"
    public static let mock = "mock"
    /// Adapters that forward a passthrough route (`passthrough:`) with the provider's key.
    public static let passthroughAdapters: Set<String> = [openAICompatible, azure, anthropic, gemini, mock]
    /// The Anthropic Messages API (`x-api-key`, `anthropic-version`).
    public static let anthropic = "anthropic"
    public static let anthropicBaseURL = "https://api.anthropic.com"
    /// Azure OpenAI: deployment URLs, `api-version`, the `api-key` header (or a bearer token).
    public static let azure = "azure"
    public static let azureDefaultAPIVersion = "2024-10-21"
    /// Google Gemini (`generateContent`, key in `x-goog-api-key`).
    public static let gemini = "gemini"
    public static let geminiBaseURL = "https://generativelanguage.googleapis.com"
    /// AWS Bedrock Converse (SigV4 or a Bedrock API key).
    public static let bedrock = "bedrock"
    /// Google Vertex AI: Gemini models (`generateContent`) under a project and location, with an
    /// OAuth2 access token minted from a service-account key (or given as `api_key`).
    public static let vertex = "vertex"
    public static let vertexTokenURL = "https://oauth2.googleapis.com/token"
    /// Cohere Chat v2 and Embed v2 (bearer key).
    public static let cohere = "cohere"
    public static let cohereBaseURL = "https://api.cohere.com"

    /// type → default base URL (nil: the operator must give one).
    public static let openAICompatiblePresets: [String: String?] = [
        "openai-compatible": nil,
        "openai": "https://api.openai.com/v1",
        "groq": "https://api.groq.com/openai/v1",
        "together": "https://api.together.xyz/v1",
        "mistral": "https://api.mistral.ai/v1",
        "deepseek": "https://api.deepseek.com/v1",
        "openrouter": "https://openrouter.ai/api/v1",
        "fireworks": "https://api.fireworks.ai/inference/v1",
        "vllm": "http://127.0.0.1:8000/v1",
        "ollama": "http://127.0.0.1:11434/v1",
        "llamacpp": "http://127.0.0.1:8080/v1",
        "lmstudio": "http://127.0.0.1:1234/v1",
    ]

    /// Environment variables whose presence adds a provider to the embedded default.
    public static let wellKnownKeys: [(variable: String, type: String)] = [
        ("OPENAI_API_KEY", "openai"),
        ("ANTHROPIC_API_KEY", "anthropic"),
        ("GEMINI_API_KEY", "gemini"),
        ("COHERE_API_KEY", "cohere"),
        ("GROQ_API_KEY", "groq"),
        ("TOGETHER_API_KEY", "together"),
        ("MISTRAL_API_KEY", "mistral"),
        ("DEEPSEEK_API_KEY", "deepseek"),
        ("OPENROUTER_API_KEY", "openrouter"),
        ("FIREWORKS_API_KEY", "fireworks"),
    ]

    public static var knownTypes: [String] {
        (Array(openAICompatiblePresets.keys) + [mock, anthropic, azure, gemini, vertex, bedrock, cohere]).sorted()
    }
}

/// One place a model group can send a request: a provider account and its upstream model,
/// with what the router needs to choose between deployments.
public struct DeploymentConfig: Sendable, Equatable {
    /// Stable name for headers, metrics and router state; default `<provider>/<model>`.
    public var id: String
    public var provider: String { didSet { routerKey = provider + "/" + upstreamModel } }
    public var upstreamModel: String { didSet { routerKey = provider + "/" + upstreamModel } }
    /// `<provider>/<upstream model>`: the key of the deployment's live state in the router
    /// (shared by deployments of one upstream model in several groups), made once.
    public private(set) var routerKey: String
    /// Share of traffic under the weighted strategy. Default 1.
    public var weight: Double = 1
    /// Tier: lower tiers are used first; a higher tier only when every lower one is unhealthy
    /// or saturated. Default 0.
    public var priority: Int = 0
    /// Requests per minute this deployment may receive; nil is unlimited.
    public var rpm: Int?
    /// Tokens (input + output) per minute; nil is unlimited.
    public var tpm: Int?
    /// Largest prompt + completion the model accepts, in tokens.
    public var contextWindow: Int?
    /// Most tokens the model writes in one answer: the deployment's `max_output_tokens`, or
    /// once the model catalog has resolved it, the built-in limit of its upstream model (nil
    /// when unknown). Limits and budgets reserve it for a request that sets no `max_tokens`.
    public var maxOutputTokens: Int?
    /// Price in USD per million tokens: the deployment's own `price:`, or once the model
    /// catalog has resolved it, the price billing uses (see ``priceSource``).
    public var price: ModelPrice?
    /// Where ``price`` comes from; nil before the catalog resolved it or when no price is known.
    public var priceSource: PriceSource?
    public var tags: [String] = []
    /// Data-residency region (`eu`, `us-east`, ...); matched against region restrictions.
    public var region: String?
    /// Whether batches whose every line routes here are handed to the provider's own batch API
    /// (`native_batches`; OpenAI-compatible and Anthropic providers) instead of run by the gateway.
    public var nativeBatches = false
    /// The share of the price the provider takes off batch requests (`batch_discount`); nil:
    /// the provider's own (50% for OpenAI and Anthropic).
    public var batchDiscount: Double?

    public init(id: String? = nil, provider: String, upstreamModel: String) {
        self.id = id ?? "\(provider)/\(upstreamModel)"
        self.provider = provider
        self.upstreamModel = upstreamModel
        self.routerKey = provider + "/" + upstreamModel
    }
}

/// How a group picks one of its deployments.
public enum RoutingStrategyKind: String, Sendable, CaseIterable {
    /// Random, proportional to `weight` (the default).
    case weighted
    case roundRobin = "round-robin"
    /// Fewest requests in flight.
    case leastBusy = "least-busy"
    /// Power of two choices over the peak-EWMA latency, weighted by requests in flight.
    case latency
    /// The cheapest deployment whose context window fits the prompt.
    case cost
}

/// The kinds of failure the router reacts to; fallbacks and retries name them.
public enum ErrorClass: String, Sendable, CaseIterable, Hashable {
    /// The provider could not be reached or closed the connection.
    case connection
    /// No answer (or no first token) in time.
    case timeout
    /// 429 from the provider.
    case rateLimit = "rate_limit"
    /// 5xx from the provider, overloaded included.
    case serverError = "server_error"
    /// The provider refused the gateway's credentials.
    case authentication
    /// The prompt does not fit the model's context window.
    case contextLength = "context_length"
    /// The provider's content policy refused the request.
    case contentFilter = "content_filter"
    /// Every deployment of the group is unhealthy, cooling down or at capacity.
    case unavailable
    /// Anything else the client must fix (a 4xx): never retried.
    case clientError = "client_error"

    /// What a failure of this kind says about the deployment's health.
    public var countsAgainstHealth: Bool {
        switch self {
        case .connection, .timeout, .serverError, .authentication: true
        default: false
        }
    }

    /// Classes retried by default.
    public static let transient: Set<ErrorClass> = [.connection, .timeout, .rateLimit, .serverError, .unavailable]
    /// Classes that move to a fallback by default.
    public static let defaultFallback: Set<ErrorClass> = [.connection, .timeout, .rateLimit, .serverError, .authentication, .unavailable]

    public static func of(_ error: GatewayError) -> ErrorClass {
        switch error.code {
        case .contextLengthExceeded: return .contextLength
        case .contentFilter: return .contentFilter
        case .upstreamAuthenticationError: return .authentication
        case .upstreamTimeout, .firstTokenTimeout, .attemptTimeout: return .timeout
        case .noHealthyDeployment, .deploymentsAtCapacity: return .unavailable
        default: break
        }
        switch error.status {
        case 429: return .rateLimit
        case 504: return .timeout
        case 502 where error.code == .upstreamConnectionError: return .connection
        case 500...599: return .serverError
        default: return .clientError
        }
    }
}

/// Retries inside a group (`retry:`).
public struct RetryPolicy: Sendable, Equatable {
    /// Extra attempts after the first. Default 2.
    public var attempts: Int = 2
    /// First backoff; doubles per retry, with full jitter. Default 100 ms.
    public var backoff: Duration = .milliseconds(100)
    public var maxBackoff: Duration = .seconds(2)
    public var on: Set<ErrorClass> = ErrorClass.transient

    public init() {}
}

/// One step of a group's fallback chain (`fallbacks:`).
public struct FallbackRule: Sendable, Equatable {
    /// The model group tried next.
    public var model: String
    public var on: Set<ErrorClass>
    public var location: ConfigLocation?

    public init(model: String, on: Set<ErrorClass> = ErrorClass.defaultFallback, location: ConfigLocation? = nil) {
        self.model = model
        self.on = on
        self.location = location
    }
}

/// A weighted split between model groups with sticky assignment (`experiment:`).
public struct ExperimentConfig: Sendable, Equatable {
    public enum Sticky: Sendable, Equatable {
        /// The end user (the request's `user` field, else the caller's identity).
        case user
        /// The caller's key / identity subject.
        case key
        /// A request header's value.
        case header(String)
        /// Every request drawn anew.
        case none
    }

    public struct Arm: Sendable, Equatable {
        public var name: String
        public var model: String
        public var weight: Double
    }

    public var name: String
    public var sticky: Sticky = .user
    public var arms: [Arm]
}

/// Mirror a share of requests to another group; the client only sees the primary.
public struct ShadowConfig: Sendable, Equatable {
    public var model: String
    /// Share of requests mirrored, 0...1.
    public var sampleRate: Double
}

/// Active health checks of a group's deployments (`health_check:`): a one-token request every
/// `interval`; failures count against the breaker, a success closes an open breaker at once.
public struct HealthCheckConfig: Sendable, Equatable {
    public var interval: Duration
    public var timeout: Duration
    /// `chat_completions` (default) or `embeddings`.
    public var endpoint: Endpoint
}

/// Lifecycle of a model version.
public struct Deprecation: Sendable, Equatable {
    /// Unix time the model was deprecated, when known.
    public var deprecatedSince: Int64?
    /// Unix time after which the model is no longer served.
    public var sunset: Int64?
    /// Where requests go after the sunset (`name` or `name@version`); none answers 410.
    public var successor: String?
}

/// Router-wide settings (`router:`).
public struct RouterSettings: Sendable, Equatable {
    /// Retries (and fallback attempts) may not exceed this share of requests. Default 0.2.
    public var retryBudgetRatio: Double = 0.2
    /// Retries always allowed per second, whatever the ratio. Default 5.
    public var retryBudgetMinPerSecond: Double = 5
    public var breaker = BreakerSettings()
    /// Seed for the router's random choices; nil seeds from the system.
    public var seed: UInt64?
    /// Group defaults.
    public var retry = RetryPolicy()
    public var timeout: Duration?
    public var firstTokenTimeout: Duration?
    /// Share breakers and latency with other instances through `redis:` when configured.
    public var sharedState = true
    /// When every deployment of a group (with no fallback left to take the request) is out
    /// because of its circuit breaker, route across those deployments anyway (Envoy's panic
    /// mode) rather than answer 503: one misbehaving request or a burst of cut streams never
    /// takes the last deployment away from everyone. `router.panic_routing: false` opts out.
    public var panicRouting = true
    /// How often shared state is exchanged. Default 500 ms.
    public var syncInterval: Duration = .milliseconds(500)

    public init() {}
}

public struct BreakerSettings: Sendable, Equatable {
    public var enabled = true
    /// Opens after this many failures in a row. Default 5.
    public var consecutiveFailures = 5
    /// Or when the failure share over `window` reaches this (with at least `minimumRequests`).
    public var failureRate = 0.5
    public var minimumRequests = 20
    public var window: Duration = .seconds(30)
    /// How long an open breaker rejects before letting probes through. Default 30 s.
    public var cooldown: Duration = .seconds(30)
    /// Probes allowed at once while half-open; that many successes close it. Default 1.
    public var halfOpenProbes = 1

    public init() {}
}

/// An ordered routing rule (`routing_rules:`): the first whose conditions all hold rewrites
/// the target and/or restricts regions.
public struct RoutingRule: Sendable {
    public var name: String
    public var conditions: RuleConditions
    /// The model group the request goes to instead.
    public var routeTo: String?
    /// Only deployments tagged with one of these regions may serve the request.
    public var regions: [String]?
    public var location: ConfigLocation?

    public init(name: String, conditions: RuleConditions, routeTo: String?, regions: [String]?, location: ConfigLocation? = nil) {
        self.name = name
        self.conditions = conditions
        self.routeTo = routeTo
        self.regions = regions
        self.location = location
    }
}

/// Conditions of a rule; all given ones must hold.
public struct RuleConditions: Sendable {
    /// Requested model names; `*` at the end matches a prefix.
    public var models: [String]?
    /// Header name (lower case) → value; `*` means "present".
    public var headers: [String: String] = [:]
    /// Identity attributes: `team`, `user`, `org`, `key` or any metadata attribute.
    public var metadata: [String: String] = [:]
    /// Top-level request parameter → comparison (`true`, `0.7`, `>0.5`, `<=100`).
    public var params: [String: String] = [:]
    public var hasImages: Bool?
    public var hasTools: Bool?
    public var jsonMode: Bool?
    public var stream: Bool?
    public var minPromptTokens: Int?
    public var maxPromptTokens: Int?
    /// Regular expression searched in the last user message.
    public var messagePattern: String?
    /// Any of these words (case-insensitive) in the last user message.
    public var keywords: [String] = []
    /// Detected language of the last user message (ISO 639-1 codes).
    public var languages: [String] = []
    public var time: TimeWindow?

    public init() {}
}

/// Days and hours in a fixed UTC offset.
public struct TimeWindow: Sendable, Equatable {
    /// 1 = Monday ... 7 = Sunday; empty means every day.
    public var days: Set<Int> = []
    /// Minutes after midnight; `from > to` wraps past midnight.
    public var fromMinute = 0
    public var toMinute = 24 * 60
    public var utcOffsetMinutes = 0

    public init() {}

    public func contains(unixTime: Double) -> Bool {
        let local = Int64(unixTime.rounded(.down)) + Int64(utcOffsetMinutes) * 60
        let dayIndex = Int(floorDiv(local, 86_400))
        let minute = Int((local - Int64(dayIndex) * 86_400) / 60)
        // 1970-01-01 was a Thursday (4).
        let weekday = ((dayIndex % 7) + 7 + 3) % 7 + 1
        if !days.isEmpty, !days.contains(weekday) { return false }
        if fromMinute <= toMinute { return minute >= fromMinute && minute < toMinute }
        return minute >= fromMinute || minute < toMinute
    }

    private func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        a >= 0 ? a / b : -((-a + b - 1) / b)
    }
}

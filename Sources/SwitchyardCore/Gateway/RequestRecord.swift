/// What happened to one inference request: the basis of metrics, access logs and later usage
/// accounting. Emitted exactly once per request, also when it failed or the client left.
///
/// Its ~50 fields live in one copy-on-write box (`record.provider` reads and writes a field of
/// ``Fields`` through the dynamic-member subscript): the record travels through every stage,
/// attempt, completion and observer, and copying it field by field was ~6% of a pass-through
/// request's CPU. A copy is now one retain; a change copies the box only when it is shared.
@dynamicMemberLookup
public struct RequestRecord: Sendable {
    public enum Outcome: String, Sendable {
        case success
        /// The gateway answered with an error before any byte of a response.
        case error
        /// A stream that had started failed before completing.
        case streamError = "stream_error"
        /// The client went away before the response was complete.
        case clientDisconnected = "client_disconnected"
    }

    /// The record's fields.
    public struct Fields: Sendable {
        /// The gateway's id of the request (the ledger's record id).
        public var requestID: String
        /// The `x-request-id` the client sent, when it sent a well-formed one.
        public var clientRequestID: String?
        public var endpoint: Endpoint
        /// The API dialect the client spoke.
        public var dialect: ClientDialect = .openAI
        public var identity: Identity
        public var requestedModel: String?
        public var servedModel: String?
        public var provider: String?
        public var stream: Bool
        /// HTTP status sent to the client (499 when the client disconnected before the end).
        public var status: Int
        public var outcome: Outcome
        public var errorCode: String?
        public var usage: TokenUsage?
        /// Images, seconds of audio or characters of a media request (priced beside tokens).
        public var media: MediaUsage?
        /// Whether ``usage`` is the provider's report or the gateway's own count.
        public var usageSource: UsageSource?
        /// Time from receipt of the request to the first content byte sent (streams).
        public var timeToFirstToken: Duration?
        /// Time the upstream call took, from sending to the last byte.
        public var upstreamDuration: Duration?
        public var duration: Duration
        /// Whether the upstream failure happened before the first byte (a clean HTTP error).
        public var upstreamError: String?
        public var chunks: Int
        /// The model group that answered (`name@version` when versioned).
        public var modelGroup: String?
        /// The deployment that answered (or was tried last).
        public var deployment: String?
        /// Every upstream attempt, in order.
        public var attempts: [AttemptRecord] = []
        /// Model groups fallen back to, in order.
        public var fallbacks: [String] = []
        public var rule: String?
        public var experiment: String?
        public var arm: String?
        /// A retry or fallback was skipped because the retry budget was spent.
        public var retryBudgetExhausted = false
        /// The rate-limit counters this request holds; settled with its real usage when it ends.
        public var limitLease: LimitLease?
        /// The limit that refused the request (`team:requests`, `budget:team`), when one did.
        public var rateLimitedBy: String?
        /// The price of the deployment that answered (its own, `pricing:` or the built-in table).
        public var price: ModelPrice?
        /// What the request cost in USD, from its real usage; nil when the model has no price.
        public var cost: Double?
        /// The budgets this request holds; settled with its real cost when it ends.
        public var budgetLease: BudgetLease?
        /// The role or access rule that refused the request (audited).
        public var accessDenied: AccessDenial?
        /// `hit`, `semantic-hit`, `miss` or `bypass` when the response cache is on.
        public var cache: String?
        /// Cosine similarity of a semantic hit.
        public var cacheSimilarity: Double?
        /// Time the cache lookup took (the embedding call of a semantic lookup included).
        public var cacheLookup: Duration?
        /// Provider cost a cache hit saved (USD).
        public var cacheSavedCost: Double?
        /// A semantic hit the verification model turned down (answered as a miss).
        public var cacheVerificationRejected = false
        /// What the guardrails decided (input and output), without the text that caused it.
        public var guardrails: [GuardrailDecision] = []
        /// Prompt texts the input guardrails' detectors read, and those whose findings came from
        /// the memo of texts seen before (``GuardrailEngine/Rail/inputFindings(in:role:digest:)``).
        public var guardrailScans: (scanned: Int, reused: Int) = (0, 0)
        /// The model group a `route` guardrail sent the request to.
        public var guardrailRoute: String?
        /// The prompt as the client sent it, redacted, when `logging.bodies` covers the request.
        public var requestBody: String?
        /// The answer (a JSON body, or a stream's text), redacted, when bodies are logged.
        public var responseBody: String?
        /// Set when bodies are logged: the most bytes kept of each.
        public var logBodyLimit: Int?
        /// The W3C trace id of the request's span, when tracing is on.
        public var traceID: String?
        /// The request's server span (ended by the HTTP layer once the response is written;
        /// ``TracingObserver`` puts the outcome on it).
        public var requestSpan: RecordedSpan?
        /// The upstream attempt that answered, ended by ``TracingObserver`` with its usage.
        public var attemptSpan: RecordedSpan?

        public init(requestID: String, endpoint: Endpoint, identity: Identity) {
            self.requestID = requestID
            self.endpoint = endpoint
            self.identity = identity
            self.stream = false
            self.status = 0
            self.outcome = .success
            self.duration = .zero
            self.chunks = 0
        }
    }

    @usableFromInline
    final class Storage: @unchecked Sendable {
        // Changed only through `_modify` below, after making sure no other record shares it.
        @usableFromInline var fields: Fields
        @usableFromInline init(_ fields: Fields) { self.fields = fields }
    }

    @usableFromInline var storage: Storage

    public init(requestID: String, endpoint: Endpoint, identity: Identity) {
        storage = Storage(Fields(requestID: requestID, endpoint: endpoint, identity: identity))
    }

    @inlinable
    public subscript<Value>(dynamicMember keyPath: WritableKeyPath<Fields, Value>) -> Value {
        get { storage.fields[keyPath: keyPath] }
        _modify {
            if !isKnownUniquelyReferenced(&storage) { storage = Storage(storage.fields) }
            yield &storage.fields[keyPath: keyPath]
        }
    }
}

/// One upstream attempt of a request.
public struct AttemptRecord: Sendable, Equatable {
    public var group: String
    public var deployment: String
    public var provider: String
    /// `success`, or the error's code.
    public var outcome: String
    public var errorClass: ErrorClass?
    public var duration: Duration

    public init(group: String, deployment: String, provider: String, outcome: String, errorClass: ErrorClass?, duration: Duration) {
        self.group = group
        self.deployment = deployment
        self.provider = provider
        self.outcome = outcome
        self.errorClass = errorClass
        self.duration = duration
    }
}

/// The comparison of a mirrored (shadow) request with the primary one.
public struct ShadowRecord: Sendable {
    public var requestID: String
    public var primaryGroup: String
    public var shadowGroup: String
    public var shadowDeployment: String?
    /// `success` or the shadow's error code.
    public var outcome: String
    public var primaryOutcome: String
    public var shadowDuration: Duration
    public var primaryDuration: Duration?
    public var shadowUsage: TokenUsage?
    public var primaryUsage: TokenUsage?
    /// Cosine similarity of the two answers' word counts, 0...1 (when both succeeded).
    public var similarity: Double?
    public var exactMatch: Bool
}

/// The API dialect a client speaks; responses and errors are encoded in it.
public enum ClientDialect: String, Sendable {
    case openAI = "openai"
    case anthropic
    /// OpenAI's Responses API (`/v1/responses`), translated to and from the canonical form.
    case responses

    /// The route label for metrics and logs.
    public func routeLabel(_ endpoint: Endpoint) -> String {
        switch self {
        case .openAI: endpoint.label
        case .anthropic: "messages"
        case .responses: "responses"
        }
    }
}

/// Receives every finished ``RequestRecord`` (metrics, access log, the usage ledger).
public protocol RequestObserver: Sendable {
    func requestFinished(_ record: RequestRecord)
    /// A shadow request finished and was compared with its primary.
    func shadowFinished(_ record: ShadowRecord)
}

extension RequestObserver {
    public func shadowFinished(_ record: ShadowRecord) {}
}

/// Fans a record out to several observers.
public struct ObserverList: RequestObserver {
    public var observers: [any RequestObserver]
    public init(_ observers: [any RequestObserver]) { self.observers = observers }
    public func requestFinished(_ record: RequestRecord) {
        for observer in observers { observer.requestFinished(record) }
    }
    public func shadowFinished(_ record: ShadowRecord) {
        for observer in observers { observer.shadowFinished(record) }
    }
}

/// `logging:` — the request log: which sinks get one record per request, whose prompts and
/// completions are kept (redacted first), and for how long.
public struct RequestLogSettings: Sendable {
    /// Whose bodies are logged; empty (the default): nobody's. Bodies are masked for personal
    /// data and credentials before they leave the request.
    public var bodies: [PromptScope] = []
    /// The most bytes of each body kept (the rest is cut, marked `…[truncated]`).
    public var maxBodyBytes = 16 * 1024
    /// Whether the request log detail (attempts, fallbacks, guardrails, bodies) goes to the
    /// database next to the usage record (`GET /admin/logs`). Needs `server.usage_ledger`.
    public var database = true
    /// How long detail rows and their bodies stay in the database; nil keeps them. Usage rows
    /// (the accounting) are not touched by it.
    public var retention: Duration? = .seconds(30 * 86_400)
    /// An HTTP sink for a SIEM or log platform.
    public var webhook: LogWebhookSettings?
    public init() {}

    /// Whether the bodies of this request are logged.
    public func logsBodies(model: String, identity: Identity, endpoint: String) -> Bool {
        !bodies.isEmpty && bodies.contains { $0.matches(model: model, identity: identity, endpoint: endpoint) }
    }
}

/// `logging.webhook:` — request records POSTed in batches, retried with backoff.
public struct LogWebhookSettings: Sendable {
    public enum Format: String, Sendable, CaseIterable {
        /// One JSON array per batch (`application/json`).
        case json
        /// One JSON object per line (`application/x-ndjson`).
        case ndjson
    }
    public var url: String
    public var headers: [HeaderField] = []
    public var format: Format = .json
    public var batchSize = 100
    public var flushInterval: Duration = .seconds(2)
    public var timeout: Duration = .seconds(10)
    /// Retries of a failed batch (429, 5xx, transport errors), with exponential backoff.
    public var maxRetries = 5
    /// Records held while the sink is slow or down; the oldest are dropped beyond it (counted).
    public var maxBuffer = 10_000
    /// Whether logged bodies are sent too (they always go to the database when logged).
    public var includeBodies = false
    public init(url: String) { self.url = url }
}

/// `tracing:` — OpenTelemetry spans for each request, its stages and upstream attempts,
/// exported over OTLP/HTTP (JSON encoding) to a collector.
public struct TracingSettings: Sendable {
    public var enabled = false
    /// The collector's traces endpoint (`http://localhost:4318/v1/traces`).
    public var endpoint = "http://localhost:4318/v1/traces"
    public var headers: [HeaderField] = []
    /// Fraction of new traces recorded; a sampled parent (`traceparent` flag) is always followed.
    public var sampleRatio = 1.0
    public var serviceName = "switchyard"
    /// Resource attributes sent with every export besides `service.name` and `service.version`
    /// (from `OTEL_RESOURCE_ATTRIBUTES`).
    public var resourceAttributes: [String: String] = [:]
    /// Spans per export request.
    public var batchSize = 512
    public var exportInterval: Duration = .seconds(2)
    public var timeout: Duration = .seconds(10)
    /// Spans held while the collector is slow or down; the oldest are dropped beyond it.
    public var maxQueue = 8192
    /// Whether providers get `traceparent` (naming the attempt span); false sends them no trace
    /// context at all, the client's included.
    public var propagate = true
    public init() {}
}

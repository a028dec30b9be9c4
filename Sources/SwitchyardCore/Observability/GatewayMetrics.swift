import CoreMetrics
import Synchronization

/// Records each finished request as metrics named after the OpenTelemetry GenAI conventions
/// (in Prometheus form) plus Switchyard's own counters.
///
/// Metric handles are created once per label combination and cached, so recording a request
/// costs a dictionary lookup per metric rather than a registry lookup. Label values are
/// bounded: models are the configured public names, never arbitrary client input.
public final class GatewayMetrics: RequestObserver, RouterEventObserver, Sendable {
    private let factory: any MetricsFactory
    private let counters = Mutex<[String: Counter]>([:])
    private let timers = Mutex<[String: Timer]>([:])
    private let recorders = Mutex<[String: Recorder]>([:])
    private let gauges = Mutex<[String: Gauge]>([:])
    private let floatingCounters = Mutex<[String: FloatingPointCounter]>([:])
    /// Whether per-key and per-team request counts are kept (`server.metrics_identity_labels`).
    let identityLabels: @Sendable () -> Bool

    public init(factory: any MetricsFactory, identityLabels: @escaping @Sendable () -> Bool = { false }) {
        self.factory = factory
        self.identityLabels = identityLabels
    }

    /// Handles for one combination of request labels, created together on first use.
    private struct RequestHandles: Sendable {
        var requests: Counter
        var duration: Timer
        /// Only for streams: non-streamed requests leave no empty TTFT series behind.
        var timeToFirstToken: Timer?
        /// Only for outcomes that can carry usage.
        var tokens: TokenHandles?
        /// The gateway's own share of the time (requests that reached an upstream).
        var overhead: Timer
    }

    private struct TokenHandles: Sendable {
        var input: Recorder
        var output: Recorder
        var inputTotal: Counter
        var outputTotal: Counter
    }

    private struct RequestKey: Hashable, Sendable {
        var endpoint: Endpoint
        var dialect: ClientDialect
        var model: String
        var provider: String
        var status: Int
        var outcome: RequestRecord.Outcome
        var errorCode: String
        var stream: Bool
    }

    private let requestHandles = Mutex<[RequestKey: RequestHandles]>([:])

    /// `switchyard_router_attempts_total` by (group, deployment, outcome): counted for every
    /// request, found by a typed key instead of a label string built each time.
    private struct AttemptKey: Hashable, Sendable {
        var group: String
        var deployment: String
        var outcome: String
    }

    private let attemptCounters = Mutex<[AttemptKey: Counter]>([:])

    /// The response cache's metrics for one outcome and model group, created together.
    private struct CacheKey: Hashable, Sendable {
        var result: String
        var modelGroup: String
        var lookup: Bool
        var similarity: Bool
    }

    private struct CacheHandles: Sendable {
        var requests: Counter
        var lookup: Timer?
        var similarity: Recorder?
        /// Only for hits (exact or semantic).
        var savedTokens: Counter?
    }

    private let cacheHandles = Mutex<[CacheKey: CacheHandles]>([:])

    private func cacheHandles(for key: CacheKey) -> CacheHandles {
        Self.handles(in: cacheHandles, key) {
            let semantic = key.result == "semantic-hit"
            return CacheHandles(
                requests: counter(
                    "switchyard_cache_requests_total", [("type", semantic ? "semantic" : "exact"), ("result", semantic ? "hit" : key.result)]),
                lookup: key.lookup ? timer("switchyard_cache_lookup_duration_seconds", [("semantic", key.similarity ? "true" : "false")]) : nil,
                similarity: key.similarity ? recorder("switchyard_cache_semantic_similarity", [("model", key.modelGroup)]) : nil,
                savedTokens: key.result == "hit" || semantic ? counter("switchyard_cache_saved_tokens_total", [("model", key.modelGroup)]) : nil
            )
        }
    }

    /// The handles under `key` in `table`, made by `make` on first use: the metrics recorded for
    /// every request are found by a typed key, not by a label string built each time.
    private static func handles<Key: Hashable & Sendable, Handles: Sendable>(
        in table: borrowing Mutex<[Key: Handles]>, _ key: Key, make: () -> Handles
    ) -> Handles {
        if let existing = table.withLock({ $0[key] }) { return existing }
        let created = make()
        table.withLock { $0[key] = created }
        return created
    }

    private struct HTTPKey: Hashable, Sendable {
        var method: String
        var route: String
        var status: Int
    }

    private struct HTTPHandles: Sendable {
        var requests: Counter
        var duration: Timer
    }

    private let httpHandles = Mutex<[HTTPKey: HTTPHandles]>([:])

    /// A guardrail decision's counter (name, direction, action), or the scans counter by its
    /// result (`scans`, the other fields empty): found by a typed key on every guarded request.
    private struct GuardrailKey: Hashable, Sendable {
        var name = ""
        var direction = ""
        var action = ""
        var scans = ""
    }

    private let guardrailHandles = Mutex<[GuardrailKey: Counter]>([:])

    /// Counts one HTTP request of any route (`switchyard_http_requests_total` and its duration);
    /// `route` is a bounded label. The handles are found by a typed key, not a built string.
    public func httpRequestFinished(method: String, route: String, status: Int, nanoseconds: Int64) {
        let handles = Self.handles(in: httpHandles, HTTPKey(method: method, route: route, status: status)) {
            HTTPHandles(
                requests: counter("switchyard_http_requests_total", [("method", method), ("path", route), ("status", String(status))]),
                duration: timer("switchyard_http_request_duration_seconds", [("method", method), ("path", route)])
            )
        }
        handles.requests.increment()
        handles.duration.recordNanoseconds(nanoseconds)
    }

    private func handles(for key: RequestKey) -> RequestHandles {
        Self.handles(in: requestHandles, key) { makeHandles(for: key) }
    }

    private func makeHandles(for key: RequestKey) -> RequestHandles {
        let operation = key.endpoint.operationName
        let genAI = [("gen_ai_operation_name", operation), ("gen_ai_provider_name", key.provider), ("gen_ai_request_model", key.model)]
        let tokens = [("model", key.model), ("provider", key.provider)]
        return RequestHandles(
            requests: counter(
                "switchyard_requests_total",
                [
                    ("endpoint", key.dialect.routeLabel(key.endpoint)), ("model", key.model), ("provider", key.provider),
                    ("status", String(key.status)),
                    ("outcome", key.outcome.rawValue),
                ]
            ),
            duration: timer("gen_ai_server_request_duration_seconds", genAI + [("error_type", key.errorCode)]),
            timeToFirstToken: key.stream ? timer("gen_ai_server_time_to_first_token_seconds", genAI) : nil,
            tokens: key.outcome == .error
                ? nil
                : TokenHandles(
                    input: recorder("gen_ai_client_token_usage", genAI + [("gen_ai_token_type", "input")]),
                    output: recorder("gen_ai_client_token_usage", genAI + [("gen_ai_token_type", "output")]),
                    inputTotal: counter("switchyard_tokens_total", tokens + [("type", "input")]),
                    outputTotal: counter("switchyard_tokens_total", tokens + [("type", "output")])
                ),
            overhead: timer("switchyard_gateway_overhead_seconds", [("endpoint", key.endpoint.label), ("stream", key.stream ? "true" : "false")])
        )
    }

    public func requestFinished(_ record: RequestRecord) {
        let model = record.provider == nil ? "unrouted" : (record.requestedModel ?? "unknown")
        let provider = record.provider ?? "none"
        let handles = handles(
            for: RequestKey(
                endpoint: record.endpoint, dialect: record.dialect, model: model, provider: provider, status: record.status,
                outcome: record.outcome, errorCode: record.errorCode ?? "", stream: record.stream
            )
        )
        handles.requests.increment()
        handles.duration.recordNanoseconds(record.duration.nanoseconds)
        if let ttft = record.timeToFirstToken {
            handles.timeToFirstToken?.recordNanoseconds(ttft.nanoseconds)
            // Time per output token after the first (the GenAI convention's decode speed).
            if let output = record.usage?.completionTokens, output > 1, record.outcome == .success {
                timer("gen_ai_server_time_per_output_token_seconds", [("gen_ai_request_model", model), ("gen_ai_provider_name", provider)])
                    .recordNanoseconds((record.duration - ttft).nanoseconds / Int64(output - 1))
            }
        }
        if let upstream = record.upstreamDuration {
            // The gateway's own share: everything but the upstream exchange.
            handles.overhead.recordNanoseconds(max(0, (record.duration - upstream).nanoseconds))
        }
        if identityLabels() {
            counter(
                "switchyard_requests_by_identity_total",
                [("key", record.identity.subject), ("team", record.identity.teamID ?? ""), ("model", model), ("status", String(record.status))]
            ).increment()
        }
        if let usage = record.usage {
            handles.tokens?.input.record(usage.promptTokens)
            handles.tokens?.output.record(usage.completionTokens)
            handles.tokens?.inputTotal.increment(by: usage.promptTokens)
            handles.tokens?.outputTotal.increment(by: usage.completionTokens)
            let tokenDimensions = [("model", model), ("provider", provider)]
            if usage.cachedPromptTokens > 0 {
                counter("switchyard_tokens_total", tokenDimensions + [("type", "cached_input")]).increment(by: usage.cachedPromptTokens)
            }
            if usage.reasoningTokens > 0 {
                counter("switchyard_tokens_total", tokenDimensions + [("type", "reasoning")]).increment(by: usage.reasoningTokens)
            }
            if record.usageSource == .gateway {
                // The provider reported no usage (or the client left first): the gateway counted.
                counter("switchyard_usage_counted_by_gateway_total", tokenDimensions).increment()
            }
        }
        if record.cacheVerificationRejected {
            counter("switchyard_cache_semantic_rejected_total", [("model", record.modelGroup ?? "unknown")]).increment()
        }
        for decision in record.guardrails {
            Self.handles(in: guardrailHandles, GuardrailKey(name: decision.name, direction: decision.direction, action: decision.action)) {
                counter(
                    "switchyard_guardrail_decisions_total",
                    [("guardrail", decision.name), ("direction", decision.direction), ("action", decision.action)])
            }.increment()
        }
        if record.guardrailScans.scanned > 0 {
            Self.handles(in: guardrailHandles, GuardrailKey(scans: "scanned")) {
                counter("switchyard_guardrail_scans_total", [("result", "scanned")])
            }.increment(by: record.guardrailScans.scanned)
        }
        if record.guardrailScans.reused > 0 {
            Self.handles(in: guardrailHandles, GuardrailKey(scans: "reused")) {
                counter("switchyard_guardrail_scans_total", [("result", "reused")])
            }.increment(by: record.guardrailScans.reused)
        }
        if let cache = record.cache {
            let semantic = cache == "semantic-hit"
            let handles = cacheHandles(
                for: CacheKey(
                    result: cache, modelGroup: record.modelGroup ?? "unknown", lookup: record.cacheLookup != nil,
                    similarity: record.cacheSimilarity != nil))
            handles.requests.increment()
            if let lookup = record.cacheLookup { handles.lookup?.recordNanoseconds(lookup.nanoseconds) }
            if let similarity = record.cacheSimilarity { handles.similarity?.record(similarity) }
            if cache == "hit" || semantic {
                if let usage = record.usage { handles.savedTokens?.increment(by: usage.totalTokens) }
                if let saved = record.cacheSavedCost, saved > 0 {
                    floatingCounter("switchyard_cache_saved_usd_total", [("model", record.modelGroup ?? "unknown")]).increment(by: saved)
                }
            }
        }
        if let cost = record.cost, cost > 0 {
            floatingCounter("switchyard_cost_usd_total", [("model", model), ("provider", provider)]).increment(by: cost)
        }
        if let reason = record.upstreamError {
            counter("switchyard_upstream_errors_total", [("provider", provider), ("reason", reason)]).increment()
        }
        recordRouting(record)
    }

    /// Router decisions: attempts per deployment and outcome, fallbacks, experiment arms.
    private func recordRouting(_ record: RequestRecord) {
        for attempt in record.attempts {
            let key = AttemptKey(group: attempt.group, deployment: attempt.deployment, outcome: attempt.errorClass?.rawValue ?? "success")
            Self.handles(in: attemptCounters, key) {
                counter("switchyard_router_attempts_total", [("model_group", key.group), ("deployment", key.deployment), ("outcome", key.outcome)])
            }.increment()
        }
        if record.attempts.count > 1 + record.fallbacks.count {
            counter("switchyard_router_retries_total", [("model_group", record.attempts[0].group)])
                .increment(by: record.attempts.count - 1 - record.fallbacks.count)
        }
        var from = record.attempts.first?.group ?? record.modelGroup ?? "none"
        for target in record.fallbacks {
            counter("switchyard_router_fallbacks_total", [("from", from), ("to", target)]).increment()
            from = target
        }
        if let limited = record.rateLimitedBy, limited.hasPrefix("budget:") {
            counter("switchyard_budget_rejections_total", [("scope", String(limited.dropFirst("budget:".count)))]).increment()
        } else if let limited = record.rateLimitedBy {
            let parts = limited.split(separator: ":")
            counter("switchyard_rate_limit_rejections_total", [("scope", String(parts.first ?? "")), ("limit", String(parts.last ?? ""))])
                .increment()
        }
        if record.retryBudgetExhausted {
            counter("switchyard_router_retry_budget_exhausted_total", []).increment()
        }
        if let experiment = record.experiment, let arm = record.arm {
            counter("switchyard_experiment_requests_total", [("experiment", experiment), ("arm", arm), ("outcome", record.outcome.rawValue)])
                .increment()
        }
    }

    public func breakerChanged(deployment: String, state: CircuitBreaker.State) {
        gauge("switchyard_circuit_breaker_state", [("deployment", deployment)]).record(state.gaugeValue)
        counter("switchyard_circuit_breaker_transitions_total", [("deployment", deployment), ("to", state.rawValue)]).increment()
    }

    public func shadowFinished(_ record: ShadowRecord) {
        let dimensions = [("model_group", record.primaryGroup), ("shadow_model_group", record.shadowGroup)]
        counter("switchyard_shadow_requests_total", dimensions + [("outcome", record.outcome)]).increment()
        timer("switchyard_shadow_duration_seconds", dimensions).recordNanoseconds(record.shadowDuration.nanoseconds)
        if let similarity = record.similarity {
            recorder("switchyard_shadow_similarity", dimensions).record(similarity)
        }
    }

    public func gauge(_ label: String, _ dimensions: [(String, String)]) -> Gauge {
        let key = Self.key(label, dimensions)
        return gauges.withLock { cache in
            if let existing = cache[key] { return existing }
            let created = Gauge(label: label, dimensions: dimensions, factory: factory)
            cache[key] = created
            return created
        }
    }

    private static func key(_ label: String, _ dimensions: [(String, String)]) -> String {
        var key = label
        for (name, value) in dimensions {
            key += "\u{1}"
            key += name
            key += "\u{2}"
            key += value
        }
        return key
    }

    public func counter(_ label: String, _ dimensions: [(String, String)]) -> Counter {
        let key = Self.key(label, dimensions)
        return counters.withLock { cache in
            if let existing = cache[key] { return existing }
            let created = Counter(label: label, dimensions: dimensions, factory: factory)
            cache[key] = created
            return created
        }
    }

    public func floatingCounter(_ label: String, _ dimensions: [(String, String)]) -> FloatingPointCounter {
        let key = Self.key(label, dimensions)
        return floatingCounters.withLock { cache in
            if let existing = cache[key] { return existing }
            let created = FloatingPointCounter(label: label, dimensions: dimensions, factory: factory)
            cache[key] = created
            return created
        }
    }

    public func timer(_ label: String, _ dimensions: [(String, String)]) -> Timer {
        let key = Self.key(label, dimensions)
        return timers.withLock { cache in
            if let existing = cache[key] { return existing }
            let created = Timer(label: label, dimensions: dimensions, preferredDisplayUnit: .seconds, factory: factory)
            cache[key] = created
            return created
        }
    }

    public func recorder(_ label: String, _ dimensions: [(String, String)]) -> Recorder {
        let key = Self.key(label, dimensions)
        return recorders.withLock { cache in
            if let existing = cache[key] { return existing }
            let created = Recorder(label: label, dimensions: dimensions, aggregate: true, factory: factory)
            cache[key] = created
            return created
        }
    }
}

extension Duration {
    /// The duration in whole nanoseconds (saturating).
    public var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        return product + attoseconds / 1_000_000_000
    }
}

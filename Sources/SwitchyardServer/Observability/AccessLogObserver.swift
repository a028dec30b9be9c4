import Logging
import SwitchyardCore

/// Writes one structured log line per inference request when it has fully finished (for a
/// stream: after its last byte), with model, provider, tokens and timings. Prompts and
/// completions are never logged.
public struct AccessLogObserver: RequestObserver {
    let logger: Logger
    let enabled: @Sendable () -> Bool

    public init(logger: Logger, enabled: @escaping @Sendable () -> Bool) {
        self.logger = logger
        self.enabled = enabled
    }

    public func requestFinished(_ record: RequestRecord) {
        guard enabled() else { return }
        // Room for every field up front, so the dictionary is not grown and rehashed on the way.
        var metadata = Logger.Metadata(minimumCapacity: 32)
        metadata["request_id"] = .string(record.requestID)
        metadata["endpoint"] = .string(record.dialect.routeLabel(record.endpoint))
        metadata["identity"] = .string(record.identity.subject)
        metadata["http_status"] = .stringConvertible(record.status)
        metadata["outcome"] = .string(record.outcome.rawValue)
        metadata["stream"] = .stringConvertible(record.stream)
        metadata["duration_ms"] = .stringConvertible(Self.milliseconds(record.duration))
        if let client = record.clientRequestID { metadata["client_request_id"] = .string(client) }
        if let model = record.requestedModel { metadata["gen_ai.request.model"] = .string(model) }
        if let model = record.servedModel { metadata["gen_ai.response.model"] = .string(model) }
        if let provider = record.provider { metadata["gen_ai.provider.name"] = .string(provider) }
        if let code = record.errorCode { metadata["error_code"] = .string(code) }
        if let upstream = record.upstreamError { metadata["upstream_error"] = .string(upstream) }
        if let ttft = record.timeToFirstToken { metadata["ttft_ms"] = .stringConvertible(Self.milliseconds(ttft)) }
        if let usage = record.usage {
            metadata["gen_ai.usage.input_tokens"] = .stringConvertible(usage.promptTokens)
            metadata["gen_ai.usage.output_tokens"] = .stringConvertible(usage.completionTokens)
        }
        if let endUser = record.identity.endUser { metadata["end_user"] = .string(endUser) }
        if let group = record.modelGroup { metadata["model_group"] = .string(group) }
        if let deployment = record.deployment { metadata["deployment"] = .string(deployment) }
        if !record.attempts.isEmpty {
            metadata["attempts"] = .stringConvertible(record.attempts.count)
            if record.attempts.count > 1 {
                metadata["attempt_outcomes"] = .array(record.attempts.map { .string("\($0.deployment):\($0.outcome)") })
            }
        }
        if !record.fallbacks.isEmpty { metadata["fallbacks"] = .array(record.fallbacks.map { .string($0) }) }
        if let rule = record.rule { metadata["routing_rule"] = .string(rule) }
        if let experiment = record.experiment, let arm = record.arm {
            metadata["experiment"] = .string(experiment)
            metadata["experiment_arm"] = .string(arm)
        }
        if record.retryBudgetExhausted { metadata["retry_budget_exhausted"] = .stringConvertible(true) }
        if let limited = record.rateLimitedBy { metadata["rate_limited_by"] = .string(limited) }
        if let cache = record.cache { metadata["cache"] = .string(cache) }
        if !record.guardrails.isEmpty { metadata["guardrails"] = .string(record.guardrails.map(\.summary).joined(separator: ", ")) }
        if let route = record.guardrailRoute { metadata["guardrail_route"] = .string(route) }
        if let similarity = record.cacheSimilarity { metadata["cache_similarity"] = .stringConvertible(similarity) }
        if let span = record.requestSpan, span.identity.sampled { metadata["trace_id"] = .string(span.identity.traceID) }
        if let cost = record.cost { metadata["cost_usd"] = .stringConvertible((cost * 1e9).rounded() / 1e9) }
        logger.info("request", metadata: metadata)
    }

    public func shadowFinished(_ record: ShadowRecord) {
        guard enabled() else { return }
        var metadata: Logger.Metadata = [
            "request_id": .string(record.requestID),
            "model_group": .string(record.primaryGroup),
            "shadow_model_group": .string(record.shadowGroup),
            "outcome": .string(record.outcome),
            "primary_outcome": .string(record.primaryOutcome),
            "shadow_duration_ms": .stringConvertible(Self.milliseconds(record.shadowDuration)),
            "exact_match": .stringConvertible(record.exactMatch),
        ]
        if let deployment = record.shadowDeployment { metadata["shadow_deployment"] = .string(deployment) }
        if let duration = record.primaryDuration { metadata["primary_duration_ms"] = .stringConvertible(Self.milliseconds(duration)) }
        if let similarity = record.similarity { metadata["similarity"] = .stringConvertible((similarity * 1000).rounded() / 1000) }
        if let usage = record.shadowUsage {
            metadata["shadow_input_tokens"] = .stringConvertible(usage.promptTokens)
            metadata["shadow_output_tokens"] = .stringConvertible(usage.completionTokens)
        }
        if let usage = record.primaryUsage { metadata["primary_output_tokens"] = .stringConvertible(usage.completionTokens) }
        logger.info("shadow", metadata: metadata)
    }

    static func milliseconds(_ duration: Duration) -> Double {
        Double(duration.nanoseconds / 1000) / 1000
    }
}

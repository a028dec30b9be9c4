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
        let fields = Self.fields(record)
        // The JSON handler writes fields already in key order as they are; any other handler
        // (text, a multiplexer, one with metadata of its own) gets them as metadata.
        if logger.logLevel <= .info, let handler = logger.handler as? JSONLogHandler,
            handler.writeInKeyOrder(level: .info, message: "request", fields: fields)
        {
            return
        }
        logger.info("request", metadata: Logger.Metadata(fields, uniquingKeysWith: { $1 }))
    }

    /// The line's fields, in key order (the order a JSON line lists them): appended in that
    /// order here rather than collected in a dictionary and sorted, once per request.
    static func fields(_ record: RequestRecord) -> [(key: String, value: Logger.Metadata.Value)] {
        var fields: [(key: String, value: Logger.Metadata.Value)] = []
        fields.reserveCapacity(24)
        func add(_ key: String, _ value: Logger.Metadata.Value) { fields.append((key, value)) }
        if record.attempts.count > 1 { add("attempt_outcomes", .array(record.attempts.map { .string("\($0.deployment):\($0.outcome)") })) }
        if !record.attempts.isEmpty { add("attempts", .stringConvertible(record.attempts.count)) }
        if let cache = record.cache { add("cache", .string(cache)) }
        if let similarity = record.cacheSimilarity { add("cache_similarity", .stringConvertible(similarity)) }
        if let client = record.clientRequestID { add("client_request_id", .string(client)) }
        if let cost = record.cost { add("cost_usd", .stringConvertible((cost * 1e9).rounded() / 1e9)) }
        if let deployment = record.deployment { add("deployment", .string(deployment)) }
        add("duration_ms", .stringConvertible(Self.milliseconds(record.duration)))
        if let endUser = record.identity.endUser { add("end_user", .string(endUser)) }
        add("endpoint", .string(record.dialect.routeLabel(record.endpoint)))
        if let code = record.errorCode { add("error_code", .string(code)) }
        if let experiment = record.experiment, let arm = record.arm {
            add("experiment", .string(experiment))
            add("experiment_arm", .string(arm))
        }
        if !record.fallbacks.isEmpty { add("fallbacks", .array(record.fallbacks.map { .string($0) })) }
        if let provider = record.provider { add("gen_ai.provider.name", .string(provider)) }
        if let model = record.requestedModel { add("gen_ai.request.model", .string(model)) }
        if let model = record.servedModel { add("gen_ai.response.model", .string(model)) }
        if let usage = record.usage {
            add("gen_ai.usage.input_tokens", .stringConvertible(usage.promptTokens))
            add("gen_ai.usage.output_tokens", .stringConvertible(usage.completionTokens))
        }
        if let route = record.guardrailRoute { add("guardrail_route", .string(route)) }
        if !record.guardrails.isEmpty { add("guardrails", .string(record.guardrails.map(\.summary).joined(separator: ", "))) }
        add("http_status", .stringConvertible(record.status))
        add("identity", .string(record.identity.subject))
        if let group = record.modelGroup { add("model_group", .string(group)) }
        add("outcome", .string(record.outcome.rawValue))
        if let limited = record.rateLimitedBy { add("rate_limited_by", .string(limited)) }
        add("request_id", .string(record.requestID))
        if record.retryBudgetExhausted { add("retry_budget_exhausted", .stringConvertible(true)) }
        if let rule = record.rule { add("routing_rule", .string(rule)) }
        add("stream", .stringConvertible(record.stream))
        if let span = record.requestSpan, span.identity.sampled { add("trace_id", .string(span.identity.traceID)) }
        if let ttft = record.timeToFirstToken { add("ttft_ms", .stringConvertible(Self.milliseconds(ttft))) }
        if let upstream = record.upstreamError { add("upstream_error", .string(upstream)) }
        assert(zip(fields, fields.dropFirst()).allSatisfy { $0.key < $1.key }, "access log fields out of key order")
        return fields
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

import Tracing

/// Puts each request's outcome on its spans when its record is final: the answering attempt
/// (a GenAI client span) gets the response model, token usage and finish, then ends; the
/// server span gets the model group, cache status, usage, cost and error type (the HTTP layer
/// ends it once the last byte is written).
public struct TracingObserver: RequestObserver {
    public init() {}

    public func requestFinished(_ record: RequestRecord) {
        // Unsampled spans record nothing: no attributes to build.
        guard record.requestSpan?.isRecording == true || record.attemptSpan?.isRecording == true else { return }
        var common: [(String, SpanAttribute)] = []
        if let model = record.servedModel { common.append(("gen_ai.response.model", .string(model))) }
        if let usage = record.usage {
            common.append(("gen_ai.usage.input_tokens", .int64(Int64(usage.promptTokens))))
            common.append(("gen_ai.usage.output_tokens", .int64(Int64(usage.completionTokens))))
            if usage.cachedPromptTokens > 0 { common.append(("gen_ai.usage.cache_read.input_tokens", .int64(Int64(usage.cachedPromptTokens)))) }
            if usage.reasoningTokens > 0 { common.append(("gen_ai.usage.reasoning.output_tokens", .int64(Int64(usage.reasoningTokens)))) }
        }
        let failed = record.outcome != .success
        if let span = record.attemptSpan {
            var attributes = common
            if let ttft = record.timeToFirstToken { attributes.append(("gen_ai.server.time_to_first_token", .double(durationSeconds(ttft)))) }
            if failed, let code = record.errorCode { attributes.append(("error.type", .string(code))) }
            span.set(attributes)
            if failed { span.setStatus(SpanStatus(code: .error, message: record.outcome.rawValue)) }
            span.end()
        }
        if let span = record.requestSpan {
            var attributes = common
            if let model = record.requestedModel { attributes.append(("gen_ai.request.model", .string(model))) }
            if let provider = record.provider { attributes.append(("gen_ai.provider.name", .string(provider))) }
            attributes.append(("gen_ai.operation.name", .string(record.endpoint.operationName)))
            if let group = record.modelGroup { attributes.append(("switchyard.model_group", .string(group))) }
            if let deployment = record.deployment { attributes.append(("switchyard.deployment", .string(deployment))) }
            if let cache = record.cache { attributes.append(("switchyard.cache.status", .string(cache))) }
            if let cost = record.cost { attributes.append(("switchyard.cost_usd", .double(cost))) }
            attributes.append(("switchyard.attempts", .int64(Int64(record.attempts.count))))
            attributes.append(("switchyard.outcome", .string(record.outcome.rawValue)))
            attributes.append(("switchyard.identity", .string(record.identity.subject)))
            if !record.guardrails.isEmpty {
                attributes.append(("switchyard.guardrails", .stringArray(record.guardrails.map(\.summary))))
            }
            if let limited = record.rateLimitedBy { attributes.append(("switchyard.rate_limited_by", .string(limited))) }
            if failed, let code = record.errorCode { attributes.append(("error.type", .string(code))) }
            span.set(attributes)
        }
    }
}

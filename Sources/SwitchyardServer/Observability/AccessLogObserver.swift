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
        var metadata: Logger.Metadata = [
            "request_id": .string(record.requestID),
            "endpoint": .string(record.dialect.routeLabel(record.endpoint)),
            "identity": .string(record.identity.subject),
            "http_status": .stringConvertible(record.status),
            "outcome": .string(record.outcome.rawValue),
            "stream": .stringConvertible(record.stream),
            "duration_ms": .stringConvertible(Self.milliseconds(record.duration)),
        ]
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
        logger.info("request", metadata: metadata)
    }

    static func milliseconds(_ duration: Duration) -> Double {
        Double(duration.nanoseconds / 1000) / 1000
    }
}

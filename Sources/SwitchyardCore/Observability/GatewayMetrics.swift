import CoreMetrics
import Synchronization

/// Records each finished request as metrics named after the OpenTelemetry GenAI conventions
/// (in Prometheus form) plus Switchyard's own counters.
///
/// Metric handles are created once per label combination and cached, so recording a request
/// costs a dictionary lookup per metric rather than a registry lookup. Label values are
/// bounded: models are the configured public names, never arbitrary client input.
public final class GatewayMetrics: RequestObserver, Sendable {
    private let factory: any MetricsFactory
    private let counters = Mutex<[String: Counter]>([:])
    private let timers = Mutex<[String: Timer]>([:])
    private let recorders = Mutex<[String: Recorder]>([:])

    public init(factory: any MetricsFactory) {
        self.factory = factory
    }

    public func requestFinished(_ record: RequestRecord) {
        let model = record.provider == nil ? "unrouted" : (record.requestedModel ?? "unknown")
        let provider = record.provider ?? "none"
        let operation = record.endpoint.operationName
        let status = String(record.status)
        counter(
            "switchyard_requests_total",
            [("endpoint", record.endpoint.label), ("model", model), ("provider", provider), ("status", status), ("outcome", record.outcome.rawValue)]
        ).increment()
        let genAIDimensions = [("gen_ai_operation_name", operation), ("gen_ai_provider_name", provider), ("gen_ai_request_model", model)]
        timer("gen_ai_server_request_duration_seconds", genAIDimensions + [("error_type", record.errorCode ?? "")])
            .recordNanoseconds(record.duration.nanoseconds)
        if let ttft = record.timeToFirstToken {
            timer("gen_ai_server_time_to_first_token_seconds", genAIDimensions).recordNanoseconds(ttft.nanoseconds)
        }
        if let usage = record.usage {
            recorder("gen_ai_client_token_usage", genAIDimensions + [("gen_ai_token_type", "input")]).record(usage.promptTokens)
            recorder("gen_ai_client_token_usage", genAIDimensions + [("gen_ai_token_type", "output")]).record(usage.completionTokens)
            let tokenDimensions = [("model", model), ("provider", provider)]
            counter("switchyard_tokens_total", tokenDimensions + [("type", "input")]).increment(by: usage.promptTokens)
            counter("switchyard_tokens_total", tokenDimensions + [("type", "output")]).increment(by: usage.completionTokens)
            if usage.cachedPromptTokens > 0 {
                counter("switchyard_tokens_total", tokenDimensions + [("type", "cached_input")]).increment(by: usage.cachedPromptTokens)
            }
            if usage.reasoningTokens > 0 {
                counter("switchyard_tokens_total", tokenDimensions + [("type", "reasoning")]).increment(by: usage.reasoningTokens)
            }
        }
        if let reason = record.upstreamError {
            counter("switchyard_upstream_errors_total", [("provider", provider), ("reason", reason)]).increment()
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

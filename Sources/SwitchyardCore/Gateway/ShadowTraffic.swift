import NIOCore
import Synchronization

/// A mirrored (shadow) request and the comparison with its primary.
///
/// The shadow runs in its own task, concurrently with the primary, never awaited by the
/// client's request: the client only ever sees the primary. Whichever of the two finishes
/// second emits the ``ShadowRecord`` (latency, usage, errors, similarity of the answers).
final class ShadowComparison: Sendable {
    struct Result: Sendable {
        var outcome: String
        var duration: Duration?
        var usage: TokenUsage?
        var text: String?
    }

    private struct State: Sendable {
        var primary: Result?
        var shadow: Result?
        var shadowDeployment: String?
        var emitted = false
    }

    private let state = Mutex(State())
    let requestID: String
    let primaryGroup: String
    let shadowGroup: String
    let observer: any RequestObserver

    private init(requestID: String, primaryGroup: String, shadowGroup: String, observer: any RequestObserver) {
        self.requestID = requestID
        self.primaryGroup = primaryGroup
        self.shadowGroup = shadowGroup
        self.observer = observer
    }

    /// Starts the shadow request in the background and returns the comparison to feed with
    /// the primary's outcome.
    static func start(
        group: ModelGroup,
        primaryGroup: String,
        request: OpenAIRequest,
        inbound: Gateway.Inbound,
        snapshot: RuntimeSnapshot,
        router: RouterState,
        observer: any RequestObserver,
        background: BackgroundWork,
        deadline: ContinuousClock.Instant
    ) -> ShadowComparison {
        let comparison = ShadowComparison(
            requestID: inbound.requestID, primaryGroup: primaryGroup, shadowGroup: group.qualifiedName, observer: observer)
        background.submit {
            await comparison.runShadow(group: group, request: request, inbound: inbound, snapshot: snapshot, router: router, deadline: deadline)
        }
        return comparison
    }

    private func runShadow(
        group: ModelGroup, request: OpenAIRequest, inbound: Gateway.Inbound, snapshot: RuntimeSnapshot, router: RouterState,
        deadline: ContinuousClock.Instant
    ) async {
        let start = ContinuousClock.now
        guard case .deployment(let lease, _) = router.pick(group, features: nil, regions: nil, hasAdapter: { snapshot.adapters[$0] != nil }),
            let adapter = snapshot.adapters[lease.deployment.provider]
        else {
            shadowFinished(Result(outcome: "no_deployment", duration: .now - start), deployment: nil)
            return
        }
        // Always a complete answer: the shadow's text is compared, not relayed.
        let body = request.scan.rewriting([
            ("model", JSONWriter.quoted(lease.deployment.upstreamModel)), ("stream", Array("false".utf8)), ("stream_options", nil),
        ])
        let upstream = UpstreamRequest(
            endpoint: inbound.endpoint, body: ByteBuffer(bytes: body), stream: false, model: lease.deployment.upstreamModel,
            requestID: inbound.requestID + "-shadow", deadline: deadline, propagatedHeaders: inbound.propagatedHeaders)
        var result = Result(outcome: "success")
        do {
            let response = try await adapter.send(upstream)
            let collected = try await response.body.collect(upTo: 64 * 1024 * 1024)
            if (200..<300).contains(response.status), let scan = try? JSONObjectScan(Array(buffer: collected)) {
                result.usage = TokenUsage(openAIResponse: scan)
                result.text = Self.answerText(scan, anthropic: false)
                router.finish(lease, outcome: .success(latency: durationSeconds(.now - start), tokens: result.usage?.totalTokens ?? 0))
            } else {
                let error = UpstreamErrorMapper.map(
                    status: response.status, body: Array(buffer: collected), headers: response.headers, provider: lease.deployment.provider,
                    scrubber: snapshot.scrubber)
                result.outcome = error.metricLabel
                router.finish(lease, outcome: .failure(ErrorClass.of(error), retryAfter: Gateway.retryAfter(error)))
            }
        } catch {
            let mapped = Gateway.gatewayError(from: error)
            result.outcome = mapped.metricLabel
            router.finish(lease, outcome: .failure(ErrorClass.of(mapped), retryAfter: nil))
        }
        result.duration = .now - start
        shadowFinished(result, deployment: lease.deployment.id)
    }

    func primaryFinished(record: RequestRecord, text: String?) {
        let outcome = record.outcome == .success ? "success" : (record.errorCode ?? record.outcome.rawValue)
        complete { state in
            state.primary = Result(outcome: outcome, duration: record.upstreamDuration ?? record.duration, usage: record.usage, text: text)
        }
    }

    func primaryFailed(_ error: GatewayError) {
        complete { $0.primary = Result(outcome: error.metricLabel) }
    }

    private func shadowFinished(_ result: Result, deployment: String?) {
        complete { state in
            state.shadow = result
            state.shadowDeployment = deployment
        }
    }

    private func complete(_ update: (inout State) -> Void) {
        let ready: State? = state.withLock { state in
            update(&state)
            guard state.primary != nil, state.shadow != nil, !state.emitted else { return nil }
            state.emitted = true
            return state
        }
        guard let ready, let primary = ready.primary, let shadow = ready.shadow else { return }
        var similarity: Double?
        var exact = false
        if primary.outcome == "success", shadow.outcome == "success", let a = primary.text, let b = shadow.text {
            similarity = TextSimilarity.cosine(a, b)
            exact = a == b
        }
        observer.shadowFinished(
            ShadowRecord(
                requestID: requestID, primaryGroup: primaryGroup, shadowGroup: shadowGroup, shadowDeployment: ready.shadowDeployment,
                outcome: shadow.outcome, primaryOutcome: primary.outcome, shadowDuration: shadow.duration ?? .zero,
                primaryDuration: primary.duration, shadowUsage: shadow.usage, primaryUsage: primary.usage, similarity: similarity,
                exactMatch: exact))
    }

    /// The text of a complete answer (OpenAI chat or completion, or Anthropic message).
    static func answerText(_ scan: JSONObjectScan, anthropic: Bool) -> String {
        if anthropic {
            return (scan.value("content")?.arrayValue ?? []).compactMap { $0["text"]?.stringValue }.joined()
        }
        guard let choice = scan.value("choices")?.arrayValue?.first else { return "" }
        return choice["message"]?["content"]?.stringValue ?? choice["text"]?.stringValue ?? ""
    }
}

/// A cheap, order-insensitive similarity of two answers: the cosine of their word counts.
public enum TextSimilarity {
    public static func cosine(_ a: String, _ b: String) -> Double {
        let left = counts(a)
        let right = counts(b)
        if left.isEmpty && right.isEmpty { return 1 }
        if left.isEmpty || right.isEmpty { return 0 }
        var dot = 0.0
        for (word, count) in left { dot += Double(count * (right[word] ?? 0)) }
        let norm = { (map: [Substring: Int]) in map.values.reduce(0.0) { $0 + Double($1 * $1) }.squareRoot() }
        return min(1, dot / (norm(left) * norm(right)))
    }

    static func counts(_ text: String) -> [Substring: Int] {
        var result: [Substring: Int] = [:]
        let lowered = text.lowercased()
        for word in lowered.split(whereSeparator: { !$0.isLetter && !$0.isNumber }) { result[word, default: 0] += 1 }
        return result
    }
}

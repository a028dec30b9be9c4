import NIOCore
import Synchronization

/// One step of the request pipeline, with a before-step and an after-step.
///
/// `before` runs in pipeline order before any upstream call and may answer the request
/// itself (a cache hit, a refusal). Every stage whose `before` ran gets its `after` once the
/// request has ended, in reverse order, however it ended: a complete answer, an error, a stream
/// that finished, failed, was cut by the provider or abandoned by the client, a timeout, a
/// cancellation. `after` sees the final record (usage, cost, outcome) and does not suspend:
/// what needs I/O goes to the gateway's ``BackgroundWork``, which shutdown drains.
public protocol GatewayStage: Sendable {
    /// Short and stable: a span and log name (`rate_limit`, `cache`).
    var name: String { get }
    func before(_ request: inout PipelineRequest, gateway: Gateway) async -> StageDecision
    func after(_ ending: RequestEnding, gateway: Gateway)
}

extension GatewayStage {
    public func after(_ ending: RequestEnding, gateway: Gateway) {}
}

/// What a before-step decided.
public enum StageDecision: Sendable {
    case proceed
    /// Answer now with this response; the request's record is final as the stage left it.
    case answer(GatewayResponse)
}

/// A request on its way through the before-steps: what the stages read and write.
public struct PipelineRequest: Sendable {
    public internal(set) var prepared: Gateway.Prepared
    public internal(set) var headers: [HeaderField]
    /// The request's record (kept in ``Gateway/Prepared``, where the guardrails write too).
    /// Changed in place (`_modify`): a get/set pair would copy the whole record at each change.
    var record: RequestRecord {
        get { prepared.record }
        _modify { yield &prepared.record }
    }
    /// The response cache's key and settings for this request, when the cache applies.
    var cache: CachePlan
    /// The prompt's features (token estimate, output limit, `n`), computed once for all stages.
    var features: PromptFeatures?

    /// The prompt's features: the plan's when routing needed them, the access rules' when they
    /// did (and no stage rewrote the prompt since), else computed here once.
    mutating func promptFeatures() -> PromptFeatures {
        if let features = features ?? prepared.plan.features ?? prepared.accessFeatures { return features }
        let computed = PromptFeatures(request: prepared.request)
        features = computed
        return computed
    }

    /// The prompt's tokens with the requested model's tokenizer, counted only when asked for
    /// (a stream whose provider reports its usage never asks).
    var lazyPromptTokens: LazyPromptTokens {
        LazyPromptTokens(
            known: (features ?? prepared.plan.features ?? prepared.accessFeatures)?.estimatedPromptTokens, request: prepared.request)
    }
}

/// A prompt's token count that is computed (tokenized) only if needed.
struct LazyPromptTokens: Sendable {
    let known: Int?
    let request: OpenAIRequest

    func callAsFunction() -> Int { known ?? PromptFeatures(request: request).estimatedPromptTokens }
}

/// The response cache as it applies to one request.
struct CachePlan: Sendable {
    var settings: CacheSettings
    var key: CacheKey?
    var semanticProbe: SemanticProbe?
}

/// How a request ended, as the after-steps see it.
public struct RequestEnding: Sendable {
    /// Final: outcome, usage (the provider's, or the gateway's count), cost.
    public var record: RequestRecord
    /// The complete answer the client received (JSON body or stream bytes), when it completed
    /// and was kept for the cache.
    var responseBody: [UInt8]?
    var isStream: Bool
    var cache: CachePlan
}

/// Ends one request exactly once: fills in the usage the provider did not report, prices it,
/// runs the after-steps of the stages that ran (in reverse order), then hands the record to
/// the observers (metrics, logs, ledger, audit, traces).
///
/// A completion that is dropped without having finished (a stream the HTTP layer never ran,
/// a path that forgot) finishes from its deinit with the last record it was given, marked as
/// abandoned by the client: settlement can never be skipped.
final class RequestCompletion: Sendable {
    private struct State: Sendable {
        var stages: [any GatewayStage] = []
        var cache: CachePlan
        var isStream = false
        var finished = false
        /// What to settle if nobody finishes the request.
        var abandoned: RequestRecord
        /// Counts the abandoned request's usage, only when it is settled that way.
        var abandonedUsage: (@Sendable () -> TokenUsage)?
    }

    private let state: Mutex<State>
    private let gateway: Gateway

    init(gateway: Gateway, record: RequestRecord, cache: CachePlan) {
        self.gateway = gateway
        self.state = Mutex(State(cache: cache, abandoned: Self.abandoned(record)))
    }

    /// `record` as it ends when the client is gone.
    private static func abandoned(_ record: RequestRecord) -> RequestRecord {
        var abandoned = record
        abandoned.outcome = .clientDisconnected
        abandoned.status = 499
        abandoned.errorCode = "client_closed_request"
        return abandoned
    }

    /// A stage is about to run its before-step.
    func entered(_ stage: any GatewayStage) {
        state.withLock { $0.stages.append(stage) }
    }

    /// The state the before-steps left (cache plan), for the after-steps.
    func update(from request: PipelineRequest) {
        state.withLock { state in
            state.cache = request.cache
            state.isStream = request.prepared.isStream
        }
    }

    /// The record to settle if the request is dropped from here on (a stream's first event was
    /// sent: it carries the attempt, deployment and price).
    /// `usage` is called only if the request does end abandoned.
    func setAbandonedRecord(_ record: RequestRecord, usage: @escaping @Sendable () -> TokenUsage) {
        let abandoned = Self.abandoned(record)
        state.withLock { state in
            state.abandoned = abandoned
            state.abandonedUsage = usage
        }
    }

    var isFinished: Bool { state.withLock { $0.finished } }

    /// Ends the request. Later calls do nothing.
    ///
    /// `consuming`: a caller that is done with its record hands it over, and the cost and
    /// usage source are set on it in place rather than on a copy of all its fields.
    func finish(_ record: consuming RequestRecord, responseBody: [UInt8]? = nil) {
        let taken: (stages: [any GatewayStage], cache: CachePlan, isStream: Bool)? = state.withLock { state in
            guard !state.finished else { return nil }
            state.finished = true
            return (state.stages, state.cache, state.isStream)
        }
        guard let taken else { return }
        if let price = record.price, let usage = record.usage { record.cost = price.cost(of: usage) }
        if let price = record.price, let media = record.media, let cost = price.cost(of: media) { record.cost = (record.cost ?? 0) + cost }
        if record.usage != nil && record.usageSource == nil { record.usageSource = .provider }
        let ending = RequestEnding(record: record, responseBody: responseBody, isStream: taken.isStream, cache: taken.cache)
        for stage in taken.stages.reversed() { stage.after(ending, gateway: gateway) }
        gateway.observer.requestFinished(ending.record)
    }

    deinit {
        let pending: (RequestRecord, (@Sendable () -> TokenUsage)?)? = state.withLock { state in
            guard !state.finished else { return nil }
            return (state.abandoned, state.abandonedUsage)
        }
        guard var (abandoned, usage) = pending else { return }
        if abandoned.usage == nil, let usage {
            abandoned.usage = usage()
            abandoned.usageSource = .gateway
        }
        finish(abandoned)
    }
}

extension Gateway {
    /// The before-stages, in order (DESIGN §1): rate limits → input guardrails → prompt
    /// transforms → cache lookup → budgets. Limits come first so that a flood of prompts is
    /// refused before the guardrails spend CPU on it; with `cache.count_hits_for_limits: false`
    /// the cache answers before the limits instead (its hits must not count), and so after the
    /// guardrails and prompt transforms as always.
    func stages(for request: PipelineRequest, inputStages: Bool = true) -> [any GatewayStage] {
        var stages: [any GatewayStage] = []
        let prepared = request.prepared
        let limited = !prepared.snapshot.config.limits.rules.isEmpty
        let countsHits = request.cache.settings.countHitsForLimits
        let promptStages = !prepared.inbound.isInternal && inputStages
        if promptStages
            && prepared.snapshot.config.logging.logsBodies(
                model: prepared.request.model, identity: prepared.record.identity,
                endpoint: prepared.inbound.dialect.routeLabel(prepared.inbound.endpoint))
        {
            stages.append(RequestLogBodyStage())
        }
        if limited && countsHits { stages.append(RateLimitStage()) }
        if promptStages {
            if !prepared.snapshot.guardrails.isEmpty { stages.append(InputGuardrailStage()) }
            if !prepared.snapshot.prompts.settings.systemPrompts.isEmpty { stages.append(SystemPromptStage()) }
        }
        if request.cache.key != nil { stages.append(CacheStage()) }
        if limited && !countsHits { stages.append(RateLimitStage()) }
        let identity = prepared.record.identity
        if !prepared.snapshot.config.budgets.rules.isEmpty || identity.budget != nil || !identity.inheritedBudgets.isEmpty {
            stages.append(BudgetStage())
        }
        return stages
    }

    /// Runs the before-stages, then the attempt loop; the completion ends the request, from
    /// here for an early answer or a complete one, from the stream for a stream.
    /// `inputStages: false` skips the stages that read or rewrite the prompt (a request the
    /// gateway derived from one that already passed them, such as a JSON-schema retry).
    func runPipeline(_ prepared: Prepared, inputStages: Bool = true) async -> GatewayResponse {
        var headers = prepared.plan.headers
        if let rule = prepared.plan.rule { headers.append(HeaderField("x-switchyard-rule", rule)) }
        var request = PipelineRequest(prepared: prepared, headers: headers, cache: cachePlan(for: prepared))
        if request.cache.key != nil { request.record.cache = prepared.inbound.cacheNoCache ? "bypass" : "miss" } else if request.cache.settings.enabled {
            request.record.cache = "bypass"
        }
        let completion = RequestCompletion(gateway: self, record: request.record, cache: request.cache)
        for stage in stages(for: request, inputStages: inputStages) {
            completion.entered(stage)
            if case .answer(let response) = await stage.before(&request, gateway: self) {
                completion.update(from: request)
                completion.finish(request.record, responseBody: nil)
                return response
            }
        }
        if let status = request.record.cache { request.headers.append(HeaderField("x-switchyard-cache", status)) }
        completion.update(from: request)
        return await AttemptLoop(gateway: self, request: request, completion: completion).run()
    }

    /// An error answer; the record is marked failed but not emitted (the completion does that).
    func failure(_ error: GatewayError, record: inout RequestRecord, receivedAt: ContinuousClock.Instant, headers: [HeaderField] = [])
        -> GatewayResponse
    {
        record.status = error.status
        record.outcome = error.status == 499 ? .clientDisconnected : .error
        record.errorCode = error.metricLabel
        record.duration = clock.now - receivedAt
        var response = GatewayResponse.error(error, dialect: record.dialect)
        response.headers.append(contentsOf: headers)
        return response
    }
}

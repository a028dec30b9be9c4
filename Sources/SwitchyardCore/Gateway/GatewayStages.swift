import NIOCore
import Tracing

/// Keeps the prompt as the client sent it (before guardrails or system prompts change it),
/// redacted, when `logging.bodies` covers the request.
struct RequestLogBodyStage: GatewayStage {
    var name: String { "request_log" }

    func before(_ request: inout PipelineRequest, gateway: Gateway) async -> StageDecision {
        let logging = request.prepared.snapshot.config.logging
        let original = request.prepared.inbound.nativeBody ?? request.prepared.inbound.body
        request.record.requestBody = RequestLogEntry.redact(Array(buffer: original), limit: logging.maxBodyBytes)
        request.record.logBodyLimit = logging.maxBodyBytes
        return .proceed
    }
}

/// Input guardrails: block, mask or reroute the prompt; arms the output guardrails.
struct InputGuardrailStage: GatewayStage {
    var name: String { "guardrails.input" }

    func before(_ request: inout PipelineRequest, gateway: Gateway) async -> StageDecision {
        let span = gateway.stageSpan("switchyard.guardrails.input", request.prepared.inbound)
        let refusal = await gateway.applyInputGuardrails(&request.prepared, headers: &request.headers)
        if let span {
            span.set([("switchyard.guardrails.decisions", .int64(Int64(request.record.guardrails.count)))])
            if refusal != nil { span.setStatus(SpanStatus(code: .error, message: "blocked")) }
            span.end()
        }
        guard let refusal else { return .proceed }
        return .answer(
            gateway.failure(refusal, record: &request.record, receivedAt: request.prepared.inbound.receivedAt, headers: request.headers))
    }
}

/// System-prompt enforcement (after the input guardrails, so the operator's own prompt is not
/// scanned).
struct SystemPromptStage: GatewayStage {
    var name: String { "prompts.system" }

    func before(_ request: inout PipelineRequest, gateway: Gateway) async -> StageDecision {
        guard let refusal = gateway.enforceSystemPrompts(&request.prepared) else { return .proceed }
        return .answer(
            gateway.failure(refusal, record: &request.record, receivedAt: request.prepared.inbound.receivedAt, headers: request.headers))
    }
}

/// The response cache: an exact (or semantic) hit answers at once; a complete successful
/// answer is stored afterwards.
struct CacheStage: GatewayStage {
    var name: String { "cache" }

    func before(_ request: inout PipelineRequest, gateway: Gateway) async -> StageDecision {
        if request.prepared.inbound.cacheNoStore {
            // The input guardrails put placeholders in the prompt: the answer will hold the
            // caller's restored data, which is never shared through the cache.
            request.cache.key = nil
            request.record.cache = "bypass"
            return .proceed
        }
        let output = request.prepared.guardOutput.flatMap { $0.rails.isEmpty ? nil : $0 }
        if output != nil && (request.prepared.isStream || request.prepared.inbound.answerDialect != .openAI) {
            // Output guardrails apply and the stored answer cannot be re-checked here (a stream
            // or another dialect's body): ask the provider, whose answer is checked as it comes.
            request.record.cache = "bypass"
            return .proceed
        }
        guard var answer = await gateway.cachedAnswer(&request) else { return .proceed }
        if let output, case .buffer(let buffer) = answer.body, var value = try? JSONValue.parse(Array(buffer: buffer)) {
            // A hit is an answer like any other: the output guardrails in force now judge it.
            let decisions = await output.apply(to: &value, endpoint: request.prepared.inbound.endpoint)
            if !decisions.isEmpty {
                request.record.guardrails.append(contentsOf: decisions)
                answer.headers.append(HeaderField("x-switchyard-guardrails", decisions.map(\.summary).joined(separator: ", ")))
                answer.body = .buffer(ByteBuffer(bytes: value.serializedBytes()))
            }
        }
        return .answer(answer)
    }

    func after(_ ending: RequestEnding, gateway: Gateway) {
        guard ending.record.provider != "cache", let body = ending.responseBody else { return }
        gateway.storeInCache(
            ending.cache.key, stream: ending.isStream, body: body, record: ending.record, settings: ending.cache.settings,
            semantic: ending.cache.semanticProbe)
    }
}

/// Rate limits: reserves requests, tokens and a concurrency slot before anything is sent
/// (shadow traffic included); settles the reservation with the real usage afterwards.
struct RateLimitStage: GatewayStage {
    var name: String { "rate_limit" }

    func before(_ request: inout PipelineRequest, gateway: Gateway) async -> StageDecision {
        let snapshot = request.prepared.snapshot
        let limits = snapshot.config.limits
        let inbound = request.prepared.inbound
        var reserved = 0
        var openEnded = false
        if limits.rules.contains(where: { $0.values.tokensPerMinute != nil || $0.values.tokensPerDay != nil || $0.tier != nil }) {
            let features = request.promptFeatures()
            reserved = features.estimatedPromptTokens + snapshot.reservedCompletionTokens(features, in: request.prepared.plan.group)
            openEnded = features.maxOutputTokens == nil && features.producesOutput
        }
        let identity = request.record.identity
        let group = request.prepared.plan.group.name
        var checks = RateLimiter.checks(settings: limits, identity: identity, group: group, endUser: identity.endUser, reservedTokens: reserved)
        if openEnded, let tightest = checks.filter({ $0.kind == .tokens || $0.kind == .tokensPerDay }).map(\.capacity).min(), reserved > tightest {
            // No max_tokens and a model that may write more than a whole token limit: the request
            // takes all of the tightest limit (it must wait until that is free) instead of never
            // fitting; its real size is settled afterwards.
            reserved = tightest
            checks = RateLimiter.checks(settings: limits, identity: identity, group: group, endUser: identity.endUser, reservedTokens: reserved)
        }
        let leaseSeconds = Int(snapshot.config.server.requestTimeout.components.seconds) + 60
        let span = gateway.stageSpan("switchyard.rate_limit", inbound)
        let decision = await gateway.limiter.acquire(
            checks, reservedTokens: reserved, leaseSeconds: leaseSeconds, failOpen: limits.failOpen, id: inbound.requestID)
        span?.end()
        switch decision {
        case .refused(let error, let blocked):
            request.record.rateLimitedBy = blocked.map { "\($0.scope.rawValue):\($0.kind.rawValue)" } ?? "backend:unavailable"
            return .answer(gateway.failure(error, record: &request.record, receivedAt: inbound.receivedAt, headers: request.headers))
        case .allowed(let lease, let limitHeaders):
            request.record.limitLease = lease
            request.headers.append(contentsOf: limitHeaders)
            return .proceed
        }
    }

    func after(_ ending: RequestEnding, gateway: Gateway) {
        guard let lease = ending.record.limitLease else { return }
        let used = ending.record.usage?.totalTokens ?? 0
        let limiter = gateway.limiter
        // Counters in this process are settled here; Redis's in the background.
        if limiter.settleImmediately(lease, usedTokens: used) { return }
        gateway.background.submit { await limiter.settle(lease, usedTokens: used) }
    }
}

/// Budgets: reserves what the request may cost at the dearest deployment of its group;
/// settles with the real cost afterwards (never below what was forwarded).
struct BudgetStage: GatewayStage {
    var name: String { "budget" }

    func before(_ request: inout PipelineRequest, gateway: Gateway) async -> StageDecision {
        let snapshot = request.prepared.snapshot
        let inbound = request.prepared.inbound
        let features = request.promptFeatures()
        let media = inbound.endpoint.isMedia ? MediaUsage(expectedBy: request.prepared.request) : nil
        let reserve =
            request.prepared.plan.group.deployments.compactMap { deployment -> Double? in
                guard let price = snapshot.price(of: deployment) else { return nil }
                let tokens = price.estimate(
                    promptTokens: features.estimatedPromptTokens, completionTokens: snapshot.reservedCompletionTokens(features, on: deployment))
                return tokens + (media.flatMap { price.cost(of: $0) } ?? 0)
            }
            .max() ?? 0
        let identity = request.record.identity
        let checks = BudgetGuard.checks(
            settings: snapshot.config.budgets, identity: identity, endUser: identity.endUser, reserveUSD: reserve,
            now: gateway.clock.unixTime)
        let span = gateway.stageSpan("switchyard.budget", inbound)
        let decision = await gateway.budgets.acquire(checks, failOpen: snapshot.config.budgets.failOpen)
        span?.end()
        switch decision {
        case .refused(let error, let blocked):
            request.record.rateLimitedBy = "budget:" + (blocked?.scope.rawValue ?? "unavailable")
            return .answer(gateway.failure(error, record: &request.record, receivedAt: inbound.receivedAt, headers: request.headers))
        case .allowed(let lease):
            request.record.budgetLease = lease
            return .proceed
        }
    }

    func after(_ ending: RequestEnding, gateway: Gateway) {
        guard let lease = ending.record.budgetLease else { return }
        let cost = ending.record.cost ?? 0
        let budgets = gateway.budgets
        // Counters in this process are settled here (alerts, which may post, in the background);
        // Redis's in the background.
        if let pending = budgets.settleImmediately(lease, costUSD: cost) {
            if !pending.isEmpty { gateway.background.submit { await budgets.fire(pending) } }
            return
        }
        gateway.background.submit { await budgets.settle(lease, costUSD: cost) }
    }
}

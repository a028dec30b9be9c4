import NIOCore
import Tracing

/// Retries and fallbacks for one request: the router picks a deployment, an ``Attempt`` sends
/// to it, and a failure before the first byte is retried inside the group or falls back to the
/// next group by error class, within the retry budget and the request's deadline.
struct AttemptLoop: Sendable {
    let gateway: Gateway
    let request: PipelineRequest
    let completion: RequestCompletion

    func run() async -> GatewayResponse {
        let gateway = self.gateway
        let router = gateway.router
        let prepared = request.prepared
        var record = request.record
        let inbound = prepared.inbound
        let plan = prepared.plan
        let snapshot = prepared.snapshot
        let headers = request.headers
        let deadline = inbound.receivedAt + snapshot.config.server.requestTimeout
        router.recordRequest()

        let shadow: ShadowComparison? = plan.shadow.flatMap { config in
            guard router.random() < config.sampleRate, let group = snapshot.catalog.group(for: config.model) else { return nil }
            return ShadowComparison.start(
                group: group, primaryGroup: plan.group.qualifiedName, request: prepared.request, inbound: inbound, snapshot: snapshot,
                router: router, observer: gateway.observer, background: gateway.background, deadline: deadline)
        }

        var group = plan.group
        var failed: Set<String> = []
        var retries = 0
        var fallbackPosition = 0
        var lastUpstreamError: GatewayError?
        /// Deployments this request has already counted a health failure against: its retries
        /// count once, so one poisoned prompt cannot open a breaker for everyone.
        var healthCounted: Set<String> = []
        /// Whether a later group in the fallback chain takes requests that find no deployment.
        func fallbackTakesUnavailable() -> Bool {
            plan.group.fallbacks.indices.contains { $0 >= fallbackPosition && plan.group.fallbacks[$0].on.contains(.unavailable) }
        }

        func finishFailed(_ error: GatewayError) -> GatewayResponse {
            shadow?.primaryFailed(error)
            var response = gateway.failure(error, record: &record, receivedAt: inbound.receivedAt, headers: headers)
            response.headers.append(HeaderField("x-switchyard-attempts", String(record.attempts.count)))
            completion.finish(record)
            return response
        }

        while true {
            if Task.isCancelled { return finishFailed(Gateway.gatewayError(from: CancellationError())) }
            let errorClass: ErrorClass
            var pick = router.pick(group, features: plan.features, regions: plan.regions, failed: failed) { snapshot.adapters[$0] != nil }
            if case .none(let error, _) = pick, error.code == .noHealthyDeployment, snapshot.config.router.panicRouting,
                !fallbackTakesUnavailable()
            {
                // Every deployment is out because of its breaker and no fallback is left: route
                // across them anyway (panic mode) rather than fail every request.
                pick = router.pick(group, features: plan.features, regions: plan.regions, failed: failed, panic: true) {
                    snapshot.adapters[$0] != nil
                }
            }
            switch pick {
            case .none(let error, _):
                if record.provider == nil { record.provider = group.owner }
                // Nothing can serve: fall back, or report the last real upstream error
                // (a provider's 429 explains more than "at capacity").
                errorClass = ErrorClass.of(error)
                if lastUpstreamError == nil || errorClass == .contextLength { lastUpstreamError = error }
            case .deployment(let lease, _):
                let deployment = lease.deployment
                let price = snapshot.price(of: deployment).map { $0.scaled(by: inbound.priceFactor) }
                /// Where the request went: this attempt's record, and the loop's once it failed.
                func served(_ record: inout RequestRecord) {
                    record.provider = deployment.provider
                    record.servedModel = deployment.upstreamModel
                    record.deployment = deployment.id
                    record.modelGroup = group.qualifiedName
                    record.price = price
                }
                let attemptStart = gateway.clock.now
                var attemptHeaders = headers
                // This attempt's headers and the answer's (content type, cache, guardrails) in one allocation.
                attemptHeaders.reserveCapacity(headers.count + 8)
                attemptHeaders.append(HeaderField("x-switchyard-deployment", deployment.id))
                attemptHeaders.append(HeaderField("x-switchyard-attempts", String(record.attempts.count + 1)))
                if !record.fallbacks.isEmpty { attemptHeaders.append(HeaderField("x-switchyard-fallback-from", plan.group.qualifiedName)) }
                if lease.panic { attemptHeaders.append(HeaderField("x-switchyard-panic-routing", "true")) }
                // The loop's record stays as it was while the attempt runs (one copy, not two).
                var attemptRecord = record
                served(&attemptRecord)
                if let tracer = gateway.tracer, let context = inbound.traceContext {
                    // GenAI convention: "{operation} {model}", a client span per attempt.
                    let span = tracer.startSpan("\(inbound.endpoint.operationName) \(deployment.upstreamModel)", context: context, ofKind: .client)
                    span.set([
                        ("gen_ai.operation.name", .string(inbound.endpoint.operationName)),
                        ("gen_ai.request.model", .string(deployment.upstreamModel)),
                        ("gen_ai.provider.name", .string(deployment.provider)),
                        ("switchyard.deployment", .string(deployment.id)),
                        ("switchyard.model_group", .string(group.qualifiedName)),
                        ("switchyard.attempt", .int64(Int64(record.attempts.count + 1))),
                    ])
                    attemptRecord.attemptSpan = span
                }
                attemptRecord.attempts.append(
                    AttemptRecord(
                        group: group.qualifiedName, deployment: deployment.id, provider: deployment.provider, outcome: "success", errorClass: nil,
                        duration: .zero))
                let timeout = Gateway.attemptTimeout(group: group, stream: prepared.isStream, deadline: deadline)
                do {
                    var attemptRequest = request
                    attemptRequest.headers = attemptHeaders
                    attemptRequest.record = attemptRecord
                    let attempt = Attempt(
                        gateway: gateway, request: attemptRequest, lease: lease, group: group, deadline: deadline, shadow: shadow,
                        completion: completion)
                    return try await Gateway.withAttemptTimeout(timeout, provider: deployment.provider) { try await attempt.run() }
                } catch {
                    served(&record)
                    let mapped = Gateway.gatewayError(from: error)
                    if let span = attemptRecord.attemptSpan {
                        span.set([("error.type", .string(mapped.metricLabel)), ("http.response.status_code", .int64(Int64(mapped.status)))])
                        span.setStatus(SpanStatus(code: .error, message: mapped.message))
                        span.end()
                        attemptRecord.attemptSpan = nil
                    }
                    if mapped.status == 499 {
                        router.finish(lease, outcome: .cancelled)
                        record.attempts = attemptRecord.attempts
                        return finishFailed(mapped)
                    }
                    errorClass = ErrorClass.of(mapped)
                    if errorClass.countsAgainstHealth && !healthCounted.insert(lease.key).inserted {
                        router.finish(lease, outcome: .repeatedFailure(errorClass, retryAfter: Gateway.retryAfter(mapped)))
                    } else {
                        router.finish(lease, outcome: .failure(errorClass, retryAfter: Gateway.retryAfter(mapped)))
                    }
                    attemptRecord.attempts[attemptRecord.attempts.count - 1].outcome = mapped.metricLabel
                    attemptRecord.attempts[attemptRecord.attempts.count - 1].errorClass = errorClass
                    attemptRecord.attempts[attemptRecord.attempts.count - 1].duration = gateway.clock.now - attemptStart
                    record.attempts = attemptRecord.attempts
                    record.upstreamError = mapped.metricLabel
                    lastUpstreamError = mapped
                    failed.insert(deployment.id)
                }

                // Retry inside the group while the policy, the budget and the deadline allow.
                if group.retry.on.contains(errorClass), retries < group.retry.attempts, gateway.clock.now < deadline {
                    let candidates = router.evaluate(group, features: plan.features, regions: plan.regions) { snapshot.adapters[$0] != nil }
                    let usable = candidates.filter { $0.excluded == nil }
                    if !usable.isEmpty {
                        if router.withdrawRetry() {
                            retries += 1
                            // Another deployment can take it at once; the same one gets a backoff.
                            if !usable.contains(where: { !failed.contains($0.deployment.id) }) {
                                let pause = Gateway.backoff(retry: retries, policy: group.retry, random: router.random())
                                if gateway.clock.now + pause >= deadline { return finishFailed(Self.mapped(lastUpstreamError)) }
                                do { try await Task.sleep(for: pause) } catch { return finishFailed(Gateway.gatewayError(from: error)) }
                            }
                            continue
                        }
                        record.retryBudgetExhausted = true
                        return finishFailed(Self.mapped(lastUpstreamError))
                    }
                }
            }

            // Fall back to the next group in the chain that handles this class of error.
            guard
                let index = plan.group.fallbacks.indices.first(where: { $0 >= fallbackPosition && plan.group.fallbacks[$0].on.contains(errorClass) }),
                let next = snapshot.catalog.group(for: plan.group.fallbacks[index].model)
            else {
                return finishFailed(Self.mapped(lastUpstreamError))
            }
            guard router.withdrawRetry() else {
                record.retryBudgetExhausted = true
                return finishFailed(Self.mapped(lastUpstreamError))
            }
            fallbackPosition = index + 1
            record.fallbacks.append(next.qualifiedName)
            group = next
            failed = []
            retries = 0
        }
    }

    private static func mapped(_ error: GatewayError?) -> GatewayError {
        error ?? .internalError("The router found no deployment to try.")
    }
}

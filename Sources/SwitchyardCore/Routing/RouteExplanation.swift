/// Answers "where would this request go, and why" without calling any model: the rule that
/// matched, the version and experiment decisions, every candidate with its live figures and
/// the reason it was excluded, the deployment the strategy would pick, and the fallbacks.
public enum RouteExplanation {
    public static func explain(
        endpoint: Endpoint,
        body: [UInt8],
        identity: Identity,
        headers: [HeaderField],
        snapshot: RuntimeSnapshot,
        router: RouterState
    ) throws(GatewayError) -> JSONValue {
        let request = try OpenAIRequest(endpoint: endpoint, body: body)
        var identity = identity
        if let user = request.user { identity.endUser = user }
        // A fixed draw for requests without a sticky value, so explaining never consumes the
        // router's random sequence.
        let plan = try snapshot.planner.plan(request, identity: identity, headers: headers, unixTime: router.clock.unixTime, random: { 0.5 })
        let features = plan.features ?? PromptFeatures(request: request)
        let hasAdapter: (String) -> Bool = { snapshot.adapters[$0] != nil || snapshot.adapters.isEmpty }
        var candidates = router.evaluate(plan.group, features: features, regions: plan.regions, hasAdapter: hasAdapter)
        // What the strategy would choose now, judged on a copy so nothing is counted.
        let wouldPick = preview(plan.group, candidates: &candidates, features: features)

        var result = JSONObject()
        result["requested_model"] = .string(request.model)
        result["rule"] = plan.rule.map(JSONValue.string) ?? .null
        result["model_group"] = .string(plan.group.qualifiedName)
        result["strategy"] = .string(plan.group.strategy.rawValue)
        if let experiment = plan.experiment, let arm = plan.arm {
            result["experiment"] = ["name": .string(experiment), "arm": .string(arm)]
        }
        if let redirected = plan.redirectedFrom { result["redirected_from"] = .string(redirected) }
        if let regions = plan.regions { result["regions"] = .array(regions.map(JSONValue.string)) }
        result["estimated_prompt_tokens"] = JSONValue(features.estimatedPromptTokens)
        result["features"] = [
            "has_images": .bool(features.hasImages), "has_tools": .bool(features.hasTools), "json_mode": .bool(features.jsonMode),
            "language": LanguageDetector.detect(features.lastUserText).map(JSONValue.string) ?? .null,
        ]
        result["candidates"] = .array(
            candidates.map { candidate in
                var entry = JSONObject()
                entry["deployment"] = .string(candidate.deployment.id)
                entry["provider"] = .string(candidate.deployment.provider)
                entry["model"] = .string(candidate.deployment.upstreamModel)
                entry["priority"] = JSONValue(candidate.deployment.priority)
                entry["weight"] = JSONValue(candidate.deployment.weight)
                entry["region"] = candidate.deployment.region.map(JSONValue.string) ?? .null
                entry["context_window"] = candidate.deployment.contextWindow.map { JSONValue($0) } ?? .null
                entry["eligible"] = .bool(candidate.excluded == nil)
                entry["excluded"] = candidate.excluded.map { .string($0.rawValue) } ?? .null
                entry["breaker"] = .string(candidate.breaker.rawValue)
                entry["in_flight"] = JSONValue(candidate.outstanding)
                entry["latency_ms"] = candidate.latency.map { JSONValue(($0 * 1000 * 10).rounded() / 10) } ?? .null
                entry["requests_last_minute"] = JSONValue(candidate.requestsLastMinute)
                entry["tokens_last_minute"] = JSONValue(candidate.tokensLastMinute)
                if let price = candidate.deployment.price {
                    entry["estimated_cost_usd"] = JSONValue(
                        price.estimate(promptTokens: features.estimatedPromptTokens, completionTokens: features.maxOutputTokens ?? 256))
                    var described: JSONObject = ["input": JSONValue(price.input), "output": JSONValue(price.output)]
                    if let cached = price.cachedInput { described["cached_input"] = JSONValue(cached) }
                    described["source"] = candidate.deployment.priceSource.map { .string($0.rawValue) } ?? .null
                    entry["price"] = .object(described)
                } else {
                    entry["price"] = .null
                }
                return .object(entry)
            })
        result["selected"] = wouldPick.map(JSONValue.string) ?? .null
        if plan.group.strategy == .cost, let picked = candidates.first(where: { $0.deployment.id == wouldPick }) {
            // Which price decided: the chosen deployment's, and where it comes from.
            let decided: String =
                switch picked.deployment.priceSource {
                case .deployment: "the lowest estimated cost, from the deployment's own price"
                case .pricing: "the lowest estimated cost, from the pricing: section"
                case .builtIn: "the lowest estimated cost, from the built-in price table"
                case nil: "no known price: among unpriced deployments the least busy"
                }
            result["decided_by"] = .string(decided)
        }
        if wouldPick == nil {
            let error = RouterState.unavailableError(plan.group, candidates: candidates, now: router.clock.now)
            result["error"] = [
                "status": JSONValue(error.status), "code": error.code.map { .string($0.rawValue) } ?? .null, "message": .string(error.message),
            ]
        }
        result["fallbacks"] = .array(
            plan.group.fallbacks.map { ["model": .string($0.model), "on": .array($0.on.map(\.rawValue).sorted().map(JSONValue.string))] })
        result["retry"] = [
            "attempts": JSONValue(plan.group.retry.attempts), "on": .array(plan.group.retry.on.map(\.rawValue).sorted().map(JSONValue.string)),
        ]
        if let shadow = plan.shadow { result["shadow"] = ["model": .string(shadow.model), "sample_rate": JSONValue(shadow.sampleRate)] }
        if !plan.headers.isEmpty {
            var notices = JSONObject()
            for header in plan.headers { notices[header.name] = .string(header.value) }
            result["response_headers"] = .object(notices)
        }
        return .object(result)
    }

    /// The deployment the group's strategy would choose (deterministic strategies exactly;
    /// random ones report the most likely: the heaviest weight).
    static func preview(_ group: ModelGroup, candidates: inout [CandidateView], features: PromptFeatures) -> String? {
        RouterState.allowRetryingFailed(&candidates)
        let eligible = candidates.filter { $0.excluded == nil }
        guard let tier = eligible.map(\.deployment.priority).min() else { return nil }
        let inTier = eligible.filter { $0.deployment.priority == tier }
        var state = RouterState.State(
            settings: RouterSettings(), budget: RetryBudget(ratio: 0, minPerSecond: 0), random: SplitMix64(seed: 1))
        switch group.strategy {
        case .weighted:
            return inTier.max { $0.deployment.weight < $1.deployment.weight }?.deployment.id
        case .latency:
            return inTier.min { PeakEWMA.scoreOf($0, unknown: 0) < PeakEWMA.scoreOf($1, unknown: 0) }?.deployment.id
        default:
            return RouterState.choose(inTier, strategy: group.strategy, group: group.qualifiedName, features: features, state: &state).map {
                inTier[$0].deployment.id
            }
        }
    }
}

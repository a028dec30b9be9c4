import Synchronization

/// Time as the router sees it; injected so state machines can be tested with a manual clock.
public protocol RouterClock: Sendable {
    var now: ContinuousClock.Instant { get }
    /// Wall-clock time in seconds since 1970 (rule time windows, sunset dates).
    var unixTime: Double { get }
}

public struct SystemRouterClock: RouterClock {
    public init() {}
    public var now: ContinuousClock.Instant { .now }
    public var unixTime: Double { WallClock.unixTime() }
}

/// Receives router events that are not tied to one request (breaker transitions).
public protocol RouterEventObserver: Sendable {
    func breakerChanged(deployment: String, state: CircuitBreaker.State)
}

/// One deployment's state as exchanged between gateway instances.
public struct SharedDeploymentState: Sendable, Equatable {
    /// Provider and upstream model (``RouterState/key(_:)``).
    public var key: String
    /// Unix time until which a breaker is open.
    public var openUntil: Double?
    /// Peak-EWMA latency in seconds.
    public var latency: Double?

    public init(key: String, openUntil: Double? = nil, latency: Double? = nil) {
        self.key = key
        self.openUntil = openUntil
        self.latency = latency
    }
}

/// Where several gateway instances exchange router state (Redis in `SwitchyardStores`).
public protocol SharedRouterStateBackend: Sendable {
    /// Publishes this instance's view and returns what the other instances reported for the
    /// given deployment keys (breakers: the latest open-until; latency: the mean).
    func exchange(instance: String, local: [SharedDeploymentState], keys: [String]) async throws -> [SharedDeploymentState]
}

/// Why a deployment was not a candidate for a request.
public enum Exclusion: String, Sendable, Equatable {
    case region
    case contextWindow = "context_window"
    case breakerOpen = "breaker_open"
    case coolingDown = "cooling_down"
    case overCapacityRequests = "over_capacity_rpm"
    case overCapacityTokens = "over_capacity_tpm"
    case alreadyFailed = "already_failed"
    case noAdapter = "no_adapter"
}

/// One deployment as seen when routing a request: its live figures and whether it may serve.
public struct CandidateView: Sendable {
    public var deployment: DeploymentConfig
    public var excluded: Exclusion?
    public var breaker: CircuitBreaker.State
    public var outstanding: Int
    /// Peak-EWMA latency in seconds, when sampled.
    public var latency: Double?
    public var requestsLastMinute: Int
    public var tokensLastMinute: Int
    /// When an excluded deployment may be used again (breaker cooldown, Retry-After).
    public var availableAgainAt: ContinuousClock.Instant?
}

/// A deployment chosen for one attempt; hand it back with ``RouterState/finish(_:outcome:)``.
public struct DeploymentLease: Sendable {
    public let deployment: DeploymentConfig
    let key: String
    public let startedAt: ContinuousClock.Instant
    /// Picked in panic mode: its breaker is open and was bypassed (every deployment was out).
    public var panic = false
}

/// How an attempt ended, for health, latency and capacity accounting.
public enum AttemptOutcome: Sendable {
    /// `latency`: time to the first event (streams) or to the whole answer, in seconds.
    case success(latency: Double, tokens: Int)
    case failure(ErrorClass, retryAfter: Duration?)
    /// A further failure of a request that already counted one against this deployment (its
    /// retries): frees the slot and applies a Retry-After, but counts against health only once.
    case repeatedFailure(ErrorClass, retryAfter: Duration?)
    /// The client went away; says nothing about the deployment.
    case cancelled
}

/// The router's live state for every deployment: breakers, latency, requests in flight,
/// per-minute capacity, Retry-After cooldowns, plus the retry budget and the random source.
///
/// One instance lives as long as the gateway, across configuration reloads; deployments are
/// keyed by provider and upstream model, so the same upstream shares its health everywhere.
public final class RouterState: Sendable {
    struct Live: Sendable {
        var breaker: CircuitBreaker
        var latency = PeakEWMA()
        var outstanding = 0
        var window = MinuteWindow()
        var coolingDownUntil: ContinuousClock.Instant?
        /// Mean latency other instances measured (shared state), in seconds.
        var remoteLatency: Double?

        /// Latency the strategies see: this instance's, blended with the others' when shared.
        var combinedLatency: Double? {
            switch (latency.value, remoteLatency) {
            case (let local?, let remote?): (local + remote) / 2
            case (let local?, nil): local
            case (nil, let remote?): remote
            case (nil, nil): nil
            }
        }
    }

    struct State: Sendable {
        var settings: RouterSettings
        var deployments: [String: Live] = [:]
        var budget: RetryBudget
        var random: SplitMix64
        var roundRobin: [String: Int] = [:]
    }

    public let clock: any RouterClock
    private let state: Mutex<State>
    private let events: (any RouterEventObserver)?

    public init(settings: RouterSettings = RouterSettings(), clock: any RouterClock = SystemRouterClock(), events: (any RouterEventObserver)? = nil) {
        self.clock = clock
        self.events = events
        let seed = settings.seed ?? UInt64.random(in: .min ... .max)
        self.state = Mutex(
            State(
                settings: settings,
                budget: RetryBudget(ratio: settings.retryBudgetRatio, minPerSecond: settings.retryBudgetMinPerSecond),
                random: SplitMix64(seed: seed)
            ))
    }

    /// Applies reloaded settings; breakers restart only when their settings changed.
    public func update(settings: RouterSettings) {
        state.withLock { state in
            guard state.settings != settings else { return }
            if state.settings.breaker != settings.breaker {
                for key in state.deployments.keys { state.deployments[key]!.breaker = CircuitBreaker(settings: settings.breaker) }
            }
            if state.settings.retryBudgetRatio != settings.retryBudgetRatio
                || state.settings.retryBudgetMinPerSecond != settings.retryBudgetMinPerSecond
            {
                state.budget = RetryBudget(ratio: settings.retryBudgetRatio, minPerSecond: settings.retryBudgetMinPerSecond)
            }
            if let seed = settings.seed, settings.seed != state.settings.seed { state.random = SplitMix64(seed: seed) }
            state.settings = settings
        }
    }

    public static func key(_ deployment: DeploymentConfig) -> String { deployment.routerKey }

    /// Runs `body` on the live figures under `key` in place: reading them out and writing them
    /// back would copy their minute window's arrays on every change (the table still holds them).
    static func withLive<Result>(_ state: inout State, _ key: String, _ body: (inout Live) -> Result) -> Result {
        let breaker = state.settings.breaker
        return body(&state.deployments[key, default: Live(breaker: CircuitBreaker(settings: breaker))])
    }

    /// A uniform random number in [0, 1) from the seeded generator.
    public func random() -> Double {
        state.withLock { Double.random(in: 0..<1, using: &$0.random) }
    }

    /// Every request funds the retry budget.
    public func recordRequest() {
        state.withLock { $0.budget.deposit() }
    }

    /// Spends one retry; false when the budget is exhausted.
    public func withdrawRetry() -> Bool {
        let now = clock.now
        return state.withLock { $0.budget.withdraw(at: now) }
    }

    // MARK: Candidates and picking

    /// Every deployment of `group` with its live figures and, for those that may not serve
    /// this request, the reason.
    public func evaluate(
        _ group: ModelGroup, features: PromptFeatures?, regions: [String]?, failed: Set<String> = [], hasAdapter: (String) -> Bool = { _ in true }
    ) -> [CandidateView] {
        let now = clock.now
        let second = Int64(clock.unixTime)
        return state.withLock { state in
            group.deployments.map { deployment in
                let live = state.deployments[Self.key(deployment)] ?? Live(breaker: CircuitBreaker(settings: state.settings.breaker))
                let totals = live.window.totals(atSecond: second)
                var view = CandidateView(
                    deployment: deployment, excluded: nil, breaker: live.breaker.state, outstanding: live.outstanding,
                    latency: live.combinedLatency, requestsLastMinute: totals.requests, tokensLastMinute: totals.tokens)
                if !hasAdapter(deployment.provider) {
                    view.excluded = .noAdapter
                } else if let regions, !regions.isEmpty, !regions.contains(where: { $0 == deployment.region }) {
                    view.excluded = .region
                } else if let window = deployment.contextWindow, let features, features.estimatedTotalTokens > window {
                    view.excluded = .contextWindow
                } else if !live.breaker.isAvailable(at: now) {
                    view.excluded = .breakerOpen
                    view.availableAgainAt = live.breaker.retryAt()
                } else if let until = live.coolingDownUntil, until > now {
                    view.excluded = .coolingDown
                    view.availableAgainAt = until
                } else if let rpm = deployment.rpm, totals.requests >= rpm {
                    view.excluded = .overCapacityRequests
                    view.availableAgainAt = now + .seconds(1)
                } else if let tpm = deployment.tpm, totals.tokens + (features?.estimatedPromptTokens ?? 0) > tpm, totals.tokens > 0 {
                    view.excluded = .overCapacityTokens
                    view.availableAgainAt = now + .seconds(1)
                } else if failed.contains(deployment.id) {
                    view.excluded = .alreadyFailed
                }
                return view
            }
        }
    }

    /// The outcome of ``pick(_:features:regions:failed:hasAdapter:)``.
    public enum Pick: Sendable {
        case deployment(DeploymentLease, candidates: [CandidateView])
        /// No deployment may serve; the error says why.
        case none(GatewayError, candidates: [CandidateView])
    }

    /// Chooses a deployment by the group's strategy among the eligible ones of the lowest
    /// priority tier, and counts it as in flight. A deployment that already failed for this
    /// request is used again only when nothing else is eligible.
    ///
    /// `panic`: deployments that are out only because their breaker is open are eligible too
    /// and bypass it (``RouterSettings/panicRouting``; the attempt loop asks for it when nothing
    /// else can take the request).
    public func pick(
        _ group: ModelGroup, features: PromptFeatures?, regions: [String]?, failed: Set<String> = [], panic: Bool = false,
        hasAdapter: (String) -> Bool = { _ in true }
    ) -> Pick {
        var candidates = evaluate(group, features: features, regions: regions, failed: failed, hasAdapter: hasAdapter)
        Self.allowRetryingFailed(&candidates)
        let now = clock.now
        let second = Int64(clock.unixTime)
        var eligible = candidates.filter { $0.excluded == nil || (panic && $0.excluded == .breakerOpen) }
        while !eligible.isEmpty {
            let tier = eligible.map(\.deployment.priority).min()!
            let inTier = eligible.filter { $0.deployment.priority == tier }
            let choice: (candidate: CandidateView, acquired: Bool)? = state.withLock { state in
                guard let index = Self.choose(inTier, strategy: group.strategy, group: group.qualifiedName, features: features, state: &state)
                else { return nil }
                let candidate = inTier[index]
                let bypass = panic && candidate.excluded == .breakerOpen
                let (acquired, before, after) = Self.withLive(&state, Self.key(candidate.deployment)) { live in
                    let before = live.breaker.state
                    let acquired = bypass || live.breaker.acquire(at: now)
                    if acquired {
                        live.outstanding += 1
                        live.window.addRequest(atSecond: second)
                    }
                    return (acquired, before, live.breaker.state)
                }
                if before != after { events?.breakerChanged(deployment: candidate.deployment.id, state: after) }
                return (candidate, acquired)
            }
            guard let choice else { break }
            if choice.acquired {
                var lease = DeploymentLease(deployment: choice.candidate.deployment, key: Self.key(choice.candidate.deployment), startedAt: now)
                lease.panic = panic && choice.candidate.excluded == .breakerOpen
                return .deployment(lease, candidates: candidates)
            }
            // Lost the race for the last half-open probe: choose among the others.
            eligible.removeAll { $0.deployment.id == choice.candidate.deployment.id }
        }
        return .none(Self.unavailableError(group, candidates: candidates, now: now), candidates: candidates)
    }

    /// A deployment that already failed for this request is used again only when nothing else
    /// is eligible.
    static func allowRetryingFailed(_ candidates: inout [CandidateView]) {
        guard !candidates.contains(where: { $0.excluded == nil }) else { return }
        for index in candidates.indices where candidates[index].excluded == .alreadyFailed { candidates[index].excluded = nil }
    }

    static func unavailableError(_ group: ModelGroup, candidates: [CandidateView], now: ContinuousClock.Instant) -> GatewayError {
        let reasons = Set(candidates.compactMap(\.excluded))
        let wait = candidates.compactMap(\.availableAgainAt).min().map { max(1, Int((durationSeconds($0 - now)).rounded(.up))) }
        let retryAfter = wait.map { [HeaderField("Retry-After", String($0))] } ?? []
        if reasons == [.contextWindow] {
            return .contextLengthExceeded(
                "The request is larger than the context window of every deployment of model '\(group.qualifiedName)'.")
        }
        if reasons == [.region] {
            return .permissionDenied(
                "No deployment of model '\(group.qualifiedName)' is in a region this request may use.", code: .regionNotAllowed)
        }
        if reasons.isSubset(of: [.coolingDown, .overCapacityRequests, .overCapacityTokens, .region, .contextWindow]) {
            return .rateLimited(
                "Every deployment of model '\(group.qualifiedName)' is at capacity or rate limited; retry later.", code: .deploymentsAtCapacity,
                headers: retryAfter)
        }
        return .unavailable(
            "No healthy deployment of model '\(group.qualifiedName)' is available (circuit breakers open).", code: .noHealthyDeployment,
            headers: retryAfter)
    }

    /// Applies a strategy to the eligible candidates of one tier; returns an index into them.
    static func choose(
        _ candidates: [CandidateView], strategy: RoutingStrategyKind, group: String, features: PromptFeatures?, state: inout State
    ) -> Int? {
        guard !candidates.isEmpty else { return nil }
        if candidates.count == 1 { return 0 }
        switch strategy {
        case .weighted:
            return weightedIndex(candidates.map(\.deployment.weight), random: &state.random)
        case .roundRobin:
            let counter = state.roundRobin[group, default: 0]
            state.roundRobin[group] = counter &+ 1
            return counter % candidates.count
        case .leastBusy:
            let least = candidates.map(\.outstanding).min()!
            let tied = candidates.indices.filter { candidates[$0].outstanding == least }
            return tied[Int.random(in: 0..<tied.count, using: &state.random)]
        case .latency:
            // Power of two choices: two distinct random candidates, the lower load score wins.
            let first = Int.random(in: 0..<candidates.count, using: &state.random)
            var second = Int.random(in: 0..<(candidates.count - 1), using: &state.random)
            if second >= first { second += 1 }
            let unknown = 0.0
            let a = PeakEWMA.scoreOf(candidates[first], unknown: unknown)
            let b = PeakEWMA.scoreOf(candidates[second], unknown: unknown)
            return a <= b ? first : second
        case .cost:
            let prompt = features?.estimatedPromptTokens ?? 0
            let completion = features?.maxOutputTokens ?? 256
            let costs = candidates.map { $0.deployment.price?.estimate(promptTokens: prompt, completionTokens: completion) ?? .infinity }
            let cheapest = costs.min()!
            let tied = candidates.indices.filter { costs[$0] == cheapest }
            let least = tied.map { candidates[$0].outstanding }.min()!
            return tied.first { candidates[$0].outstanding == least }
        }
    }

    static func weightedIndex(_ weights: [Double], random: inout SplitMix64) -> Int {
        let total = weights.reduce(0, +)
        guard total > 0 else { return Int.random(in: 0..<weights.count, using: &random) }
        var point = Double.random(in: 0..<total, using: &random)
        for (index, weight) in weights.enumerated() {
            if point < weight { return index }
            point -= weight
        }
        return weights.count - 1
    }

    // MARK: Outcomes

    /// Ends an attempt: frees its in-flight slot and feeds breaker, latency, capacity and
    /// Retry-After cooldown.
    public func finish(_ lease: DeploymentLease, outcome: AttemptOutcome) {
        let now = clock.now
        let second = Int64(clock.unixTime)
        var change: CircuitBreaker.State?
        state.withLock { state in
            Self.withLive(&state, lease.key) { live in
                let before = live.breaker.state
                live.outstanding = max(0, live.outstanding - 1)
                switch outcome {
                case .success(let latency, let tokens):
                    live.latency.observe(latency, at: now)
                    if tokens > 0 { live.window.addTokens(tokens, atSecond: second) }
                    live.breaker.record(healthFailure: false, at: now)
                case .failure(let errorClass, let retryAfter):
                    if errorClass.countsAgainstHealth {
                        live.breaker.record(healthFailure: true, at: now)
                        // A failing deployment looks slow to the latency strategy.
                        live.latency.observe(max(durationSeconds(now - lease.startedAt), live.latency.value ?? 0) * 2, at: now)
                    } else {
                        live.breaker.release()
                    }
                    // The provider said how long to stay away: keep the deployment out until then.
                    if errorClass == .rateLimit, let retryAfter {
                        let wait = min(retryAfter, .seconds(300))
                        live.coolingDownUntil = max(live.coolingDownUntil ?? now, now + wait)
                    }
                case .repeatedFailure(let errorClass, let retryAfter):
                    live.breaker.release()
                    if errorClass == .rateLimit, let retryAfter {
                        let wait = min(retryAfter, .seconds(300))
                        live.coolingDownUntil = max(live.coolingDownUntil ?? now, now + wait)
                    }
                case .cancelled:
                    live.breaker.release()
                }
                if before != live.breaker.state { change = live.breaker.state }
            }
        }
        if let change { events?.breakerChanged(deployment: lease.deployment.id, state: change) }
    }

    /// Feeds an active health check's result: a failure counts against the breaker (and
    /// restarts an open breaker's cooldown), a success closes an open breaker at once.
    public func recordHealthCheck(_ deployment: DeploymentConfig, healthy: Bool) {
        let now = clock.now
        let key = Self.key(deployment)
        let change: CircuitBreaker.State? = state.withLock { state in
            var live = state.deployments[key] ?? Live(breaker: CircuitBreaker(settings: state.settings.breaker))
            let before = live.breaker.state
            live.breaker.recordProbe(healthy: healthy, at: now)
            state.deployments[key] = live
            return before != live.breaker.state ? live.breaker.state : nil
        }
        if let change { events?.breakerChanged(deployment: deployment.id, state: change) }
    }

    // MARK: Shared state (several instances)

    /// This instance's view for other instances: open breakers (until when, Unix seconds) and
    /// measured latency, per deployment key.
    public func sharedView() -> [SharedDeploymentState] {
        let now = clock.now
        let unixNow = clock.unixTime
        return state.withLock { state in
            state.deployments.compactMap { key, live in
                var shared = SharedDeploymentState(key: key)
                if live.breaker.state == .open, let retryAt = live.breaker.retryAt(), retryAt > now {
                    shared.openUntil = unixNow + durationSeconds(retryAt - now)
                }
                shared.latency = live.latency.value
                return shared.openUntil == nil && shared.latency == nil ? nil : shared
            }
        }
    }

    /// Applies what other instances reported: a breaker another instance opened opens here
    /// until the same moment; their latency joins this instance's in the latency strategy.
    public func applyShared(_ remote: [SharedDeploymentState]) {
        let now = clock.now
        let unixNow = clock.unixTime
        var changes: [(String, CircuitBreaker.State)] = []
        state.withLock { state in
            for entry in remote {
                var live = state.deployments[entry.key] ?? Live(breaker: CircuitBreaker(settings: state.settings.breaker))
                live.remoteLatency = entry.latency
                if let until = entry.openUntil, until > unixNow, live.breaker.state != .open {
                    live.breaker.forceOpen(retryAt: now + .milliseconds(Int64((until - unixNow) * 1000)))
                    changes.append((entry.key, .open))
                }
                state.deployments[entry.key] = live
            }
        }
        for (key, change) in changes { events?.breakerChanged(deployment: key, state: change) }
    }

    /// Requests in flight per deployment seen so far: each holds an upstream connection.
    public func inFlight() -> [(deployment: String, count: Int)] {
        state.withLock { state in state.deployments.map { ($0.key, $0.value.outstanding) }.sorted { $0.0 < $1.0 } }
    }

    /// Breaker state of every deployment seen so far (for metrics and explain).
    public func breakerStates() -> [(deployment: String, state: CircuitBreaker.State)] {
        state.withLock { state in state.deployments.map { ($0.key, $0.value.breaker.state) }.sorted { $0.0 < $1.0 } }
    }
}

extension PeakEWMA {
    static func scoreOf(_ candidate: CandidateView, unknown: Double) -> Double {
        (candidate.latency ?? unknown) * Double(candidate.outstanding + 1)
    }
}

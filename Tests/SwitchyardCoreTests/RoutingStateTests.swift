import Synchronization
import Testing

@testable import SwitchyardCore

/// A clock the test moves by hand.
final class ManualClock: RouterClock {
    private let offset = Mutex<Duration>(.zero)
    private let base = ContinuousClock.now
    let wallBase: Double

    init(unixTime: Double = 1_800_000_000) { self.wallBase = unixTime }

    var now: ContinuousClock.Instant { base + offset.withLock { $0 } }
    var unixTime: Double { wallBase + durationSeconds(offset.withLock { $0 }) }
    func advance(_ duration: Duration) { offset.withLock { $0 += duration } }
}

private func deployment(_ id: String, weight: Double = 1, priority: Int = 0) -> DeploymentConfig {
    var value = DeploymentConfig(id: id, provider: id, upstreamModel: "m-\(id)")
    value.weight = weight
    value.priority = priority
    return value
}

private func group(_ deployments: [DeploymentConfig], strategy: RoutingStrategyKind = .weighted) -> ModelGroup {
    var model = ModelConfig(name: "g", provider: deployments[0].provider)
    model.deployments = deployments
    model.strategy = strategy
    return ModelGroup(model, router: RouterSettings())
}

private func settings(seed: UInt64 = 7, breaker: (inout BreakerSettings) -> Void = { _ in }) -> RouterSettings {
    var settings = RouterSettings()
    settings.seed = seed
    breaker(&settings.breaker)
    return settings
}

extension RouterState {
    /// Picks and immediately finishes with success; returns the deployment id.
    func pickAndSucceed(_ group: ModelGroup, latency: Double = 0.01) -> String? {
        guard case .deployment(let lease, _) = pick(group, features: nil, regions: nil) else { return nil }
        finish(lease, outcome: .success(latency: latency, tokens: 0))
        return lease.deployment.id
    }
}

@Suite struct CircuitBreakerTests {
    @Test func opensAfterConsecutiveFailuresThenProbesAndCloses() {
        var breakerSettings = BreakerSettings()
        breakerSettings.consecutiveFailures = 3
        breakerSettings.cooldown = .seconds(10)
        var breaker = CircuitBreaker(settings: breakerSettings)
        let clock = ManualClock()
        for _ in 0..<2 {
            do {
                let allowed = breaker.acquire(at: clock.now)
                #expect(allowed)
            }
            breaker.record(healthFailure: true, at: clock.now)
        }
        #expect(breaker.state == .closed)
        do {
            let allowed = breaker.acquire(at: clock.now)
            #expect(allowed)
        }
        breaker.record(healthFailure: false, at: clock.now)  // a success resets the run
        for _ in 0..<3 {
            do {
                let allowed = breaker.acquire(at: clock.now)
                #expect(allowed)
            }
            breaker.record(healthFailure: true, at: clock.now)
        }
        #expect(breaker.state == .open)
        do {
            let allowed = breaker.acquire(at: clock.now)
            #expect(!allowed)
        }
        clock.advance(.seconds(9))
        #expect(!breaker.isAvailable(at: clock.now))
        clock.advance(.seconds(1))
        // Half-open: exactly one probe at a time.
        do {
            let allowed = breaker.acquire(at: clock.now)
            #expect(allowed)
        }
        #expect(breaker.state == .halfOpen)
        do {
            let allowed = breaker.acquire(at: clock.now)
            #expect(!allowed)
        }
        // A failed probe opens it again for a full cooldown.
        breaker.record(healthFailure: true, at: clock.now)
        #expect(breaker.state == .open)
        clock.advance(.seconds(10))
        do {
            let allowed = breaker.acquire(at: clock.now)
            #expect(allowed)
        }
        breaker.record(healthFailure: false, at: clock.now)
        #expect(breaker.state == .closed)
    }

    @Test func opensOnFailureRateOverTheWindow() {
        var breakerSettings = BreakerSettings()
        breakerSettings.consecutiveFailures = 100
        breakerSettings.failureRate = 0.5
        breakerSettings.minimumRequests = 10
        breakerSettings.window = .seconds(10)
        var breaker = CircuitBreaker(settings: breakerSettings)
        let clock = ManualClock()
        // Alternating: never two failures in a row, but half of all requests fail.
        for index in 0..<9 {
            _ = breaker.acquire(at: clock.now)
            breaker.record(healthFailure: index % 2 == 1, at: clock.now)
            clock.advance(.milliseconds(100))
        }
        #expect(breaker.state == .closed, "below the minimum number of requests")
        _ = breaker.acquire(at: clock.now)
        breaker.record(healthFailure: true, at: clock.now)
        #expect(breaker.state == .open)
    }

    @Test func oldOutcomesLeaveTheWindow() {
        var breakerSettings = BreakerSettings()
        breakerSettings.consecutiveFailures = 100
        breakerSettings.minimumRequests = 4
        breakerSettings.window = .seconds(10)
        var breaker = CircuitBreaker(settings: breakerSettings)
        let clock = ManualClock()
        for _ in 0..<3 {
            breaker.record(healthFailure: true, at: clock.now)
            breaker.record(healthFailure: false, at: clock.now)
        }
        #expect(breaker.state == .open)
        var fresh = CircuitBreaker(settings: breakerSettings)
        for _ in 0..<3 {
            fresh.record(healthFailure: true, at: clock.now)
            fresh.record(healthFailure: false, at: clock.now)
            clock.advance(.seconds(11))
        }
        #expect(fresh.state == .closed, "each pair falls out of the window before the next")
    }
}

@Suite struct RouterStateMachineTests {
    @Test func peakEWMAJumpsToSpikesAndDecaysSlowly() {
        let clock = ManualClock()
        var ewma = PeakEWMA(decay: .seconds(10))
        ewma.observe(0.1, at: clock.now)
        ewma.observe(1.0, at: clock.now)
        #expect(ewma.value == 1.0)
        clock.advance(.seconds(10))
        ewma.observe(0.1, at: clock.now)
        let value = ewma.value!
        #expect(value > 0.1 && value < 1.0)
        #expect(abs(value - (1.0 * 0.3679 + 0.1 * 0.6321)) < 0.01)
    }

    @Test func retryBudgetAllowsAShareOfTraffic() {
        let clock = ManualClock()
        var budget = RetryBudget(ratio: 0.2, minPerSecond: 0)
        var allowed = 0
        for _ in 0..<100 {
            budget.deposit()
            if budget.withdraw(at: clock.now) { allowed += 1 }
            if budget.withdraw(at: clock.now) { allowed += 1 }
        }
        #expect(allowed == 20)
        var floor = RetryBudget(ratio: 0, minPerSecond: 5)
        var granted = 0
        for _ in 0..<20 where floor.withdraw(at: clock.now) { granted += 1 }
        #expect(granted == 5)
        clock.advance(.seconds(1))
        granted = 0
        for _ in 0..<20 where floor.withdraw(at: clock.now) { granted += 1 }
        #expect(granted == 5)
    }

    @Test func minuteWindowForgetsAfterSixtySeconds() {
        var window = MinuteWindow()
        window.addRequest(atSecond: 100)
        window.addTokens(500, atSecond: 100)
        window.addRequest(atSecond: 130)
        #expect(window.totals(atSecond: 130) == (2, 500))
        #expect(window.totals(atSecond: 159) == (2, 500))
        #expect(window.totals(atSecond: 160) == (1, 0))
        #expect(window.totals(atSecond: 200) == (0, 0))
    }
}

@Suite struct StrategyTests {
    @Test func weightedPicksFollowTheWeights() {
        let router = RouterState(settings: settings(), clock: ManualClock())
        let weighted = group([deployment("a", weight: 3), deployment("b", weight: 1)])
        var counts: [String: Int] = [:]
        for _ in 0..<8000 { counts[router.pickAndSucceed(weighted)!, default: 0] += 1 }
        // Expected 6000 / 2000; a binomial standard deviation is about 39.
        #expect(abs(counts["a"]! - 6000) < 200)
        #expect(abs(counts["b"]! - 2000) < 200)
    }

    @Test func seededRoutersAreReproducible() {
        let weighted = group([deployment("a"), deployment("b"), deployment("c")])
        let first = RouterState(settings: settings(seed: 99), clock: ManualClock())
        let second = RouterState(settings: settings(seed: 99), clock: ManualClock())
        let a = (0..<50).map { _ in first.pickAndSucceed(weighted)! }
        let b = (0..<50).map { _ in second.pickAndSucceed(weighted)! }
        #expect(a == b)
    }

    @Test func roundRobinCycles() {
        let router = RouterState(settings: settings(), clock: ManualClock())
        let cycling = group([deployment("a"), deployment("b"), deployment("c")], strategy: .roundRobin)
        let picks = (0..<6).map { _ in router.pickAndSucceed(cycling)! }
        #expect(picks == ["a", "b", "c", "a", "b", "c"])
    }

    @Test func leastBusyAvoidsDeploymentsWithRequestsInFlight() {
        let router = RouterState(settings: settings(), clock: ManualClock())
        let busy = group([deployment("a"), deployment("b")], strategy: .leastBusy)
        var held: [DeploymentLease] = []
        for _ in 0..<6 {
            guard case .deployment(let lease, _) = router.pick(busy, features: nil, regions: nil) else { Issue.record("no pick"); return }
            held.append(lease)
        }
        // Picks alternate so that in-flight counts stay level.
        #expect(held.filter { $0.deployment.id == "a" }.count == 3)
        for lease in held where lease.deployment.id == "a" { router.finish(lease, outcome: .success(latency: 0.1, tokens: 0)) }
        for _ in 0..<3 { #expect(router.pickAndSucceed(busy) == "a") }
    }

    @Test func latencyAwarePrefersTheFasterDeployment() {
        let clock = ManualClock()
        let router = RouterState(settings: settings(), clock: clock)
        let fastOrSlow = group([deployment("fast"), deployment("slow")], strategy: .latency)
        // Teach the router each deployment's latency.
        for _ in 0..<20 {
            guard case .deployment(let lease, _) = router.pick(fastOrSlow, features: nil, regions: nil) else { return }
            router.finish(lease, outcome: .success(latency: lease.deployment.id == "fast" ? 0.05 : 0.8, tokens: 0))
        }
        var counts: [String: Int] = [:]
        for _ in 0..<200 {
            guard case .deployment(let lease, _) = router.pick(fastOrSlow, features: nil, regions: nil) else { return }
            counts[lease.deployment.id, default: 0] += 1
            router.finish(lease, outcome: .success(latency: lease.deployment.id == "fast" ? 0.05 : 0.8, tokens: 0))
            clock.advance(.milliseconds(10))
        }
        #expect(counts["fast", default: 0] == 200, "with two candidates, power of two choices always compares both")
    }

    @Test func costAwarePicksTheCheapestThatFits() throws {
        var cheapSmall = deployment("cheap-small")
        cheapSmall.price = ModelPrice(input: 0.1, output: 0.4)
        cheapSmall.contextWindow = 1000
        var mid = deployment("mid")
        mid.price = ModelPrice(input: 1, output: 4)
        mid.contextWindow = 100_000
        var pricey = deployment("pricey")
        pricey.price = ModelPrice(input: 5, output: 15)
        let router = RouterState(settings: settings(), clock: ManualClock())
        let byCost = group([pricey, mid, cheapSmall], strategy: .cost)
        let small = try OpenAIRequest(endpoint: .chatCompletions, body: Array(#"{"model":"g","messages":[{"role":"user","content":"hi"}]}"#.utf8))
        let big = try OpenAIRequest(
            endpoint: .chatCompletions,
            body: Array(#"{"model":"g","messages":[{"role":"user","content":"\#(String(repeating: "word ", count: 2000))"}]}"#.utf8))
        guard case .deployment(let first, _) = router.pick(byCost, features: PromptFeatures(request: small), regions: nil) else { return }
        #expect(first.deployment.id == "cheap-small")
        guard case .deployment(let second, let candidates) = router.pick(byCost, features: PromptFeatures(request: big), regions: nil) else {
            return
        }
        #expect(second.deployment.id == "mid")
        #expect(candidates.first { $0.deployment.id == "cheap-small" }?.excluded == .contextWindow)
    }

    @Test func higherTiersServeOnlyWhenLowerOnesCannot() {
        let router = RouterState(
            settings: settings { $0.consecutiveFailures = 1 }, clock: ManualClock())
        let tiered = group([deployment("primary", priority: 0), deployment("backup", priority: 1)])
        for _ in 0..<10 { #expect(router.pickAndSucceed(tiered) == "primary") }
        guard case .deployment(let lease, _) = router.pick(tiered, features: nil, regions: nil) else { return }
        router.finish(lease, outcome: .failure(.serverError, retryAfter: nil))
        for _ in 0..<5 { #expect(router.pickAndSucceed(tiered) == "backup") }
    }

    @Test func capacityAndRetryAfterKeepDeploymentsOut() {
        let clock = ManualClock()
        let router = RouterState(settings: settings(), clock: clock)
        var limited = deployment("limited")
        limited.rpm = 2
        let pair = group([limited, deployment("other", weight: 0.000001)])
        #expect(router.pickAndSucceed(pair) == "limited")
        #expect(router.pickAndSucceed(pair) == "limited")
        #expect(router.pickAndSucceed(pair) == "other", "two requests used this minute's capacity")
        clock.advance(.seconds(61))
        #expect(router.pickAndSucceed(pair) == "limited")

        guard case .deployment(let lease, _) = router.pick(pair, features: nil, regions: nil) else { return }
        router.finish(lease, outcome: .failure(.rateLimit, retryAfter: .seconds(30)))
        let views = router.evaluate(pair, features: nil, regions: nil)
        #expect(views.first { $0.deployment.id == "limited" }?.excluded == .coolingDown)
        clock.advance(.seconds(61))  // past the Retry-After and out of the minute window
        #expect(router.evaluate(pair, features: nil, regions: nil).allSatisfy { $0.excluded == nil })
    }

    @Test func nothingEligibleExplainsWhy() {
        let clock = ManualClock()
        let router = RouterState(settings: settings { $0.consecutiveFailures = 1 }, clock: clock)
        let single = group([deployment("only")])
        guard case .deployment(let lease, _) = router.pick(single, features: nil, regions: nil) else { return }
        router.finish(lease, outcome: .failure(.connection, retryAfter: nil))
        guard case .none(let error, _) = router.pick(single, features: nil, regions: nil) else {
            Issue.record("an open breaker must refuse")
            return
        }
        #expect(error.status == 503)
        #expect(error.code == .noHealthyDeployment)
        #expect(error.headers.contains { $0.name == "Retry-After" && $0.value == "30" })
        var regional = deployment("eu-only")
        regional.region = "eu"
        guard case .none(let regionError, _) = router.pick(group([regional]), features: nil, regions: ["us"]) else { return }
        #expect(regionError.code == .regionNotAllowed)
    }
}

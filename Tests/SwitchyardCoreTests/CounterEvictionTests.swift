import Synchronization
import Testing

@testable import SwitchyardCore

/// In-memory counters keyed by values a client chooses (`user`) are evicted once idle, so a
/// flood of distinct end users cannot grow the process without bound (issue 16).
@Suite struct CounterEvictionTests {
    final class Clock: Sendable {
        let milliseconds = Mutex<Double>(1_000_000)
        func advance(seconds: Double) { milliseconds.withLock { $0 += seconds * 1000 } }
        var now: Double { milliseconds.withLock { $0 } }
    }

    static func checks(endUser: String) -> [LimitCheck] {
        let key = "end_user:\(endUser)"
        return [
            LimitCheck(key: key + ":rpm:60", scope: .endUser, kind: .requests, limit: 60, capacity: 60, cost: 1, label: key),
            LimitCheck(key: key + ":tpd:1000", scope: .endUser, kind: .tokensPerDay, limit: 1000, capacity: 1000, cost: 10, label: key),
            LimitCheck(key: key + ":conc", scope: .endUser, kind: .concurrent, limit: 2, capacity: 2, cost: 1, label: key),
        ]
    }

    @Test func floodOfDistinctEndUsersLeavesNoIdleRateLimitCounters() async throws {
        let clock = Clock()
        let backend = MemoryRateLimitBackend(now: { clock.now })
        for index in 0..<1_000 {
            let checks = Self.checks(endUser: "user-\(index)")
            #expect(try await backend.acquire(checks, lease: "r\(index)", leaseSeconds: 30).allowed)
            try await backend.settle(checks, lease: "r\(index)", tokenDelta: 0)
        }
        #expect(backend.counterCount == 2_000, "a bucket and a day counter per end user")

        // A busy end user keeps its counters; everyone else's refill and the day turns over.
        clock.advance(seconds: 86_400)
        let busy = Self.checks(endUser: "busy")
        for _ in 0..<5 { _ = try await backend.acquire(busy, lease: "b", leaseSeconds: 30) }
        #expect(backend.counterCount == 3, "only the busy end user's bucket, day counter and lease are left")

        // Nothing is forgotten that still matters: the busy user's bucket still counts 5.
        let decision = try await backend.acquire(busy, lease: "b2", leaseSeconds: 30)
        #expect(decision.allowed && decision.remaining.first == 54)
    }

    /// Concurrency leases count until they are settled or expire (a crashed request), also
    /// when the lease that expired first was settled long before (the backend then counts
    /// again, and only then).
    @Test func concurrencyLeasesCountUntilSettledOrExpired() async throws {
        let clock = Clock()
        let backend = MemoryRateLimitBackend(now: { clock.now })
        let slots = [LimitCheck(key: "global:conc", scope: .global, kind: .concurrent, limit: 2, capacity: 2, cost: 1, label: "global")]
        func acquire(_ lease: String) async throws -> Bool { try await backend.acquire(slots, lease: lease, leaseSeconds: 1).allowed }
        #expect(try await acquire("a"))  // expires at 1.0 s
        clock.advance(seconds: 0.5)
        #expect(try await acquire("b"))  // expires at 1.5 s, never settled
        clock.advance(seconds: 0.1)
        #expect(try await !acquire("c"), "two leases are held")
        clock.advance(seconds: 0.1)
        try await backend.settle(slots, lease: "a", tokenDelta: 0)
        clock.advance(seconds: 0.1)
        #expect(try await acquire("c"))  // expires at 1.8 s
        clock.advance(seconds: 0.4)
        #expect(try await !acquire("d"), "at 1.2 s, b and c are held (a, which would have expired first, was settled)")
        clock.advance(seconds: 0.4)
        #expect(try await acquire("d"), "at 1.6 s, b has expired")
        #expect(try await !acquire("e"), "c and d are held")
        clock.advance(seconds: 0.3)
        let decision = try await backend.acquire(slots, lease: "e", leaseSeconds: 1)
        #expect(decision.allowed && decision.remaining == [0], "at 1.9 s, c has expired: d and e")
        try await backend.settle(slots, lease: "d", tokenDelta: 0)
        try await backend.settle(slots, lease: "e", tokenDelta: 0)
        #expect(backend.counterCount == 0, "no leases, no counter")
    }

    @Test func budgetCountersOfEndedPeriodsAreDropped() async throws {
        let now = Mutex<Int64>(1_800_000_000)
        let backend = MemoryBudgetBackend(now: { now.withLock { $0 } })
        var settings = BudgetSettings()
        settings.rules = [BudgetRule(scope: .endUser, limit: BudgetLimit(amount: 5, period: .daily))]
        let identity = Identity(kind: .virtualKey, subject: "k")
        for index in 0..<500 {
            let checks = BudgetGuard.checks(
                settings: settings, identity: identity, endUser: "user-\(index)", reserveUSD: 0.01, now: Double(now.withLock { $0 }))
            #expect(try await backend.acquire(checks).blockedIndex == nil)
        }
        #expect(backend.counterCount == 500)
        now.withLock { $0 += 2 * 86_400 }
        let today = BudgetGuard.checks(settings: settings, identity: identity, endUser: "late", reserveUSD: 0.01, now: Double(now.withLock { $0 }))
        _ = try await backend.acquire(today)
        #expect(backend.counterCount == 1, "yesterday's counters are gone")
    }
}

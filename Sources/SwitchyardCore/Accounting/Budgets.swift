import Synchronization

/// How long a budget lasts before it starts again. Periods are calendar-aligned in UTC: a day
/// starts at midnight, a week on Monday, a month on its first day; `total` never resets.
public enum BudgetPeriod: String, Sendable, CaseIterable {
    case daily, weekly, monthly, total

    /// The period that contains `unixTime`: an id for counter keys (`2026-11-27`, `2026-W48`
    /// as the Monday's date, `2026-11`, `total`), its start and its end (nil for `total`).
    public func window(containing unixTime: Double) -> (id: String, start: Int64, end: Int64?) {
        let days = CivilDate.days(Int64(unixTime.rounded(.down)))
        switch self {
        case .daily:
            return (CivilDate(daysSinceEpoch: days).iso, days * 86_400, (days + 1) * 86_400)
        case .weekly:
            // 1970-01-01 was a Thursday: Monday is 3 days before it.
            let monday = days - ((days + 3) % 7 + 7) % 7
            return ("week-" + CivilDate(daysSinceEpoch: monday).iso, monday * 86_400, (monday + 7) * 86_400)
        case .monthly:
            let date = CivilDate(daysSinceEpoch: days)
            let first = CivilDate(year: date.year, month: date.month, day: 1)
            let next = date.month == 12 ? CivilDate(year: date.year + 1, month: 1, day: 1) : CivilDate(year: date.year, month: date.month + 1, day: 1)
            return (String(first.iso.prefix(7)), first.daysSinceEpoch * 86_400, next.daysSinceEpoch * 86_400)
        case .total:
            return ("total", 0, nil)
        }
    }
}

/// Who a budget belongs to. Each distinct value (each key, each team, ...) has its own.
public enum BudgetScope: String, Sendable, CaseIterable {
    case key, user, endUser = "end_user", team, org, global

    /// The same scope as rate limits name it.
    public var limitScope: LimitScope {
        switch self {
        case .key: .key
        case .user: .user
        case .endUser: .endUser
        case .team: .team
        case .org: .org
        case .global: .global
        }
    }
}

/// A spending cap: so many USD per period.
public struct BudgetLimit: Sendable, Equatable {
    public var amount: Double
    public var period: BudgetPeriod

    public init(amount: Double, period: BudgetPeriod) {
        self.amount = amount
        self.period = period
    }
}

/// One rule of `budgets.rules`.
public struct BudgetRule: Sendable, Equatable {
    public var scope: BudgetScope
    /// Only this key/user/team/...; nil gives every value of the scope its own budget.
    public var id: String?
    public var limit: BudgetLimit
    /// Fractions of the budget at which alerts fire; nil uses `budgets.alerts`.
    public var alerts: [Double]?

    public init(scope: BudgetScope, id: String? = nil, limit: BudgetLimit, alerts: [Double]? = nil) {
        self.scope = scope
        self.id = id
        self.limit = limit
        self.alerts = alerts
    }
}

/// `budgets:` of the configuration.
public struct BudgetSettings: Sendable, Equatable {
    public var rules: [BudgetRule] = []
    /// Default alert thresholds, fractions of each budget.
    public var alerts: [Double] = [0.5, 0.8, 1.0]
    /// Alerts are POSTed here as JSON (with retries) besides the log line and the metric.
    public var webhookURL: String?
    /// When the counter backend is unreachable: let requests through (default) or refuse them.
    public var failOpen = true

    public init() {}
}

/// One budget a request must fit in, for the current period.
public struct BudgetCheck: Sendable, Equatable {
    /// Counter key: `team:research:monthly:2026-11`.
    public var key: String
    public var scope: BudgetScope
    public var value: String
    public var limit: BudgetLimit
    public var periodID: String
    public var periodStart: Int64
    public var periodEnd: Int64?
    /// The cap in nano-USD.
    public var limitNanos: Int64
    /// What this request reserves, in nano-USD.
    public var reserveNanos: Int64
    public var thresholds: [Double]

    /// `team 'research'`.
    public var label: String { scope == .global ? "the gateway" : "\(scope.rawValue.replacingUnderscores) '\(value)'" }
}

extension String {
    fileprivate var replacingUnderscores: String { String(map { $0 == "_" ? " " : $0 }) }
}

/// USD ↔ integer nano-USD: counters stay exact under many small additions.
public enum NanoUSD {
    public static func from(_ usd: Double) -> Int64 {
        guard usd.isFinite, usd > 0 else { return 0 }
        return usd >= 9e9 ? Int64.max / 4 : Int64((usd * 1e9).rounded())
    }

    public static func usd(_ nanos: Int64) -> Double { Double(nanos) / 1e9 }
}

/// The backend's answer to a budget acquisition.
public struct BudgetDecision: Sendable, Equatable {
    /// Index of the budget that refused; nil when all had room and the reservation was taken.
    public var blockedIndex: Int?
    /// Each budget's spend (including reservations in flight) before this request, nano-USD.
    public var current: [Int64]

    public init(blockedIndex: Int?, current: [Int64]) {
        self.blockedIndex = blockedIndex
        self.current = current
    }
}

/// Where budget counters live: memory (one instance) or Redis (shared by all instances).
public protocol BudgetBackend: Sendable {
    /// Sets a counter to `nanos` unless it already exists (seeding from the usage ledger).
    func seed(key: String, nanos: Int64, expiresAt: Int64?) async throws
    /// Takes every check's reservation only if each still fits under its cap.
    func acquire(_ checks: [BudgetCheck]) async throws -> BudgetDecision
    /// Adds `delta` nano-USD to each counter (real cost minus reservation); returns new totals.
    func settle(_ checks: [BudgetCheck], delta: Int64) async throws -> [Int64]
    /// Current totals (nano-USD), 0 for counters that do not exist.
    func current(_ keys: [String]) async throws -> [Int64]
    /// True the first time it is called for `key`: each alert fires once, across instances.
    func claimAlert(_ key: String, expiresAt: Int64?) async throws -> Bool
    /// ``settle(_:delta:)`` done at once when the counters are in this process; nil when
    /// settling needs I/O (the caller settles in the background).
    func settleImmediately(_ checks: [BudgetCheck], delta: Int64) -> [Int64]?
}

extension BudgetBackend {
    public func settleImmediately(_ checks: [BudgetCheck], delta: Int64) -> [Int64]? { nil }
}

/// A budget alert: spend crossed `threshold` of a budget.
public struct BudgetAlert: Sendable, Equatable {
    public var scope: BudgetScope
    public var value: String
    public var period: BudgetPeriod
    public var periodID: String
    public var threshold: Double
    public var spentUSD: Double
    public var limitUSD: Double
}

/// Receives alerts (log, metric, webhook).
public protocol BudgetAlertSink: Sendable {
    func budgetAlert(_ alert: BudgetAlert)
}

/// The budgets a request holds, settled with its real cost when its record is emitted.
public struct BudgetLease: Sendable {
    public let checks: [BudgetCheck]
    public let reservedNanos: Int64
}

/// Builds a request's budget checks, reserves its estimated cost, settles the real one and
/// fires threshold alerts.
public final class BudgetGuard: Sendable {
    public let backend: any BudgetBackend
    /// Spend already recorded for a budget in its current period (from the usage ledger), used
    /// to seed a counter the first time this process touches it. Nil when there is no ledger.
    let spendSince: (@Sendable (BudgetCheck) async throws -> Double)?
    let alerts: any BudgetAlertSink
    let onBackendFailure: @Sendable (any Error) -> Void
    /// Counters seeded from the ledger, with the end of their period (pruned once ended).
    private let seeded = Mutex<[String: Int64?]>([:])

    public init(
        backend: any BudgetBackend, alerts: any BudgetAlertSink, spendSince: (@Sendable (BudgetCheck) async throws -> Double)? = nil,
        onBackendFailure: @escaping @Sendable (any Error) -> Void = { _ in }
    ) {
        self.backend = backend
        self.alerts = alerts
        self.spendSince = spendSince
        self.onBackendFailure = onBackendFailure
    }

    /// The budgets that apply to a request: the caller's own (a key's budget) and each rule
    /// whose scope value the request has.
    public static func checks(settings: BudgetSettings, identity: Identity, endUser: String?, reserveUSD: Double, now: Double) -> [BudgetCheck] {
        var budgets: [(BudgetScope, String, BudgetLimit, [Double])] = []
        if let own = identity.budget, identity.kind != .anonymous {
            budgets.append((.key, identity.subject, own, settings.alerts))
        }
        for inherited in identity.inheritedBudgets {
            budgets.append((inherited.scope, inherited.id, inherited.limit, settings.alerts))
        }
        for rule in settings.rules {
            guard let value = identity.value(of: rule.scope.limitScope, endUser: endUser, group: nil), rule.id == nil || rule.id == value
            else { continue }
            budgets.append((rule.scope, value, rule.limit, rule.alerts ?? settings.alerts))
        }
        let reserve = NanoUSD.from(reserveUSD)
        return budgets.map { scope, value, limit, thresholds in
            let window = limit.period.window(containing: now)
            return BudgetCheck(
                key: "\(scope.rawValue):\(value):\(limit.period.rawValue):\(window.id)", scope: scope, value: value, limit: limit,
                periodID: window.id, periodStart: window.start, periodEnd: window.end, limitNanos: NanoUSD.from(limit.amount),
                reserveNanos: reserve, thresholds: thresholds.sorted())
        }
    }

    public enum Outcome: Sendable {
        case allowed(BudgetLease?)
        case refused(GatewayError, blocked: BudgetCheck?)
    }

    public func acquire(_ checks: [BudgetCheck], failOpen: Bool) async -> Outcome {
        guard !checks.isEmpty else { return .allowed(nil) }
        let decision: BudgetDecision
        do {
            try await seedIfNeeded(checks)
            decision = try await backend.acquire(checks)
        } catch {
            onBackendFailure(error)
            if failOpen { return .allowed(nil) }
            return .refused(
                .unavailable(
                    "The budget backend is unavailable and the gateway is configured to fail closed.", code: .budgetBackendUnavailable,
                    headers: [HeaderField("Retry-After", "1")]), blocked: nil)
        }
        if let index = decision.blockedIndex {
            let check = checks[index]
            let spent = decision.current.indices.contains(index) ? decision.current[index] : 0
            // Refusing is the budget being used up: its thresholds up to 100% have been
            // reached even if the spend itself stopped just short of them.
            await fireAlerts(check, thresholds: check.thresholds.filter { $0 <= 1 }, spentNanos: spent)
            return .refused(Self.exceeded(check, spentNanos: spent), blocked: check)
        }
        return .allowed(BudgetLease(checks: checks, reservedNanos: checks.first?.reserveNanos ?? 0))
    }

    /// Replaces the reservation with the real cost and fires the alerts it crosses. Never throws.
    public func settle(_ lease: BudgetLease, costUSD: Double) async {
        let cost = NanoUSD.from(costUSD)
        do {
            let totals = try await backend.settle(lease.checks, delta: cost - lease.reservedNanos)
            await fire(Self.crossed(lease, cost: cost, totals: totals))
        } catch {
            onBackendFailure(error)
        }
    }

    /// Alerts a settlement crossed, to fire (in the background: they may post webhooks).
    public struct PendingAlerts: Sendable {
        let crossed: [(check: BudgetCheck, thresholds: [Double], spentNanos: Int64)]
        public var isEmpty: Bool { crossed.isEmpty }
    }

    /// ``settle(_:costUSD:)`` at once when the backend's counters are in this process: the
    /// alerts it crossed, still to fire; nil when it must be settled in the background.
    public func settleImmediately(_ lease: BudgetLease, costUSD: Double) -> PendingAlerts? {
        let cost = NanoUSD.from(costUSD)
        guard let totals = backend.settleImmediately(lease.checks, delta: cost - lease.reservedNanos) else { return nil }
        return Self.crossed(lease, cost: cost, totals: totals)
    }

    public func fire(_ pending: PendingAlerts) async {
        for (check, thresholds, spent) in pending.crossed { await fireAlerts(check, thresholds: thresholds, spentNanos: spent) }
    }

    static func crossed(_ lease: BudgetLease, cost: Int64, totals: [Int64]) -> PendingAlerts {
        var crossed: [(check: BudgetCheck, thresholds: [Double], spentNanos: Int64)] = []
        for (check, total) in zip(lease.checks, totals) where check.limitNanos > 0 {
            // The counter without and with this request's real cost (other requests'
            // reservations are in both).
            let before = total - cost
            let thresholds = check.thresholds.filter { threshold in
                let mark = Int64((Double(check.limitNanos) * threshold).rounded(.up))
                return before < mark && total >= mark
            }
            if !thresholds.isEmpty { crossed.append((check, thresholds, total)) }
        }
        return PendingAlerts(crossed: crossed)
    }

    /// Adds a cost that was never reserved (a line of a batch the provider ran) to the
    /// budgets' spend and fires the alerts it crosses. Never refuses and never throws: the money
    /// is already spent.
    public func charge(_ checks: [BudgetCheck], costUSD: Double) async {
        guard !checks.isEmpty else { return }
        do {
            try await seedIfNeeded(checks)
        } catch {
            onBackendFailure(error)
        }
        await settle(BudgetLease(checks: checks, reservedNanos: 0), costUSD: costUSD)
    }

    /// Fires each threshold's alert unless this or another instance already did this period.
    private func fireAlerts(_ check: BudgetCheck, thresholds: [Double], spentNanos: Int64) async {
        for threshold in thresholds {
            do {
                guard try await backend.claimAlert("\(check.key):alert:\(threshold)", expiresAt: check.periodEnd) else { continue }
            } catch {
                onBackendFailure(error)
                return
            }
            alerts.budgetAlert(
                BudgetAlert(
                    scope: check.scope, value: check.value, period: check.limit.period, periodID: check.periodID, threshold: threshold,
                    spentUSD: NanoUSD.usd(spentNanos), limitUSD: check.limit.amount))
        }
    }

    /// Spend so far (nano-USD, reservations in flight included) of each budget.
    public func status(_ checks: [BudgetCheck]) async throws -> [Int64] {
        try await seedIfNeeded(checks)
        return try await backend.current(checks.map(\.key))
    }

    private func seedIfNeeded(_ checks: [BudgetCheck]) async throws {
        guard let spendSince else { return }
        for check in checks where seeded.withLock({ $0[check.key] == nil }) {
            let spent = try await spendSince(check)
            try await backend.seed(key: check.key, nanos: NanoUSD.from(spent), expiresAt: check.periodEnd)
            let now = Int64(WallClock.unixTime())
            seeded.withLock { seeded in
                if seeded.count >= 10_000 { seeded = seeded.filter { ($0.value ?? .max) > now } }
                seeded[check.key] = .some(check.periodEnd)
            }
        }
    }

    static func exceeded(_ check: BudgetCheck, spentNanos: Int64) -> GatewayError {
        let limit = check.limit
        var message =
            "Budget of \(formatUSD(limit.amount)) \(limit.period == .total ? "in total" : limit.period.rawValue) for \(check.label) is exhausted: "
            + "\(formatUSD(NanoUSD.usd(spentNanos))) spent or reserved"
        if check.reserveNanos > 0 { message += ", and this request may cost up to \(formatUSD(NanoUSD.usd(check.reserveNanos)))" }
        var headers: [HeaderField] = []
        if let end = check.periodEnd {
            message += "; it resets at \(CivilDate.iso8601(end))."
            let wait = max(1, end - Int64(WallClock.unixTime()))
            headers.append(HeaderField("Retry-After", String(wait)))
        } else {
            message += "."
        }
        return .budgetExceeded(message, headers: headers)
    }

    /// `$12.34`, or more digits for small amounts (`$0.000150`).
    public static func formatUSD(_ value: Double) -> String {
        if value != 0 && abs(value) < 0.01 {
            let micro = Int64((value * 1_000_000).rounded())
            let text = String(micro)
            return "$0." + String(repeating: "0", count: max(0, 6 - text.count)) + text
        }
        let cents = Int64((value * 100).rounded())
        let remainder = abs(cents % 100)
        return "$\(cents / 100).\(remainder < 10 ? "0" : "")\(remainder)"
    }
}

/// Budget counters in this process.
///
/// A counter is kept for its period only: once a minute, counters and alert marks of
/// periods that have ended are dropped (their keys name the period, so none is read again),
/// so end-user budgets over many distinct `user` values do not pile up.
public final class MemoryBudgetBackend: BudgetBackend {
    struct State {
        var counters: [String: Int64] = [:]
        var alerts: Set<String> = []
        /// Unix second each counter's or alert's period ends (none for `total` budgets).
        var ends: [String: Int64] = [:]
        var sweptAt: Int64 = 0

        mutating func sweep(now: Int64) {
            let ended = ends.filter { $0.value <= now }.map(\.key)
            for key in ended {
                counters[key] = nil
                alerts.remove(key)
                ends[key] = nil
            }
            sweptAt = now
        }
    }

    private let state = Mutex(State())
    private let now: @Sendable () -> Int64

    /// `now`: Unix seconds (injected in tests).
    public init(now: @escaping @Sendable () -> Int64 = { Int64(WallClock.unixTime()) }) {
        self.now = now
    }

    /// Counters and alert marks held, for tests.
    public var counterCount: Int { state.withLock { $0.counters.count + $0.alerts.count } }

    public func seed(key: String, nanos: Int64, expiresAt: Int64?) async throws {
        state.withLock { state in
            if state.counters[key] == nil { state.counters[key] = nanos }
            if let expiresAt { state.ends[key] = expiresAt }
        }
    }

    public func acquire(_ checks: [BudgetCheck]) async throws -> BudgetDecision {
        let now = self.now()
        return state.withLock { state in
            if now - state.sweptAt >= 60 { state.sweep(now: now) }
            for check in checks { if let end = check.periodEnd { state.ends[check.key] = end } }
            let current = checks.map { state.counters[$0.key] ?? 0 }
            for (index, check) in checks.enumerated()
            where current[index] + check.reserveNanos > check.limitNanos || current[index] >= check.limitNanos {
                return BudgetDecision(blockedIndex: index, current: current)
            }
            for check in checks { state.counters[check.key, default: 0] += check.reserveNanos }
            return BudgetDecision(blockedIndex: nil, current: current)
        }
    }

    public func settle(_ checks: [BudgetCheck], delta: Int64) async throws -> [Int64] {
        add(delta, to: checks)
    }

    public func settleImmediately(_ checks: [BudgetCheck], delta: Int64) -> [Int64]? {
        add(delta, to: checks)
    }

    private func add(_ delta: Int64, to checks: [BudgetCheck]) -> [Int64] {
        state.withLock { state in
            checks.map { check in
                let total = (state.counters[check.key] ?? 0) + delta
                state.counters[check.key] = total
                return total
            }
        }
    }

    public func current(_ keys: [String]) async throws -> [Int64] {
        state.withLock { state in keys.map { state.counters[$0] ?? 0 } }
    }

    public func claimAlert(_ key: String, expiresAt: Int64?) async throws -> Bool {
        state.withLock { state in
            if let expiresAt { state.ends[key] = expiresAt }
            return state.alerts.insert(key).inserted
        }
    }
}

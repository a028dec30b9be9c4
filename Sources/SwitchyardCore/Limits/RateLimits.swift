import Synchronization

/// What a limit rule counts per scope value.
public struct LimitValues: Sendable, Equatable {
    public var requestsPerMinute: Int?
    public var tokensPerMinute: Int?
    public var tokensPerDay: Int?
    public var concurrent: Int?
    /// Bucket capacity for requests (a burst above the steady per-minute rate). Default: the rate.
    public var burst: Int?

    public init() {}

    public var isEmpty: Bool { requestsPerMinute == nil && tokensPerMinute == nil && tokensPerDay == nil && concurrent == nil }
}

/// Who a limit applies to: each distinct value (each key, each team, ...) has its own counters.
public enum LimitScope: String, Sendable, CaseIterable {
    case key, user, endUser = "end_user", team, org, model, global
}

extension Identity {
    /// The caller's value in a scope (its key, user, team, ...): what limits and budgets count
    /// per. Nil when the caller has none (an anonymous caller has no key).
    public func value(of scope: LimitScope, endUser: String?, group: String?) -> String? {
        switch scope {
        case .key: kind == .anonymous ? nil : subject
        case .user: userID
        case .endUser: endUser ?? self.endUser
        case .team: teamID
        case .org: organizationID
        case .model: group
        case .global: "*"
        }
    }
}

/// One rule of `limits.rules`.
public struct LimitRule: Sendable, Equatable {
    public var scope: LimitScope
    /// Only requests for these model groups (all when nil).
    public var models: [String]?
    public var values: LimitValues
    /// Take the values of this tier instead; `from_identity` uses the caller's `tier` attribute.
    public var tier: String?
    public var location: ConfigLocation?

    public init(scope: LimitScope, values: LimitValues = LimitValues(), tier: String? = nil) {
        self.scope = scope
        self.values = values
        self.tier = tier
    }
}

/// `limits:` of the configuration.
public struct LimitSettings: Sendable, Equatable {
    public enum Backend: String, Sendable { case memory, redis }
    public var rules: [LimitRule] = []
    public var tiers: [String: LimitValues] = [:]
    /// Tier for callers without a `tier` attribute (rules with `tier: from_identity`).
    public var defaultTier: String?
    /// nil: Redis when `redis:` is configured, else memory.
    public var backend: Backend?
    /// When the backend is unreachable: let requests through (`open`, default) or refuse them.
    public var failOpen = true
    /// Completion tokens reserved when a request sets no `max_tokens`. Default 256.
    public var defaultCompletionEstimate = 256

    public init() {}
}

/// One counter a request must pass: a kind of limit for one scope value.
public struct LimitCheck: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case requests, tokens, tokensPerDay = "tokens_per_day", concurrent
    }

    /// Backend key, e.g. `team:research:rpm:60`.
    public var key: String
    public var scope: LimitScope
    public var kind: Kind
    /// The configured limit (per minute, per day, or at once).
    public var limit: Int
    /// Bucket capacity (requests and tokens per minute).
    public var capacity: Int
    /// What this request takes: 1 request, or its reserved tokens.
    public var cost: Int
    /// For messages: `team 'research'`.
    public var label: String

    /// Refill per millisecond of a per-minute bucket.
    public var ratePerMillisecond: Double { Double(limit) / 60_000 }
}

/// The backend's answer for one request.
public struct LimitDecision: Sendable {
    public var allowed: Bool
    /// The check that refused the request.
    public var blockedIndex: Int?
    /// Milliseconds until the refusing check could pass; nil when it never can (too large).
    public var retryAfterMilliseconds: Int?
    /// Per check (same order): remaining after this request and milliseconds until full again.
    public var remaining: [Int]
    public var resetMilliseconds: [Int]

    public init(allowed: Bool, blockedIndex: Int? = nil, retryAfterMilliseconds: Int? = nil, remaining: [Int] = [], resetMilliseconds: [Int] = []) {
        self.allowed = allowed
        self.blockedIndex = blockedIndex
        self.retryAfterMilliseconds = retryAfterMilliseconds
        self.remaining = remaining
        self.resetMilliseconds = resetMilliseconds
    }
}

/// Where the counters live: memory (one instance) or Redis (atomic across instances).
public protocol RateLimitBackend: Sendable {
    /// Checks every limit and, only if all pass, takes the request's share of each.
    func acquire(_ checks: [LimitCheck], lease: String, leaseSeconds: Int) async throws -> LimitDecision
    /// Returns the difference between reserved and used tokens and ends the concurrency lease.
    func settle(_ checks: [LimitCheck], lease: String, tokenDelta: Int) async throws
    /// ``settle(_:lease:tokenDelta:)`` done at once when the counters are in this process
    /// (true); false when settling needs I/O (the caller settles in the background).
    func settleImmediately(_ checks: [LimitCheck], lease: String, tokenDelta: Int) -> Bool
}

extension RateLimitBackend {
    public func settleImmediately(_ checks: [LimitCheck], lease: String, tokenDelta: Int) -> Bool { false }
}

/// Granted limits of one request, settled once when its record is emitted.
public struct LimitLease: Sendable {
    public let id: String
    public let checks: [LimitCheck]
    public let reservedTokens: Int
}

/// Builds the checks for a request from the rules, asks the backend, and turns the answer into
/// response headers or a 429.
public final class RateLimiter: Sendable {
    public let backend: any RateLimitBackend
    private let failures: Mutex<Int> = Mutex(0)
    /// Called when the backend fails (for a metric and a log line).
    let onBackendFailure: @Sendable (any Error) -> Void

    public init(backend: any RateLimitBackend, onBackendFailure: @escaping @Sendable (any Error) -> Void = { _ in }) {
        self.backend = backend
        self.onBackendFailure = onBackendFailure
    }

    /// The checks a request must pass under `settings`.
    public static func checks(
        settings: LimitSettings, identity: Identity, group: String, endUser: String?, reservedTokens: Int
    ) -> [LimitCheck] {
        var checks: [LimitCheck] = []
        for rule in settings.rules {
            if let models = rule.models, !models.contains(group) { continue }
            guard let value = identity.value(of: rule.scope, endUser: endUser, group: group) else { continue }
            var values = rule.values
            if let tier = rule.tier {
                let name = tier == "from_identity" ? (identity.attributes["tier"] ?? settings.defaultTier) : tier
                guard let name, let tierValues = settings.tiers[name] else { continue }
                values = tierValues
            }
            let base = "\(rule.scope.rawValue):\(value)" + (rule.models == nil ? "" : ":\(rule.models!.joined(separator: ","))")
            let label = rule.scope == .global ? "global" : "\(rule.scope.rawValue) '\(value)'"
            if let rpm = values.requestsPerMinute {
                checks.append(
                    LimitCheck(
                        key: base + ":rpm:\(rpm)", scope: rule.scope, kind: .requests, limit: rpm, capacity: max(rpm, values.burst ?? rpm), cost: 1,
                        label: label))
            }
            if let tpm = values.tokensPerMinute {
                checks.append(
                    LimitCheck(
                        key: base + ":tpm:\(tpm)", scope: rule.scope, kind: .tokens, limit: tpm, capacity: tpm, cost: reservedTokens, label: label))
            }
            if let tpd = values.tokensPerDay {
                checks.append(
                    LimitCheck(
                        key: base + ":tpd:\(tpd)", scope: rule.scope, kind: .tokensPerDay, limit: tpd, capacity: tpd, cost: reservedTokens,
                        label: label))
            }
            if let concurrent = values.concurrent {
                checks.append(
                    LimitCheck(
                        key: base + ":conc", scope: rule.scope, kind: .concurrent, limit: concurrent, capacity: concurrent, cost: 1, label: label))
            }
        }
        return checks
    }

    public enum Outcome: Sendable {
        case allowed(LimitLease?, headers: [HeaderField])
        /// `blocked`: the limit that refused (nil when the backend failed closed).
        case refused(GatewayError, blocked: LimitCheck?)
    }

    public func acquire(_ checks: [LimitCheck], reservedTokens: Int, leaseSeconds: Int, failOpen: Bool, id: String) async -> Outcome {
        guard !checks.isEmpty else { return .allowed(nil, headers: []) }
        let decision: LimitDecision
        do {
            decision = try await backend.acquire(checks, lease: id, leaseSeconds: leaseSeconds)
        } catch {
            onBackendFailure(error)
            if failOpen { return .allowed(nil, headers: []) }
            return .refused(
                .unavailable(
                    "The rate-limit backend is unavailable and the gateway is configured to fail closed.", code: .rateLimiterUnavailable,
                    headers: [HeaderField("Retry-After", "1")]), blocked: nil)
        }
        let headers = Self.headers(checks, decision)
        guard decision.allowed, decision.blockedIndex == nil else {
            let blocked = decision.blockedIndex ?? 0
            let check = checks[blocked]
            var error = GatewayError.rateLimited(
                Self.message(check, retryAfter: decision.retryAfterMilliseconds), headers: Self.refusalHeaders(checks, decision, blocked: blocked))
            if let wait = decision.retryAfterMilliseconds {
                error.headers.append(HeaderField("Retry-After", String(max(1, (wait + 999) / 1000))))
            }
            return .refused(error, blocked: check)
        }
        return .allowed(LimitLease(id: id, checks: checks, reservedTokens: reservedTokens), headers: headers)
    }

    /// Settles a lease with the tokens really used (the difference goes back to, or is taken
    /// from, the token counters) and ends its concurrency slot. Never throws.
    /// ``settle(_:usedTokens:)`` at once, when the backend's counters are in this process;
    /// false when it must be settled in the background.
    public func settleImmediately(_ lease: LimitLease, usedTokens: Int) -> Bool {
        backend.settleImmediately(lease.checks, lease: lease.id, tokenDelta: usedTokens - lease.reservedTokens)
    }

    public func settle(_ lease: LimitLease, usedTokens: Int) async {
        do {
            try await backend.settle(lease.checks, lease: lease.id, tokenDelta: usedTokens - lease.reservedTokens)
        } catch {
            onBackendFailure(error)
        }
    }

    static func message(_ check: LimitCheck, retryAfter: Int?) -> String {
        let what: String =
            switch check.kind {
            case .requests: "\(check.limit) requests per minute"
            case .tokens: "\(check.limit) tokens per minute"
            case .tokensPerDay: "\(check.limit) tokens per day"
            case .concurrent: "\(check.limit) concurrent requests"
            }
        if retryAfter == nil {
            return "Rate limit of \(what) for \(check.label): this request needs \(check.cost) tokens, more than the limit allows."
        }
        return "Rate limit of \(what) reached for \(check.label)."
    }

    /// `x-ratelimit-*` headers of the tightest request and token limits.
    static func headers(_ checks: [LimitCheck], _ decision: LimitDecision) -> [HeaderField] {
        guard decision.remaining.count == checks.count else { return [] }
        var headers: [HeaderField] = []
        headers.reserveCapacity(6)
        for kind in HeaderKind.all {
            // The first of the tightest, as `min(by:)` would choose.
            var tightest = -1
            for index in checks.indices where kind.covers(checks[index].kind) {
                if tightest < 0 || decision.remaining[index] < decision.remaining[tightest] { tightest = index }
            }
            guard tightest >= 0 else { continue }
            headers.append(HeaderField(kind.limit, String(checks[tightest].limit)))
            headers.append(HeaderField(kind.remaining, String(max(0, decision.remaining[tightest]))))
            headers.append(HeaderField(kind.reset, formatReset(decision.resetMilliseconds[tightest])))
        }
        return headers
    }

    /// The two families of `x-ratelimit-*` headers, their names made once.
    struct HeaderKind: Sendable {
        let tokens: Bool
        let limit: String
        let remaining: String
        let reset: String

        init(_ suffix: String, tokens: Bool) {
            self.tokens = tokens
            limit = "x-ratelimit-limit-" + suffix
            remaining = "x-ratelimit-remaining-" + suffix
            reset = "x-ratelimit-reset-" + suffix
        }

        func covers(_ kind: LimitCheck.Kind) -> Bool {
            switch kind {
            case .requests: !tokens
            case .tokens, .tokensPerDay: tokens
            case .concurrent: false
            }
        }

        static let all = [HeaderKind("requests", tokens: false), HeaderKind("tokens", tokens: true)]
    }

    /// `x-ratelimit-*` headers of a refusal: the refusing limit for its kind (nothing left of
    /// it for this request, reset when the request could pass), the tightest of the other kind
    /// where the backend reported the levels.
    static func refusalHeaders(_ checks: [LimitCheck], _ decision: LimitDecision, blocked: Int) -> [HeaderField] {
        var headers: [HeaderField] = []
        let known = decision.remaining.count == checks.count && decision.resetMilliseconds.count == checks.count
        for (kinds, suffix) in [([LimitCheck.Kind.requests], "requests"), ([.tokens, .tokensPerDay], "tokens")] {
            let indices = checks.indices.filter { kinds.contains(checks[$0].kind) }
            if indices.contains(blocked) {
                let check = checks[blocked]
                let reset =
                    decision.retryAfterMilliseconds
                    ?? (known ? decision.resetMilliseconds[blocked] : (check.kind == .tokensPerDay ? 86_400_000 : 60_000))
                headers.append(HeaderField("x-ratelimit-limit-\(suffix)", String(check.limit)))
                headers.append(
                    HeaderField("x-ratelimit-remaining-\(suffix)", String(known ? max(0, min(decision.remaining[blocked], check.cost - 1)) : 0)))
                headers.append(HeaderField("x-ratelimit-reset-\(suffix)", formatReset(reset)))
            } else if known, let tightest = indices.min(by: { decision.remaining[$0] < decision.remaining[$1] }) {
                headers.append(HeaderField("x-ratelimit-limit-\(suffix)", String(checks[tightest].limit)))
                headers.append(HeaderField("x-ratelimit-remaining-\(suffix)", String(max(0, decision.remaining[tightest]))))
                headers.append(HeaderField("x-ratelimit-reset-\(suffix)", formatReset(decision.resetMilliseconds[tightest])))
            }
        }
        return headers
    }

    /// OpenAI's style: `20ms`, `1s`, `6m0s`.
    static func formatReset(_ milliseconds: Int) -> String {
        if milliseconds < 1000 { return "\(max(0, milliseconds))ms" }
        let seconds = (milliseconds + 999) / 1000
        if seconds < 60 { return "\(seconds)s" }
        if seconds < 3600 { return "\(seconds / 60)m\(seconds % 60)s" }
        return "\(seconds / 3600)h\(seconds % 3600 / 60)m\(seconds % 60)s"
    }
}

/// Counters in this process: token buckets for per-minute limits, UTC-day counters, and
/// concurrency leases that expire (so a crashed request cannot hold a slot forever).
///
/// Counters are keyed by scope values that callers choose (`user`, end users), so idle ones
/// are evicted: at most once per ``sweepInterval`` a sweep drops every bucket that has
/// refilled (a missing bucket reads as full, so nothing is forgotten), every day counter of
/// an earlier day and every expired lease.
public final class MemoryRateLimitBackend: RateLimitBackend {
    struct Bucket {
        var value: Double
        var updatedAt: Double
        /// When the bucket is full again (then it is the same as no bucket).
        var fullAt: Double
    }

    /// The concurrency leases of one key: their expiries, and a time before which none has
    /// expired (the earliest expiry when last computed; ending a lease leaves it a lower bound).
    /// Counting the active leases reads the count until that time comes, instead of going
    /// through every lease on every request (quadratic at a thousand concurrent streams).
    struct Leases {
        var expiries: [String: Double] = [:]
        var noneExpiredBefore = Double.infinity

        /// The active leases' count, dropping expired ones when some may have expired.
        mutating func active(now: Double) -> Int {
            if now >= noneExpiredBefore {
                expiries = expiries.filter { $0.value > now }
                noneExpiredBefore = expiries.values.min() ?? .infinity
            }
            return expiries.count
        }

        mutating func add(_ lease: String, expiresAt: Double) {
            expiries[lease] = expiresAt
            noneExpiredBefore = min(noneExpiredBefore, expiresAt)
        }
    }

    struct State {
        var buckets: [String: Bucket] = [:]
        var days: [String: (day: Int64, used: Int)] = [:]
        var leases: [String: Leases] = [:]
        var sweptAt: Double = 0

        mutating func sweep(now: Double, day: Int64) {
            buckets = buckets.filter { $0.value.fullAt > now }
            days = days.filter { $0.value.day == day }
            leases = leases.compactMapValues { slots in
                var slots = slots
                return slots.active(now: now) == 0 ? nil : slots
            }
            sweptAt = now
        }
    }

    /// Milliseconds between sweeps of idle counters.
    static let sweepInterval: Double = 60_000

    /// Counters held (buckets, day counters, keys with leases), for tests and metrics.
    public var counterCount: Int { state.withLock { $0.buckets.count + $0.days.count + $0.leases.count } }

    private let state = Mutex(State())
    private let now: @Sendable () -> Double

    /// `now`: milliseconds on any monotonic or wall clock (injected in tests).
    public init(now: @escaping @Sendable () -> Double = { WallClock.unixTime() * 1000 }) {
        self.now = now
    }

    public func acquire(_ checks: [LimitCheck], lease: String, leaseSeconds: Int) async throws -> LimitDecision {
        let now = self.now()
        let day = Int64(now / 86_400_000)
        let untilTomorrow = Int(Double(day + 1) * 86_400_000 - now)
        return state.withLock { state in
            if now - state.sweptAt >= Self.sweepInterval { state.sweep(now: now, day: day) }
            var levels: [Double] = []
            var refusal: LimitDecision?
            for (index, check) in checks.enumerated() {
                switch check.kind {
                case .requests, .tokens:
                    let bucket = state.buckets[check.key] ?? Bucket(value: Double(check.capacity), updatedAt: now, fullAt: now)
                    let level = min(Double(check.capacity), bucket.value + (now - bucket.updatedAt) * check.ratePerMillisecond)
                    levels.append(level)
                    if refusal == nil, level < Double(check.cost) {
                        let wait = check.cost > check.capacity ? nil : Int(((Double(check.cost) - level) / check.ratePerMillisecond).rounded(.up))
                        refusal = LimitDecision(allowed: false, blockedIndex: index, retryAfterMilliseconds: wait)
                    }
                case .tokensPerDay:
                    let used = state.days[check.key].map { $0.day == day ? $0.used : 0 } ?? 0
                    levels.append(Double(used))
                    if refusal == nil, used + check.cost > check.limit {
                        refusal = LimitDecision(
                            allowed: false, blockedIndex: index, retryAfterMilliseconds: check.cost > check.limit ? nil : untilTomorrow)
                    }
                case .concurrent:
                    let active = state.leases[check.key]?.active(now: now) ?? 0
                    levels.append(Double(active))
                    if refusal == nil, active + 1 > check.limit {
                        refusal = LimitDecision(allowed: false, blockedIndex: index, retryAfterMilliseconds: 1000)
                    }
                }
            }
            if var refusal {
                // Nothing is taken; the headers still say where every limit stands.
                for (index, check) in checks.enumerated() {
                    switch check.kind {
                    case .requests, .tokens:
                        refusal.remaining.append(Int(levels[index].rounded(.down)))
                        refusal.resetMilliseconds.append(Int(((Double(check.capacity) - levels[index]) / check.ratePerMillisecond).rounded(.up)))
                    case .tokensPerDay:
                        refusal.remaining.append(max(0, check.limit - Int(levels[index])))
                        refusal.resetMilliseconds.append(untilTomorrow)
                    case .concurrent:
                        refusal.remaining.append(max(0, check.limit - Int(levels[index])))
                        refusal.resetMilliseconds.append(0)
                    }
                }
                return refusal
            }
            var decision = LimitDecision(allowed: true)
            for (index, check) in checks.enumerated() {
                switch check.kind {
                case .requests, .tokens:
                    let level = levels[index] - Double(check.cost)
                    state.buckets[check.key] = Bucket(
                        value: level, updatedAt: now, fullAt: now + (Double(check.capacity) - level) / check.ratePerMillisecond)
                    decision.remaining.append(Int(level.rounded(.down)))
                    decision.resetMilliseconds.append(Int(((Double(check.capacity) - level) / check.ratePerMillisecond).rounded(.up)))
                case .tokensPerDay:
                    let used = Int(levels[index]) + check.cost
                    state.days[check.key] = (day, used)
                    decision.remaining.append(check.limit - used)
                    decision.resetMilliseconds.append(untilTomorrow)
                case .concurrent:
                    state.leases[check.key, default: Leases()].add(lease, expiresAt: now + Double(leaseSeconds) * 1000)
                    decision.remaining.append(check.limit - Int(levels[index]) - 1)
                    decision.resetMilliseconds.append(0)
                }
            }
            return decision
        }
    }

    public func settle(_ checks: [LimitCheck], lease: String, tokenDelta: Int) async throws {
        _ = settleImmediately(checks, lease: lease, tokenDelta: tokenDelta)
    }

    public func settleImmediately(_ checks: [LimitCheck], lease: String, tokenDelta: Int) -> Bool {
        let now = self.now()
        let day = Int64(now / 86_400_000)
        state.withLock { state in
            for check in checks {
                switch check.kind {
                case .requests:
                    break
                case .tokens:
                    guard tokenDelta != 0, var bucket = state.buckets[check.key] else { continue }
                    bucket.value = min(Double(check.capacity), bucket.value + (now - bucket.updatedAt) * check.ratePerMillisecond)
                    bucket.value -= Double(tokenDelta)
                    bucket.updatedAt = now
                    bucket.fullAt = now + max(0, Double(check.capacity) - bucket.value) / check.ratePerMillisecond
                    state.buckets[check.key] = bucket
                case .tokensPerDay:
                    guard tokenDelta != 0, let entry = state.days[check.key], entry.day == day else { continue }
                    state.days[check.key] = (day, max(0, entry.used + tokenDelta))
                case .concurrent:
                    state.leases[check.key]?.expiries[lease] = nil
                    if state.leases[check.key]?.expiries.isEmpty == true { state.leases[check.key] = nil }
                }
            }
        }
        return true
    }
}

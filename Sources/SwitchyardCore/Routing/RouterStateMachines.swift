import Foundation

/// The router's small state machines. Each is a value type driven by explicit instants, so
/// tests step them with a manual clock and no sleeping.

/// A deployment's circuit breaker: closed → open after too many failures → half-open after
/// the cooldown, where a few probes decide between closed and open again.
public struct CircuitBreaker: Sendable {
    public enum State: String, Sendable, Equatable {
        case closed
        case open
        case halfOpen = "half_open"

        /// Gauge value: 0 closed, 1 half-open, 2 open.
        public var gaugeValue: Int {
            switch self {
            case .closed: 0
            case .halfOpen: 1
            case .open: 2
            }
        }
    }

    public let settings: BreakerSettings
    public private(set) var state: State = .closed
    public private(set) var openedAt: ContinuousClock.Instant?
    private var consecutiveFailures = 0
    private var probesInFlight = 0
    private var probeSuccesses = 0
    /// Outcomes in the rate window, in ten buckets.
    private var buckets: [(start: ContinuousClock.Instant, successes: Int, failures: Int)] = []

    public init(settings: BreakerSettings) {
        self.settings = settings
    }

    /// Whether a request may go to this deployment now, without taking a probe slot.
    public func isAvailable(at now: ContinuousClock.Instant) -> Bool {
        guard settings.enabled else { return true }
        switch state {
        case .closed: return true
        case .open: return now >= (openedAt ?? now) + settings.cooldown
        case .halfOpen: return probesInFlight < settings.halfOpenProbes
        }
    }

    /// When an open breaker lets probes through.
    public func retryAt() -> ContinuousClock.Instant? {
        guard state == .open, let openedAt else { return nil }
        return openedAt + settings.cooldown
    }

    /// Called when a request is sent; returns false when the breaker refuses it.
    public mutating func acquire(at now: ContinuousClock.Instant) -> Bool {
        guard settings.enabled else { return true }
        switch state {
        case .closed:
            return true
        case .open:
            guard now >= (openedAt ?? now) + settings.cooldown else { return false }
            state = .halfOpen
            probesInFlight = 1
            probeSuccesses = 0
            return true
        case .halfOpen:
            guard probesInFlight < settings.halfOpenProbes else { return false }
            probesInFlight += 1
            return true
        }
    }

    /// Records the outcome of a request that `acquire` let through. `healthFailure` is true
    /// for failures that say something about the deployment (connection, timeout, 5xx).
    public mutating func record(healthFailure: Bool, at now: ContinuousClock.Instant) {
        guard settings.enabled else { return }
        switch state {
        case .halfOpen:
            probesInFlight = max(0, probesInFlight - 1)
            if healthFailure {
                trip(at: now)
            } else {
                probeSuccesses += 1
                if probeSuccesses >= settings.halfOpenProbes { reset() }
            }
        case .open:
            // A request sent before the breaker opened finished now; it changes nothing.
            break
        case .closed:
            addToWindow(failure: healthFailure, at: now)
            if healthFailure {
                consecutiveFailures += 1
                if consecutiveFailures >= settings.consecutiveFailures || windowFailureRateExceeded(at: now) { trip(at: now) }
            } else {
                consecutiveFailures = 0
            }
        }
    }

    /// Opens the breaker because another instance opened it; probes start at `retryAt`.
    public mutating func forceOpen(retryAt: ContinuousClock.Instant) {
        guard settings.enabled else { return }
        trip(at: retryAt - settings.cooldown)
    }

    /// An active health check's verdict, outside the request flow.
    public mutating func recordProbe(healthy: Bool, at now: ContinuousClock.Instant) {
        guard settings.enabled else { return }
        if healthy {
            if state != .closed { reset() }
        } else if state == .closed {
            record(healthFailure: true, at: now)
        } else {
            trip(at: now)
        }
    }

    /// Releases a probe slot without an outcome (the client went away).
    public mutating func release() {
        if state == .halfOpen { probesInFlight = max(0, probesInFlight - 1) }
    }

    private mutating func trip(at now: ContinuousClock.Instant) {
        state = .open
        openedAt = now
        probesInFlight = 0
        probeSuccesses = 0
        consecutiveFailures = 0
        buckets.removeAll()
    }

    private mutating func reset() {
        state = .closed
        openedAt = nil
        consecutiveFailures = 0
        probesInFlight = 0
        buckets.removeAll()
    }

    private mutating func addToWindow(failure: Bool, at now: ContinuousClock.Instant) {
        let window = settings.window
        let bucketLength = window / 10
        buckets.removeAll { now - $0.start >= window }
        if let last = buckets.last, now - last.start < bucketLength {
            if failure { buckets[buckets.count - 1].failures += 1 } else { buckets[buckets.count - 1].successes += 1 }
        } else {
            buckets.append((now, failure ? 0 : 1, failure ? 1 : 0))
        }
    }

    private func windowFailureRateExceeded(at now: ContinuousClock.Instant) -> Bool {
        var failures = 0
        var total = 0
        for bucket in buckets where now - bucket.start < settings.window {
            failures += bucket.failures
            total += bucket.successes + bucket.failures
        }
        return total >= settings.minimumRequests && Double(failures) / Double(total) >= settings.failureRate
    }
}

/// Peak-EWMA latency (as in Finagle and Linkerd): a sample above the average replaces it at
/// once, lower samples pull it down with a time-based decay, so a deployment that turns slow
/// is avoided immediately and earns traffic back gradually.
public struct PeakEWMA: Sendable {
    /// Decay time constant.
    public let decay: Duration
    public private(set) var value: Double?
    private var updatedAt: ContinuousClock.Instant?

    public init(decay: Duration = .seconds(10)) {
        self.decay = decay
    }

    /// Adds a latency sample in seconds.
    public mutating func observe(_ sample: Double, at now: ContinuousClock.Instant) {
        guard let current = value, let last = updatedAt else {
            value = sample
            updatedAt = now
            return
        }
        if sample > current {
            value = sample
        } else {
            let elapsed = max(0, durationSeconds(now - last))
            let weight = exp(-elapsed / durationSeconds(decay))
            value = current * weight + sample * (1 - weight)
        }
        updatedAt = now
    }

    /// The load score the latency strategy compares: latency × (requests in flight + 1).
    /// Deployments without samples score as the given default, so they get tried.
    public func score(outstanding: Int, unknown: Double) -> Double {
        (value ?? unknown) * Double(outstanding + 1)
    }
}

public func durationSeconds(_ duration: Duration) -> Double {
    let (whole, attoseconds) = duration.components
    return Double(whole) + Double(attoseconds) / 1e18
}

/// Limits retries to a share of the traffic (a token bucket filled by requests): every request
/// deposits `ratio` tokens, every retry spends one, and `minPerSecond` retries are always
/// allowed, so a failing upstream cannot turn into a retry storm.
public struct RetryBudget: Sendable {
    public let ratio: Double
    public let minPerSecond: Double
    private var tokens: Double = 0
    private var reserve: Double
    private var reserveUpdatedAt: ContinuousClock.Instant?
    /// Bounds the deposit so a long quiet period cannot fund a burst of retries.
    private let maxTokens: Double

    public init(ratio: Double, minPerSecond: Double) {
        self.ratio = ratio
        self.minPerSecond = minPerSecond
        self.reserve = minPerSecond
        self.maxTokens = max(10, ratio * 1000)
    }

    public mutating func deposit() {
        tokens = min(maxTokens, tokens + ratio)
    }

    /// Takes one retry from the budget; false when it is spent.
    public mutating func withdraw(at now: ContinuousClock.Instant) -> Bool {
        if let last = reserveUpdatedAt {
            reserve = min(minPerSecond, reserve + durationSeconds(now - last) * minPerSecond)
        }
        reserveUpdatedAt = now
        if tokens >= 1 {
            tokens -= 1
            return true
        }
        if reserve >= 1 {
            reserve -= 1
            return true
        }
        return false
    }
}

/// Requests and tokens over the last minute in one-second buckets (RPM/TPM capacity).
public struct MinuteWindow: Sendable {
    private var seconds = [Int64](repeating: -1, count: 60)
    private var requests = [Int](repeating: 0, count: 60)
    private var tokens = [Int](repeating: 0, count: 60)

    public init() {}

    private mutating func slot(_ second: Int64) -> Int {
        let index = Int(second % 60)
        if seconds[index] != second {
            seconds[index] = second
            requests[index] = 0
            tokens[index] = 0
        }
        return index
    }

    public mutating func addRequest(atSecond second: Int64) {
        requests[slot(second)] += 1
    }

    public mutating func addTokens(_ count: Int, atSecond second: Int64) {
        tokens[slot(second)] += count
    }

    public func totals(atSecond second: Int64) -> (requests: Int, tokens: Int) {
        var totalRequests = 0
        var totalTokens = 0
        for index in 0..<60 where seconds[index] > second - 60 && seconds[index] <= second {
            totalRequests += requests[index]
            totalTokens += tokens[index]
        }
        return (totalRequests, totalTokens)
    }
}

/// A small, fast, seedable generator (SplitMix64) for the router's random choices.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) {
        self.state = seed
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// FNV-1a: a stable hash for sticky assignment (the same input maps to the same arm on every
/// instance and across restarts, unlike `Hasher`).
public enum StableHash {
    /// A value in [0, 1) from the hash.
    public static func unit(_ parts: String...) -> Double {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for part in parts {
            for byte in part.utf8 {
                hash ^= UInt64(byte)
                hash &*= 0x0000_0100_0000_01B3
            }
            hash ^= 0xFF
            hash &*= 0x0000_0100_0000_01B3
        }
        // Final avalanche so nearby inputs spread over the whole range.
        hash ^= hash >> 33
        hash &*= 0xff51_afd7_ed55_8ccd
        hash ^= hash >> 33
        return Double(hash >> 11) / Double(1 << 53)
    }
}

/// Wall-clock time for rule windows and sunset dates.
public enum WallClock {
    public static func unixTime() -> Double { Date().timeIntervalSince1970 }
}

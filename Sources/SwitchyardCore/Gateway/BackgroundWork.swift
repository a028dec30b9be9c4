import Synchronization

/// Work the gateway does for a request after answering it: settling rate limits and budgets,
/// writing the response cache, shadow requests, semantic-index writes.
///
/// Every job is counted from ``submit(_:)`` to its end, so that shutdown drains what is in
/// flight (``drain()``, called by the server's lifecycle service before the stores close) and
/// tests wait for it with ``flush()`` instead of sleeping. Jobs run concurrently, each in its
/// own task: a slow one (a shadow request, a Redis round trip) never holds back the others.
public final class BackgroundWork: Sendable {
    private struct State: Sendable {
        var pending = 0
        var submitted = 0
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    public init() {}

    /// Jobs submitted so far (for tests and metrics).
    public var submittedCount: Int { state.withLock { $0.submitted } }

    /// Jobs not finished yet.
    public var pendingCount: Int { state.withLock { $0.pending } }

    /// Runs `operation` in the background, counted until it returns.
    public func submit(_ operation: @escaping @Sendable () async -> Void) {
        state.withLock {
            $0.pending += 1
            $0.submitted += 1
        }
        Task {
            await operation()
            self.finishOne()
        }
    }

    private func finishOne() {
        let waiters: [CheckedContinuation<Void, Never>] = state.withLock { state in
            state.pending -= 1
            guard state.pending == 0 else { return [] }
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once no job is pending, including jobs submitted by jobs while it waits.
    public func flush() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let idle = state.withLock { state in
                if state.pending == 0 { return true }
                state.waiters.append(continuation)
                return false
            }
            if idle { continuation.resume() }
        }
    }

    /// Waits for what is in flight at shutdown (the same as ``flush()``; named for the lifecycle).
    public func drain() async {
        await flush()
    }
}

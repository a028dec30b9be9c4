import Synchronization

/// A gate that a test opens: work that waits on it stays in flight until the test says so.
///
/// Tests use it instead of long sleeps and wall-clock bounds: a request held at the gate has
/// certainly not been answered, so "the client got its answer while the upstream request was
/// still held" is a fact, not a race against a timer. Every wait also ends after its `limit`, so a
/// test that fails (and never opens the gate) cannot hang; the limit bounds a failure, never a pass.
public final class HoldGate: Sendable {
    private struct State {
        var isOpen = false
        var nextID = 0
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        /// Waits ended (by cancellation or their limit) before they had parked.
        var endedEarly: Set<Int> = []
        var waiting = 0
        var released = 0
        var cancelled = 0
    }

    private let state = Mutex(State())

    public init(open: Bool = false) {
        state.withLock { $0.isOpen = open }
    }

    /// Waits parked at the gate now.
    public var waiting: Int { state.withLock { $0.waiting } }
    /// Waits that have ended and let their work go on: the gate was or became open, or the
    /// wait's limit ran out. Zero means nothing held here has been answered yet.
    public var released: Int { state.withLock { $0.released } }
    /// Waits ended because their task was cancelled (the requester gave up, e.g. on a timeout).
    public var cancelled: Int { state.withLock { $0.cancelled } }

    /// Opens the gate: every parked wait goes on, and later ones pass at once.
    public func open() {
        let parked = state.withLock { state in
            state.isOpen = true
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for continuation in parked { continuation.resume() }
    }

    /// Closes the gate again for waits that come later.
    public func close() {
        state.withLock { $0.isOpen = false }
    }

    /// Waits until the gate is open, the task is cancelled or `limit` has passed.
    /// Returns whether the gate opened (false: cancelled or the limit ran out).
    @discardableResult
    public func wait(limit: Duration) async -> Bool {
        let id: Int? = state.withLock { state in
            if state.isOpen {
                state.released += 1
                return nil
            }
            state.nextID += 1
            state.waiting += 1
            return state.nextID
        }
        guard let id else { return true }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.park(id) }
            group.addTask {
                try? await Task.sleep(for: limit)
                self.end(id)
            }
            await group.next()
            group.cancelAll()
            self.end(id)
        }
        let wasCancelled = Task.isCancelled
        return state.withLock { state in
            state.waiting -= 1
            state.endedEarly.remove(id)
            if wasCancelled { state.cancelled += 1 } else { state.released += 1 }
            return state.isOpen
        }
    }

    private func park(_ id: Int) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let goOn = state.withLock { state in
                    if state.isOpen || state.endedEarly.remove(id) != nil { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if goOn { continuation.resume() }
            }
        } onCancel: {
            end(id)
        }
    }

    /// Ends one wait (its limit passed or it was cancelled); harmless when it already ended.
    private func end(_ id: Int) {
        let continuation = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if let parked = state.waiters.removeValue(forKey: id) { return parked }
            state.endedEarly.insert(id)
            return nil
        }
        continuation?.resume()
    }
}

import NIOCore
import Synchronization

/// Notices when a client closes its side of the connection while a request is in flight.
///
/// Hummingbird allows half-closed connections and reads the next request only after the
/// current response, so a client that hangs up during a long upstream wait is otherwise seen
/// only at the next write. This handler sits in every connection's pipeline and completes
/// `clientGone` on the first input close or channel inactivity, so the gateway can cancel the
/// upstream call at once.
final class DisconnectDetector: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    typealias InboundIn = NIOAny
    typealias InboundOut = NIOAny

    private let promise = Mutex<EventLoopPromise<Void>?>(nil)
    private let futureBox = Mutex<EventLoopFuture<Void>?>(nil)

    init() {}

    /// Completes when the client has gone away.
    var clientGone: EventLoopFuture<Void>? { futureBox.withLock { $0 } }

    func handlerAdded(context: ChannelHandlerContext) {
        let promise = context.eventLoop.makePromise(of: Void.self)
        self.promise.withLock { $0 = promise }
        futureBox.withLock { $0 = promise.futureResult }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        fire()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.fireChannelRead(data)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let channelEvent = event as? ChannelEvent, channelEvent == .inputClosed {
            fire()
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        fire()
        context.fireChannelInactive()
    }

    private func fire() {
        let pending = promise.withLock { promise -> EventLoopPromise<Void>? in
            defer { promise = nil }
            return promise
        }
        pending?.succeed()
    }
}

/// Runs `operation`, cancelling it as soon as `clientGone` completes. The operation's result
/// is always returned (a cancelled gateway call answers 499 and records it).
func withCancellationOnDisconnect<T: Sendable>(
    _ clientGone: EventLoopFuture<Void>?,
    _ operation: @escaping @Sendable () async -> T
) async -> T {
    guard let clientGone else { return await operation() }
    return await withTaskGroup(of: T?.self) { group in
        group.addTask { await operation() }
        group.addTask {
            let latch = Latch()
            clientGone.whenComplete { _ in latch.open() }
            await withTaskCancellationHandler {
                await latch.wait()
            } onCancel: {
                latch.open()
            }
            return nil
        }
        var result: T? = nil
        while let next = await group.next() {
            if let next { result = next }
            group.cancelAll()
        }
        return result!
    }
}

/// A one-shot gate: `wait` returns once `open` has been called (before or after).
final class Latch: Sendable {
    private enum State {
        case closed([CheckedContinuation<Void, Never>])
        case open
    }

    private let state = Mutex(State.closed([]))

    func open() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            switch state {
            case .open: return []
            case .closed(let waiters):
                state = .open
                return waiters
            }
        }
        for waiter in waiters { waiter.resume() }
    }

    func wait() async {
        await withCheckedContinuation { continuation in
            let resumeNow = state.withLock { state -> Bool in
                switch state {
                case .open: return true
                case .closed(var waiters):
                    waiters.append(continuation)
                    state = .closed(waiters)
                    return false
                }
            }
            if resumeNow { continuation.resume() }
        }
    }
}

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

    private struct State {
        var promise: EventLoopPromise<Void>?
        var future: EventLoopFuture<Void>?
        var gone = false
        /// What to call when the client goes, by token: what a request in flight registered
        /// (``onClientGone(_:)``) and has not yet removed.
        var handlers: [Int: @Sendable () -> Void] = [:]
        var nextToken = 0
    }
    private let state = Mutex(State())

    init() {}

    /// Completes when the client has gone away.
    var clientGone: EventLoopFuture<Void>? { state.withLock { $0.future } }

    /// Calls `handler` once when the client goes away, until ``remove(_:)`` takes it back; nil
    /// (and `handler` called now) when it is gone already. Unlike a callback on ``clientGone``,
    /// which stays until the connection closes, a removed handler is released at once: a
    /// keep-alive connection that carries thousands of requests does not gather one per request.
    func onClientGone(_ handler: @escaping @Sendable () -> Void) -> Int? {
        let token = state.withLock { state -> Int? in
            guard !state.gone else { return nil }
            state.nextToken += 1
            state.handlers[state.nextToken] = handler
            return state.nextToken
        }
        if token == nil { handler() }
        return token
    }

    func remove(_ token: Int) {
        _ = state.withLock { $0.handlers.removeValue(forKey: token) }
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let promise = context.eventLoop.makePromise(of: Void.self)
        state.withLock { state in
            state.promise = promise
            state.future = promise.futureResult
        }
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
        let (pending, handlers) = state.withLock { state -> (EventLoopPromise<Void>?, [@Sendable () -> Void]) in
            defer {
                state.promise = nil
                state.handlers = [:]
                state.gone = true
            }
            return (state.promise, Array(state.handlers.values))
        }
        pending?.succeed()
        for handler in handlers { handler() }
    }

    /// Handlers registered and not removed (tests).
    var registeredHandlers: Int { state.withLock { $0.handlers.count } }

    /// The detector in `channel`'s pipeline: looked up synchronously when already on the
    /// channel's loop (a request handler is, with Swift's jobs on the event loops).
    static func of(_ channel: any Channel) async -> DisconnectDetector? {
        channel.eventLoop.inEventLoop
            ? try? channel.pipeline.syncOperations.handler(type: DisconnectDetector.self)
            : try? await channel.pipeline.handler(type: DisconnectDetector.self).get()
    }
}

/// Runs `operation`, cancelling it as soon as the client goes away (`detector`). The operation's
/// result is always returned (a cancelled gateway call answers 499 and records it).
///
/// The operation runs in a task of its own that the detector's handler cancels; the handler is
/// removed when the operation returns.
func withCancellationOnDisconnect<T: Sendable>(
    _ detector: DisconnectDetector?,
    _ operation: @escaping @Sendable () async -> T
) async -> T {
    guard let detector else { return await operation() }
    let task = Task { await operation() }
    let token = detector.onClientGone { task.cancel() }
    defer { if let token { detector.remove(token) } }
    return await withTaskCancellationHandler {
        await task.value
    } onCancel: {
        task.cancel()
    }
}

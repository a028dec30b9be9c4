import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import SwitchyardCore
import Synchronization

/// Why an exchange with a provider failed below HTTP (mapped to 502/504 by
/// ``HTTPTransport/gatewayError(for:provider:)``).
enum UpstreamHTTPError: Error, Equatable, Sendable {
    case invalidURL
    case connectTimeout
    case connectFailed
    case readTimeout
    case deadlineExceeded
    case remoteConnectionClosed
    case cancelled
    case tlsFailure
    case invalidResponse
    case shutDown
}

/// One request to a provider: the absolute URL, the headers (the client adds `Host` and
/// `Content-Length`) and the whole body.
struct UpstreamHTTPRequest: Sendable {
    var method: HTTPMethod = .POST
    var url: String
    var headers: HTTPHeaders
    var body: ByteBuffer?

    init(url: String, headers: HTTPHeaders = [:], body: ByteBuffer? = nil) {
        self.url = url
        self.headers = headers
        self.body = body
    }
}

/// The gateway's own HTTP/1.1 client for provider traffic: a keep-alive connection pool per
/// host on SwiftNIO, with nothing on the request path that the gateway does not need.
///
/// Why not AsyncHTTPClient here: profiling the pass-through path showed about a fifth of the
/// gateway's CPU inside AsyncHTTPClient's per-request machinery (URL parsing through
/// Foundation, header validation, its request state machines and separate head and body
/// writes). This client writes head and body in one flush, parses the answer with NIO's
/// decoder, prefers a pooled connection on the event loop the calling task already runs on
/// (so a request never changes threads), and hands the body over without copying it.
///
/// What it does: HTTP and HTTPS (TLS through NIOSSL, system trust roots, SNI), a pool per
/// scheme/host/port bounded by `maxConnectionsPerHost` (callers beyond it wait in order), idle
/// connections closed after `idleTimeout`, a connect timeout, a read timeout between bytes, the
/// caller's deadline over the whole exchange (streams included), backpressure (reading stops
/// while the consumer is behind), and cancellation (a cancelled task or an abandoned body
/// closes its connection). A request that fails because a reused keep-alive connection turned
/// out to be closed by the server before any byte of the answer is retried on a new connection,
/// as the request cannot have been processed.
final class UpstreamHTTPClient: Sendable {
    struct Configuration: Hashable, Sendable {
        var maxConnectionsPerHost: Int
        var connectTimeout: TimeAmount
        var readTimeout: TimeAmount
        var idleTimeout: TimeAmount = .seconds(60)
        /// Buffered body bytes past which the client stops reading from the socket.
        var highWatermark = 256 * 1024
    }

    struct PoolKey: Hashable, Sendable {
        var tls: Bool
        var host: String
        var port: Int
    }

    let group: any EventLoopGroup
    let configuration: Configuration
    private let pools = Mutex<[PoolKey: UpstreamConnectionPool]>([:])
    private let tls = Mutex<NIOSSLContext?>(nil)

    init(group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, configuration: Configuration) {
        self.group = group
        self.configuration = configuration
    }

    /// Sends `request` and returns once the answer's head arrived; the body streams after, its
    /// failures passed through `mapError`.
    func execute(
        _ request: UpstreamHTTPRequest, deadline: NIODeadline, mapError: @escaping @Sendable (any Error) -> any Error = { $0 }
    ) async throws -> UpstreamResponse {
        let route = try self.route(request.url)
        let url = route.url
        let pool = route.pool
        var headers = request.headers
        headers.replaceOrAdd(name: "host", value: route.hostHeader)
        if let body = request.body {
            headers.replaceOrAdd(name: "content-length", value: String(body.readableBytes))
        } else if request.method == .POST || request.method == .PUT {
            headers.replaceOrAdd(name: "content-length", value: "0")
        }
        let head = HTTPRequestHead(version: .http1_1, method: request.method, uri: url.target, headers: headers)
        var attempt = 0
        while true {
            attempt += 1
            try Task.checkCancellation()
            let connection = try await pool.lease(deadline: deadline)
            let exchange = UpstreamExchange(connection: connection, highWatermark: configuration.highWatermark)
            do {
                let responseHead = try await exchange.start(head: head, body: request.body, readTimeout: configuration.readTimeout, deadline: deadline)
                let body = UpstreamResponseBody(exchange)
                return UpstreamResponse(
                    status: Int(responseHead.status.code),
                    headers: responseHead.headers.map { HeaderField($0.name, $0.value) },
                    body: ByteStream {
                        {
                            do {
                                return try await body.next()
                            } catch {
                                throw mapError(error)
                            }
                        }
                    }
                )
            } catch UpstreamHTTPError.remoteConnectionClosed where connection.reused && !exchange.receivedAnything && attempt <= configuration.maxConnectionsPerHost {
                // A stale keep-alive connection: the server never saw the request. Each failed
                // one is closed, so the next lease gets another idle one or a new one; a server that
                // dropped all its keep-alive connections at once costs one attempt per connection.
                continue
            }
        }
    }

    /// Closes every connection and fails waiting requests; call once at shutdown.
    func shutdown() async {
        routes.withLock { $0.removeAll() }
        let all = pools.withLock { pools in
            let values = Array(pools.values)
            pools.removeAll()
            return values
        }
        for pool in all { pool.shutdown() }
    }

    /// A URL's parts, its `Host` header and its pool, by the URL as adapters write it: every
    /// request to a deployment sends to one of a few URLs, parsed once. Bounded (passthrough
    /// paths come from clients): emptied when full.
    private struct Route: Sendable {
        let url: UpstreamURL
        let hostHeader: String
        let pool: UpstreamConnectionPool
    }
    private let routes = Mutex<[String: Route]>([:])
    static let maximumRoutes = 1024

    private func route(_ string: String) throws -> Route {
        if let known = routes.withLock({ $0[string] }) { return known }
        guard let url = UpstreamURL(string) else { throw UpstreamHTTPError.invalidURL }
        let route = Route(url: url, hostHeader: url.hostHeader, pool: try pool(for: url))
        routes.withLock { routes in
            if routes.count >= Self.maximumRoutes { routes.removeAll(keepingCapacity: true) }
            routes[string] = route
        }
        return route
    }

    private func pool(for url: UpstreamURL) throws -> UpstreamConnectionPool {
        let key = PoolKey(tls: url.tls, host: url.host, port: url.port)
        if let pool = pools.withLock({ $0[key] }) { return pool }
        let context = url.tls ? try tlsContext() : nil
        return pools.withLock { pools in
            if let pool = pools[key] { return pool }
            let pool = UpstreamConnectionPool(key: key, group: group, configuration: configuration, tls: context)
            pools[key] = pool
            return pool
        }
    }

    private func tlsContext() throws -> NIOSSLContext {
        try tls.withLock { cached in
            if let cached { return cached }
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.applicationProtocols = ["http/1.1"]
            let context = try NIOSSLContext(configuration: configuration)
            cached = context
            return context
        }
    }
}

/// The connections to one scheme/host/port.
final class UpstreamConnectionPool: Sendable {
    private enum Lease {
        case reuse(UpstreamConnection)
        case connect
    }

    private struct Waiter {
        var id: Int
        var continuation: CheckedContinuation<Lease, any Error>
    }

    private struct State {
        var idle: [UpstreamConnection] = []
        /// Connections open or being opened (idle, leased or connecting).
        var open = 0
        var waiters = CircularBuffer<Waiter>()
        var nextWaiterID = 0
        var sweeperScheduled = false
        var isShutDown = false
    }

    let key: UpstreamHTTPClient.PoolKey
    let group: any EventLoopGroup
    let configuration: UpstreamHTTPClient.Configuration
    let tls: NIOSSLContext?
    private let state = Mutex(State())

    init(key: UpstreamHTTPClient.PoolKey, group: any EventLoopGroup, configuration: UpstreamHTTPClient.Configuration, tls: NIOSSLContext?) {
        self.key = key
        self.group = group
        self.configuration = configuration
        self.tls = tls
    }

    /// A connection for one exchange: an idle one (preferably on the caller's event loop), a
    /// new one while the pool is below its bound, or the next one released.
    func lease(deadline: NIODeadline) async throws -> UpstreamConnection {
        let preferred = MultiThreadedEventLoopGroup.currentEventLoop
        let immediate: Lease? = try state.withLock { state in
            if state.isShutDown { throw UpstreamHTTPError.shutDown }
            return takeWithoutWaiting(&state, preferring: preferred)
        }
        let lease: Lease
        if let immediate {
            lease = immediate
        } else {
            lease = try await waitForConnection(deadline: deadline)
        }
        switch lease {
        case .reuse(let connection):
            connection.reused = true
            return connection
        case .connect:
            do {
                return try await connect(on: preferred ?? group.next(), deadline: deadline)
            } catch {
                connectionGone()
                throw error
            }
        }
    }

    /// An idle connection, or a place to open one while the pool is below its bound; nil when
    /// the caller must wait. Called with the lock held.
    private func takeWithoutWaiting(_ state: inout State, preferring loop: (any EventLoop)?) -> Lease? {
        if let index = Self.pick(state.idle, preferring: loop) {
            return .reuse(state.idle.remove(at: index))
        }
        if state.open < configuration.maxConnectionsPerHost {
            state.open += 1
            return .connect
        }
        return nil
    }

    private static func pick(_ idle: [UpstreamConnection], preferring loop: (any EventLoop)?) -> Int? {
        guard !idle.isEmpty else { return nil }
        if let loop {
            var index = idle.count - 1
            let stop = max(0, idle.count - 16)
            while index >= stop {
                if idle[index].channel.eventLoop === loop { return index }
                index -= 1
            }
        }
        return idle.count - 1
    }

    private func waitForConnection(deadline: NIODeadline) async throws -> Lease {
        let id = state.withLock { state in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        let timeout = group.next().scheduleTask(deadline: deadline) { [self] in
            failWaiter(id, with: UpstreamHTTPError.deadlineExceeded)
        }
        defer { timeout.cancel() }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Lease, any Error>) in
                let immediate: Result<Lease, any Error>? = state.withLock { state in
                    if state.isShutDown { return .failure(UpstreamHTTPError.shutDown) }
                    // Checked under the lock that the cancellation handler also takes.
                    if Task.isCancelled { return .failure(UpstreamHTTPError.cancelled) }
                    if let lease = takeWithoutWaiting(&state, preferring: nil) { return .success(lease) }
                    state.waiters.append(Waiter(id: id, continuation: continuation))
                    return nil
                }
                if let immediate { continuation.resume(with: immediate) }
            }
        } onCancel: {
            failWaiter(id, with: UpstreamHTTPError.cancelled)
        }
    }

    private func failWaiter(_ id: Int, with error: UpstreamHTTPError) {
        let waiter: Waiter? = state.withLock { state in
            guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
            return state.waiters.remove(at: index)
        }
        waiter?.continuation.resume(throwing: error)
    }

    private func connect(on loop: any EventLoop, deadline: NIODeadline) async throws -> UpstreamConnection {
        let connectTimeout = min(configuration.connectTimeout, max(deadline - .now(), .milliseconds(1)))
        let key = self.key
        let tls = self.tls
        let highWatermark = configuration.highWatermark
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(connectTimeout)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                do {
                    let sync = channel.pipeline.syncOperations
                    if let tls {
                        let serverName = Self.isIPAddress(key.host) ? nil : key.host
                        try sync.addHandler(try NIOSSLClientHandler(context: tls, serverHostname: serverName))
                    }
                    try sync.addHTTPClientHandlers(leftOverBytesStrategy: .forwardBytes)
                    try sync.addHandler(UpstreamConnectionHandler(highWatermark: highWatermark))
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: key.host, port: key.port).get()
        } catch let error as ChannelError {
            if case .connectTimeout = error { throw UpstreamHTTPError.connectTimeout }
            throw UpstreamHTTPError.connectFailed
        } catch {
            throw UpstreamHTTPError.connectFailed
        }
        let handler: UpstreamConnectionHandler
        do {
            handler = try await channel.eventLoop.submit {
                try channel.pipeline.syncOperations.handler(type: UpstreamConnectionHandler.self)
            }.get()
        } catch {
            channel.close(promise: nil)
            throw UpstreamHTTPError.connectFailed
        }
        let connection = UpstreamConnection(channel: channel, handler: handler, pool: self)
        channel.closeFuture.whenComplete { [self] _ in closed(connection) }
        return connection
    }

    private static func isIPAddress(_ host: String) -> Bool {
        host.utf8.contains(UInt8(ascii: ":")) || host.utf8.allSatisfy { $0 == UInt8(ascii: ".") || ($0 >= 48 && $0 <= 57) }
    }

    /// An exchange ended cleanly on a keep-alive connection: it serves the next one.
    func release(_ connection: UpstreamConnection) {
        enum Next {
            case handOver(Waiter)
            case idle(scheduleSweep: Bool)
            case close
        }
        let now = NIODeadline.now()
        let next: Next = state.withLock { state in
            if connection.isClosed { return .idle(scheduleSweep: false) }  // its close already freed its place
            if state.isShutDown { return .close }
            if let waiter = state.waiters.popFirst() { return .handOver(waiter) }
            connection.idleSince = now
            state.idle.append(connection)
            if state.sweeperScheduled { return .idle(scheduleSweep: false) }
            state.sweeperScheduled = true
            return .idle(scheduleSweep: true)
        }
        switch next {
        case .handOver(let waiter): waiter.continuation.resume(returning: .reuse(connection))
        case .idle(let scheduleSweep): if scheduleSweep { scheduleSweeper() }
        case .close: connection.channel.close(promise: nil)
        }
    }

    private func closed(_ connection: UpstreamConnection) {
        state.withLock { state in
            connection.isClosed = true
            if let index = state.idle.firstIndex(where: { $0 === connection }) { state.idle.remove(at: index) }
        }
        connectionGone()
    }

    /// A connection closed or never opened: its place goes to the first waiter.
    private func connectionGone() {
        let waiter: Waiter? = state.withLock { state in
            guard let waiter = state.waiters.popFirst() else {
                state.open -= 1
                return nil
            }
            return waiter  // the place passes on: `open` stays
        }
        waiter?.continuation.resume(returning: .connect)
    }

    private func scheduleSweeper() {
        group.next().scheduleTask(in: configuration.idleTimeout) { [self] in
            let now = NIODeadline.now()
            let (expired, again): ([UpstreamConnection], Bool) = state.withLock { state in
                let limit = now - configuration.idleTimeout
                let expired = state.idle.filter { $0.idleSince <= limit }
                state.idle.removeAll { $0.idleSince <= limit }
                state.sweeperScheduled = !state.idle.isEmpty && !state.isShutDown
                return (expired, state.sweeperScheduled)
            }
            for connection in expired { connection.channel.close(promise: nil) }
            if again { scheduleSweeper() }
        }
    }

    func shutdown() {
        let (idle, waiters): ([UpstreamConnection], CircularBuffer<Waiter>) = state.withLock { state in
            state.isShutDown = true
            let result = (state.idle, state.waiters)
            state.idle.removeAll()
            state.waiters.removeAll()
            return result
        }
        for waiter in waiters { waiter.continuation.resume(throwing: UpstreamHTTPError.shutDown) }
        for connection in idle { connection.channel.close(promise: nil) }
    }
}

/// A pooled connection. `isClosed` and `idleSince` are guarded by the pool's lock; `reused` is
/// written by the task that leased it.
final class UpstreamConnection: @unchecked Sendable {
    let channel: any Channel
    /// Touched only on `channel.eventLoop`.
    let handler: UpstreamConnectionHandler
    let pool: UpstreamConnectionPool
    var isClosed = false
    var idleSince = NIODeadline.now()
    var reused = false

    init(channel: any Channel, handler: UpstreamConnectionHandler, pool: UpstreamConnectionPool) {
        self.channel = channel
        self.handler = handler
        self.pool = pool
    }
}

/// One request/response on a connection, shared between the connection's event loop (which
/// fills it) and the task that reads the answer. All state is touched only on `eventLoop`.
final class UpstreamExchange: @unchecked Sendable {
    let connection: UpstreamConnection
    let eventLoop: any EventLoop
    let highWatermark: Int

    private var headContinuation: CheckedContinuation<HTTPResponseHead, any Error>?
    private var bodyContinuation: CheckedContinuation<ByteBuffer?, any Error>?
    private var buffered = CircularBuffer<ByteBuffer>()
    private var bufferedBytes = 0
    private(set) var receivedAnything = false
    private var ended = false
    private var failure: (any Error)?

    init(connection: UpstreamConnection, highWatermark: Int) {
        self.connection = connection
        self.eventLoop = connection.channel.eventLoop
        self.highWatermark = highWatermark
    }

    var isBehind: Bool { bufferedBytes >= highWatermark }
    var isFinished: Bool { ended || failure != nil }

    // MARK: The reading task's side

    func start(head: HTTPRequestHead, body: ByteBuffer?, readTimeout: TimeAmount, deadline: NIODeadline) async throws -> HTTPResponseHead {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<HTTPResponseHead, any Error>) in
                if eventLoop.inEventLoop {
                    begin(continuation, head: head, body: body, readTimeout: readTimeout, deadline: deadline)
                } else {
                    eventLoop.execute { self.begin(continuation, head: head, body: body, readTimeout: readTimeout, deadline: deadline) }
                }
            }
        } onCancel: {
            eventLoop.execute { self.fail(UpstreamHTTPError.cancelled) }
        }
    }

    private func begin(
        _ continuation: CheckedContinuation<HTTPResponseHead, any Error>, head: HTTPRequestHead, body: ByteBuffer?, readTimeout: TimeAmount,
        deadline: NIODeadline
    ) {
        if let failure {  // cancelled before the request went out: the connection is clean
            connection.pool.release(connection)
            continuation.resume(throwing: failure)
            return
        }
        headContinuation = continuation
        connection.handler.start(self, head: head, body: body, readTimeout: readTimeout, deadline: deadline)
    }

    func next() async throws -> ByteBuffer? {
        if eventLoop.inEventLoop, let ready = try takeReady() { return ready.chunk }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<ByteBuffer?, any Error>) in
                if eventLoop.inEventLoop {
                    waitForBody(continuation)
                } else {
                    eventLoop.execute { self.waitForBody(continuation) }
                }
            }
        } onCancel: {
            eventLoop.execute { self.fail(UpstreamHTTPError.cancelled) }
        }
    }

    /// A chunk (or the end) if one is ready; nil when the reader must wait.
    private func takeReady() throws -> (chunk: ByteBuffer?, Void)? {
        if let chunk = buffered.popFirst() {
            bufferedBytes -= chunk.readableBytes
            connection.handler.consumerCaughtUp(self)
            return (chunk, ())
        }
        if let failure { throw failure }
        if ended { return (nil, ()) }
        return nil
    }

    private func waitForBody(_ continuation: CheckedContinuation<ByteBuffer?, any Error>) {
        do {
            if let ready = try takeReady() {
                continuation.resume(returning: ready.chunk)
            } else {
                bodyContinuation = continuation
            }
        } catch {
            continuation.resume(throwing: error)
        }
    }

    /// The reader dropped the body before its end: the connection cannot serve another request.
    func abandon() {
        if !isFinished {
            fail(UpstreamHTTPError.cancelled)
        }
        buffered.removeAll()
        bufferedBytes = 0
    }

    // MARK: The event loop's side

    func receiveHead(_ head: HTTPResponseHead) {
        receivedAnything = true
        headContinuation?.resume(returning: head)
        headContinuation = nil
    }

    func receiveBody(_ chunk: ByteBuffer) {
        receivedAnything = true
        if let continuation = bodyContinuation {
            bodyContinuation = nil
            continuation.resume(returning: chunk)
        } else {
            bufferedBytes += chunk.readableBytes
            buffered.append(chunk)
        }
    }

    func receiveEnd() {
        ended = true
        if let continuation = bodyContinuation {
            bodyContinuation = nil
            continuation.resume(returning: nil)
        }
    }

    /// Fails the exchange (once) and closes its connection, which cannot be reused.
    func fail(_ error: any Error) {
        guard !isFinished else { return }
        failure = error
        if let continuation = headContinuation {
            headContinuation = nil
            continuation.resume(throwing: error)
        }
        if let continuation = bodyContinuation {
            bodyContinuation = nil
            continuation.resume(throwing: error)
        }
        connection.handler.exchangeFailed(self)
    }
}

/// Owns the reading side of an exchange; dropping it before the end closes the connection.
final class UpstreamResponseBody: Sendable {
    let exchange: UpstreamExchange

    init(_ exchange: UpstreamExchange) {
        self.exchange = exchange
    }

    func next() async throws -> ByteBuffer? {
        try await exchange.next()
    }

    deinit {
        let exchange = self.exchange
        if exchange.eventLoop.inEventLoop {
            exchange.abandon()
        } else {
            exchange.eventLoop.execute { exchange.abandon() }
        }
    }
}

/// The last handler of an upstream connection's pipeline: writes an exchange's request and
/// feeds the answer into it; enforces the read timeout and the deadline; holds reads back while
/// the exchange's reader is behind.
final class UpstreamConnectionHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    private let highWatermark: Int
    private var context: ChannelHandlerContext?
    private var exchange: UpstreamExchange?
    private var keepAlive = true
    /// An interim (1xx) head was read: its `.end` does not end the exchange.
    private var interim = false
    private var readPending = false
    private var readTimeout = TimeAmount.seconds(60)
    private var deadline = NIODeadline.distantFuture
    private var lastRead = NIODeadline.now()
    /// The exchange's one timer, due at the earlier of its read timeout and its deadline.
    private var timer: NIOScheduledCallback?
    /// What the timer calls back, made once per connection: scheduling it allocates nothing
    /// (a scheduled task per timer took a promise, its future and three closures, twice a
    /// request).
    private lazy var timerTarget = TimerTarget(self)

    /// Holds its handler weakly: the loop's timer queue does not keep a closed connection's
    /// handler alive.
    private final class TimerTarget: NIOScheduledCallbackHandler, @unchecked Sendable {
        // Read and called on the connection's event loop only (where the timer fires).
        weak var handler: UpstreamConnectionHandler?
        init(_ handler: UpstreamConnectionHandler) { self.handler = handler }
        func handleScheduledCallback(eventLoop: some EventLoop) { handler?.timerFired() }
    }

    init(highWatermark: Int) {
        self.highWatermark = highWatermark
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func start(_ exchange: UpstreamExchange, head: HTTPRequestHead, body: ByteBuffer?, readTimeout: TimeAmount, deadline: NIODeadline) {
        guard let context, context.channel.isActive else {
            exchange.fail(UpstreamHTTPError.remoteConnectionClosed)
            return
        }
        self.exchange = exchange
        keepAlive = true
        interim = false
        self.readTimeout = readTimeout
        self.deadline = deadline
        lastRead = .now()
        arm(context.eventLoop)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if let body, body.readableBytes > 0 {
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        if readPending {
            readPending = false
            context.read()
        }
    }

    /// Schedules the timer for the earlier of the read timeout (from the last read) and the
    /// deadline.
    private func arm(_ loop: any EventLoop) {
        timer = try? loop.scheduleCallback(at: min(lastRead + readTimeout, deadline), handler: timerTarget)
    }

    /// The deadline passed, or the read timeout since the last read (counted again from the
    /// last read when bytes arrived meanwhile).
    fileprivate func timerFired() {
        timer = nil
        guard let context, let exchange else { return }
        let now = NIODeadline.now()
        if now >= deadline {
            exchange.fail(UpstreamHTTPError.deadlineExceeded)
            return
        }
        // While the reader is behind, the socket is not read on purpose: that is not idleness.
        if readPending { lastRead = now }
        if now - lastRead >= readTimeout {
            exchange.fail(UpstreamHTTPError.readTimeout)
        } else {
            arm(context.eventLoop)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        lastRead = .now()
        guard let exchange else {
            // Bytes with no request in flight: the connection is out of step; drop it.
            context.close(promise: nil)
            return
        }
        switch unwrapInboundIn(data) {
        case .head(let head):
            if head.status.code >= 100 && head.status.code < 200 {
                interim = true
                return
            }
            keepAlive = head.isKeepAlive
            exchange.receiveHead(head)
        case .body(let chunk):
            exchange.receiveBody(chunk)
        case .end:
            if interim {
                interim = false
                return
            }
            finish(exchange, context: context)
        }
    }

    private func finish(_ exchange: UpstreamExchange, context: ChannelHandlerContext) {
        self.exchange = nil
        cancelTimers()
        exchange.receiveEnd()
        if keepAlive && context.channel.isActive {
            exchange.connection.pool.release(exchange.connection)
        } else {
            context.close(promise: nil)
        }
    }

    func exchangeFailed(_ exchange: UpstreamExchange) {
        guard self.exchange === exchange else { return }
        self.exchange = nil
        cancelTimers()
        context?.close(promise: nil)
    }

    func consumerCaughtUp(_ exchange: UpstreamExchange) {
        guard readPending, !exchange.isBehind, let context else { return }
        readPending = false
        context.read()
    }

    private func cancelTimers() {
        timer?.cancel()
        timer = nil
    }

    func read(context: ChannelHandlerContext) {
        if let exchange, exchange.isBehind {
            readPending = true
        } else {
            context.read()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        exchange?.fail(UpstreamHTTPError.remoteConnectionClosed)
        cancelTimers()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let mapped: UpstreamHTTPError
        if error is NIOSSLError || error is BoringSSLError {
            mapped = .tlsFailure
        } else if error is HTTPParserError {
            mapped = .invalidResponse
        } else {
            mapped = .remoteConnectionClosed
        }
        exchange?.fail(mapped)
        context.close(promise: nil)
    }
}

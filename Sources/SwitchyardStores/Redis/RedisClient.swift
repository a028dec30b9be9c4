import Crypto
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// Errors of the Redis client.
public enum RedisError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The server answered with an error reply.
    case server(String)
    case connectionClosed
    case timeout
    case protocolError(String)
    case invalidURL(String)

    public var description: String {
        switch self {
        case .server(let message): "Redis error: \(message)"
        case .connectionClosed: "Redis connection closed"
        case .timeout: "Redis command timed out"
        case .protocolError(let detail): "Redis protocol error: \(detail)"
        case .invalidURL(let url): "invalid Redis URL '\(url)': use redis://[:password@]host[:port][/db] or rediss:// for TLS"
        }
    }
}

/// Where Redis is: parsed from `redis://[user:password@]host[:port][/db]`, or `rediss://...`
/// for TLS (as managed Redis services require).
public struct RedisEndpoint: Sendable, Equatable {
    public var host: String
    /// `rediss://`: the connection is TLS, with the server's certificate verified.
    public var tls: Bool
    public var port: Int
    public var username: String?
    public var password: String?
    public var database: Int

    public init(url: String) throws(RedisError) {
        if url.hasPrefix("redis://") {
            tls = false
        } else if url.hasPrefix("rediss://") {
            tls = true
        } else {
            throw .invalidURL(url)
        }
        var rest = Substring(url.dropFirst(tls ? 9 : 8))
        var database = 0
        if let slash = rest.firstIndex(of: "/") {
            let db = rest[rest.index(after: slash)...]
            if !db.isEmpty {
                guard let value = Int(db), value >= 0 else { throw .invalidURL(url) }
                database = value
            }
            rest = rest[..<slash]
        }
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                let user = credentials[..<colon]
                username = user.isEmpty ? nil : String(user)
                password = String(credentials[credentials.index(after: colon)...])
            } else {
                password = String(credentials)
            }
        }
        var port = 6379
        var host = String(rest)
        if let colon = rest.lastIndex(of: ":") {
            guard let value = Int(rest[rest.index(after: colon)...]), (1...65535).contains(value) else { throw .invalidURL(url) }
            port = value
            host = String(rest[..<colon])
        }
        guard !host.isEmpty else { throw .invalidURL(url) }
        self.host = host
        self.port = port
        self.database = database
    }
}

/// Decodes RESP values off the wire.
final class RESPDecoder: ByteToMessageDecoder {
    typealias InboundOut = RESPValue

    func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let value = try RESPParser.parse(&buffer) else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(value))
        return .continue
    }

    func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }
}

/// Matches replies to commands in order: Redis answers a connection's commands in the order
/// they were sent, so pipelining is a FIFO of promises.
final class RESPCommandHandler: ChannelDuplexHandler {
    typealias InboundIn = RESPValue
    typealias OutboundIn = (ByteBuffer, EventLoopPromise<RESPValue>)
    typealias OutboundOut = ByteBuffer

    private var pending = CircularBuffer<EventLoopPromise<RESPValue>>()

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let (buffer, reply) = unwrapOutboundIn(data)
        pending.append(reply)
        context.write(wrapOutboundOut(buffer), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let value = unwrapInboundIn(data)
        guard let promise = pending.popFirst() else { return }
        promise.succeed(value)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failAll(RedisError.protocolError("\(error)"))
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(RedisError.connectionClosed)
        context.fireChannelInactive()
    }

    private func failAll(_ error: RedisError) {
        while let promise = pending.popFirst() { promise.fail(error) }
    }
}

/// A small Redis client on SwiftNIO: one pipelined connection, re-established on demand after
/// a failure (with a short backoff), commands with a timeout, Lua scripts by SHA with a
/// fallback to EVAL when the server does not know them.
public final class RedisClient: Sendable {
    public let endpoint: RedisEndpoint
    public let commandTimeout: TimeAmount
    private let tlsContext: NIOSSLContext?
    private let group: any EventLoopGroup
    private let logger: Logger

    private struct State {
        var channel: (any Channel)?
        var connecting: EventLoopFuture<any Channel>?
        var lastFailure: NIODeadline?
    }

    private let state = Mutex(State())

    /// `tlsContext` is required for a `rediss://` endpoint (see ``tlsContext(caFile:)``) and
    /// ignored for `redis://`.
    public init(
        endpoint: RedisEndpoint, commandTimeout: TimeAmount = .seconds(2), tlsContext: NIOSSLContext? = nil,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger = Logger(label: "switchyard.redis")
    ) {
        self.endpoint = endpoint
        self.commandTimeout = commandTimeout
        self.tlsContext = endpoint.tls ? tlsContext : nil
        self.group = group
        self.logger = logger
    }

    /// A client for `url`; a `rediss://` URL verifies the server against `caFile` (PEM), or the
    /// system's trust roots without one.
    public convenience init(url: String, commandTimeout: TimeAmount = .seconds(2), caFile: String? = nil) throws {
        let endpoint = try RedisEndpoint(url: url)
        let tlsContext = try endpoint.tls ? Self.tlsContext(caFile: caFile) : nil
        self.init(endpoint: endpoint, commandTimeout: commandTimeout, tlsContext: tlsContext)
    }

    /// The TLS settings of a `rediss://` connection: TLS 1.2 or newer, the certificate chain and
    /// the host name (or IP address) always verified, against `caFile` when given (a private CA,
    /// as self-hosted Redis uses) or the system's trust roots.
    public static func tlsContext(caFile: String?) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        configuration.certificateVerification = .fullVerification
        if let caFile { configuration.trustRoots = .file(caFile) }
        return try NIOSSLContext(configuration: configuration)
    }

    /// Sends one command and waits for its reply; error replies throw ``RedisError/server(_:)``.
    @discardableResult
    public func send(_ arguments: String...) async throws -> RESPValue {
        try await send(arguments)
    }

    @discardableResult
    public func send(_ arguments: [String]) async throws -> RESPValue {
        let replies = try await pipeline([arguments])
        return try Self.checked(replies[0])
    }

    /// Sends several commands in one write and returns their replies in order (error replies
    /// are returned as `.error`, not thrown).
    public func pipeline(_ commands: [[String]]) async throws -> [RESPValue] {
        guard !commands.isEmpty else { return [] }
        let channel = try await connectedChannel()
        var promises: [EventLoopPromise<RESPValue>] = []
        promises.reserveCapacity(commands.count)
        for command in commands {
            var buffer = channel.allocator.buffer(capacity: 64)
            RESPEncoder.encode(command, into: &buffer)
            let promise = channel.eventLoop.makePromise(of: RESPValue.self)
            promises.append(promise)
            // A write refused by a channel that closed meanwhile never reaches the handler, so
            // its reply would never come: fail it here (completing a promise twice is ignored).
            let written = channel.eventLoop.makePromise(of: Void.self)
            written.futureResult.whenFailure { _ in promise.fail(RedisError.connectionClosed) }
            channel.write((buffer, promise), promise: written)
        }
        channel.flush()
        let waiting = promises
        let timeout = channel.eventLoop.scheduleTask(in: commandTimeout) {
            // A server that stops answering: fail every waiter and drop the connection.
            for promise in waiting { promise.fail(RedisError.connectionClosed) }
            channel.close(promise: nil)
        }
        let futures = promises.map(\.futureResult)
        defer { timeout.cancel() }
        var replies: [RESPValue] = []
        replies.reserveCapacity(futures.count)
        do {
            for future in futures { replies.append(try await future.get()) }
        } catch {
            invalidate(channel)
            throw error is RedisError ? error : RedisError.connectionClosed
        }
        return replies
    }

    /// Runs a Lua script by its SHA1, loading it on first use (or after a server restart).
    public func evaluate(_ script: RedisScript, keys: [String], arguments: [String]) async throws -> RESPValue {
        let call = [String(keys.count)] + keys + arguments
        let reply = try await pipeline([["EVALSHA", script.sha1] + call])[0]
        if case .error(let message) = reply, message.hasPrefix("NOSCRIPT") {
            return try await send(["EVAL", script.source] + call)
        }
        return try Self.checked(reply)
    }

    public func close() async {
        let channel = state.withLock { state -> (any Channel)? in
            defer { state.channel = nil }
            return state.channel
        }
        try? await channel?.close()
    }

    static func checked(_ reply: RESPValue) throws -> RESPValue {
        if case .error(let message) = reply { throw RedisError.server(message) }
        return reply
    }

    private func invalidate(_ channel: any Channel) {
        state.withLock { state in
            if state.channel === channel { state.channel = nil }
        }
        channel.close(promise: nil)
    }

    private func connectedChannel() async throws -> any Channel {
        let future: EventLoopFuture<any Channel> = try state.withLock { state in
            if let channel = state.channel, channel.isActive { return channel.eventLoop.makeSucceededFuture(channel) }
            if let connecting = state.connecting { return connecting }
            // After a failed connect, fail fast for a moment instead of hammering the server.
            if let last = state.lastFailure, NIODeadline.now() - last < .milliseconds(250) { throw RedisError.connectionClosed }
            let connecting = connect()
            state.connecting = connecting
            return connecting
        }
        do {
            let channel = try await future.get()
            state.withLock { state in
                state.connecting = nil
                state.channel = channel
                state.lastFailure = nil
            }
            return channel
        } catch {
            state.withLock { state in
                state.connecting = nil
                state.lastFailure = .now()
            }
            throw RedisError.connectionClosed
        }
    }

    private func connect() -> EventLoopFuture<any Channel> {
        let endpoint = self.endpoint
        let tlsContext = self.tlsContext
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(.seconds(2))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tlsContext {
                        // SNI takes names only; an IP address is checked against the certificate's IP entries.
                        let isAddress = (try? SocketAddress(ipAddress: endpoint.host, port: 0)) != nil
                        try channel.pipeline.syncOperations.addHandler(
                            NIOSSLClientHandler(context: tlsContext, serverHostname: isAddress ? nil : endpoint.host))
                    }
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(RESPDecoder()))
                    try channel.pipeline.syncOperations.addHandler(RESPCommandHandler())
                }
            }
        let logger = self.logger
        return bootstrap.connect(host: endpoint.host, port: endpoint.port).flatMap { channel -> EventLoopFuture<any Channel> in
            var setup: [[String]] = []
            if let password = endpoint.password {
                setup.append(endpoint.username.map { ["AUTH", $0, password] } ?? ["AUTH", password])
            }
            if endpoint.database != 0 { setup.append(["SELECT", String(endpoint.database)]) }
            guard !setup.isEmpty else { return channel.eventLoop.makeSucceededFuture(channel) }
            let replies = setup.map { command -> EventLoopFuture<RESPValue> in
                var buffer = channel.allocator.buffer(capacity: 64)
                RESPEncoder.encode(command, into: &buffer)
                let promise = channel.eventLoop.makePromise(of: RESPValue.self)
                let written = channel.eventLoop.makePromise(of: Void.self)
                written.futureResult.whenFailure { _ in promise.fail(RedisError.connectionClosed) }
                channel.write((buffer, promise), promise: written)
                return promise.futureResult
            }
            channel.flush()
            return EventLoopFuture.whenAllSucceed(replies, on: channel.eventLoop).flatMapThrowing { values in
                for value in values {
                    if case .error(let message) = value {
                        logger.error("Redis refused the connection setup", metadata: ["error": .string(message)])
                        channel.close(promise: nil)
                        throw RedisError.server(message)
                    }
                }
                return channel
            }
        }
    }
}

/// A Lua script with its SHA1 (computed once).
public struct RedisScript: Sendable {
    public let source: String
    public let sha1: String

    public init(_ source: String) {
        self.source = source
        self.sha1 = Insecure.SHA1.hash(data: Array(source.utf8)).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }
}

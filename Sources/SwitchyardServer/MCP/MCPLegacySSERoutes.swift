import HTTPTypes
import Hummingbird
import NIOCore
import ServiceLifecycle
import SwitchyardCore
import Synchronization

/// The legacy HTTP+SSE transport (protocol 2024-11-05) for clients that still use it, as an
/// adapter in front of the Streamable HTTP handler (``MCPRoutes``).
///
/// `GET /mcp/sse` opens an event stream whose first event, `endpoint`, names
/// `/mcp/messages?session_id=<id>`. Each JSON-RPC message POSTed there is handed to
/// ``MCPRoutes/post(_:context:)`` as a `POST /mcp` of the stream's session, answered 202, and
/// its answer written to the stream as a `message` event. So authentication, the session's
/// binding to its caller, access rules, guardrails, rate limits, audit, metrics and traces are
/// those of `/mcp`. The stream's end (the client hangs up, the session expires) ends the
/// session; an idle stream gets a comment every ``MCPSettings/sseKeepAlive``.
struct MCPLegacySSERoutes {
    let routes: MCPRoutes
    let streams = MCPLegacyStreams()

    static let streamPath = "/mcp/sse"
    static let messagesPath = "/mcp/messages"

    func register(on group: RouterGroup<GatewayRequestContext>) {
        group.get(RouterPath(Self.streamPath)) { request, context in try open(request, context: context) }
        group.post(RouterPath(Self.messagesPath)) { request, context in try await message(request, context: context) }
    }

    func open(_ request: Request, context: GatewayRequestContext) throws -> Response {
        guard let identity = context.identity else { throw GatewayError.internalError() }
        let settings = routes.runtime.snapshot.config.mcp
        guard let opened = streams.open(owner: MCPSessionStore.owner(of: identity), limit: settings.maxSessions) else {
            return MCPRoutes.failure(
                JSONRPCError(code: JSONRPCError.internalErrorCode, message: "Too many MCP event streams are open; try again later."),
                status: .serviceUnavailable)
        }
        let (streams, sessions, keepAlive) = (streams, routes.hub.sessions, settings.sseKeepAlive)
        let endpoint = ByteBuffer(string: "event: endpoint\ndata: \(Self.messagesPath)?session_id=\(opened.id)\n\n")
        return Response(
            status: .ok,
            headers: [.contentType: "text/event-stream", .cacheControl: "no-cache", HTTPField.Name("x-accel-buffering")!: "no"],
            body: ResponseBody { writer in
                defer { streams.close(opened.id, sessions: sessions) }
                try await writer.write(endpoint)
                try await withGracefulShutdownHandler {
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask {
                            while true {
                                try await Task.sleep(for: keepAlive)
                                opened.continuation.yield(ByteBuffer(string: ": keep-alive\n\n"))
                            }
                        }
                        // A write to a client that hung up fails: that ends the stream and the session.
                        for await event in opened.events { try await writer.write(event) }
                        group.cancelAll()
                    }
                } onGracefulShutdown: {
                    opened.continuation.finish()
                }
                try await writer.finish(nil)
            })
    }

    func message(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        guard let identity = context.identity else { throw GatewayError.internalError() }
        let owner = MCPSessionStore.owner(of: identity)
        // Another caller presenting the id is told what a wrong id is told.
        guard let id = request.uri.queryParameters.get("session_id"), let session = streams.session(id, owner: owner) else {
            return MCPRoutes.failure(
                JSONRPCError(
                    code: JSONRPCError.invalidRequestCode,
                    message: "Session not found: its event stream ended; open a new one with GET \(Self.streamPath)."),
                status: .notFound)
        }
        let body = try await request.body.collect(upTo: context.maxBodyBytes)
        var head = request.head
        head.path = "/mcp"
        head.headerFields[.accept] = "application/json"
        // The legacy transport has no version header: the version is the session's.
        head.headerFields[MCPRoutes.protocolHeader] = nil
        head.headerFields[MCPRoutes.sessionHeader] = session
        let answer = try await routes.post(Request(head: head, body: RequestBody(buffer: body)), context: context)
        if let opened = answer.headers[MCPRoutes.sessionHeader] { streams.attach(opened, to: id) }
        guard answer.status != .accepted else { return Response(status: .accepted) }
        let collector = BodyCollector()
        try await answer.body.write(collector)
        var message = collector.bytes
        if answer.status == .ok, let version = Self.requestedLegacyVersion(body) {
            message = Self.answering(message, version: version)
        }
        if answer.status == .notFound {
            // The session expired behind the stream: the stream ends too.
            streams.close(id, sessions: routes.hub.sessions)
            return Response(status: answer.status, headers: answer.headers, body: ResponseBody(byteBuffer: message))
        }
        // An answer to a request goes on the stream, also a refusal (a request before
        // `initialize`, say): the client waits for it there. What answers no request (a
        // message that cannot be read) is refused on the POST.
        let value = try? JSONValue.parse(Array(buffer: message))
        guard let value, let requestID = value["id"], requestID != .null else {
            return Response(status: answer.status, headers: answer.headers, body: ResponseBody(byteBuffer: message))
        }
        var event = ByteBuffer(string: "event: message\ndata: ")
        event.writeImmutableBuffer(message)
        event.writeString("\n\n")
        streams.send(event, to: id)
        return Response(status: .accepted)
    }

    /// `2024-11-05` when the message is an `initialize` asking for it: the legacy transport's
    /// own version, which a client of this endpoint is answered with (the messages the gateway
    /// sends are the same).
    static func requestedLegacyVersion(_ body: ByteBuffer) -> String? {
        guard let value = try? JSONValue.parse(Array(buffer: body)), value["method"]?.stringValue == "initialize",
            value["params"]?["protocolVersion"]?.stringValue == MCPProtocol.legacySSEVersion
        else { return nil }
        return MCPProtocol.legacySSEVersion
    }

    /// The `initialize` answer with `version` as the protocol version.
    static func answering(_ message: ByteBuffer, version: String) -> ByteBuffer {
        guard case .object(var object)? = try? JSONValue.parse(Array(buffer: message)), case .object(var result)? = object["result"] else {
            return message
        }
        result["protocolVersion"] = .string(version)
        object["result"] = .object(result)
        return ByteBuffer(bytes: JSONValue.object(object).serializedBytes())
    }
}

extension MCPProtocol {
    /// The version of the legacy HTTP+SSE transport (`GET /mcp/sse`, `transport: sse`).
    public static let legacySSEVersion = "2024-11-05"
}

/// The open legacy event streams: each one's caller, its `/mcp` session once initialized, and
/// where its events go.
final class MCPLegacyStreams: Sendable {
    struct Opened: Sendable {
        let id: String
        let events: AsyncStream<ByteBuffer>
        let continuation: AsyncStream<ByteBuffer>.Continuation
    }

    private struct Stream {
        let owner: String
        var session: String?
        let continuation: AsyncStream<ByteBuffer>.Continuation
    }

    private let streams = Mutex<[String: Stream]>([:])

    /// A new stream of `owner`'s, with a random id (128 bits); nil when `limit` are open.
    func open(owner: String, limit: Int) -> Opened? {
        var generator = SystemRandomNumberGenerator()
        let id = (0..<2).map { _ in String(generator.next() as UInt64, radix: 16) }.map { String(repeating: "0", count: 16 - $0.count) + $0 }
            .joined()
        let (events, continuation) = AsyncStream.makeStream(of: ByteBuffer.self)
        let added = streams.withLock { streams in
            guard streams.count < limit else { return false }
            streams[id] = Stream(owner: owner, continuation: continuation)
            return true
        }
        guard added else { return nil }
        return Opened(id: id, events: events, continuation: continuation)
    }

    /// The `/mcp` session of stream `id` (empty before `initialize`), when it is open and `owner`'s.
    func session(_ id: String, owner: String) -> String?? {
        streams.withLock { streams in
            guard let stream = streams[id], stream.owner == owner else { return nil }
            return .some(stream.session)
        }
    }

    func attach(_ session: String, to id: String) {
        streams.withLock { $0[id]?.session = session }
    }

    func send(_ event: ByteBuffer, to id: String) {
        _ = streams.withLock { $0[id]?.continuation }?.yield(event)
    }

    /// Ends stream `id` and its `/mcp` session.
    func close(_ id: String, sessions: MCPSessionStore) {
        guard let stream = streams.withLock({ $0.removeValue(forKey: id) }) else { return }
        stream.continuation.finish()
        if let session = stream.session { _ = sessions.end(session, owner: stream.owner) }
    }

    var count: Int { streams.withLock { $0.count } }
}

/// Reads a response body into one buffer (an answer of ``MCPRoutes``, which is small).
private final class BodyCollector: ResponseBodyWriter {
    var bytes = ByteBuffer()

    func write(_ buffer: ByteBuffer) async throws { bytes.writeImmutableBuffer(buffer) }
    func finish(_ trailingHeaders: HTTPFields?) async throws {}
}

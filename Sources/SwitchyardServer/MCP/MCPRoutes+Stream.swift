import HTTPTypes
import Hummingbird
import NIOCore
import ServiceLifecycle
import SwitchyardCore

/// `GET /mcp`: the session's stream of server-initiated messages (``MCPStreams``), for the caller
/// that opened the session. Resumed with `Last-Event-ID`; a keep-alive comment every
/// ``keepAliveInterval`` keeps proxies from closing it and the session from expiring while it is
/// open. It ends when the client goes away, another connection takes the stream over, the
/// session ends, or the gateway shuts down.
extension MCPRoutes {
    static let lastEventHeader = HTTPField.Name("last-event-id")!
    static let keepAliveInterval: Duration = .seconds(15)

    func stream(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        guard let identity = context.identity else { throw GatewayError.internalError() }
        guard (request.headers.value(.accept)?.lowercased() ?? "").contains("text/event-stream") else {
            return Self.failure(.invalidRequest("the stream needs Accept: text/event-stream"), status: .notAcceptable)
        }
        if let refusal = Self.versionRefusal(request) { return refusal }
        guard let sessionID = request.headers.value(Self.sessionHeader) else {
            return Self.failure(.invalidRequest("the Mcp-Session-Id header is required (send initialize first)"), status: .badRequest)
        }
        let settings = runtime.snapshot.config.mcp
        let owner = MCPSessionStore.owner(of: identity)
        let sessions = hub.sessions
        guard sessions.use(sessionID, owner: owner, settings: settings, now: .now) != nil else { return Self.sessionNotFound(id: .null) }
        let lastEventID = request.headers.value(Self.lastEventHeader).map { String($0.prefix(100)) }
        let streams = hub.streams
        let subscription = streams.open(
            session: sessionID, identity: identity, headers: request.headers.map { HeaderField($0.name.canonicalName, $0.value) },
            lastEventID: lastEventID, settings: settings, now: .now)
        let detector = await DisconnectDetector.of(context.channel)
        let runtime = self.runtime
        return Response(
            status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
            body: ResponseBody { writer in
                // The stream ends when the client goes; the handler is released when it ends
                // (a keep-alive connection does not keep one per stream it carried).
                let token = detector?.onClientGone { subscription.continuation.finish() }
                defer {
                    if let token { detector?.remove(token) }
                    streams.closed(subscription, now: .now)
                }
                try await withGracefulShutdownHandler {
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask {
                            while !Task.isCancelled {
                                try await Task.sleep(for: Self.keepAliveInterval)
                                if case .terminated = subscription.continuation.yield(.keepAlive) { return }
                            }
                        }
                        // How long a client waits before reconnecting (SSE `retry`), then what it missed.
                        try await writer.write(ByteBuffer(string: "retry: 1000\n\n"))
                        for event in subscription.replay { try await writer.write(Self.frame(event)) }
                        for await event in subscription.events {
                            // An open stream keeps its session; a session ended meanwhile ends it.
                            if event == .keepAlive,
                                sessions.use(sessionID, owner: owner, settings: runtime.snapshot.config.mcp, now: .now) == nil
                            {
                                break
                            }
                            try await writer.write(Self.frame(event))
                        }
                        group.cancelAll()
                    }
                } onGracefulShutdown: {
                    subscription.continuation.finish()
                }
                try await writer.finish(nil)
            })
    }

    static func frame(_ event: MCPStreams.Event) -> ByteBuffer {
        switch event {
        case .message(let id, let data):
            var buffer = ByteBuffer(string: "id: \(id)\n")
            SSEEvent(event: "message", data: data).write(to: &buffer)
            return buffer
        case .keepAlive:
            return ByteBuffer(string: ": keep-alive\n\n")
        }
    }

    /// 400 for an `MCP-Protocol-Version` the gateway does not speak.
    static func versionRefusal(_ request: Request) -> Response? {
        guard let version = request.headers.value(protocolHeader), !MCPProtocol.versions.contains(version) else { return nil }
        return failure(
            .invalidRequest("unsupported MCP-Protocol-Version '\(version.prefix(40))' (supported: \(MCPProtocol.versions.joined(separator: ", ")))"),
            status: .badRequest)
    }

    /// 404: the session ended or expired, or is not the caller's.
    static func sessionNotFound(id: JSONValue) -> Response {
        failure(
            JSONRPCError(code: JSONRPCError.invalidRequestCode, message: "Session not found: it ended or expired; initialize a new one."), id: id,
            status: .notFound)
    }
}

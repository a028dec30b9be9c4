import HTTPTypes
import Hummingbird
import NIOCore
import SwitchyardCore

/// `/mcp`: the MCP Streamable HTTP transport in front of ``MCPHub``.
///
/// POST takes one JSON-RPC message. A request is answered with JSON, or with an SSE stream of
/// one event when the client accepts only `text/event-stream`; a notification or a response is
/// answered 202. `initialize` opens a session (`Mcp-Session-Id`), bound to the caller's
/// identity; every later message must carry it. GET opens the session's stream of
/// server-initiated messages (`MCPRoutes+Stream.swift`); DELETE ends the session.
struct MCPRoutes {
    let hub: MCPHub
    let runtime: RuntimeHolder

    static let sessionHeader = HTTPField.Name("mcp-session-id")!
    static let protocolHeader = HTTPField.Name("mcp-protocol-version")!

    func register(on group: RouterGroup<GatewayRequestContext>) {
        group.post("/mcp") { request, context in try await post(request, context: context) }
        group.get("/mcp") { request, context in try await stream(request, context: context) }
        group.delete("/mcp") { request, context in delete(request, context: context) }
    }

    func post(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        guard let identity = context.identity else { throw GatewayError.internalError() }
        let accept = request.headers.value(.accept)?.lowercased() ?? ""
        let acceptsJSON = accept.isEmpty || accept.contains("application/json") || accept.contains("*/*")
        let acceptsSSE = accept.contains("text/event-stream")
        guard acceptsJSON || acceptsSSE else {
            return Self.failure(.invalidRequest("accept application/json or text/event-stream"), status: .notAcceptable)
        }
        if let refusal = Self.versionRefusal(request) { return refusal }
        let body = try await request.body.collect(upTo: context.maxBodyBytes)
        let value: JSONValue
        do {
            value = try JSONValue.parse(Array(buffer: body))
        } catch {
            return Self.failure(.parseError(error.description), status: .badRequest)
        }
        if case .array = value { return Self.failure(.invalidRequest("JSON-RPC batches are not supported"), status: .badRequest) }
        let message: JSONRPCMessage
        do {
            message = try JSONRPCMessage(value)
        } catch {
            return Self.failure(error, id: value["id"] ?? .null, status: .badRequest)
        }
        let settings = runtime.snapshot.config.mcp
        let owner = MCPSessionStore.owner(of: identity)
        if case .request(let id, "initialize", let params) = message {
            let version = MCPProtocol.negotiate(params?["protocolVersion"]?.stringValue)
            let session = hub.sessions.create(
                owner: owner, protocolVersion: version, clientName: params?["clientInfo"]?["name"]?.stringValue.map { String($0.prefix(100)) },
                settings: settings, now: .now)
            let result: JSONValue = [
                "protocolVersion": .string(version),
                "capabilities": [
                    "tools": ["listChanged": true], "prompts": ["listChanged": true], "resources": ["listChanged": true], "logging": [:],
                ],
                "serverInfo": ["name": "switchyard", "title": "Switchyard MCP gateway", "version": .string(SwitchyardVersion.current)],
                "instructions": "Tools, prompts and resources of several MCP servers, named <server prefix>_<name>.",
            ]
            var response = Self.answer(.response(id: id, result: result), sse: !acceptsJSON)
            response.headers[Self.sessionHeader] = session.id
            return response
        }
        guard let sessionID = request.headers.value(Self.sessionHeader) else {
            return Self.failure(
                .invalidRequest("the Mcp-Session-Id header is required (send initialize first)"), id: message.requestID, status: .badRequest)
        }
        guard hub.sessions.use(sessionID, owner: owner, settings: settings, now: .now) != nil else {
            return Self.sessionNotFound(id: message.requestID)
        }
        guard case .request(let id, let method, let params) = message else {
            return Response(status: .accepted)
        }
        let caller = MCPCaller(
            identity: identity, requestID: context.requestID,
            headers: request.headers.map { HeaderField($0.name.canonicalName, $0.value) }, traceContext: context.requestSpan?.context)
        switch await hub.handle(method: method, params: params, caller: caller) {
        case .success(let result): return Self.answer(.response(id: id, result: result), sse: !acceptsJSON)
        case .failure(let error): return Self.answer(.error(id: id, error), sse: !acceptsJSON)
        }
    }

    func delete(_ request: Request, context: GatewayRequestContext) -> Response {
        guard let identity = context.identity, let sessionID = request.headers.value(Self.sessionHeader) else {
            return Self.failure(.invalidRequest("the Mcp-Session-Id header is required"), status: .badRequest)
        }
        guard hub.sessions.end(sessionID, owner: MCPSessionStore.owner(of: identity)) else {
            return Self.failure(JSONRPCError(code: JSONRPCError.invalidRequestCode, message: "Session not found."), status: .notFound)
        }
        hub.streams.end(session: sessionID)
        return Response(status: .noContent)
    }

    /// A JSON-RPC message as the body: JSON, or one SSE event.
    static func answer(_ message: JSONRPCMessage, sse: Bool) -> Response {
        var bytes = message.json.serializedBytes()
        if sse {
            bytes = Array("event: message\ndata: ".utf8) + bytes + Array("\n\n".utf8)
            return Response(
                status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// An HTTP-level refusal with a JSON-RPC error body.
    static func failure(_ error: JSONRPCError, id: JSONValue = .null, status: HTTPResponse.Status) -> Response {
        let bytes = JSONRPCMessage.error(id: id, error).json.serializedBytes()
        return Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

extension JSONRPCMessage {
    /// The id of a request (null for other messages), for an error about it.
    var requestID: JSONValue {
        if case .request(let id, _, _) = self { return id }
        return .null
    }
}

/// The MCP authorization flow's discovery (RFC 9728): `/.well-known/oauth-protected-resource`
/// describes `/mcp` as a protected resource, and a refused `/mcp` request says where it is.
enum MCPProtectedResource {
    static let path = "/.well-known/oauth-protected-resource"

    static func register(on router: Router<GatewayRequestContext>, runtime: RuntimeHolder) {
        for path in [path, path + "/mcp"] {
            router.get(RouterPath(path)) { request, _ in
                let config = runtime.snapshot.config
                let base = baseURL(request, tls: config.server.tls != nil)
                let servers = config.auth.jwt.compactMap(\.issuer)
                let document: JSONValue = [
                    "resource": .string(base + "/mcp"), "authorization_servers": .array(servers.map(JSONValue.string)),
                    "bearer_methods_supported": ["header"], "resource_name": "Switchyard MCP gateway",
                    "scopes_supported": .array([]),
                ]
                return Response(
                    status: .ok, headers: [.contentType: "application/json"],
                    body: ResponseBody(byteBuffer: ByteBuffer(bytes: document.serializedBytes())))
            }
        }
    }

    static func baseURL(_ request: Request, tls: Bool) -> String {
        // Only the characters of a host and port: the value is written into a response header.
        let host = (request.head.authority ?? "localhost").filter { $0.isLetter || $0.isNumber || ".-:[]".contains($0) }
        return (tls ? "https://" : "http://") + (host.isEmpty ? "localhost" : String(host.prefix(255)))
    }
}

/// On `/mcp`, a refused credential (401) says where the protected resource metadata is
/// (`WWW-Authenticate: Bearer resource_metadata="..."`), as the MCP authorization flow expects.
struct MCPChallengeMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let runtime: RuntimeHolder

    @concurrent func handle(_ request: Request, context: Context, next: @concurrent (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch var error as GatewayError where error.status == 401 {
            let metadata = MCPProtectedResource.baseURL(request, tls: runtime.snapshot.config.server.tls != nil) + MCPProtectedResource.path + "/mcp"
            let parameter = #"resource_metadata="\#(metadata)""#
            if let index = error.headers.firstIndex(where: { $0.name.lowercased() == "www-authenticate" }) {
                error.headers[index].value += ", " + parameter
            } else {
                error.headers.append(HeaderField("WWW-Authenticate", "Bearer " + parameter))
            }
            throw error
        }
    }
}

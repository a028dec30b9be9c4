import AsyncHTTPClient
import Logging
import NIOCore
import NIOHTTP1
import SwitchyardCore
import Synchronization

/// An upstream MCP server over the legacy HTTP+SSE transport (protocol 2024-11-05): the gateway
/// keeps a GET event stream open, whose first `endpoint` event names the URL requests are
/// POSTed to; their answers come back on the stream as `message` events, matched by id.
///
/// ``run()`` keeps the stream open: when it drops, the calls waiting on it fail with
/// `server_unavailable`, the server is down (its tools leave the lists) and the gateway
/// connects again after ``MCPServerConfig/restartDelay``, doubling up to
/// ``MCPServerConfig/maxRestartDelay``. An endpoint on another origin than the stream's is
/// refused: the gateway sends its credentials for the server to the server only.
final class MCPSSEUpstream: MCPUpstream {
    let config: MCPServerConfig
    let url: String
    let client: HTTPClient
    let credentials: MCPUpstreamCredentials
    let events: MCPUpstreamEvents
    let logger: Logger
    private let state = Mutex(State())
    private let pending = MCPPendingRequests()

    struct State {
        var status: MCPServerStatus = .starting
        /// Where requests go, once the stream named it and the session is initialized.
        var endpoint: String?
    }

    init(config: MCPServerConfig, url: String, client: HTTPClient, events: MCPUpstreamEvents, logger: Logger) {
        self.config = config
        self.url = url
        self.client = client
        self.credentials = MCPUpstreamCredentials(config: config, client: client)
        self.events = events
        self.logger = logger
    }

    var status: MCPServerStatus { state.withLock { $0.status } }

    func call(_ method: String, params: JSONValue?) async throws(JSONRPCError) -> JSONValue {
        await waitWhileStarting()
        guard let endpoint = state.withLock({ $0.endpoint }) else { throw notReady() }
        return try MCPPendingRequests.result(of: try await request(method, params: params, endpoint: endpoint), method: method, server: config.name)
    }

    private func request(_ method: String, params: JSONValue?, endpoint: String) async throws(JSONRPCError) -> JSONRPCMessage {
        try await pending.request(method, params: params, server: config.name, timeout: config.timeout, ended: "the server's event stream ended") {
            [self] message in
            try await post(message, to: endpoint)
        }
    }

    /// POSTs one message to the endpoint (its answer, if any, comes on the stream).
    private func post(_ message: JSONRPCMessage, to endpoint: String) async throws(JSONRPCError) {
        var request = HTTPClientRequest(url: endpoint)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: message.json.serializedBytes()))
        let response = try await send(request)
        _ = try? await response.body.collect(upTo: 1024 * 1024)
        guard (200..<300).contains(Int(response.status.code)) else {
            throw .upstreamError(config.name, detail: MCPUpstreamCredentials.reason(response.status))
        }
    }

    private func send(_ request: HTTPClientRequest, deadline: NIODeadline? = nil) async throws(JSONRPCError) -> HTTPClientResponse {
        try await credentials.send(
            request, client: client, deadline: deadline ?? .now() + .nanoseconds(config.timeout.nanoseconds), server: config.name)
    }

    // MARK: The event stream

    func run() async {
        await keepConnected(events: events, down: { setStatus(.down($0)) }) { [self] in
            let reason = await connect()
            state.withLock { $0.endpoint = nil }
            pending.failAll(.serverUnavailable(config.name, reason: reason))
            return reason
        }
    }

    /// One connection: opens the stream, initializes a session once it names its endpoint, and
    /// reads it until it ends. Returns why it ended.
    private func connect() async -> String {
        let (endpoints, found) = AsyncStream.makeStream(of: String.self)
        return await withTaskGroup(of: String?.self) { group in
            group.addTask { [self] in await read(found) }
            group.addTask { [self] in
                let first = await withTimeout(config.timeout) { await endpoints.first { _ in true } }
                guard let endpoint = first ?? nil else {
                    return Task.isCancelled ? nil : "the server named no endpoint within \(config.timeout)"
                }
                do throws(JSONRPCError) {
                    let answer = try await request("initialize", params: MCPProtocol.initializeParams(), endpoint: endpoint)
                    if case .error(_, let error) = answer { return "the server refused initialize: \(error.message.prefix(200))" }
                    try await post(.notification(method: "notifications/initialized", params: nil), to: endpoint)
                } catch {
                    return error.data?["reason"]?.stringValue ?? error.message
                }
                state.withLock { $0.endpoint = endpoint }
                setStatus(.ready)
                logger.notice("mcp server connected", metadata: ["mcp_server": .string(config.name)])
                return nil
            }
            // The first part to end with a reason ends the connection.
            while let next = await group.next() {
                if let reason = next {
                    group.cancelAll()
                    return reason
                }
            }
            return "the server's event stream ended"
        }
    }

    /// Reads the stream until it ends; its endpoint goes to `found`. Returns why it ended.
    private func read(_ found: AsyncStream<String>.Continuation) async -> String {
        defer { found.finish() }
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "accept", value: "text/event-stream")
        request.headers.add(name: "cache-control", value: "no-cache")
        let response: HTTPClientResponse
        do throws(JSONRPCError) {
            // The stream lasts as long as the connection: no deadline (a server that never
            // names its endpoint is given up after the server's timeout).
            response = try await send(request, deadline: .distantFuture)
        } catch {
            return error.data?["reason"]?.stringValue ?? error.message
        }
        guard response.status == .ok else { return MCPUpstreamCredentials.reason(response.status) }
        guard response.headers.first(name: "content-type")?.lowercased().hasPrefix("text/event-stream") == true else {
            return "the server did not answer with an event stream"
        }
        var parser = SSEParser()
        var named = false
        do {
            for try await chunk in response.body {
                var parsed: [SSEEvent] = []
                try parser.feed(chunk) { parsed.append($0) }
                for event in parsed {
                    if event.event == "endpoint" {
                        guard !named else { continue }
                        guard let endpoint = Self.resolve(endpoint: String(decoding: event.data, as: UTF8.self), against: url) else {
                            return "the server named an endpoint on another origin"
                        }
                        named = true
                        found.yield(endpoint)
                    } else if event.event == nil || event.event == "message" {
                        await received(event.data)
                    }
                }
            }
        } catch {
            return "the event stream failed (\(MCPHTTPUpstream.describe(error)))"
        }
        return "the server's event stream ended"
    }

    /// A message on the stream: an answer goes to its caller; a request of the server's gets
    /// the gateway's answer; notifications are dropped (lists are read live).
    private func received(_ data: [UInt8]) async {
        guard let value = try? JSONValue.parse(data), let message = try? JSONRPCMessage(value) else {
            logger.debug("mcp server sent an event that is not JSON-RPC", metadata: ["mcp_server": .string(config.name)])
            return
        }
        switch message {
        case .response, .error:
            pending.received(message)
        case .request(let id, let method, _):
            // Before the session is set up there is nowhere to answer (a server does not ask then).
            guard let endpoint = state.withLock({ $0.endpoint }) else { return }
            try? await post(MCPProtocol.answer(serverRequest: id, method: method), to: endpoint)
        case .notification:
            break
        }
    }

    /// The absolute URL of the endpoint an `endpoint` event names (absolute, or relative to the
    /// stream's URL); nil when it is on another origin (scheme, host and port) than the stream.
    static func resolve(endpoint: String, against base: String) -> String? {
        guard let origin = origin(of: base), !endpoint.isEmpty, !endpoint.contains(where: \.isWhitespace) else { return nil }
        if endpoint.contains("://") { return Self.origin(of: endpoint)?.lowercased() == origin.lowercased() ? endpoint : nil }
        if endpoint.hasPrefix("//") { return nil }
        if endpoint.hasPrefix("/") { return origin + endpoint }
        // Relative to the stream's path: its last segment is replaced.
        var path = base.dropFirst(origin.count)
        if let end = path.firstIndex(where: { $0 == "?" || $0 == "#" }) { path = path[..<end] }
        let directory = path.lastIndex(of: "/").map { path[...$0] } ?? "/"
        return origin + directory + endpoint
    }

    /// `scheme://host[:port]` of a URL.
    static func origin(of url: String) -> String? {
        guard let separator = url.firstRange(of: "://") else { return nil }
        let authority = url[separator.upperBound...]
        let end = authority.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? authority.endIndex
        guard end > authority.startIndex else { return nil }
        return String(url[..<end])
    }

    private func setStatus(_ status: MCPServerStatus) {
        let previous = state.withLock { state in
            defer { state.status = status }
            return state.status
        }
        events.report(status, previous: previous, server: config.name, logger: logger)
    }
}

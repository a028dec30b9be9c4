import AsyncHTTPClient
import Logging
import NIOCore
import NIOHTTP1
import SwitchyardCore
import Synchronization

/// An upstream MCP server over the Streamable HTTP transport: each JSON-RPC message is POSTed
/// to the server's URL and answered with JSON or an SSE stream. The gateway initializes one
/// session (`Mcp-Session-Id`) with the server's configured headers and starts a new one when
/// the server forgets it (404). With `oauth`, a server that refuses the bearer token (401) gets
/// the request again once with a new one. ``run()`` listens for the server's notifications on
/// its GET stream (`MCPHTTPUpstream+Stream.swift`).
final class MCPHTTPUpstream: MCPUpstream {
    let config: MCPServerConfig
    let url: String
    let client: HTTPClient
    let credentials: MCPUpstreamCredentials
    let events: MCPUpstreamEvents
    let logger: Logger
    private let state = Mutex(State())
    /// The one `initialize` in flight, shared by the calls that wait for it.
    let session = SessionGate()

    struct State {
        var status: MCPServerStatus = .starting
        var nextID = 1
    }

    /// The most bytes of one answer.
    static let maximumBodyBytes = 16 * 1024 * 1024

    init(config: MCPServerConfig, url: String, client: HTTPClient, events: MCPUpstreamEvents, logger: Logger) {
        self.config = config
        self.url = url
        self.client = client
        self.credentials = MCPUpstreamCredentials(config: config, client: client)
        self.events = events
        self.logger = logger
    }

    var status: MCPServerStatus { state.withLock { $0.status } }

    func run() async { await listenForNotifications() }

    func call(_ method: String, params: JSONValue?) async throws(JSONRPCError) -> JSONValue {
        for _ in 0..<2 {
            let established = try await establish()
            do {
                return try await send(method, params: params, session: established)
            } catch {
                switch error {
                case .rpc(let error): throw error
                case .sessionExpired: await session.reset(established)
                }
            }
        }
        throw fail(.upstreamError(config.name, detail: "the server keeps forgetting the gateway's session"))
    }

    enum SendError: Error {
        case sessionExpired
        case rpc(JSONRPCError)
    }

    struct Established: Sendable, Equatable {
        var sessionID: String?
        var protocolVersion: String
    }

    /// The current session, initializing one first when there is none.
    func establish() async throws(JSONRPCError) -> Established {
        let result = await session.current { [self] in
            let answer: Answer
            do throws(SendError) {
                answer = try await self.exchange(
                    .request(id: JSONValue(self.takeID()), method: "initialize", params: MCPProtocol.initializeParams()), session: nil)
            } catch {
                throw self.rpcError(error)
            }
            guard case .response(_, let result)? = answer.message else {
                if case .error(_, let error)? = answer.message {
                    throw JSONRPCError.upstreamError(self.config.name, detail: "initialize failed: \(error.message)")
                }
                throw JSONRPCError.upstreamError(self.config.name, detail: "no answer to initialize")
            }
            let established = Established(
                sessionID: answer.sessionID, protocolVersion: MCPProtocol.negotiate(result["protocolVersion"]?.stringValue))
            do throws(SendError) {
                _ = try await self.exchange(.notification(method: "notifications/initialized", params: nil), session: established)
            } catch {
                throw self.rpcError(error)
            }
            return established
        }
        switch result {
        case .success(let established):
            setStatus(.ready)
            return established
        case .failure(let error):
            throw fail(error)
        }
    }

    func send(_ method: String, params: JSONValue?, session: Established) async throws(SendError) -> JSONValue {
        let answer: Answer
        do {
            answer = try await exchange(.request(id: JSONValue(takeID()), method: method, params: params), session: session)
        } catch {
            switch error {
            case .rpc(let error): throw .rpc(fail(error))
            case .sessionExpired: throw .sessionExpired
            }
        }
        switch answer.message {
        case .response(_, let result)?:
            setStatus(.ready)
            return result
        case .error(_, let error)?:
            setStatus(.ready)
            // The server's own error, passed on as it sent it (less anything claiming to be the gateway's).
            throw .rpc(JSONRPCError(code: error.code, message: error.message))
        default:
            throw .rpc(fail(.upstreamError(config.name, detail: "no answer to \(method)")))
        }
    }

    struct Answer {
        var message: JSONRPCMessage?
        var sessionID: String?
    }

    /// POSTs one message; for a request, waits for its answer (in JSON or in an SSE stream).
    func exchange(_ message: JSONRPCMessage, session: Established?) async throws(SendError) -> Answer {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.headers.add(name: "accept", value: "application/json, text/event-stream")
        if let session {
            if let id = session.sessionID { request.headers.add(name: "mcp-session-id", value: id) }
            request.headers.add(name: "mcp-protocol-version", value: session.protocolVersion)
        }
        request.body = .bytes(ByteBuffer(bytes: message.json.serializedBytes()))
        let prepared = request
        var expectedID: JSONValue?
        if case .request(let id, _, _) = message { expectedID = id }
        let requestID = expectedID
        let name = config.name
        let client = self.client
        let credentials = self.credentials
        let events = self.events
        let timeout = config.timeout
        let outcome: Result<Answer, SendError>? = await withTimeout(timeout) { () -> Result<Answer, SendError> in
            let response: HTTPClientResponse
            do throws(JSONRPCError) {
                response = try await credentials.send(
                    prepared, client: client, deadline: .now() + .nanoseconds(timeout.nanoseconds), server: name)
            } catch {
                return .failure(.rpc(error))
            }
            let sessionID = response.headers.first(name: "mcp-session-id")
            if response.status == .notFound, session?.sessionID != nil { return .failure(.sessionExpired) }
            guard (200..<300).contains(Int(response.status.code)) else {
                return .failure(.rpc(.upstreamError(name, detail: MCPUpstreamCredentials.reason(response.status))))
            }
            guard let expectedID = requestID else { return .success(Answer(message: nil, sessionID: sessionID)) }
            let contentType = response.headers.first(name: "content-type")?.lowercased() ?? ""
            do {
                if contentType.hasPrefix("text/event-stream") {
                    var parser = SSEParser()
                    var found: JSONRPCMessage?
                    for try await chunk in response.body {
                        try parser.feed(chunk) { event in
                            guard found == nil, event.event == nil || event.event == "message",
                                let value = try? JSONValue.parse(event.data), let message = try? JSONRPCMessage(value)
                            else { return }
                            switch message {
                            case .response(let id, _), .error(let id, _): if id == expectedID { found = message }
                            // A notification about the request's work, e.g. a list it changed.
                            case .notification(let method, _): events.notified(name, method)
                            case .request: break
                            }
                        }
                        if found != nil { break }
                    }
                    return .success(Answer(message: found, sessionID: sessionID))
                }
                let body = try await response.body.collect(upTo: Self.maximumBodyBytes)
                let value = try JSONValue.parse(Array(buffer: body))
                return .success(Answer(message: try JSONRPCMessage(value), sessionID: sessionID))
            } catch {
                return .failure(.rpc(.upstreamError(name, detail: "unreadable answer (\(Self.describe(error)))")))
            }
        }
        switch outcome {
        case .success(let answer)?: return answer
        case .failure(let error)?: throw error
        case nil: throw .rpc(.timeout(name))
        }
    }

    private func rpcError(_ error: SendError) -> JSONRPCError {
        switch error {
        case .rpc(let error): error
        case .sessionExpired: .upstreamError(config.name, detail: "the server refused a new session")
        }
    }

    private func takeID() -> Int {
        state.withLock { state in
            defer { state.nextID += 1 }
            return state.nextID
        }
    }

    /// Marks the server down when the error says it could not be reached; returns the error.
    func fail(_ error: JSONRPCError) -> JSONRPCError {
        if ["server_unavailable", "timeout", "upstream_error"].contains(error.label) {
            setStatus(.down(error.data?["reason"]?.stringValue ?? error.message))
        }
        return error
    }

    func setStatus(_ status: MCPServerStatus) {
        let previous = state.withLock { state in
            defer { state.status = status }
            return state.status
        }
        events.report(status, previous: previous, server: config.name, logger: logger)
    }

    /// A short description of a transport error, without the URL's credentials.
    static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError { return String(describing: error) }
        if error is JSONParseError { return "not JSON" }
        if error is JSONRPCError { return "not a JSON-RPC message" }
        return String(String(describing: error).prefix(200))
    }
}

/// Single flight for a session: the first caller runs `initialize`, concurrent callers wait for
/// its outcome, and later callers reuse it until it is reset.
actor SessionGate {
    private var established: MCPHTTPUpstream.Established?
    private var pending: Task<MCPHTTPUpstream.Established, any Error>?

    func current(_ make: @escaping @Sendable () async throws -> MCPHTTPUpstream.Established) async -> Result<
        MCPHTTPUpstream.Established, JSONRPCError
    > {
        if let established { return .success(established) }
        let task = pending ?? Task { try await make() }
        pending = task
        do {
            let value = try await task.value
            established = value
            pending = nil
            return .success(value)
        } catch {
            pending = nil
            return .failure(error as? JSONRPCError ?? JSONRPCError(code: JSONRPCError.internalErrorCode, message: "initialize failed"))
        }
    }

    /// Forgets `expired` (not a newer session another caller has set up since).
    func reset(_ expired: MCPHTTPUpstream.Established) {
        if established == expired { established = nil }
    }
}

/// Runs `operation`, or gives up after `timeout` (nil), cancelling it.
func withTimeout<T: Sendable>(_ timeout: Duration, _ operation: @escaping @Sendable () async -> T) async -> T? {
    await withTaskGroup(of: T?.self) { group in
        group.addTask { await operation() }
        group.addTask {
            try? await Task.sleep(for: timeout)
            return nil
        }
        let first = await group.next() ?? nil
        group.cancelAll()
        return first
    }
}

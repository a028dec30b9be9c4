import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SwitchyardCore
import SwitchyardProviders

/// What the gateway sends an HTTP MCP server to be let in: the configured `headers`, and with
/// `oauth` a bearer token from the client credentials grant. Clients never see either.
struct MCPUpstreamCredentials: Sendable {
    let headers: [(name: String, value: Secret)]
    let tokens: MCPOAuthTokenSource?

    init(config: MCPServerConfig, client: HTTPClient) {
        headers = config.headers
        tokens = config.oauth.map { MCPOAuthTokenSource(server: config.name, settings: $0, client: client) }
    }

    /// Adds the credentials to `request`; returns the bearer token sent, if any (to name it
    /// when the server refuses it).
    func apply(to request: inout HTTPClientRequest) async throws(JSONRPCError) -> String? {
        for (name, value) in headers { request.headers.replaceOrAdd(name: name, value: value.reveal()) }
        guard let tokens else { return nil }
        let token = try await tokens.token()
        request.headers.replaceOrAdd(name: "authorization", value: "Bearer " + token)
        return token
    }

    /// Why a server's HTTP answer is a failure, safe to show (no credentials).
    static func reason(_ status: HTTPResponseStatus) -> String {
        status == .unauthorized || status == .forbidden
            ? "the server refused the gateway's credentials (HTTP \(status.code))" : "HTTP \(status.code)"
    }

    /// Sends `request` to the server with its credentials. With `oauth`, a token the server
    /// refuses (401: revoked, or expired early) is forgotten and the request sent once more
    /// with a new one.
    func send(_ request: HTTPClientRequest, client: HTTPClient, deadline: NIODeadline, server: String) async throws(JSONRPCError)
        -> HTTPClientResponse
    {
        var retried = false
        while true {
            var attempt = request
            let token = try await apply(to: &attempt)
            let response: HTTPClientResponse
            do {
                response = try await client.execute(attempt, deadline: deadline)
            } catch {
                throw .serverUnavailable(server, reason: MCPHTTPUpstream.describe(error))
            }
            guard response.status == .unauthorized, !retried, let tokens, let token else { return response }
            await tokens.forget(token)
            retried = true
        }
    }
}

/// Access tokens of one MCP server from its authorization server's token endpoint (OAuth 2.0
/// client credentials, RFC 6749 §4.4). A token is reused until ``MCPOAuthSettings/refreshMargin``
/// before it expires (a token without `expires_in` until the server refuses it); concurrent
/// callers that find none share one request. Errors name the token endpoint's status and OAuth
/// error code, never the client secret or a token.
actor MCPOAuthTokenSource {
    struct Issued: Sendable {
        var token: String
        /// When to fetch a new one; nil: until the server refuses it.
        var refreshAt: ContinuousClock.Instant?
    }

    let server: String
    let settings: MCPOAuthSettings
    let client: HTTPClient
    private var cached: Issued?
    private var fetching: Task<Result<Issued, JSONRPCError>, Never>?

    init(server: String, settings: MCPOAuthSettings, client: HTTPClient) {
        self.server = server
        self.settings = settings
        self.client = client
    }

    func token() async throws(JSONRPCError) -> String {
        if let cached, cached.refreshAt.map({ ContinuousClock.now < $0 }) ?? true { return cached.token }
        let task: Task<Result<Issued, JSONRPCError>, Never>
        if let fetching {
            task = fetching
        } else {
            let (server, settings, client) = (server, settings, client)
            task = Task { await Self.fetch(server: server, settings: settings, client: client) }
            fetching = task
        }
        let result = await task.value
        if fetching == task { fetching = nil }
        switch result {
        case .success(let issued):
            cached = issued
            return issued.token
        case .failure(let error):
            throw error
        }
    }

    /// Forgets `token` (the server refused it); a newer token fetched meanwhile is kept.
    func forget(_ token: String) {
        if cached?.token == token { cached = nil }
    }

    static func fetch(server: String, settings: MCPOAuthSettings, client: HTTPClient) async -> Result<Issued, JSONRPCError> {
        var fields: [(String, String)] = [("grant_type", "client_credentials")]
        if let scope = settings.scope { fields.append(("scope", scope)) }
        if let audience = settings.audience { fields.append(("audience", audience)) }
        var request = HTTPClientRequest(url: settings.tokenURL)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "accept", value: "application/json")
        switch settings.clientAuthentication {
        case .basic:
            // RFC 6749 §2.3.1: the id and the secret are form-encoded before they are joined.
            let pair = settings.clientID.formEncoded() + ":" + settings.clientSecret.reveal().formEncoded()
            request.headers.add(name: "authorization", value: "Basic " + Data(pair.utf8).base64EncodedString())
        case .post:
            fields += [("client_id", settings.clientID), ("client_secret", settings.clientSecret.reveal())]
        }
        request.body = .bytes(ByteBuffer(string: fields.map { $0.0 + "=" + $0.1.formEncoded() }.joined(separator: "&")))
        func failed(_ detail: String) -> Result<Issued, JSONRPCError> {
            .failure(.serverUnavailable(server, reason: "no access token from its token endpoint: \(detail)"))
        }
        let started = ContinuousClock.now
        let status: Int
        let body: ByteBuffer
        do {
            let response = try await client.execute(request, timeout: .seconds(30))
            status = Int(response.status.code)
            body = try await response.body.collect(upTo: 1024 * 1024)
        } catch {
            return failed("it could not be reached")
        }
        let json = try? JSONValue.parse(Array(buffer: body))
        guard (200..<300).contains(status) else {
            // The OAuth error code (invalid_client, invalid_scope) helps the operator; descriptions may echo input.
            let code = json?["error"]?.stringValue.map { ", \($0.prefix(64))" } ?? ""
            return failed("HTTP \(status)\(code)")
        }
        guard let token = json?["access_token"]?.stringValue, !token.isEmpty else { return failed("the answer has no access_token") }
        if let type = json?["token_type"]?.stringValue, type.lowercased() != "bearer" {
            return failed("token_type '\(type.prefix(32))' is not Bearer")
        }
        let refreshAt = json?["expires_in"]?.doubleValue.map { started + .seconds($0) - MCPOAuthSettings.refreshMargin }
        return .success(Issued(token: token, refreshAt: refreshAt))
    }
}

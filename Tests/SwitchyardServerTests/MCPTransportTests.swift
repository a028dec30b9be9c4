import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import NIOHTTP1
import Synchronization
import Testing

@testable import SwitchyardCore
@testable import SwitchyardServer
@testable import SwitchyardTesting

/// A client's legacy event stream (`GET /mcp/sse`) read as it arrives, until ``close()``.
final class LegacyEventStream: Sendable {
    final class Received: Sendable {
        let text = Mutex("")
    }

    let events: AsyncStream<SSEEvent>
    /// Everything received, comments included.
    private let raw: Received
    private let task: Task<Void, any Error>

    init(port: Int, credential: String = "test-master-key") async throws {
        let (events, continuation) = AsyncStream.makeStream(of: SSEEvent.self)
        let (status, opened) = AsyncStream.makeStream(of: Int.self)
        self.events = events
        let raw = Received()
        self.raw = raw
        task = Task {
            defer { continuation.finish() }
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/mcp/sse")
            request.headers.add(name: "authorization", value: "Bearer \(credential)")
            request.headers.add(name: "accept", value: "text/event-stream")
            let response = try await testHTTPClient.execute(request, deadline: .distantFuture)
            opened.yield(Int(response.status.code))
            guard response.status == .ok else { return }
            var parser = SSEParser()
            for try await chunk in response.body {
                raw.text.withLock { $0 += String(buffer: chunk) }
                try parser.feed(chunk) { continuation.yield($0) }
            }
        }
        var statuses = status.makeAsyncIterator()
        let code = await statuses.next()
        try #require(code == 200, "the stream opens")
    }

    var text: String { raw.text.withLock { $0 } }

    /// The next event (nil when the stream ended).
    func next() async -> SSEEvent? {
        var iterator = events.makeAsyncIterator()
        return await iterator.next()
    }

    /// Hangs up.
    func close() async {
        task.cancel()
        _ = await task.result
    }
}

/// The transports besides Streamable HTTP and the credentials of upstream servers, through HTTP:
/// the legacy HTTP+SSE transport on both sides (`GET /mcp/sse` for clients, `transport: sse`
/// upstreams) and OAuth client credentials for upstream servers.
@Suite struct MCPTransportTests {
    static let upstreamToken = "legacy-upstream-secret-9876"

    /// The gateway, listening, in front of the given `mcp.servers` entries.
    static func withGateway(
        servers: String, extra: String = "", environment: [String: String] = [:],
        _ test: @escaping @Sendable (any TestClientProtocol, Int) async throws -> Void
    ) async throws {
        let yaml = """
            server: {port: 0, master_key: test-master-key, reload_check_interval: off}
            providers: [{name: p, type: mock}]
            models: [{name: chat, provider: p, model: m}]
            mcp:
              sse_keepalive: 100ms
              servers:
            \(servers)
            \(extra)
            """
        let (application, _) = try makeGateway(yaml, environment: environment)
        try await application.makeApplication().test(.live) { client in try await test(client, try #require(client.port)) }
    }

    static func post(_ client: any TestClientProtocol, _ endpoint: String, _ body: String, credential: String = "test-master-key") async throws
        -> TestResponse
    {
        try await client.execute(
            uri: endpoint, method: .post, headers: [.authorization: "Bearer \(credential)", .contentType: "application/json"],
            body: ByteBuffer(string: body))
    }

    /// The next `message` event's JSON.
    static func message(_ stream: LegacyEventStream) async throws -> JSONValue {
        let event = try #require(await stream.next(), "the stream carries the answer")
        #expect(event.event == "message")
        return try JSONValue.parse(event.data)
    }

    @Test func aClientOfTheLegacySSETransportGetsItsAnswersOnItsStreamInASessionBoundToItsCaller() async throws {
        let alpha = try await RunningMCPServer(MockMCPServer(name: "alpha"))
        try await Self.withGateway(servers: "    - {name: alpha, url: \"\(alpha.url)\", prefix: a}") { client, port in
            let refused = try await client.execute(uri: "/mcp/sse", method: .get)
            #expect(refused.status == .unauthorized)
            #expect(refused.headers[.wwwAuthenticate]?.contains("resource_metadata=") == true)

            let stream = try await LegacyEventStream(port: port)
            let first = try #require(await stream.next())
            #expect(first.event == "endpoint")
            let endpoint = String(decoding: first.data, as: UTF8.self)
            #expect(endpoint.hasPrefix("/mcp/messages?session_id="), "\(endpoint)")

            let initialize =
                #"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"legacy","version":"1"}}}"#
            #expect(try await Self.post(client, endpoint, initialize).status == .accepted)
            let initialized = try await Self.message(stream)
            #expect(initialized["id"]?.intValue == 0 && initialized["result"]?["protocolVersion"]?.stringValue == "2024-11-05", "\(initialized)")
            #expect(try await Self.post(client, endpoint, #"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).status == .accepted)

            #expect(try await Self.post(client, endpoint, #"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#).status == .accepted)
            let tools = try await Self.message(stream)
            #expect(tools["result"]?["tools"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["a_echo", "a_add", "a_inject", "a_picture"])
            let call = #"{"jsonrpc":"2.0","id":"c","method":"tools/call","params":{"name":"a_echo","arguments":{"text":"over the old transport"}}}"#
            #expect(try await Self.post(client, endpoint, call).status == .accepted)
            let echoed = try await Self.message(stream)
            #expect(echoed["id"]?.stringValue == "c" && MCPTests.text(echoed["result"] ?? .null) == "over the old transport", "\(echoed)")
            #expect(alpha.server.stats.calls == ["echo": 1])
            // A refusal is answered on the stream too.
            #expect(
                try await Self.post(client, endpoint, #"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"a_nope"}}"#).status
                    == .accepted)
            #expect(try await Self.message(stream)["error"]?["code"]?.intValue == -32602)

            // Bad input is refused on the POST; the session goes on.
            let garbage = try await Self.post(client, endpoint, "{nope")
            #expect(garbage.status == .badRequest && garbage.json?["error"]?["code"]?.intValue == -32700)
            // The session belongs to its caller: another key, an unknown id or none is 404.
            let key = try await MCPTests.createKey(client, #"{"name":"other"}"#)
            #expect(try await Self.post(client, endpoint, #"{"jsonrpc":"2.0","id":4,"method":"ping"}"#, credential: key).status == .notFound)
            #expect(try await Self.post(client, "/mcp/messages?session_id=0123", #"{"jsonrpc":"2.0","id":4,"method":"ping"}"#).status == .notFound)
            #expect(try await Self.post(client, "/mcp/messages", #"{"jsonrpc":"2.0","id":4,"method":"ping"}"#).status == .notFound)
            #expect(alpha.server.stats.calls == ["echo": 1], "nothing else reached the server")

            // The calls are audited and counted as on /mcp.
            let metrics = try await metricsText(client, containing: #"tool="echo""#)
            #expect(metrics.contains(#"switchyard_mcp_calls_total{method="tools/call",server="alpha",tool="echo",outcome="success"} 1"#))
            var audited = false
            _ = try await eventually {
                let audit = try await client.execute(uri: "/admin/audit?kind=tool", method: .get, headers: authorized)
                audited = audit.json?["data"]?.arrayValue?.contains { $0["target"]?.stringValue == "alpha/echo" } == true
                return audited
            }
            #expect(audited)
            // An idle stream gets keep-alive comments.
            #expect(await eventually { stream.text.contains(": keep-alive\n\n") })

            // Hanging up ends the session.
            await stream.close()
            #expect(
                try await eventually {
                    try await Self.post(client, endpoint, #"{"jsonrpc":"2.0","id":5,"method":"ping"}"#).status == .notFound
                })
        }
        await alpha.stop()
    }

    @Test func anUpstreamOnTheLegacySSETransportIsCalledThroughItsStreamAndReconnectedWhenTheStreamDrops() async throws {
        let legacy = try await RunningMCPServer(MockMCPServer(name: "legacy", requiredHeader: HeaderField("x-token", Self.upstreamToken)))
        let url = "http://127.0.0.1:\(legacy.port)/sse"
        try await Self.withGateway(
            servers: """
                    - {name: legacy, url: "\(url)", transport: sse, prefix: l, headers: {x-token: env:LEGACY_TOKEN}, restart_delay: 20ms, timeout: 5s}
                """, environment: ["LEGACY_TOKEN": Self.upstreamToken]
        ) { client, _ in
            let session = try await MCPTests.initialize(client)
            #expect(try await eventually { try await MCPTests.toolNames(client, session).count == 4 })
            #expect(try await MCPTests.toolNames(client, session) == ["l_echo", "l_add", "l_inject", "l_picture"])
            let sum = try await MCPTests.result(client, session, "tools/call", MCPTests.call("l_add", ["a": 2, "b": 3]))
            #expect(MCPTests.text(sum) == "5")
            #expect(legacy.server.stats.calls == ["add": 1] && legacy.server.stats.initializations == 1)
            #expect(legacy.server.stats.lastHeaders.contains { $0.name.lowercased() == "x-token" && $0.value == Self.upstreamToken })

            // The stream drops: the gateway connects again and initializes a new session.
            legacy.server.dropStreams()
            #expect(await eventually { legacy.server.stats.streamsOpened == 2 && legacy.server.stats.initializations == 2 })
            #expect(
                try await eventually {
                    let answer = try await MCPTests.rpc(client, session, "tools/call", MCPTests.call("l_echo", ["text": "again"]))
                    return answer.json?["result"].flatMap(MCPTests.text) == "again"
                })
            let metrics = try await metricsText(client, containing: #"switchyard_mcp_server_restarts_total{server="legacy"}"#)
            #expect(metrics.contains(#"switchyard_mcp_server_restarts_total{server="legacy"}"#))

            // Down: its tools leave the lists and a call says so.
            legacy.server.dropStreams()
            await legacy.stop()
            #expect(try await eventually { try await MCPTests.toolNames(client, session).isEmpty })
            let down = try await MCPTests.error(client, session, "tools/call", MCPTests.call("l_echo", ["text": "x"]))
            #expect(down["data"]?["type"]?.stringValue == "server_unavailable" && down["data"]?["server"]?.stringValue == "legacy", "\(down)")
        }
    }

    @Test func oauthClientCredentialsAreFetchedCachedRefreshedAndNeverShown() async throws {
        let issuer = MockOAuthIssuer(clientID: "switchyard-gateway", clientSecret: "client-secret-value-1234")
        let alpha = try await RunningMCPServer(MockMCPServer(name: "alpha", issuer: issuer))
        let postIssuer = MockOAuthIssuer(clientID: "gw:with spaces", clientSecret: "other-secret-value-5678")
        let beta = try await RunningMCPServer(MockMCPServer(name: "beta", issuer: postIssuer))
        let base = { (server: RunningMCPServer) in "http://127.0.0.1:\(server.port)" }
        try await Self.withGateway(
            servers: """
                    - name: alpha
                      url: "\(alpha.url)"
                      prefix: a
                      oauth: {token_url: "\(base(alpha))/token", client_id: switchyard-gateway, client_secret: env:ALPHA_SECRET, scope: "tools.read tools.call", audience: "https://alpha.example"}
                    - name: beta
                      url: "\(base(beta))/sse"
                      transport: sse
                      prefix: b
                      oauth: {token_url: "\(base(beta))/token", client_id: "gw:with spaces", client_secret: env:BETA_SECRET, auth_method: client_secret_post}
                    - name: gamma
                      url: "\(alpha.url)"
                      prefix: g
                      oauth: {token_url: "\(base(alpha))/token", client_id: switchyard-gateway, client_secret: wrong-secret-value-0000}
                """, environment: ["ALPHA_SECRET": "client-secret-value-1234", "BETA_SECRET": "other-secret-value-5678"]
        ) { client, _ in
            let session = try await MCPTests.initialize(client)
            var answers: [String] = []
            func echo(_ tool: String, _ text: String) async throws {
                let response = try await MCPTests.rpc(client, session, "tools/call", MCPTests.call(tool, ["text": .string(text)]))
                answers.append(response.text)
                #expect(response.json?["result"].flatMap(MCPTests.text) == text, "\(response.text)")
            }
            try await echo("a_echo", "one")
            try await echo("a_echo", "two")
            // initialize, notifications/initialized and both calls with one token.
            #expect(issuer.issued.count == 1)
            let grant = try #require(issuer.grants.first)
            #expect(grant.method == "client_secret_basic" && grant.form["grant_type"] == "client_credentials")
            #expect(grant.form["scope"] == "tools.read tools.call" && grant.form["audience"] == "https://alpha.example")
            #expect(grant.form["client_secret"] == nil, "with basic authentication the secret is not in the form")

            // The server stops accepting the token: the gateway fetches a new one once and the call goes through.
            issuer.revokeAll()
            try await echo("a_echo", "after revocation")
            #expect(issuer.issued.count == 2)
            // A token about to expire (within a minute) is not used again.
            issuer.setExpiresIn(10)
            issuer.revokeAll()
            try await echo("a_echo", "short-lived")
            #expect(issuer.issued.count == 3)
            issuer.setExpiresIn(3600)
            try await echo("a_echo", "expired")
            #expect(issuer.issued.count == 4)
            try await echo("a_echo", "cached")
            #expect(issuer.issued.count == 4)

            // The legacy SSE server: the stream and the POSTs carry the token; client_secret_post.
            #expect(try await eventually { (try await MCPTests.toolNames(client, session)).contains("b_echo") })
            try await echo("b_echo", "beta")
            let postGrant = try #require(postIssuer.grants.first)
            #expect(postGrant.method == "client_secret_post" && postGrant.form["client_id"] == "gw:with spaces")
            postIssuer.revokeAll()
            try await echo("b_echo", "beta again")
            #expect(postIssuer.issued.count == 2)

            // A refused client secret: a clear error that names neither secret nor token.
            let refused = try await MCPTests.error(client, session, "tools/call", MCPTests.call("g_echo", ["text": "x"]))
            #expect(refused["data"]?["type"]?.stringValue == "server_unavailable", "\(refused)")
            #expect(refused["message"]?.stringValue?.contains("token endpoint: HTTP 401, invalid_client") == true, "\(refused)")
            #expect(alpha.server.stats.calls["echo"] == 6, "gamma never reached the server")

            // The client never sees a token or a client secret: not in answers, the audit trail or the configuration page.
            let audit = try await client.execute(uri: "/admin/audit?kind=tool", method: .get, headers: authorized)
            let shown = answers.joined() + "\(refused)" + audit.text
            for secret in issuer.issued + postIssuer.issued + ["client-secret-value-1234", "other-secret-value-5678", "wrong-secret-value-0000"] {
                #expect(!shown.contains(secret))
            }
        }
        beta.server.dropStreams()
        await alpha.stop()
        await beta.stop()
    }

    @Test func theConfigurationViewRedactsOAuthClientSecrets() throws {
        let yaml = """
            mcp:
              servers:
                - {name: a, url: "http://127.0.0.1:1/mcp", oauth: {token_url: "http://127.0.0.1:1/token", client_id: gw, client_secret: inline-client-secret-42}}
            """
        let node = try YAMLConfigReader.parse(yaml, file: "switchyard.yaml")
        let config = try #require(ConfigLoader(environment: [:], fileExists: { _ in false }).load(node, source: "switchyard.yaml").config)
        let oauth = try #require(config.mcp.servers.first?.oauth)
        #expect(oauth.clientAuthentication == .basic && oauth.clientID == "gw")
        let text = RedactedConfiguration.text(config, scrubber: SecretScrubber(secrets: config.mcp.servers.flatMap(\.secrets)))
        #expect(!text.contains("inline-client-secret-42") && text.contains("client_id"), "\(text)")
    }

    @Test func mistakesInTransportsAndOAuthAreReportedWithTheirLine() throws {
        let yaml = """
            mcp:
              servers:
                - {name: ws, url: "http://127.0.0.1/mcp", transport: websocket}
                - {name: local, command: serve, oauth: {token_url: "http://127.0.0.1/token", client_id: a, client_secret: b}}
                - {name: nosecret, url: "http://127.0.0.1/mcp", oauth: {token_url: "http://127.0.0.1/token", client_id: a}}
                - {name: method, url: "http://127.0.0.1/mcp", oauth: {token_url: "http://127.0.0.1/token", client_id: a, client_secret: b, auth_method: private_key_jwt}}
                - {name: twice, url: "http://127.0.0.1/mcp", headers: {Authorization: x}, oauth: {token_url: "http://127.0.0.1/token", client_id: a, client_secret: b}}
                - {name: ftp, url: "http://127.0.0.1/mcp", oauth: {token_url: "ftp://127.0.0.1/token", client_id: a, client_secret: b}}
            """
        let node = try YAMLConfigReader.parse(yaml, file: "switchyard.yaml")
        let outcome = ConfigLoader(environment: [:], fileExists: { _ in false }).load(node, source: "switchyard.yaml")
        #expect(outcome.config == nil)
        let lines = outcome.errors.map(\.description)
        let expected = [
            ("switchyard.yaml:3:", "transport 'websocket' is not supported"), ("switchyard.yaml:4:", "oauth applies to HTTP servers"),
            ("switchyard.yaml:5:", "needs a client_secret"), ("switchyard.yaml:6:", "auth_method must be client_secret_basic or client_secret_post"),
            ("switchyard.yaml:7:", "both oauth and an authorization header"), ("switchyard.yaml:8:", "token_url must be an http:// or https:// URL"),
        ]
        for (position, text) in expected {
            #expect(lines.contains { $0.hasPrefix(position) && $0.contains(text) }, "\(position) \(text) in \(lines)")
        }
    }

    @Test func anEndpointEventIsResolvedAgainstTheStreamAndMustKeepItsOrigin() {
        let base = "http://127.0.0.1:8000/mcp/sse?x=1"
        #expect(MCPSSEUpstream.resolve(endpoint: "/messages/?session_id=ab", against: base) == "http://127.0.0.1:8000/messages/?session_id=ab")
        #expect(MCPSSEUpstream.resolve(endpoint: "messages?session_id=ab", against: base) == "http://127.0.0.1:8000/mcp/messages?session_id=ab")
        #expect(MCPSSEUpstream.resolve(endpoint: "http://127.0.0.1:8000/m", against: base) == "http://127.0.0.1:8000/m")
        #expect(MCPSSEUpstream.resolve(endpoint: "http://evil.example/m", against: base) == nil)
        #expect(MCPSSEUpstream.resolve(endpoint: "//evil.example/m", against: base) == nil)
        #expect(MCPSSEUpstream.resolve(endpoint: "http://127.0.0.1:8001/m", against: base) == nil)
    }
}

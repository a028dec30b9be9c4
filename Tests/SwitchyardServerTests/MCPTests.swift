import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SwitchyardCore
import SwitchyardServer
import SwitchyardTesting
import Synchronization
import Testing

/// A mock MCP server listening on a free port until ``stop()``.
final class RunningMCPServer: Sendable {
    let server: MockMCPServer
    let port: Int
    private let task: Task<Void, any Error>

    init(_ server: MockMCPServer) async throws {
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let app = server.makeApplication(port: 0) { continuation.yield($0) }
        task = Task { try await app.runService(gracefulShutdownSignals: []) }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw CancellationError() }
        self.server = server
        self.port = port
    }

    var url: String { "http://127.0.0.1:\(port)/mcp" }

    func stop() async {
        server.closeStreams()
        task.cancel()
        _ = await task.result
    }
}

/// `/mcp` through HTTP: the Streamable HTTP transport, federation of upstream MCP servers
/// (prefixes, pagination, routing, credentials), and governance (authentication, allow-lists,
/// guardrails on arguments and results, a server that is down, audit, metrics, traces).
@Suite struct MCPTests {
    static let alphaSecret = "Bearer alpha-upstream-secret-123"

    /// The gateway in front of two mock servers: alpha (prefix `a`, needs a credential) and beta (prefix `b`, answers in SSE).
    static func withServers(
        _ extra: String = "", pageSize: Int = 100, extraServers: String = "", betaOptions: String = "",
        _ test: @escaping @Sendable (any TestClientProtocol, RunningMCPServer, RunningMCPServer) async throws -> Void
    ) async throws {
        let alpha = try await RunningMCPServer(MockMCPServer(name: "alpha", requiredHeader: HeaderField("authorization", alphaSecret)))
        let beta = try await RunningMCPServer(MockMCPServer(name: "beta", sse: true))
        let yaml = """
            server: {port: 0, master_key: test-master-key, reload_check_interval: off}
            providers: [{name: p, type: mock}]
            models: [{name: chat, provider: p, model: m}]
            mcp:
              page_size: \(pageSize)
              servers:
                - {name: alpha, url: "\(alpha.url)", prefix: a, headers: {authorization: env:ALPHA_TOKEN}}
                - {name: beta, url: "\(beta.url)", prefix: b, timeout: 3s\(betaOptions)}
            \(extraServers)
            \(extra)
            """
        do {
            let (application, _) = try makeGateway(yaml, environment: ["ALPHA_TOKEN": alphaSecret])
            try await application.makeApplication().test(.live) { client in try await test(client, alpha, beta) }
        } catch {
            await alpha.stop()
            await beta.stop()
            throw error
        }
        await alpha.stop()
        await beta.stop()
    }

    static func headers(_ credential: String = "test-master-key", session: String? = nil, accept: String = "application/json, text/event-stream")
        -> HTTPFields
    {
        var fields: HTTPFields = [.authorization: "Bearer \(credential)", .contentType: "application/json", .accept: accept]
        if let session { fields[HTTPField.Name("mcp-session-id")!] = session }
        return fields
    }

    /// Opens a session; returns its id.
    static func initialize(_ client: any TestClientProtocol, credential: String = "test-master-key") async throws -> String {
        let body =
            #"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"test","version":"1"}}}"#
        let response = try await client.execute(uri: "/mcp", method: .post, headers: headers(credential), body: ByteBuffer(string: body))
        #expect(response.status == .ok, "\(response.text)")
        #expect(response.json?["result"]?["protocolVersion"]?.stringValue == "2025-06-18")
        return try #require(response.headers[HTTPField.Name("mcp-session-id")!])
    }

    static func rpc(
        _ client: any TestClientProtocol, _ session: String, _ method: String, _ params: JSONValue = .object([:]),
        credential: String = "test-master-key"
    ) async throws -> TestResponse {
        let message: JSONValue = ["jsonrpc": "2.0", "id": 7, "method": .string(method), "params": params]
        return try await client.execute(
            uri: "/mcp", method: .post, headers: headers(credential, session: session), body: ByteBuffer(bytes: message.serializedBytes()))
    }

    /// The `result` of a call that must succeed.
    static func result(
        _ client: any TestClientProtocol, _ session: String, _ method: String, _ params: JSONValue = .object([:]),
        credential: String = "test-master-key"
    ) async throws -> JSONValue {
        try await answer("result", client, session, method, params, credential: credential)
    }

    /// The `error` of a call that must fail.
    static func error(
        _ client: any TestClientProtocol, _ session: String, _ method: String, _ params: JSONValue = .object([:]),
        credential: String = "test-master-key"
    ) async throws -> JSONValue {
        try await answer("error", client, session, method, params, credential: credential)
    }

    /// The `result` or `error` member of a JSON-RPC answer that must have it (HTTP 200).
    static func answer(
        _ member: String, _ client: any TestClientProtocol, _ session: String, _ method: String, _ params: JSONValue, credential: String
    ) async throws -> JSONValue {
        let response = try await rpc(client, session, method, params, credential: credential)
        #expect(response.status == .ok)
        let value = response.json?[member]
        #expect(value != nil, "\(method) should answer with \(member): \(response.text)")
        return value ?? .null
    }

    static func toolNames(_ client: any TestClientProtocol, _ session: String, credential: String = "test-master-key") async throws -> [String] {
        var names: [String] = []
        var cursor: JSONValue?
        repeat {
            let page = try await result(client, session, "tools/list", cursor.map { ["cursor": $0] } ?? .object([:]), credential: credential)
            names += page["tools"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
            cursor = page["nextCursor"]
        } while cursor != nil
        return names
    }

    static func text(_ result: JSONValue) -> String? { result["content"]?.arrayValue?.first?["text"]?.stringValue }

    static func call(_ tool: String, _ arguments: JSONValue = .object([:])) -> JSONValue { ["name": .string(tool), "arguments": arguments] }

    static func createKey(_ client: any TestClientProtocol, _ json: String) async throws -> String {
        let response = try await client.execute(uri: "/admin/keys", method: .post, headers: authorized, body: ByteBuffer(string: json))
        #expect(response.status == .created, "\(response.text)")
        return try #require(response.json?["key"]?.stringValue)
    }

    @Test func toolsPromptsAndResourcesOfTwoServersAreMergedPagedAndRoutedWithEachServersCredentials() async throws {
        try await Self.withServers(pageSize: 3) { client, alpha, beta in
            let session = try await Self.initialize(client)
            let first = try await Self.result(client, session, "tools/list")
            #expect(first["tools"]?.arrayValue?.count == 3 && first["nextCursor"]?.stringValue != nil, "pages of three")
            let names = try await Self.toolNames(client, session)
            #expect(names == ["a_echo", "a_add", "a_inject", "a_picture", "b_echo", "b_add", "b_inject", "b_picture"])

            let sum = try await Self.result(client, session, "tools/call", Self.call("a_add", ["a": 2, "b": 3]))
            #expect(Self.text(sum) == "5")
            let echoed = try await Self.result(client, session, "tools/call", Self.call("b_echo", ["text": "hello beta"]))
            #expect(Self.text(echoed) == "hello beta", "an SSE answer is read")
            #expect(alpha.server.stats.calls == ["add": 1] && beta.server.stats.calls == ["echo": 1], "each call reached the owning server once")
            // Each server gets its own credential; the other server and the client never see it.
            #expect(alpha.server.stats.lastHeaders.contains { $0.name.lowercased() == "authorization" && $0.value == Self.alphaSecret })
            #expect(!beta.server.stats.lastHeaders.contains { $0.name.lowercased() == "authorization" })

            let prompts = try await Self.result(client, session, "prompts/list")
            #expect(prompts["prompts"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["a_greet", "b_greet"])
            let prompt = try await Self.result(client, session, "prompts/get", ["name": "b_greet", "arguments": ["who": "Ada"]])
            #expect(prompt["messages"]?.arrayValue?.first?["content"]?["text"]?.stringValue == "Say hello to Ada.")
            let resources = try await Self.result(client, session, "resources/list")
            #expect(resources["resources"]?.arrayValue?.count == 2)
            let read = try await Self.result(client, session, "resources/read", ["uri": "mock://beta/readme"])
            #expect(read["contents"]?.arrayValue?.first?["text"]?.stringValue == "The readme of beta.")

            // The upstream forgot the gateway's session: the gateway initializes again, the client notices nothing.
            alpha.server.dropSessions()
            let again = try await Self.result(client, session, "tools/call", Self.call("a_echo", ["text": "still here"]))
            #expect(Self.text(again) == "still here" && alpha.server.stats.initializations == 2)

            let unknown = try await Self.error(client, session, "tools/call", Self.call("a_nope"))
            #expect(unknown["code"]?.intValue == -32602)
            let cursor = try await Self.error(client, session, "tools/list", ["cursor": "p999"])
            #expect(cursor["code"]?.intValue == -32602)
            let method = try await Self.error(client, session, "sampling/createMessage")
            #expect(method["code"]?.intValue == -32601)
            #expect(try await Self.result(client, session, "ping") == .object([:]))

            // Every call is counted per server and tool, and audited with a digest of its arguments.
            let metrics = try await metricsText(client, containing: #"tool="add""#)
            #expect(metrics.contains("switchyard_mcp_calls_total") && metrics.contains("switchyard_mcp_call_duration_seconds"))
            #expect(metrics.contains(#"switchyard_mcp_server_up{server="alpha"} 1"#))
            let audit = try await client.execute(uri: "/admin/audit?kind=tool", method: .get, headers: authorized)
            let events = audit.json?["data"]?.arrayValue ?? []
            let add = events.first { $0["target"]?.stringValue == "alpha/add" }
            #expect(add?["outcome"]?.stringValue == "success" && add?["actor"]?.stringValue == "master", "\(audit.text)")
            #expect(add?["details"]?["arguments_sha256"]?.stringValue?.count == 64 && add?["details"]?["duration_ms"] != nil)
            #expect(!audit.text.contains("alpha-upstream-secret"), "no credential in the audit trail")
        }
    }

    @Test func theTransportKeepsSessionsPerCallerAndAnswersInTheFormTheClientAccepts() async throws {
        try await Self.withServers(
            """
            access: {roles: {tools: {mcp_servers: [alpha, beta]}}}
            """
        ) { client, _, _ in
            let session = try await Self.initialize(client)
            let body = ByteBuffer(
                string: #"{"jsonrpc":"2.0","id":"x","method":"tools/call","params":{"name":"a_echo","arguments":{"text":"streamed"}}}"#)
            let sse = try await client.execute(
                uri: "/mcp", method: .post, headers: Self.headers(session: session, accept: "text/event-stream"), body: body)
            #expect(sse.headers[.contentType] == "text/event-stream")
            let event = try #require(sseData(sse.text).first.flatMap { try? JSONValue.parse($0) })
            #expect(event["id"]?.stringValue == "x" && Self.text(event["result"] ?? .null) == "streamed")

            let missing = try await client.execute(uri: "/mcp", method: .post, headers: Self.headers(), body: body)
            #expect(missing.status == .badRequest && missing.json?["error"] != nil)
            let notification = try await client.execute(
                uri: "/mcp", method: .post, headers: Self.headers(session: session),
                body: ByteBuffer(string: #"{"jsonrpc":"2.0","method":"notifications/initialized"}"#))
            #expect(notification.status == .accepted)
            var versioned = Self.headers(session: session)
            versioned[HTTPField.Name("mcp-protocol-version")!] = "1999-01-01"
            #expect(try await client.execute(uri: "/mcp", method: .post, headers: versioned, body: body).status == .badRequest)
            let garbage = try await client.execute(
                uri: "/mcp", method: .post, headers: Self.headers(session: session), body: ByteBuffer(string: "{nope"))
            #expect(garbage.status == .badRequest && garbage.json?["error"]?["code"]?.intValue == -32700)
            let batch = try await client.execute(uri: "/mcp", method: .post, headers: Self.headers(session: session), body: ByteBuffer(string: "[]"))
            #expect(batch.status == .badRequest)
            // GET is the session's stream (MCPStreamTests): it needs Accept: text/event-stream.
            #expect(
                try await client.execute(uri: "/mcp", method: .get, headers: Self.headers(session: session, accept: "application/json")).status
                    == .notAcceptable)

            // A session belongs to the caller that opened it.
            let key = try await Self.createKey(client, #"{"name":"other","roles":["tools"]}"#)
            let stolen = try await Self.rpc(client, session, "tools/list", credential: key)
            #expect(stolen.status == .notFound)
            let own = try await Self.initialize(client, credential: key)
            #expect(try await Self.toolNames(client, own, credential: key).count == 8)

            let ended = try await client.execute(uri: "/mcp", method: .delete, headers: Self.headers(session: session))
            #expect(ended.status == .noContent)
            #expect(try await Self.rpc(client, session, "ping").status == .notFound, "an ended session is gone")
        }
    }

    @Test func anUnauthenticatedClientIsToldWhereTheProtectedResourceMetadataIs() async throws {
        try await Self.withServers { client, alpha, _ in
            let body = ByteBuffer(string: #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#)
            for headers: HTTPFields in [
                [.contentType: "application/json"], [.authorization: "Bearer sk-sy-wrong", .contentType: "application/json"],
            ] {
                let refused = try await client.execute(uri: "/mcp", method: .post, headers: headers, body: body)
                #expect(refused.status == .unauthorized)
                let challenge = try #require(refused.headers[.wwwAuthenticate])
                #expect(challenge.hasPrefix("Bearer ") && challenge.contains(#"resource_metadata="http://"#), "\(challenge)")
                #expect(challenge.contains("/.well-known/oauth-protected-resource/mcp\""))
            }
            let metadata = try await client.execute(uri: "/.well-known/oauth-protected-resource/mcp", method: .get)
            #expect(metadata.status == .ok)
            #expect(metadata.json?["resource"]?.stringValue?.hasSuffix("/mcp") == true)
            #expect(metadata.json?["bearer_methods_supported"] == ["header"])
            #expect(alpha.server.stats.calls.isEmpty)
        }
    }

    @Test func aKeyWhoseRoleAllowsOneServerSeesAndCallsOnlyThatServer() async throws {
        try await Self.withServers(
            """
            access: {roles: {alpha-only: {mcp_servers: [alpha]}}}
            """
        ) { client, alpha, beta in
            let key = try await Self.createKey(client, #"{"name":"limited","roles":["alpha-only"]}"#)
            let session = try await Self.initialize(client, credential: key)
            #expect(try await Self.toolNames(client, session, credential: key) == ["a_echo", "a_add", "a_inject", "a_picture"])
            let refused = try await Self.error(client, session, "tools/call", Self.call("b_echo", ["text": "x"]), credential: key)
            #expect(refused["code"]?.intValue == -32001 && refused["data"]?["type"]?.stringValue == "access_denied", "\(refused)")
            #expect(beta.server.stats.calls.isEmpty, "the refused call never reached the server")
            let prompts = try await Self.result(client, session, "prompts/list", credential: key)
            #expect(prompts["prompts"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["a_greet"])
            let allowed = try await Self.result(client, session, "tools/call", Self.call("a_echo", ["text": "ok"]), credential: key)
            #expect(Self.text(allowed) == "ok" && alpha.server.stats.calls == ["echo": 1])
            var denied = false
            _ = try await eventually {
                let audit = try await client.execute(uri: "/admin/audit?kind=tool", method: .get, headers: authorized)
                denied =
                    audit.json?["data"]?.arrayValue?.contains { $0["target"]?.stringValue == "beta/echo" && $0["outcome"]?.stringValue == "denied" }
                    == true
                return denied
            }
            #expect(denied, "the refusal is in the audit trail")
        }
    }

    @Test func toolAllowListsAndRulesRefuseTheToolsTheyDoNotAllow() async throws {
        try await Self.withServers(
            """
            access:
              roles: {echoer: {mcp_tools: [alpha/echo, "b*"]}}
              rules:
                - {name: no-injection-tools, effect: deny, reason: inject tools are off limits, when: {tools: ["*/inject"]}}
            """
        ) { client, alpha, _ in
            let key = try await Self.createKey(client, #"{"name":"echoer","roles":["echoer"]}"#)
            let session = try await Self.initialize(client, credential: key)
            #expect(try await Self.toolNames(client, session, credential: key) == ["a_echo"], "only the allowed tools are listed")
            let add = try await Self.error(client, session, "tools/call", Self.call("a_add", ["a": 1, "b": 1]), credential: key)
            #expect(add["data"]?["type"]?.stringValue == "access_denied" && add["message"]?.stringValue?.contains("'add'") == true, "\(add)")
            #expect(alpha.server.stats.calls["add"] == nil)

            // The rule holds for every caller, the master key's rules aside.
            let developer = try await Self.createKey(client, #"{"name":"dev"}"#)
            let devSession = try await Self.initialize(client, credential: developer)
            let inject = try await Self.error(client, devSession, "tools/call", Self.call("a_inject"), credential: developer)
            #expect(inject["message"]?.stringValue?.contains("inject tools are off limits") == true, "\(inject)")
            #expect(!(try await Self.toolNames(client, devSession, credential: developer)).contains("a_inject"))

            // A key limited to other endpoints may not use /mcp at all.
            let chatOnly = try await Self.createKey(client, #"{"name":"chat-only","endpoints":["chat_completions"]}"#)
            let chatSession = try await Self.initialize(client, credential: chatOnly)
            #expect(try await Self.toolNames(client, chatSession, credential: chatOnly).isEmpty)
            let echo = try await Self.error(client, chatSession, "tools/call", Self.call("a_echo", ["text": "x"]), credential: chatOnly)
            #expect(echo["data"]?["type"]?.stringValue == "access_denied")
        }
    }

    @Test func guardrailsJudgeToolArgumentsAndCatchAnInjectionInAToolResult() async throws {
        try await Self.withServers(
            """
            guardrails:
              - {name: no-emails, detector: pii, entities: [email], direction: input, action: block, endpoints: [mcp]}
              - {name: mask-phones, detector: pii, entities: [phone], direction: input, action: mask, endpoints: [mcp]}
              - {name: indirect-injection, detector: injection, direction: output, action: block}
            """
        ) { client, alpha, _ in
            let session = try await Self.initialize(client)
            let email = try await Self.error(client, session, "tools/call", Self.call("a_echo", ["text": "write to bob.smith@example.com"]))
            #expect(email["code"]?.intValue == -32003 && email["data"]?["type"]?.stringValue == "guardrail_blocked", "\(email)")
            #expect(email["message"]?.stringValue?.contains("no-emails") == true)
            #expect(alpha.server.stats.calls["echo"] == nil, "a blocked call never reaches the server")

            let masked = try await Self.result(client, session, "tools/call", Self.call("a_echo", ["text": "call me at +1 415 555 0134 please"]))
            #expect(alpha.server.stats.lastArguments?["text"]?.stringValue?.contains("555") == false, "the server got the masked text")
            #expect(Self.text(masked)?.contains("[PHONE") == true, "\(masked)")

            // The server's answer carries an indirect prompt injection: the client never sees it.
            let injected = try await Self.error(client, session, "tools/call", Self.call("a_inject"))
            #expect(injected["data"]?["type"]?.stringValue == "guardrail_blocked", "\(injected)")
            #expect(injected["message"]?.stringValue?.contains("indirect-injection") == true)
            #expect(alpha.server.stats.calls["inject"] == 1)
            // An image the injection guardrail cannot read is not passed on either.
            let picture = try await Self.error(client, session, "tools/call", Self.call("a_picture"))
            #expect(picture["data"]?["type"]?.stringValue == "guardrail_blocked")
            let benign = try await Self.result(client, session, "tools/call", Self.call("a_echo", ["text": "The weather is sunny."]))
            #expect(Self.text(benign) == "The weather is sunny.")

            var audited = false
            _ = try await eventually {
                let audit = try await client.execute(uri: "/admin/audit?kind=tool", method: .get, headers: authorized)
                audited =
                    audit.json?["data"]?.arrayValue?.contains {
                        $0["target"]?.stringValue == "alpha/inject" && $0["outcome"]?.stringValue == "denied"
                            && $0["details"]?["guardrails"]?.stringValue?.contains("indirect-injection") == true
                    } == true
                return audited
            }
            #expect(audited)
        }
    }

    @Test func aServerThatIsDownTakesOnlyItsOwnToolsAwayAndItsCallsGetAClearError() async throws {
        try await Self.withServers(
            extraServers: "    - {name: gamma, url: \"http://127.0.0.1:9/mcp\", prefix: g, timeout: 2s}"
        ) { client, alpha, beta in
            let session = try await Self.initialize(client)
            #expect(try await Self.toolNames(client, session).count == 8, "gamma never answered: its tools are not listed")
            let never = try await Self.error(client, session, "tools/call", Self.call("g_echo"))
            #expect(never["data"]?["type"]?.stringValue == "server_unavailable" && never["data"]?["server"]?.stringValue == "gamma", "\(never)")

            await beta.stop()
            #expect(try await Self.toolNames(client, session) == ["a_echo", "a_add", "a_inject", "a_picture"])
            let down = try await Self.error(client, session, "tools/call", Self.call("b_echo", ["text": "x"]))
            #expect(down["code"]?.intValue == -32004 && down["message"]?.stringValue?.contains("'beta' is unavailable") == true, "\(down)")
            #expect(down["data"]?["type"]?.stringValue == "server_unavailable" && down["data"]?["server"]?.stringValue == "beta")
            let up = try await Self.result(client, session, "tools/call", Self.call("a_echo", ["text": "alpha is fine"]))
            #expect(Self.text(up) == "alpha is fine" && alpha.server.stats.calls == ["echo": 1])
            let metrics = try await metricsText(client, containing: #"switchyard_mcp_server_up{server="beta"} 0"#)
            #expect(metrics.contains(#"switchyard_mcp_server_up{server="beta"} 0"#))
        }
    }

    @Test func aToolsRateLimitRefusesEachCallerItsCallsOverTheLimit() async throws {
        try await Self.withServers(betaOptions: ", tool_limits: {echo: 2}") { client, _, beta in
            let session = try await Self.initialize(client)
            for _ in 0..<2 { _ = try await Self.result(client, session, "tools/call", Self.call("b_echo", ["text": "x"])) }
            let refused = try await Self.error(client, session, "tools/call", Self.call("b_echo", ["text": "x"]))
            #expect(refused["code"]?.intValue == -32007 && refused["data"]?["type"]?.stringValue == "rate_limited", "\(refused)")
            #expect((refused["data"]?["retry_after"]?.intValue ?? 0) >= 1)
            #expect(beta.server.stats.calls["echo"] == 2, "the refused call never reached the server")
            _ = try await Self.result(client, session, "tools/call", Self.call("b_add", ["a": 1, "b": 1]))
            // Another caller has a limit of its own.
            let key = try await Self.createKey(client, #"{"name":"second"}"#)
            let other = try await Self.initialize(client, credential: key)
            _ = try await Self.result(client, other, "tools/call", Self.call("b_echo", ["text": "y"]), credential: key)
            #expect(beta.server.stats.calls["echo"] == 3)
        }
    }

    @Test func aSessionOpenedOnOneInstanceWorksOnAnotherThatSharesTheSecret() async throws {
        let alpha = try await RunningMCPServer(MockMCPServer(name: "alpha"))
        let yaml = """
            server: {port: 0, master_key: test-master-key, key_secret: shared-instance-secret-0123456789abcdef, reload_check_interval: off}
            providers: [{name: p, type: mock}]
            models: [{name: chat, provider: p, model: m}]
            mcp: {servers: [{name: alpha, url: "\(alpha.url)", prefix: a}]}
            """
        let (first, _) = try makeGateway(yaml)
        let (second, _) = try makeGateway(yaml)
        try await first.makeApplication().test(.live) { one in
            try await second.makeApplication().test(.live) { two in
                let session = try await Self.initialize(one)
                let echoed = try await Self.result(two, session, "tools/call", Self.call("a_echo", ["text": "other instance"]))
                #expect(Self.text(echoed) == "other instance")
                // The id is bound to its caller and cannot be forged.
                let key = try await Self.createKey(two, #"{"name":"someone-else"}"#)
                #expect(try await Self.rpc(two, session, "ping", credential: key).status == .notFound)
                let forged = String(session.dropLast()) + (session.last == "0" ? "1" : "0")
                #expect(try await Self.rpc(two, forged, "ping").status == .notFound)
                #expect(try await Self.rpc(two, session + "x", "ping").status == .notFound)
                let ended = try await two.execute(uri: "/mcp", method: .delete, headers: Self.headers(session: session))
                #expect(ended.status == .noContent)
                #expect(try await Self.rpc(two, session, "ping").status == .notFound)
            }
        }
        await alpha.stop()
    }

    @Test func mistakesInTheServerListAreEachReportedWithTheirLine() throws {
        let yaml = """
            mcp:
              servers:
                - {name: both, url: "http://127.0.0.1/mcp", command: serve}
                - {name: ftp, url: "ftp://127.0.0.1/mcp"}
                - {name: first, url: "http://127.0.0.1/mcp", prefix: shared}
                - {name: second, command: serve, prefix: shared, headers: {x-token: abc}}
                - {name: secret, url: "http://127.0.0.1/mcp", headers: {authorization: env:MCP_TEST_UNSET_TOKEN}, tool_limits: {search: 0}}
                - {name: neither}
                - {url: "http://127.0.0.1/mcp", tiemout: 5s}
            """
        let node = try YAMLConfigReader.parse(yaml, file: "switchyard.yaml")
        let outcome = ConfigLoader(environment: [:], fileExists: { _ in false }).load(node, source: "switchyard.yaml")
        #expect(outcome.config == nil)
        let lines = outcome.errors.map(\.description)
        let expected = [
            ("switchyard.yaml:3:7", "has both 'url' and 'command'"), ("switchyard.yaml:4:7", "must be an http:// or https:// URL"),
            ("switchyard.yaml:6:7", "the same prefix 'shared' as 'first'"), ("switchyard.yaml:6:", "give a stdio server its credentials in 'env'"),
            ("switchyard.yaml:7:", "MCP_TEST_UNSET_TOKEN is not set"), ("switchyard.yaml:7:", "must be at least 1 call per minute"),
            ("switchyard.yaml:8:7", "needs a 'url' (Streamable HTTP) or a 'command' (stdio)"), ("switchyard.yaml:9:7", "has no 'name'"),
        ]
        for (position, text) in expected {
            #expect(lines.contains { $0.hasPrefix(position) && $0.contains(text) }, "\(position) \(text) in \(lines)")
        }
    }

    @Test func everyToolCallIsAnExecuteToolSpanInTheRequestsTrace() async throws {
        try await TracingTests.withCollector { collectorPort, exported in
            try await Self.withServers(TracingTests.tracing(collectorPort)) { client, _, _ in
                let session = try await Self.initialize(client)
                _ = try await Self.result(client, session, "tools/call", Self.call("a_echo", ["text": "traced"]))
                var span: JSONValue?
                _ = await eventually {
                    span = exported().first { $0["name"]?.stringValue == "execute_tool a_echo" }
                    return span != nil
                }
                #expect(TracingTests.attribute(span, "gen_ai.tool.name")?["stringValue"]?.stringValue == "a_echo")
                #expect(TracingTests.attribute(span, "gen_ai.operation.name")?["stringValue"]?.stringValue == "execute_tool")
                #expect(TracingTests.attribute(span, "switchyard.mcp.server")?["stringValue"]?.stringValue == "alpha")
                let server = exported().first { $0["spanId"]?.stringValue == span?["parentSpanId"]?.stringValue }
                #expect(server?["name"]?.stringValue == "POST /mcp", "the span's parent is the request's server span")
            }
        }
    }
}

import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SwitchyardCore
import SwitchyardServer
import SwitchyardTesting
import Testing

/// MCP tools on any model: Responses API `{"type": "mcp"}` tools (and the chat completions
/// extension) answered by a model behind an Anthropic-dialect mock, the gateway running the
/// calls through the governed MCP path.
@Suite struct MCPToolLoopTests {
    /// The gateway with MCP server alpha (prefix `a`, a credential the gateway holds) and model
    /// `claude` on an Anthropic-dialect mock upstream.
    static func withGateway(
        _ extra: String = "", mcpOptions: String = "",
        _ test: @escaping @Sendable (any TestClientProtocol, RunningMCPServer, MockProvider) async throws -> Void
    ) async throws {
        let alpha = try await RunningMCPServer(MockMCPServer(name: "alpha", requiredHeader: HeaderField("authorization", MCPTests.alphaSecret)))
        do {
            try await withMockUpstream { mock, port in
                let yaml = """
                    server: {port: 0, master_key: test-master-key, reload_check_interval: off}
                    providers:
                      - {name: claude, type: anthropic, base_url: "http://127.0.0.1:\(port)", api_key: anthropic-secret-key}
                    models: [{name: claude, provider: claude, model: claude-mock}]
                    mcp:
                    \(mcpOptions)
                      servers:
                        - {name: alpha, url: "\(alpha.url)", prefix: a, headers: {authorization: env:ALPHA_TOKEN}}
                    \(extra)
                    """
                let (application, _) = try makeGateway(yaml, environment: ["ALPHA_TOKEN": MCPTests.alphaSecret])
                try await application.makeApplication().test(.live) { client in try await test(client, alpha, mock) }
            }
        } catch {
            await alpha.stop()
            throw error
        }
        await alpha.stop()
    }

    static func post(_ client: any TestClientProtocol, _ body: JSONValue, credential: String = "test-master-key", path: String = "/v1/responses")
        async throws -> TestResponse
    {
        try await client.execute(
            uri: path, method: .post, headers: [.authorization: "Bearer \(credential)", .contentType: "application/json"],
            body: ByteBuffer(bytes: body.serializedBytes()))
    }

    static func request(_ tool: JSONValue, mock: JSONValue, input: JSONValue = "What does the tool say?") -> JSONValue {
        ["model": "claude", "input": input, "tools": [tool], "mock": mock]
    }

    static func items(_ response: TestResponse, _ type: String) -> [JSONValue] {
        response.json?["output"]?.arrayValue?.filter { $0["type"]?.stringValue == type } ?? []
    }

    @Test func aModelBehindAnotherDialectCallsAnAllowedToolAndAnswersWithItsResult() async throws {
        try await Self.withGateway { client, alpha, mock in
            let response = try await Self.post(
                client,
                Self.request(
                    ["type": "mcp", "server_label": "alpha", "server_url": .string(alpha.url), "require_approval": "never", "headers": ["x-client": "ignored"]],
                    mock: ["tool_name": "a_echo", "tool_arguments": #"{"text":"forty-two"}"#, "answer_with_tool_result": true]))
            #expect(response.status == .ok, "\(response.text)")
            let object = try #require(response.json)
            #expect(object["status"]?.stringValue == "completed")
            let lists = Self.items(response, "mcp_list_tools")
            #expect(lists.count == 1 && lists.first?["server_label"]?.stringValue == "alpha")
            #expect(lists.first?["tools"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["echo", "add", "inject", "picture"])
            let calls = Self.items(response, "mcp_call")
            #expect(calls.count == 1, "\(response.text)")
            #expect(calls.first?["name"]?.stringValue == "echo" && calls.first?["server_label"]?.stringValue == "alpha")
            #expect(calls.first?["output"]?.stringValue == "forty-two" && calls.first?["error"]?.isNull == true)
            // The result reached the model (through the Anthropic dialect) and its answer uses it.
            let message = Self.items(response, "message").last
            #expect(message?["content"]?[0]?["text"]?.stringValue == "Tool result: forty-two", "\(response.text)")
            #expect(object["output"]?.arrayValue?.last?["type"]?.stringValue == "message")
            // The server got the gateway's credential, not the client's headers.
            #expect(alpha.server.stats.calls == ["echo": 1])
            #expect(alpha.server.stats.lastHeaders.contains { $0.name.lowercased() == "authorization" && $0.value == MCPTests.alphaSecret })
            #expect(!alpha.server.stats.lastHeaders.contains { $0.name.lowercased() == "x-client" })
            // The model saw the tools as functions, and the tool's result as a tool_result block.
            let lastUpstream = try JSONValue.parse(mock.stats.lastBody)
            #expect(lastUpstream["tools"]?.arrayValue?.compactMap { $0["name"]?.stringValue }.contains("a_echo") == true, "\(lastUpstream)")
            #expect(mock.stats.requests == 2)

            // Both rounds are in the request log, each with its usage; the response adds them up.
            let requestID = try #require(response.headers[HTTPField.Name("x-request-id")!])
            var rounds: [JSONValue] = []
            _ = try await eventually {
                let logs = try await client.execute(uri: "/admin/logs?limit=50", method: .get, headers: authorized)
                rounds = logs.json?["data"]?.arrayValue?.filter { ($0["request_id"]?.stringValue ?? "").hasPrefix(requestID) } ?? []
                return rounds.count == 2
            }
            #expect(rounds.count == 2 && rounds.allSatisfy { $0["endpoint"]?.stringValue == "responses" })
            #expect(Set(rounds.compactMap { $0["request_id"]?.stringValue }) == [requestID, requestID + "-2"])
            let logged = rounds.compactMap { $0["prompt_tokens"]?.intValue }.reduce(0, +)
            #expect(logged > 0 && object["usage"]?["input_tokens"]?.intValue == logged, "\(rounds)")
            #expect(response.headers[HTTPField.Name("x-switchyard-mcp-rounds")!] == "2")

            // The call is audited like a call on /mcp, under the same request id.
            var audited = false
            _ = try await eventually {
                let audit = try await client.execute(uri: "/admin/audit?kind=tool", method: .get, headers: authorized)
                audited =
                    audit.json?["data"]?.arrayValue?.contains {
                        $0["target"]?.stringValue == "alpha/echo" && $0["outcome"]?.stringValue == "success"
                            && $0["request_id"]?.stringValue == requestID
                    } == true
                return audited
            }
            #expect(audited)
        }
    }

    @Test func aToolTheKeyMayNotUseIsNotListedAndAForcedCallIsRefused() async throws {
        try await Self.withGateway(
            """
            access: {roles: {echoer: {mcp_tools: [alpha/echo]}}}
            """
        ) { client, alpha, _ in
            let created = try await client.execute(
                uri: "/admin/keys", method: .post, headers: authorized, body: ByteBuffer(string: #"{"name":"echoer","roles":["echoer"]}"#))
            let key = try #require(created.json?["key"]?.stringValue)
            let response = try await Self.post(
                client,
                Self.request(
                    ["type": "mcp", "server_label": "alpha", "require_approval": "never"],
                    mock: ["tool_name": "a_add", "tool_arguments": #"{"a":1,"b":2}"#, "answer_with_tool_result": true]), credential: key)
            #expect(response.status == .ok, "\(response.text)")
            #expect(Self.items(response, "mcp_list_tools").first?["tools"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["echo"])
            let call = Self.items(response, "mcp_call").first
            #expect(call?["name"]?.stringValue == "add" && call?["status"]?.stringValue == "failed", "\(response.text)")
            #expect(call?["error"]?["type"]?.stringValue == "mcp_protocol_error")
            #expect(call?["error"]?["message"]?.stringValue?.contains("'add'") == true, "\(response.text)")
            #expect(alpha.server.stats.calls["add"] == nil, "the refused call never reached the server")
            // The model learnt of the refusal and answered.
            #expect(Self.items(response, "message").last?["content"]?[0]?["text"]?.stringValue?.hasPrefix("Tool result: Error:") == true)

            // A tool left out of the request's allowed_tools is refused without reaching the governed path.
            let narrowed = try await Self.post(
                client,
                Self.request(
                    ["type": "mcp", "server_label": "alpha", "require_approval": "never", "allowed_tools": ["add"]],
                    mock: ["tool_name": "a_echo", "tool_arguments": #"{"text":"x"}"#]))
            #expect(Self.items(narrowed, "mcp_list_tools").first?["tools"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["add"])
            #expect(Self.items(narrowed, "mcp_call").first?["error"]?["message"]?.stringValue?.contains("allowed_tools") == true)
            #expect(alpha.server.stats.calls["echo"] == nil)

            // The gateway reaches only its configured servers.
            let elsewhere = try await Self.post(
                client,
                Self.request(["type": "mcp", "server_label": "alpha", "server_url": "http://169.254.169.254/mcp"], mock: [:]))
            #expect(elsewhere.status == .badRequest && elsewhere.json?["error"]?["param"]?.stringValue == "tools[0].server_url")
            let unknown = try await Self.post(client, Self.request(["type": "mcp", "server_label": "nowhere"], mock: [:]))
            #expect(unknown.status == .badRequest && unknown.text.contains("not an MCP server configured on the gateway"))
        }
    }

    @Test func aModelThatNeverStopsCallingToolsEndsIncompleteAtTheIterationBound() async throws {
        try await Self.withGateway(mcpOptions: "  max_tool_iterations: 3") { client, alpha, mock in
            let response = try await Self.post(
                client,
                Self.request(
                    ["type": "mcp", "server_label": "alpha", "require_approval": "never"],
                    mock: ["tool_name": "a_echo", "tool_arguments": #"{"text":"again"}"#, "tool_rounds": 1000]))
            #expect(response.status == .ok, "\(response.text)")
            #expect(response.json?["status"]?.stringValue == "incomplete")
            #expect(response.json?["incomplete_details"]?["reason"]?.stringValue == "max_tool_iterations")
            #expect(Self.items(response, "mcp_call").count == 3)
            #expect(alpha.server.stats.calls == ["echo": 3] && mock.stats.requests == 4)
        }
    }

    @Test func aCallThatNeedsApprovalWaitsForTheClientsApprovalResponse() async throws {
        try await Self.withGateway { client, alpha, _ in
            let mock: JSONValue = ["tool_name": "a_echo", "tool_arguments": #"{"text":"approved text"}"#, "answer_with_tool_result": true]
            let tool: JSONValue = ["type": "mcp", "server_label": "alpha"]  // require_approval defaults to "always"
            let first = try await Self.post(client, Self.request(tool, mock: mock))
            #expect(first.status == .ok, "\(first.text)")
            let approval = try #require(Self.items(first, "mcp_approval_request").first, "\(first.text)")
            #expect(approval["name"]?.stringValue == "echo" && approval["arguments"]?.stringValue == #"{"text":"approved text"}"#)
            #expect(alpha.server.stats.calls.isEmpty, "nothing runs before the approval")

            // The client sends the conversation back (as the SDK does without stored responses) with its answer.
            let output = first.json?["output"]?.arrayValue ?? []
            let input: [JSONValue] =
                [["role": "user", "content": "What does the tool say?"]] + output
                + [["type": "mcp_approval_response", "approval_request_id": approval["id"] ?? "", "approve": true]]
            let second = try await Self.post(client, Self.request(tool, mock: mock, input: .array(input)))
            #expect(second.status == .ok, "\(second.text)")
            let call = Self.items(second, "mcp_call").first
            #expect(call?["output"]?.stringValue == "approved text" && call?["approval_request_id"] == approval["id"], "\(second.text)")
            #expect(Self.items(second, "mcp_list_tools").isEmpty, "the conversation already holds the list")
            #expect(Self.items(second, "message").last?["content"]?[0]?["text"]?.stringValue == "Tool result: approved text")
            #expect(alpha.server.stats.calls == ["echo": 1])

            // Declined: nothing runs and the model is told.
            let declined = try await Self.post(
                client,
                Self.request(
                    tool, mock: mock,
                    input: .array(
                        [["role": "user", "content": "What does the tool say?"]] + output + [
                            ["type": "mcp_approval_response", "approval_request_id": approval["id"] ?? "", "approve": false]
                        ])))
            #expect(Self.items(declined, "message").last?["content"]?[0]?["text"]?.stringValue == "Tool result: The user declined this tool call.")
            #expect(alpha.server.stats.calls == ["echo": 1])
        }
    }

    @Test func anInjectionInAToolResultIsBlockedBeforeTheModelReadsIt() async throws {
        try await Self.withGateway(
            """
            guardrails:
              - {name: indirect-injection, detector: injection, direction: output, action: block, endpoints: [mcp]}
            """
        ) { client, alpha, _ in
            let response = try await Self.post(
                client,
                Self.request(
                    ["type": "mcp", "server_label": "alpha", "require_approval": "never"],
                    mock: ["tool_name": "a_inject", "answer_with_tool_result": true]))
            #expect(response.status == .ok, "\(response.text)")
            let call = Self.items(response, "mcp_call").first
            #expect(call?["error"]?["message"]?.stringValue?.contains("indirect-injection") == true, "\(response.text)")
            #expect(alpha.server.stats.calls["inject"] == 1)
            #expect(!response.text.contains("attacker@example.com"), "the injected text reaches neither the model nor the client")
        }
    }

    @Test func chatCompletionsTakeMCPToolsAsAnExtension() async throws {
        try await Self.withGateway { client, alpha, _ in
            let body: JSONValue = [
                "model": "claude", "messages": [["role": "user", "content": "add them"]],
                "tools": [["type": "mcp", "server_label": "alpha", "allowed_tools": ["add"]]],
                "mock": ["tool_name": "a_add", "tool_arguments": #"{"a":40,"b":2}"#, "answer_with_tool_result": true],
            ]
            let response = try await Self.post(client, body, path: "/v1/chat/completions")
            #expect(response.status == .ok, "\(response.text)")
            #expect(response.json?["choices"]?[0]?["message"]?["content"]?.stringValue == "Tool result: 42", "\(response.text)")
            let items = response.json?["switchyard_mcp"]?["items"]?.arrayValue ?? []
            #expect(items.contains { $0["type"]?.stringValue == "mcp_call" && $0["output"]?.stringValue == "42" })
            #expect(alpha.server.stats.calls == ["add": 1])

            var streamed = body
            if case .object(var object) = streamed {
                object["stream"] = true
                streamed = .object(object)
            }
            let stream = try await Self.post(client, streamed, path: "/v1/chat/completions")
            let text = sseData(stream.text).compactMap { try? JSONValue.parse($0) }.compactMap { $0["choices"]?[0]?["delta"]?["content"]?.stringValue }
                .joined()
            #expect(text == "Tool result: 42" && stream.text.hasSuffix("data: [DONE]\n\n"), "\(stream.text)")

            let approval: JSONValue = [
                "model": "claude", "messages": [["role": "user", "content": "x"]],
                "tools": [["type": "mcp", "server_label": "alpha", "require_approval": "always"]],
            ]
            let refused = try await Self.post(client, approval, path: "/v1/chat/completions")
            #expect(refused.status == .badRequest && refused.text.contains("Responses API"))
        }
    }

    @Test func aStreamedResponseCarriesTheMCPEventsAndTheAnswer() async throws {
        try await Self.withGateway { client, _, _ in
            var body = Self.request(
                ["type": "mcp", "server_label": "alpha", "require_approval": "never"],
                mock: ["tool_name": "a_echo", "tool_arguments": #"{"text":"streamed"}"#, "answer_with_tool_result": true])
            if case .object(var object) = body {
                object["stream"] = true
                body = .object(object)
            }
            let response = try await Self.post(client, body)
            #expect(response.status == .ok)
            let events = sseData(response.text).compactMap { try? JSONValue.parse($0) }
            let types = events.compactMap { $0["type"]?.stringValue }
            for expected in [
                "response.created", "response.mcp_list_tools.completed", "response.mcp_call.in_progress", "response.mcp_call_arguments.done",
                "response.mcp_call.completed", "response.output_text.delta", "response.completed",
            ] {
                #expect(types.contains(expected), "\(expected) in \(types)")
            }
            #expect(events.compactMap { $0["sequence_number"]?.intValue } == Array(0..<events.count))
            let text = events.filter { $0["type"]?.stringValue == "response.output_text.delta" }.compactMap { $0["delta"]?.stringValue }.joined()
            #expect(text == "Tool result: streamed")
            let completed = events.last
            #expect(completed?["type"]?.stringValue == "response.completed")
            let output = completed?["response"]?["output"]?.arrayValue?.compactMap { $0["type"]?.stringValue }
            #expect(output == ["mcp_list_tools", "mcp_call", "message"], "\(output ?? [])")
            #expect(completed?["response"]?["usage"]?["input_tokens"]?.intValue ?? 0 > 0)

            // A first round that cannot run is an ordinary HTTP error, before any event.
            if case .object(var object) = body {
                object["model"] = "no-such-model"
                body = .object(object)
            }
            let refused = try await Self.post(client, body)
            #expect(refused.status == .notFound && refused.json?["error"] != nil, "\(refused.text)")
        }
    }
}

extension JSONValue {
    fileprivate subscript(_ index: Int) -> JSONValue? {
        guard let items = arrayValue, items.indices.contains(index) else { return nil }
        return items[index]
    }
}

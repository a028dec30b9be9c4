import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SwitchyardCore
import SwitchyardServer
import SwitchyardTesting
import Testing

/// Reasoning end to end: each provider's reasoning reaches OpenAI clients as
/// `reasoning_content` and signed `thinking_blocks` and Anthropic clients as thinking blocks,
/// streams included; signed blocks a client sends back reach Anthropic and Bedrock intact, and
/// never an OpenAI-compatible provider.
@Suite struct ReasoningTests {
    static let providers: @Sendable (Int) -> String = { port in
        """
        - {name: claude, type: anthropic, base_url: "http://127.0.0.1:\(port)", api_key: anthropic-secret-key}
        - {name: google, type: gemini, base_url: "http://127.0.0.1:\(port)", api_key: gemini-secret-key}
        - name: aws
          type: bedrock
          base_url: http://127.0.0.1:\(port)
          aws_access_key_id: AKIDTEST
          aws_secret_access_key: bedrock-secret-key
          options: {region: us-west-2}
        - {name: local, type: mock}
        """
    }
    static let models = """
        - {name: claude, provider: claude, model: claude-mock}
        - {name: flash, provider: google, model: gemini-2.5-flash}
        - {name: bedrock-claude, provider: aws, model: anthropic.claude-mock}
        - {name: deepseek, provider: local, model: deepseek-reasoner}
        """

    static func chat(_ client: any TestClientProtocol, _ body: String) async throws -> TestResponse {
        try await client.execute(uri: "/v1/chat/completions", method: .post, headers: authorized, body: ByteBuffer(string: body))
    }

    static func message(_ response: TestResponse) -> JSONValue? { response.json?["choices"]?.arrayValue?.first?["message"] }

    static func deltas(_ response: TestResponse) -> [JSONValue] {
        sseData(response.text).compactMap { try? JSONValue.parse($0) }.compactMap { $0["choices"]?.arrayValue?.first?["delta"] }
    }

    @Test func anthropicThinkingReachesOpenAIClientsAndSignedBlocksGoBack() async throws {
        try await withGatewayOnMockUpstream(providers: Self.providers, models: Self.models) { client, mock in
            let ask =
                #"{"model":"claude","reasoning_effort":"high","max_tokens":500,"mock":{"reasoning":"Compare both options."},"messages":[{"role":"user","content":"Which is better?"}]}"#
            let response = try await Self.chat(client, ask)
            #expect(response.status == .ok, "\(response.text)")
            #expect(mock.stats.lastBodyJSON?["thinking"]?["budget_tokens"]?.intValue == 4096, "the effort became a thinking budget")
            let message = try #require(Self.message(response))
            #expect(message["reasoning_content"]?.stringValue == "Compare both options.")
            let block = try #require(message["thinking_blocks"]?.arrayValue?.first)
            let signature = try #require(block["signature"]?.stringValue)
            #expect(signature.hasPrefix("mock-signature-"))
            #expect(message["content"]?.stringValue?.isEmpty == false)

            let streamed = try await Self.chat(client, ask.replacingOccurrences(of: #""max_tokens":500"#, with: #""max_tokens":500,"stream":true"#))
            let deltas = Self.deltas(streamed)
            #expect(deltas.compactMap { $0["reasoning_content"]?.stringValue }.joined() == "Compare both options.")
            #expect(deltas.flatMap { $0["thinking_blocks"]?.arrayValue ?? [] }.first?["signature"]?.stringValue == signature)

            // The next turn carries the signed block back: Anthropic gets it first in the assistant turn.
            let history = """
                {"model":"claude","reasoning_effort":"high","messages":[{"role":"user","content":"Which is better?"},
                 {"role":"assistant","content":"A.","thinking_blocks":[\(block.serialized())]},{"role":"user","content":"Why?"}]}
                """
            #expect(try await Self.chat(client, history).status == .ok)
            let assistant = mock.stats.lastBodyJSON?["messages"]?.arrayValue?[1]["content"]?.arrayValue
            #expect(assistant?.first?["type"]?.stringValue == "thinking" && assistant?.first?["signature"]?.stringValue == signature)
        }
    }

    @Test func anthropicClientsSeeAnyModelsReasoningAsThinkingBlocks() async throws {
        try await withGatewayOnMockUpstream(providers: Self.providers, models: Self.models) { client, _ in
            var headers = authorized
            headers[HTTPField.Name("anthropic-version")!] = "2023-06-01"
            let body =
                #"{"model":"deepseek","max_tokens":200,"mock":{"reasoning":"Step one, step two."},"messages":[{"role":"user","content":"Solve it"}]}"#
            let response = try await client.execute(uri: "/v1/messages", method: .post, headers: headers, body: ByteBuffer(string: body))
            #expect(response.status == .ok, "\(response.text)")
            let content = try #require(response.json?["content"]?.arrayValue)
            #expect(content.map { $0["type"]?.stringValue } == ["thinking", "text"])
            #expect(content[0]["thinking"]?.stringValue == "Step one, step two.")

            let streamed = try await client.execute(
                uri: "/v1/messages", method: .post, headers: headers,
                body: ByteBuffer(string: body.replacingOccurrences(of: #""max_tokens":200"#, with: #""max_tokens":200,"stream":true"#)))
            let events = sseData(streamed.text).compactMap { try? JSONValue.parse($0) }
            #expect(events.first { $0["type"]?.stringValue == "content_block_start" }?["content_block"]?["type"]?.stringValue == "thinking")
            let thought = events.filter { $0["delta"]?["type"]?.stringValue == "thinking_delta" }.compactMap { $0["delta"]?["thinking"]?.stringValue }
            #expect(thought.joined() == "Step one, step two.")
            #expect(events.filter { $0["type"]?.stringValue == "message_start" }.count == 1)
        }
    }

    @Test func reasoningInTheHistoryNeverReachesAnOpenAICompatibleProvider() async throws {
        let (application, _) = try makeGateway(
            """
            server: {port: 0, master_key: test-master-key, reload_check_interval: off}
            providers: [{name: local, type: mock}]
            models: [{name: deepseek, provider: local, model: deepseek-reasoner}]
            """)
        try await application.makeApplication().test(.live) { client in
            var headers = authorized
            headers[HTTPField.Name("anthropic-version")!] = "2023-06-01"
            let body = #"""
                {"model":"deepseek","max_tokens":100,"thinking":{"type":"enabled","budget_tokens":1024},"messages":[
                  {"role":"user","content":"hi"},
                  {"role":"assistant","content":[{"type":"thinking","thinking":"hmm","signature":"sig"},{"type":"text","text":"Hello"}]},
                  {"role":"user","content":"again"}]}
                """#
            let response = try await client.execute(uri: "/v1/messages", method: .post, headers: headers, body: ByteBuffer(string: body))
            #expect(response.status == .ok, "\(response.text)")
            let mock = try #require((application.runtime.snapshot.adapters["local"] as? MockProviderAdapter)?.mock)
            let sent = try #require(mock.stats.lastBodyJSON)
            #expect(sent["thinking"] == nil, "Anthropic's parameter is not sent to an OpenAI-compatible provider")
            #expect(sent["messages"]?.arrayValue?.allSatisfy { $0["thinking_blocks"] == nil && $0["reasoning_content"] == nil } == true)
            #expect(sent["messages"]?.arrayValue?[1]["content"]?.stringValue == "Hello")
        }
    }

    @Test func geminiThoughtsAndBedrockReasoningReachOpenAIClients() async throws {
        try await withGatewayOnMockUpstream(providers: Self.providers, models: Self.models) { client, mock in
            let gemini = try await Self.chat(
                client,
                #"{"model":"flash","reasoning_effort":"low","mock":{"reasoning":"Thinking about it"},"messages":[{"role":"user","content":"hi"}]}"#)
            #expect(gemini.status == .ok, "\(gemini.text)")
            #expect(mock.stats.lastBodyJSON?["generationConfig"]?["thinkingConfig"]?["thinkingBudget"]?.intValue == 1024)
            #expect(Self.message(gemini)?["reasoning_content"]?.stringValue == "Thinking about it")
            let geminiStream = try await Self.chat(
                client,
                #"{"model":"flash","stream":true,"reasoning_effort":"low","mock":{"reasoning":"Streamed thought"},"messages":[{"role":"user","content":"hi"}]}"#
            )
            #expect(Self.deltas(geminiStream).compactMap { $0["reasoning_content"]?.stringValue }.joined() == "Streamed thought")

            let bedrock = try await Self.chat(
                client,
                #"{"model":"bedrock-claude","reasoning_effort":"medium","mock":{"reasoning":"Bedrock thought","reasoning_signature":"bsig"},"messages":[{"role":"user","content":"hi"}]}"#
            )
            #expect(bedrock.status == .ok, "\(bedrock.text)")
            #expect(mock.stats.lastBodyJSON?["additionalModelRequestFields"]?["thinking"]?["budget_tokens"]?.intValue == 2048)
            let message = try #require(Self.message(bedrock))
            #expect(message["reasoning_content"]?.stringValue == "Bedrock thought")
            #expect(message["thinking_blocks"]?.arrayValue?.first?["signature"]?.stringValue == "bsig")
            let stream = try await Self.chat(
                client,
                #"{"model":"bedrock-claude","stream":true,"reasoning_effort":"medium","mock":{"reasoning":"Bedrock thought","reasoning_signature":"bsig"},"messages":[{"role":"user","content":"hi"}]}"#
            )
            let deltas = Self.deltas(stream)
            #expect(deltas.compactMap { $0["reasoning_content"]?.stringValue }.joined() == "Bedrock thought")
            #expect(deltas.flatMap { $0["thinking_blocks"]?.arrayValue ?? [] }.first?["signature"]?.stringValue == "bsig")
            #expect(deltas.compactMap { $0["content"]?.stringValue }.joined().isEmpty == false)

            // The signed block goes back to Bedrock as a reasoning block.
            let history = #"""
                {"model":"bedrock-claude","messages":[{"role":"user","content":"hi"},
                 {"role":"assistant","content":"ok","thinking_blocks":[{"type":"thinking","thinking":"Bedrock thought","signature":"bsig"}]},
                 {"role":"user","content":"more"}]}
                """#
            #expect(try await Self.chat(client, history).status == .ok)
            let sent = mock.stats.lastBodyJSON?["messages"]?.arrayValue?[1]["content"]?.arrayValue?.first
            #expect(sent?["reasoningContent"]?["reasoningText"]?["signature"]?.stringValue == "bsig")
        }
    }
}

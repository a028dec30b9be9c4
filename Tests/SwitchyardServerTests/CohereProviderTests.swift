import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SwitchyardCore
import SwitchyardServer
import SwitchyardTesting
import Testing

/// OpenAI clients on Cohere v2 (the mock speaking /v2/chat and /v2/embed over a real socket).
@Suite struct CohereProviderTests {
    func withGateway(_ test: @escaping @Sendable (any TestClientProtocol, MockProvider) async throws -> Void) async throws {
        try await withGatewayOnMockUpstream(
            providers: { port in
                """
                - name: co
                  type: cohere
                  base_url: http://127.0.0.1:\(port)
                  api_key: cohere-secret-key
                """
            },
            models: """
                - name: command
                  provider: co
                  model: command-a-03-2025
                - name: embed
                  provider: co
                  model: embed-v4.0
                """,
            test
        )
    }

    @Test func chatStreamsToolsAndEmbeddings() async throws {
        try await withGateway { client, mock in
            let plain = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: authorized, body: chatBody(#","top_p":0.5"#, model: "command"))
            #expect(plain.status == .ok)
            #expect(plain.json?["choices"]?.arrayValue?.first?["message"]?["content"]?.stringValue == "This is a mock response to: hello")
            #expect(mock.stats.lastPath == "/v2/chat")
            #expect(mock.stats.lastBodyJSON?["p"]?.doubleValue == 0.5)
            #expect(mock.stats.lastHeaders.contains { $0.name.lowercased() == "authorization" && $0.value == "Bearer cohere-secret-key" })

            let stream = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: authorized,
                body: chatBody(#","stream":true,"stream_options":{"include_usage":true}"#, model: "command")
            )
            let chunks = sseData(stream.text).dropLast().compactMap { try? JSONValue.parse($0) }
            #expect(
                chunks.compactMap { $0["choices"]?.arrayValue?.first?["delta"]?["content"]?.stringValue }.joined()
                    == "This is a mock response to: hello")
            #expect(chunks.last?["usage"]?["completion_tokens"]?.intValue == 8)

            let tools =
                #","stream":true,"tools":[{"type":"function","function":{"name":"a","parameters":{"type":"object","properties":{"x":{"type":"integer"}},"required":["x"]}}}]"#
            let toolStream = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: authorized, body: chatBody(tools, model: "command"))
            let toolChunks = sseData(toolStream.text).dropLast().compactMap { try? JSONValue.parse($0) }
            var arguments = ""
            for chunk in toolChunks {
                for call in chunk["choices"]?.arrayValue?.first?["delta"]?["tool_calls"]?.arrayValue ?? [] {
                    arguments += call["function"]?["arguments"]?.stringValue ?? ""
                }
            }
            #expect(try JSONValue.parse(arguments) == ["x": 42])
            #expect(toolChunks.compactMap { $0["choices"]?.arrayValue?.first?["finish_reason"]?.stringValue }.last == "tool_calls")

            let embeddings = try await client.execute(
                uri: "/v1/embeddings", method: .post, headers: authorized,
                body: ByteBuffer(string: #"{"model":"embed","input":["a","b"],"encoding_format":"float"}"#)
            )
            #expect(mock.stats.lastPath == "/v2/embed")
            #expect(embeddings.json?["data"]?.arrayValue?.count == 2)
            #expect((embeddings.json?["usage"]?["prompt_tokens"]?.intValue ?? 0) > 0)

            let failing = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: authorized,
                body: chatBody(#","stream":true,"mock":{"error_after":2}"#, model: "command")
            )
            #expect(sseData(failing.text).dropLast().last?.contains("\"error\"") == true)
            let limited = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: authorized, body: chatBody(#","mock":{"status":429}"#, model: "command")
            )
            #expect(limited.status == .tooManyRequests)
        }
    }

    /// A Cohere v2 chat answer in the shape of the API reference's example
    /// (docs.cohere.com/reference/chat: `usage` with `billed_units`, `tokens` and `cached_tokens`),
    /// for a prompt of which 1,536 tokens hit Cohere's cache.
    static let cachedAnswer = #"""
        {"id":"c14c80c3-18eb-4519-9460-6c92edd8cfb4","finish_reason":"COMPLETE","message":{"role":"assistant","content":[{"type":"text","text":"Large language models predict the next token."}]},"usage":{"billed_units":{"input_tokens":2000,"output_tokens":100},"tokens":{"input_tokens":2000,"output_tokens":100},"cached_tokens":1536}}
        """#

    /// The same answer streamed (the v2 stream events: message-start, content-*, message-end
    /// carrying the usage).
    static let cachedStream = [
        #"{"type":"message-start","id":"29f14a5a-11de-4cae-9800-25e4747408ea","delta":{"message":{"role":"assistant","content":[],"tool_plan":"","tool_calls":[],"citations":[]}}}"#,
        #"{"type":"content-start","index":0,"delta":{"message":{"content":{"type":"text","text":""}}}}"#,
        #"{"type":"content-delta","index":0,"delta":{"message":{"content":{"text":"Large language models predict the next token."}}}}"#,
        #"{"type":"content-end","index":0}"#,
        #"{"type":"message-end","delta":{"finish_reason":"COMPLETE","usage":{"billed_units":{"input_tokens":2000,"output_tokens":100},"tokens":{"input_tokens":2000,"output_tokens":100},"cached_tokens":1536}}}"#,
    ]

    @Test func cachedTokensAreReportedAndPriced() async throws {
        let upstream = RecordedUpstream { request, _ in
            request.body?["stream"]?.boolValue == true ? .sse(Self.cachedStream) : .json(Self.cachedAnswer)
        }
        try await withGatewayOnRecordedUpstream(
            upstream,
            providers: { port in "- {name: co, type: cohere, base_url: 'http://127.0.0.1:\(port)', api_key: cohere-key}" },
            models: "- {name: command, provider: co, model: command-a-03-2025}",
            extra: "pricing:\n  command-a: {input: 2.5, output: 10, cached_input: 0.25}"
        ) { client in
            let plain = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: authorized, body: chatBody(model: "command"))
            #expect(plain.status == .ok, "\(plain.text)")
            #expect(plain.json?["usage"]?["prompt_tokens"]?.intValue == 2000)
            #expect(plain.json?["usage"]?["prompt_tokens_details"]?["cached_tokens"]?.intValue == 1536)

            let stream = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: authorized,
                body: chatBody(#","stream":true,"stream_options":{"include_usage":true}"#, model: "command"))
            let usage = sseData(stream.text).dropLast().compactMap { try? JSONValue.parse(Array($0.utf8)) }.last?["usage"]
            #expect(usage?["prompt_tokens_details"]?["cached_tokens"]?.intValue == 1536)

            // 464 plain input tokens at $2.50, 1,536 cached at $0.25 and 100 output at $10 per million.
            let totals = try await UsageTests.get(client, "/admin/usage").json?["totals"]
            #expect(totals?["cached_tokens"]?.intValue == 2 * 1536)
            #expect(abs(UsageTests.cost(totals) - 2 * 0.002544) < 1e-9, "\(UsageTests.cost(totals))")
        }
    }
}

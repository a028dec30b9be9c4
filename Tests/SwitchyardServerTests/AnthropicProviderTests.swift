import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SwitchyardCore
import SwitchyardServer
import SwitchyardTesting
import Testing

/// OpenAI-dialect clients reaching an Anthropic-dialect provider (the mock speaking
/// `/v1/messages` over a real socket), and Anthropic clients on the same provider.
@Suite struct AnthropicProviderTests {
    func withGateway(_ test: @escaping @Sendable (any TestClientProtocol, MockProvider) async throws -> Void) async throws {
        try await withGatewayOnMockUpstream(
            providers: { port in
                """
                - name: claude
                  type: anthropic
                  base_url: http://127.0.0.1:\(port)
                  api_key: anthropic-secret-key
                  headers:
                    anthropic-beta: tools-2024-05-16
                """
            },
            models: """
                - name: claude-test
                  provider: claude
                  model: claude-mock
                """,
            test
        )
    }

    @Test func chatCompletionIsTranslatedToMessagesAndBack() async throws {
        try await withGateway { client, mock in
            let response = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: authorized,
                body: chatBody(#","max_tokens":50"#, model: "claude-test")
            )
            #expect(response.status == .ok)
            #expect(response.json?["object"]?.stringValue == "chat.completion")
            #expect(response.json?["choices"]?.arrayValue?.first?["message"]?["content"]?.stringValue == "This is a mock response to: hello")
            #expect(response.json?["usage"]?["completion_tokens"]?.intValue == 8)
            #expect(mock.stats.lastPath == "/v1/messages")
            let headers = mock.stats.lastHeaders
            #expect(headers.contains { $0.name.lowercased() == "x-api-key" && $0.value == "anthropic-secret-key" })
            #expect(headers.contains { $0.name.lowercased() == "anthropic-version" && $0.value == "2023-06-01" })
            #expect(headers.contains { $0.name.lowercased() == "anthropic-beta" })
            #expect(mock.stats.lastBodyJSON?["model"]?.stringValue == "claude-mock")
            #expect(mock.stats.lastBodyJSON?["max_tokens"]?.intValue == 50)
        }
    }

    @Test func streamedToolCallsArriveAsOpenAIChunks() async throws {
        try await withGateway { client, _ in
            let tools =
                #","tools":[{"type":"function","function":{"name":"a","parameters":{"type":"object","properties":{"x":{"type":"integer"}},"required":["x"]}}},{"type":"function","function":{"name":"b","parameters":{"type":"object"}}}]"#
            let response = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: authorized,
                body: chatBody(#","stream":true"# + tools + #","mock":{"tool_calls":2}"#, model: "claude-test")
            )
            #expect(response.status == .ok)
            let events = sseData(response.text)
            #expect(events.last == "[DONE]")
            var names: [Int: String] = [:]
            var arguments: [Int: String] = [:]
            var finish: String?
            for event in events.dropLast() {
                let chunk = try JSONValue.parse(event)
                #expect((chunk["choices"]?.arrayValue?.count ?? 0) == 1, "no usage-only chunk for a client that did not ask")
                let choice = chunk["choices"]?.arrayValue?.first
                for call in choice?["delta"]?["tool_calls"]?.arrayValue ?? [] {
                    let index = call["index"]?.intValue ?? -1
                    if let name = call["function"]?["name"]?.stringValue, !name.isEmpty { names[index] = name }
                    arguments[index, default: ""] += call["function"]?["arguments"]?.stringValue ?? ""
                }
                if let reason = choice?["finish_reason"]?.stringValue { finish = reason }
            }
            #expect(names == [0: "a", 1: "b"])
            #expect(try JSONValue.parse(arguments[0] ?? "") == ["x": 42])
            #expect(finish == "tool_calls")
        }
    }

    @Test func providerErrorsAreMapped() async throws {
        try await withGateway { client, _ in
            let overloaded = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: authorized,
                body: chatBody(#","stream":true,"mock":{"status":529}"#, model: "claude-test")
            )
            #expect(overloaded.status == .serviceUnavailable)
            let unsupported = try await client.execute(
                uri: "/v1/embeddings", method: .post, headers: authorized,
                body: ByteBuffer(string: #"{"model":"claude-test","input":"x"}"#)
            )
            #expect(unsupported.status == .badRequest)
            #expect(unsupported.json?["error"]?["code"]?.stringValue == "unsupported_endpoint")
            let limited = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: authorized,
                body: chatBody(#","mock":{"status":429,"retry_after":"9"}"#, model: "claude-test")
            )
            #expect(limited.status == .tooManyRequests)
            #expect(limited.headers[.retryAfter] == "9")
        }
    }

    @Test func anthropicClientsReachAnthropicProvidersToo() async throws {
        try await withGateway { client, _ in
            let response = try await client.execute(
                uri: "/v1/messages", method: .post, headers: authorized,
                body: ByteBuffer(string: #"{"model":"claude-test","max_tokens":20,"stream":true,"messages":[{"role":"user","content":"hi"}]}"#)
            )
            #expect(response.status == .ok)
            let text = response.text
            #expect(text.hasPrefix("event: message_start"))
            #expect(text.contains("event: message_stop"))
            #expect(text.components(separatedBy: "event: message_start").count == 2)
        }
    }
}

@Suite struct AnthropicPassthroughTests {
    @Test func anthropicClientsOnAnthropicProvidersGetTheirBytesForwarded() async throws {
        try await withMockUpstream { mock, port in
            let yaml = """
                server:
                  port: 0
                  master_key: test-master-key
                  reload_check_interval: off
                providers:
                  - name: claude
                    type: anthropic
                    base_url: http://127.0.0.1:\(port)
                    api_key: anthropic-secret-key
                models:
                  - name: claude-test
                    provider: claude
                    model: claude-mock
                """
            let (application, _) = try makeGateway(yaml)
            try await application.makeApplication().test(.live) { client in
                let body = #"""
                    {"model":"claude-test","max_tokens":64,"thinking":{"type":"enabled","budget_tokens":1024},"stream":true,
                     "system":[{"type":"text","text":"Be brief.","cache_control":{"type":"ephemeral"}}],
                     "messages":[{"role":"user","content":[{"type":"text","text":"hi","cache_control":{"type":"ephemeral"}}]}]}
                    """#
                var headers = authorized
                headers[HTTPField.Name("anthropic-beta")!] = "interleaved-thinking-2025-05-14"
                let response = try await client.execute(uri: "/v1/messages", method: .post, headers: headers, body: ByteBuffer(string: body))
                #expect(response.status == .ok)
                let sent = try #require(mock.stats.lastBodyJSON)
                #expect(sent["model"]?.stringValue == "claude-mock")
                #expect(sent["thinking"]?["budget_tokens"]?.intValue == 1024, "fields the canonical form cannot carry are forwarded")
                #expect(sent["system"]?.arrayValue?.first?["cache_control"]?["type"]?.stringValue == "ephemeral")
                #expect(mock.stats.lastHeaders.contains { $0.name.lowercased() == "anthropic-beta" && $0.value == "interleaved-thinking-2025-05-14" })
                let text = response.text
                #expect(text.hasPrefix("event: message_start"))
                #expect(text.components(separatedBy: "event: message_stop").count == 2)
                let metrics = try await client.execute(uri: "/metrics", method: .get)
                #expect(metrics.text.contains(#"switchyard_tokens_total{model="claude-test",provider="claude",type="output"} 8"#))

                let plain = try await client.execute(
                    uri: "/v1/messages", method: .post, headers: authorized,
                    body: ByteBuffer(string: #"{"model":"claude-test","max_tokens":10,"messages":[{"role":"user","content":"hey"}]}"#)
                )
                #expect(plain.json?["content"]?.arrayValue?.first?["text"]?.stringValue == "This is a mock response to: hey")
                let limited = try await client.execute(
                    uri: "/v1/messages", method: .post, headers: authorized,
                    body: ByteBuffer(
                        string: #"{"model":"claude-test","max_tokens":10,"messages":[{"role":"user","content":"x"}],"mock":{"status":429}}"#)
                )
                #expect(limited.status == .tooManyRequests)
                #expect(limited.json?["type"]?.stringValue == "error")
                #expect(limited.json?["error"]?["type"]?.stringValue == "rate_limit_error")
            }
        }
    }
}

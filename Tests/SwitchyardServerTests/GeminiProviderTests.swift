import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SwitchyardCore
import SwitchyardServer
import SwitchyardTesting
import Testing

/// OpenAI and Anthropic clients reaching a Gemini-dialect provider (the mock speaking
/// `models/{model}:generateContent` natively over a real socket).
@Suite struct GeminiProviderTests {
    func withGateway(_ test: @escaping @Sendable (any TestClientProtocol, MockProvider) async throws -> Void) async throws {
        try await withGatewayOnMockUpstream(
            providers: { port in
                """
                - name: google
                  type: gemini
                  base_url: http://127.0.0.1:\(port)
                  api_key: gemini-secret-key
                """
            },
            models: """
                - name: flash
                  provider: google
                  model: gemini-2.5-flash
                """,
            test
        )
    }

    @Test func chatCompletionThroughGemini() async throws {
        try await withGateway { client, mock in
            let response = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: authorized, body: chatBody(model: "flash"))
            #expect(response.status == .ok)
            #expect(response.json?["choices"]?.arrayValue?.first?["message"]?["content"]?.stringValue == "This is a mock response to: hello")
            #expect(response.json?["usage"]?["completion_tokens"]?.intValue == 8)
            #expect(mock.stats.lastURL == "/v1beta/models/gemini-2.5-flash:generateContent")
            #expect(mock.stats.lastHeaders.contains { $0.name.lowercased() == "x-goog-api-key" && $0.value == "gemini-secret-key" })
        }
    }

    @Test func streamingWithToolsThroughGemini() async throws {
        try await withGateway { client, mock in
            let tools =
                #","tools":[{"type":"function","function":{"name":"a","parameters":{"type":"object","properties":{"x":{"type":"integer"}},"required":["x"]}}}]"#
            let response = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: authorized, body: chatBody(#","stream":true"# + tools, model: "flash")
            )
            #expect(response.status == .ok)
            #expect(mock.stats.lastURL == "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse")
            let events = sseData(response.text)
            #expect(events.last == "[DONE]")
            let chunks = events.dropLast().compactMap { try? JSONValue.parse($0) }
            let call = chunks.compactMap { $0["choices"]?.arrayValue?.first?["delta"]?["tool_calls"]?.arrayValue?.first }.first
            #expect(call?["function"]?["name"]?.stringValue == "a")
            #expect(try JSONValue.parse(call?["function"]?["arguments"]?.stringValue ?? "") == ["x": 42])
            #expect(chunks.compactMap { $0["choices"]?.arrayValue?.first?["finish_reason"]?.stringValue }.last == "tool_calls")

            let text = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: authorized,
                body: chatBody(#","stream":true,"mock":{"chunks":4}"#, model: "flash")
            )
            let content = sseData(text.text).dropLast().compactMap { try? JSONValue.parse($0) }
                .compactMap { $0["choices"]?.arrayValue?.first?["delta"]?["content"]?.stringValue }.joined()
            #expect(content == "This is a mock response to: hello")
        }
    }

    @Test func geminiErrorsAndMidStreamFailures() async throws {
        try await withGateway { client, _ in
            let failing = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: authorized,
                body: chatBody(#","stream":true,"mock":{"error_after":2}"#, model: "flash")
            )
            let events = sseData(failing.text)
            #expect(events.last == "[DONE]")
            #expect(events.dropLast().last?.contains("\"error\"") == true)
            let limited = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: authorized, body: chatBody(#","mock":{"status":429}"#, model: "flash")
            )
            #expect(limited.status == .tooManyRequests)
            #expect(limited.json?["error"]?["message"]?.stringValue?.contains("Mock failure") == true)
        }
    }

    @Test func embeddingsThroughBatchEmbedContents() async throws {
        try await withGateway { client, mock in
            let floats = try await client.execute(
                uri: "/v1/embeddings", method: .post, headers: authorized,
                body: ByteBuffer(string: #"{"model":"flash","input":["a","b"],"dimensions":6,"encoding_format":"float"}"#)
            )
            #expect(floats.status == .ok)
            #expect(mock.stats.lastURL == "/v1beta/models/gemini-2.5-flash:batchEmbedContents")
            let vectors = floats.json?["data"]?.arrayValue?.compactMap { $0["embedding"]?.arrayValue?.compactMap(\.doubleValue) }
            #expect(vectors?.count == 2)
            #expect(vectors?.first?.count == 6)
            let encoded = try await client.execute(
                uri: "/v1/embeddings", method: .post, headers: authorized,
                body: ByteBuffer(string: #"{"model":"flash","input":"a","dimensions":6,"encoding_format":"base64"}"#)
            )
            let text = try #require(encoded.json?["data"]?.arrayValue?.first?["embedding"]?.stringValue)
            let bytes = try #require(Data(base64Encoded: text))
            let decoded = stride(from: 0, to: bytes.count, by: 4).map { offset in
                Double(Float(bitPattern: bytes[offset..<(offset + 4)].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }))
            }
            #expect(decoded.count == 6)
            for (lhs, rhs) in zip(decoded, vectors?.first ?? []) { #expect(abs(lhs - rhs) < 1e-6) }
        }
    }

    @Test func anthropicClientsOnGemini() async throws {
        try await withGateway { client, _ in
            let response = try await client.execute(
                uri: "/v1/messages", method: .post, headers: authorized,
                body: ByteBuffer(string: #"{"model":"flash","max_tokens":20,"messages":[{"role":"user","content":"hi"}]}"#)
            )
            #expect(response.status == .ok)
            #expect(response.json?["content"]?.arrayValue?.first?["text"]?.stringValue == "This is a mock response to: hi")
        }
    }
}

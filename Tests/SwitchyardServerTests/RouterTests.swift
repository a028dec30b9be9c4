import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SwitchyardCore
import SwitchyardServer
import Testing

/// Handler-level tests against the in-process mock provider (no upstream socket).
@Suite struct RouterTests {
    static let yaml = """
        server:
          port: 0
          master_key: test-master-key
          max_body_size: 4KiB
          reload_check_interval: off
        providers:
          - name: mock
            type: mock
        models:
          - name: mock-gpt
            provider: mock
            aliases: [mock]
          - name: mock-embedding
            provider: mock
          - name: mock/*
            provider: mock
        """

    func withApp(_ test: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let (application, _) = try makeGateway(Self.yaml)
        let app = try application.makeApplication()
        try await app.test(.router, test)
    }

    @Test func chatCompletionWithRequestIDAndRoutingHeaders() async throws {
        try await withApp { client in
            let response = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: authorized, body: chatBody(model: "mock"))
            #expect(response.status == .ok)
            #expect(response.headers[.init("x-request-id")!]?.hasPrefix("req_") == true)
            #expect(response.headers[.init("x-switchyard-provider")!] == "mock")
            #expect(response.headers[.init("x-switchyard-model")!] == "mock-gpt")
            let json = try #require(response.json)
            #expect(json["choices"]?.arrayValue?.first?["message"]?["content"]?.stringValue == "This is a mock response to: hello")
            #expect(json["usage"]?["total_tokens"]?.intValue != nil)
        }
    }

    @Test func inboundRequestIDIsReusedWhenWellFormed() async throws {
        try await withApp { client in
            var headers = authorized
            headers[.init("x-request-id")!] = "trace-abc-123"
            let response = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: headers, body: chatBody(model: "mock"))
            #expect(response.headers[.init("x-request-id")!] == "trace-abc-123")
            headers[.init("x-request-id")!] = "bad id with spaces"
            let other = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: headers, body: chatBody(model: "mock"))
            #expect(other.headers[.init("x-request-id")!]?.hasPrefix("req_") == true)
        }
    }

    @Test func authenticationIsRequiredAndUsesTheErrorEnvelope() async throws {
        try await withApp { client in
            let missing = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: [.contentType: "application/json"], body: chatBody(model: "mock"))
            #expect(missing.status == .unauthorized)
            #expect(missing.json?["error"]?["type"]?.stringValue == "authentication_error")
            #expect(missing.headers[.init("x-request-id")!] != nil)
            let wrong = try await client.execute(uri: "/v1/models", method: .get, headers: [.authorization: "Bearer nope"])
            #expect(wrong.status == .unauthorized)
            #expect(wrong.json?["error"]?["code"]?.stringValue == "invalid_api_key")
            let apiKey = try await client.execute(uri: "/v1/models", method: .get, headers: [.init("x-api-key")!: "test-master-key"])
            #expect(apiKey.status == .ok)
            let live = try await client.execute(uri: "/health/live", method: .get)
            #expect(live.status == .ok)
        }
    }

    @Test func unknownModelIs404WithSuggestions() async throws {
        try await withApp { client in
            let response = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: authorized, body: chatBody(model: "mock-gtp"))
            #expect(response.status == .notFound)
            let error = try #require(response.json?["error"])
            #expect(error["code"]?.stringValue == "model_not_found")
            #expect(error["param"]?.stringValue == "model")
            #expect(error["message"]?.stringValue?.contains("'mock-gpt'") == true)
        }
    }

    @Test func unknownPathIsAnEnvelope404() async throws {
        try await withApp { client in
            let response = try await client.execute(uri: "/v1/nothing-here", method: .post, headers: authorized, body: chatBody())
            #expect(response.status == .notFound)
            #expect(response.json?["error"]?["type"]?.stringValue == "invalid_request_error")
        }
    }

    @Test func oversizedBodyIs413() async throws {
        try await withApp { client in
            let big = String(repeating: "x", count: 8000)
            let response = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: authorized, body: chatBody(model: "mock", content: big))
            #expect(response.status == .contentTooLarge)
            #expect(response.json?["error"]?["code"]?.stringValue == "request_too_large")
        }
    }

    @Test func badBodiesAre400NamingTheProblem() async throws {
        try await withApp { client in
            var invalidUTF8 = ByteBuffer(string: #"{"model":"mock","messages":[{"role":"user","content":""#)
            invalidUTF8.writeBytes([0xFF, 0xFE])
            invalidUTF8.writeString(#""}]}"#)
            let utf8 = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: authorized, body: invalidUTF8)
            #expect(utf8.status == .badRequest)
            #expect(utf8.json?["error"]?["message"]?.stringValue?.contains("invalid UTF-8") == true)

            let malformed = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: authorized, body: ByteBuffer(string: "{\"model\": "))
            #expect(malformed.status == .badRequest)
            #expect(malformed.json?["error"]?["code"]?.stringValue == "invalid_json")

            let wrongType = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: authorized,
                body: ByteBuffer(string: #"{"model":"mock","messages":[{"role":"user","content":"x"}],"temperature":"warm"}"#)
            )
            #expect(wrongType.status == .badRequest)
            #expect(wrongType.json?["error"]?["param"]?.stringValue == "temperature")
        }
    }

    @Test func streamingThroughTheEmbeddedMock() async throws {
        try await withApp { client in
            let response = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: authorized, body: chatBody(#","stream":true"#, model: "mock"))
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "text/event-stream")
            let events = sseData(response.text)
            #expect(events.last == "[DONE]")
            #expect(events.filter { $0 == "[DONE]" }.count == 1)
            let chunks = events.dropLast().compactMap { try? JSONValue.parse($0) }
            #expect(chunks.allSatisfy { ($0["choices"]?.arrayValue?.count ?? 0) == 1 }, "no usage-only chunk without include_usage")
            let text = chunks.compactMap { $0["choices"]?.arrayValue?.first?["delta"]?["content"]?.stringValue }.joined()
            #expect(text == "This is a mock response to: hello")
        }
    }

    @Test func embeddingsCompletionsAndModels() async throws {
        try await withApp { client in
            let embeddings = try await client.execute(
                uri: "/v1/embeddings", method: .post, headers: authorized,
                body: ByteBuffer(string: #"{"model":"mock-embedding","input":["a","b"],"dimensions":4}"#)
            )
            #expect(embeddings.status == .ok)
            #expect(embeddings.json?["data"]?.arrayValue?.count == 2)
            #expect(embeddings.json?["data"]?.arrayValue?.first?["embedding"]?.arrayValue?.count == 4)

            let completion = try await client.execute(
                uri: "/v1/completions", method: .post, headers: authorized,
                body: ByteBuffer(string: #"{"model":"mock","prompt":"Say hi"}"#)
            )
            #expect(completion.status == .ok)
            #expect(completion.json?["choices"]?.arrayValue?.first?["text"]?.stringValue?.contains("Say hi") == true)

            let models = try await client.execute(uri: "/v1/models", method: .get, headers: authorized)
            let ids = models.json?["data"]?.arrayValue?.compactMap { $0["id"]?.stringValue }
            #expect(ids == ["mock-gpt", "mock", "mock-embedding"])

            let alias = try await client.execute(uri: "/v1/models/mock", method: .get, headers: authorized)
            #expect(alias.json?["id"]?.stringValue == "mock")
            let pattern = try await client.execute(uri: "/v1/models/mock/anything", method: .get, headers: authorized)
            #expect(pattern.status == .ok)
            #expect(pattern.json?["id"]?.stringValue == "mock/anything")
            let missing = try await client.execute(uri: "/v1/models/nope", method: .get, headers: authorized)
            #expect(missing.status == .notFound)
        }
    }

    @Test func metricsAndReadiness() async throws {
        try await withApp { client in
            _ = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: authorized, body: chatBody(#","stream":true"#, model: "mock"))
            _ = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: authorized, body: chatBody(model: "nope"))
            let metrics = try await client.execute(uri: "/metrics", method: .get)
            #expect(metrics.status == .ok)
            let text = metrics.text
            #expect(
                text.contains(
                    #"switchyard_requests_total{endpoint="chat_completions",model="mock",provider="mock",status="200",outcome="success"} 1"#))
            #expect(
                text.contains(
                    #"switchyard_requests_total{endpoint="chat_completions",model="unrouted",provider="none",status="404",outcome="error"} 1"#))
            #expect(text.contains("gen_ai_server_time_to_first_token_seconds_bucket"))
            #expect(text.contains("gen_ai_server_request_duration_seconds_bucket"))
            #expect(text.contains(#"switchyard_tokens_total{model="mock",provider="mock",type="output"} 8"#))
            #expect(text.contains("switchyard_http_requests_total"))

            let ready = try await client.execute(uri: "/health/ready", method: .get)
            #expect(ready.status == .ok)
            #expect(ready.json?["status"]?.stringValue == "ready")
            #expect(ready.json?["providers"]?.arrayValue?.first?["status"]?.stringValue == "ok")
        }
    }
}

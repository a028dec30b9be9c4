import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SwitchyardCore
import SwitchyardServer
import SwitchyardTesting
import Testing

/// `POST /v1/rerank` (Cohere's shape: OpenAI-compatible rerank servers and the Cohere adapter) and
/// `POST /v1/moderations` (a configured provider or the gateway's own detectors), through the
/// whole pipeline: access rules, limits, budgets, the ledger and metrics.
@Suite struct RerankModerationTests {
    static let documents = #"["The harbour at dawn is quiet.","Bananas are yellow.",{"text":"Fishing boats leave the harbour at dawn."}]"#

    static func rerankBody(model: String = "rerank", extra: String = "") -> ByteBuffer {
        ByteBuffer(string: #"{"model":"\#(model)","query":"harbour at dawn","documents":\#(documents)\#(extra)}"#)
    }

    /// The ledger row of a request, once it is written.
    static func record(_ client: any TestClientProtocol, _ response: TestResponse) async throws -> JSONValue? {
        let id = try #require(response.headers[HTTPField.Name("x-switchyard-request-id")!])
        var row: JSONValue?
        _ = try await eventually {
            let answer = try await client.execute(uri: "/admin/logs/\(id)", method: .get, headers: authorized)
            row = answer.json
            return answer.status == .ok
        }
        return row
    }

    static func withOpenAICompatible(
        extra: String = "", _ test: @escaping @Sendable (any TestClientProtocol, MockProvider) async throws -> Void
    ) async throws {
        try await withGatewayOnMockUpstream(
            providers: { port in "- {name: vllm, type: vllm, base_url: 'http://127.0.0.1:\(port)/v1'}" },
            models: """
                - {name: rerank, provider: vllm, model: bge-reranker-v2-m3, price: {input: 1000, output: 0}}
                - {name: omni-moderation-latest, provider: vllm, model: mock-moderation}
                \(extra)
                """,
            test)
    }

    @Test func rerankThroughAnOpenAICompatibleServerIsRankedBilledAndCounted() async throws {
        try await Self.withOpenAICompatible { client, mock in
            let response = try await client.execute(
                uri: "/v1/rerank", method: .post, headers: authorized, body: Self.rerankBody(extra: #","top_n":2,"return_documents":true"#))
            #expect(response.status == .ok, "\(response.text)")
            #expect(mock.stats.lastPath == "/v1/rerank")
            #expect(mock.stats.lastBodyJSON?["model"]?.stringValue == "bge-reranker-v2-m3")
            let results = response.json?["results"]?.arrayValue ?? []
            #expect(results.map { $0["index"]?.intValue } == [0, 2])
            #expect(results.first?["document"]?["text"]?.stringValue == "The harbour at dawn is quiet.")
            let reported = try #require(response.json?["usage"]?["total_tokens"]?.intValue)
            let row = try #require(try await Self.record(client, response))
            #expect(row["endpoint"]?.stringValue == "rerank")
            #expect(row["prompt_tokens"]?.intValue == reported, "the server's total_tokens is the prompt")
            #expect(row["usage_source"]?.stringValue == "provider")
            #expect(abs((row["cost_usd"]?.doubleValue ?? 0) - Double(reported) * 1000 / 1_000_000) < 1e-9)
            let text = try await metricsText(client, containing: #"endpoint="rerank""#)
            #expect(text.contains(#"endpoint="rerank""#))

            // A server that reports no usage: the gateway counts the (query, document) pairs.
            let silent = try await client.execute(
                uri: "/v1/rerank", method: .post, headers: authorized, body: Self.rerankBody(extra: #","mock":{"omit_usage":true}"#))
            #expect(silent.status == .ok)
            let counted = try #require(try await Self.record(client, silent))
            #expect(counted["usage_source"]?.stringValue == "gateway")
            #expect((counted["prompt_tokens"]?.intValue ?? 0) > 0 && (counted["cost_usd"]?.doubleValue ?? 0) > 0)
        }
    }

    @Test func rerankThroughTheCohereAdapter() async throws {
        try await withGatewayOnMockUpstream(
            providers: { port in "- {name: co, type: cohere, base_url: 'http://127.0.0.1:\(port)', api_key: cohere-secret-key}" },
            models: "- {name: rerank, provider: co, model: rerank-v3.5, price: {input: 1000, output: 0}}"
        ) { client, mock in
            let response = try await client.execute(
                uri: "/v1/rerank", method: .post, headers: authorized, body: Self.rerankBody(extra: #","top_n":2,"return_documents":true"#))
            #expect(response.status == .ok, "\(response.text)")
            #expect(mock.stats.lastPath == "/v2/rerank")
            #expect(mock.stats.lastHeaders.contains { $0.name.lowercased() == "authorization" && $0.value == "Bearer cohere-secret-key" })
            // v2 takes strings only and has no return_documents: the adapter sends texts and puts
            // the documents back itself.
            let sent = mock.stats.lastBodyJSON
            #expect(sent?["documents"]?.arrayValue?.compactMap(\.stringValue).last == "Fishing boats leave the harbour at dawn.")
            #expect(sent?["return_documents"] == nil && sent?["top_n"]?.intValue == 2)
            let results = response.json?["results"]?.arrayValue ?? []
            #expect(results.map { $0["index"]?.intValue } == [0, 2])
            #expect(results.last?["document"]?["text"]?.stringValue == "Fishing boats leave the harbour at dawn.")
            #expect(response.json?["meta"]?["billed_units"]?["search_units"]?.intValue == 1)
            #expect(response.json?["model"]?.stringValue == "rerank-v3.5")
            // Cohere reports search units, not tokens: the gateway counts the prompt.
            let row = try #require(try await Self.record(client, response))
            #expect(row["provider"]?.stringValue == "co" && row["usage_source"]?.stringValue == "gateway")
            #expect((row["prompt_tokens"]?.intValue ?? 0) > 0 && (row["cost_usd"]?.doubleValue ?? 0) > 0)

            let failing = try await client.execute(
                uri: "/v1/rerank", method: .post, headers: authorized, body: Self.rerankBody(extra: #","mock":{"status":429}"#))
            #expect(failing.status == .tooManyRequests)
        }
    }

    @Test func badRerankRequestsGetClearErrors() async throws {
        try await Self.withOpenAICompatible { client, mock in
            let cases: [(String, String)] = [
                (#"{"model":"rerank","documents":["a"]}"#, "query"),
                (#"{"model":"rerank","query":"q","documents":[]}"#, "documents"),
                (#"{"model":"rerank","query":"q","documents":[1,2]}"#, "documents[0]"),
                (#"{"model":"rerank","query":"q","documents":"a"}"#, "documents"),
                (#"{"model":"rerank","query":"q","documents":["a"],"top_n":0}"#, "top_n"),
                (#"{"model":"rerank","query":7,"documents":["a"]}"#, "query"),
            ]
            mock.resetStats()
            for (body, field) in cases {
                let response = try await client.execute(uri: "/v1/rerank", method: .post, headers: authorized, body: ByteBuffer(string: body))
                #expect(response.status == .badRequest, "\(body): \(response.text)")
                #expect(response.json?["error"]?["param"]?.stringValue == field, "\(body): \(response.text)")
            }
            #expect(mock.stats.requests == 0, "nothing invalid reaches the provider")
            let unknown = try await client.execute(uri: "/v1/rerank", method: .post, headers: authorized, body: Self.rerankBody(model: "nope"))
            #expect(unknown.status == .notFound)
        }
    }

    @Test func providersWithoutRerankOrModerationsRefuseThemBeforeAnyCall() async throws {
        try await withGatewayOnMockUpstream(
            providers: { port in "- {name: az, type: azure, base_url: 'http://127.0.0.1:\(port)', api_key: azure-key}" },
            models: "- {name: rerank, provider: az, model: gpt-4o}\n- {name: omni-moderation-latest, provider: az, model: gpt-4o}"
        ) { client, mock in
            let rerank = try await client.execute(uri: "/v1/rerank", method: .post, headers: authorized, body: Self.rerankBody())
            #expect(rerank.status == .badRequest && rerank.json?["error"]?["code"]?.stringValue == "unsupported_endpoint", "\(rerank.text)")
            let moderation = try await client.execute(
                uri: "/v1/moderations", method: .post, headers: authorized, body: ByteBuffer(string: #"{"input":"x"}"#))
            #expect(moderation.status == .badRequest && moderation.json?["error"]?["code"]?.stringValue == "unsupported_endpoint")
            #expect(mock.stats.requests == 0)
        }
    }

    @Test func moderationsAreAnsweredByTheGatewaysDetectorsWhenNoModelIsConfigured() async throws {
        let yaml = """
            server: {port: 0, master_key: test-master-key, reload_check_interval: off}
            providers: [{name: p, type: mock}]
            models: [{name: chat, provider: p, model: m}]
            """
        let (application, _) = try makeGateway(yaml)
        try await application.makeApplication().test(.live) { client in
            let response = try await client.execute(
                uri: "/v1/moderations", method: .post, headers: authorized,
                body: ByteBuffer(string: #"{"input":["I will kill you tomorrow","What a lovely day at the harbour"]}"#))
            #expect(response.status == .ok, "\(response.text)")
            #expect(response.headers[HTTPField.Name("x-switchyard-moderation")!] == "gateway")
            #expect(response.json?["model"]?.stringValue == "switchyard-moderation")
            let results = response.json?["results"]?.arrayValue ?? []
            #expect(results.count == 2)
            #expect(results.first?["flagged"]?.boolValue == true)
            #expect(results.first?["categories"]?["violence"]?.boolValue == true)
            #expect(results.first?["categories"]?["sexual"]?.boolValue == false)
            #expect(results.last?["flagged"]?.boolValue == false)
            #expect(results.last?["category_scores"]?["violence"]?.doubleValue == 0)
            let row = try #require(try await Self.record(client, response))
            #expect(row["endpoint"]?.stringValue == "moderations" && row["provider"]?.stringValue == "switchyard-detectors")
            #expect(row["usage_source"]?.stringValue == "gateway" && (row["prompt_tokens"]?.intValue ?? 0) > 0)

            // OpenAI's moderation model names fall back to the detectors; other unknown names are 404.
            let named = try await client.execute(
                uri: "/v1/moderations", method: .post, headers: authorized,
                body: ByteBuffer(string: #"{"model":"omni-moderation-latest","input":"how to make a bomb"}"#))
            #expect(named.json?["results"]?.arrayValue?.first?["categories"]?["violence"]?.boolValue == true)
            let unknown = try await client.execute(
                uri: "/v1/moderations", method: .post, headers: authorized, body: ByteBuffer(string: #"{"model":"nope","input":"x"}"#))
            #expect(unknown.status == .notFound)
            let image = try await client.execute(
                uri: "/v1/moderations", method: .post, headers: authorized,
                body: ByteBuffer(string: #"{"input":[{"type":"image_url","image_url":{"url":"https://example.com/a.png"}}]}"#))
            #expect(image.status == .badRequest && image.text.contains("text only"))
            let missing = try await client.execute(uri: "/v1/moderations", method: .post, headers: authorized, body: ByteBuffer(string: "{}"))
            #expect(missing.status == .badRequest && missing.json?["error"]?["param"]?.stringValue == "input")
            let broken = try await client.execute(uri: "/v1/moderations", method: .post, headers: authorized, body: ByteBuffer(string: "{"))
            #expect(broken.status == .badRequest)
            #expect(try await client.execute(uri: "/v1/moderations", method: .post, body: ByteBuffer(string: #"{"input":"x"}"#)).status == .unauthorized)
        }
    }

    @Test func moderationsGoToTheConfiguredModel() async throws {
        try await Self.withOpenAICompatible { client, mock in
            let response = try await client.execute(
                uri: "/v1/moderations", method: .post, headers: authorized, body: ByteBuffer(string: #"{"input":"I will kill the lights"}"#))
            #expect(response.status == .ok, "\(response.text)")
            #expect(mock.stats.lastPath == "/v1/moderations")
            #expect(mock.stats.lastBodyJSON?["model"]?.stringValue == "mock-moderation")
            #expect(response.headers[HTTPField.Name("x-switchyard-moderation")!] == "provider")
            #expect(response.json?["model"]?.stringValue == "mock-moderation")
            #expect(response.json?["results"]?.arrayValue?.first?["flagged"]?.boolValue == true)
        }
    }

    @Test func accessRulesLimitsAndBudgetsApply() async throws {
        try await Self.withOpenAICompatible { client, _ in
            func key(_ body: String) async throws -> String {
                let created = try await client.execute(uri: "/admin/keys", method: .post, headers: authorized, body: ByteBuffer(string: body))
                return try #require(created.json?["key"]?.stringValue, "\(created.text)")
            }
            func call(_ key: String, _ path: String, _ body: ByteBuffer) async throws -> TestResponse {
                try await client.execute(
                    uri: path, method: .post, headers: [.authorization: "Bearer \(key)", .contentType: "application/json"], body: body)
            }
            let chatOnly = try await key(#"{"name":"chat-only","endpoints":["chat_completions"]}"#)
            let denied = try await call(chatOnly, "/v1/rerank", Self.rerankBody())
            #expect(denied.status == .forbidden && denied.text.contains("rerank"), "\(denied.text)")
            let rerankOnly = try await key(#"{"name":"rerank-only","endpoints":["rerank"]}"#)
            #expect(try await call(rerankOnly, "/v1/rerank", Self.rerankBody()).status == .ok)
            #expect(try await call(rerankOnly, "/v1/moderations", ByteBuffer(string: #"{"input":"x"}"#)).status == .forbidden)

            let capped = try await key(#"{"name":"capped","budget":{"amount":0.1,"period":"daily"}}"#)
            var refusal: TestResponse?
            for _ in 0..<40 {
                let response = try await call(capped, "/v1/rerank", Self.rerankBody())
                if response.status != .ok {
                    refusal = response
                    break
                }
            }
            let refused = try #require(refusal, "the budget must stop the key")
            #expect(refused.status == .tooManyRequests && refused.json?["error"]?["type"]?.stringValue == "budget_exceeded")
        }
    }

    @Test func requestRateLimitsCountRerankAndModerations() async throws {
        let yaml = """
            server: {port: 0, master_key: test-master-key, reload_check_interval: off}
            providers: [{name: p, type: mock}]
            models: [{name: rerank, provider: p, model: r}]
            limits:
              rules: [{scope: key, requests_per_minute: 2}]
            """
        let (application, _) = try makeGateway(yaml)
        try await application.makeApplication().test(.live) { client in
            #expect(try await client.execute(uri: "/v1/rerank", method: .post, headers: authorized, body: Self.rerankBody()).status == .ok)
            let moderation = try await client.execute(
                uri: "/v1/moderations", method: .post, headers: authorized, body: ByteBuffer(string: #"{"input":"x"}"#))
            #expect(moderation.status == .ok)
            let limited = try await client.execute(uri: "/v1/rerank", method: .post, headers: authorized, body: Self.rerankBody())
            #expect(limited.status == .tooManyRequests && limited.headers[.retryAfter] != nil)
        }
    }
}

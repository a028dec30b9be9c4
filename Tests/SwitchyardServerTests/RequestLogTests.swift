import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SwitchyardCore
import SwitchyardServer
import Synchronization
import Testing

/// The request log (database sink, query API, bodies, retention, webhook sink) and the
/// analytics API, through the HTTP interface.
@Suite struct RequestLogTests {
    static func config(_ extra: String = "") -> String {
        """
        server: {port: 0, master_key: test-master-key, reload_check_interval: off}
        providers:
          - {name: p, type: mock, api_key: sk-provider-secret-0000}
        models:
          - name: chat
            deployments: [{provider: p, model: m, price: {input: 1000, output: 2000}}]
          - {name: other, provider: p, model: m2}
        \(extra)
        """
    }

    func withGateway(_ extra: String = "", _ test: @escaping @Sendable (any TestClientProtocol, SwitchyardApplication) async throws -> Void)
        async throws
    {
        let (application, _) = try makeGateway(Self.config(extra))
        try await application.makeApplication().test(.live) { client in try await test(client, application) }
    }

    static func chat(_ client: any TestClientProtocol, model: String = "chat", content: String = "hello", extra: String = "") async throws
        -> TestResponse
    {
        try await client.execute(
            uri: "/v1/chat/completions", method: .post, headers: authorized, body: chatBody(extra, model: model, content: content))
    }

    static func get(_ client: any TestClientProtocol, _ uri: String) async throws -> TestResponse {
        try await client.execute(uri: uri, method: .get, headers: [.authorization: "Bearer test-master-key"])
    }

    static func requestID(_ response: TestResponse) -> String { response.headers[HTTPField.Name("x-request-id")!] ?? "" }

    @Test func everyRequestIsLoggedWithItsDetailAndPagesNewestFirst() async throws {
        try await withGateway { client, _ in
            var ids: [String] = []
            for index in 0..<4 {
                let response = try await Self.chat(client, content: "question \(index)")
                #expect(response.status == .ok)
                ids.append(Self.requestID(response))
            }
            let streamed = try await Self.chat(client, extra: #","stream":true"#)
            ids.append(Self.requestID(streamed))
            let refused = try await Self.chat(client, model: "nope")
            #expect(refused.status == .notFound)
            ids.append(Self.requestID(refused))

            // Three pages of two, newest first, each continuing where the last stopped.
            var seen: [String] = []
            var cursor: String?
            for _ in 0..<3 {
                let page = try await Self.get(client, "/admin/logs?limit=2" + (cursor.map { "&cursor=\($0)" } ?? ""))
                #expect(page.status == .ok, "\(page.text)")
                let rows = try #require(page.json?["data"]?.arrayValue)
                #expect(rows.count == 2)
                seen += rows.compactMap { $0["request_id"]?.stringValue }
                cursor = page.json?["next_cursor"]?.stringValue
            }
            #expect(seen == ids.reversed(), "every request once, newest first")
            let last = try await Self.get(client, "/admin/logs?limit=2&cursor=\(cursor ?? "")")
            #expect(last.json?["data"]?.arrayValue?.isEmpty == true)
            #expect(last.json?["has_more"]?.boolValue == false)

            let errors = try await Self.get(client, "/admin/logs?errors=true")
            #expect(errors.json?["data"]?.arrayValue?.compactMap { $0["request_id"]?.stringValue } == [ids[5]])
            let notFound = try await Self.get(client, "/admin/logs?status=404")
            #expect(notFound.json?["data"]?.arrayValue?.first?["error_code"]?.stringValue == "model_not_found")
            let streams = try await Self.get(client, "/admin/logs?model=chat&limit=100")
            #expect(streams.json?["data"]?.arrayValue?.count == 5)

            let detail = try await Self.get(client, "/admin/logs/\(ids[4])")
            #expect(detail.status == .ok, "\(detail.text)")
            let entry = try #require(detail.json)
            #expect(entry["stream"]?.boolValue == true)
            #expect(entry["model_group"]?.stringValue == "chat")
            #expect(entry["deployment"]?.stringValue != nil)
            #expect((entry["completion_tokens"]?.intValue ?? 0) > 0)
            #expect(entry["ttft_ms"]?.doubleValue != nil && entry["upstream_ms"]?.doubleValue != nil && entry["gateway_ms"]?.doubleValue != nil)
            #expect((entry["cost_usd"]?.doubleValue ?? 0) > 0)
            let attempts = try #require(entry["attempts"]?.arrayValue)
            #expect(attempts.count == 1 && attempts[0]["outcome"]?.stringValue == "success")
            #expect(entry["dialect"] == nil, "a plain success writes no detail row: its attempt comes from the usage row")
            #expect(entry["request_body"] == nil && entry["response_body"] == nil, "bodies are off by default")
            #expect(!detail.text.contains("sk-provider-secret") && !detail.text.contains("test-master-key"))
            #expect(try await Self.get(client, "/admin/logs/no-such-request").status == .notFound)
            #expect(try await Self.get(client, "/admin/logs?cursor=garbage").status == .badRequest)
        }
    }

    @Test func aFallbackKeepsEveryAttemptInTheDetail() async throws {
        let (application, _) = try makeGateway(
            """
            server: {port: 0, master_key: test-master-key, reload_check_interval: off}
            router: {retry: {attempts: 0}}
            providers:
              - {name: bad, type: mock, options: {fail_percent: 100}}
              - {name: good, type: mock}
            models:
              - {name: primary, provider: bad, model: m, fallbacks: [backup]}
              - {name: backup, provider: good, model: m}
            """)
        try await application.makeApplication().test(.live) { client in
            let response = try await Self.chat(client, model: "primary")
            #expect(response.status == .ok)
            let entry = try #require(try await Self.get(client, "/admin/logs/\(Self.requestID(response))").json)
            let attempts = try #require(entry["attempts"]?.arrayValue)
            #expect(attempts.map { $0["deployment"]?.stringValue } == ["bad/m", "good/m"])
            #expect(attempts[0]["outcome"]?.stringValue != "success" && attempts[0]["error_class"]?.stringValue == "server_error")
            #expect(entry["fallbacks"]?.arrayValue?.compactMap(\.stringValue) == ["backup"])
            #expect(entry["dialect"]?.stringValue == "openai")
        }
    }

    @Test func bodiesAreLoggedOnlyWhereConfiguredAndRedactedFirst() async throws {
        let logging = "logging: {bodies: [{models: [chat]}], max_body_size: 2KiB}"
        try await withGateway(logging) { client, _ in
            let secret = "mail jane.doe@example.com key AKIAIOSFODNN7EXAMPLE"
            let plain = try await Self.chat(client, content: secret)
            let streamed = try await Self.chat(client, content: "stream please", extra: #","stream":true"#)
            let other = try await Self.chat(client, model: "other", content: "not me")
            let big = try await Self.chat(client, content: String(repeating: "é", count: 3000))

            let entry = try #require(try await Self.get(client, "/admin/logs/\(Self.requestID(plain))").json)
            let request = try #require(entry["request_body"]?.stringValue)
            #expect(request.contains("[EMAIL]") && request.contains("[AWS_ACCESS_KEY]"))
            #expect(!request.contains("jane.doe") && !request.contains("AKIAIOSFODNN7EXAMPLE"))
            let response = try #require(entry["response_body"]?.stringValue)
            #expect(response.contains("chat.completion"))

            let stream = try #require(try await Self.get(client, "/admin/logs/\(Self.requestID(streamed))").json)
            #expect(stream["request_body"]?.stringValue?.contains("stream please") == true)
            #expect((stream["response_body"]?.stringValue?.count ?? 0) > 0, "a stream's text is logged")

            let unlogged = try #require(try await Self.get(client, "/admin/logs/\(Self.requestID(other))").json)
            #expect(unlogged["request_body"] == nil, "another model's bodies are not logged")

            let cut = try #require(try await Self.get(client, "/admin/logs/\(Self.requestID(big))").json?["request_body"]?.stringValue)
            #expect(cut.hasSuffix("…[truncated]") && cut.utf8.count <= 2048 + 16)
            #expect(!cut.contains("\u{FFFD}"), "cut on a character boundary")

            // The list never carries bodies.
            let list = try await Self.get(client, "/admin/logs")
            #expect(!list.text.contains("request_body"))
        }
    }

    @Test func retentionDropsDetailAndBodiesButKeepsTheUsageRow() async throws {
        try await withGateway("logging: {bodies: true, retention: 1s}") { client, _ in
            let response = try await Self.chat(client)
            let id = Self.requestID(response)
            // The retention job runs in the background; wait for it to have purged the detail.
            let purged = try await eventually {
                let entry = try await Self.get(client, "/admin/logs/\(id)").json
                return entry?["request_body"] == nil && entry?["response_body"] == nil && entry?["dialect"] == nil
                    && entry?["request_id"]?.stringValue == id
            }
            #expect(purged, "detail and bodies older than the retention are deleted")
            let usage = try await Self.get(client, "/admin/usage")
            #expect(usage.json?["totals"]?["requests"]?.intValue == 1, "the accounting stays")
        }
    }

    @Test func analyticsSummaryLatencyPercentilesAndTimeSeries() async throws {
        try await withGateway("cache: {enabled: true}") { client, _ in
            for _ in 0..<3 { #expect(try await Self.chat(client, content: "same question").status == .ok) }
            #expect(try await Self.chat(client, model: "other").status == .ok)
            #expect(try await Self.chat(client, model: "nope").status == .notFound)

            let summary = try #require(try await Self.get(client, "/admin/analytics/summary").json)
            #expect(summary["requests"]?.intValue == 5)
            #expect(summary["errors"]?.intValue == 1)
            #expect(summary["error_rate"]?.doubleValue == 0.2)
            #expect(summary["cache_hits"]?.intValue == 2)
            #expect((summary["saved_cost_usd"]?.doubleValue ?? 0) > 0, "hits on a priced model save its cost")
            let latency = try #require(summary["latency"]?["duration_ms"])
            #expect((latency["p50"]?.doubleValue ?? -1) >= 0 && (latency["p99"]?.doubleValue ?? -1) >= (latency["p50"]?.doubleValue ?? 0))
            #expect(summary["top_models"]?.arrayValue?.first?["model"]?.stringValue == "chat")

            let byDeployment = try #require(try await Self.get(client, "/admin/analytics/latency?group_by=model").json)
            let rows = try #require(byDeployment["data"]?.arrayValue)
            let chat = try #require(rows.first { $0["model"]?.stringValue == "chat" })
            #expect(chat["requests"]?.intValue == 3)
            #expect(chat["upstream_ms"]?["p50"]?.doubleValue != nil, "the miss went upstream")
            #expect(chat["gateway_ms"]?["p99"]?.doubleValue != nil)

            let series = try #require(try await Self.get(client, "/admin/analytics/timeseries?interval=minute&group_by=model").json)
            let buckets = try #require(series["data"]?.arrayValue)
            #expect(buckets.reduce(0) { $0 + ($1["requests"]?.intValue ?? 0) } == 5)
            #expect(buckets.allSatisfy { $0["time"]?.stringValue?.hasSuffix("Z") == true })
            #expect(try await Self.get(client, "/admin/analytics/timeseries?interval=fortnight").status == .badRequest)
        }
    }

    @Test func theWebhookSinkBatchesRetriesAndSendsNoBodiesUnlessAsked() async throws {
        let received = Mutex<[JSONValue]>([])
        let calls = Atomic<Int>(0)
        let router = Router()
        router.post("/logs") { request, _ -> HTTPResponse.Status in
            var request = request
            // The first delivery fails: the batch must come again.
            if calls.add(1, ordering: .relaxed).newValue == 1 { return .serviceUnavailable }
            #expect(request.headers[HTTPField.Name("x-siem-token")!] == "siem-secret")
            let body = try await request.collectBody(upTo: 1 << 20)
            if let items = try? JSONValue.parse(Array(buffer: body)).arrayValue { received.withLock { $0 += items } }
            return .ok
        }
        try await Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0))).test(.live) { hook in
            let port = try #require(hook.port)
            let logging = """
                logging:
                  bodies: true
                  webhook: {url: "http://127.0.0.1:\(port)/logs", batch_size: 2, flush_interval: 100ms, headers: {x-siem-token: siem-secret}}
                """
            try await withGateway(logging) { client, _ in
                var ids: Set<String> = []
                for index in 0..<3 { ids.insert(Self.requestID(try await Self.chat(client, content: "q\(index) jane@example.com"))) }
                #expect(await eventually { received.withLock { $0.count } >= 3 })
                let records = received.withLock { $0 }
                #expect(Set(records.compactMap { $0["request_id"]?.stringValue }) == ids, "every record once, the failed batch resent")
                #expect(records.allSatisfy { $0["request_body"] == nil }, "bodies go to the webhook only with include_bodies")
                #expect(records.allSatisfy { $0["model_group"]?.stringValue == "chat" && $0["duration_ms"] != nil })
                // The sink counts a batch once its POST has answered, just after the receiver saw it.
                let text = try await metricsText(client, containing: #"switchyard_request_log_records_total{sink="webhook"} 3"#)
                #expect(text.contains(#"switchyard_request_log_records_total{sink="webhook"} 3"#))
                #expect(text.contains(#"switchyard_request_log_delivery_failures_total{sink="webhook"} 1"#))
            }
        }
    }

    @Test func metricsShowGatewayOverheadDecodeSpeedAndIdentityLabelsOnlyWhenEnabled() async throws {
        try await withGateway { client, _ in
            #expect(try await Self.chat(client, extra: #","stream":true,"mock":{"chunks":5}"#).status == .ok)
            let text = try await client.execute(uri: "/metrics", method: .get).text
            #expect(text.contains(#"switchyard_gateway_overhead_seconds_count{endpoint="chat_completions",stream="true"} 1"#))
            #expect(text.contains(#"gen_ai_server_time_per_output_token_seconds_count{gen_ai_request_model="chat",gen_ai_provider_name="p"} 1"#))
            #expect(!text.contains("switchyard_requests_by_identity_total"), "no per-key series unless enabled")
            #expect(text.contains(#"switchyard_upstream_in_flight{deployment="p/m"} 0"#), "nothing in flight once answered")
        }
        let (application, _) = try makeGateway(
            Self.config().replacingOccurrences(of: "reload_check_interval: off", with: "reload_check_interval: off, metrics_identity_labels: true"))
        try await application.makeApplication().test(.live) { client in
            #expect(try await Self.chat(client).status == .ok)
            let text = try await client.execute(uri: "/metrics", method: .get).text
            #expect(text.contains(#"switchyard_requests_by_identity_total{key="master",team="",model="chat",status="200"} 1"#))
        }
    }

    @Test func loggingConfigurationIsValidated() throws {
        let bad = """
            logging:
              webhook: {url: "ftp://x", format: xml}
              bodies: [{modles: [chat]}]
            tracing: {sample_ratio: 2}
            """
        #expect(throws: ConfigError.self) { try makeGateway(Self.config(bad)) }
    }
}

import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import NIOHTTP1
import SwitchyardCore
import SwitchyardServer
import SwitchyardTesting
import Testing

/// Rate limits through HTTP: requests, tokens (reserved before the call, settled after it),
/// concurrency, scopes and tiers, response headers, Redis shared by two instances, and the
/// behaviour when the backend is down.
@Suite struct LimitsTests {
    static func config(limits: String, mock: String = "", extra: String = "") -> String {
        """
        server: {port: 0, master_key: test-master-key, reload_check_interval: off}
        \(extra)
        providers:
          - {name: p, type: mock, options: {\(mock)}}
        models:
          - {name: chat, provider: p, model: m}
          - {name: other, provider: p, model: o}
        limits:
        \(limits)
        """
    }

    func withLimits(
        _ limits: String, mock: String = "", extra: String = "",
        _ test: @escaping @Sendable (any TestClientProtocol, SwitchyardApplication) async throws -> Void
    ) async throws {
        let (application, _) = try makeGateway(Self.config(limits: limits, mock: mock, extra: extra))
        try await application.makeApplication().test(.live) { client in try await test(client, application) }
    }

    func header(_ response: TestResponse, _ name: String) -> String? { response.headers[HTTPField.Name(name)!] }

    static func mock(_ application: SwitchyardApplication) -> MockProvider? {
        (application.runtime.snapshot.adapters["p"] as? MockProviderAdapter)?.mock
    }

    func chat(_ client: any TestClientProtocol, model: String = "chat", extra: String = "") async throws -> TestResponse {
        try await client.execute(uri: "/v1/chat/completions", method: .post, headers: authorized, body: chatBody(extra, model: model))
    }

    /// Sends `count` requests at once over separate connections; returns the statuses.
    static func burst(port: Int, count: Int, body: ByteBuffer) async throws -> [Int] {
        try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<count {
                group.addTask {
                    var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/chat/completions")
                    request.method = .POST
                    request.headers.add(name: "authorization", value: "Bearer test-master-key")
                    request.headers.add(name: "content-type", value: "application/json")
                    request.body = .bytes(body)
                    let response = try await testHTTPClient.execute(request, timeout: .seconds(30))
                    _ = try await response.body.collect(upTo: 1 << 20)
                    return Int(response.status.code)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
    }

    @Test func requestsPerMinuteWithHeadersAndRetryAfter() async throws {
        try await withLimits("  rules: [{scope: key, requests_per_minute: 3}]") { client, _ in
            for remaining in [2, 1, 0] {
                let response = try await chat(client)
                #expect(response.status == .ok)
                #expect(header(response, "x-ratelimit-limit-requests") == "3")
                #expect(header(response, "x-ratelimit-remaining-requests") == String(remaining))
                #expect(header(response, "x-ratelimit-reset-requests") != nil)
            }
            let refused = try await chat(client)
            #expect(refused.status == .tooManyRequests)
            #expect(refused.json?["error"]?["type"]?.stringValue == "rate_limit_error")
            #expect(refused.json?["error"]?["code"]?.stringValue == "rate_limit_exceeded")
            #expect(refused.json?["error"]?["message"]?.stringValue?.contains("3 requests per minute") == true)
            let wait = Int(refused.headers[.retryAfter] ?? "") ?? 0
            #expect((1...20).contains(wait), "a third of a minute refills one request")
            let metrics = try await client.execute(uri: "/metrics", method: .get).text
            #expect(metrics.contains(#"switchyard_rate_limit_rejections_total{scope="key",limit="requests"} 1"#))
        }
    }

    /// The README promises the `x-ratelimit-*` headers on every response; clients that back off
    /// on them need them most on the refusal.
    @Test func aRefusalCarriesTheRateLimitHeaders() async throws {
        try await withLimits("  rules: [{scope: key, requests_per_minute: 1, tokens_per_minute: 100000}]") { client, _ in
            let allowed = try await chat(client)
            #expect(allowed.status == .ok)
            let refused = try await chat(client)
            #expect(refused.status == .tooManyRequests)
            #expect(refused.headers[.retryAfter] != nil)
            #expect(header(refused, "x-ratelimit-limit-requests") == "1")
            #expect(header(refused, "x-ratelimit-remaining-requests") == "0")
            let reset = try #require(header(refused, "x-ratelimit-reset-requests"))
            #expect(reset.hasSuffix("s"), "a duration as OpenAI writes it: \(reset)")
            #expect(header(refused, "x-ratelimit-limit-tokens") == "100000")
            let remainingTokens = Int(header(refused, "x-ratelimit-remaining-tokens") ?? "") ?? -1
            #expect((0...100_000).contains(remainingTokens), "what is left of the token limit, nothing taken for the refused request")
            #expect(header(refused, "x-ratelimit-reset-tokens") != nil)
        }
    }

    @Test func aFloodOfPromptsIsRefusedBeforeTheGuardrailsScanIt() async throws {
        // Rate limits run before the input guardrails: past the limit, a prompt costs no
        // guardrail work (and a blocked prompt still counted against the limit).
        let guardrails = "guardrails:\n  - {name: words, detector: words, words: [forbidden], action: block}"
        try await withLimits("  rules: [{scope: key, requests_per_minute: 2}]", extra: guardrails) { client, _ in
            func forbidden() async throws -> TestResponse {
                try await client.execute(
                    uri: "/v1/chat/completions", method: .post, headers: authorized, body: chatBody(model: "chat", content: "say forbidden"))
            }
            let blocked = try await forbidden()
            #expect(blocked.status == .badRequest, "\(blocked.text)")
            #expect(try await chat(client).status == .ok)
            let flooded = try await forbidden()
            #expect(flooded.status == .tooManyRequests, "refused by the limit, not scanned")
            let metrics = try await client.execute(uri: "/metrics", method: .get).text
            #expect(metrics.contains(#"switchyard_guardrail_decisions_total{guardrail="words",direction="input",action="block"} 1"#))
        }
    }

    @Test func aRequestForSeveralAnswersReservesTokensForEachOfThem() async throws {
        // One answer reserves its prompt (10) plus max_tokens 30: it fits in 100. Five answers
        // (n: 5) reserve 10 + 5 × 30 = 160: refused before anything is sent.
        try await withLimits("  rules: [{scope: key, tokens_per_minute: 100}]") { client, _ in
            let several = try await chat(client, extra: #","max_tokens":30,"n":5"#)
            #expect(several.status == .tooManyRequests, "n multiplies the completion reservation")
            let one = try await chat(client, extra: #","max_tokens":30"#)
            #expect(one.status == .ok)
        }
    }

    @Test func tokensAreReservedBeforeTheCallAndSettledAfter() async throws {
        // Each request reserves its prompt (10 tokens as OpenAI frames a one-message chat) plus
        // max_tokens 36; the mock really uses 27. Three at once do not fit in 100; once
        // settled, they do again. The mock holds the admitted requests in flight until the
        // third has been refused.
        try await withLimits("  rules: [{scope: global, tokens_per_minute: 100}]", mock: "hold: true") { client, app in
            let port = try #require(client.port)
            let gate = try #require(Self.mock(app)).gate
            async let burst = Self.burst(port: port, count: 3, body: chatBody(#","max_tokens":36"#, model: "chat"))
            #expect(await eventually { gate.waiting == 2 }, "two reservations fit and reach the provider")
            _ = try await metricsText(client, containing: #"switchyard_rate_limit_rejections_total{scope="global""#)
            gate.open()
            let statuses = try await burst
            #expect(statuses.sorted() == [200, 200, 429], "the third reservation does not fit")
            // Settlement follows the answers; poll until a request fits again.
            var after: TestResponse?
            let fitsAgain = try await eventually {
                after = try await chat(client, extra: #","max_tokens":36"#)
                return after?.status == .ok
            }
            #expect(fitsAgain, "unused reservations came back when the first two settled")
            #expect(after.map { header($0, "x-ratelimit-limit-tokens") } == "100")
            let tooLarge = try await chat(client, extra: #","max_tokens":500"#)
            #expect(tooLarge.status == .tooManyRequests)
            #expect(tooLarge.headers[.retryAfter] == nil, "waiting would never help")
            #expect(tooLarge.json?["error"]?["message"]?.stringValue?.contains("more than the limit allows") == true)
        }
    }

    @Test func concurrentRequestsAreCappedAndSlotsFreed() async throws {
        try await withLimits("  rules: [{scope: key, concurrent: 2}]", mock: "hold: true") { client, app in
            let port = try #require(client.port)
            let gate = try #require(Self.mock(app)).gate
            async let burst = Self.burst(port: port, count: 3, body: chatBody(model: "chat"))
            // Two requests are held in flight at the mock while the third is refused.
            #expect(await eventually { gate.waiting == 2 })
            _ = try await metricsText(client, containing: #"switchyard_rate_limit_rejections_total{scope="key""#)
            gate.open()
            #expect(try await burst.sorted() == [200, 200, 429])
            // Slots are given back as the requests finish; poll until two fit at once again.
            #expect(
                try await eventually { try await Self.burst(port: port, count: 2, body: chatBody(model: "chat")) == [200, 200] },
                "finished requests gave their slots back")
        }
    }

    @Test func scopesAndTiers() async throws {
        let limits = """
              tiers:
                free: {requests_per_minute: 1}
                pro: {requests_per_minute: 100}
              default_tier: free
              rules:
                - {scope: end_user, tier: from_identity}
                - {scope: model, models: [other], requests_per_minute: 2}
            """
        try await withLimits(limits) { client, _ in
            let status1 = try await chat(client, extra: #","user":"alice""#).status
            #expect(status1 == .ok)
            let status2 = try await chat(client, extra: #","user":"alice""#).status
            #expect(status2 == .tooManyRequests, "free tier: one per minute per end user")
            let status3 = try await chat(client, extra: #","user":"bob""#).status
            #expect(status3 == .ok, "each end user has their own counter")
            let status4 = try await chat(client, model: "other").status
            #expect(status4 == .ok)
            let status5 = try await chat(client, model: "other").status
            #expect(status5 == .ok)
            let status6 = try await chat(client, model: "other").status
            #expect(status6 == .tooManyRequests)
            let status7 = try await chat(client).status
            #expect(status7 == .ok, "the model rule only counts its model")
        }
    }

    @Test func unknownTiersAndScopesAreConfigurationErrors() {
        let yaml = Self.config(limits: "  rules: [{scope: teem, requests_per_minute: 1}, {scope: key, tier: gold}]")
        do {
            _ = try makeGateway(yaml)
            Issue.record("must be rejected")
        } catch let error as ConfigError {
            #expect(error.description.contains("unknown limit scope 'teem'"))
            #expect(error.description.contains("did you mean 'team'?"))
            #expect(error.description.contains("unknown tier 'gold'"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func anUnreachableBackendFailsOpenOrClosedAsConfigured() async throws {
        let redis = #"redis: {url: "redis://127.0.0.1:1/0"}"#
        try await withLimits("  on_backend_failure: closed\n  rules: [{scope: key, requests_per_minute: 5}]", extra: redis) { client, _ in
            let refused = try await chat(client)
            #expect(refused.status == .serviceUnavailable)
            #expect(refused.json?["error"]?["code"]?.stringValue == "rate_limiter_unavailable")
            let metrics = try await client.execute(uri: "/metrics", method: .get).text
            #expect(metrics.contains(#"switchyard_redis_errors_total{operation="rate_limit"}"#))
        }
        try await withLimits("  rules: [{scope: key, requests_per_minute: 5}]", extra: redis) { client, _ in
            let status8 = try await chat(client).status
            #expect(status8 == .ok, "fail open is the default")
        }
    }
}

extension RedisBackedTests {
    @Suite struct SharedLimitsTests {
        @Test func twoInstancesOnOneRedisHoldTheRequestAndTokenLimits() async throws {
            try await withRedisServer { url in
                let prefix = "limits-\(UInt32.random(in: 0...UInt32.max))"
                let redis = #"redis: {url: "\#(url)", key_prefix: "\#(prefix)"}"#
                let requestsYAML = LimitsTests.config(limits: "  rules: [{scope: global, requests_per_minute: 100}]", extra: redis)
                let (first, _) = try makeGateway(requestsYAML)
                let (second, _) = try makeGateway(requestsYAML)
                try await first.makeApplication().test(.live) { one in
                    try await second.makeApplication().test(.live) { two in
                        let (portA, portB) = (try #require(one.port), try #require(two.port))
                        let start = ContinuousClock.now
                        async let a = LimitsTests.burst(port: portA, count: 140, body: chatBody(model: "chat"))
                        async let b = LimitsTests.burst(port: portB, count: 140, body: chatBody(model: "chat"))
                        let statuses = try await a + b
                        let duration = ContinuousClock.now - start
                        let elapsed = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
                        let upstream = [first, second].map { app in
                            (app.runtime.snapshot.adapters["p"] as? MockProviderAdapter)?.mock.stats.requests ?? 0
                        }.reduce(0, +)
                        let allowed = statuses.filter { $0 == 200 }.count
                        #expect(allowed == upstream)
                        // 100 at once, plus what refilled while the burst ran (100 per minute).
                        let ceiling = 100 + Int((elapsed * 100 / 60).rounded(.up))
                        #expect(
                            upstream >= 98 && Double(upstream) <= Double(ceiling) * 1.02, "\(upstream) requests reached the providers in \(elapsed)s")
                        #expect(statuses.allSatisfy { $0 == 200 || $0 == 429 })
                    }
                }

                let tokensYAML = LimitsTests.config(
                    limits: "  rules: [{scope: global, tokens_per_minute: 1000}]",
                    extra: #"redis: {url: "\#(url)", key_prefix: "\#(prefix)-tokens"}"#)
                let (third, _) = try makeGateway(tokensYAML)
                let (fourth, _) = try makeGateway(tokensYAML)
                try await third.makeApplication().test(.live) { one in
                    try await fourth.makeApplication().test(.live) { two in
                        let body = chatBody(#","max_tokens":40"#, model: "chat")
                        let (portA, portB) = (try #require(one.port), try #require(two.port))
                        async let a = LimitsTests.burst(port: portA, count: 60, body: body)
                        async let b = LimitsTests.burst(port: portB, count: 60, body: body)
                        _ = try await a + b
                        // Tokens the providers really spent, as they reported them.
                        var spent = 0
                        for app in [third, fourth] {
                            let stats = (app.runtime.snapshot.adapters["p"] as? MockProviderAdapter)?.mock.stats
                            spent += stats?.tokens ?? 0
                        }
                        #expect(spent > 0)
                        #expect(Double(spent) <= 1000 * 1.02 + 60, "spent \(spent) tokens against a limit of 1000 per minute")
                        #expect(Double(spent) >= 1000 * 0.85, "spent \(spent): the limit, not the test, stopped the burst")
                    }
                }
            }
        }
    }
}

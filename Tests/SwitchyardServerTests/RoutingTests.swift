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

/// The router's time, moved by hand (wall-clock seconds move along with it).
final class ManualRouterClock: RouterClock {
    private let offset = Mutex<Duration>(.zero)
    private let base = ContinuousClock.now

    var now: ContinuousClock.Instant { base + offset.withLock { $0 } }
    var unixTime: Double {
        let offset = offset.withLock { $0 }
        return WallClock.unixTime() + Double(offset.components.seconds) + Double(offset.components.attoseconds) / 1e18
    }
    func advance(_ duration: Duration) { offset.withLock { $0 += duration } }
}

/// The router end to end: several in-process mock providers with fault modes behind one
/// gateway, every fallback path, the retry budget, breakers, experiments, shadow traffic,
/// rules, versions and the explain endpoint, all through HTTP.
@Suite struct RoutingTests {
    static let base = """
        server:
          port: 0
          master_key: test-master-key
          reload_check_interval: off
        """

    /// Mock providers, each `name: options` (options as a YAML flow mapping, may be empty).
    static func providers(_ entries: [(String, String)]) -> String {
        "providers:\n" + entries.map { "  - {name: \($0.0), type: mock, options: {\($0.1)}}" }.joined(separator: "\n")
    }

    func withRouting(
        _ yaml: String, routerClock: any RouterClock = SystemRouterClock(),
        _ test: @escaping @Sendable (any TestClientProtocol, SwitchyardApplication) async throws -> Void
    ) async throws {
        let application = try SwitchyardApplication(
            source: .file(try writeConfig(Self.base + "\n" + yaml)), registry: adapterRegistry(), logger: quietLogger, routerClock: routerClock)
        try await application.makeApplication().test(.live) { client in try await test(client, application) }
    }

    func requests(_ application: SwitchyardApplication, _ provider: String) -> Int {
        mock(application, provider)?.stats.requests ?? -1
    }

    func mock(_ application: SwitchyardApplication, _ provider: String) -> MockProvider? {
        (application.runtime.snapshot.adapters[provider] as? MockProviderAdapter)?.mock
    }

    func header(_ response: TestResponse, _ name: String) -> String? {
        response.headers[HTTPField.Name(name)!]
    }

    func chat(_ client: any TestClientProtocol, model: String, extra: String = "", headers: HTTPFields = authorized) async throws -> TestResponse {
        try await client.execute(uri: "/v1/chat/completions", method: .post, headers: headers, body: chatBody(extra, model: model))
    }

    func metrics(_ client: any TestClientProtocol) async throws -> String {
        try await client.execute(uri: "/metrics", method: .get).text
    }

    func content(_ response: TestResponse) -> String? {
        response.json?["choices"]?.arrayValue?.first?["message"]?["content"]?.stringValue
    }

    @Test func serverErrorsAreRetriedThenFallBack() async throws {
        let yaml = """
            router: {retry: {attempts: 2, backoff: 5ms, max_backoff: 20ms}}
            \(Self.providers([("bad", "fail_percent: 100"), ("good", "")]))
            models:
              - {name: primary, provider: bad, model: mock-gpt, fallbacks: [backup]}
              - {name: backup, provider: good, model: mock-gpt}
            """
        try await withRouting(yaml) { client, app in
            let response = try await chat(client, model: "primary")
            #expect(response.status == .ok)
            #expect(header(response, "x-switchyard-deployment") == "good/mock-gpt")
            #expect(header(response, "x-switchyard-fallback-from") == "primary")
            #expect(header(response, "x-switchyard-attempts") == "4")
            #expect(requests(app, "bad") == 3, "the first attempt and two retries")
            #expect(requests(app, "good") == 1)
            let text = try await metrics(client)
            #expect(text.contains(#"switchyard_router_fallbacks_total{from="primary",to="backup"} 1"#))
            #expect(text.contains(#"switchyard_router_attempts_total{model_group="primary",deployment="bad/mock-gpt",outcome="server_error"} 3"#))
            #expect(text.contains(#"switchyard_router_retries_total{model_group="primary"} 2"#))
        }
    }

    @Test func aFailingDeploymentIsSkippedAndItsBreakerOpens() async throws {
        let yaml = """
            router: {retry: {attempts: 2, backoff: 5ms}, circuit_breaker: {consecutive_failures: 3, cooldown: 60s}}
            \(Self.providers([("bad", "fail_percent: 100"), ("good", "")]))
            models:
              - name: pool
                strategy: round-robin
                deployments: [{provider: bad, model: m}, {provider: good, model: m}]
            """
        try await withRouting(yaml) { client, app in
            for _ in 0..<10 {
                let response = try await chat(client, model: "pool")
                #expect(response.status == .ok)
                #expect(header(response, "x-switchyard-deployment") == "good/m")
            }
            #expect(requests(app, "bad") == 3, "once open, the breaker keeps the deployment out")
            #expect(requests(app, "good") == 10)
            let text = try await metrics(client)
            #expect(text.contains(#"switchyard_circuit_breaker_state{deployment="bad/m"} 2"#))
            let explained = try await client.execute(uri: "/v1/route/explain", method: .post, headers: authorized, body: chatBody(model: "pool"))
            let candidates = explained.json?["candidates"]?.arrayValue ?? []
            #expect(candidates.first?["excluded"]?.stringValue == "breaker_open")
            #expect(candidates.first?["breaker"]?.stringValue == "open")
            #expect(explained.json?["selected"]?.stringValue == "good/m")
        }
    }

    @Test func oneRequestRetriedOnAPoisonedPromptCannotOpenTheBreakerForEveryone() async throws {
        // Two model groups share one deployment. One request whose prompt always gets a 500 is
        // retried three times: that is one failure against the deployment, not four.
        let yaml = """
            router: {retry: {attempts: 3, backoff: 5ms, max_backoff: 10ms}, circuit_breaker: {consecutive_failures: 3, cooldown: 60s}, panic_routing: false}
            \(Self.providers([("shared", "")]))
            models:
              - {name: first, provider: shared, model: m}
              - {name: second, provider: shared, model: m}
            """
        try await withRouting(yaml) { client, app in
            let poisoned = try await chat(client, model: "first", extra: #","mock":{"status":500}"#)
            #expect(poisoned.status.code >= 500)
            #expect(requests(app, "shared") == 4, "the first attempt and three retries reached the provider")
            for model in ["second", "first"] {
                let other = try await chat(client, model: model)
                #expect(other.status == .ok, "\(model): the breaker did not open for one request's retries")
            }
            let text = try await metrics(client)
            #expect(!text.contains(#"switchyard_circuit_breaker_state{deployment="shared/m"} 2"#))
        }
    }

    @Test func aGroupNeverLosesItsLastDeploymentToABreaker() async throws {
        // Five streams the provider cuts open the only deployment's breaker; later requests are
        // still routed to it (panic mode) instead of answering 503 for the whole cooldown.
        let yaml = """
            router: {retry: {attempts: 0}, circuit_breaker: {consecutive_failures: 3, cooldown: 60s}}
            \(Self.providers([("only", "")]))
            models:
              - {name: solo, provider: only, model: m}
            """
        try await withRouting(yaml) { client, app in
            for _ in 0..<5 {
                let cut = try await chat(client, model: "solo", extra: #","stream":true,"mock":{"drop_after":2}"#)
                #expect(cut.status == .ok)
            }
            let text = try await metrics(client)
            #expect(text.contains(#"switchyard_circuit_breaker_state{deployment="only/m"} 2"#), "the breaker did open")
            let later = try await chat(client, model: "solo")
            #expect(later.status == .ok, "panic routing: the group still has a deployment")
            #expect(header(later, "x-switchyard-panic-routing") == "true")
        }
        // Operators who prefer a fast 503 opt out.
        let strict = yaml.replacingOccurrences(of: "cooldown: 60s}}", with: "cooldown: 60s}, panic_routing: false}")
        try await withRouting(strict) { client, _ in
            for _ in 0..<3 { _ = try await chat(client, model: "solo", extra: #","stream":true,"mock":{"drop_after":2}"#) }
            let refused = try await chat(client, model: "solo")
            #expect(refused.status == .serviceUnavailable)
            #expect(refused.json?["error"]?["code"]?.stringValue == "no_healthy_deployment")
        }
    }

    @Test func breakerProbesAfterTheCooldownAndCloses() async throws {
        let yaml = """
            router: {retry: {attempts: 0}, circuit_breaker: {consecutive_failures: 3, cooldown: 2s}}
            \(Self.providers([("flaky", "fail_first: 3"), ("good", "")]))
            models:
              - {name: primary, provider: flaky, model: m, fallbacks: [backup]}
              - {name: backup, provider: good, model: m}
            """
        let clock = ManualRouterClock()
        try await withRouting(yaml, routerClock: clock) { client, app in
            for _ in 0..<4 {
                let response = try await chat(client, model: "primary")
                #expect(header(response, "x-switchyard-deployment") == "good/m")
            }
            #expect(requests(app, "flaky") == 3, "the fourth request found the breaker open and went straight to the fallback")
            clock.advance(.milliseconds(1900))
            let early = try await chat(client, model: "primary")
            #expect(header(early, "x-switchyard-deployment") == "good/m", "still open just before the cooldown ends")
            #expect(requests(app, "flaky") == 3)
            clock.advance(.milliseconds(100))
            let probe = try await chat(client, model: "primary")
            #expect(header(probe, "x-switchyard-deployment") == "flaky/m", "half-open: one probe, which succeeds")
            let after = try await chat(client, model: "primary")
            #expect(header(after, "x-switchyard-deployment") == "flaky/m")
            #expect(requests(app, "flaky") == 5)
        }
    }

    @Test func retryAfterKeepsARateLimitedDeploymentOut() async throws {
        let yaml = """
            \(Self.providers([("limited", "status: 429, retry_after: 30"), ("good", "")]))
            models:
              - name: pool
                deployments: [{provider: limited, model: m, weight: 1000}, {provider: good, model: m, weight: 1}]
            """
        // The router's clock stands still: the Retry-After cannot run out however slow the run.
        try await withRouting(yaml, routerClock: ManualRouterClock()) { client, app in
            let first = try await chat(client, model: "pool")
            #expect(first.status == .ok)
            #expect(header(first, "x-switchyard-attempts") == "2")
            for _ in 0..<5 {
                let response = try await chat(client, model: "pool")
                #expect(header(response, "x-switchyard-deployment") == "good/m")
                #expect(header(response, "x-switchyard-attempts") == "1")
            }
            #expect(requests(app, "limited") == 1)
        }
    }

    @Test func aRateLimitWithNowhereElseToGoReachesTheClientWithRetryAfter() async throws {
        let yaml = """
            \(Self.providers([("limited", "status: 429, retry_after: 20")]))
            models:
              - {name: solo, provider: limited, model: m}
            """
        // The router's clock stands still: the Retry-After cannot run out however slow the run.
        try await withRouting(yaml, routerClock: ManualRouterClock()) { client, app in
            let first = try await chat(client, model: "solo")
            #expect(first.status == .tooManyRequests)
            #expect(first.headers[.retryAfter] == "20")
            let second = try await chat(client, model: "solo")
            #expect(second.status == .tooManyRequests)
            let wait = Int(second.headers[.retryAfter] ?? "") ?? 0
            #expect((18...20).contains(wait), "answered locally until the provider's Retry-After has passed")
            #expect(requests(app, "limited") == 1)
        }
    }

    @Test func theRetryBudgetCapsRetriesUnderFailure() async throws {
        let yaml = """
            router:
              retry: {attempts: 3, backoff: 1ms, max_backoff: 2ms}
              retry_budget: {ratio: 0.1, min_per_second: 0}
              circuit_breaker: false
            \(Self.providers([("bad", "fail_percent: 100")]))
            models:
              - {name: failing, provider: bad, model: m}
            """
        try await withRouting(yaml) { client, app in
            for _ in 0..<30 {
                let response = try await chat(client, model: "failing")
                #expect(response.status == .serviceUnavailable)
            }
            let upstream = requests(app, "bad")
            #expect(upstream >= 30 && upstream <= 33, "30 requests may add at most 10% retries, got \(upstream)")
            #expect(try await metrics(client).contains("switchyard_router_retry_budget_exhausted_total"))
        }
    }

    @Test func nothingIsRetriedAfterTheFirstByte() async throws {
        let yaml = """
            \(Self.providers([("dropping", "drop_after: 2, chunks: 6"), ("good", "")]))
            models:
              - {name: primary, provider: dropping, model: m, fallbacks: [backup]}
              - {name: backup, provider: good, model: m}
            """
        try await withRouting(yaml) { client, app in
            let response = try await chat(client, model: "primary", extra: #","stream":true"#)
            #expect(response.status == .ok)
            let events = sseData(response.text)
            #expect(events.last == "[DONE]")
            #expect(events.dropLast().last?.contains(#""error""#) == true, "the stream ends with an error event")
            #expect(events.count >= 4)
            #expect(requests(app, "good") == 0, "no fallback once the client has bytes")
            #expect(requests(app, "dropping") == 1)
        }
    }

    @Test func slowFirstTokensAndSlowAnswersTimeOutAndFallBack() async throws {
        let yaml = """
            \(Self.providers([("slow-start", "hold_after: 0"), ("slow", "hold: true"), ("good", "")]))
            models:
              - {name: streaming, provider: slow-start, model: m, first_token_timeout: 200ms, retry: {attempts: 0}, fallbacks: [backup]}
              - {name: complete, provider: slow, model: m, timeout: 200ms, retry: {attempts: 0}, fallbacks: [backup]}
              - {name: backup, provider: good, model: m}
            """
        try await withRouting(yaml) { client, app in
            // Both slow providers hold their answer (the stream's first event, the whole answer)
            // at the mock's gate, which the test never opens.
            let stream = try await chat(client, model: "streaming", extra: #","stream":true"#)
            #expect(stream.status == .ok)
            #expect(header(stream, "x-switchyard-deployment") == "good/m")
            #expect(sseData(stream.text).last == "[DONE]")
            let answer = try await chat(client, model: "complete")
            #expect(answer.status == .ok)
            #expect(header(answer, "x-switchyard-deployment") == "good/m")
            #expect(requests(app, "slow-start") == 1 && requests(app, "slow") == 1)
            for slow in ["slow-start", "slow"] {
                let gate = try #require(mock(app, slow)).gate
                #expect(gate.released == 0, "\(slow): its answer was not waited for")
                #expect(await eventually { gate.cancelled == 1 }, "\(slow): the gateway gave up on the upstream call")
            }
            let text = try await metrics(client)
            #expect(text.contains(#"deployment="slow-start/m",outcome="timeout""#))
            #expect(text.contains(#"deployment="slow/m",outcome="timeout""#))
        }
    }

    @Test func timeoutsWithoutFallbackAnswer504() async throws {
        let yaml = """
            \(Self.providers([("slow", "hold: true")]))
            models:
              - {name: complete, provider: slow, model: m, timeout: 150ms, retry: {attempts: 0}}
            """
        try await withRouting(yaml) { client, _ in
            let response = try await chat(client, model: "complete")
            #expect(response.status == .gatewayTimeout)
            #expect(response.json?["error"]?["code"]?.stringValue == "attempt_timeout")
        }
    }

    @Test func connectionErrorsFallBack() async throws {
        let yaml = """
            providers:
              - {name: down, type: openai-compatible, base_url: "http://127.0.0.1:1/v1", api_key: k}
              - {name: good, type: mock}
            models:
              - {name: primary, provider: down, model: m, retry: {attempts: 1, backoff: 5ms}, fallbacks: [{model: backup, on: [connection]}]}
              - {name: backup, provider: good, model: m}
            """
        try await withRouting(yaml) { client, _ in
            let response = try await chat(client, model: "primary")
            #expect(response.status == .ok)
            #expect(header(response, "x-switchyard-deployment") == "good/m")
            #expect(header(response, "x-switchyard-attempts") == "3")
        }
    }

    @Test func promptsTooLargeForTheContextWindowGoToALargerModel() async throws {
        let yaml = """
            \(Self.providers([("small", ""), ("large", "")]))
            models:
              - {name: chat, provider: small, model: s, context_window: 200, fallbacks: [{model: long, on: [context_length]}]}
              - {name: long, provider: large, model: l, context_window: 100000}
              - {name: strict, provider: small, model: s, context_window: 200}
            """
        try await withRouting(yaml) { client, app in
            let short = try await chat(client, model: "chat")
            #expect(header(short, "x-switchyard-deployment") == "small/s")
            let longPrompt = String(repeating: "token ", count: 400)
            let long = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: authorized, body: chatBody(model: "chat", content: longPrompt))
            #expect(long.status == .ok)
            #expect(header(long, "x-switchyard-deployment") == "large/l")
            #expect(requests(app, "small") == 1, "the oversized prompt was never sent to the small model")
            let refused = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: authorized, body: chatBody(model: "strict", content: longPrompt))
            #expect(refused.status == .badRequest)
            #expect(refused.json?["error"]?["code"]?.stringValue == "context_length_exceeded")
        }
    }

    @Test func providerRefusalsFallBackOnlyWhereConfigured() async throws {
        let yaml = """
            \(Self.providers([
                ("small", "status: 400, error_code: context_length_exceeded"),
                ("strict", "status: 400, error_code: content_filter"),
                ("large", ""),
            ]))
            models:
              - {name: chat, provider: small, model: s, fallbacks: [{model: long, on: [context_length]}]}
              - {name: moderated, provider: strict, model: s, fallbacks: [{model: long, on: [content_filter]}]}
              - {name: moderated-no-fallback, provider: strict, model: s, fallbacks: [long]}
              - {name: long, provider: large, model: l}
            """
        try await withRouting(yaml) { client, app in
            let long = try await chat(client, model: "chat")
            #expect(long.status == .ok)
            #expect(header(long, "x-switchyard-deployment") == "large/l")
            let refused = try await chat(client, model: "moderated")
            #expect(header(refused, "x-switchyard-deployment") == "large/l")
            let kept = try await chat(client, model: "moderated-no-fallback")
            #expect(kept.status == .badRequest, "content-policy refusals fall back only when listed")
            #expect(kept.json?["error"]?["code"]?.stringValue == "content_filter")
            #expect(requests(app, "small") == 1 && requests(app, "strict") == 2, "client-class errors are never retried")
        }
    }

    @Test func canaryArmsAreStickyPerUserAndRecorded() async throws {
        let yaml = """
            \(Self.providers([("stable", "content: stable answer"), ("candidate", "content: candidate answer")]))
            models:
              - name: chat
                experiment:
                  name: candidate-canary
                  sticky: user
                  arms:
                    - {name: control, model: stable-model, weight: 50}
                    - {name: canary, model: candidate-model, weight: 50}
              - {name: stable-model, provider: stable, model: m}
              - {name: candidate-model, provider: candidate, model: m}
            """
        try await withRouting(yaml) { client, _ in
            var aliceArm: String?
            for _ in 0..<8 {
                let response = try await chat(client, model: "chat", extra: #","user":"alice""#)
                let arm = header(response, "x-switchyard-experiment")
                #expect(arm != nil)
                if aliceArm == nil { aliceArm = arm }
                #expect(arm == aliceArm, "one user stays on one arm")
                let expected = arm == "candidate-canary=canary" ? "candidate answer" : "stable answer"
                #expect(content(response) == expected)
            }
            var arms: Set<String> = []
            for index in 0..<30 {
                let response = try await chat(client, model: "chat", extra: #","user":"user-\#(index)""#)
                if let arm = header(response, "x-switchyard-experiment") { arms.insert(arm) }
            }
            #expect(arms == ["candidate-canary=control", "candidate-canary=canary"])
            let text = try await metrics(client)
            #expect(text.contains(#"switchyard_experiment_requests_total{experiment="candidate-canary",arm="canary",outcome="success"}"#))
        }
    }

    @Test func shadowTrafficNeverChangesWhatTheClientSees() async throws {
        let yaml = """
            \(Self.providers([
                ("primary", "content: the answer is forty two"),
                ("shadow", "content: the answer is forty three, hold: true"),
                ("broken", "fail_percent: 100"),
            ]))
            models:
              - {name: chat, provider: primary, model: m, shadow: {model: candidate, sample_rate: 1.0}}
              - {name: risky, provider: primary, model: m, shadow: {model: failing}}
              - {name: candidate, provider: shadow, model: m}
              - {name: failing, provider: broken, model: m}
            """
        try await withRouting(yaml) { client, app in
            // The shadow provider holds every request at its gate until the test opens it.
            let shadowGate = try #require(mock(app, "shadow")).gate
            for _ in 0..<3 {
                let response = try await chat(client, model: "chat")
                #expect(response.status == .ok)
                #expect(content(response) == "the answer is forty two")
            }
            let streamed = try await chat(client, model: "chat", extra: #","stream":true"#)
            let streamedText = sseData(streamed.text).dropLast().compactMap { try? JSONValue.parse($0) }
                .compactMap { $0["choices"]?.arrayValue?.first?["delta"]?["content"]?.stringValue }.joined()
            #expect(streamedText == "the answer is forty two")
            // All four clients have their answers and no shadow has been answered yet: the
            // clients did not wait for their shadows.
            #expect(shadowGate.released == 0, "the client never waits for the shadow")
            #expect(await eventually { shadowGate.waiting == 4 }, "each shadow request is in flight, held at the mock")
            let failing = try await chat(client, model: "risky")
            #expect(failing.status == .ok)
            #expect(content(failing) == "the answer is forty two")
            shadowGate.open()
            #expect(await eventually { requests(app, "shadow") == 4 && requests(app, "broken") == 1 })
            // Shadow records are emitted when the slower of the pair finishes.
            let text = try await metricsText(
                client, containing: #"switchyard_shadow_requests_total{model_group="chat",shadow_model_group="candidate",outcome="success"} 4"#)
            #expect(text.contains(#"switchyard_shadow_requests_total{model_group="chat",shadow_model_group="candidate",outcome="success"} 4"#))
            #expect(text.contains(#"switchyard_shadow_requests_total{model_group="risky",shadow_model_group="failing",outcome=""#))
            #expect(text.contains(#"switchyard_shadow_similarity_count{model_group="chat",shadow_model_group="candidate"} 4"#))
        }
    }

    @Test func rulesRouteByHeaderAndRestrictRegions() async throws {
        let yaml = """
            \(Self.providers([("eu", ""), ("us", ""), ("fast", "")]))
            models:
              - name: chat
                deployments: [{provider: us, model: m, region: us, weight: 1000}, {provider: eu, model: m, region: eu, weight: 1}]
              - {name: premium, provider: fast, model: m}
              - {name: us-only, provider: us, model: m, region: us}
            routing_rules:
              - {name: premium-tier, when: {headers: {x-tier: premium}, model: chat}, route_to: premium}
              - {name: eu-residency, when: {headers: {x-residency: eu}}, regions: [eu]}
            """
        try await withRouting(yaml) { client, _ in
            var premium = authorized
            premium[HTTPField.Name("x-tier")!] = "premium"
            let routed = try await chat(client, model: "chat", headers: premium)
            #expect(header(routed, "x-switchyard-deployment") == "fast/m")
            #expect(header(routed, "x-switchyard-rule") == "premium-tier")
            var resident = authorized
            resident[HTTPField.Name("x-residency")!] = "eu"
            for _ in 0..<5 {
                let response = try await chat(client, model: "chat", headers: resident)
                #expect(header(response, "x-switchyard-deployment") == "eu/m")
            }
            let refused = try await chat(client, model: "us-only", headers: resident)
            #expect(refused.status == .forbidden)
            #expect(refused.json?["error"]?["code"]?.stringValue == "region_not_allowed")
        }
    }

    @Test func versionsArePinnedDeprecatedAndRetired() async throws {
        let yaml = """
            \(Self.providers([("p", "")]))
            models:
              - {name: summarizer, version: "2024-01", provider: p, model: old, sunset: 2025-01-01, successor: "summarizer@2026-01"}
              - {name: summarizer, version: "2025-06", provider: p, model: mid, deprecated: true, sunset: 2099-12-31, successor: "summarizer@2026-01"}
              - {name: summarizer, version: "2026-01", provider: p, model: new, default: true}
              - {name: legacy, provider: p, model: legacy, sunset: 2025-01-01}
            """
        try await withRouting(yaml) { client, _ in
            let current = try await chat(client, model: "summarizer")
            #expect(header(current, "x-switchyard-model") == "new")
            let pinned = try await chat(client, model: "summarizer@2025-06")
            #expect(pinned.status == .ok)
            #expect(header(pinned, "x-switchyard-model") == "mid")
            #expect(header(pinned, "Deprecation") == "true")
            #expect(header(pinned, "Sunset") == "Thu, 31 Dec 2099 00:00:00 GMT")
            #expect(header(pinned, "x-switchyard-deprecation")?.contains("summarizer@2026-01") == true)
            let retired = try await chat(client, model: "summarizer@2024-01")
            #expect(retired.status == .ok)
            #expect(header(retired, "x-switchyard-redirected-from") == "summarizer@2024-01")
            #expect(header(retired, "x-switchyard-model") == "new")
            let gone = try await chat(client, model: "legacy")
            #expect(gone.status == .gone)
            #expect(gone.json?["error"]?["code"]?.stringValue == "model_sunset")
            let listed = try await client.execute(uri: "/v1/models", method: .get, headers: authorized)
            let ids = listed.json?["data"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
            #expect(ids.contains("summarizer") && ids.contains("summarizer@2025-06"))
        }
    }

    @Test func latencyAwareRoutingPrefersTheFasterDeployment() async throws {
        let yaml = """
            router: {seed: 3}
            \(Self.providers([("fast", ""), ("slow", "latency_ms: 500")]))
            models:
              - name: chat
                strategy: latency
                deployments: [{provider: fast, model: m}, {provider: slow, model: m}]
            """
        try await withRouting(yaml) { client, app in
            for _ in 0..<20 { _ = try await chat(client, model: "chat") }
            #expect(requests(app, "slow") <= 2, "after one sample each, the slow deployment loses every comparison")
            #expect(requests(app, "fast") >= 18)
        }
    }

    @Test func explainNeedsAuthenticationAndNamesTheRule() async throws {
        let yaml = """
            \(Self.providers([("p", "")]))
            models:
              - {name: chat, provider: p, model: m}
              - {name: vision, provider: p, model: v}
            routing_rules:
              - {name: images, when: {has_images: true}, route_to: vision}
            """
        try await withRouting(yaml) { client, _ in
            let body = ByteBuffer(
                string: #"{"model":"chat","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:x"}}]}]}"#)
            let anonymous = try await client.execute(uri: "/v1/route/explain", method: .post, body: body)
            #expect(anonymous.status == .unauthorized)
            let explained = try await client.execute(uri: "/v1/route/explain", method: .post, headers: authorized, body: body)
            #expect(explained.status == .ok)
            #expect(explained.json?["rule"]?.stringValue == "images")
            #expect(explained.json?["model_group"]?.stringValue == "vision")
            #expect(explained.json?["selected"]?.stringValue == "p/v")
            #expect(explained.json?["features"]?["has_images"]?.boolValue == true)
        }
    }

    @Test func activeHealthChecksOpenAndCloseBreakersWithoutTraffic() async throws {
        let yaml = """
            router: {circuit_breaker: {consecutive_failures: 2, cooldown: 60s}}
            \(Self.providers([("recovering", "fail_first: 2")]))
            models:
              - {name: chat, provider: recovering, model: m, health_check: {interval: 100ms, timeout: 10s}}
            """
        try await withRouting(yaml) { client, app in
            let text = try await metricsText(
                client, containing: #"switchyard_circuit_breaker_transitions_total{deployment="recovering/m",to="closed"}"#)
            #expect(text.contains(#"switchyard_circuit_breaker_transitions_total{deployment="recovering/m",to="open"} 1"#))
            #expect(text.contains(#"switchyard_circuit_breaker_transitions_total{deployment="recovering/m",to="closed"} 1"#))
            #expect(
                text.contains(#"switchyard_circuit_breaker_state{deployment="recovering/m"} 0"#), "a healthy probe closed it long before the cooldown"
            )
            #expect(requests(app, "recovering") >= 3)
            let response = try await chat(client, model: "chat")
            #expect(response.status == .ok)
        }
    }

    @Test func routingConfigurationErrorsNameTheProblem() throws {
        let yaml = """
            server: {port: 0}
            providers:
              - {name: p, type: mock}
            models:
              - {name: chat, provider: p, model: m, strategy: fastest, fallbacks: [chatt]}
              - name: pool
                deployments: [{provider: q, model: m}]
            routing_rules:
              - {name: broken, when: {message_matches: "([a-z"}, route_to: chat}
            """
        do {
            _ = try makeGateway(yaml)
            Issue.record("the configuration must be rejected")
        } catch let error as ConfigError {
            let text = error.description
            #expect(text.contains("unknown strategy 'fastest'"))
            #expect(text.contains("fallback of 'chat' refers to unknown model 'chatt'"))
            #expect(text.contains("did you mean 'chat'?"))
            #expect(text.contains("unknown provider 'q'"))
            #expect(text.contains("message_matches is not a valid regular expression"))
        }
    }

    /// A group of `gpt-4o` and `gpt-4o-mini` with no `price:`: the cost strategy prices them as
    /// billing does, from the built-in table (or `pricing:`), and explain says which price decided.
    @Test(arguments: [
        ("", "p/gpt-4o-mini", "built-in"),
        ("pricing: {gpt-4o: {input: 0.01, output: 0.01}}", "p/gpt-4o", "pricing"),
    ])
    func theCostStrategyUsesTheSamePricesAsBilling(pricing: String, cheapest: String, source: String) async throws {
        let yaml = """
            \(Self.providers([("p", "")]))
            models:
              - name: pool
                strategy: cost
                deployments: [{provider: p, model: gpt-4o}, {provider: p, model: gpt-4o-mini}]
            \(pricing)
            """
        try await withRouting(yaml) { client, _ in
            for _ in 0..<3 {
                let response = try await chat(client, model: "pool")
                #expect(response.status == .ok)
                #expect(header(response, "x-switchyard-deployment") == cheapest)
            }
            let explained = try await client.execute(uri: "/v1/route/explain", method: .post, headers: authorized, body: chatBody(model: "pool"))
            #expect(explained.json?["selected"]?.stringValue == cheapest)
            #expect(explained.json?["decided_by"]?.stringValue?.contains(source) == true, "\(explained.text)")
            let candidates = explained.json?["candidates"]?.arrayValue ?? []
            #expect(candidates.count == 2)
            for candidate in candidates {
                let chosen = "p/" + (candidate["model"]?.stringValue ?? "") == cheapest
                #expect(candidate["price"]?["source"]?.stringValue == (chosen ? source : "built-in"))
                #expect((candidate["estimated_cost_usd"]?.doubleValue ?? 0) > 0)
            }
        }
    }

    @Test func aDeploymentsOwnPriceWinsOverTheTables() async throws {
        let yaml = """
            \(Self.providers([("p", "")]))
            models:
              - name: pool
                strategy: cost
                deployments: [{provider: p, model: gpt-4o, price: {input: 0.01, output: 0.01}}, {provider: p, model: gpt-4o-mini}]
            """
        try await withRouting(yaml) { client, _ in
            #expect(header(try await chat(client, model: "pool"), "x-switchyard-deployment") == "p/gpt-4o")
            let explained = try await client.execute(uri: "/v1/route/explain", method: .post, headers: authorized, body: chatBody(model: "pool"))
            #expect(explained.json?["decided_by"]?.stringValue?.contains("deployment's own price") == true)
        }
    }
}

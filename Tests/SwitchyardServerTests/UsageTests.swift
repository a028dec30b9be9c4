import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SwitchyardCore
import SwitchyardServer
import SwitchyardStores
import SwitchyardTesting
import Synchronization
import Testing

/// Cost, the usage ledger and its API, and budgets, through the HTTP interface.
@Suite struct UsageTests {
    /// `chat` costs $1000 / $2000 per million tokens ($0.001 / $0.002 a token) so a request
    /// costs cents; `gpt-4o` takes the built-in price.
    static func config(_ extra: String = "") -> String {
        """
        server: {port: 0, master_key: test-master-key, reload_check_interval: off}
        providers:
          - {name: p, type: mock}
        models:
          - name: chat
            deployments: [{provider: p, model: m, price: {input: 1000, output: 2000}}]
          - {name: gpt-4o, provider: p, model: gpt-4o}
          - {name: free, provider: p, model: unpriced-model}
        \(extra)
        """
    }

    func withGateway(_ extra: String = "", _ test: @escaping @Sendable (any TestClientProtocol, SwitchyardApplication) async throws -> Void)
        async throws
    {
        let (application, _) = try makeGateway(Self.config(extra))
        try await application.makeApplication().test(.live) { client in try await test(client, application) }
    }

    static func chat(_ client: any TestClientProtocol, key: String = "test-master-key", model: String = "chat", extra: String = "") async throws
        -> TestResponse
    {
        let headers: HTTPFields = [.authorization: "Bearer \(key)", .contentType: "application/json"]
        return try await client.execute(uri: "/v1/chat/completions", method: .post, headers: headers, body: chatBody(extra, model: model))
    }

    static func get(_ client: any TestClientProtocol, _ uri: String, key: String = "test-master-key") async throws -> TestResponse {
        try await client.execute(uri: uri, method: .get, headers: [.authorization: "Bearer \(key)"])
    }

    static func cost(_ row: JSONValue?) -> Double { row?["cost_usd"]?.doubleValue ?? -1 }

    @Test func everyRequestIsPricedAndRecordedAndUsageGroupsAndFilters() async throws {
        try await withGateway { client, _ in
            for _ in 0..<3 { #expect(try await Self.chat(client).status == .ok) }
            #expect(try await Self.chat(client, model: "gpt-4o").status == .ok)
            #expect(try await Self.chat(client, model: "free").status == .ok)
            let streamed = try await Self.chat(client, extra: #","stream":true"#)
            #expect(streamed.status == .ok)
            #expect(try await Self.chat(client, model: "nope").status == .notFound)

            let usage = try await Self.get(client, "/admin/usage?group_by=model")
            #expect(usage.status == .ok, "\(usage.text)")
            let rows = try #require(usage.json?["data"]?.arrayValue)
            func row(_ model: String?) -> JSONValue? { rows.first { $0["model"]?.stringValue == model } }
            let chat = try #require(row("chat"))
            #expect(chat["requests"]?.intValue == 4, "three plain and one streamed request")
            let prompt = try #require(chat["prompt_tokens"]?.intValue)
            let completion = try #require(chat["completion_tokens"]?.intValue)
            #expect(prompt > 0 && completion > 0, "the streamed request's usage is recorded too")
            #expect(abs(Self.cost(chat) - (Double(prompt) * 0.001 + Double(completion) * 0.002)) < 1e-9)
            let gpt = try #require(row("gpt-4o"))
            let expected = Double(gpt["prompt_tokens"]?.intValue ?? 0) * 2.5e-6 + Double(gpt["completion_tokens"]?.intValue ?? 0) * 10e-6
            #expect(abs(Self.cost(gpt) - expected) < 1e-12, "the built-in table prices gpt-4o")
            #expect(Self.cost(row("free")) == 0, "a model without a price costs nothing known")
            let refused = rows.first { $0["model"]?.isNull == true }
            #expect(refused?["errors"]?.intValue == 1, "refused requests are recorded as errors")
            #expect(usage.json?["totals"]?["requests"]?.intValue == 7)

            let filtered = try await Self.get(client, "/admin/usage?model=gpt-4o&group_by=day,key")
            let day = try #require(filtered.json?["data"]?.arrayValue?.first)
            #expect(day["day"]?.stringValue == CivilDate(daysSinceEpoch: CivilDate.days(Int64(WallClock.unixTime()))).iso)
            #expect(day["key"]?.stringValue == "master")
            #expect(filtered.json?["totals"]?["requests"]?.intValue == 1)
            let tomorrow = try await Self.get(client, "/admin/usage?from=\(Int(WallClock.unixTime()) + 86_400)")
            #expect(tomorrow.json?["totals"]?["requests"]?.intValue == 0)

            let badGroup = try await Self.get(client, "/admin/usage?group_by=colour")
            #expect(badGroup.status == .badRequest && badGroup.text.contains("group_by"))
            let badDate = try await Self.get(client, "/admin/usage?from=yesterday")
            #expect(badDate.status == .badRequest && badDate.text.contains("'from'"))
            let spend = try await Self.get(client, "/admin/spend")
            #expect(spend.json?["data"]?.arrayValue?.first?["key"]?.stringValue == "master")

            let metrics = try await client.execute(uri: "/metrics", method: .get)
            #expect(metrics.text.contains("switchyard_cost_usd_total{model=\"chat\",provider=\"p\"}"))
        }
    }

    @Test func aKeyBudgetIsEnforcedAndAKeySeesOnlyItsOwnUsage() async throws {
        try await withGateway { client, _ in
            let created = try await client.execute(
                uri: "/admin/keys", method: .post, headers: authorized,
                body: ByteBuffer(string: #"{"name":"capped","budget":{"amount":0.2,"period":"daily"}}"#))
            #expect(created.status == .created, "\(created.text)")
            #expect(created.json?["budget"]?["period"]?.stringValue == "daily")
            let key = try #require(created.json?["key"]?.stringValue)
            let other = try #require(
                try await client.execute(uri: "/admin/keys", method: .post, headers: authorized, body: ByteBuffer(string: #"{"name":"other"}"#))
                    .json?["key"]?.stringValue)
            #expect(try await Self.chat(client, key: other).status == .ok)

            var allowed = 0
            var refusal: TestResponse?
            for _ in 0..<40 {
                let response = try await Self.chat(client, key: key, extra: #","max_tokens":10"#)
                if response.status == .ok {
                    allowed += 1
                } else {
                    refusal = response
                    break
                }
            }
            let refused = try #require(refusal, "the budget must stop the key")
            #expect(refused.status == .tooManyRequests)
            #expect(refused.json?["error"]?["type"]?.stringValue == "budget_exceeded")
            #expect(refused.json?["error"]?["code"]?.stringValue == "budget_exceeded")
            #expect(refused.text.contains("key '"))
            let retryAfter = try #require(refused.headers[.retryAfter].flatMap { Int($0) })
            #expect(retryAfter > 0 && retryAfter <= 86_400)
            #expect(allowed >= 2)

            let own = try await Self.get(client, "/v1/usage", key: key)
            #expect(own.status == .ok, "\(own.text)")
            let totals = try #require(own.json?["totals"])
            #expect(totals["requests"]?.intValue == allowed + 1, "its successes and its refusal, nothing of the other key")
            let spent = Self.cost(totals)
            let perRequest = spent / Double(allowed)
            #expect(spent <= 0.2 + perRequest + 1e-9, "spent \(spent) against 0.2")
            let budget = try #require(own.json?["budgets"]?.arrayValue?.first)
            #expect(budget["limit_usd"]?.doubleValue == 0.2)
            #expect(budget["scope"]?.stringValue == "key")
            #expect(abs((budget["spent_usd"]?.doubleValue ?? 0) - spent) < 1e-9)

            let theirs = try await Self.get(client, "/v1/usage", key: other)
            #expect(theirs.json?["totals"]?["requests"]?.intValue == 1)
            let forbidden = try await Self.get(client, "/admin/usage", key: key)
            #expect(forbidden.status == .forbidden)
        }
    }

    @Test func aBurstOfConcurrentRequestsCannotOvershootTheBudget() async throws {
        let budget = "budgets: {rules: [{scope: global, amount: 0.5, period: monthly}]}"
        try await withGateway(budget) { client, application in
            let port = try #require(client.port)
            let statuses = try await LimitsTests.burst(port: port, count: 40, body: chatBody(#","max_tokens":20"#, model: "chat"))
            let allowed = statuses.filter { $0 == 200 }.count
            #expect(statuses.allSatisfy { $0 == 200 || $0 == 429 })
            let upstream = (application.runtime.snapshot.adapters["p"] as? MockProviderAdapter)?.mock.stats.requests ?? 0
            #expect(allowed == upstream)
            #expect(allowed > 0 && allowed < 40)
            let spend = try await Self.get(client, "/admin/spend")
            let spent = Self.cost(spend.json?["totals"])
            // Each admitted request reserved its worst case (prompt + 20 tokens) first.
            #expect(spent <= 0.5 + 1e-9, "spent \(spent) against a budget of 0.5 with \(allowed) requests admitted")
            #expect(spent >= 0.25, "the budget, not something else, stopped the burst (spent \(spent))")
            let status = try #require(spend.json?["budgets"]?.arrayValue?.first)
            #expect(status["scope"]?.stringValue == "global")
            #expect(status["period"]?.stringValue == "monthly")
        }
    }

    @Test func thresholdAlertsFireOnceEachAndReachTheWebhook() async throws {
        let received = Mutex<[JSONValue]>([])
        let router = Router()
        router.post("/hook") { request, _ -> HTTPResponse.Status in
            var request = request
            let body = try await request.collectBody(upTo: 65_536)
            if let json = try? JSONValue.parse(Array(buffer: body)) { received.withLock { $0.append(json) } }
            return .ok
        }
        try await Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0))).test(.live) { hook in
            let hookPort = try #require(hook.port)
            let budgets = """
                budgets:
                  webhook: http://127.0.0.1:\(hookPort)/hook
                  rules: [{scope: team, amount: 0.3, period: weekly, alerts: [0.5, 1.0]}]
                """
            try await withGateway(budgets) { client, _ in
                let created = try await client.execute(
                    uri: "/admin/keys", method: .post, headers: authorized, body: ByteBuffer(string: #"{"name":"t","team_id":"research"}"#))
                let key = try #require(created.json?["key"]?.stringValue)
                var refused = false
                for _ in 0..<40 where !refused {
                    refused = try await Self.chat(client, key: key, extra: #","max_tokens":10"#).status == .tooManyRequests
                }
                #expect(refused)
                // Alerts fire as spend settles and are delivered in the background: wait until
                // both have fired and arrived, then count them.
                let metrics = try await metricsText(client, containing: #"switchyard_budget_alerts_total{scope="team",threshold="100"} 1"#)
                #expect(await eventually { received.withLock { $0.count } >= 2 })
                let alerts = received.withLock { $0 }
                #expect(alerts.count == 2, "one alert per threshold: \(alerts)")
                #expect(alerts.compactMap { $0["threshold"]?.doubleValue }.sorted() == [0.5, 1.0])
                #expect(alerts.allSatisfy { $0["scope"]?.stringValue == "team" && $0["id"]?.stringValue == "research" })
                #expect(alerts.allSatisfy { $0["period"]?.stringValue == "weekly" && $0["limit_usd"]?.doubleValue == 0.3 })
                #expect(metrics.contains(#"switchyard_budget_alerts_total{scope="team",threshold="50"} 1"#))
                #expect(metrics.contains(#"switchyard_budget_alerts_total{scope="team",threshold="100"} 1"#))
                #expect(metrics.contains(#"switchyard_budget_rejections_total{scope="team"}"#))
                let spend = try await Self.get(client, "/admin/spend")
                let team = spend.json?["budgets"]?.arrayValue?.first { $0["scope"]?.stringValue == "team" }
                #expect(team?["id"]?.stringValue == "research")
            }
        }
    }

    @Test func spendSurvivesARestartSoBudgetsStillHold() async throws {
        let yaml = Self.config("budgets: {rules: [{scope: global, amount: 0.05, period: total}]}")
        let path = try writeConfig(yaml)
        func start() throws -> SwitchyardApplication {
            try SwitchyardApplication(source: .file(path), registry: adapterRegistry(), logger: quietLogger)
        }
        try await start().makeApplication().test(.live) { client in
            var refused = false
            for _ in 0..<40 where !refused { refused = try await Self.chat(client).status == .tooManyRequests }
            #expect(refused)
        }
        try await start().makeApplication().test(.live) { client in
            let response = try await Self.chat(client)
            #expect(response.status == .tooManyRequests, "spend recorded before the restart still counts")
            #expect(response.json?["error"]?["type"]?.stringValue == "budget_exceeded")
            #expect(response.headers[.retryAfter] == nil, "a total budget never resets")
        }
    }

    @Test func budgetRulesAreValidated() {
        let bad = Self.config("budgets: {rules: [{scope: tean, amount: -1, period: fortnightly}], alerts: [0]}")
        do {
            _ = try makeGateway(bad)
            Issue.record("an invalid budget configuration was accepted")
        } catch {
            let text = "\(error)"
            #expect(text.contains("unknown budget scope 'tean'") && text.contains("did you mean 'team'"))
            #expect(text.contains("unknown budget period 'fortnightly'"))
            #expect(text.contains("amount must be a non-negative"))
            #expect(text.contains("alerts[0] must be a fraction"))
        }
    }
}

extension RedisBackedTests {
    @Suite struct SharedBudgetTests {
        @Test func twoInstancesOnOneRedisDrawOnTheSameBudget() async throws {
            try await withRedisServer { url in
                let prefix = "budget-\(UInt32.random(in: 0...UInt32.max))"
                let yaml = UsageTests.config(
                    """
                    redis: {url: "\(url)", key_prefix: "\(prefix)"}
                    budgets: {rules: [{scope: global, amount: 0.5, period: daily, alerts: [0.5, 1.0]}]}
                    """)
                let (first, _) = try makeGateway(yaml)
                let (second, _) = try makeGateway(yaml)
                try await first.makeApplication().test(.live) { one in
                    try await second.makeApplication().test(.live) { two in
                        let body = chatBody(#","max_tokens":20"#, model: "chat")
                        async let a = LimitsTests.burst(port: try #require(one.port), count: 30, body: body)
                        async let b = LimitsTests.burst(port: try #require(two.port), count: 30, body: body)
                        let statuses = try await a + b
                        #expect(statuses.allSatisfy { $0 == 200 || $0 == 429 })
                        var spent = 0.0
                        for client in [one, two] {
                            spent += UsageTests.cost(try await UsageTests.get(client, "/admin/usage").json?["totals"])
                        }
                        #expect(spent <= 0.5 + 1e-9, "two instances together spent \(spent) of a 0.5 budget")
                        #expect(spent >= 0.25, "the shared budget, not the test, stopped them (spent \(spent))")
                        let seen = try await UsageTests.get(one, "/admin/spend").json?["budgets"]?.arrayValue?.first
                        #expect(abs((seen?["spent_usd"]?.doubleValue ?? 0) - spent) < 1e-6, "each instance sees the shared counter")
                    }
                }
            }
        }
    }
}

import Testing

@testable import SwitchyardCore

@Suite struct AccountingTests {
    @Test func pricesAreFoundByFamilyProviderPrefixAndSnapshot() throws {
        let table = PriceTable.builtIn(overriddenBy: ["my-model": ModelPrice(input: 1, output: 2), "gpt-4o": ModelPrice(input: 3, output: 4)])
        #expect(table.price(forModel: "gpt-4o")?.input == 3, "configuration overrides the built-in table")
        #expect(table.price(forModel: "gpt-4o-mini-2024-07-18")?.input == 0.15, "the longest family name wins")
        #expect(table.price(forModel: "gpt-4.1-2025-04-14")?.input == 2, "gpt-4 does not price gpt-4.1")
        #expect(table.price(forModel: "openai/GPT-5-mini")?.output == 2)
        #expect(table.price(forModel: "us.anthropic.claude-sonnet-4-5-20250929-v1:0")?.cacheWrite == 3.75)
        #expect(table.price(forModel: "models/gemini-2.5-flash")?.cachedInput == 0.03)
        #expect(table.price(forModel: "my-model")?.output == 2)
        #expect(table.price(forModel: "gpt-4o1") == nil, "a prefix must end at a separator")
        #expect(table.price(forModel: "llama-unknown") == nil)
    }

    @Test func costSplitsCachedCacheWriteAndReasoningTokens() {
        let price = ModelPrice(input: 3, output: 15, cachedInput: 0.3, cacheWrite: 3.75, reasoning: 20)
        let usage = TokenUsage(promptTokens: 1_000, completionTokens: 500, cachedPromptTokens: 400, reasoningTokens: 100, cacheWriteTokens: 200)
        // 400 plain input, 400 cached, 200 written; 400 output, 100 reasoning.
        let input: Double = 400 * 3 + 400 * 0.3 + 200 * 3.75
        let output: Double = 400 * 15 + 100 * 20
        let expected = (input + output) / 1_000_000
        #expect(abs(price.cost(of: usage) - expected) < 1e-12)
        let simple = ModelPrice(input: 1, output: 2)
        let plain = simple.cost(of: usage)
        #expect(abs(plain - 0.002) < 1e-12, "unpriced parts fall back to input and output")
        let nonsense = TokenUsage(promptTokens: 10, completionTokens: 5, cachedPromptTokens: 50, reasoningTokens: 90)
        #expect(simple.cost(of: nonsense) >= 0, "inconsistent provider counts never make a negative cost")
    }

    @Test func periodsAreCalendarAlignedInUTC() throws {
        let time = Double(try #require(CivilDate.parseUnixTime("2026-11-27T15:30:00Z")))
        let day = BudgetPeriod.daily.window(containing: time)
        #expect(day.id == "2026-11-27" && CivilDate.iso8601(day.start) == "2026-11-27T00:00:00Z" && day.end == day.start + 86_400)
        let week = BudgetPeriod.weekly.window(containing: time)
        #expect(week.id == "week-2026-11-23", "weeks start on Monday")
        let weekEnd = try #require(week.end)
        #expect(CivilDate.iso8601(weekEnd) == "2026-11-30T00:00:00Z")
        let newYearsEve = Double(try #require(CivilDate.parseUnixTime("2026-12-31T23:59:59Z")))
        let month = BudgetPeriod.monthly.window(containing: newYearsEve)
        let monthEnd = try #require(month.end)
        #expect(month.id == "2026-12" && CivilDate.iso8601(monthEnd) == "2027-01-01T00:00:00Z")
        #expect(BudgetPeriod.total.window(containing: time).end == nil)
        #expect(CivilDate.parseUnixTime("") == nil && CivilDate.parseUnixTime("2026-13-01") == nil)
    }

    @Test func budgetsReserveSettleAndRefuse() async throws {
        final class Sink: BudgetAlertSink, @unchecked Sendable {
            var alerts: [BudgetAlert] = []
            func budgetAlert(_ alert: BudgetAlert) { alerts.append(alert) }
        }
        let sink = Sink()
        let guardian = BudgetGuard(backend: MemoryBudgetBackend(), alerts: sink)
        var settings = BudgetSettings()
        settings.rules = [BudgetRule(scope: .team, limit: BudgetLimit(amount: 1, period: .total), alerts: [0.5])]
        var identity = Identity(kind: .virtualKey, subject: "k1", teamID: "t")
        identity.budget = BudgetLimit(amount: 10, period: .daily)
        let checks = BudgetGuard.checks(settings: settings, identity: identity, endUser: nil, reserveUSD: 0.4, now: 0)
        #expect(checks.map(\.scope) == [.key, .team])
        guard case .allowed(let first?) = await guardian.acquire(checks, failOpen: true) else { Issue.record("refused"); return }
        guard case .allowed(let second?) = await guardian.acquire(checks, failOpen: true) else { Issue.record("refused"); return }
        guard case .refused(let error, let blocked) = await guardian.acquire(checks, failOpen: true) else {
            Issue.record("a third reservation of 0.4 does not fit in 1.0 with 0.8 reserved")
            return
        }
        #expect(blocked?.scope == .team && error.type == "budget_exceeded" && error.status == 429)
        await guardian.settle(first, costUSD: 0.1)
        await guardian.settle(second, costUSD: 0.5)
        #expect(sink.alerts.map(\.threshold) == [0.5], "0.6 spent crosses 50%")
        let status = try await guardian.status(checks)
        #expect(status[1] == NanoUSD.from(0.6))
        #expect(BudgetGuard.formatUSD(12.345) == "$12.35" && BudgetGuard.formatUSD(0.00015) == "$0.000150")
    }
}

/// The request log detail a usage row carries: written field by field, it reads as the JSON a
/// tree of the same fields would serialise to, in that order, escapes and numbers included.
@Suite struct RequestLogDetailTests {
    @Test func everyFieldIsWrittenInOrderAsCompactJSON() throws {
        var record = RequestRecord(requestID: "r1", endpoint: .chatCompletions, identity: Identity(kind: .virtualKey, subject: "k1"))
        #expect(String(decoding: RequestLogEntry.detailJSON(record), as: UTF8.self) == #"{"dialect":"openai"}"#)
        record.dialect = .anthropic
        record.attempts = [
            AttemptRecord(group: "g", deployment: "d1", provider: "p\"1", outcome: "rate_limited", errorClass: .rateLimit, duration: .milliseconds(12)),
            AttemptRecord(group: "g", deployment: "d2", provider: "p2", outcome: "success", errorClass: nil, duration: .microseconds(2500)),
        ]
        record.fallbacks = ["g2", "g3"]
        record.rule = "eu"
        record.experiment = "ab"
        record.arm = "b"
        record.retryBudgetExhausted = true
        record.upstreamError = "boom\n"
        record.cacheSimilarity = 0.912345
        record.cacheLookup = .microseconds(1234)
        record.cacheVerificationRejected = true
        record.guardrails = [
            GuardrailDecision(name: "pii", direction: "input", action: "mask", entities: ["phone": 1, "email": 2]),
            GuardrailDecision(name: "inj", direction: "input", action: "block", score: 0.75),
        ]
        record.guardrailRoute = "onprem"
        record.accessDenied = AccessDenial(rule: nil, reason: "no \u{7}")
        record.stream = true
        record.chunks = 42
        record.traceID = "abc"
        let expected =
            #"{"dialect":"anthropic","attempts":[{"model_group":"g","deployment":"d1","provider":"p\"1","outcome":"rate_limited","duration_ms":12,"error_class":"rate_limit"},"#
            + #"{"model_group":"g","deployment":"d2","provider":"p2","outcome":"success","duration_ms":2.5}],"fallbacks":["g2","g3"],"routing_rule":"eu","#
            + #""experiment":"ab","experiment_arm":"b","retry_budget_exhausted":true,"upstream_error":"boom\n","cache_similarity":0.9123,"#
            + #""cache_lookup_ms":1.234,"cache_verification_rejected":true,"guardrail_decisions":[{"name":"pii","direction":"input","action":"mask","#
            + #""entities":{"email":2,"phone":1}},{"name":"inj","direction":"input","action":"block","score":0.75}],"guardrail_route":"onprem","#
            + #""access_denied":"no \u0007","chunks":42,"trace_id":"abc"}"#
        let written = String(decoding: RequestLogEntry.detailJSON(record), as: UTF8.self)
        #expect(written == expected)
        #expect(try JSONValue.parse(Array(written.utf8)).objectValue?.members.map(\.key).first == "dialect")
        let usage = UsageRecord(record, endedAt: 1, withDetail: true)
        #expect(usage.detail == expected)
    }

    /// The journal line: its fields in a fixed order (a journal written before an upgrade is
    /// replayed after it), absent optionals left out, and read back to the same record.
    @Test func theJournalLineKeepsItsFormatAndReadsBack() throws {
        var usage = UsageRecord(id: "r\"1", ts: 1.5, identityKind: "virtual_key", subject: "k", endpoint: "chat_completions", status: 200, outcome: "success")
        usage.promptTokens = 3
        usage.cost = 0.25
        usage.detail = #"{"a":1}"#
        let line = String(decoding: usage.journalLine, as: UTF8.self)
        let expected =
            #"{"id":"r\"1","ts":1.5,"identityKind":"virtual_key","subject":"k","endpoint":"chat_completions","status":200,"outcome":"success","#
            + #""stream":false,"promptTokens":3,"completionTokens":0,"cachedTokens":0,"cacheWriteTokens":0,"reasoningTokens":0,"durationMs":0.0,"#
            + #""attempts":0,"cost":0.25,"detail":"{\"a\":1}"}"# + "\n"
        #expect(line == expected)
        let read = try #require(UsageRecord(journalLine: ArraySlice(usage.journalLine.dropLast())))
        #expect(read.id == usage.id && read.cost == 0.25 && read.detail == usage.detail && read.promptTokens == 3)
    }
}

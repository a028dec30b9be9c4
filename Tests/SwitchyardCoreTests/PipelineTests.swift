import NIOCore
import Synchronization
import Testing

@testable import SwitchyardCore

/// The request pipeline without a socket: a fake provider adapter, a manual clock, and the
/// records the observers receive.
@Suite struct PipelineTests {
    /// A provider whose answer each test writes: a status and a list of body chunks, or a
    /// thrown error. It may also move the clock while "working".
    final class FakeAdapter: ProviderAdapter {
        struct Answer: Sendable {
            var status = 200
            var chunks: [String] = []
            var error: GatewayError?
        }

        let answer: Mutex<Answer>
        let clock: ManualClock
        let workTime: Duration
        private let sent = Mutex(0)

        init(_ answer: Answer, clock: ManualClock, workTime: Duration = .zero) {
            self.answer = Mutex(answer)
            self.clock = clock
            self.workTime = workTime
        }

        var providerName: String { "mock" }
        var forwardsCanonicalBody: Bool { true }
        var requests: Int { sent.withLock { $0 } }

        func send(_ request: UpstreamRequest) async throws -> UpstreamResponse {
            sent.withLock { $0 += 1 }
            clock.advance(workTime)
            let answer = self.answer.withLock { $0 }
            if let error = answer.error { throw error }
            return UpstreamResponse(
                status: answer.status, headers: [], body: ByteStream(buffers: answer.chunks.map { ByteBuffer(string: $0) }))
        }
    }

    final class Records: RequestObserver {
        private let list = Mutex<[RequestRecord]>([])
        var all: [RequestRecord] { list.withLock { $0 } }
        func requestFinished(_ record: RequestRecord) { list.withLock { $0.append(record) } }
    }

    struct Fixture {
        let gateway: Gateway
        let adapter: FakeAdapter
        let records: Records
        let clock: ManualClock
    }

    /// The embedded default's `mock-gpt` on the fake adapter, priced at $1 per 1,000 tokens.
    static func fixture(_ answer: FakeAdapter.Answer, workTime: Duration = .zero, configure: (inout GatewayConfig) -> Void = { _ in }) -> Fixture {
        var config = ConfigLoader(environment: [:], fileExists: { _ in false }).embeddedDefault()
        config.pricing["mock-gpt"] = ModelPrice(input: 1_000, output: 1_000)
        configure(&config)
        let clock = ManualClock()
        let adapter = FakeAdapter(answer, clock: clock, workTime: workTime)
        let runtime = RuntimeHolder(RuntimeSnapshot(config: config, adapters: ["mock": adapter], generation: 1))
        let records = Records()
        let gateway = Gateway(runtime: runtime, observer: records, router: RouterState(settings: config.router, clock: clock))
        return Fixture(gateway: gateway, adapter: adapter, records: records, clock: clock)
    }

    static func inbound(_ body: String, identity: Identity = Identity(kind: .virtualKey, subject: "key-1"), receivedAt: ContinuousClock.Instant)
        -> Gateway.Inbound
    {
        Gateway.Inbound(endpoint: .chatCompletions, body: ByteBuffer(string: body), identity: identity, requestID: "req-1", receivedAt: receivedAt)
    }

    static let chat = #"{"model":"mock-gpt","messages":[{"role":"user","content":"Tell me about the river that runs through the old town."}]}"#
    static let streamingChat =
        #"{"model":"mock-gpt","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Tell me about the river that runs through the old town."}]}"#

    static func chunk(_ text: String) -> String {
        #"data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"mock-gpt","choices":[{"index":0,"delta":{"content":"\#(text)"},"finish_reason":null}]}"#
            + "\n\n"
    }

    static func body(_ response: GatewayResponse) -> String {
        guard case .buffer(let buffer) = response.body else { return "" }
        return String(buffer: buffer)
    }

    @Test func durationsComeFromTheInjectedClock() async throws {
        let answer = #"{"id":"x","object":"chat.completion","created":1,"model":"mock-gpt","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":2,"total_tokens":12}}"#
        let fixture = Self.fixture(.init(chunks: [answer]), workTime: .seconds(7))
        let response = await fixture.gateway.handle(Self.inbound(Self.chat, receivedAt: fixture.clock.now))
        #expect(response.status == 200)
        let record = try #require(fixture.records.all.first)
        #expect(record.duration == .seconds(7), "the provider 'took' 7 s on the manual clock and nothing else moved it")
        #expect(record.upstreamDuration == .seconds(7))
        #expect(record.usage?.totalTokens == 12 && record.usageSource == .provider)
        #expect(abs((record.cost ?? 0) - 0.012) < 1e-9, "priced from the provider's usage at $1 per 1,000 tokens")
    }

    /// A key-scoped concurrency limit of one and a $1 budget, in process; every answer costs
    /// $0.012 (12 tokens at $1 per 1,000).
    static func settlementFixture() -> Fixture {
        let answer = #"{"id":"x","object":"chat.completion","created":1,"model":"mock-gpt","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":2,"total_tokens":12}}"#
        var limits = LimitValues()
        limits.concurrent = 1
        return fixture(.init(chunks: [answer])) { config in
            config.limits.rules = [LimitRule(scope: .key, values: limits)]
            config.budgets.rules = [BudgetRule(scope: .key, limit: BudgetLimit(amount: 1, period: .total))]
        }
    }

    /// With counters in this process, a finished request's limits and budget are settled when
    /// it ends, not by background work: the next request, sent at once, sees the real cost and
    /// a free concurrency slot (no `flush()` here).
    @Test func inProcessCountersAreSettledWhenTheRequestEnds() async throws {
        let fixture = Self.settlementFixture()
        for round in 1...3 {
            let response = await fixture.gateway.handle(Self.inbound(Self.chat, receivedAt: fixture.clock.now))
            #expect(response.status == 200, "round \(round): the slot of the request before was given back when it ended")
            let checks = try #require(fixture.records.all.last?.budgetLease?.checks)
            let spent = try await fixture.gateway.budgets.backend.current(checks.map(\.key))
            #expect(spent == [NanoUSD.from(0.012 * Double(round))], "round \(round): the real cost, not the reservation")
        }
    }

    /// Two keys alternating: each one's settlement charges and frees only its own counters.
    @Test func inProcessSettlementChargesOnlyTheRequestsOwnKey() async throws {
        let fixture = Self.settlementFixture()
        let keys = [Identity(kind: .virtualKey, subject: "key-a"), Identity(kind: .virtualKey, subject: "key-b")]
        var checks: [String: [BudgetCheck]] = [:]
        for round in 1...3 {
            for identity in keys {
                let response = await fixture.gateway.handle(Self.inbound(Self.chat, identity: identity, receivedAt: fixture.clock.now))
                #expect(response.status == 200, "round \(round), \(identity.subject)")
                checks[identity.subject] = fixture.records.all.last?.budgetLease?.checks
            }
            for identity in keys {
                let keyChecks = try #require(checks[identity.subject])
                let spent = try await fixture.gateway.budgets.backend.current(keyChecks.map(\.key))
                #expect(spent == [NanoUSD.from(0.012 * Double(round))], "round \(round): \(identity.subject) paid for its own requests only")
            }
        }
    }

    @Test func aFailedAttemptStillSettlesItsConcurrencySlot() async throws {
        var limits = LimitValues()
        limits.concurrent = 1
        let fixture = Self.fixture(.init(error: GatewayError.internalError("boom"))) { config in
            config.limits.rules = [LimitRule(scope: .key, values: limits)]
            config.router.retry.attempts = 0
        }
        for attempt in 1...3 {
            let response = await fixture.gateway.handle(Self.inbound(Self.chat, receivedAt: fixture.clock.now))
            #expect(response.status != 429, "attempt \(attempt): the slot of the failed request before was given back")
            await fixture.gateway.background.flush()
        }
        #expect(fixture.records.all.count == 3)
        #expect(fixture.records.all.allSatisfy { $0.outcome == .error && $0.limitLease != nil })
    }

    @Test func aStreamWithoutProviderUsageIsCountedByTheGatewayAndReportedToTheClient() async throws {
        let chunks = (0..<5).map { Self.chunk("word\($0) ") } + ["data: [DONE]\n\n"]
        let fixture = Self.fixture(.init(chunks: chunks))
        let response = await fixture.gateway.handle(Self.inbound(Self.streamingChat, receivedAt: fixture.clock.now))
        guard case .stream(let stream) = response.body else {
            Issue.record("expected a stream, got \(response.status)")
            return
        }
        let received = Mutex(ByteBuffer())
        await stream.run { buffer in
            var copy = buffer
            _ = received.withLock { $0.writeBuffer(&copy) }
        }
        let text = received.withLock { String(buffer: $0) }
        let usageLine = try #require(text.split(separator: "\n").first { $0.contains(#""usage":{"#) })
        #expect(usageLine.contains(#""choices":[]"#), "a usage-only chunk, as OpenAI sends it")
        #expect(text.hasSuffix("data: [DONE]\n\n"))
        let record = try #require(fixture.records.all.first)
        #expect(record.outcome == .success && record.usageSource == .gateway)
        let usage = try #require(record.usage)
        #expect(usage.promptTokens > 10 && usage.completionTokens >= 5, "prompt and streamed text counted: \(usage)")
        #expect((record.cost ?? 0) > 0)
    }

    @Test func aStreamTheClientAbandonsIsBilledForThePromptAndWhatWasForwarded() async throws {
        let chunks = (0..<20).map { Self.chunk("token\($0) and more text ") } + ["data: [DONE]\n\n"]
        let fixture = Self.fixture(.init(chunks: chunks)) { config in
            config.budgets.rules = [BudgetRule(scope: .key, limit: BudgetLimit(amount: 1, period: .total))]
        }
        let response = await fixture.gateway.handle(Self.inbound(Self.streamingChat, receivedAt: fixture.clock.now))
        guard case .stream(let stream) = response.body else {
            Issue.record("expected a stream, got \(response.status)")
            return
        }
        struct Gone: Error {}
        let writes = Mutex(0)
        // The client takes two writes, then its connection fails.
        await stream.run { _ in
            let count = writes.withLock { value -> Int in
                value += 1
                return value
            }
            if count > 2 { throw Gone() }
        }
        await fixture.gateway.background.flush()
        let record = try #require(fixture.records.all.first)
        #expect(record.outcome == .clientDisconnected && record.status == 499)
        let usage = try #require(record.usage, "an abandoned stream is never billed as nothing")
        #expect(usage.promptTokens > 10 && usage.completionTokens > 0)
        #expect(record.usageSource == .gateway)
        #expect((record.cost ?? 0) > 0)
    }

    @Test func aStreamNobodyRunsIsSettledWhenItIsDropped() async throws {
        let chunks = (0..<3).map { Self.chunk("part\($0) ") } + ["data: [DONE]\n\n"]
        let fixture = Self.fixture(.init(chunks: chunks))
        do {
            let response = await fixture.gateway.handle(Self.inbound(Self.streamingChat, receivedAt: fixture.clock.now))
            guard case .stream = response.body else {
                Issue.record("expected a stream")
                return
            }
            #expect(fixture.records.all.isEmpty, "not over while the stream may still be written")
        }
        // The response (and its stream) are gone: the request ended as abandoned, billed.
        let record = try #require(fixture.records.all.first)
        #expect(record.outcome == .clientDisconnected)
        #expect((record.usage?.promptTokens ?? 0) > 0 && record.usageSource == .gateway)
    }

    @Test func abandonedStreamsCannotSpendPastTheBudget() async throws {
        // $1 per 1,000 tokens; a budget of $0.20 is about 200 tokens: each abandoned stream
        // costs its prompt and what was forwarded, so the budget runs out after a few.
        let chunks = (0..<50).map { Self.chunk("several words of answer text \($0)") } + ["data: [DONE]\n\n"]
        let fixture = Self.fixture(.init(chunks: chunks)) { config in
            config.budgets.rules = [BudgetRule(scope: .key, limit: BudgetLimit(amount: 0.2, period: .total))]
        }
        var refused = 0
        var spent = 0.0
        for _ in 0..<40 {
            let response = await fixture.gateway.handle(Self.inbound(Self.streamingChat, receivedAt: fixture.clock.now))
            if case .stream(let stream) = response.body {
                struct Gone: Error {}
                await stream.run { _ in throw Gone() }
            } else {
                refused += 1
            }
            await fixture.gateway.background.flush()
        }
        for record in fixture.records.all where record.outcome == .clientDisconnected { spent += record.cost ?? 0 }
        #expect(refused > 0, "hanging up does not make requests free")
        let largest = fixture.records.all.compactMap(\.cost).max() ?? 0
        #expect(spent <= 0.2 + largest + 1e-9, "spent \(spent): at most the budget plus one request")
    }
}

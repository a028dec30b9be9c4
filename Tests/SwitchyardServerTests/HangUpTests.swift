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

/// Clients that hang up in the middle of a stream, over real sockets: what was forwarded is
/// billed, so hanging up repeatedly can neither spend past a budget nor dodge a token limit.
@Suite struct HangUpTests {
    /// A slow stream (60 chunks, 20 ms apart) on a model priced $1000 / $2000 per million tokens.
    static func config(_ extra: String) -> String {
        """
        server: {port: 0, master_key: test-master-key, reload_check_interval: off}
        providers:
          - {name: p, type: mock, options: {chunks: "60", chunk_delay_ms: "20"}}
        models:
          - name: chat
            deployments: [{provider: p, model: m, price: {input: 1000, output: 2000}}]
        \(extra)
        """
    }

    static let body = ByteBuffer(
        string: #"{"model":"chat","stream":true,"max_tokens":20,"messages":[{"role":"user","content":"Tell me a long story about a lighthouse keeper."}]}"#
    )

    /// Starts a streamed chat, waits for its first bytes, then drops the connection. Returns the
    /// HTTP status (a refusal arrives before any stream).
    static func hangUpAfterFirstBytes(port: Int) async throws -> Int {
        let (firstBytes, signal) = AsyncStream.makeStream(of: Int.self)
        let task = Task {
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/chat/completions")
            request.method = .POST
            request.headers.add(name: "authorization", value: "Bearer test-master-key")
            request.headers.add(name: "content-type", value: "application/json")
            request.body = .bytes(body)
            let response = try await testHTTPClient.execute(request, timeout: .seconds(30))
            guard response.status == .ok else {
                signal.yield(Int(response.status.code))
                _ = try await response.body.collect(upTo: 1 << 20)
                return
            }
            var iterator = response.body.makeAsyncIterator()
            _ = try await iterator.next()
            signal.yield(200)
            // Keep the connection open without reading until cancelled.
            try await Task.sleep(for: .seconds(60))
        }
        var status = 0
        for await value in firstBytes {
            status = value
            break
        }
        task.cancel()
        _ = await task.result
        return status
    }

    func withGateway(_ extra: String, _ test: @escaping @Sendable (Int, any TestClientProtocol, SwitchyardApplication) async throws -> Void)
        async throws
    {
        let (application, _) = try makeGateway(Self.config(extra))
        try await application.makeApplication().test(.live) { client in
            try await test(try #require(client.port), client, application)
        }
    }

    /// Every request has ended (stream finished or abandoned) and been settled.
    static func settled(_ application: SwitchyardApplication, client: any TestClientProtocol, requests: Int) async throws -> [JSONValue] {
        var rows: [JSONValue] = []
        // A hang-up ends its request when the gateway's next write fails: wait for that event
        // (the timeout only bounds a failure).
        _ = try await eventually {
            await application.gateway.background.flush()
            let logs = try await client.execute(uri: "/admin/logs?limit=100", method: .get, headers: authorized)
            rows = logs.json?["data"]?.arrayValue ?? []
            return rows.count >= requests
        }
        await application.gateway.background.flush()
        return rows
    }

    @Test func repeatedHangUpsCannotSpendPastTheBudget() async throws {
        try await withGateway("budgets: {rules: [{scope: global, amount: 0.2, period: total}]}") { port, client, application in
            var refused = false
            var sent = 0
            for _ in 0..<60 where !refused {
                let status = try await Self.hangUpAfterFirstBytes(port: port)
                sent += 1
                refused = status == 429
                if !refused { #expect(status == 200) }
            }
            #expect(refused, "hanging up must not make streams free: the budget runs out")
            let rows = try await Self.settled(application, client: client, requests: sent)
            let abandoned = rows.filter { $0["outcome"]?.stringValue == "client_disconnected" }
            #expect(!abandoned.isEmpty)
            for row in abandoned {
                #expect((row["prompt_tokens"]?.intValue ?? 0) > 0 && (row["completion_tokens"]?.intValue ?? 0) > 0, "\(row)")
                #expect(row["usage_source"]?.stringValue == "gateway")
            }
            let costs = abandoned.map { $0["cost_usd"]?.doubleValue ?? 0 }
            let spent = costs.reduce(0, +)
            #expect(spent <= 0.2 + (costs.max() ?? 0) + 1e-9, "spent \(spent): the budget plus at most one request")
        }
    }

    @Test func repeatedHangUpsCannotDodgeATokenLimit() async throws {
        try await withGateway("limits: {rules: [{scope: key, tokens_per_minute: 150}]}") { port, client, application in
            var refused = false
            var sent = 0
            for _ in 0..<40 where !refused {
                let status = try await Self.hangUpAfterFirstBytes(port: port)
                sent += 1
                refused = status == 429
                await application.gateway.background.flush()
            }
            #expect(refused, "what was forwarded counts against the token limit")
            #expect(sent < 40)
        }
    }
}

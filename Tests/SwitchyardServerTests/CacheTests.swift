import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SwitchyardCore
import SwitchyardServer
import SwitchyardStores
import SwitchyardTesting
import Testing

/// The exact response cache through HTTP: what changes the key, tenant isolation, streaming
/// replay, policies, invalidation and accounting.
@Suite struct CacheTests {
    static func config(_ cache: String = "cache: {ttl: 1h}") -> String {
        """
        server: {port: 0, master_key: test-master-key, reload_check_interval: off}
        providers:
          - {name: p, type: mock}
        models:
          - name: chat
            deployments: [{provider: p, model: m, price: {input: 1000, output: 2000}}]
          - {name: other, provider: p, model: o}
        \(cache)
        """
    }

    func withCache(
        _ cache: String = "cache: {ttl: 1h}", _ test: @escaping @Sendable (any TestClientProtocol, SwitchyardApplication) async throws -> Void
    )
        async throws
    {
        let (application, _) = try makeGateway(Self.config(cache))
        try await application.makeApplication().test(.live) { client in try await test(client, application) }
    }

    static func upstream(_ app: SwitchyardApplication) -> Int {
        (app.runtime.snapshot.adapters["p"] as? MockProviderAdapter)?.mock.stats.requests ?? 0
    }

    static func send(_ client: any TestClientProtocol, _ body: String, key: String = "test-master-key", headers extra: HTTPFields = [:]) async throws
        -> TestResponse
    {
        var headers: HTTPFields = [.authorization: "Bearer \(key)", .contentType: "application/json"]
        headers.append(contentsOf: extra)
        return try await client.execute(uri: "/v1/chat/completions", method: .post, headers: headers, body: ByteBuffer(string: body))
    }

    static func cacheHeader(_ response: TestResponse) -> String? { response.headers[HTTPField.Name("x-switchyard-cache")!] }

    /// How many keys of the Redis server at `url` match `pattern`.
    static func redisKeys(_ url: String, _ pattern: String) async throws -> Int {
        let client = try RedisClient(url: url)
        let reply = await Result { try await client.send("KEYS", pattern) }
        await client.close()
        return try reply.get().array?.count ?? 0
    }

    @Test func rulesOverrideThePolicyPerModelAndTeam() async throws {
        let cache = """
            cache:
              ttl: 1h
              rules:
                - {models: [other], enabled: false}
                - {teams: [readers], mode: read_only}
            """
        try await withCache(cache) { client, app in
            let body = #"{"model":"chat","messages":[{"role":"user","content":"capital of Peru?"}]}"#
            #expect(Self.cacheHeader(try await Self.send(client, body)) == "miss")
            #expect(Self.cacheHeader(try await Self.send(client, body)) == "hit")
            let other = #"{"model":"other","messages":[{"role":"user","content":"capital of Peru?"}]}"#
            let first = try await Self.send(client, other)
            let second = try await Self.send(client, other)
            #expect(Self.cacheHeader(first) == nil && Self.cacheHeader(second) == nil, "caching is off for this model")
            #expect(Self.upstream(app) == 3)
            let created = try await client.execute(
                uri: "/admin/keys", method: .post, headers: authorized, body: ByteBuffer(string: #"{"name":"r","team_id":"readers"}"#))
            let key = try #require(created.json?["key"]?.stringValue)
            let readerFirst = try await Self.send(client, body, key: key)
            let readerSecond = try await Self.send(client, body, key: key)
            #expect(Self.cacheHeader(readerFirst) == "miss" && Self.cacheHeader(readerSecond) == "miss", "read_only never stores")
            #expect(Self.upstream(app) == 5)
        }
    }

    @Test func aCacheHitIsJudgedByTheOutputGuardrailsInForceNow() async throws {
        let (application, path) = try makeGateway(Self.config())
        try await application.makeApplication().test(.live) { client in
            func ask() async throws -> TestResponse {
                try await client.execute(
                    uri: "/v1/chat/completions", method: .post, headers: authorized, body: chatBody(model: "chat", content: "tell me about turtles"))
            }
            let first = try await ask()
            #expect(first.json?["choices"]?.arrayValue?.first?["message"]?["content"]?.stringValue?.contains("turtles") == true)
            await application.gateway.background.flush()
            // The operator adds an output guardrail after the answer was cached.
            let guarded = Self.config() + "\nguardrails:\n  - {name: no-turtles, detector: words, words: [turtles], direction: output, action: mask}\n"
            try guarded.write(toFile: path, atomically: true, encoding: .utf8)
            #expect(application.reload(reason: "test"))
            let second = try await ask()
            #expect(Self.cacheHeader(second) == "hit")
            let content = second.json?["choices"]?.arrayValue?.first?["message"]?["content"]?.stringValue ?? ""
            #expect(!content.isEmpty && !content.contains("turtles"), "the hit went through the output guardrail: \(content)")
            #expect(second.headers[HTTPField.Name("x-switchyard-guardrails")!]?.contains("no-turtles") == true)
        }
    }

    @Test func identicalRequestsHitAndEveryAnswerChangingParameterMisses() async throws {
        try await withCache { client, app in
            let base = #"{"model":"chat","temperature":0.2,"messages":[{"role":"user","content":"capital of France?"}]}"#
            let first = try await Self.send(client, base)
            #expect(Self.cacheHeader(first) == "miss")
            let second = try await Self.send(
                client, #"{"messages":[{"content":"capital of France?","role":"user"}],"temperature":0.2,"model":"chat"}"#)
            #expect(Self.cacheHeader(second) == "hit", "member order does not change the key")
            #expect(second.body == first.body, "the same bytes come back")
            #expect(Self.upstream(app) == 1)
            let ignored = try await Self.send(
                client, #"{"model":"chat","temperature":0.2,"user":"u1","messages":[{"role":"user","content":"capital of France?"}]}"#)
            #expect(Self.cacheHeader(ignored) == "hit", "`user` is in the ignore list")

            let variants = [
                #"{"model":"chat","temperature":0.3,"messages":[{"role":"user","content":"capital of France?"}]}"#,
                #"{"model":"chat","temperature":0.2,"messages":[{"role":"user","content":"capital of Spain?"}]}"#,
                #"{"model":"chat","temperature":0.2,"max_tokens":5,"messages":[{"role":"user","content":"capital of France?"}]}"#,
                #"{"model":"other","temperature":0.2,"messages":[{"role":"user","content":"capital of France?"}]}"#,
                #"{"model":"chat","temperature":0.2,"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"capital of France?"}]}"#,
                #"{"model":"chat","temperature":0.2,"tools":[{"type":"function","function":{"name":"f","parameters":{}}}],"messages":[{"role":"user","content":"capital of France?"}]}"#,
                #"{"model":"chat","temperature":0.2,"response_format":{"type":"json_object"},"messages":[{"role":"user","content":"capital of France?"}]}"#,
            ]
            for variant in variants {
                let response = try await Self.send(client, variant)
                #expect(Self.cacheHeader(response) == "miss", "\(variant) must not share an entry")
            }
            #expect(Self.upstream(app) == 1 + variants.count)

            let noCache = try await Self.send(client, base, headers: [.cacheControl: "no-cache"])
            #expect(Self.cacheHeader(noCache) == "bypass")
            let namespaced = try await Self.send(client, base, headers: [HTTPField.Name("x-switchyard-cache-namespace")!: "eval-run-7"])
            #expect(Self.cacheHeader(namespaced) == "miss", "a namespace is a separate cache")

            let usage = try await client.execute(uri: "/admin/usage?group_by=model", method: .get, headers: authorized)
            let rows = usage.json?["data"]?.arrayValue ?? []
            let chatCost = rows.first { $0["model"]?.stringValue == "chat" }?["cost_usd"]?.doubleValue ?? 0
            #expect(chatCost > 0)
            let metrics = try await client.execute(uri: "/metrics", method: .get)
            #expect(metrics.text.contains(#"switchyard_cache_requests_total{type="exact",result="hit"} 2"#))
            #expect(metrics.text.contains("switchyard_cache_saved_usd_total"))
        }
    }

    @Test func oneTenantNeverReceivesAnothersAnswer() async throws {
        try await withCache { client, app in
            func key(_ name: String) async throws -> String {
                let created = try await client.execute(
                    uri: "/admin/keys", method: .post, headers: authorized, body: ByteBuffer(string: #"{"name":"\#(name)"}"#))
                return try #require(created.json?["key"]?.stringValue)
            }
            let (a, b) = (try await key("a"), try await key("b"))
            let body = #"{"model":"chat","messages":[{"role":"user","content":"my secret plan"}]}"#
            #expect(Self.cacheHeader(try await Self.send(client, body, key: a)) == "miss")
            #expect(Self.cacheHeader(try await Self.send(client, body, key: a)) == "hit")
            let other = try await Self.send(client, body, key: b)
            #expect(Self.cacheHeader(other) == "miss", "key B never gets key A's cached answer")
            #expect(Self.upstream(app) == 2)
        }
    }

    @Test func streamsAreStoredWholeAndReplayedWithTheirEventsAndUsage() async throws {
        try await withCache { client, app in
            let body =
                #"{"model":"chat","stream":true,"stream_options":{"include_usage":true},"mock":{"chunks":6},"messages":[{"role":"user","content":"count to six"}]}"#
            let original = try await Self.send(client, body)
            #expect(Self.cacheHeader(original) == "miss")
            let replay = try await Self.send(client, body)
            #expect(Self.cacheHeader(replay) == "hit")
            #expect(replay.headers[.contentType] == "text/event-stream")
            #expect(sseData(replay.text) == sseData(original.text), "the same events, usage chunk included")
            #expect(sseData(replay.text).last == "[DONE]")
            #expect(replay.text.contains(#""usage":{"#))
            #expect(Self.upstream(app) == 1)
            let plain = try await Self.send(client, #"{"model":"chat","messages":[{"role":"user","content":"count to six"}]}"#)
            #expect(Self.cacheHeader(plain) == "miss", "a stream and a complete answer are separate entries")

            // A stream that fails midway is never stored.
            let broken = #"{"model":"chat","stream":true,"mock":{"error_after":2},"messages":[{"role":"user","content":"fail me"}]}"#
            _ = try await Self.send(client, broken)
            let again = try await Self.send(client, broken)
            #expect(Self.cacheHeader(again) == "miss")
        }
    }

    @Test func policiesAndInvalidation() async throws {
        try await withCache("cache: {ttl: 1h, max_temperature: 0.5, models: [chat], count_hits_for_limits: false}") { client, app in
            let hot = #"{"model":"chat","temperature":0.9,"messages":[{"role":"user","content":"poem"}]}"#
            #expect(Self.cacheHeader(try await Self.send(client, hot)) == "bypass", "too hot to cache")
            let otherModel = #"{"model":"other","messages":[{"role":"user","content":"poem"}]}"#
            #expect(Self.cacheHeader(try await Self.send(client, otherModel)) == "bypass", "only listed models")
            let cool = #"{"model":"chat","temperature":0,"messages":[{"role":"user","content":"poem"}]}"#
            _ = try await Self.send(client, cool)
            #expect(Self.cacheHeader(try await Self.send(client, cool)) == "hit")
            let noStore = #"{"model":"chat","temperature":0,"messages":[{"role":"user","content":"private"}]}"#
            _ = try await Self.send(client, noStore, headers: [.cacheControl: "no-store"])
            #expect(Self.cacheHeader(try await Self.send(client, noStore)) == "miss", "no-store wrote nothing")

            let cleared = try await client.execute(uri: "/admin/cache?model=chat", method: .delete, headers: authorized)
            #expect(cleared.json?["deleted"]?.intValue ?? 0 >= 2)
            #expect(Self.cacheHeader(try await Self.send(client, cool)) == "miss", "invalidated")
        }
    }

    @Test func readOnlyAndWriteOnlyModes() async throws {
        let body = #"{"model":"chat","messages":[{"role":"user","content":"modes"}]}"#
        try await withCache("cache: {mode: write_only}") { client, app in
            _ = try await Self.send(client, body)
            #expect(Self.cacheHeader(try await Self.send(client, body)) == "miss", "write-only never answers from the cache")
            #expect(Self.upstream(app) == 2)
            let metrics = try await client.execute(uri: "/metrics", method: .get)
            #expect(!metrics.text.contains("switchyard_cache_lookup_duration_seconds_count"), "no lookups were made")
        }
        try await withCache("cache: {mode: read_only}") { client, app in
            _ = try await Self.send(client, body)
            #expect(Self.cacheHeader(try await Self.send(client, body)) == "miss", "read-only never stores")
            let metrics = try await client.execute(uri: "/metrics", method: .get)
            #expect(metrics.text.contains(#"switchyard_cache_lookup_duration_seconds_count{semantic="false"} 2"#))
        }
    }

    @Test func theMemoryCacheStaysWithinItsBytes() async throws {
        let cache = MemoryCacheBackend(maxBytes: 4_000)
        for index in 0..<20 {
            let key = CacheKey(digest: "d\(index)", partition: "p", namespace: "", model: "m")
            try await cache.set(
                key, CachedResponse(stream: false, body: Array(repeating: 1, count: 500), usage: nil, savedCost: nil, model: nil, createdAt: 0),
                ttl: .seconds(60))
            if index == 10 { _ = try await cache.get(CacheKey(digest: "d5", partition: "p", namespace: "", model: "m")) }
        }
        #expect(cache.bytes <= 4_000)
        #expect(try await cache.get(CacheKey(digest: "d19", partition: "p", namespace: "", model: "m")) != nil, "the newest stays")
        #expect(try await cache.get(CacheKey(digest: "d0", partition: "p", namespace: "", model: "m")) == nil, "the oldest went first")
    }
}

extension RedisBackedTests {
    @Suite struct SharedCacheTests {
        @Test func twoInstancesOnOneRedisShareTheCache() async throws {
            try await withRedisServer { url in
                let prefix = "cache-\(UInt32.random(in: 0...UInt32.max))"
                // A busy machine can hold a command past the default 500 ms, and a cache write that
                // times out is dropped (the cache is best-effort): the test waits for the writes.
                let yaml = CacheTests.config(
                    """
                    redis: {url: "\(url)", key_prefix: "\(prefix)", command_timeout: 20s}
                    cache: {backend: redis, ttl: 1h}
                    """)
                let (first, _) = try makeGateway(yaml)
                let (second, _) = try makeGateway(yaml)
                try await first.makeApplication().test(.live) { one in
                    try await second.makeApplication().test(.live) { two in
                        let plain = #"{"model":"chat","messages":[{"role":"user","content":"shared question"}]}"#
                        let stream = #"{"model":"chat","stream":true,"messages":[{"role":"user","content":"shared question"}]}"#
                        let original = try await CacheTests.send(one, plain)
                        #expect(CacheTests.cacheHeader(original) == "miss")
                        let originalStream = try await CacheTests.send(one, stream)
                        // Both answers are stored in the background after they were sent.
                        #expect(try await eventually { try await CacheTests.redisKeys(url, "\(prefix):cache:*") == 2 })
                        let fromOther = try await CacheTests.send(two, plain)
                        #expect(CacheTests.cacheHeader(fromOther) == "hit", "the second instance answers from the shared cache")
                        #expect(fromOther.body == original.body)
                        let streamFromOther = try await CacheTests.send(two, stream)
                        #expect(CacheTests.cacheHeader(streamFromOther) == "hit")
                        #expect(sseData(streamFromOther.text) == sseData(originalStream.text))
                        #expect(CacheTests.upstream(first) == 2 && CacheTests.upstream(second) == 0)
                        let cleared = try await two.execute(uri: "/admin/cache?model=chat", method: .delete, headers: authorized)
                        #expect(cleared.json?["deleted"]?.intValue == 2)
                        #expect(CacheTests.cacheHeader(try await CacheTests.send(one, plain)) == "miss")
                    }
                }
            }
        }

        @Test func theCacheWorksOverTLSWithAPrivateCA() async throws {
            let authority = try await TestCertificateAuthority.make()
            try await withRedisServer(tls: authority) { url in
                let prefix = "tls-\(UInt32.random(in: 0...UInt32.max))"
                let yaml = CacheTests.config(
                    """
                    redis: {url: "\(url)", ca_file: "\(authority.caCertificate)", key_prefix: "\(prefix)"}
                    cache: {backend: redis, ttl: 1h}
                    """)
                let (gateway, _) = try makeGateway(yaml)
                try await gateway.makeApplication().test(.live) { client in
                    let plain = #"{"model":"chat","messages":[{"role":"user","content":"over tls"}]}"#
                    #expect(CacheTests.cacheHeader(try await CacheTests.send(client, plain)) == "miss")
                    let probe = try RedisClient(url: url, caFile: authority.caCertificate)
                    #expect(
                        try await eventually {
                            let keys = try await probe.send("KEYS", "\(prefix):cache:*")
                            return (keys.array?.count ?? 0) == 1
                        })
                    await probe.close()
                    #expect(CacheTests.cacheHeader(try await CacheTests.send(client, plain)) == "hit")
                }
            }
        }

        @Test func twoInstancesShareTheSemanticIndexThroughRedis() async throws {
            try await withRedisServer { url in
                let prefix = "semantic-\(UInt32.random(in: 0...UInt32.max))"
                let yaml = SemanticCacheTests.yaml.replacingOccurrences(
                    of: "cache:\n  ttl: 1h", with: "redis: {url: \"\(url)\", key_prefix: \"\(prefix)\"}\ncache:\n  backend: redis\n  ttl: 1h")
                let (first, _) = try makeGateway(yaml)
                let (second, _) = try makeGateway(yaml)
                try await first.makeApplication().test(.live) { one in
                    try await second.makeApplication().test(.live) { two in
                        let original = try await SemanticCacheTests.ask(one, "What is the capital city of France today?")
                        #expect(CacheTests.cacheHeader(original) == "miss")
                        // The answer and its semantic entry are stored in the background after it was sent.
                        let stored = try await eventually {
                            let semantic = try await CacheTests.redisKeys(url, "\(prefix):semantic:*")
                            let entries = try await CacheTests.redisKeys(url, "\(prefix):cache:*")
                            return semantic == 1 && entries >= 2
                        }
                        #expect(stored, "the answer, the question's embedding and the semantic entry")
                        let close = try await SemanticCacheTests.ask(two, "what is the capital city of france today")
                        #expect(CacheTests.cacheHeader(close)?.hasPrefix("semantic-hit") == true, "the other instance's entry answers")
                        #expect(close.body == original.body)
                        #expect(second.gateway.semanticIndex.count == 0, "found in Redis, not in its own memory")
                    }
                }
            }
        }
    }
}

/// Near-duplicate questions answered from the cache, with the mock's bag-of-words embeddings.
@Suite struct SemanticCacheTests {
    static let yaml = """
        server: {port: 0, master_key: test-master-key, reload_check_interval: off}
        providers:
          - {name: p, type: mock, options: {embedding_mode: words, embedding_dimensions: 256}}
        models:
          - {name: chat, provider: p, model: m}
          - {name: embeddings, provider: p, model: mock-embedding}
        cache:
          ttl: 1h
          semantic: {model: embeddings, threshold: 0.9, min_prompt_length: 10}
        """

    static func ask(_ client: any TestClientProtocol, _ question: String, system: String? = nil, key: String = "test-master-key") async throws
        -> TestResponse
    {
        let systemMessage = system.map { #"{"role":"system","content":"\#($0)"},"# } ?? ""
        return try await CacheTests.send(
            client, #"{"model":"chat","messages":[\#(systemMessage){"role":"user","content":"\#(question)"}]}"#, key: key)
    }

    @Test func sqliteBackendKeepsExactAndSemanticEntriesAcrossRestarts() async throws {
        let path = try writeConfig(Self.yaml.replacingOccurrences(of: "  ttl: 1h\n", with: "  ttl: 1h\n  backend: sqlite\n"))
        func start() throws -> SwitchyardApplication {
            try SwitchyardApplication(source: .file(path), registry: adapterRegistry(), logger: quietLogger)
        }
        let question = "What is the capital city of France today?"
        let first = try start()
        try await first.makeApplication().test(.live) { client in
            let miss = try await Self.ask(client, question)
            let hit = try await Self.ask(client, question)
            #expect(CacheTests.cacheHeader(miss) == "miss" && CacheTests.cacheHeader(hit) == "hit")
        }
        let stored = try SQLiteCacheBackend(path: first.stores.cachePath, maxBytes: 1 << 20)
        var saved = 0
        _ = try await eventually {
            saved = try await stored.loadSemanticEntries(limit: 10).count
            return saved > 0
        }
        #expect(saved == 1, "the semantic entry is in the file")
        let second = try start()
        try await second.makeApplication().test(.live) { client in
            let chats = { (second.runtime.snapshot.adapters["p"] as? MockProviderAdapter)?.mock.stats.requests ?? 0 }
            #expect(CacheTests.cacheHeader(try await Self.ask(client, question)) == "hit", "the exact entry survived the restart")
            #expect(await eventually { second.gateway.semanticIndex.count == 1 })
            let close = try await Self.ask(client, "what is the capital city of france today")
            #expect(CacheTests.cacheHeader(close)?.hasPrefix("semantic-hit") == true, "the semantic index survived too")
            #expect(chats() == 1, "only the embedding of the new question reached the provider")
            let deleted = try await client.execute(uri: "/admin/cache", method: .delete, headers: authorized)
            #expect(deleted.json?["deleted"]?.intValue == 3, "the answer and the two embeddings (embeddings are cached too)")
            #expect(CacheTests.cacheHeader(try await Self.ask(client, question)) == "miss")
        }
    }

    @Test func sqliteBackendStaysWithinItsSizeAndExpiresEntries() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("cache-\(UUID().uuidString)/c.sqlite").path
        let backend = try SQLiteCacheBackend(path: path, maxBytes: 4000)
        func key(_ index: Int) -> CacheKey { CacheKey(digest: "d\(index)", partition: "p", namespace: "", model: "m") }
        let entry = CachedResponse(stream: false, body: Array(repeating: 65, count: 200), usage: nil, savedCost: nil, model: "m", createdAt: 0)
        for index in 0..<130 {
            var value = entry
            value.createdAt = Double(index)
            try await backend.set(key(index), value, ttl: .seconds(3600))
        }
        // Trimmed every 64 stores: at most 4000 bytes right after a trim, plus what came since.
        #expect(try await backend.count() <= 4000 / entry.size + 2)
        #expect(try await backend.get(key(129))?.body == entry.body, "the newest entry stays")
        #expect(try await backend.get(key(0)) == nil, "the oldest went first")
        try await backend.set(key(500), entry, ttl: .milliseconds(1))
        try await Task.sleep(for: .milliseconds(20))
        #expect(try await backend.get(key(500)) == nil, "expired")
        #expect(try await backend.invalidate(partition: "p", namespace: nil, model: "m", olderThan: nil) > 0)
        #expect(try await backend.count() == 0)
    }

    @Test func aVerificationModelMustConfirmEverySemanticHit() async throws {
        for (verdict, expected) in [("NO", "miss"), ("YES", "semantic-hit")] {
            let yaml = Self.yaml
                .replacingOccurrences(
                    of: "  - {name: embeddings, provider: p, model: mock-embedding}",
                    with: "  - {name: embeddings, provider: p, model: mock-embedding}\n  - {name: judge, provider: j, model: jm}"
                )
                .replacingOccurrences(of: "providers:\n", with: "providers:\n  - {name: j, type: mock, options: {content: \(verdict)}}\n")
                .replacingOccurrences(of: "min_prompt_length: 10}", with: "min_prompt_length: 10, verify: {model: judge}}")
            let (application, _) = try makeGateway(yaml)
            try await application.makeApplication().test(.live) { client in
                let judge = (application.runtime.snapshot.adapters["j"] as! MockProviderAdapter).mock
                _ = try await Self.ask(client, "What is the capital city of France today?")
                let close = try await Self.ask(client, "what is the capital city of france today")
                #expect(CacheTests.cacheHeader(close)?.hasPrefix(expected) == true, "\(verdict): \(CacheTests.cacheHeader(close) ?? "-")")
                #expect(judge.stats.requests == 1)
                let asked = judge.stats.lastBodyJSON?["messages"]?.arrayValue?.last?["content"]?.stringValue ?? ""
                #expect(asked.contains("what is the capital city of france today") && asked.contains("This is a mock response to:"))
            }
        }
    }

    @Test func nearIdenticalQuestionsHitAboveTheThresholdAndOthersMiss() async throws {
        let (application, _) = try makeGateway(Self.yaml)
        try await application.makeApplication().test(.live) { client in
            let chats = { (application.runtime.snapshot.adapters["p"] as? MockProviderAdapter)?.mock.stats.requests ?? 0 }
            let original = try await Self.ask(client, "What is the capital city of France today?")
            #expect(CacheTests.cacheHeader(original) == "miss")
            let close = try await Self.ask(client, "what is the capital city of france today")
            let header = try #require(CacheTests.cacheHeader(close))
            #expect(header.hasPrefix("semantic-hit; similarity="), "\(header)")
            let similarity = Double(header.split(separator: "=").last ?? "") ?? 0
            #expect(similarity >= 0.9)
            #expect(close.body == original.body, "the cached answer")
            let different = try await Self.ask(client, "How many legs does a spider have in total?")
            #expect(CacheTests.cacheHeader(different) == "miss", "below the threshold")
            let otherSystem = try await Self.ask(client, "what is the capital city of france today", system: "Answer in German.")
            #expect(CacheTests.cacheHeader(otherSystem) == "miss", "a different system prompt is a different conversation")
            let created = try await client.execute(
                uri: "/admin/keys", method: .post, headers: authorized, body: ByteBuffer(string: #"{"name":"other-tenant"}"#))
            let otherKey = try #require(created.json?["key"]?.stringValue)
            let otherTenant = try await Self.ask(client, "what is the capital city of france today", key: otherKey)
            #expect(CacheTests.cacheHeader(otherTenant) == "miss", "another tenant never gets a semantic hit on someone else's answer")
            let metrics = try await client.execute(uri: "/metrics", method: .get)
            #expect(metrics.text.contains(#"switchyard_cache_requests_total{type="semantic",result="hit"} 1"#))
            // Chat upstream calls: original, spider, German, other tenant (embedding calls aside).
            _ = chats
        }
    }
}

import Testing

@testable import SwitchyardCore

/// Exact-cache keys are remembered per body bytes and everything else the digest depends on:
/// a remembered digest must equal a computed one and never answer for a different request.
@Suite struct CacheKeyMemoTests {
    static func key(_ body: String, settings: CacheSettings = CacheSettings(), identity: Identity = Identity(kind: .virtualKey, subject: "k1"))
        throws -> Result<CacheKey, ResponseCache.Bypass>
    {
        let bytes = Array(body.utf8)
        let request = try OpenAIRequest(endpoint: .chatCompletions, body: bytes)
        return ResponseCache.key(
            settings: settings, request: request, canonicalBody: bytes, dialect: .openAI, group: "chat", identity: identity, namespace: "")
    }

    static func digest(_ result: Result<CacheKey, ResponseCache.Bypass>) -> String? {
        if case .success(let key) = result { return key.digest }
        return nil
    }

    @Test func aRememberedDigestIsTheComputedOneAndNeverAnotherRequests() throws {
        let content = "memo \(UInt64.random(in: 0...UInt64.max))"
        let body = #"{"model":"chat","messages":[{"role":"user","content":"\#(content)"}],"user":"u7"}"#
        let first = try #require(Self.digest(try Self.key(body)))
        let again = try #require(Self.digest(try Self.key(body)))
        #expect(again == first)
        // The same digest from scratch (the memo is bypassed).
        let object = try #require(try JSONValue.parse(Array(body.utf8)).objectValue)
        #expect(ResponseCache.digest(["virtual_key:k1", "", "chat", Endpoint.chatCompletions.rawValue, ClientDialect.openAI.rawValue], object, settings: CacheSettings()) == first)
        // Member order does not matter, as before.
        let reordered = #"{"user":"u7","messages":[{"content":"\#(content)","role":"user"}],"model":"chat"}"#
        #expect(Self.digest(try Self.key(reordered)) == first)
        // Another caller, or settings that change the digest, never get the remembered one.
        #expect(Self.digest(try Self.key(body, identity: Identity(kind: .virtualKey, subject: "k2"))) != first)
        var keepsUser = CacheSettings()
        keepsUser.ignoreParameters = []
        let withUser = try #require(Self.digest(try Self.key(body, settings: keepsUser)))
        #expect(withUser != first)
        #expect(Self.digest(try Self.key(body, settings: keepsUser)) == withUser)
        #expect(Self.digest(try Self.key(body)) == first)
    }

    @Test func aRememberedBypassHoldsOnlyForTheSettingsThatCausedIt() throws {
        let body = #"{"model":"chat","messages":[{"role":"user","content":"tools \#(UInt64.random(in: 0...UInt64.max))"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}]}"#
        var noTools = CacheSettings()
        noTools.cacheTools = false
        for _ in 0..<2 {
            guard case .failure(.tools) = try Self.key(body, settings: noTools) else {
                Issue.record("tools must bypass the cache when cache_tools is off")
                return
            }
        }
        #expect(Self.digest(try Self.key(body)) != nil, "with tools allowed the same body is cached")
    }

    @Test func theMemoStaysBounded() throws {
        for index in 0..<(ResponseCache.DigestMemo.capacity + 10) {
            _ = try Self.key(#"{"model":"chat","messages":[{"role":"user","content":"bound \#(index)"}]}"#)
        }
        #expect(ResponseCache.DigestMemo.shared.count <= ResponseCache.DigestMemo.capacity)
        let large = #"{"model":"chat","messages":[{"role":"user","content":""# + String(repeating: "x", count: 20_000) + #""}]}"#
        let before = try #require(Self.digest(try Self.key(large)))
        #expect(Self.digest(try Self.key(large)) == before, "bodies over 16 KiB are digested each time, to the same key")
    }
}

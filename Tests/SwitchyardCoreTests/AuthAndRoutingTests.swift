import Testing

@testable import SwitchyardCore

@Suite struct AuthAndRoutingTests {
    @Test func masterKeyAcceptsBearerAndXAPIKey() throws {
        let auth = MasterKeyAuthenticator(masterKey: "sy-master-123")
        #expect(try auth.authenticate(authorization: "Bearer sy-master-123", apiKey: nil).get() == .master)
        #expect(try auth.authenticate(authorization: "bearer sy-master-123", apiKey: nil).get() == .master)
        #expect(try auth.authenticate(authorization: nil, apiKey: "sy-master-123").get() == .master)
    }

    @Test func masterKeyRejectsWrongMissingAndOtherSchemes() {
        let auth = MasterKeyAuthenticator(masterKey: "sy-master-123")
        for (authorization, apiKey) in [("Bearer sy-master-124", nil), (nil, nil), ("Basic abc", nil), ("Bearer ", nil), (nil, "sy-master-12")]
            as [(String?, String?)]
        {
            guard case .failure(let error) = auth.authenticate(authorization: authorization, apiKey: apiKey) else {
                Issue.record("accepted \(String(describing: authorization)) \(String(describing: apiKey))")
                continue
            }
            #expect(error.status == 401)
            #expect(error.type == "authentication_error")
            #expect(!error.message.contains("sy-master"))
        }
    }

    @Test func noMasterKeyMeansAnonymous() throws {
        #expect(try MasterKeyAuthenticator(masterKey: nil).authenticate(authorization: nil, apiKey: nil).get() == .anonymous)
    }

    @Test func constantTimeComparison() {
        #expect(MasterKeyAuthenticator.constantTimeEquals(Array("abc".utf8), Array("abc".utf8)))
        #expect(!MasterKeyAuthenticator.constantTimeEquals(Array("abc".utf8), Array("abd".utf8)))
        #expect(!MasterKeyAuthenticator.constantTimeEquals(Array("abc".utf8), Array("abcd".utf8)))
        #expect(!MasterKeyAuthenticator.constantTimeEquals([], Array("a".utf8)))
    }

    @Test func catalogSuggestsCloseNames() {
        let catalog = ModelCatalog(models: [
            ModelConfig(name: "gpt-4o", provider: "openai", aliases: ["gpt4o"]),
            ModelConfig(name: "gpt-4o-mini", provider: "openai"),
            ModelConfig(name: "claude", provider: "anthropic"),
        ])
        #expect(catalog.route(for: "gpt-4o")?.upstreamModel == "gpt-4o")
        #expect(catalog.route(for: "gpt4o")?.publicName == "gpt-4o")
        #expect(catalog.suggestions(for: "gpt-4").contains("gpt-4o"))
        #expect(catalog.suggestions(for: "zzzzzzzz").isEmpty)
    }

    @Test func upstreamErrorsMapToClientErrorsWithoutLeakingCredentials() {
        let scrubber = SecretScrubber(secrets: [Secret("sk-live-abcdefghijklmnop", source: "env:K")])
        let unauthorized = UpstreamErrorMapper.map(
            status: 401,
            body: Array(#"{"error":{"message":"Incorrect API key provided: sk-live-abcdefghijklmnop","type":"invalid_request_error"}}"#.utf8),
            headers: [],
            provider: "openai",
            scrubber: scrubber
        )
        #expect(unauthorized.status == 502)
        #expect(!unauthorized.message.contains("sk-live"))

        let limited = UpstreamErrorMapper.map(
            status: 429, body: Array(#"{"error":{"message":"slow down","type":"rate_limit_error"}}"#.utf8),
            headers: [HeaderField("Retry-After", "7")], provider: "openai", scrubber: scrubber
        )
        #expect(limited.status == 429)
        #expect(limited.headers.contains(HeaderField("Retry-After", "7")))
        #expect(limited.message.contains("slow down"))

        let badRequest = UpstreamErrorMapper.map(
            status: 400,
            body: Array(
                #"{"error":{"message":"context too long, key sk-live-abcdefghijklmnop","type":"invalid_request_error","code":"context_length_exceeded","param":"messages"}}"#
                    .utf8),
            headers: [], provider: "openai", scrubber: scrubber
        )
        #expect(badRequest.status == 400)
        #expect(badRequest.code == "context_length_exceeded")
        #expect(badRequest.param == "messages")
        #expect(!badRequest.message.contains("sk-live"))

        #expect(UpstreamErrorMapper.map(status: 500, body: Array("oops".utf8), headers: [], provider: "p", scrubber: scrubber).status == 502)
        #expect(UpstreamErrorMapper.map(status: 529, body: [], headers: [], provider: "p", scrubber: scrubber).status == 503)
        #expect(UpstreamErrorMapper.map(status: 504, body: [], headers: [], provider: "p", scrubber: scrubber).status == 504)
    }

    @Test func scrubberMasksKeyShapedTokens() {
        let scrubber = SecretScrubber(secrets: [])
        #expect(scrubber.scrub("bad key sk-proj-1234567890abcdef here") == "bad key [redacted] here")
        #expect(scrubber.scrub("Authorization: Bearer abcdefghijkl") == "Authorization: Bearer [redacted]")
    }
}

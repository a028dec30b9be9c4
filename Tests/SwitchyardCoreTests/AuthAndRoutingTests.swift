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
        #expect(catalog.group(for: "gpt-4o")?.deployments.first?.upstreamModel == "gpt-4o")
        #expect(catalog.group(for: "gpt4o")?.name == "gpt-4o")
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
        #expect(badRequest.code == .contextLengthExceeded)
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

@Suite struct ProviderErrorCodeTests {
    let scrubber = SecretScrubber(secrets: [])

    @Test(arguments: [
        (400, #"{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 210000 tokens > 200000 maximum"}}"#),
        (
            400,
            #"{"error":{"code":400,"message":"The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).","status":"INVALID_ARGUMENT"}}"#
        ),
        (400, #"{"message":"Input is too long for requested model."}"#),
        (
            400,
            #"{"error":{"message":"This model's maximum context length is 128000 tokens.","type":"invalid_request_error","code":"context_length_exceeded"}}"#
        ),
        (422, #"{"message":"too many tokens: total number of tokens in the prompt cannot exceed 128000"}"#),
    ])
    func contextLengthErrorsShareOneCode(status: Int, body: String) {
        let error = UpstreamErrorMapper.map(status: status, body: Array(body.utf8), headers: [], provider: "p", scrubber: scrubber)
        #expect(error.status == 400)
        #expect(error.code == .contextLengthExceeded)
    }

    @Test func contentPolicyRefusalsAreContentFilter() {
        let azure =
            #"{"error":{"message":"The response was filtered (ResponsibleAIPolicyViolation).","type":null,"param":"prompt","code":"content_filter","status":400}}"#
        let error = UpstreamErrorMapper.map(status: 400, body: Array(azure.utf8), headers: [], provider: "azure", scrubber: scrubber)
        #expect(error.code == .contentFilter)
        let other = UpstreamErrorMapper.map(
            status: 400, body: Array(#"{"error":{"message":"bad temperature"}}"#.utf8), headers: [], provider: "p", scrubber: scrubber)
        #expect(other.code == .upstreamInvalidRequest)
    }
}

import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SwitchyardCore
import SwitchyardProviders
import Testing

/// Exception events in a ConverseStream. Frames as Bedrock sends them (AWS event-stream
/// encoding; `:message-type` `exception` with `:exception-type` naming a member of the
/// `ConverseStreamOutput` union in the Bedrock Runtime service model, whose error shapes give
/// the HTTP status: throttling 429, validation 400, service unavailable 503, internal 500,
/// model stream error 424; payload `{"message": ...}`).
@Suite struct BedrockStreamExceptionTests {
    static func event(_ type: String, _ payload: String) -> EventStreamMessage {
        EventStreamMessage(
            headers: [":event-type": type, ":content-type": "application/json", ":message-type": "event"], payload: Array(payload.utf8))
    }

    static func exception(_ type: String, _ message: String) -> EventStreamMessage {
        EventStreamMessage(
            headers: [":exception-type": type, ":content-type": "application/json", ":message-type": "exception"],
            payload: Array(#"{"message":"\#(message)"}"#.utf8))
    }

    static let answer: [EventStreamMessage] = [
        event("messageStart", #"{"role":"assistant"}"#),
        event("contentBlockDelta", #"{"contentBlockIndex":0,"delta":{"text":"Hello"}}"#),
        event("contentBlockDelta", #"{"contentBlockIndex":0,"delta":{"text":" there"}}"#),
        event("contentBlockStop", #"{"contentBlockIndex":0}"#),
        event("messageStop", #"{"stopReason":"end_turn"}"#),
        event("metadata", #"{"usage":{"inputTokens":9,"outputTokens":2,"totalTokens":11},"metrics":{"latencyMs":210}}"#),
    ]

    static let throttled = exception("throttlingException", "Too many tokens, please wait before trying again.")

    /// `once`: a group that does not retry; `retried`: the default retry policy.
    func withBedrock(
        _ script: @escaping @Sendable (Int) -> [EventStreamMessage],
        _ test: @escaping @Sendable (any TestClientProtocol, RecordedUpstream) async throws -> Void
    ) async throws {
        let upstream = RecordedUpstream { _, number in .eventStream(script(number)) }
        try await withGatewayOnRecordedUpstream(
            upstream,
            providers: { port in
                """
                - name: aws
                  type: bedrock
                  base_url: http://127.0.0.1:\(port)
                  aws_access_key_id: AKIDTEST
                  aws_secret_access_key: bedrock-secret-key
                  options: {region: us-east-1}
                """
            },
            models: """
                - name: once
                  provider: aws
                  model: anthropic.claude-3-haiku-20240307-v1:0
                  retry: {attempts: 0}
                - name: retried
                  provider: aws
                  model: anthropic.claude-3-5-haiku-20241022-v1:0
                """,
            extra: "router: {circuit_breaker: false}"
        ) { client in try await test(client, upstream) }
    }

    func stream(_ client: any TestClientProtocol, _ model: String) async throws -> TestResponse {
        try await client.execute(uri: "/v1/chat/completions", method: .post, headers: authorized, body: chatBody(#","stream":true"#, model: model))
    }

    @Test(arguments: [
        ("throttlingException", 429, "rate_limit_error"), ("validationException", 400, "invalid_request_error"),
        ("serviceUnavailableException", 503, "api_error"), ("internalServerException", 502, "api_error"),
        ("modelStreamErrorException", 502, "api_error"),
    ])
    func anExceptionBeforeTheFirstByteIsItsHTTPStatus(exception: String, status: Int, type: String) async throws {
        try await withBedrock({ _ in [Self.event("messageStart", #"{"role":"assistant"}"#), Self.exception(exception, "Refused by the model.")] }) {
            client, upstream in
            let response = try await stream(client, "once")
            #expect(response.status.code == status, "\(response.text)")
            #expect(response.headers[.contentType]?.hasPrefix("application/json") == true, "an HTTP error, not a stream")
            #expect(response.json?["error"]?["type"]?.stringValue == type)
            #expect(response.json?["error"]?["message"]?.stringValue?.contains("Refused by the model.") == true)
            if status == 429 { #expect(response.headers[.retryAfter] != nil) }
            #expect(upstream.received.count == 1)
        }
    }

    @Test func throttlingBeforeTheFirstByteIsRetriedLikeA429() async throws {
        try await withBedrock({ number in number == 0 ? [Self.event("messageStart", #"{"role":"assistant"}"#), Self.throttled] : Self.answer }) {
            client, upstream in
            let response = try await stream(client, "retried")
            #expect(response.status == .ok)
            let text = sseData(response.text).dropLast().compactMap { try? JSONValue.parse(Array($0.utf8)) }
                .compactMap { $0["choices"]?.arrayValue?.first?["delta"]?["content"]?.stringValue }.joined()
            #expect(text == "Hello there")
            #expect(upstream.received.count == 2, "the throttled attempt was retried")
        }
    }

    @Test func aValidationExceptionIsNotRetried() async throws {
        let tooLong = Self.exception("validationException", "Input is too long for requested model.")
        try await withBedrock({ _ in [tooLong] }) { client, upstream in
            let response = try await stream(client, "retried")
            #expect(response.status == .badRequest)
            #expect(response.json?["error"]?["code"]?.stringValue == "context_length_exceeded")
            #expect(upstream.received.count == 1)
        }
    }

    @Test func anExceptionAfterTheFirstByteIsAnErrorEvent() async throws {
        try await withBedrock({ _ in Array(Self.answer.prefix(2)) + [Self.throttled] }) { client, _ in
            let response = try await stream(client, "once")
            #expect(response.status == .ok)
            let events = sseData(response.text)
            #expect(events.last == "[DONE]")
            let error = try JSONValue.parse(Array((events.dropLast().last ?? "").utf8))
            #expect(error["error"]?["message"]?.stringValue?.contains("Too many tokens") == true)
            #expect(events.contains { $0.contains(#""content":"Hello""#) })
        }
    }
}

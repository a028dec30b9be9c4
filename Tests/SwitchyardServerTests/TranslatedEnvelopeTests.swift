import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SwitchyardCore
import SwitchyardProviders
import SwitchyardServer
import SwitchyardTesting
import Testing

/// Ids that Anthropic accepts for `tool_use` blocks (`^[a-zA-Z0-9_-]+$`).
func isToolUseSafe(_ id: String) -> Bool {
    !id.isEmpty
        && id.utf8.allSatisfy { byte in
            byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-") || (48...57).contains(byte) || (65...90).contains(byte)
                || (97...122).contains(byte)
        }
}

/// Checks that an answer is an OpenAI envelope as OpenAI sends it: `created` is the time of the
/// answer (between `before` and `after`, Unix seconds), and a stream's chunks share one id and
/// one `created`. Returns the answer's id.
@discardableResult
func expectOpenAIEnvelope(_ response: TestResponse, stream: Bool, before: Int, after: Int, sourceLocation: SourceLocation = #_sourceLocation)
    throws -> String
{
    #expect(response.status == .ok, "\(response.text)", sourceLocation: sourceLocation)
    let objects: [JSONValue] =
        stream
        ? try sseData(response.text).dropLast().map { try JSONValue.parse(Array($0.utf8)) }
        : [try #require(response.json, sourceLocation: sourceLocation)]
    try #require(!objects.isEmpty, sourceLocation: sourceLocation)
    let ids = Set(objects.compactMap { $0["id"]?.stringValue })
    let created = Set(objects.compactMap { $0["created"]?.intValue })
    #expect(ids.count == 1, "one id for the whole answer: \(ids)", sourceLocation: sourceLocation)
    #expect(created.count == 1, "one created for the whole answer: \(created)", sourceLocation: sourceLocation)
    let time = created.first ?? 0
    #expect((before...after).contains(time), "created \(time) is the time of the answer", sourceLocation: sourceLocation)
    let id = ids.first ?? ""
    #expect(id.hasPrefix("chatcmpl-"), sourceLocation: sourceLocation)
    #expect(
        objects.allSatisfy { $0["object"]?.stringValue == (stream ? "chat.completion.chunk" : "chat.completion") }, sourceLocation: sourceLocation)
    return id
}

/// Answers translated from Gemini, Bedrock and Cohere (the mock speaking each dialect over a
/// real socket) carry the time of the answer and an id of their own, as OpenAI's do.
@Suite struct TranslatedEnvelopeTests {
    func withGateway(_ test: @escaping @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        try await withGatewayOnMockUpstream(
            providers: { port in
                """
                - name: google
                  type: gemini
                  base_url: http://127.0.0.1:\(port)
                  api_key: gemini-key
                - name: aws
                  type: bedrock
                  base_url: http://127.0.0.1:\(port)
                  aws_access_key_id: AKIDTEST
                  aws_secret_access_key: bedrock-secret-key
                  options: {region: us-east-1}
                - name: co
                  type: cohere
                  base_url: http://127.0.0.1:\(port)
                  api_key: cohere-key
                """
            },
            models: """
                - name: flash
                  provider: google
                  model: gemini-2.5-flash
                - name: haiku
                  provider: aws
                  model: anthropic.claude-3-haiku-20240307-v1:0
                - name: command
                  provider: co
                  model: command-a-03-2025
                """
        ) { client, _ in try await test(client) }
    }

    @Test(arguments: ["flash", "haiku", "command"])
    func translatedAnswersCarryTheTimeOfTheAnswer(model: String) async throws {
        try await withGateway { client in
            for stream in [false, true] {
                let before = Int(Date().timeIntervalSince1970)
                let response = try await client.execute(
                    uri: "/v1/chat/completions", method: .post, headers: authorized,
                    body: chatBody(stream ? #","stream":true,"stream_options":{"include_usage":true}"# : "", model: model))
                let after = Int(Date().timeIntervalSince1970.rounded(.up))
                try expectOpenAIEnvelope(response, stream: stream, before: before, after: after)
            }
        }
    }

    @Test func bedrockAnswersHaveAnIDOfTheirOwn() async throws {
        try await withGateway { client in
            var ids: [String] = []
            for stream in [false, false, true, true] {
                let response = try await client.execute(
                    uri: "/v1/chat/completions", method: .post, headers: authorized,
                    body: chatBody(stream ? #","stream":true"# : "", model: "haiku"))
                ids.append(try expectOpenAIEnvelope(response, stream: stream, before: 0, after: Int.max))
            }
            #expect(Set(ids).count == ids.count, "\(ids)")
            #expect(!ids.contains("chatcmpl-bedrock"))
        }
    }
}

import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SwitchyardCore
import Testing

/// Gemini 3 tool loops through OpenAI and Anthropic clients: the thought signature Gemini puts
/// on a `functionCall` part comes back on that part in the next turn, and every tool call gets
/// an id of its own.
@Suite struct GeminiToolLoopTests {
    /// A signature in the shape Gemini sends (standard base64, with `+`, `/` and padding).
    static let signature = "CiQBjz1rX+8yL/5Zt3Rq0vN4dW9gA2k7M1uP6esT8XtMYzQSHwr9D7A="

    /// A parallel function-call answer as Google documents it for Gemini 3
    /// (ai.google.dev/gemini-api/docs/thought-signatures, "parallel function calls": only the
    /// first `functionCall` part carries the `thoughtSignature`); the signature bytes are ours.
    static let functionCallParts = #"""
        [{"functionCall":{"name":"get_current_temperature","args":{"location":"Paris"}},"thoughtSignature":"\#(signature)"},{"functionCall":{"name":"get_current_temperature","args":{"location":"London"}}}]
        """#

    static let functionCallAnswer = #"""
        {"candidates":[{"content":{"role":"model","parts":\#(functionCallParts)},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":71,"candidatesTokenCount":30,"totalTokenCount":101},"modelVersion":"gemini-3-pro-preview","responseId":"7bQzaJ3kBPbq"}
        """#

    static let textAnswer = #"""
        {"candidates":[{"content":{"role":"model","parts":[{"text":"It is 18°C in Paris and 14°C in London."}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":120,"candidatesTokenCount":14,"totalTokenCount":134},"modelVersion":"gemini-3-pro-preview","responseId":"8bQzaK7lC_7q"}
        """#

    /// Answers a request whose last turn holds function responses with text, any other with
    /// the function calls (streamed as one SSE event: Gemini sends calls whole).
    static func upstream() -> RecordedUpstream {
        RecordedUpstream { request, _ in
            let contents = request.body?["contents"]?.arrayValue ?? []
            let answersCalls = contents.last?["parts"]?.arrayValue?.contains { $0["functionResponse"] != nil } == true
            let answer = answersCalls ? textAnswer : functionCallAnswer
            return request.path.contains(":streamGenerateContent") ? .sse([answer]) : .json(answer)
        }
    }

    static func providers(_ type: String) -> @Sendable (Int) -> String {
        { port in
            type == "vertex"
                ? """
                - name: google
                  type: vertex
                  base_url: http://127.0.0.1:\(port)
                  options: {project: p, location: l}
                  api_key: ya29.vertex-access-token
                """
                : """
                - name: google
                  type: gemini
                  base_url: http://127.0.0.1:\(port)
                  api_key: gemini-key
                """
        }
    }

    static let models = """
        - name: pro
          provider: google
          model: gemini-3-pro-preview
        """

    static let tools =
        #"[{"type":"function","function":{"name":"get_current_temperature","parameters":{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}}}]"#

    /// The tool calls of an answer, collected from a stream's deltas when streamed.
    static func toolCalls(_ response: TestResponse, stream: Bool) throws -> [JSONValue] {
        guard stream else { return response.json?["choices"]?.arrayValue?.first?["message"]?["tool_calls"]?.arrayValue ?? [] }
        var calls: [Int: JSONObject] = [:]
        for event in sseData(response.text).dropLast() {
            let chunk = try JSONValue.parse(Array(event.utf8))
            for delta in chunk["choices"]?.arrayValue?.first?["delta"]?["tool_calls"]?.arrayValue ?? [] {
                let index = delta["index"]?.intValue ?? 0
                var call = calls[index] ?? [:]
                for member in delta.objectValue?.members ?? [] where member.key != "index" { call[member.key] = member.value }
                calls[index] = call
            }
        }
        return calls.keys.sorted().map { .object(calls[$0]!) }
    }

    @Test(arguments: [("gemini", false), ("vertex", false), ("gemini", true), ("vertex", true)])
    func thoughtSignaturesSurviveAnOpenAIToolLoop(provider: String, stream: Bool) async throws {
        let upstream = Self.upstream()
        try await withGatewayOnRecordedUpstream(upstream, providers: Self.providers(provider), models: Self.models) { client in
            let streamField = stream ? #","stream":true"# : ""
            let question = #"{"role":"user","content":"Temperature in Paris and London?"}"#
            let before = Int(Date().timeIntervalSince1970)
            let first = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: authorized,
                body: ByteBuffer(string: #"{"model":"pro","messages":[\#(question)],"tools":\#(Self.tools)\#(streamField)}"#))
            try expectOpenAIEnvelope(first, stream: stream, before: before, after: Int(Date().timeIntervalSince1970.rounded(.up)))
            let calls = try Self.toolCalls(first, stream: stream)
            try #require(calls.count == 2)
            let ids = calls.compactMap { $0["id"]?.stringValue }
            #expect(Set(ids).count == 2, "each call has an id of its own")
            #expect(!ids.contains("call_0") && !ids.contains("call_1"))
            #expect(ids.allSatisfy(isToolUseSafe))
            #expect(calls[0]["extra_content"]?["google"]?["thought_signature"]?.stringValue == Self.signature)
            #expect(calls[1]["extra_content"] == nil)

            // The client sends the calls back as OpenAI clients keep them: id, type, function.
            // The id alone must be enough to restore the signature.
            let assistantCalls: [JSONValue] = calls.map { ["id": $0["id"] ?? "", "type": "function", "function": $0["function"] ?? [:]] }
            let assistant: JSONValue = ["role": "assistant", "content": .null, "tool_calls": .array(assistantCalls)]
            let results = ids.enumerated().map { index, id in
                #"{"role":"tool","tool_call_id":"\#(id)","content":"{\"celsius\":\#(index == 0 ? 18 : 14)}"}"#
            }
            let second = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: authorized,
                body: ByteBuffer(
                    string:
                        #"{"model":"pro","messages":[\#(question),\#(assistant.serialized()),\#(results.joined(separator: ","))],"tools":\#(Self.tools)\#(streamField)}"#
                ))
            #expect(second.status == .ok, "\(second.text)")

            let sent = try #require(upstream.received.last?.body?["contents"]?.arrayValue)
            let model = try #require(sent.first { $0["role"]?.stringValue == "model" }?["parts"]?.arrayValue)
            #expect(model.count == 2)
            #expect(model[0]["thoughtSignature"]?.stringValue == Self.signature, "the signature is back on the first functionCall part")
            #expect(model[0]["functionCall"]?["args"] == ["location": "Paris"])
            #expect(model[1]["thoughtSignature"] == nil)
            let responses = sent.last?["parts"]?.arrayValue?.compactMap { $0["functionResponse"] } ?? []
            #expect(responses.map { $0["name"]?.stringValue } == ["get_current_temperature", "get_current_temperature"])
            #expect(responses.map { $0["response"]?["celsius"]?.intValue } == [18, 14])

            // A second answer in the same conversation gets new ids.
            let again = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: authorized,
                body: ByteBuffer(string: #"{"model":"pro","messages":[\#(question)],"tools":\#(Self.tools)\#(streamField)}"#))
            let newIDs = try Self.toolCalls(again, stream: stream).compactMap { $0["id"]?.stringValue }
            #expect(newIDs.count == 2 && Set(newIDs).isDisjoint(with: ids))
        }
    }

    @Test(arguments: ["gemini", "vertex"])
    func thoughtSignaturesSurviveAnAnthropicToolLoop(provider: String) async throws {
        let upstream = Self.upstream()
        try await withGatewayOnRecordedUpstream(upstream, providers: Self.providers(provider), models: Self.models) { client in
            let tools =
                #"[{"name":"get_current_temperature","input_schema":{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}}]"#
            let question = #"{"role":"user","content":"Temperature in Paris and London?"}"#
            let first = try await client.execute(
                uri: "/v1/messages", method: .post, headers: authorized,
                body: ByteBuffer(string: #"{"model":"pro","max_tokens":256,"messages":[\#(question)],"tools":\#(tools)}"#))
            #expect(first.status == .ok, "\(first.text)")
            let uses = first.json?["content"]?.arrayValue?.filter { $0["type"]?.stringValue == "tool_use" } ?? []
            try #require(uses.count == 2)
            let ids = uses.compactMap { $0["id"]?.stringValue }
            #expect(Set(ids).count == 2)
            // Anthropic's pattern for tool_use ids, so the conversation can continue on Claude.
            #expect(ids.allSatisfy(isToolUseSafe))

            let results = ids.map { #"{"type":"tool_result","tool_use_id":"\#($0)","content":"{\"celsius\":18}"}"# }
            let second = try await client.execute(
                uri: "/v1/messages", method: .post, headers: authorized,
                body: ByteBuffer(
                    string:
                        #"{"model":"pro","max_tokens":256,"messages":[\#(question),{"role":"assistant","content":\#(JSONValue.array(uses).serialized())},{"role":"user","content":[\#(results.joined(separator: ","))]}],"tools":\#(tools)}"#
                ))
            #expect(second.status == .ok, "\(second.text)")
            let sent = try #require(upstream.received.last?.body?["contents"]?.arrayValue)
            let model = try #require(sent.first { $0["role"]?.stringValue == "model" }?["parts"]?.arrayValue)
            #expect(model.first?["thoughtSignature"]?.stringValue == Self.signature)
            #expect(model.dropFirst().allSatisfy { $0["thoughtSignature"] == nil })
        }
    }
}

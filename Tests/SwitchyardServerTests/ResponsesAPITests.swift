import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SwitchyardCore
import SwitchyardServer
import SwitchyardTesting
import Testing

/// The OpenAI Responses API (`POST /v1/responses`) answered by any model: text, tools, reasoning,
/// structured output, streams with the documented event sequence, errors in the OpenAI envelope.
@Suite struct ResponsesAPITests {
    static let providers: @Sendable (Int) -> String = { port in
        """
        - {name: claude, type: anthropic, base_url: "http://127.0.0.1:\(port)", api_key: anthropic-secret-key}
        - {name: local, type: mock}
        """
    }
    static let models = """
        - {name: claude, provider: claude, model: claude-mock}
        - {name: gpt, provider: local, model: mock-gpt}
        """

    static func post(_ client: any TestClientProtocol, _ body: String) async throws -> TestResponse {
        try await client.execute(uri: "/v1/responses", method: .post, headers: authorized, body: ByteBuffer(string: body))
    }

    static func events(_ response: TestResponse) -> [JSONValue] {
        sseData(response.text).compactMap { try? JSONValue.parse($0) }
    }

    @Test func textAnswersWithTheResponseObjectOnAnyModel() async throws {
        try await withGatewayOnMockUpstream(providers: Self.providers, models: Self.models) { client, mock in
            for model in ["gpt", "claude"] {
                let response = try await Self.post(
                    client, #"{"model":"\#(model)","instructions":"Be brief.","input":"Hello there","max_output_tokens":50,"temperature":0.2}"#)
                #expect(response.status == .ok, "\(response.text)")
                let object = try #require(response.json)
                #expect(object["object"]?.stringValue == "response" && object["status"]?.stringValue == "completed")
                #expect(object["id"]?.stringValue?.hasPrefix("resp_") == true)
                let message = try #require(object["output"]?.arrayValue?.first)
                #expect(message["type"]?.stringValue == "message" && message["role"]?.stringValue == "assistant")
                #expect(message["content"]?.arrayValue?.first?["type"]?.stringValue == "output_text")
                #expect(message["content"]?.arrayValue?.first?["text"]?.stringValue == "This is a mock response to: Hello there")
                #expect(object["instructions"]?.stringValue == "Be brief." && object["max_output_tokens"]?.intValue == 50)
                #expect(object["temperature"]?.doubleValue == 0.2)
                let usage = try #require(object["usage"])
                #expect((usage["input_tokens"]?.intValue ?? 0) > 0 && (usage["output_tokens"]?.intValue ?? 0) > 0)
                #expect(usage["total_tokens"]?.intValue == (usage["input_tokens"]?.intValue ?? 0) + (usage["output_tokens"]?.intValue ?? 0))
            }
            // The Anthropic provider got the instructions as its system prompt.
            #expect(mock.stats.lastBodyJSON?["system"]?.stringValue == "Be brief.")
            #expect(mock.stats.lastBodyJSON?["max_tokens"]?.intValue == 50)
        }
    }

    @Test func toolCallsGoOutAsFunctionCallItemsAndTheirOutputsComeBack() async throws {
        try await withGatewayOnMockUpstream(providers: Self.providers, models: Self.models) { client, mock in
            let tools =
                #"[{"type":"function","name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}]"#
            let first = try await Self.post(client, #"{"model":"claude","input":"Weather in Paris?","tools":\#(tools)}"#)
            #expect(first.status == .ok, "\(first.text)")
            let call = try #require(first.json?["output"]?.arrayValue?.first { $0["type"]?.stringValue == "function_call" })
            #expect(call["name"]?.stringValue == "get_weather")
            #expect(try JSONValue.parse(Array((call["arguments"]?.stringValue ?? "").utf8)) == ["city": "mock"])
            let callID = try #require(call["call_id"]?.stringValue)
            #expect(mock.stats.lastBodyJSON?["tools"]?.arrayValue?.first?["name"]?.stringValue == "get_weather")

            let second = try await Self.post(
                client,
                #"{"model":"claude","tools":\#(tools),"input":[{"role":"user","content":"Weather in Paris?"},\#(call.serialized()),{"type":"function_call_output","call_id":"\#(callID)","output":"sunny"}]}"#
            )
            #expect(second.status == .ok, "\(second.text)")
            let sent = try #require(mock.stats.lastBodyJSON?["messages"]?.arrayValue)
            #expect(sent[1]["content"]?.arrayValue?.first?["type"]?.stringValue == "tool_use")
            #expect(sent[2]["content"]?.arrayValue?.first?["type"]?.stringValue == "tool_result")
            #expect(sent[2]["content"]?.arrayValue?.first?["tool_use_id"]?.stringValue == callID)
            #expect(second.json?["output"]?.arrayValue?.first?["type"]?.stringValue == "message")
        }
    }

    @Test func streamsFollowTheDocumentedEventSequence() async throws {
        try await withGatewayOnMockUpstream(providers: Self.providers, models: Self.models) { client, _ in
            let response = try await Self.post(
                client, #"{"model":"gpt","stream":true,"input":"Hi","reasoning":{"effort":"low"},"mock":{"reasoning":"Think first."}}"#)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType]?.hasPrefix("text/event-stream") == true)
            let events = Self.events(response)
            let types = events.compactMap { $0["type"]?.stringValue }
            #expect(Array(types.prefix(2)) == ["response.created", "response.in_progress"])
            #expect(types.last == "response.completed")
            #expect(events.compactMap { $0["sequence_number"]?.intValue } == Array(0..<events.count), "numbered in order")
            #expect(types.contains("response.reasoning_summary_text.delta"))
            let reasoningDone = try #require(types.firstIndex(of: "response.reasoning_summary_text.done"))
            let firstText = try #require(types.firstIndex(of: "response.output_text.delta"))
            #expect(reasoningDone < firstText, "reasoning closes before the text starts")
            let text = events.filter { $0["type"]?.stringValue == "response.output_text.delta" }.compactMap { $0["delta"]?.stringValue }.joined()
            #expect(text == "This is a mock response to: Hi")
            let completed = try #require(events.last?["response"])
            #expect(completed["output"]?.arrayValue?.map { $0["type"]?.stringValue } == ["reasoning", "message"])
            #expect(completed["output"]?.arrayValue?.last?["content"]?.arrayValue?.first?["text"]?.stringValue == text)
            #expect((completed["usage"]?["output_tokens"]?.intValue ?? 0) > 0)

            let tools =
                #"[{"type":"function","name":"a","parameters":{"type":"object","properties":{"x":{"type":"integer"}}}},{"type":"function","name":"b","parameters":{"type":"object"}}]"#
            let streamedTools = try await Self.post(client, #"{"model":"gpt","stream":true,"input":"go","tools":\#(tools),"mock":{"tool_calls":2}}"#)
            let toolEvents = Self.events(streamedTools)
            let done = toolEvents.filter { $0["type"]?.stringValue == "response.function_call_arguments.done" }
            #expect(done.count == 2)
            #expect(done.allSatisfy { (try? JSONValue.parse(Array(($0["arguments"]?.stringValue ?? "").utf8)))?.objectValue != nil })
            let items = toolEvents.last?["response"]?["output"]?.arrayValue ?? []
            #expect(items.map { $0["name"]?.stringValue } == ["a", "b"])
            #expect(Set(items.compactMap { $0["call_id"]?.stringValue }).count == 2)
        }
    }

    @Test func limitsIncompleteAnswersAndErrorsSpeakTheResponsesDialect() async throws {
        try await withGatewayOnMockUpstream(providers: Self.providers, models: Self.models) { client, _ in
            let truncated = try await Self.post(client, #"{"model":"claude","input":"Hi","mock":{"content":"long answer"},"max_output_tokens":1}"#)
            #expect(truncated.status == .ok)
            let unknown = try await Self.post(client, #"{"model":"nope","input":"Hi"}"#)
            #expect(unknown.status == .notFound)
            #expect(unknown.json?["error"]?["code"]?.stringValue == "model_not_found")
            let stored = try await Self.post(client, #"{"model":"gpt","input":"Hi","previous_response_id":"resp_1"}"#)
            #expect(stored.status == .badRequest && stored.json?["error"]?["param"]?.stringValue == "previous_response_id")
            let builtIn = try await Self.post(client, #"{"model":"gpt","input":"Hi","tools":[{"type":"web_search"}]}"#)
            #expect(builtIn.status == .badRequest && builtIn.json?["error"]?["code"]?.stringValue == "unsupported_tool")
            let failing = try await Self.post(client, #"{"model":"gpt","stream":true,"input":"Hi","mock":{"error_after":1}}"#)
            let last = Self.events(failing).last
            #expect(last?["type"]?.stringValue == "response.failed")
            #expect(last?["response"]?["status"]?.stringValue == "failed" && last?["response"]?["error"]?["message"] != nil)
            let schema = #"{"type":"object","properties":{"ok":{"type":"boolean"}}}"#
            let structured = try await Self.post(
                client,
                #"{"model":"gpt","input":"Hi","text":{"format":{"type":"json_schema","name":"r","schema":\#(schema)}},"mock":{"content":"{\"ok\":true}"}}"#
            )
            #expect(structured.status == .ok, "\(structured.text)")
            #expect(structured.json?["text"]?["format"]?["type"]?.stringValue == "json_schema")
        }
    }
}

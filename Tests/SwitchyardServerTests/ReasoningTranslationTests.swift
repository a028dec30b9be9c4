import Foundation
import NIOCore
import Testing

@testable import SwitchyardCore
@testable import SwitchyardProviders

/// Reasoning (Anthropic thinking, Gemini thoughts) across dialects: the canonical form is
/// `reasoning_content` plus signed `thinking_blocks`, and signatures survive a round trip.
@Suite struct ReasoningTranslationTests {
    static func fixture(_ name: String) throws -> [UInt8] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../SwitchyardCoreTests/Fixtures/\(name)")
        return Array(try Data(contentsOf: url))
    }

    /// Canonical chunks (without `[DONE]`) the decoder makes of `bytes` fed in pieces of `step`.
    static func decode(_ bytes: [UInt8], step: Int) throws -> [JSONValue] {
        var decoder = AnthropicStreamDecoder(created: 1_764_979_200)
        var output = ByteBuffer()
        var start = 0
        while start < bytes.count {
            try decoder.feed(ByteBuffer(bytes: bytes[start..<min(bytes.count, start + step)]), into: &output)
            start += step
        }
        return sseData(String(buffer: output)).filter { $0 != "[DONE]" }.compactMap { try? JSONValue.parse($0) }
    }

    static func sseData(_ text: String) -> [String] {
        text.components(separatedBy: "\n\n").compactMap { event in
            let lines = event.split(separator: "\n").filter { $0.hasPrefix("data: ") }.map { String($0.dropFirst(6)) }
            return lines.isEmpty ? nil : lines.joined(separator: "\n")
        }
    }

    @Test func anthropicThinkingStreamsAsReasoningWithSignedBlocksAtEveryCut() throws {
        let bytes = try Self.fixture("anthropic_thinking_stream.txt")
        let whole = try Self.decode(bytes, step: bytes.count)
        let deltas = whole.compactMap { $0["choices"]?.arrayValue?.first?["delta"] }
        let reasoning = deltas.compactMap { $0["reasoning_content"]?.stringValue }.joined()
        #expect(reasoning.hasPrefix("I need to find the GCD") && reasoning.hasSuffix("= 21"))
        let blocks = deltas.flatMap { $0["thinking_blocks"]?.arrayValue ?? [] }
        #expect(blocks.count == 2)
        #expect(blocks[0]["type"]?.stringValue == "thinking" && blocks[0]["thinking"]?.stringValue == reasoning)
        #expect(blocks[0]["signature"]?.stringValue == "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds")
        #expect(blocks[1]["type"]?.stringValue == "redacted_thinking" && blocks[1]["data"]?.stringValue?.hasPrefix("EmwKAhgB") == true)
        #expect(deltas.compactMap { $0["content"]?.stringValue }.joined() == "The greatest common divisor of 1071 and 462 is **21**.")
        #expect(whole.last?["usage"]?["completion_tokens"]?.intValue == 187)
        // The same chunks whatever the transport's cuts (every byte boundary for small pieces).
        for step in [1, 2, 3, 7, 64] { #expect(try Self.decode(bytes, step: step) == whole, "step \(step)") }
    }

    @Test func anthropicThinkingBlocksBecomeReasoningInACompletion() throws {
        let message = #"""
            {"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[
              {"type":"thinking","thinking":"Let me analyze this step by step...","signature":"WaUjzkypQ2mUEVM36O2TxuC06KN8xyfbJwyem2dw3URve"},
              {"type":"redacted_thinking","data":"EmwKAhgBEgy3va3pzix"},
              {"type":"text","text":"Based on my analysis..."}],
             "stop_reason":"end_turn","usage":{"input_tokens":10,"output_tokens":50}}
            """#
        let completion = try AnthropicOutbound.completion(fromAnthropic: Array(message.utf8))
        let result = try #require(completion["choices"]?.arrayValue?.first?["message"])
        #expect(result["content"]?.stringValue == "Based on my analysis...")
        #expect(result["reasoning_content"]?.stringValue == "Let me analyze this step by step...")
        let blocks = try #require(result["thinking_blocks"]?.arrayValue)
        #expect(blocks.map { $0["type"]?.stringValue } == ["thinking", "redacted_thinking"])
        #expect(blocks[0]["signature"]?.stringValue == "WaUjzkypQ2mUEVM36O2TxuC06KN8xyfbJwyem2dw3URve")
    }

    @Test func signedBlocksGoBackToAnthropicFirstAndEffortBecomesABudget() throws {
        let request = #"""
            {"model":"claude","max_tokens":1000,"reasoning_effort":"high","messages":[
              {"role":"user","content":"What is the weather?"},
              {"role":"assistant","content":null,"reasoning_content":"I should call the tool.",
               "thinking_blocks":[{"type":"thinking","thinking":"I should call the tool.","signature":"sig-1"},
                                  {"type":"thinking","thinking":"unsigned, from another model"},
                                  {"type":"redacted_thinking","data":"opaque"}],
               "tool_calls":[{"id":"toolu_1","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Paris\"}"}}]},
              {"role":"tool","tool_call_id":"toolu_1","content":"sunny"}]}
            """#
        let body = try AnthropicOutbound.request(fromOpenAI: Array(request.utf8))
        #expect(body["thinking"]?["type"]?.stringValue == "enabled" && body["thinking"]?["budget_tokens"]?.intValue == 4096)
        #expect(body["max_tokens"]?.intValue == 5096, "max_tokens must exceed the budget")
        let assistant = try #require(body["messages"]?.arrayValue?[1]["content"]?.arrayValue)
        #expect(assistant.map { $0["type"]?.stringValue } == ["thinking", "redacted_thinking", "tool_use"])
        #expect(assistant[0]["signature"]?.stringValue == "sig-1" && assistant[1]["data"]?.stringValue == "opaque")

        // The client's own Anthropic `thinking` parameter wins over an effort.
        let native =
            #"{"model":"c","max_tokens":9000,"reasoning_effort":"low","thinking":{"type":"enabled","budget_tokens":8000},"messages":[{"role":"user","content":"x"}]}"#
        let nativeBody = try AnthropicOutbound.request(fromOpenAI: Array(native.utf8))
        #expect(nativeBody["thinking"]?["budget_tokens"]?.intValue == 8000 && nativeBody["max_tokens"]?.intValue == 9000)
    }

    @Test func anthropicClientsThinkingTurnsSurviveTheCanonicalForm() throws {
        let request = #"""
            {"model":"m","max_tokens":100,"thinking":{"type":"enabled","budget_tokens":2048},"messages":[
              {"role":"user","content":"hi"},
              {"role":"assistant","content":[{"type":"thinking","thinking":"hmm","signature":"sig"},{"type":"redacted_thinking","data":"xyz"},
                                             {"type":"tool_use","id":"t1","name":"f","input":{}}]},
              {"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"ok"}]}]}
            """#
        let translated = try AnthropicRequestTranslator.translate(Array(request.utf8))
        #expect(translated.body["thinking"]?["budget_tokens"]?.intValue == 2048)
        let assistant = try #require(translated.body["messages"]?.arrayValue?[1])
        #expect(assistant["thinking_blocks"]?.arrayValue?.map { $0["type"]?.stringValue } == ["thinking", "redacted_thinking"])
        // Back out to an Anthropic provider: the same blocks, signatures intact, first.
        let outbound = try AnthropicOutbound.request(fromOpenAI: translated.body.serializedBytes())
        let blocks = try #require(outbound["messages"]?.arrayValue?[1]["content"]?.arrayValue)
        #expect(blocks.map { $0["type"]?.stringValue } == ["thinking", "redacted_thinking", "tool_use"])
        #expect(blocks[0]["signature"]?.stringValue == "sig")
        #expect(outbound["thinking"]?["budget_tokens"]?.intValue == 2048)
        // Out to an OpenAI-compatible provider: none of it.
        let stripped = try JSONValue.parse(CanonicalChat.strippingReasoning(translated.body.serializedBytes(), dropThinking: true))
        #expect(stripped["thinking"] == nil)
        #expect(stripped["messages"]?.arrayValue?.allSatisfy { $0["thinking_blocks"] == nil && $0["reasoning_content"] == nil } == true)
        let plain = Array(#"{"model":"m","messages":[{"role":"user","content":"no reasoning here"}]}"#.utf8)
        #expect(CanonicalChat.strippingReasoning(plain, dropThinking: true) == plain, "untouched bytes when there is nothing to remove")
        let openAIThinking = Array(#"{"model":"glm","thinking":{"type":"enabled"},"messages":[]}"#.utf8)
        #expect(CanonicalChat.strippingReasoning(openAIThinking, dropThinking: false) == openAIThinking, "an OpenAI client's own parameter stays")
    }

    @Test func canonicalReasoningStreamsToAnthropicClientsAsThinkingBlocks() throws {
        var encoder = AnthropicStreamEncoder(requestID: "req_1")
        var output = ByteBuffer()
        func chunk(_ delta: String, finish: String? = nil) throws {
            let finishJSON = finish.map { "\"\($0)\"" } ?? "null"
            let json = #"{"id":"c","model":"deepseek-reasoner","choices":[{"index":0,"delta":\#(delta),"finish_reason":\#(finishJSON)}]}"#
            encoder.chunk(try JSONValue.parse(Array(json.utf8)), into: &output)
        }
        try chunk(#"{"role":"assistant","content":""}"#)
        try chunk(#"{"reasoning_content":"Think "}"#)
        try chunk(#"{"reasoning_content":"hard."}"#)
        try chunk(#"{"thinking_blocks":[{"type":"thinking","thinking":"","signature":"sig-9"}]}"#)
        try chunk(#"{"content":"Answer."}"#)
        try chunk(#"{}"#, finish: "stop")
        encoder.finish(usage: TokenUsage(promptTokens: 3, completionTokens: 4), into: &output)
        let events = Self.sseData(String(buffer: output)).compactMap { try? JSONValue.parse($0) }
        let summary = events.map { event -> String in
            let type = event["type"]?.stringValue ?? ""
            let detail = event["content_block"]?["type"]?.stringValue ?? event["delta"]?["type"]?.stringValue ?? ""
            return detail.isEmpty ? type : "\(type):\(detail)"
        }
        #expect(
            summary == [
                "message_start", "content_block_start:thinking", "content_block_delta:thinking_delta", "content_block_delta:thinking_delta",
                "content_block_delta:signature_delta", "content_block_stop", "content_block_start:text", "content_block_delta:text_delta",
                "content_block_stop", "message_delta", "message_stop",
            ])
        let indexes = events.compactMap { $0["index"]?.intValue }
        #expect(indexes == [0, 0, 0, 0, 0, 1, 1, 1], "blocks in order, never overlapping")
        #expect(events.first { $0["delta"]?["type"]?.stringValue == "signature_delta" }?["delta"]?["signature"]?.stringValue == "sig-9")

        // Non-streaming: reasoning first, unsigned when the model gave no signature.
        let completion =
            #"{"choices":[{"index":0,"message":{"role":"assistant","content":"A","reasoning_content":"R"},"finish_reason":"stop"}],"model":"m"}"#
        let message = try AnthropicResponseTranslator.message(fromOpenAI: Array(completion.utf8), requestID: "req_2")
        let content = try #require(message["content"]?.arrayValue)
        #expect(content.map { $0["type"]?.stringValue } == ["thinking", "text"])
        #expect(content[0]["thinking"]?.stringValue == "R" && content[0]["signature"]?.stringValue == "")
    }

    @Test func geminiThoughtsAreReasoningAndEffortIsAThinkingBudget() throws {
        let request = #"{"model":"gemini-2.5-flash","reasoning_effort":"medium","messages":[{"role":"user","content":"hi"}]}"#
        let body = try GeminiOutbound.request(fromOpenAI: Array(request.utf8))
        #expect(body["generationConfig"]?["thinkingConfig"]?["thinkingBudget"]?.intValue == 8192)
        #expect(body["generationConfig"]?["thinkingConfig"]?["includeThoughts"]?.boolValue == true)
        let response = #"""
            {"candidates":[{"content":{"role":"model","parts":[{"text":"**Weighing options**","thought":true},{"text":"Hello!"}]},"finishReason":"STOP"}],
             "usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":2,"thoughtsTokenCount":40,"totalTokenCount":45},"modelVersion":"gemini-2.5-flash"}
            """#
        let completion = try GeminiOutbound.completion(fromGemini: Array(response.utf8))
        let message = try #require(completion["choices"]?.arrayValue?.first?["message"])
        #expect(message["content"]?.stringValue == "Hello!")
        #expect(message["reasoning_content"]?.stringValue == "**Weighing options**")
        #expect(completion["usage"]?["completion_tokens_details"]?["reasoning_tokens"]?.intValue == 40)
    }
}

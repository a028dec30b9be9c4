import NIOCore
import Testing

@testable import SwitchyardCore
@testable import SwitchyardProviders

/// Shape of Gemini's `streamGenerateContent?alt=sse` answers as documented for the REST API
/// (ai.google.dev/api/generate-content): each event a partial GenerateContentResponse, CRLF
/// line endings, a function call arriving whole, finishReason and usageMetadata in the last event.
let geminiStreamFixture =
    "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Let me \"}],\"role\": \"model\"},\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 9,\"totalTokenCount\": 9},\"modelVersion\": \"gemini-2.5-flash\",\"responseId\": \"abc\"}\r\n\r\n"
    + "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"check.\"},{\"functionCall\": {\"name\": \"get_weather\",\"args\": {\"city\": \"Paris\"}}}],\"role\": \"model\"},\"index\": 0}],\"modelVersion\": \"gemini-2.5-flash\"}\r\n\r\n"
    + "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"\"}],\"role\": \"model\"},\"finishReason\": \"STOP\",\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 9,\"candidatesTokenCount\": 12,\"thoughtsTokenCount\": 5,\"cachedContentTokenCount\": 4,\"totalTokenCount\": 26},\"modelVersion\": \"gemini-2.5-flash\"}\r\n\r\n"

@Suite struct GeminiOutboundTests {
    func decode(_ pieces: [ByteBuffer]) throws -> String {
        var decoder = GeminiStreamDecoder(created: 1_764_979_200, seed: 7)
        var output = ByteBuffer()
        for piece in pieces { try decoder.feed(piece, into: &output) }
        decoder.finish(into: &output)
        return String(buffer: output)
    }

    @Test func decodesTheStreamIntoCanonicalChunks() throws {
        let text = try decode([ByteBuffer(string: geminiStreamFixture)])
        let events = text.split(separator: "\n\n").map { String($0.dropFirst(6)) }
        #expect(events.last == "[DONE]")
        let chunks = events.dropLast().compactMap { try? JSONValue.parse($0) }
        let content = chunks.compactMap { $0["choices"]?.arrayValue?.first?["delta"]?["content"]?.stringValue }.joined()
        #expect(content == "Let me check.")
        let call = chunks.compactMap { $0["choices"]?.arrayValue?.first?["delta"]?["tool_calls"]?.arrayValue?.first }.first
        #expect(call?["index"]?.intValue == 0)
        #expect(call?["function"]?["name"]?.stringValue == "get_weather")
        #expect(try JSONValue.parse(call?["function"]?["arguments"]?.stringValue ?? "") == ["city": "Paris"])
        let finish = chunks.compactMap { $0["choices"]?.arrayValue?.first?["finish_reason"]?.stringValue }.last
        #expect(finish == "tool_calls")
        let usage = try #require(chunks.last?["usage"])
        #expect(usage["prompt_tokens"]?.intValue == 9)
        #expect(usage["completion_tokens"]?.intValue == 17)
        #expect(usage["completion_tokens_details"]?["reasoning_tokens"]?.intValue == 5)
        #expect(usage["prompt_tokens_details"]?["cached_tokens"]?.intValue == 4)
    }

    @Test func decodingIsIndependentOfWhereTheBytesAreSplit() throws {
        let bytes = Array(geminiStreamFixture.utf8)
        let whole = try decode([ByteBuffer(bytes: bytes)])
        for split in 1..<bytes.count {
            #expect(try decode([ByteBuffer(bytes: bytes[..<split]), ByteBuffer(bytes: bytes[split...])]) == whole, "split at \(split)")
        }
    }

    @Test func canonicalRequestBecomesAGeminiRequest() throws {
        let body = #"""
            {"model":"gemini","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":[{"type":"text","text":"What?"},{"type":"image_url","image_url":{"url":"data:image/jpeg;base64,AAAA"}}]},
             {"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"look","arguments":"{\"q\":1}"}}]},
             {"role":"tool","tool_call_id":"c1","content":"a cat"}],
             "max_tokens":40,"temperature":0.5,"stop":["X"],"tools":[{"type":"function","function":{"name":"look","parameters":{"type":"object"}}}],
             "tool_choice":{"type":"function","function":{"name":"look"}},"response_format":{"type":"json_object"}}
            """#
        let request = try GeminiOutbound.request(fromOpenAI: Array(body.utf8))
        #expect(request["systemInstruction"]?["parts"]?.arrayValue?.first?["text"]?.stringValue == "Be brief.")
        let contents = try #require(request["contents"]?.arrayValue)
        #expect(contents.map { $0["role"]?.stringValue } == ["user", "model", "user"])
        #expect(contents[0]["parts"]?.arrayValue?[1]["inlineData"]?["mimeType"]?.stringValue == "image/jpeg")
        #expect(contents[1]["parts"]?.arrayValue?.first?["functionCall"]?["args"] == ["q": 1])
        #expect(contents[2]["parts"]?.arrayValue?.first?["functionResponse"]?["name"]?.stringValue == "look")
        #expect(request["generationConfig"]?["maxOutputTokens"]?.intValue == 40)
        #expect(request["generationConfig"]?["stopSequences"] == ["X"])
        #expect(request["generationConfig"]?["responseMimeType"]?.stringValue == "application/json")
        #expect(request["toolConfig"]?["functionCallingConfig"]?["allowedFunctionNames"] == ["look"])
    }

    @Test func finishReasonsMap() {
        #expect(GeminiOutbound.finishReason("STOP") == "stop")
        #expect(GeminiOutbound.finishReason("MAX_TOKENS") == "length")
        #expect(GeminiOutbound.finishReason("SAFETY") == "content_filter")
        #expect(GeminiOutbound.finishReason(nil) == nil)
    }
}

@Suite struct GeminiRefusalTests {
    @Test func geminiBlockedPromptIsContentFilter() throws {
        let blocked = #"{"promptFeedback":{"blockReason":"SAFETY"},"usageMetadata":{"promptTokenCount":4}}"#
        let completion = try GeminiOutbound.completion(fromGemini: Array(blocked.utf8))
        #expect(completion["choices"]?.arrayValue?.first?["finish_reason"]?.stringValue == "content_filter")
    }
}

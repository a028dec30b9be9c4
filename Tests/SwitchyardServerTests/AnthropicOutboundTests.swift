import NIOCore
import Testing

@testable import SwitchyardCore
@testable import SwitchyardProviders

/// The shape of the "Streaming request with tool use" example in Anthropic's streaming
/// documentation (docs.anthropic.com/en/api/messages-streaming): a text block, a ping, then a
/// tool_use block whose input arrives as input_json_delta fragments, then message_delta with
/// the cumulative output tokens and message_stop.
let anthropicToolStreamFixture = """
    event: message_start
    data: {"type":"message_start","message":{"id":"msg_014p7gG3wDgGV9EUtLvnow3U","type":"message","role":"assistant","model":"claude-3-haiku-20240307","stop_sequence":null,"usage":{"input_tokens":472,"output_tokens":2},"content":[],"stop_reason":null}}

    event: content_block_start
    data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

    event: ping
    data: {"type": "ping"}

    event: content_block_delta
    data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Okay"}}

    event: content_block_delta
    data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":", let's check the weather."}}

    event: content_block_stop
    data: {"type":"content_block_stop","index":0}

    event: content_block_start
    data: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_01T1x1fJ34qAmk2tNTrN7Up6","name":"get_weather","input":{}}}

    event: content_block_delta
    data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}}

    event: content_block_delta
    data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\\"location\\":"}}

    event: content_block_delta
    data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":" \\"San Francisco, CA\\"}"}}

    event: content_block_stop
    data: {"type":"content_block_stop","index":1}

    event: message_delta
    data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":89}}

    event: message_stop
    data: {"type":"message_stop"}


    """

@Suite struct AnthropicOutboundTests {
    /// Reassembles canonical chunks the way an OpenAI client does (tool calls by index).
    struct Assembled: Equatable {
        var text = ""
        var tools: [Int: (id: String, name: String, arguments: String)] = [:]
        var finish: String?
        var usage: JSONValue?
        var done = false
        static func == (lhs: Assembled, rhs: Assembled) -> Bool {
            lhs.text == rhs.text && lhs.finish == rhs.finish && lhs.usage == rhs.usage && lhs.done == rhs.done
                && lhs.tools.keys.sorted() == rhs.tools.keys.sorted()
                && lhs.tools.keys.allSatisfy { lhs.tools[$0]! == rhs.tools[$0]! }
        }
    }

    func assemble(_ output: ByteBuffer) throws -> Assembled {
        var result = Assembled()
        var parser = SSEParser()
        try parser.feed(output) { event in
            if event.dataString == "[DONE]" {
                result.done = true
                return
            }
            let chunk = try JSONValue.parse(event.data)
            if let usage = chunk["usage"], !usage.isNull { result.usage = usage }
            guard let choice = chunk["choices"]?.arrayValue?.first else { return }
            result.text += choice["delta"]?["content"]?.stringValue ?? ""
            for call in choice["delta"]?["tool_calls"]?.arrayValue ?? [] {
                let index = call["index"]?.intValue ?? -1
                var entry = result.tools[index] ?? ("", "", "")
                if let id = call["id"]?.stringValue, !id.isEmpty { entry.id = id }
                if let name = call["function"]?["name"]?.stringValue, !name.isEmpty { entry.name = name }
                entry.arguments += call["function"]?["arguments"]?.stringValue ?? ""
                result.tools[index] = entry
            }
            if let finish = choice["finish_reason"]?.stringValue { result.finish = finish }
        }
        return result
    }

    func decode(_ pieces: [ByteBuffer]) throws -> ByteBuffer {
        var decoder = AnthropicStreamDecoder()
        var output = ByteBuffer()
        for piece in pieces { try decoder.feed(piece, into: &output) }
        return output
    }

    /// Text deltas are copied into canonical chunks from their bytes (no parse tree): the chunk
    /// must be the one the canonical builder writes, and escapes as sent must keep their text.
    @Test func textDeltasAreCopiedIntoTheChunksTheBuilderWrites() throws {
        let stream = """
            event: message_start
            data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-\\"x\\"","content":[],"usage":{"input_tokens":5,"output_tokens":1}}}

            event: content_block_start
            data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

            event: content_block_delta
            data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi \\"there\\"\\n"}}

            event: content_block_delta
            data: {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "caf\\u00e9"}}


            """
        var decoder = AnthropicStreamDecoder(created: 1_700_000_000)
        var output = ByteBuffer()
        try decoder.feed(ByteBuffer(string: stream), into: &output)
        let chunks = CanonicalChunks(id: "chatcmpl-msg_1", model: #"claude-"x""#, created: 1_700_000_000)
        var expected = ByteBuffer()
        CanonicalChunks.write(chunks.chunk(["role": "assistant", "content": ""]), into: &expected)
        CanonicalChunks.write(chunks.chunk(["content": "Hi \"there\"\n"]), into: &expected)
        let text = String(buffer: output)
        #expect(text.hasPrefix(String(buffer: expected)))
        let result = try assemble(output)
        #expect(result.text == "Hi \"there\"\ncafé")
    }

    @Test func decodesTheDocumentedToolStream() throws {
        let result = try assemble(try decode([ByteBuffer(string: anthropicToolStreamFixture)]))
        #expect(result.text == "Okay, let's check the weather.")
        #expect(result.tools.count == 1)
        #expect(result.tools[0]?.id == "toolu_01T1x1fJ34qAmk2tNTrN7Up6")
        #expect(result.tools[0]?.name == "get_weather")
        #expect(try JSONValue.parse(result.tools[0]?.arguments ?? "") == ["location": "San Francisco, CA"])
        #expect(result.finish == "tool_calls")
        #expect(result.usage?["prompt_tokens"]?.intValue == 472)
        #expect(result.usage?["completion_tokens"]?.intValue == 89)
        #expect(result.done)
    }

    @Test func decodingIsIndependentOfWhereTheBytesAreSplit() throws {
        let bytes = Array(anthropicToolStreamFixture.utf8)
        let whole = try assemble(try decode([ByteBuffer(bytes: bytes)]))
        for split in stride(from: 1, to: bytes.count, by: 1) {
            let pieces = [ByteBuffer(bytes: bytes[..<split]), ByteBuffer(bytes: bytes[split...])]
            #expect(try assemble(try decode(pieces)) == whole, "split at \(split)")
        }
    }

    @Test func roundTripThroughTheAnthropicDialectKeepsToolCallsTextAndUsage() throws {
        // Canonical chunks → Anthropic events (the encoder) → canonical chunks (the decoder).
        var encoder = AnthropicStreamEncoder(requestID: "req_rt")
        var anthropic = ByteBuffer()
        let chunks: [JSONValue] = [
            ["model": "m", "choices": [["index": 0, "delta": ["role": "assistant", "content": ""], "finish_reason": nil]]],
            ["model": "m", "choices": [["index": 0, "delta": ["content": "Let me look."], "finish_reason": nil]]],
            [
                "model": "m",
                "choices": [
                    [
                        "index": 0, "delta": ["tool_calls": [["index": 0, "id": "c0", "function": ["name": "a", "arguments": "{\"x\":"]]]],
                        "finish_reason": nil,
                    ]
                ],
            ],
            [
                "model": "m",
                "choices": [
                    [
                        "index": 0, "delta": ["tool_calls": [["index": 1, "id": "c1", "function": ["name": "b", "arguments": "{}"]]]],
                        "finish_reason": nil,
                    ]
                ],
            ],
            [
                "model": "m",
                "choices": [["index": 0, "delta": ["tool_calls": [["index": 0, "function": ["arguments": "1}"]]]], "finish_reason": nil]],
            ],
            ["model": "m", "choices": [["index": 0, "delta": [:], "finish_reason": "tool_calls"]]],
        ]
        for chunk in chunks { encoder.chunk(chunk, into: &anthropic) }
        encoder.finish(usage: TokenUsage(promptTokens: 30, completionTokens: 5, cachedPromptTokens: 10), into: &anthropic)
        let result = try assemble(try decode([anthropic]))
        #expect(result.text == "Let me look.")
        #expect(result.tools[0]?.name == "a")
        #expect(try JSONValue.parse(result.tools[0]?.arguments ?? "") == ["x": 1])
        #expect(result.tools[1]?.name == "b")
        #expect(result.tools[1]?.id == "c1")
        #expect(result.finish == "tool_calls")
        #expect(result.usage?["prompt_tokens"]?.intValue == 30)
        #expect(result.usage?["prompt_tokens_details"]?["cached_tokens"]?.intValue == 10)
        #expect(result.usage?["completion_tokens"]?.intValue == 5)
    }

    @Test func canonicalRequestBecomesAnAnthropicRequest() throws {
        let body = #"""
            {"model":"claude","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":[{"type":"text","text":"What is this?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]},
             {"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"look","arguments":"{\"q\":1}"}}]},
             {"role":"tool","tool_call_id":"c1","content":"a cat"},{"role":"tool","tool_call_id":"c2","content":"a hat"}],
             "max_completion_tokens":50,"stop":"END","stream":true,"tools":[{"type":"function","function":{"name":"look","parameters":{"type":"object"}}}],
             "tool_choice":"required","parallel_tool_calls":false,"user":"u"}
            """#
        let request = try AnthropicOutbound.request(fromOpenAI: Array(body.utf8))
        #expect(request["system"]?.stringValue == "Be brief.")
        #expect(request["max_tokens"]?.intValue == 50)
        #expect(request["stop_sequences"] == ["END"])
        #expect(request["stream"]?.boolValue == true)
        let messages = try #require(request["messages"]?.arrayValue)
        #expect(messages.map { $0["role"]?.stringValue } == ["user", "assistant", "user"])
        #expect(messages[0]["content"]?.arrayValue?[1]["source"]?["media_type"]?.stringValue == "image/png")
        #expect(messages[1]["content"]?.arrayValue?.first?["input"] == ["q": 1])
        #expect(messages[2]["content"]?.arrayValue?.count == 2, "consecutive tool results merge into one user turn")
        #expect(request["tools"]?.arrayValue?.first?["input_schema"]?["type"]?.stringValue == "object")
        #expect(request["tool_choice"]?["type"]?.stringValue == "any")
        #expect(request["tool_choice"]?["disable_parallel_tool_use"]?.boolValue == true)
        #expect(request["metadata"]?["user_id"]?.stringValue == "u")
    }

    @Test func anthropicMessageBecomesACompletionWithNormalisedUsage() throws {
        let message =
            #"{"id":"msg_1","type":"message","role":"assistant","model":"claude","content":[{"type":"text","text":"Hi"},{"type":"tool_use","id":"t1","name":"f","input":{"a":1}}],"stop_reason":"tool_use","usage":{"input_tokens":5,"cache_read_input_tokens":7,"cache_creation_input_tokens":3,"output_tokens":4}}"#
        let completion = try AnthropicOutbound.completion(fromAnthropic: Array(message.utf8))
        let choice = try #require(completion["choices"]?.arrayValue?.first)
        #expect(choice["message"]?["content"]?.stringValue == "Hi")
        #expect(choice["message"]?["tool_calls"]?.arrayValue?.first?["function"]?["arguments"]?.stringValue == #"{"a":1}"#)
        #expect(choice["finish_reason"]?.stringValue == "tool_calls")
        #expect(completion["usage"]?["prompt_tokens"]?.intValue == 15)
        #expect(completion["usage"]?["prompt_tokens_details"]?["cached_tokens"]?.intValue == 7)
        #expect(completion["usage"]?["completion_tokens"]?.intValue == 4)
    }
}

import NIOCore
import Testing

@testable import SwitchyardCore

@Suite struct AnthropicRequestTranslationTests {
    func translate(_ text: String) throws(GatewayError) -> AnthropicRequestTranslator.Translated {
        try AnthropicRequestTranslator.translate(Array(text.utf8))
    }

    @Test func mapsSystemToolsToolChoiceAndStops() throws {
        let translated = try translate(
            #"""
            {"model":"m","max_tokens":64,"system":[{"type":"text","text":"Be brief."}],"stream":true,
             "stop_sequences":["###"],"metadata":{"user_id":"u-1"},
             "tools":[{"name":"get_weather","description":"d","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}}],
             "tool_choice":{"type":"tool","name":"get_weather","disable_parallel_tool_use":true},
             "messages":[{"role":"user","content":"Hi"}]}
            """#
        )
        let body = translated.body
        #expect(translated.stream)
        #expect(body["messages"]?.arrayValue?.first?["role"]?.stringValue == "system")
        #expect(body["messages"]?.arrayValue?.first?["content"]?.stringValue == "Be brief.")
        #expect(body["max_tokens"]?.intValue == 64)
        #expect(body["stop"]?.arrayValue?.first?.stringValue == "###")
        #expect(body["user"]?.stringValue == "u-1")
        #expect(body["tools"]?.arrayValue?.first?["function"]?["name"]?.stringValue == "get_weather")
        #expect(body["tools"]?.arrayValue?.first?["function"]?["parameters"]?["type"]?.stringValue == "object")
        #expect(body["tool_choice"]?["function"]?["name"]?.stringValue == "get_weather")
        #expect(body["parallel_tool_calls"]?.boolValue == false)
    }

    @Test func toolUseAndToolResultBecomeToolCallsAndToolMessages() throws {
        let translated = try translate(
            #"""
            {"model":"m","max_tokens":10,"messages":[
              {"role":"user","content":"Weather?"},
              {"role":"assistant","content":[{"type":"thinking","thinking":"hmm","signature":"s"},{"type":"text","text":"Checking."},
                {"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}}]},
              {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":[{"type":"text","text":"sunny"}]},
                {"type":"text","text":"Thanks"}]}
            ]}
            """#
        )
        let messages = try #require(translated.body["messages"]?.arrayValue)
        #expect(messages.map { $0["role"]?.stringValue } == ["user", "assistant", "tool", "user"])
        let call = try #require(messages[1]["tool_calls"]?.arrayValue?.first)
        #expect(messages[1]["content"]?.stringValue == "Checking.")
        #expect(call["id"]?.stringValue == "toolu_1")
        #expect(try JSONValue.parse(call["function"]?["arguments"]?.stringValue ?? "") == ["city": "Paris"])
        #expect(messages[2]["tool_call_id"]?.stringValue == "toolu_1")
        #expect(messages[2]["content"]?.stringValue == "sunny")
        #expect(messages[3]["content"]?.stringValue == "Thanks")
    }

    @Test func imagesBecomeDataURLParts() throws {
        let translated = try translate(
            #"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AAAA"}},{"type":"text","text":"What?"}]}]}"#
        )
        let parts = try #require(translated.body["messages"]?.arrayValue?.first?["content"]?.arrayValue)
        #expect(parts[0]["image_url"]?["url"]?.stringValue == "data:image/png;base64,AAAA")
        #expect(parts[1]["text"]?.stringValue == "What?")
    }

    @Test func refusesWhatTheCanonicalFormCannotCarry() {
        let cases: [(String, String)] = [
            (#"{"model":"m","messages":[{"role":"user","content":"x"}]}"#, "max_tokens"),
            (#"{"model":"m","max_tokens":1,"messages":[{"role":"system","content":"x"}]}"#, "role"),
            (#"{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"document"}]}]}"#, "document"),
            (
                #"{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"}],"tools":[{"type":"web_search_20250305","name":"web_search"}]}"#,
                "web_search"
            ),
            (#"{"model":"m","max_tokens":"many","messages":[{"role":"user","content":"x"}]}"#, "max_tokens"),
        ]
        for (body, mention) in cases {
            do {
                _ = try translate(body)
                Issue.record("accepted \(body)")
            } catch {
                #expect(error.status == 400)
                #expect(error.message.contains(mention) || error.param?.contains(mention) == true, "\(error.message)")
            }
        }
    }
}

@Suite struct AnthropicStreamEncoderTests {
    struct Event {
        var type: String
        var data: JSONValue
    }

    func events(_ buffer: ByteBuffer) throws -> [Event] {
        var parser = SSEParser()
        var result: [Event] = []
        try parser.feed(buffer) { event in
            result.append(Event(type: event.event ?? "", data: (try? JSONValue.parse(event.data)) ?? .null))
        }
        return result
    }

    static func chunk(content: String? = nil, tool: (index: Int, id: String?, name: String?, arguments: String)? = nil, finish: String? = nil)
        -> JSONValue
    {
        var delta = JSONObject()
        if let content { delta["content"] = .string(content) }
        if let tool {
            var call: JSONObject = ["index": JSONValue(tool.index)]
            if let id = tool.id { call["id"] = .string(id) }
            var function: JSONObject = ["arguments": .string(tool.arguments)]
            if let name = tool.name { function["name"] = .string(name) }
            call["function"] = .object(function)
            delta["tool_calls"] = [.object(call)]
        }
        return ["model": "m", "choices": [["index": 0, "delta": .object(delta), "finish_reason": finish.map(JSONValue.string) ?? .null]]]
    }

    /// Checks Anthropic's stream invariants and returns the reassembled content.
    func validate(_ events: [Event]) -> (text: String, tools: [(String, JSONValue)], stop: String?) {
        #expect(events.first?.type == "message_start")
        #expect(events.filter { $0.type == "message_start" }.count == 1)
        #expect(events.last?.type == "message_stop")
        var open: Int?
        var expectedIndex = 0
        var text = ""
        var tools: [(String, String)] = []
        var stop: String?
        for event in events {
            switch event.type {
            case "content_block_start":
                #expect(open == nil, "blocks must not overlap")
                #expect(event.data["index"]?.intValue == expectedIndex)
                open = event.data["index"]?.intValue
                expectedIndex += 1
                if event.data["content_block"]?["type"]?.stringValue == "tool_use" {
                    tools.append((event.data["content_block"]?["name"]?.stringValue ?? "", ""))
                }
            case "content_block_delta":
                #expect(event.data["index"]?.intValue == open)
                if let piece = event.data["delta"]?["text"]?.stringValue { text += piece }
                if let piece = event.data["delta"]?["partial_json"]?.stringValue { tools[tools.count - 1].1 += piece }
            case "content_block_stop":
                #expect(event.data["index"]?.intValue == open)
                open = nil
            case "message_delta":
                stop = event.data["delta"]?["stop_reason"]?.stringValue
            default:
                break
            }
        }
        #expect(open == nil)
        return (text, tools.map { ($0.0, (try? JSONValue.parse($0.1)) ?? .null) }, stop)
    }

    @Test func textStreamHasTheExactEventSequence() throws {
        var encoder = AnthropicStreamEncoder(requestID: "req_1")
        var output = ByteBuffer()
        encoder.chunk(Self.chunk(content: ""), into: &output)
        encoder.chunk(Self.chunk(content: "Hel"), into: &output)
        encoder.chunk(Self.chunk(content: "lo"), into: &output)
        encoder.chunk(Self.chunk(finish: "length"), into: &output)
        encoder.finish(usage: TokenUsage(promptTokens: 10, completionTokens: 2, cachedPromptTokens: 4), into: &output)
        let parsed = try events(output)
        #expect(
            parsed.map(\.type) == [
                "message_start", "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop", "message_delta",
                "message_stop",
            ])
        let result = validate(parsed)
        #expect(result.text == "Hello")
        #expect(result.stop == "max_tokens")
        let usage = try #require(parsed.first { $0.type == "message_delta" }?.data["usage"])
        #expect(usage["input_tokens"]?.intValue == 6)
        #expect(usage["cache_read_input_tokens"]?.intValue == 4)
        #expect(usage["output_tokens"]?.intValue == 2)
    }

    @Test func interleavedParallelToolCallsAreJoinedByIndex() throws {
        // Fragments of two calls arrive interleaved, ids only on the first fragment, plus text.
        let fragments: [(Int, String?, String?, String)] = [
            (0, "call_a", "get_weather", ""), (1, "call_b", "get_time", ""), (0, nil, nil, "{\"ci"), (1, nil, nil, "{\"zone\":"),
            (0, nil, nil, "ty\":\"Paris\"}"), (1, nil, nil, "\"UTC\"}"),
        ]
        for seed in 0..<20 {
            var generator = SeededGenerator(seed: UInt64(seed))
            var order = fragments
            // Keep each call's fragments in order but interleave the two calls randomly.
            order = interleave(order.filter { $0.0 == 0 }, order.filter { $0.0 == 1 }, using: &generator)
            var encoder = AnthropicStreamEncoder(requestID: "req_1")
            var output = ByteBuffer()
            encoder.chunk(Self.chunk(content: "Checking."), into: &output)
            for fragment in order {
                encoder.chunk(Self.chunk(tool: (fragment.0, fragment.1, fragment.2, fragment.3)), into: &output)
            }
            encoder.chunk(Self.chunk(finish: "tool_calls"), into: &output)
            encoder.finish(usage: nil, into: &output)
            let result = validate(try events(output))
            #expect(result.text == "Checking.")
            #expect(result.tools.map(\.0) == ["get_weather", "get_time"])
            #expect(result.tools[0].1 == ["city": "Paris"])
            #expect(result.tools[1].1 == ["zone": "UTC"])
            #expect(result.stop == "tool_use")
        }
    }

    @Test func stopReasonIsToolUseWheneverAToolWasCalled() throws {
        var encoder = AnthropicStreamEncoder(requestID: "req_1")
        var output = ByteBuffer()
        encoder.chunk(Self.chunk(tool: (0, "c", "f", "{}")), into: &output)
        encoder.chunk(Self.chunk(finish: "stop"), into: &output)
        encoder.finish(usage: nil, into: &output)
        #expect(validate(try events(output)).stop == "tool_use")
    }

    @Test func errorEventIsAnthropicShaped() throws {
        var output = ByteBuffer()
        AnthropicStreamEncoder.writeError(.unavailable("busy", code: .upstreamOverloaded), into: &output)
        let parsed = try events(output)
        #expect(parsed.first?.type == "error")
        #expect(parsed.first?.data["error"]?["type"]?.stringValue == "overloaded_error")
    }

    /// The relay re-encodes text-only chunks from their bytes (no parse tree): its output must
    /// be the bytes the encoder writes from parsed chunks, and escapes kept as sent must decode
    /// to the same text.
    @Test func textChunksReEncodedFromTheirBytesMatchTheParsedPath() throws {
        let texts = ["", "Hel", "lo \"quoted\" \\ back\nslash", "é 😀 ü", "tab\tend"]
        func event(_ chunk: JSONValue) -> String { "data: " + chunk.serialized() + "\n\n" }
        var upstream = texts.map { event(Self.chunk(content: $0)) }.joined()
        // A role member beside content and explicit nulls keep the fast path; a finish reason does not.
        upstream += #"data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"!","refusal":null},"logprobs":null,"finish_reason":null}]}"# + "\n\n"
        upstream += event(Self.chunk(content: "last", finish: "stop"))
        upstream += "data: [DONE]\n\n"
        var relay = OpenAIStreamRelay(forwardUsageChunk: false, provider: "p")
        relay.encoder = .anthropic(AnthropicStreamEncoder(requestID: "req_1"))
        var relayed = ByteBuffer()
        relay.consume(ByteBuffer(string: upstream), into: &relayed)
        relay.writeClientEnd(into: &relayed)

        var encoder = AnthropicStreamEncoder(requestID: "req_1")
        var expected = ByteBuffer()
        for text in texts { encoder.chunk(Self.chunk(content: text), into: &expected) }
        encoder.chunk(try JSONValue.parse(#"{"choices":[{"index":0,"delta":{"role":"assistant","content":"!"},"finish_reason":null}]}"#), into: &expected)
        encoder.chunk(Self.chunk(content: "last", finish: "stop"), into: &expected)
        encoder.finish(usage: nil, into: &expected)
        #expect(String(buffer: relayed) == String(buffer: expected))
        #expect(validate(try events(relayed)).text == texts.joined() + "!last")

        // Escapes the gateway would not write itself pass through as sent and mean the same text.
        var escaped = OpenAIStreamRelay(forwardUsageChunk: false, provider: "p")
        escaped.encoder = .anthropic(AnthropicStreamEncoder(requestID: "req_2"))
        var out = ByteBuffer()
        let raw = event(Self.chunk(content: "")) + #"data: {"choices":[{"index":0,"delta":{"content":"caf\u00e9 \/ \ud83d\ude00"},"finish_reason":null}]}"# + "\n\n"
        escaped.consume(ByteBuffer(string: raw + "data: [DONE]\n\n"), into: &out)
        escaped.writeClientEnd(into: &out)
        #expect(String(buffer: out).contains(#""text":"caf\u00e9 \/ \ud83d\ude00"}"#))
        #expect(validate(try events(out)).text == "café / 😀")
    }

    /// The same for a Responses client: text-only chunks written from their bytes give the
    /// events (sequence numbers included) and the final text the parsed path gives.
    @Test func responsesTextChunksReEncodedFromTheirBytesMatchTheParsedPath() throws {
        let texts = ["", "Hel", "lo \"quoted\"\n", "é 😀"]
        func event(_ chunk: JSONValue) -> String { "data: " + chunk.serialized() + "\n\n" }
        var upstream = texts.map { event(Self.chunk(content: $0)) }.joined()
        upstream += event(Self.chunk(tool: (0, "call_1", "lookup", "{\"q\":")))
        upstream += event(Self.chunk(tool: (0, nil, nil, "\"x\"}")))
        upstream += event(Self.chunk(finish: "tool_calls")) + "data: [DONE]\n\n"
        let envelope = ResponsesEnvelope(requestID: "req_abc123", request: nil, createdAt: 1_700_000_000)
        var relay = OpenAIStreamRelay(forwardUsageChunk: false, provider: "p")
        relay.encoder = .responses(ResponsesStreamEncoder(envelope: envelope))
        var relayed = ByteBuffer()
        relay.consume(ByteBuffer(string: upstream), into: &relayed)
        relay.writeClientEnd(into: &relayed)

        var encoder = ResponsesStreamEncoder(envelope: envelope)
        var expected = ByteBuffer()
        for text in texts { encoder.chunk(Self.chunk(content: text), into: &expected) }
        encoder.chunk(Self.chunk(tool: (0, "call_1", "lookup", "{\"q\":")), into: &expected)
        encoder.chunk(Self.chunk(tool: (0, nil, nil, "\"x\"}")), into: &expected)
        encoder.chunk(Self.chunk(finish: "tool_calls"), into: &expected)
        encoder.finish(usage: nil, into: &expected)
        #expect(String(buffer: relayed) == String(buffer: expected))
        let parsed = try events(relayed)
        let deltas = parsed.filter { $0.type == "response.output_text.delta" }.compactMap { $0.data["delta"]?.stringValue }
        #expect(deltas.joined() == texts.joined())
        #expect(parsed.map { $0.data["sequence_number"]?.intValue ?? -1 } == Array(0..<parsed.count))
        let done = try #require(parsed.last { $0.type == "response.completed" }?.data["response"]?["output"]?.arrayValue)
        #expect(done.contains { $0["type"]?.stringValue == "function_call" && $0["arguments"]?.stringValue == #"{"q":"x"}"# })
    }

    func interleave<T>(_ a: [T], _ b: [T], using generator: inout SeededGenerator) -> [T] {
        var result: [T] = []
        var i = 0
        var j = 0
        while i < a.count || j < b.count {
            if j >= b.count || (i < a.count && Bool.random(using: &generator)) {
                result.append(a[i])
                i += 1
            } else {
                result.append(b[j])
                j += 1
            }
        }
        return result
    }
}

struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    mutating func next() -> UInt64 {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return state ^ (state >> 29)
    }
}

@Suite struct AnthropicResponseTranslationTests {
    @Test func chatCompletionBecomesAMessage() throws {
        let body =
            #"{"id":"x","model":"gpt","choices":[{"index":0,"message":{"role":"assistant","content":"Hi","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":12,"completion_tokens":3,"prompt_tokens_details":{"cached_tokens":2}}}"#
        let message = try AnthropicResponseTranslator.message(fromOpenAI: Array(body.utf8), requestID: "req_abc")
        #expect(message["id"]?.stringValue == "msg_abc")
        #expect(message["content"]?.arrayValue?.count == 2)
        #expect(message["content"]?.arrayValue?[1]["input"] == ["a": 1])
        #expect(message["stop_reason"]?.stringValue == "tool_use")
        #expect(message["usage"]?["input_tokens"]?.intValue == 10)
        #expect(message["usage"]?["cache_read_input_tokens"]?.intValue == 2)
    }

    /// The scanned answer's message is the tree's, byte for byte, for every shape: text answers
    /// are read from the scan, tool calls, reasoning and odd shapes go through the tree.
    @Test(arguments: [
        #"{"id":"x","model":"gpt-\u00e9","choices":[{"index":0,"message":{"role":"assistant","content":"Hi \"you\"\n\u2603"},"finish_reason":"length"}],"usage":{"prompt_tokens":12,"completion_tokens":3,"prompt_tokens_details":{"cached_tokens":2,"cache_creation_tokens":1}}}"#,
        #"{"choices":[{"message":{"role":"assistant","content":""},"finish_reason":"stop"}]}"#,
        #"{"model":null,"choices":[{"message":{"content":null,"refusal":"no"},"finish_reason":"content_filter"}],"usage":{"prompt_tokens":1}}"#,
        #"{"model":"m","choices":[{"message":{"content":"a","tool_calls":[{"id":"c","function":{"name":"f","arguments":"{}"}}]},"finish_reason":"tool_calls"}]}"#,
        #"{"model":"m","choices":[{"message":{"content":"a","reasoning_content":"think"},"finish_reason":"stop"}]}"#,
        #"{"model":"m","choices":[{"message":{"content":"a","tool_calls":null,"reasoning":null},"finish_reason":7}]}"#,
        #"{"model":"m","choices":[1,{"message":{"content":"a"}}]}"#,
        #"{"model":"m","choices":[{"index":0}]}"#,
        #"{"model":"m","model":"n","choices":[{"message":{"content":"a","content":"b"},"finish_reason":"stop","finish_reason":"length"}]}"#,
    ])
    func scannedAnswersTranslateAsTheTreeDoes(_ body: String) throws {
        let bytes = Array(body.utf8)
        let fromTree = try AnthropicResponseTranslator.message(fromOpenAI: bytes, requestID: "req_1")
        let fromScan = try AnthropicResponseTranslator.message(fromOpenAI: try JSONObjectScan(bytes), requestID: "req_1")
        #expect(fromScan.serializedBytes() == fromTree.serializedBytes(), "\(fromScan.serialized())")
    }

    @Test func finishReasonsMapToStopReasons() {
        #expect(AnthropicResponseTranslator.stopReason("stop") == "end_turn")
        #expect(AnthropicResponseTranslator.stopReason("length") == "max_tokens")
        #expect(AnthropicResponseTranslator.stopReason("tool_calls") == "tool_use")
        #expect(AnthropicResponseTranslator.stopReason("content_filter") == "refusal")
    }
}

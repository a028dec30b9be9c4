import NIOCore

/// Turns a canonical (OpenAI) chunk stream into Anthropic Messages stream events.
///
/// A value-type state machine, correct by construction:
/// - exactly one `message_start`, first;
/// - reasoning (`reasoning_content` deltas) streams as `thinking_delta`s in a thinking block
///   that opens before any text; a `thinking_blocks` delta with a signature ends it with a
///   `signature_delta` (a redacted block is sent whole), and text closes it;
/// - text streams live as `text_delta`s in a text block;
/// - tool calls are gathered by their OpenAI `index` (never by id) and each becomes one
///   `tool_use` block, started, filled with its complete `input_json_delta` and stopped, after
///   the text, so blocks never overlap, indexes are the positions in the final content and the
///   concatenated `partial_json` is the whole argument string;
/// - `stop_reason` is `tool_use` whenever a tool block was sent;
/// - the end is `message_delta` (stop reason and usage) then `message_stop`; a failure is an
///   `error` event instead.
public struct AnthropicStreamEncoder: Sendable {
    struct ToolCall: Sendable {
        var id: String?
        var name: String?
        var arguments: String = ""
    }

    let messageID: String
    var started = false
    var nextBlockIndex = 0
    var openTextBlock: Int?
    var openThinkingBlock: Int?
    var toolCalls: [Int: ToolCall] = [:]
    var finishReason: String?
    var model: String?

    public init(requestID: String) {
        self.messageID = AnthropicResponseTranslator.messageID(requestID)
    }

    static func write(_ type: String, _ payload: JSONObject, into output: inout ByteBuffer) {
        NamedEvents.write(type, payload, into: &output)
    }

    mutating func start(model: String?, into output: inout ByteBuffer) {
        guard !started else { return }
        started = true
        Self.write(
            "message_start",
            [
                "message": [
                    "id": .string(messageID), "type": "message", "role": "assistant", "model": .string(model ?? "unknown"),
                    "content": [], "stop_reason": .null, "stop_sequence": .null,
                    "usage": ["input_tokens": 0, "output_tokens": 0],
                ]
            ],
            into: &output
        )
    }

    /// Consumes one OpenAI `chat.completion.chunk`.
    public mutating func chunk(_ chunk: JSONValue, into output: inout ByteBuffer) {
        if model == nil { model = chunk["model"]?.stringValue }
        start(model: model, into: &output)
        guard let choice = chunk["choices"]?.arrayValue?.first else { return }
        let delta = choice["delta"]
        if let reasoning = delta?["reasoning_content"]?.stringValue ?? delta?["reasoning"]?.stringValue, !reasoning.isEmpty {
            let index = openThinking(into: &output)
            Self.write(
                "content_block_delta", ["index": JSONValue(index), "delta": ["type": "thinking_delta", "thinking": .string(reasoning)]],
                into: &output)
        }
        for block in delta?["thinking_blocks"]?.arrayValue ?? [] {
            switch block["type"]?.stringValue {
            case "thinking":
                guard let signature = block["signature"]?.stringValue, !signature.isEmpty else { continue }
                let index = openThinking(into: &output)
                Self.write(
                    "content_block_delta", ["index": JSONValue(index), "delta": ["type": "signature_delta", "signature": .string(signature)]],
                    into: &output)
                closeThinking(into: &output)
            case "redacted_thinking":
                closeThinking(into: &output)
                let index = nextBlockIndex
                nextBlockIndex += 1
                Self.write(
                    "content_block_start",
                    ["index": JSONValue(index), "content_block": ["type": "redacted_thinking", "data": block["data"] ?? ""]], into: &output)
                Self.write("content_block_stop", ["index": JSONValue(index)], into: &output)
            default:
                continue
            }
        }
        if let text = delta?["content"]?.stringValue, !text.isEmpty {
            textDelta(JSONWriter.quoted(text)[...], into: &output)
        }
        for call in delta?["tool_calls"]?.arrayValue ?? [] {
            let index = call["index"]?.intValue ?? 0
            // Modified in place: a copy taken out of the dictionary would copy the arguments at
            // every fragment.
            if let id = call["id"]?.stringValue, !id.isEmpty { toolCalls[index, default: ToolCall()].id = id }
            if let name = call["function"]?["name"]?.stringValue, !name.isEmpty { toolCalls[index, default: ToolCall()].name = name }
            toolCalls[index, default: ToolCall()].arguments += call["function"]?["arguments"]?.stringValue ?? ""
        }
        if let reason = choice["finish_reason"]?.stringValue { finishReason = reason }
    }

    /// Streams text into the open text block (opened first when none is). `rawText` is a JSON
    /// string literal, quotes included: a chunk's `content` as received, so the hot path copies
    /// it instead of decoding and re-escaping it.
    mutating func textDelta(_ rawText: ArraySlice<UInt8>, into output: inout ByteBuffer) {
        closeThinking(into: &output)
        let index: Int
        if let open = openTextBlock {
            index = open
        } else {
            index = nextBlockIndex
            openTextBlock = index
            nextBlockIndex += 1
            Self.write("content_block_start", ["index": JSONValue(index), "content_block": ["type": "text", "text": ""]], into: &output)
        }
        output.writeStaticString("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":")
        output.writeString(String(index))
        output.writeStaticString(",\"delta\":{\"type\":\"text_delta\",\"text\":")
        output.writeBytes(rawText)
        output.writeStaticString("}}\n\n")
    }

    /// The open thinking block's index, opening one when none is.
    mutating func openThinking(into output: inout ByteBuffer) -> Int {
        if let open = openThinkingBlock { return open }
        // Blocks never overlap: text before this reasoning (interleaved thinking) ends first.
        if let text = openTextBlock {
            Self.write("content_block_stop", ["index": JSONValue(text)], into: &output)
            openTextBlock = nil
        }
        let index = nextBlockIndex
        nextBlockIndex += 1
        openThinkingBlock = index
        Self.write(
            "content_block_start", ["index": JSONValue(index), "content_block": ["type": "thinking", "thinking": "", "signature": ""]],
            into: &output)
        return index
    }

    mutating func closeThinking(into output: inout ByteBuffer) {
        guard let open = openThinkingBlock else { return }
        Self.write("content_block_stop", ["index": JSONValue(open)], into: &output)
        openThinkingBlock = nil
    }

    /// Ends a successful stream: text block closed, tool blocks sent, message_delta, message_stop.
    public mutating func finish(usage: TokenUsage?, into output: inout ByteBuffer) {
        start(model: model, into: &output)
        closeThinking(into: &output)
        if let open = openTextBlock {
            Self.write("content_block_stop", ["index": JSONValue(open)], into: &output)
            openTextBlock = nil
        }
        for index in toolCalls.keys.sorted() {
            let call = toolCalls[index]!
            let blockIndex = nextBlockIndex
            nextBlockIndex += 1
            Self.write(
                "content_block_start",
                [
                    "index": JSONValue(blockIndex),
                    "content_block": [
                        "type": "tool_use", "id": .string(call.id ?? "toolu_\(blockIndex)"), "name": .string(call.name ?? ""),
                        "input": .object(JSONObject()),
                    ],
                ],
                into: &output
            )
            let input = AnthropicResponseTranslator.toolInput(call.arguments)
            Self.write(
                "content_block_delta",
                ["index": JSONValue(blockIndex), "delta": ["type": "input_json_delta", "partial_json": .string(input.serialized())]],
                into: &output
            )
            Self.write("content_block_stop", ["index": JSONValue(blockIndex)], into: &output)
        }
        let stop = toolCalls.isEmpty ? AnthropicResponseTranslator.stopReason(finishReason) : "tool_use"
        Self.write(
            "message_delta",
            ["delta": ["stop_reason": .string(stop), "stop_sequence": .null], "usage": .object(AnthropicResponseTranslator.usage(usage))],
            into: &output
        )
        Self.write("message_stop", [:], into: &output)
    }

    /// Ends a failed stream with Anthropic's `error` event.
    public static func writeError(_ error: GatewayError, into output: inout ByteBuffer) {
        let envelope = AnthropicResponseTranslator.errorEnvelope(error)
        write("error", ["error": envelope["error"]!], into: &output)
    }
}

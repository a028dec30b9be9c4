import SwitchyardCore
import NIOCore

/// Canonical (OpenAI) requests → the Anthropic Messages API, and its answers back.
///
/// Used by the Anthropic provider adapter so the gateway pipeline keeps working on canonical
/// bytes whatever the provider speaks.
public enum AnthropicOutbound {
    /// Anthropic requires `max_tokens`; used when the client did not say.
    public static let defaultMaxTokens = 4096

    /// Builds the Anthropic request body from a canonical chat completion request.
    public static func request(fromOpenAI bytes: [UInt8]) throws(GatewayError) -> JSONValue {
        guard let request = (try? JSONValue.parse(bytes))?.objectValue else {
            throw GatewayError.invalidJSON("the body must be a JSON object")
        }
        var output = JSONObject()
        output["model"] = request["model"] ?? ""
        var system: [String] = []
        // Anthropic wants alternating turns: consecutive turns of the same role merge.
        var messages = MergedTurns()
        for (index, message) in (request["messages"]?.arrayValue ?? []).enumerated() {
            let role = message["role"]?.stringValue ?? ""
            let content = message["content"]
            switch role {
            case "system", "developer":
                if let text = content?.stringValue { system.append(text) }
                for part in content?.arrayValue ?? [] { if let text = part["text"]?.stringValue { system.append(text) } }
            case "user":
                messages.append("user", try blocks(from: content, field: "messages[\(index)].content"))
            case "assistant":
                // Signed reasoning from an earlier answer goes back first, as Anthropic requires.
                var assistantBlocks = thinkingBlocks(message["thinking_blocks"])
                assistantBlocks += try blocks(from: content, field: "messages[\(index)].content")
                for call in message["tool_calls"]?.arrayValue ?? [] {
                    let arguments = call["function"]?["arguments"]?.stringValue ?? "{}"
                    assistantBlocks.append([
                        "type": "tool_use", "id": call["id"] ?? "", "name": call["function"]?["name"] ?? "",
                        "input": AnthropicResponseTranslator.toolInput(arguments),
                    ])
                }
                messages.append("assistant", assistantBlocks)
            case "tool":
                let text = content?.stringValue ?? content?.arrayValue?.compactMap { $0["text"]?.stringValue }.joined(separator: "\n") ?? ""
                messages.append("user", [["type": "tool_result", "tool_use_id": message["tool_call_id"] ?? "", "content": .string(text)]])
            default:
                throw GatewayError.invalidRequest("messages[\(index)].role '\(role)' is not supported.", param: "messages[\(index)].role")
            }
        }
        if !system.isEmpty { output["system"] = .string(system.joined(separator: "\n")) }
        output["messages"] = messages.json(itemsKey: "content")
        output["max_tokens"] = request["max_completion_tokens"] ?? request["max_tokens"] ?? JSONValue(defaultMaxTokens)
        for name in ["temperature", "top_p", "top_k", "stream"] where request[name] != nil && request[name]?.isNull == false {
            output[name] = request[name]
        }
        if let stops = CanonicalChat.stopSequences(request) { output["stop_sequences"] = stops }
        if let user = request["user"]?.stringValue { output["metadata"] = ["user_id": .string(user)] }
        // Extended thinking: Anthropic's own `thinking` parameter, or `reasoning_effort` as a budget.
        if let thinking = request["thinking"], thinking.objectValue != nil {
            output["thinking"] = thinking
        } else if let budget = CanonicalChat.anthropicThinkingBudget(request["reasoning_effort"]?.stringValue) {
            output["thinking"] = ["type": "enabled", "budget_tokens": JSONValue(budget)]
        }
        if let budget = output["thinking"]?["budget_tokens"]?.intValue, let maxTokens = output["max_tokens"]?.intValue, maxTokens <= budget {
            // max_tokens must exceed the thinking budget: the client's limit applies to the answer.
            output["max_tokens"] = JSONValue(budget + maxTokens)
        }
        if let tools = request["tools"]?.arrayValue, !tools.isEmpty {
            output["tools"] = .array(
                tools.compactMap { tool in
                    guard let function = tool["function"], let name = function["name"]?.stringValue else { return nil }
                    var entry: JSONObject = ["name": .string(name)]
                    if let description = function["description"]?.stringValue { entry["description"] = .string(description) }
                    entry["input_schema"] = function["parameters"] ?? ["type": "object", "properties": .object(JSONObject())]
                    return .object(entry)
                }
            )
        }
        var choice: JSONObject?
        switch request["tool_choice"] {
        case .string("auto"): choice = ["type": "auto"]
        case .string("required"): choice = ["type": "any"]
        case .string("none"): choice = ["type": "none"]
        case .object(let object):
            if let name = object["function"]?["name"]?.stringValue { choice = ["type": "tool", "name": .string(name)] }
        default: break
        }
        if request["parallel_tool_calls"]?.boolValue == false, output["tools"] != nil {
            if choice == nil { choice = ["type": "auto"] }
            choice?["disable_parallel_tool_use"] = true
        }
        if let choice, output["tools"] != nil { output["tool_choice"] = .object(choice) }
        if let mock = request["mock"] { output["mock"] = mock }
        return .object(output)
    }

    /// Canonical `thinking_blocks` → Anthropic blocks; only signed ones (and redacted ones)
    /// go: Anthropic refuses reasoning it did not sign, such as another model's.
    public static func thinkingBlocks(_ value: JSONValue?) -> [JSONValue] {
        (value?.arrayValue ?? []).compactMap { block in
            switch block["type"]?.stringValue {
            case "thinking":
                guard let signature = block["signature"]?.stringValue, !signature.isEmpty else { return nil }
                return ["type": "thinking", "thinking": block["thinking"] ?? "", "signature": .string(signature)]
            case "redacted_thinking":
                guard let data = block["data"]?.stringValue, !data.isEmpty else { return nil }
                return ["type": "redacted_thinking", "data": .string(data)]
            default:
                return nil
            }
        }
    }

    static func blocks(from content: JSONValue?, field: String) throws(GatewayError) -> [JSONValue] {
        guard let content, !content.isNull else { return [] }
        if let text = content.stringValue { return text.isEmpty ? [] : [["type": "text", "text": .string(text)]] }
        guard let parts = content.arrayValue else {
            throw GatewayError.invalidType(field: field, expected: "a string or an array of content parts", found: content.typeName)
        }
        var blocks: [JSONValue] = []
        for part in parts {
            switch part["type"]?.stringValue {
            case "text":
                blocks.append(["type": "text", "text": part["text"] ?? ""])
            case "image_url":
                let url = part["image_url"]?["url"]?.stringValue ?? ""
                if url.hasPrefix("data:"), let comma = url.firstIndex(of: ","), url[..<comma].hasSuffix(";base64") {
                    let mediaType = String(url.dropFirst(5).prefix(while: { $0 != ";" }))
                    blocks.append([
                        "type": "image",
                        "source": ["type": "base64", "media_type": .string(mediaType), "data": .string(String(url[url.index(after: comma)...]))],
                    ])
                } else {
                    blocks.append(["type": "image", "source": ["type": "url", "url": .string(url)]])
                }
            default:
                throw GatewayError.invalidRequest(
                    "\(field): content parts of type '\(part["type"]?.stringValue ?? "none")' cannot be sent to Anthropic models.",
                    param: field,
                    code: .unsupportedContent
                )
            }
        }
        return blocks
    }

    /// Anthropic `stop_reason` → OpenAI `finish_reason`.
    public static func finishReason(_ stopReason: String?) -> String {
        switch stopReason {
        case "max_tokens": "length"
        case "tool_use": "tool_calls"
        case "refusal": "content_filter"
        default: "stop"
        }
    }

    /// Anthropic usage → OpenAI usage (prompt tokens include cache reads and writes).
    public static func usage(_ usage: JSONValue?) -> JSONValue {
        let input = usage?["input_tokens"]?.intValue ?? 0
        let cacheRead = usage?["cache_read_input_tokens"]?.intValue ?? 0
        let cacheWrite = usage?["cache_creation_input_tokens"]?.intValue ?? 0
        let output = usage?["output_tokens"]?.intValue ?? 0
        let prompt = input + cacheRead + cacheWrite
        return [
            "prompt_tokens": JSONValue(prompt), "completion_tokens": JSONValue(output), "total_tokens": JSONValue(prompt + output),
            "prompt_tokens_details": ["cached_tokens": JSONValue(cacheRead), "cache_creation_tokens": JSONValue(cacheWrite)],
            "completion_tokens_details": ["reasoning_tokens": 0],
        ]
    }

    /// An Anthropic `message` → an OpenAI `chat.completion`.
    public static func completion(fromAnthropic bytes: [UInt8], created: Int = CanonicalChat.unixTime()) throws(GatewayError) -> JSONValue {
        guard let message = try? JSONValue.parse(bytes), message["type"]?.stringValue == "message" else {
            throw GatewayError.upstreamUnavailable("The provider's response could not be translated.", code: .upstreamInvalidResponse)
        }
        var text = ""
        var toolCalls: [JSONValue] = []
        var reasoning = CanonicalChat.Reasoning()
        for block in message["content"]?.arrayValue ?? [] {
            switch block["type"]?.stringValue {
            case "text": text += block["text"]?.stringValue ?? ""
            case "thinking":
                reasoning.text += block["thinking"]?.stringValue ?? ""
                reasoning.blocks.append(["type": "thinking", "thinking": block["thinking"] ?? "", "signature": block["signature"] ?? ""])
            case "redacted_thinking":
                reasoning.blocks.append(["type": "redacted_thinking", "data": block["data"] ?? ""])
            case "tool_use":
                toolCalls.append([
                    "id": block["id"] ?? "", "type": "function",
                    "function": ["name": block["name"] ?? "", "arguments": .string((block["input"] ?? .object(JSONObject())).serialized())],
                ])
            default: continue
            }
        }
        return CanonicalChat.completion(
            id: message["id"]?.stringValue.map { "chatcmpl-" + $0 } ?? CanonicalChat.uniqueID("chatcmpl-"), created: created,
            model: message["model"] ?? "unknown", text: text,
            toolCalls: toolCalls, finishReason: finishReason(message["stop_reason"]?.stringValue), usage: usage(message["usage"]),
            reasoning: reasoning
        )
    }
}

/// Anthropic Messages stream events → canonical OpenAI chunks (`data: {...}` then `[DONE]`).
///
/// Tool blocks become `tool_calls` deltas whose `index` counts tool blocks only (the first tool
/// is index 0 even after a text block); usage from `message_start` and the cumulative
/// `message_delta` is emitted as the final usage chunk the gateway always asks for. Thinking
/// streams as `reasoning_content` deltas; when a thinking block's signature arrives, one
/// `thinking_blocks` delta carries the whole signed block (a redacted block: its data), so a
/// client that collects them can send them back.
public struct AnthropicStreamDecoder: Sendable {
    var parser = SSEParser()
    var id = CanonicalChat.uniqueID("chatcmpl-")
    var model = "unknown"
    var inputUsage: JSONValue?
    var outputTokens = 0
    var stopReason: String?
    /// Anthropic block index → tool call index.
    var toolIndexes: [Int: Int] = [:]
    /// The thinking text of the block being streamed, for its signed `thinking_blocks` entry.
    var thinkingText = ""
    let created: Int
    public private(set) var finished = false
    /// ``CanonicalChunks/textChunkPrefix()`` for the current id and model.
    var textPrefix: [UInt8]?

    /// `created`: the time of the answer (Unix seconds), the same on every chunk.
    public init(created: Int = CanonicalChat.unixTime()) {
        self.created = created
    }

    /// The raw JSON string of a `content_block_delta` event's `text_delta`, found by a scan.
    static func textDelta(_ data: [UInt8]) -> ArraySlice<UInt8>? {
        guard let scan = try? JSONObjectScan(data), scan.string("type") == "content_block_delta", let delta = scan.nested("delta"),
            delta.string("type") == "text_delta", let text = delta.member("text"), text.kind == .string
        else { return nil }
        return delta.rawValue(text)
    }

    func chunk(_ delta: JSONObject, finish: String? = nil, into output: inout ByteBuffer) {
        write(CanonicalChunks(id: id, model: model, created: created).chunk(delta, finish: finish), into: &output)
    }

    func write(_ value: JSONValue, into output: inout ByteBuffer) { CanonicalChunks.write(value, into: &output) }

    /// Feeds upstream bytes; appends canonical SSE to `output`.
    public mutating func feed(_ bytes: ByteBuffer, into output: inout ByteBuffer) throws {
        var parser = self.parser
        defer { self.parser = parser }
        try parser.feed(bytes) { event in
            handle(event, into: &output)
        }
    }

    mutating func handle(_ event: SSEEvent, into output: inout ByteBuffer) {
        guard !finished else { return }
        if let text = Self.textDelta(event.data) {
            // Nearly every event: its text is copied into the canonical chunk as received.
            if textPrefix == nil { textPrefix = CanonicalChunks(id: id, model: model, created: created).textChunkPrefix() }
            CanonicalChunks.writeTextChunk(prefix: textPrefix!, rawText: text, into: &output)
            return
        }
        guard let data = try? JSONValue.parse(event.data) else { return }
        switch data["type"]?.stringValue ?? event.event {
        case "message_start":
            let message = data["message"]
            if let messageID = message?["id"]?.stringValue { id = "chatcmpl-" + messageID }
            if let name = message?["model"]?.stringValue { model = name }
            textPrefix = nil
            inputUsage = message?["usage"]
            outputTokens = message?["usage"]?["output_tokens"]?.intValue ?? 0
            chunk(["role": "assistant", "content": ""], into: &output)
        case "content_block_start":
            let block = data["content_block"]
            if block?["type"]?.stringValue == "tool_use", let blockIndex = data["index"]?.intValue {
                let toolIndex = toolIndexes.count
                toolIndexes[blockIndex] = toolIndex
                let call: JSONValue = [
                    "index": JSONValue(toolIndex), "id": block?["id"] ?? "", "type": "function",
                    "function": ["name": block?["name"] ?? "", "arguments": ""],
                ]
                chunk(["tool_calls": [call]], into: &output)
            } else if block?["type"]?.stringValue == "thinking" {
                thinkingText = block?["thinking"]?.stringValue ?? ""
                if !thinkingText.isEmpty { chunk(["reasoning_content": .string(thinkingText)], into: &output) }
            } else if block?["type"]?.stringValue == "redacted_thinking" {
                chunk(["thinking_blocks": [["type": "redacted_thinking", "data": block?["data"] ?? ""]]], into: &output)
            } else if let text = block?["text"]?.stringValue, !text.isEmpty {
                chunk(["content": .string(text)], into: &output)
            }
        case "content_block_delta":
            let delta = data["delta"]
            switch delta?["type"]?.stringValue {
            case "text_delta":
                chunk(["content": delta?["text"] ?? ""], into: &output)
            case "input_json_delta":
                guard let blockIndex = data["index"]?.intValue, let toolIndex = toolIndexes[blockIndex] else { return }
                let call: JSONValue = ["index": JSONValue(toolIndex), "function": ["arguments": delta?["partial_json"] ?? ""]]
                chunk(["tool_calls": [call]], into: &output)
            case "thinking_delta":
                let text = delta?["thinking"]?.stringValue ?? ""
                thinkingText += text
                chunk(["reasoning_content": .string(text)], into: &output)
            case "signature_delta":
                let block: JSONValue = ["type": "thinking", "thinking": .string(thinkingText), "signature": delta?["signature"] ?? ""]
                thinkingText = ""
                chunk(["thinking_blocks": [block]], into: &output)
            default:
                return  // citations and future delta types
            }
        case "message_delta":
            if let reason = data["delta"]?["stop_reason"]?.stringValue { stopReason = reason }
            if let tokens = data["usage"]?["output_tokens"]?.intValue { outputTokens = tokens }
            // Counts in message_delta are cumulative: they replace what message_start said.
            var merged = inputUsage?.objectValue ?? JSONObject()
            for field in ["input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"] {
                if let count = data["usage"]?[field]?.intValue, count > 0 { merged[field] = JSONValue(count) }
            }
            inputUsage = .object(merged)
        case "message_stop":
            let finish = toolIndexes.isEmpty ? AnthropicOutbound.finishReason(stopReason) : "tool_calls"
            chunk([:], finish: finish, into: &output)
            var usage = inputUsage?.objectValue ?? JSONObject()
            usage["output_tokens"] = JSONValue(outputTokens)
            CanonicalChunks(id: id, model: model, created: created).writeUsageAndDone(AnthropicOutbound.usage(.object(usage)), into: &output)
            finished = true
        case "error":
            let error = data["error"]
            write(["error": ["message": error?["message"] ?? "provider error", "type": error?["type"] ?? "api_error"]], into: &output)
            finished = true
        default:
            return  // ping and future event types
        }
    }
}

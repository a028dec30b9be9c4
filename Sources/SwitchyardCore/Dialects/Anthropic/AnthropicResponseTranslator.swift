/// Translates canonical (OpenAI) responses, usage and errors into the Anthropic Messages dialect.
public enum AnthropicResponseTranslator {
    /// OpenAI `finish_reason` → Anthropic `stop_reason`.
    public static func stopReason(_ finishReason: String?) -> String {
        switch finishReason {
        case "length": "max_tokens"
        case "tool_calls", "function_call": "tool_use"
        case "content_filter": "refusal"
        default: "end_turn"
        }
    }

    /// Anthropic usage: `input_tokens` excludes cache reads and writes, which are reported apart.
    public static func usage(_ usage: TokenUsage?) -> JSONObject {
        guard let usage else { return ["input_tokens": 0, "output_tokens": 0] }
        var object: JSONObject = [
            "input_tokens": JSONValue(max(0, usage.promptTokens - usage.cachedPromptTokens - usage.cacheWriteTokens)),
            "output_tokens": JSONValue(usage.completionTokens),
        ]
        object["cache_read_input_tokens"] = JSONValue(usage.cachedPromptTokens)
        object["cache_creation_input_tokens"] = JSONValue(usage.cacheWriteTokens)
        return object
    }

    /// Tool arguments arrive as a JSON string; Anthropic wants an object.
    public static func toolInput(_ arguments: String) -> JSONValue {
        if arguments.isEmpty { return .object(JSONObject()) }
        if let value = try? JSONValue.parse(arguments), value.objectValue != nil { return value }
        // Not an object: keep the text rather than losing it.
        return ["_raw_arguments": .string(arguments)]
    }

    public static func messageID(_ requestID: String) -> String {
        "msg_" + requestID.replacingPrefix("req_")
    }

    /// Members of an answer's message that only the tree's reading handles (tool calls and
    /// reasoning blocks).
    static let treeOnlyMembers: Set<String> = ["tool_calls", "thinking_blocks", "reasoning_content", "reasoning"]

    /// ``message(fromOpenAI:requestID:)`` of an answer already scanned: a text answer (no tool
    /// calls, no reasoning, a string model) is read from the scan without parsing the whole
    /// answer into a tree, and gives the same message; any other shape goes through the tree.
    public static func message(fromOpenAI scan: JSONObjectScan, requestID: String) throws(GatewayError) -> JSONValue {
        guard let choice = scan.firstObjectElement("choices"), let message = choice.nested("message"),
            !message.members.contains(where: { $0.kind != .null && treeOnlyMembers.contains($0.key) })
        else { return try Self.message(fromOpenAI: scan.bytes, requestID: requestID) }
        let model: JSONValue
        if let member = scan.member("model") {
            guard member.kind == .string, let name = scan.string("model") else { return try Self.message(fromOpenAI: scan.bytes, requestID: requestID) }
            model = .string(name)
        } else {
            model = "unknown"
        }
        var content: [JSONValue] = []
        if let text = message.string("content"), !text.isEmpty { content.append(["type": "text", "text": .string(text)]) }
        return envelope(
            requestID: requestID, model: model, content: content, stop: stopReason(choice.string("finish_reason")),
            usage: TokenUsage(openAIResponse: scan))
    }

    /// The `message` object around an answer's parts (both readings of an answer write it).
    static func envelope(requestID: String, model: JSONValue, content: [JSONValue], stop: String, usage: TokenUsage?) -> JSONValue {
        [
            "id": .string(messageID(requestID)),
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": .array(content),
            "stop_reason": .string(stop),
            "stop_sequence": .null,
            "usage": .object(Self.usage(usage)),
        ]
    }

    /// A complete chat completion → an Anthropic `message`.
    public static func message(fromOpenAI body: [UInt8], requestID: String) throws(GatewayError) -> JSONValue {
        guard let completion = try? JSONValue.parse(body), let choice = completion["choices"]?.arrayValue?.first else {
            throw GatewayError.upstreamUnavailable("The provider's response could not be translated.", code: .upstreamInvalidResponse)
        }
        let message = choice["message"]
        var content = thinkingContent(message)
        if let text = message?["content"]?.stringValue, !text.isEmpty {
            content.append(["type": "text", "text": .string(text)])
        }
        for call in message?["tool_calls"]?.arrayValue ?? [] {
            content.append([
                "type": "tool_use",
                "id": .string(call["id"]?.stringValue ?? "toolu_\(content.count)"),
                "name": .string(call["function"]?["name"]?.stringValue ?? ""),
                "input": toolInput(call["function"]?["arguments"]?.stringValue ?? ""),
            ])
        }
        let hasToolUse = content.contains { $0["type"]?.stringValue == "tool_use" }
        var stop = stopReason(choice["finish_reason"]?.stringValue)
        if hasToolUse { stop = "tool_use" }
        let usage = (try? JSONObjectScan(body)).flatMap { TokenUsage(openAIResponse: $0) }
        return envelope(requestID: requestID, model: completion["model"] ?? "unknown", content: content, stop: stop, usage: usage)
    }

    /// An answer's reasoning as Anthropic blocks, first in the content: its `thinking_blocks`
    /// as they are (signatures kept), or else its `reasoning_content` as one unsigned block.
    static func thinkingContent(_ message: JSONValue?) -> [JSONValue] {
        let blocks = (message?["thinking_blocks"]?.arrayValue ?? []).compactMap { block -> JSONValue? in
            switch block["type"]?.stringValue {
            case "thinking": ["type": "thinking", "thinking": block["thinking"] ?? "", "signature": block["signature"] ?? ""]
            case "redacted_thinking": ["type": "redacted_thinking", "data": block["data"] ?? ""]
            default: nil
            }
        }
        if !blocks.isEmpty { return blocks }
        if let text = message?["reasoning_content"]?.stringValue ?? message?["reasoning"]?.stringValue, !text.isEmpty {
            return [["type": "thinking", "thinking": .string(text), "signature": ""]]
        }
        return []
    }

    /// Anthropic's error `type` for an HTTP status.
    public static func errorType(status: Int) -> String {
        switch status {
        case 400, 422: "invalid_request_error"
        case 401: "authentication_error"
        case 403: "permission_error"
        case 404: "not_found_error"
        case 413: "request_too_large"
        case 429: "rate_limit_error"
        case 503, 529: "overloaded_error"
        case 504: "timeout_error"
        default: "api_error"
        }
    }

    /// The Anthropic error envelope: `{"type":"error","error":{"type","message"}}`.
    public static func errorEnvelope(_ error: GatewayError) -> JSONValue {
        ["type": "error", "error": ["type": .string(errorType(status: error.status)), "message": .string(error.message)]]
    }
}

extension String {
    fileprivate func replacingPrefix(_ prefix: String) -> String {
        hasPrefix(prefix) ? String(dropFirst(prefix.count)) : self
    }
}

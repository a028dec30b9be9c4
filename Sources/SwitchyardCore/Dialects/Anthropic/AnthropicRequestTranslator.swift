/// Translates an Anthropic Messages request into the canonical (OpenAI Chat Completions) form.
///
/// Mapping (Anthropic → OpenAI): `system` → a leading system message; text and image blocks →
/// content parts; `tool_use` blocks → `tool_calls` (input serialised as the arguments string);
/// `tool_result` blocks → `tool` messages placed before the rest of that user turn; `tools` →
/// function tools; `tool_choice` auto/any/tool/none → auto/required/named/none (with
/// `disable_parallel_tool_use` → `parallel_tool_calls: false`); `stop_sequences` → `stop`;
/// `metadata.user_id` → `user`; `thinking` stays as is (Anthropic providers get it, Gemini reads
/// its budget, OpenAI-compatible providers never see it); thinking and redacted-thinking blocks
/// of assistant turns → the assistant message's `thinking_blocks` (signatures kept, so an
/// Anthropic provider gets them back intact; OpenAI-compatible providers never see them).
/// Anything the canonical form cannot express is refused with a 400 that says so.
public enum AnthropicRequestTranslator {
    public typealias Translated = TranslatedRequest

    public static func translate(_ bytes: [UInt8]) throws(GatewayError) -> Translated {
        let (request, model) = try CanonicalChat.requestObject(bytes)
        guard let maxTokensValue = request["max_tokens"] else { throw GatewayError.missingField("max_tokens") }
        guard let maxTokens = maxTokensValue.intValue, maxTokens >= 1 else {
            throw GatewayError.invalidType(field: "max_tokens", expected: "a positive integer", found: maxTokensValue.typeName)
        }
        guard let messagesValue = request["messages"] else { throw GatewayError.missingField("messages") }
        guard let messages = messagesValue.arrayValue else {
            throw GatewayError.invalidType(field: "messages", expected: "an array", found: messagesValue.typeName)
        }
        guard !messages.isEmpty else {
            throw GatewayError.invalidRequest("'messages' must contain at least one message.", param: "messages", code: .invalidValue)
        }

        var output = JSONObject()
        output["model"] = .string(model)
        var canonical: [JSONValue] = []
        if let system = request["system"], !system.isNull {
            let text = try textContent(system, field: "system")
            if !text.isEmpty { canonical.append(["role": "system", "content": .string(text)]) }
        }
        var untranslated: [UntranslatedContent] = []
        for (index, message) in messages.enumerated() {
            canonical.append(contentsOf: try translateMessage(message, field: "messages[\(index)]", untranslated: &untranslated))
        }
        output["messages"] = .array(canonical)
        output["max_tokens"] = JSONValue(maxTokens)

        for (name, expectNumber) in [("temperature", true), ("top_p", true)] where request[name] != nil {
            guard let value = request[name], value.doubleValue != nil || value.isNull else {
                throw GatewayError.invalidType(field: name, expected: expectNumber ? "a number" : "", found: request[name]!.typeName)
            }
            if let number = value.doubleValue, !(0...1).contains(number) {
                throw GatewayError.invalidRequest("'\(name)' must be between 0 and 1.", param: name, code: .invalidValue)
            }
            if !value.isNull { output[name] = value }
        }
        if let stops = request["stop_sequences"], !stops.isNull {
            guard let list = stops.arrayValue, list.allSatisfy({ $0.stringValue != nil }) else {
                throw GatewayError.invalidType(field: "stop_sequences", expected: "an array of strings", found: stops.typeName)
            }
            if !list.isEmpty { output["stop"] = .array(list) }
        }
        var stream = false
        if let streamValue = request["stream"], !streamValue.isNull {
            guard let flag = streamValue.boolValue else {
                throw GatewayError.invalidType(field: "stream", expected: "a boolean", found: streamValue.typeName)
            }
            stream = flag
            if flag { output["stream"] = true }
        }
        if let userValue = request["metadata"]?["user_id"], !userValue.isNull {
            guard let user = userValue.stringValue else {
                throw GatewayError.invalidType(field: "metadata.user_id", expected: "a string", found: userValue.typeName)
            }
            guard user.utf8.count <= OpenAIRequest.maximumUserLength else {
                throw GatewayError.invalidRequest(
                    "'metadata.user_id' may have at most \(OpenAIRequest.maximumUserLength) bytes.", param: "metadata.user_id",
                    code: .stringAboveMaxLength)
            }
            output["user"] = .string(user)
        }
        if let thinking = request["thinking"], !thinking.isNull {
            guard thinking.objectValue != nil else {
                throw GatewayError.invalidType(field: "thinking", expected: "an object", found: thinking.typeName)
            }
            output["thinking"] = thinking
        }
        if let tools = request["tools"], !tools.isNull {
            output["tools"] = try translateTools(tools)
        }
        if let choice = request["tool_choice"], !choice.isNull {
            let (translated, parallel) = try translateToolChoice(choice)
            output["tool_choice"] = translated
            if let parallel { output["parallel_tool_calls"] = .bool(parallel) }
        }
        // The mock provider's knobs travel along, as unknown OpenAI fields do.
        if let mock = request["mock"] { output["mock"] = mock }
        return Translated(body: .object(output), model: model, stream: stream, untranslated: untranslated)
    }

    static func textContent(_ value: JSONValue, field: String) throws(GatewayError) -> String {
        if let text = value.stringValue { return text }
        guard let blocks = value.arrayValue else {
            throw GatewayError.invalidType(field: field, expected: "a string or an array of text blocks", found: value.typeName)
        }
        var parts: [String] = []
        for (index, block) in blocks.enumerated() {
            guard block["type"]?.stringValue == "text", let text = block["text"]?.stringValue else {
                throw GatewayError.invalidRequest("\(field)[\(index)] must be a text block.", param: field)
            }
            parts.append(text)
        }
        return parts.joined(separator: "\n")
    }

    /// `untranslated` collects the blocks the canonical form leaves out (a tool result's
    /// images and documents): a provider of another dialect never sees them, an Anthropic one
    /// gets them through the pass-through, and guardrails that cannot read them refuse them.
    static func translateMessage(
        _ message: JSONValue, field: String, untranslated: inout [UntranslatedContent]
    ) throws(GatewayError) -> [JSONValue] {
        guard let role = message["role"]?.stringValue, role == "user" || role == "assistant" else {
            throw GatewayError.invalidRequest("\(field).role must be 'user' or 'assistant'.", param: "\(field).role", code: .invalidValue)
        }
        guard let content = message["content"] else { throw GatewayError.missingField("\(field).content") }
        if let text = content.stringValue {
            return [["role": .string(role), "content": .string(text)]]
        }
        guard let blocks = content.arrayValue else {
            throw GatewayError.invalidType(field: "\(field).content", expected: "a string or an array of content blocks", found: content.typeName)
        }
        var toolMessages: [JSONValue] = []
        var parts: [JSONValue] = []
        var texts: [String] = []
        var toolCalls: [JSONValue] = []
        var thinking: [JSONValue] = []
        for (index, block) in blocks.enumerated() {
            let blockField = "\(field).content[\(index)]"
            switch block["type"]?.stringValue {
            case "text":
                guard let text = block["text"]?.stringValue else { throw GatewayError.missingField("\(blockField).text") }
                texts.append(text)
                parts.append(["type": "text", "text": .string(text)])
            case "image":
                guard role == "user" else {
                    throw GatewayError.invalidRequest("\(blockField): images are only allowed in user turns.", param: blockField)
                }
                let source = block["source"]
                let url: String
                switch source?["type"]?.stringValue {
                case "base64":
                    guard let mediaType = source?["media_type"]?.stringValue, let data = source?["data"]?.stringValue else {
                        throw GatewayError.invalidRequest("\(blockField).source needs media_type and data.", param: blockField)
                    }
                    url = "data:\(mediaType);base64,\(data)"
                case "url":
                    guard let link = source?["url"]?.stringValue else { throw GatewayError.missingField("\(blockField).source.url") }
                    url = link
                default:
                    throw GatewayError.invalidRequest("\(blockField).source.type must be 'base64' or 'url'.", param: blockField)
                }
                parts.append(["type": "image_url", "image_url": ["url": .string(url)]])
            case "tool_use":
                guard role == "assistant" else {
                    throw GatewayError.invalidRequest("\(blockField): tool_use blocks belong to assistant turns.", param: blockField)
                }
                guard let id = block["id"]?.stringValue, let name = block["name"]?.stringValue else {
                    throw GatewayError.invalidRequest("\(blockField) needs an id and a name.", param: blockField)
                }
                let input = block["input"] ?? .object(JSONObject())
                toolCalls.append([
                    "id": .string(id), "type": "function", "function": ["name": .string(name), "arguments": .string(input.serialized())],
                ])
            case "tool_result":
                guard role == "user" else {
                    throw GatewayError.invalidRequest("\(blockField): tool_result blocks belong to user turns.", param: blockField)
                }
                guard let id = block["tool_use_id"]?.stringValue else { throw GatewayError.missingField("\(blockField).tool_use_id") }
                var text = ""
                if let resultContent = block["content"], !resultContent.isNull {
                    text = try toolResultText(resultContent, field: "\(blockField).content")
                    for (inner, part) in (resultContent.arrayValue ?? []).enumerated() where part["type"]?.stringValue != "text" {
                        untranslated.append(
                            UntranslatedContent(
                                role: "tool", param: "\(blockField).content[\(inner)]", kind: part["type"]?.stringValue ?? "unknown"))
                    }
                }
                if block["is_error"]?.boolValue == true { text = "Error: " + text }
                toolMessages.append(["role": "tool", "tool_call_id": .string(id), "content": .string(text)])
            case "thinking":
                guard role == "assistant" else { continue }
                thinking.append(["type": "thinking", "thinking": block["thinking"] ?? "", "signature": block["signature"] ?? ""])
            case "redacted_thinking":
                guard role == "assistant" else { continue }
                thinking.append(["type": "redacted_thinking", "data": block["data"] ?? ""])
            case let other:
                throw GatewayError.invalidRequest(
                    "\(blockField): content blocks of type '\(other ?? "none")' cannot be sent to this model.",
                    param: blockField,
                    code: .unsupportedContent
                )
            }
        }
        var result = toolMessages
        if role == "assistant" {
            var assistant: JSONObject = ["role": "assistant"]
            assistant["content"] = texts.isEmpty ? .null : .string(texts.joined())
            if !toolCalls.isEmpty { assistant["tool_calls"] = .array(toolCalls) }
            if !thinking.isEmpty { assistant["thinking_blocks"] = .array(thinking) }
            if !texts.isEmpty || !toolCalls.isEmpty || !thinking.isEmpty { result.append(.object(assistant)) }
        } else if !parts.isEmpty {
            // Plain text turns stay plain strings; mixed turns use content parts.
            let onlyText = parts.allSatisfy { $0["type"]?.stringValue == "text" }
            result.append(["role": "user", "content": onlyText ? .string(texts.joined(separator: "\n")) : .array(parts)])
        }
        return result
    }

    static func toolResultText(_ value: JSONValue, field: String) throws(GatewayError) -> String {
        if let text = value.stringValue { return text }
        guard let blocks = value.arrayValue else {
            throw GatewayError.invalidType(field: field, expected: "a string or an array of blocks", found: value.typeName)
        }
        return blocks.compactMap { $0["type"]?.stringValue == "text" ? $0["text"]?.stringValue : nil }.joined(separator: "\n")
    }

    static func translateTools(_ value: JSONValue) throws(GatewayError) -> JSONValue {
        guard let tools = value.arrayValue else { throw GatewayError.invalidType(field: "tools", expected: "an array", found: value.typeName) }
        var result: [JSONValue] = []
        for (index, tool) in tools.enumerated() {
            if let type = tool["type"]?.stringValue, type != "custom" {
                throw GatewayError.invalidRequest(
                    "tools[\(index)]: the server tool '\(type)' is only available on Anthropic models.",
                    param: "tools[\(index)]",
                    code: .unsupportedTool
                )
            }
            guard let name = tool["name"]?.stringValue else { throw GatewayError.missingField("tools[\(index)].name") }
            var function: JSONObject = ["name": .string(name)]
            if let description = tool["description"]?.stringValue { function["description"] = .string(description) }
            function["parameters"] = tool["input_schema"] ?? ["type": "object", "properties": .object(JSONObject())]
            result.append(["type": "function", "function": .object(function)])
        }
        return .array(result)
    }

    static func translateToolChoice(_ value: JSONValue) throws(GatewayError) -> (JSONValue, Bool?) {
        let parallel: Bool? = value["disable_parallel_tool_use"]?.boolValue.map { !$0 }
        switch value["type"]?.stringValue {
        case "auto": return ("auto", parallel)
        case "any": return ("required", parallel)
        case "none": return ("none", nil)
        case "tool":
            guard let name = value["name"]?.stringValue else { throw GatewayError.missingField("tool_choice.name") }
            return (["type": "function", "function": ["name": .string(name)]], parallel)
        default:
            throw GatewayError.invalidRequest("tool_choice.type must be auto, any, tool or none.", param: "tool_choice", code: .invalidValue)
        }
    }

    /// The prompt's tokens for `count_tokens`: exact for OpenAI-family models, estimated for
    /// the rest (OpenAI-dialect providers have no counting endpoint).
    /// `model`: the upstream model that would answer (it decides the tokenizer).
    public static func estimateInputTokens(_ translated: Translated, model: String? = nil) -> Int {
        let model = model ?? translated.body["model"]?.stringValue ?? ""
        return max(1, PromptTokens.count(messages: translated.body["messages"]?.arrayValue ?? [], tools: translated.body["tools"], model: model))
    }
}

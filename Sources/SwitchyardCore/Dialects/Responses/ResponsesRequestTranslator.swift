/// Translates an OpenAI Responses API request (`POST /v1/responses`) into the canonical Chat
/// Completions form, so any configured model can answer it.
///
/// Mapping: `instructions` → a leading system message; `input` as a string → one user message;
/// input items: messages (`input_text`, `output_text`, `input_image` parts; `developer` and
/// `system` roles as system messages), `function_call` items → the assistant's `tool_calls`
/// (consecutive calls join one assistant turn), `function_call_output` → `tool` messages;
/// `reasoning` items are skipped (their text is the model's own summary); function `tools`
/// (flat `name`, `parameters`, `strict`) → nested function tools; `tool_choice`,
/// `parallel_tool_calls`, `temperature`, `top_p` as they are; `max_output_tokens` →
/// `max_tokens`; `text.format` → `response_format`; `reasoning.effort` → `reasoning_effort`;
/// `user` / `safety_identifier` → `user`. `mcp` tools naming servers of `mcp.servers` are read
/// into ``TranslatedRequest/mcp`` (the gateway runs them: ``MCPToolLoop``), and the MCP items of
/// earlier responses in `input` become the tool calls and results they stand for. What needs
/// OpenAI's own servers — stored responses (`previous_response_id`), other built-in tools (web or
/// file search, computer use), background runs, file inputs — is refused with a 400 that says so.
public enum ResponsesRequestTranslator {
    public typealias Translated = TranslatedRequest

    /// `mcp`: the gateway's MCP servers, for `mcp` tools (none: such tools are refused).
    public static func translate(_ bytes: [UInt8], mcp settings: MCPSettings = MCPSettings()) throws(GatewayError) -> Translated {
        let (request, model) = try CanonicalChat.requestObject(bytes)
        var mcp = MCPToolRequest()
        for (field, reason) in [
            ("previous_response_id", "Switchyard does not store responses: send the whole conversation in 'input'"),
            ("conversation", "Switchyard does not store conversations: send the whole conversation in 'input'"),
            ("prompt", "stored prompts live on OpenAI's servers: use Switchyard's templates (model 'template/NAME')"),
        ] where request[field] != nil && request[field]?.isNull == false {
            throw GatewayError.invalidRequest("'\(field)' is not supported: \(reason).", param: field, code: .unsupportedParameter)
        }
        if request["background"]?.boolValue == true {
            throw GatewayError.invalidRequest(
                "'background' is not supported: Switchyard answers while the connection is open.", param: "background",
                code: .unsupportedParameter)
        }

        var messages: [JSONValue] = []
        if let instructions = request["instructions"], !instructions.isNull {
            guard let text = instructions.stringValue else {
                throw GatewayError.invalidType(field: "instructions", expected: "a string", found: instructions.typeName)
            }
            messages.append(["role": "system", "content": .string(text)])
        }
        guard let input = request["input"] else { throw GatewayError.missingField("input") }
        if let text = input.stringValue {
            messages.append(["role": "user", "content": .string(text)])
        } else if let items = input.arrayValue {
            let mcpInput = ResponsesMCPInput(settings: settings, items: items)
            for (index, item) in items.enumerated() {
                if let object = item.objectValue, try mcpInput.append(object, field: "input[\(index)]", to: &messages, request: &mcp) { continue }
                try append(item, field: "input[\(index)]", to: &messages)
            }
        } else {
            throw GatewayError.invalidType(field: "input", expected: "a string or an array of input items", found: input.typeName)
        }
        guard messages.contains(where: { $0["role"]?.stringValue != "system" }) else {
            throw GatewayError.invalidRequest("'input' must contain at least one message.", param: "input", code: .invalidValue)
        }

        var output: JSONObject = ["model": .string(model), "messages": .array(messages)]
        for name in ["temperature", "top_p", "parallel_tool_calls", "stream", "top_logprobs", "mock"]
        where request[name] != nil && request[name]?.isNull == false {
            output[name] = request[name]
        }
        if let maxTokens = request["max_output_tokens"], !maxTokens.isNull {
            guard let value = maxTokens.intValue, value >= 1 else {
                throw GatewayError.invalidType(field: "max_output_tokens", expected: "a positive integer", found: maxTokens.typeName)
            }
            output["max_tokens"] = JSONValue(value)
        }
        if let user = request["user"]?.stringValue ?? request["safety_identifier"]?.stringValue { output["user"] = .string(user) }
        if let effort = request["reasoning"]?["effort"]?.stringValue { output["reasoning_effort"] = .string(effort) }
        if let tools = request["tools"], !tools.isNull {
            let functions = try translateTools(tools, mcp: settings, into: &mcp)
            if !functions.isEmpty || mcp.isEmpty { output["tools"] = .array(functions) }
        }
        if let choice = request["tool_choice"], !choice.isNull {
            switch choice {
            case .string(let mode) where ["auto", "none", "required"].contains(mode):
                output["tool_choice"] = choice
            case .object(let object) where object["type"]?.stringValue == "function":
                guard let name = object["name"]?.stringValue else { throw GatewayError.missingField("tool_choice.name") }
                output["tool_choice"] = ["type": "function", "function": ["name": .string(name)]]
            case .object(let object) where object["type"]?.stringValue == "mcp" && !mcp.isEmpty:
                output["tool_choice"] = try MCPToolRequest.toolChoice(choice, settings: settings)
            default:
                throw GatewayError.invalidRequest(
                    "'tool_choice' must be auto, none, required or a function.", param: "tool_choice", code: .invalidValue)
            }
        }
        if !mcp.isEmpty, let choice = output["tool_choice"] {
            // The gateway runs the rounds: the choice holds for the first (or they would never end).
            mcp.firstToolChoice = choice
            output["tool_choice"] = nil
        }
        if let format = request["text"]?["format"], let type = format["type"]?.stringValue {
            switch type {
            case "text": break
            case "json_object": output["response_format"] = ["type": "json_object"]
            case "json_schema":
                var schema: JSONObject = ["name": format["name"] ?? "response", "schema": format["schema"] ?? .object(JSONObject())]
                if let strict = format["strict"], !strict.isNull { schema["strict"] = strict }
                if let description = format["description"] { schema["description"] = description }
                output["response_format"] = ["type": "json_schema", "json_schema": .object(schema)]
            default:
                throw GatewayError.invalidRequest("text.format.type '\(type)' is not supported.", param: "text.format", code: .invalidValue)
            }
        }
        var translated = Translated(body: .object(output), model: model, stream: request["stream"]?.boolValue == true)
        translated.mcp = mcp
        return translated
    }

    /// Appends the canonical messages of one input item.
    static func append(_ item: JSONValue, field: String, to messages: inout [JSONValue]) throws(GatewayError) {
        guard let object = item.objectValue else {
            throw GatewayError.invalidType(field: field, expected: "an input item object", found: item.typeName)
        }
        switch object["type"]?.stringValue ?? "message" {
        case "message":
            guard let role = object["role"]?.stringValue, ["user", "assistant", "system", "developer"].contains(role) else {
                throw GatewayError.invalidRequest(
                    "\(field).role must be user, assistant, system or developer.", param: "\(field).role", code: .invalidValue)
            }
            guard let content = object["content"] else { throw GatewayError.missingField("\(field).content") }
            let canonicalRole = role == "developer" ? "system" : role
            if let text = content.stringValue {
                messages.append(["role": .string(canonicalRole), "content": .string(text)])
                return
            }
            guard let parts = content.arrayValue else {
                throw GatewayError.invalidType(field: "\(field).content", expected: "a string or an array of content parts", found: content.typeName)
            }
            var canonical: [JSONValue] = []
            for (index, part) in parts.enumerated() {
                let partField = "\(field).content[\(index)]"
                switch part["type"]?.stringValue {
                case "input_text", "output_text":
                    guard let text = part["text"]?.stringValue else { throw GatewayError.missingField("\(partField).text") }
                    canonical.append(["type": "text", "text": .string(text)])
                case "refusal":
                    canonical.append(["type": "text", "text": part["refusal"] ?? ""])
                case "input_image":
                    guard canonicalRole == "user" else {
                        throw GatewayError.invalidRequest("\(partField): images belong to user messages.", param: partField)
                    }
                    guard let url = part["image_url"]?.stringValue else {
                        throw GatewayError.invalidRequest(
                            "\(partField): only images given by 'image_url' (a URL or a data URL) can be forwarded; 'file_id' refers to OpenAI's file storage.",
                            param: partField, code: .unsupportedContent)
                    }
                    var image: JSONObject = ["url": .string(url)]
                    if let detail = part["detail"]?.stringValue { image["detail"] = .string(detail) }
                    canonical.append(["type": "image_url", "image_url": .object(image)])
                default:
                    throw GatewayError.invalidRequest(
                        "\(partField): content parts of type '\(part["type"]?.stringValue ?? "none")' are not supported.",
                        param: partField, code: .unsupportedContent)
                }
            }
            // Assistant and system turns are plain text in the canonical form.
            if canonicalRole != "user" {
                let text = canonical.compactMap { $0["text"]?.stringValue }.joined()
                messages.append(["role": .string(canonicalRole), "content": .string(text)])
            } else {
                messages.append(["role": "user", "content": .array(canonical)])
            }
        case "function_call":
            guard let callID = object["call_id"]?.stringValue, let name = object["name"]?.stringValue else {
                throw GatewayError.invalidRequest("\(field) needs a call_id and a name.", param: field)
            }
            let call: JSONValue = [
                "id": .string(callID), "type": "function", "function": ["name": .string(name), "arguments": object["arguments"] ?? "{}"],
            ]
            // Calls made in one turn belong to one assistant message.
            if case .object(var last)? = messages.last, last["role"]?.stringValue == "assistant" {
                last["tool_calls"] = .array((last["tool_calls"]?.arrayValue ?? []) + [call])
                messages[messages.count - 1] = .object(last)
            } else {
                messages.append(["role": "assistant", "content": .null, "tool_calls": [call]])
            }
        case "function_call_output":
            guard let callID = object["call_id"]?.stringValue else { throw GatewayError.missingField("\(field).call_id") }
            let output: String
            switch object["output"] {
            case .string(let text)?: output = text
            case .array(let parts)?: output = parts.compactMap { $0["text"]?.stringValue }.joined(separator: "\n")
            default: throw GatewayError.missingField("\(field).output")
            }
            messages.append(["role": "tool", "tool_call_id": .string(callID), "content": .string(output)])
        case "reasoning":
            return  // the model's own summary of earlier reasoning: nothing a provider can take back
        case let other:
            throw GatewayError.invalidRequest(
                "\(field): input items of type '\(other)' are not supported through the gateway.", param: field, code: .unsupportedContent)
        }
    }

    /// Function tools in the canonical form; `mcp` tools go to `mcp`.
    static func translateTools(_ value: JSONValue, mcp settings: MCPSettings, into mcp: inout MCPToolRequest) throws(GatewayError) -> [JSONValue] {
        guard let tools = value.arrayValue else { throw GatewayError.invalidType(field: "tools", expected: "an array", found: value.typeName) }
        var output: [JSONValue] = []
        for (index, tool) in tools.enumerated() {
            if tool["type"]?.stringValue == "mcp" {
                try mcp.add(
                    MCPToolGrant.parse(tool, field: "tools[\(index)]", settings: settings, defaultApproval: .always), field: "tools[\(index)]")
                continue
            }
            guard tool["type"]?.stringValue == "function" else {
                throw GatewayError.invalidRequest(
                    "tools[\(index)]: built-in tools of type '\(tool["type"]?.stringValue ?? "none")' run on OpenAI's servers and are not supported; define a function tool.",
                    param: "tools[\(index)]", code: .unsupportedTool)
            }
            guard let name = tool["name"]?.stringValue else { throw GatewayError.missingField("tools[\(index)].name") }
            var function: JSONObject = ["name": .string(name)]
            if let description = tool["description"], !description.isNull { function["description"] = description }
            function["parameters"] = tool["parameters"] ?? ["type": "object", "properties": .object(JSONObject())]
            if let strict = tool["strict"], !strict.isNull { function["strict"] = strict }
            output.append(["type": "function", "function": .object(function)])
        }
        return output
    }
}

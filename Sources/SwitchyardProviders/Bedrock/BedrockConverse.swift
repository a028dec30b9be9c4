import NIOCore
import SwitchyardCore

/// Canonical (OpenAI) chat requests → Bedrock Converse, and Converse answers back.
public enum BedrockConverse {
    public static func request(fromOpenAI bytes: [UInt8]) throws(GatewayError) -> JSONValue {
        guard let request = (try? JSONValue.parse(bytes))?.objectValue else {
            throw GatewayError.invalidJSON("the body must be a JSON object")
        }
        var system: [JSONValue] = []
        var messages = MergedTurns()
        for (index, message) in (request["messages"]?.arrayValue ?? []).enumerated() {
            let field = "messages[\(index)].content"
            switch message["role"]?.stringValue {
            case "system", "developer":
                if let text = message["content"]?.stringValue { system.append(["text": .string(text)]) }
                for part in message["content"]?.arrayValue ?? [] { if let text = part["text"] { system.append(["text": text]) } }
            case "user":
                messages.append("user", try blocks(message["content"], field: field))
            case "assistant":
                // Signed reasoning goes back first (Claude on Bedrock checks it for tool use).
                var content: [JSONValue] = AnthropicOutbound.thinkingBlocks(message["thinking_blocks"]).map { block in
                    if block["type"]?.stringValue == "redacted_thinking" {
                        return ["reasoningContent": ["redactedContent": block["data"] ?? ""]]
                    }
                    return ["reasoningContent": ["reasoningText": ["text": block["thinking"] ?? "", "signature": block["signature"] ?? ""]]]
                }
                content += try blocks(message["content"], field: field)
                for call in message["tool_calls"]?.arrayValue ?? [] {
                    let arguments = call["function"]?["arguments"]?.stringValue ?? "{}"
                    content.append([
                        "toolUse": [
                            "toolUseId": call["id"] ?? "", "name": call["function"]?["name"] ?? "",
                            "input": AnthropicResponseTranslator.toolInput(arguments),
                        ]
                    ])
                }
                messages.append("assistant", content)
            case "tool":
                let text = message["content"]?.stringValue ?? message["content"]?.arrayValue?.compactMap { $0["text"]?.stringValue }.joined() ?? ""
                messages.append("user", [["toolResult": ["toolUseId": message["tool_call_id"] ?? "", "content": [["text": .string(text)]]]]])
            default:
                throw GatewayError.invalidRequest("messages[\(index)].role is not supported.", param: "messages[\(index)].role")
            }
        }
        var output = JSONObject()
        output["messages"] = messages.json(itemsKey: "content")
        if !system.isEmpty { output["system"] = .array(system) }
        var inference = JSONObject()
        if let maxTokens = request["max_completion_tokens"] ?? request["max_tokens"], !maxTokens.isNull { inference["maxTokens"] = maxTokens }
        for (openAI, bedrock) in [("temperature", "temperature"), ("top_p", "topP")] where request[openAI] != nil && request[openAI]?.isNull == false
        {
            inference[bedrock] = request[openAI]
        }
        if let stops = CanonicalChat.stopSequences(request) { inference["stopSequences"] = stops }
        if !inference.isEmpty { output["inferenceConfig"] = .object(inference) }
        let choice = request["tool_choice"]
        if let tools = request["tools"]?.arrayValue, !tools.isEmpty, choice?.stringValue != "none" {
            var toolConfig: JSONObject = [
                "tools": .array(
                    tools.compactMap { tool in
                        guard let function = tool["function"], let name = function["name"]?.stringValue else { return nil }
                        var spec: JSONObject = ["name": .string(name)]
                        if let description = function["description"] { spec["description"] = description }
                        spec["inputSchema"] = ["json": function["parameters"] ?? ["type": "object", "properties": .object(JSONObject())]]
                        return ["toolSpec": .object(spec)]
                    })
            ]
            if choice?.stringValue == "required" { toolConfig["toolChoice"] = ["any": .object(JSONObject())] }
            if let name = choice?["function"]?["name"] { toolConfig["toolChoice"] = ["tool": ["name": name]] }
            output["toolConfig"] = .object(toolConfig)
        }
        // Extended thinking (Claude on Bedrock) is a model-specific field.
        if let thinking = request["thinking"], thinking.objectValue != nil {
            output["additionalModelRequestFields"] = ["thinking": thinking]
        } else if let budget = CanonicalChat.anthropicThinkingBudget(request["reasoning_effort"]?.stringValue) {
            output["additionalModelRequestFields"] = ["thinking": ["type": "enabled", "budget_tokens": JSONValue(budget)]]
        }
        if let mock = request["mock"] { output["mock"] = mock }
        return .object(output)
    }

    static func blocks(_ content: JSONValue?, field: String) throws(GatewayError) -> [JSONValue] {
        guard let content, !content.isNull else { return [] }
        if let text = content.stringValue { return text.isEmpty ? [] : [["text": .string(text)]] }
        guard let parts = content.arrayValue else {
            throw GatewayError.invalidType(field: field, expected: "a string or an array of content parts", found: content.typeName)
        }
        var blocks: [JSONValue] = []
        for part in parts {
            switch part["type"]?.stringValue {
            case "text":
                blocks.append(["text": part["text"] ?? ""])
            case "image_url":
                let url = part["image_url"]?["url"]?.stringValue ?? ""
                guard url.hasPrefix("data:image/"), let comma = url.firstIndex(of: ",") else {
                    throw GatewayError.invalidRequest(
                        "\(field): Bedrock accepts images as base64 data URLs only.", param: field, code: .unsupportedContent)
                }
                let format = String(url.dropFirst(11).prefix(while: { $0 != ";" }))
                blocks.append([
                    "image": [
                        "format": .string(format == "jpg" ? "jpeg" : format), "source": ["bytes": .string(String(url[url.index(after: comma)...]))],
                    ]
                ])
            default:
                throw GatewayError.invalidRequest(
                    "\(field): content parts of type '\(part["type"]?.stringValue ?? "none")' cannot be sent to Bedrock.",
                    param: field,
                    code: .unsupportedContent
                )
            }
        }
        return blocks
    }

    public static func finishReason(_ stopReason: String?) -> String {
        switch stopReason {
        case "max_tokens": "length"
        case "tool_use": "tool_calls"
        case "guardrail_intervened", "content_filtered": "content_filter"
        default: "stop"
        }
    }

    /// Converse usage (input excludes cache reads and writes) → OpenAI usage.
    public static func usage(_ usage: JSONValue?) -> JSONValue {
        let input = usage?["inputTokens"]?.intValue ?? 0
        let cacheRead = usage?["cacheReadInputTokens"]?.intValue ?? 0
        let cacheWrite = usage?["cacheWriteInputTokens"]?.intValue ?? 0
        let output = usage?["outputTokens"]?.intValue ?? 0
        return [
            "prompt_tokens": JSONValue(input + cacheRead + cacheWrite), "completion_tokens": JSONValue(output),
            "total_tokens": JSONValue(input + cacheRead + cacheWrite + output),
            "prompt_tokens_details": ["cached_tokens": JSONValue(cacheRead)], "completion_tokens_details": ["reasoning_tokens": 0],
        ]
    }

    public static func completion(fromConverse bytes: [UInt8], model: String, created: Int = CanonicalChat.unixTime()) throws(GatewayError)
        -> JSONValue
    {
        guard let response = try? JSONValue.parse(bytes), let content = response["output"]?["message"]?["content"]?.arrayValue else {
            throw GatewayError.upstreamUnavailable("The provider's response could not be translated.", code: .upstreamInvalidResponse)
        }
        var text = ""
        var calls: [JSONValue] = []
        var reasoning = CanonicalChat.Reasoning()
        for block in content {
            if let piece = block["text"]?.stringValue { text += piece }
            if let thought = block["reasoningContent"] {
                if let reasoningText = thought["reasoningText"] {
                    reasoning.text += reasoningText["text"]?.stringValue ?? ""
                    reasoning.blocks.append([
                        "type": "thinking", "thinking": reasoningText["text"] ?? "", "signature": reasoningText["signature"] ?? "",
                    ])
                } else if let redacted = thought["redactedContent"] {
                    reasoning.blocks.append(["type": "redacted_thinking", "data": redacted])
                }
            }
            if let use = block["toolUse"] {
                calls.append([
                    "id": use["toolUseId"] ?? "", "type": "function",
                    "function": ["name": use["name"] ?? "", "arguments": .string((use["input"] ?? .object(JSONObject())).serialized())],
                ])
            }
        }
        return CanonicalChat.completion(
            id: CanonicalChat.uniqueID("chatcmpl-"), created: created, model: .string(model), text: text, toolCalls: calls,
            finishReason: finishReason(response["stopReason"]?.stringValue), usage: usage(response["usage"]), reasoning: reasoning
        )
    }
}

/// ConverseStream event-stream messages → canonical OpenAI chunks.
///
/// The assistant-role chunk for `messageStart` is held back until the stream says something
/// more, so that an exception event before any content (a `throttlingException` right after
/// `messageStart`) leaves the output empty and becomes ``earlyFailure``: the HTTP status the
/// service model gives that exception, before the client has seen a byte.
public struct BedrockStreamDecoder: Sendable {
    var frames = EventStreamDecoder()
    let model: String
    let chunks: CanonicalChunks
    var toolIndexes: [Int: Int] = [:]
    /// The reasoning text of the block being streamed, for its signed `thinking_blocks` entry.
    var reasoningText = ""
    var stopReason: String?
    var finishedChoices = false
    /// `messageStart` arrived and its role chunk is not written yet.
    var roleHeldBack = false
    /// Whether any chunk was written.
    var wroteChunks = false
    public private(set) var finished = false
    /// An exception event that arrived before any chunk: its HTTP status and a JSON error body.
    public private(set) var earlyFailure: (status: Int, body: [UInt8])?

    /// `created`: the time of the answer (Unix seconds), the same on every chunk.
    public init(model: String, created: Int = CanonicalChat.unixTime()) {
        self.model = model
        self.chunks = CanonicalChunks(id: CanonicalChat.uniqueID("chatcmpl-"), model: model, created: created)
    }

    mutating func write(_ value: JSONValue, into output: inout ByteBuffer) {
        if roleHeldBack {
            roleHeldBack = false
            CanonicalChunks.write(chunk(["role": "assistant", "content": ""]), into: &output)
        }
        wroteChunks = true
        CanonicalChunks.write(value, into: &output)
    }

    func chunk(_ delta: JSONObject, finish: String? = nil) -> JSONValue {
        chunks.chunk(delta, finish: finish)
    }

    /// The HTTP status of ConverseStream's exception events, from the Bedrock Runtime service
    /// model (botocore `bedrock-runtime/2023-09-30/service-2.json`, `ConverseStreamOutput`).
    public static func status(ofException type: String) -> Int {
        switch type {
        case "throttlingException": 429
        case "validationException": 400
        case "serviceUnavailableException": 503
        case "modelStreamErrorException": 424
        default: 500  // internalServerException and anything unmodelled
        }
    }

    public mutating func feed(_ bytes: ByteBuffer, into output: inout ByteBuffer) throws(EventStreamError) {
        for message in try frames.feed(bytes) where !finished {
            handle(message, into: &output)
        }
    }

    mutating func handle(_ message: EventStreamMessage, into output: inout ByteBuffer) {
        let payload = (try? JSONValue.parse(message.payload)) ?? .null
        if message.headers[":message-type"] == "exception" || message.headers[":message-type"] == "error" {
            let type = message.headers[":exception-type"] ?? message.headers[":error-code"] ?? "error"
            let text = payload["message"]?.stringValue ?? payload["Message"]?.stringValue ?? type
            finished = true
            if !wroteChunks {
                // As Bedrock answers the same exception outside a stream: its status, a JSON
                // `message`, so the gateway maps it like any HTTP error (retries, fallbacks).
                let body: JSONValue = ["message": .string(text), "__type": .string(type)]
                earlyFailure = (Self.status(ofException: type), body.serializedBytes())
                return
            }
            write(["error": ["message": .string(text), "type": .string(type)]], into: &output)
            return
        }
        switch message.headers[":event-type"] {
        case "messageStart":
            roleHeldBack = true
        case "contentBlockStart":
            if let use = payload["start"]?["toolUse"], let block = payload["contentBlockIndex"]?.intValue {
                let index = toolIndexes.count
                toolIndexes[block] = index
                let call: JSONValue = [
                    "index": JSONValue(index), "id": use["toolUseId"] ?? "", "type": "function",
                    "function": ["name": use["name"] ?? "", "arguments": ""],
                ]
                write(chunk(["tool_calls": [call]]), into: &output)
            }
        case "contentBlockDelta":
            let delta = payload["delta"]
            if let text = delta?["text"]?.stringValue {
                write(chunk(["content": .string(text)]), into: &output)
            } else if let thought = delta?["reasoningContent"] {
                if let text = thought["text"]?.stringValue {
                    reasoningText += text
                    write(chunk(["reasoning_content": .string(text)]), into: &output)
                } else if let signature = thought["signature"]?.stringValue {
                    let block: JSONValue = ["type": "thinking", "thinking": .string(reasoningText), "signature": .string(signature)]
                    reasoningText = ""
                    write(chunk(["thinking_blocks": [block]]), into: &output)
                } else if let redacted = thought["redactedContent"] {
                    write(chunk(["thinking_blocks": [["type": "redacted_thinking", "data": redacted]]]), into: &output)
                }
            } else if let input = delta?["toolUse"]?["input"]?.stringValue,
                let block = payload["contentBlockIndex"]?.intValue, let index = toolIndexes[block]
            {
                write(chunk(["tool_calls": [["index": JSONValue(index), "function": ["arguments": .string(input)]]]]), into: &output)
            }
        case "messageStop":
            stopReason = payload["stopReason"]?.stringValue
            finishChoices(into: &output)
        case "metadata":
            finishChoices(into: &output)
            chunks.writeUsageAndDone(BedrockConverse.usage(payload["usage"]), into: &output)
            finished = true
        default:
            break
        }
    }

    mutating func finishChoices(into output: inout ByteBuffer) {
        guard !finishedChoices else { return }
        finishedChoices = true
        write(chunk([:], finish: toolIndexes.isEmpty ? BedrockConverse.finishReason(stopReason) : "tool_calls"), into: &output)
    }

    /// Called when the body ends without a metadata event.
    public mutating func finish(into output: inout ByteBuffer) {
        guard !finished, finishedChoices else { return }
        finished = true
        output.writeStaticString("data: [DONE]\n\n")
    }
}

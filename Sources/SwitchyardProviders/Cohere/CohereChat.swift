import NIOCore
import SwitchyardCore

/// Canonical (OpenAI) requests → Cohere Chat v2 (`/v2/chat`) and Embed v2, and answers back.
///
/// Cohere v2 messages are close to OpenAI's (roles, `tool_calls`, `tool` results); the
/// differences are parameter names (`p`, `k`, `stop_sequences`), `tool_choice` values
/// (REQUIRED/NONE), content arrays of text parts, and the response and stream shapes.
public enum CohereChat {
    public static func request(fromOpenAI bytes: [UInt8]) throws(GatewayError) -> JSONValue {
        guard let request = (try? JSONValue.parse(bytes))?.objectValue else {
            throw GatewayError.invalidJSON("the body must be a JSON object")
        }
        var messages: [JSONValue] = []
        for (index, message) in (request["messages"]?.arrayValue ?? []).enumerated() {
            let role = message["role"]?.stringValue ?? ""
            var output: JSONObject = ["role": .string(role == "developer" ? "system" : role)]
            if let content = message["content"], !content.isNull {
                if let text = content.stringValue {
                    output["content"] = .string(text)
                } else if let parts = content.arrayValue {
                    var texts: [JSONValue] = []
                    for part in parts {
                        guard part["type"]?.stringValue == "text" else {
                            throw GatewayError.invalidRequest(
                                "messages[\(index)].content: content parts of type '\(part["type"]?.stringValue ?? "none")' cannot be sent to Cohere.",
                                param: "messages[\(index)].content",
                                code: .unsupportedContent
                            )
                        }
                        texts.append(["type": "text", "text": part["text"] ?? ""])
                    }
                    output["content"] = .array(texts)
                }
            }
            if let calls = message["tool_calls"] { output["tool_calls"] = calls }
            if let id = message["tool_call_id"] { output["tool_call_id"] = id }
            messages.append(.object(output))
        }
        var output: JSONObject = ["model": request["model"] ?? "", "messages": .array(messages)]
        for (openAI, cohere) in [
            ("temperature", "temperature"), ("top_p", "p"), ("top_k", "k"), ("seed", "seed"), ("stream", "stream"),
            ("frequency_penalty", "frequency_penalty"), ("presence_penalty", "presence_penalty"), ("tools", "tools"),
        ] where request[openAI] != nil && request[openAI]?.isNull == false {
            output[cohere] = request[openAI]
        }
        if let maxTokens = request["max_completion_tokens"] ?? request["max_tokens"], !maxTokens.isNull { output["max_tokens"] = maxTokens }
        if let stops = CanonicalChat.stopSequences(request) { output["stop_sequences"] = stops }
        switch request["tool_choice"]?.stringValue {
        case "required": output["tool_choice"] = "REQUIRED"
        case "none": output["tool_choice"] = "NONE"
        default: break
        }
        if let format = request["response_format"], let type = format["type"]?.stringValue, type != "text" {
            var responseFormat: JSONObject = ["type": "json_object"]
            if let schema = format["json_schema"]?["schema"] { responseFormat["json_schema"] = schema }
            output["response_format"] = .object(responseFormat)
        }
        if let mock = request["mock"] { output["mock"] = mock }
        return .object(output)
    }

    public static func finishReason(_ reason: String?) -> String {
        switch reason {
        case "MAX_TOKENS": "length"
        case "TOOL_CALL": "tool_calls"
        default: "stop"
        }
    }

    /// Cohere v2 `usage` → OpenAI usage. `cached_tokens` (prompt tokens that hit Cohere's
    /// cache) are part of the input tokens, as OpenAI's `cached_tokens` are part of `prompt_tokens`.
    public static func usage(_ usage: JSONValue?) -> JSONValue {
        let counts = usage?["tokens"] ?? usage?["billed_units"]
        let input = counts?["input_tokens"]?.intValue ?? 0
        let output = counts?["output_tokens"]?.intValue ?? 0
        let cached = min(max(usage?["cached_tokens"]?.intValue ?? 0, 0), input)
        return [
            "prompt_tokens": JSONValue(input), "completion_tokens": JSONValue(output), "total_tokens": JSONValue(input + output),
            "prompt_tokens_details": ["cached_tokens": JSONValue(cached)], "completion_tokens_details": ["reasoning_tokens": 0],
        ]
    }

    public static func completion(fromCohere bytes: [UInt8], model: String, created: Int = CanonicalChat.unixTime()) throws(GatewayError)
        -> JSONValue
    {
        guard let response = try? JSONValue.parse(bytes), let message = response["message"] else {
            throw GatewayError.upstreamUnavailable("The provider's response could not be translated.", code: .upstreamInvalidResponse)
        }
        let text = message["content"]?.arrayValue?.compactMap { $0["type"]?.stringValue == "text" ? $0["text"]?.stringValue : nil }.joined() ?? ""
        let calls = message["tool_calls"]?.arrayValue ?? []
        return CanonicalChat.completion(
            id: response["id"]?.stringValue.map { "chatcmpl-" + $0 } ?? CanonicalChat.uniqueID("chatcmpl-"), created: created,
            model: .string(model), text: text, toolCalls: calls,
            finishReason: finishReason(response["finish_reason"]?.stringValue), usage: usage(response["usage"])
        )
    }

    public static func embedRequest(fromOpenAI bytes: [UInt8], model: String) throws(GatewayError) -> (body: JSONValue, base64: Bool) {
        guard let request = (try? JSONValue.parse(bytes))?.objectValue else { throw GatewayError.invalidJSON("the body must be a JSON object") }
        let texts: [JSONValue]
        switch request["input"] {
        case .string(let text): texts = [.string(text)]
        case .array(let items) where items.allSatisfy({ $0.stringValue != nil }): texts = items
        default:
            throw GatewayError.invalidRequest("Cohere embeddings take text inputs only.", param: "input", code: .unsupportedContent)
        }
        var body: JSONObject = ["model": .string(model), "texts": .array(texts), "input_type": "search_document", "embedding_types": ["float"]]
        if let dimensions = request["dimensions"] { body["output_dimension"] = dimensions }
        return (.object(body), request["encoding_format"]?.stringValue == "base64")
    }

    public static func embeddings(fromCohere bytes: [UInt8], model: String, base64: Bool) throws(GatewayError) -> JSONValue {
        guard let response = try? JSONValue.parse(bytes), let vectors = response["embeddings"]?["float"]?.arrayValue else {
            throw GatewayError.upstreamUnavailable("The provider's response could not be translated.", code: .upstreamInvalidResponse)
        }
        let tokens = response["meta"]?["billed_units"]?["input_tokens"]?.intValue ?? 0
        return EmbeddingEncoding.openAIList(
            vectors.map { $0.arrayValue?.compactMap(\.doubleValue) ?? [] }, model: model, base64: base64, promptTokens: tokens)
    }
}

/// Cohere v2 chat stream events → canonical OpenAI chunks.
public struct CohereStreamDecoder: Sendable {
    var parser = SSEParser()
    let model: String
    let created: Int
    var id = CanonicalChat.uniqueID("chatcmpl-")
    var sawToolCall = false
    public private(set) var finished = false

    /// `created`: the time of the answer (Unix seconds), the same on every chunk.
    public init(model: String, created: Int = CanonicalChat.unixTime()) {
        self.model = model
        self.created = created
    }

    func write(_ value: JSONValue, into output: inout ByteBuffer) { CanonicalChunks.write(value, into: &output) }

    func chunk(_ delta: JSONObject, finish: String? = nil) -> JSONValue {
        CanonicalChunks(id: id, model: model, created: created).chunk(delta, finish: finish)
    }

    public mutating func feed(_ bytes: ByteBuffer, into output: inout ByteBuffer) throws {
        var parser = self.parser
        defer { self.parser = parser }
        try parser.feed(bytes) { event in handle(event, into: &output) }
    }

    mutating func handle(_ event: SSEEvent, into output: inout ByteBuffer) {
        guard !finished, let data = try? JSONValue.parse(event.data) else { return }
        let message = data["delta"]?["message"]
        switch data["type"]?.stringValue ?? event.event {
        case "message-start":
            if let messageID = data["id"]?.stringValue { id = "chatcmpl-" + messageID }
            write(chunk(["role": "assistant", "content": ""]), into: &output)
        case "content-delta":
            if let text = message?["content"]?["text"]?.stringValue { write(chunk(["content": .string(text)]), into: &output) }
        case "tool-call-start":
            sawToolCall = true
            let call = message?["tool_calls"]
            let entry: JSONValue = [
                "index": data["index"] ?? 0, "id": call?["id"] ?? "", "type": "function",
                "function": ["name": call?["function"]?["name"] ?? "", "arguments": call?["function"]?["arguments"] ?? ""],
            ]
            write(chunk(["tool_calls": [entry]]), into: &output)
        case "tool-call-delta":
            let fragment = message?["tool_calls"]?["function"]?["arguments"] ?? ""
            write(chunk(["tool_calls": [["index": data["index"] ?? 0, "function": ["arguments": fragment]]]]), into: &output)
        case "message-end":
            let delta = data["delta"]
            let reason = delta?["finish_reason"]?.stringValue
            if reason == "ERROR" || reason == "TIMEOUT" {
                write(["error": ["message": .string("The provider ended the stream with \(reason!)."), "type": "api_error"]], into: &output)
                finished = true
                return
            }
            write(chunk([:], finish: sawToolCall ? "tool_calls" : CohereChat.finishReason(reason)), into: &output)
            CanonicalChunks(id: id, model: model, created: created).writeUsageAndDone(CohereChat.usage(delta?["usage"]), into: &output)
            finished = true
        default:
            break  // content-start/end, tool-plan-delta, tool-call-end, citations
        }
    }
}

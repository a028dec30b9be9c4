import SwitchyardCore
import NIOCore

/// Canonical (OpenAI) chat requests → Google Gemini `generateContent`, and its answers back.
///
/// Mapping: system messages → `systemInstruction`; user/assistant turns → `contents` with roles
/// `user`/`model`; image data URLs → `inlineData`; assistant `tool_calls` → `functionCall`
/// parts; `tool` messages → `functionResponse` parts (the function name is recovered from the
/// call the message answers); tools → `functionDeclarations`; `tool_choice` →
/// `functionCallingConfig` (AUTO/ANY/NONE, a named tool → ANY with `allowedFunctionNames`);
/// sampling settings, `stop` and JSON response formats → `generationConfig`.
public enum GeminiOutbound {
    public static func request(fromOpenAI bytes: [UInt8]) throws(GatewayError) -> JSONValue {
        guard let request = (try? JSONValue.parse(bytes))?.objectValue else {
            throw GatewayError.invalidJSON("the body must be a JSON object")
        }
        var system: [JSONValue] = []
        var contents = MergedTurns()
        var callNames: [String: String] = [:]
        for (index, message) in (request["messages"]?.arrayValue ?? []).enumerated() {
            let field = "messages[\(index)].content"
            switch message["role"]?.stringValue {
            case "system", "developer":
                if let text = message["content"]?.stringValue { system.append(["text": .string(text)]) }
                for part in message["content"]?.arrayValue ?? [] { if let text = part["text"] { system.append(["text": text]) } }
            case "user":
                contents.append("user", try parts(from: message["content"], field: field))
            case "assistant":
                var modelParts = try parts(from: message["content"], field: field)
                for call in message["tool_calls"]?.arrayValue ?? [] {
                    let name = call["function"]?["name"]?.stringValue ?? ""
                    let id = call["id"]?.stringValue
                    if let id { callNames[id] = name }
                    let arguments = call["function"]?["arguments"]?.stringValue ?? "{}"
                    var part: JSONObject = ["functionCall": ["name": .string(name), "args": AnthropicResponseTranslator.toolInput(arguments)]]
                    if let signature = call["extra_content"]?["google"]?["thought_signature"]?.stringValue
                        ?? id.flatMap(GeminiToolCallID.signature(in:))
                    {
                        part["thoughtSignature"] = .string(signature)
                    }
                    modelParts.append(.object(part))
                }
                contents.append("model", modelParts)
            case "tool":
                let id = message["tool_call_id"]?.stringValue ?? ""
                let text = message["content"]?.stringValue ?? message["content"]?.arrayValue?.compactMap { $0["text"]?.stringValue }.joined() ?? ""
                let response: JSONValue = (try? JSONValue.parse(text)).flatMap { $0.objectValue != nil ? $0 : nil } ?? ["result": .string(text)]
                contents.append("user", [["functionResponse": ["name": .string(callNames[id] ?? id), "response": response]]])
            default:
                throw GatewayError.invalidRequest("messages[\(index)].role is not supported.", param: "messages[\(index)].role")
            }
        }
        var output = JSONObject()
        output["contents"] = contents.json(itemsKey: "parts")
        if !system.isEmpty { output["systemInstruction"] = ["parts": .array(system)] }
        var generation = JSONObject()
        for (openAI, gemini) in [
            ("temperature", "temperature"), ("top_p", "topP"), ("top_k", "topK"), ("seed", "seed"),
            ("presence_penalty", "presencePenalty"), ("frequency_penalty", "frequencyPenalty"),
        ]
        where request[openAI] != nil && request[openAI]?.isNull == false {
            generation[gemini] = request[openAI]
        }
        if let maxTokens = request["max_completion_tokens"] ?? request["max_tokens"], !maxTokens.isNull { generation["maxOutputTokens"] = maxTokens }
        if let stops = CanonicalChat.stopSequences(request) { generation["stopSequences"] = stops }
        if let format = request["response_format"], let type = format["type"]?.stringValue {
            if type == "json_object" || type == "json_schema" { generation["responseMimeType"] = "application/json" }
            if type == "json_schema", let schema = format["json_schema"]?["schema"] { generation["responseJsonSchema"] = schema }
        }
        // Thinking: `reasoning_effort` (Google's own OpenAI-compatible budgets) or an Anthropic
        // `thinking` budget; thought summaries come back as `reasoning_content`.
        let budget =
            CanonicalChat.geminiThinkingBudget(request["reasoning_effort"]?.stringValue)
            ?? (request["thinking"]?["type"]?.stringValue == "enabled" ? request["thinking"]?["budget_tokens"]?.intValue : nil)
        if let budget { generation["thinkingConfig"] = ["thinkingBudget": JSONValue(budget), "includeThoughts": .bool(budget > 0)] }
        if !generation.isEmpty { output["generationConfig"] = .object(generation) }
        if let tools = request["tools"]?.arrayValue, !tools.isEmpty {
            let declarations: [JSONValue] = tools.compactMap { tool in
                guard let function = tool["function"], let name = function["name"]?.stringValue else { return nil }
                var declaration: JSONObject = ["name": .string(name)]
                if let description = function["description"] { declaration["description"] = description }
                if let parameters = function["parameters"] { declaration["parametersJsonSchema"] = parameters }
                return .object(declaration)
            }
            output["tools"] = [["functionDeclarations": .array(declarations)]]
            switch request["tool_choice"] {
            case .string("none"): output["toolConfig"] = ["functionCallingConfig": ["mode": "NONE"]]
            case .string("required"): output["toolConfig"] = ["functionCallingConfig": ["mode": "ANY"]]
            case .object(let choice):
                if let name = choice["function"]?["name"] {
                    output["toolConfig"] = ["functionCallingConfig": ["mode": "ANY", "allowedFunctionNames": [name]]]
                }
            default: break
            }
        }
        if let mock = request["mock"] { output["mock"] = mock }
        return .object(output)
    }

    static func parts(from content: JSONValue?, field: String) throws(GatewayError) -> [JSONValue] {
        guard let content, !content.isNull else { return [] }
        if let text = content.stringValue { return text.isEmpty ? [] : [["text": .string(text)]] }
        guard let items = content.arrayValue else {
            throw GatewayError.invalidType(field: field, expected: "a string or an array of content parts", found: content.typeName)
        }
        var parts: [JSONValue] = []
        for item in items {
            switch item["type"]?.stringValue {
            case "text":
                parts.append(["text": item["text"] ?? ""])
            case "image_url":
                let url = item["image_url"]?["url"]?.stringValue ?? ""
                if url.hasPrefix("data:"), let comma = url.firstIndex(of: ",") {
                    let mimeType = String(url.dropFirst(5).prefix(while: { $0 != ";" }))
                    parts.append(["inlineData": ["mimeType": .string(mimeType), "data": .string(String(url[url.index(after: comma)...]))]])
                } else {
                    parts.append(["fileData": ["fileUri": .string(url)]])
                }
            default:
                throw GatewayError.invalidRequest(
                    "\(field): content parts of type '\(item["type"]?.stringValue ?? "none")' cannot be sent to Gemini models.",
                    param: field,
                    code: .unsupportedContent
                )
            }
        }
        return parts
    }

    /// Gemini `finishReason` → OpenAI `finish_reason`.
    public static func finishReason(_ reason: String?) -> String? {
        switch reason {
        case nil: nil
        case "MAX_TOKENS": "length"
        case "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY": "content_filter"
        default: "stop"
        }
    }

    /// Gemini `usageMetadata` → OpenAI usage. Thinking tokens count as completion (reasoning)
    /// tokens, as OpenAI counts reasoning; cached content is part of the prompt.
    public static func usage(_ metadata: JSONValue?) -> JSONValue {
        let prompt = metadata?["promptTokenCount"]?.intValue ?? 0
        let candidates = metadata?["candidatesTokenCount"]?.intValue ?? 0
        let thoughts = metadata?["thoughtsTokenCount"]?.intValue ?? 0
        let cached = metadata?["cachedContentTokenCount"]?.intValue ?? 0
        return [
            "prompt_tokens": JSONValue(prompt), "completion_tokens": JSONValue(candidates + thoughts),
            "total_tokens": JSONValue(prompt + candidates + thoughts),
            "prompt_tokens_details": ["cached_tokens": JSONValue(cached)],
            "completion_tokens_details": ["reasoning_tokens": JSONValue(thoughts)],
        ]
    }

    /// Text, thought summaries and function calls of a candidate; each call gets a fresh id
    /// that carries its thought signature (see ``GeminiToolCallID``).
    static func content(of candidate: JSONValue?, toolOffset: Int, random: inout some RandomNumberGenerator) -> (
        text: String, calls: [JSONValue], thoughts: String
    ) {
        var text = ""
        var thoughts = ""
        var calls: [JSONValue] = []
        for part in candidate?["content"]?["parts"]?.arrayValue ?? [] {
            if part["thought"]?.boolValue == true {
                thoughts += part["text"]?.stringValue ?? ""
                continue
            }
            if let piece = part["text"]?.stringValue { text += piece }
            if let call = part["functionCall"] {
                let index = toolOffset + calls.count
                let signature = part["thoughtSignature"]?.stringValue
                var toolCall: JSONObject = [
                    "index": JSONValue(index), "id": .string(GeminiToolCallID.make(signature: signature, using: &random)), "type": "function",
                    "function": ["name": call["name"] ?? "", "arguments": .string((call["args"] ?? .object(JSONObject())).serialized())],
                ]
                if let signature { toolCall["extra_content"] = ["google": ["thought_signature": .string(signature)]] }
                calls.append(.object(toolCall))
            }
        }
        return (text, calls, thoughts)
    }

    /// A `GenerateContentResponse` → an OpenAI `chat.completion`.
    public static func completion(fromGemini bytes: [UInt8], created: Int = CanonicalChat.unixTime()) throws(GatewayError) -> JSONValue {
        guard let response = try? JSONValue.parse(bytes), response.objectValue != nil else {
            throw GatewayError.upstreamUnavailable("The provider's response could not be translated.", code: .upstreamInvalidResponse)
        }
        let candidate = response["candidates"]?.arrayValue?.first
        var random = SystemRandomNumberGenerator()
        let (text, calls, thoughts) = content(of: candidate, toolOffset: 0, random: &random)
        var reasoning = CanonicalChat.Reasoning()
        reasoning.text = thoughts
        // A blocked prompt comes back as 200 with no candidates and a block reason.
        let blocked = candidate == nil && response["promptFeedback"]?["blockReason"] != nil
        let toolCalls: [JSONValue] = calls.map { call in
            var object = call.objectValue ?? JSONObject()
            object["index"] = nil
            return .object(object)
        }
        return CanonicalChat.completion(
            id: response["responseId"]?.stringValue.map { "chatcmpl-" + $0 } ?? CanonicalChat.uniqueID("chatcmpl-"), created: created,
            model: response["modelVersion"] ?? "gemini", text: text,
            toolCalls: toolCalls, finishReason: blocked ? "content_filter" : finishReason(candidate?["finishReason"]?.stringValue) ?? "stop",
            usage: usage(response["usageMetadata"]), reasoning: reasoning
        )
    }
}

/// Tool-call ids for Gemini function calls, which carry no id of their own that is unique
/// across a conversation, and which Gemini 3 signs.
///
/// Google requires the `thoughtSignature` of a `functionCall` part to come back on that part in
/// the next turn (Gemini 3 answers 400 without it: ai.google.dev/gemini-api/docs/thought-signatures).
/// OpenAI and Anthropic clients keep a tool call's id and send it back with the call, so the id
/// carries the signature: `call_` and 24 random letters and digits, then for a signed call
/// `_ts_` and the signature in base64url (ids stay within `[A-Za-z0-9_-]`, which Anthropic
/// requires of `tool_use` ids). The call also carries the signature in
/// `extra_content.google.thought_signature`, where Google's own OpenAI-compatible API puts it.
public enum GeminiToolCallID {
    static let marker = "_ts_"

    public static func make(signature: String?, using random: inout some RandomNumberGenerator) -> String {
        let id = CanonicalChat.uniqueID("call_", using: &random)
        guard let signature, !signature.isEmpty else { return id }
        var encoded = ""
        encoded.reserveCapacity(signature.utf8.count)
        for character in signature.unicodeScalars {
            switch character {
            case "+": encoded.unicodeScalars.append("-")
            case "/": encoded.unicodeScalars.append("_")
            case "=": continue
            default: encoded.unicodeScalars.append(character)
            }
        }
        return id + marker + encoded
    }

    /// The thought signature (standard base64) carried by an id ``make(signature:)`` minted, or nil.
    public static func signature(in id: String) -> String? {
        let utf8 = Array(id.utf8)
        let prefix = 5 + 24  // "call_" and the random part, which has no "_".
        guard utf8.count > prefix + marker.utf8.count, id.hasPrefix("call_"),
            utf8[prefix..<(prefix + marker.utf8.count)].elementsEqual(marker.utf8)
        else { return nil }
        var signature = ""
        for byte in utf8[(prefix + marker.utf8.count)...] {
            switch byte {
            case UInt8(ascii: "-"): signature.unicodeScalars.append("+")
            case UInt8(ascii: "_"): signature.unicodeScalars.append("/")
            default: signature.unicodeScalars.append(Unicode.Scalar(byte))
            }
        }
        while signature.utf8.count % 4 != 0 { signature.unicodeScalars.append("=") }
        return signature
    }
}

/// Gemini `streamGenerateContent?alt=sse` → canonical OpenAI chunks (`[DONE]` at the end).
///
/// Each Gemini event is a partial response; function calls arrive whole and get consecutive
/// tool indexes; the last usage seen becomes the final usage chunk.
public struct GeminiStreamDecoder: Sendable {
    var parser = SSEParser()
    var started = false
    var toolCount = 0
    var finish: String?
    var usage: JSONValue?
    var model = "gemini"
    var id: String
    let created: Int
    /// Draws the answer's and the tool calls' ids.
    var random: SplitMix64
    public private(set) var finished = false

    /// `created`: the time of the answer (Unix seconds), the same on every chunk; `seed`: of
    /// the ids the decoder mints (random unless a test fixes it).
    public init(created: Int = CanonicalChat.unixTime(), seed: UInt64 = UInt64.random(in: .min ... .max)) {
        self.created = created
        var random = SplitMix64(seed: seed)
        self.id = CanonicalChat.uniqueID("chatcmpl-", using: &random)
        self.random = random
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
        guard !finished, let response = try? JSONValue.parse(event.data) else { return }
        if let error = response["error"] {
            write(["error": ["message": error["message"] ?? "provider error", "type": error["status"] ?? "api_error"]], into: &output)
            finished = true
            return
        }
        if let version = response["modelVersion"]?.stringValue { model = version }
        // The id is fixed by the first event: every chunk of a stream carries the same one.
        if !started, let responseID = response["responseId"]?.stringValue { id = "chatcmpl-" + responseID }
        if !started {
            started = true
            write(chunk(["role": "assistant", "content": ""]), into: &output)
        }
        let candidate = response["candidates"]?.arrayValue?.first
        let (text, calls, thoughts) = GeminiOutbound.content(of: candidate, toolOffset: toolCount, random: &random)
        if !thoughts.isEmpty { write(chunk(["reasoning_content": .string(thoughts)]), into: &output) }
        if !text.isEmpty { write(chunk(["content": .string(text)]), into: &output) }
        if !calls.isEmpty {
            toolCount += calls.count
            write(chunk(["tool_calls": .array(calls)]), into: &output)
        }
        if let reason = GeminiOutbound.finishReason(candidate?["finishReason"]?.stringValue) { finish = reason }
        if let metadata = response["usageMetadata"] { usage = metadata }
    }

    /// Called when the upstream body ends: Gemini has no terminator, so the end is here.
    public mutating func finish(into output: inout ByteBuffer) {
        guard !finished else { return }
        finished = true
        if !started { return }
        write(chunk([:], finish: toolCount > 0 ? "tool_calls" : (finish ?? "stop")), into: &output)
        CanonicalChunks(id: id, model: model, created: created).writeUsageAndDone(GeminiOutbound.usage(usage), into: &output)
    }
}

/// Embeddings: OpenAI `/embeddings` ↔ Gemini `batchEmbedContents`.
extension GeminiOutbound {
    /// Builds the `batchEmbedContents` body; returns it with the requested encoding format.
    public static func embeddingRequest(fromOpenAI bytes: [UInt8], model: String) throws(GatewayError) -> (body: JSONValue, base64: Bool) {
        let (inputs, dimensions, base64) = try embeddingInputs(bytes)
        let requests: [JSONValue] = inputs.map { text in
            var entry: JSONObject = ["model": .string("models/" + model), "content": ["parts": [["text": .string(text)]]]]
            if let dimensions { entry["outputDimensionality"] = JSONValue(dimensions) }
            return .object(entry)
        }
        return (["requests": .array(requests)], base64)
    }

    /// Vertex AI's text-embedding `:predict` body: one instance per input, `dimensions` →
    /// `outputDimensionality`, inputs past the model's limit truncated as OpenAI does not.
    public static func vertexEmbeddingRequest(fromOpenAI bytes: [UInt8]) throws(GatewayError) -> (body: JSONValue, base64: Bool) {
        let (inputs, dimensions, base64) = try embeddingInputs(bytes)
        var parameters: JSONObject = ["autoTruncate": false]
        if let dimensions { parameters["outputDimensionality"] = JSONValue(dimensions) }
        return (["instances": .array(inputs.map { ["content": .string($0)] }), "parameters": .object(parameters)], base64)
    }

    /// `predictions[].embeddings.values` → an OpenAI list; the token counts Vertex reports
    /// per input are the usage.
    public static func vertexEmbeddingResponse(_ bytes: [UInt8], model: String, base64: Bool) throws(GatewayError) -> JSONValue {
        guard let response = try? JSONValue.parse(bytes), let predictions = response["predictions"]?.arrayValue else {
            throw GatewayError.upstreamUnavailable("The provider's response could not be translated.", code: .upstreamInvalidResponse)
        }
        let vectors = predictions.map { $0["embeddings"]?["values"]?.arrayValue?.compactMap(\.doubleValue) ?? [] }
        let tokens = predictions.reduce(0) { $0 + ($1["embeddings"]?["statistics"]?["token_count"]?.intValue ?? 0) }
        return EmbeddingEncoding.openAIList(vectors, model: model, base64: base64, promptTokens: tokens)
    }

    /// The texts of an OpenAI embeddings request, its `dimensions` and whether it wants base64.
    static func embeddingInputs(_ bytes: [UInt8]) throws(GatewayError) -> (inputs: [String], dimensions: Int?, base64: Bool) {
        guard let request = (try? JSONValue.parse(bytes))?.objectValue else {
            throw GatewayError.invalidJSON("the body must be a JSON object")
        }
        let inputs: [String]
        switch request["input"] {
        case .string(let text): inputs = [text]
        case .array(let items):
            inputs = try items.map { (item) throws(GatewayError) -> String in
                guard let text = item.stringValue else {
                    throw GatewayError.invalidRequest(
                        "Gemini embeddings take text inputs only, not token arrays.", param: "input", code: .unsupportedContent)
                }
                return text
            }
        default: throw GatewayError.missingField("input")
        }
        return (inputs, request["dimensions"]?.intValue, request["encoding_format"]?.stringValue == "base64")
    }

    /// `{"embeddings":[{"values":[...]}]}` → an OpenAI embedding list (base64 float32 on request).
    public static func embeddingResponse(fromGemini bytes: [UInt8], model: String, base64: Bool) throws(GatewayError) -> JSONValue {
        guard let response = try? JSONValue.parse(bytes), let embeddings = response["embeddings"]?.arrayValue else {
            throw GatewayError.upstreamUnavailable("The provider's response could not be translated.", code: .upstreamInvalidResponse)
        }
        let vectors = embeddings.map { $0["values"]?.arrayValue?.compactMap(\.doubleValue) ?? [] }
        return EmbeddingEncoding.openAIList(vectors, model: model, base64: base64, promptTokens: 0)
    }
}

/// OpenAI's `encoding_format: base64`: little-endian float32 values, base64-encoded.
public enum EmbeddingEncoding {
    /// An OpenAI embeddings response for `vectors`, encoded as the client asked.
    public static func openAIList(_ vectors: [[Double]], model: String, base64: Bool, promptTokens: Int) -> JSONValue {
        let data: [JSONValue] = vectors.enumerated().map { index, values in
            let encoded: JSONValue = base64 ? .string(base64Float32(values)) : .array(values.map { JSONValue($0) })
            return ["object": "embedding", "index": JSONValue(index), "embedding": encoded]
        }
        return [
            "object": "list", "data": .array(data), "model": .string(model),
            "usage": ["prompt_tokens": JSONValue(promptTokens), "total_tokens": JSONValue(promptTokens)],
        ]
    }

    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    public static func base64Float32(_ values: [Double]) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(values.count * 4)
        for value in values {
            let bits = Float(value).bitPattern.littleEndian
            withUnsafeBytes(of: bits) { bytes.append(contentsOf: $0) }
        }
        var output: [UInt8] = []
        output.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index < bytes.count {
            let b0 = bytes[index]
            let b1 = index + 1 < bytes.count ? bytes[index + 1] : 0
            let b2 = index + 2 < bytes.count ? bytes[index + 2] : 0
            output.append(alphabet[Int(b0 >> 2)])
            output.append(alphabet[Int((b0 & 0x03) << 4 | b1 >> 4)])
            output.append(index + 1 < bytes.count ? alphabet[Int((b1 & 0x0F) << 2 | b2 >> 6)] : UInt8(ascii: "="))
            output.append(index + 2 < bytes.count ? alphabet[Int(b2 & 0x3F)] : UInt8(ascii: "="))
            index += 3
        }
        return String(decoding: output, as: UTF8.self)
    }
}

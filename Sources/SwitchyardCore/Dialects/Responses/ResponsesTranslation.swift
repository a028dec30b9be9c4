import NIOCore

/// The pieces of a Responses API `response` object: the envelope (status, usage, the request's
/// settings echoed) and its output items.
public struct ResponsesEnvelope: Sendable {
    public let responseID: String
    let createdAt: Int
    /// The request's settings the response object repeats (instructions, tools, …).
    let echo: JSONObject

    /// `request`: the client's Responses request as sent.
    public init(requestID: String, request: [UInt8]?, createdAt: Int) {
        let id = requestID.hasPrefix("req_") ? String(requestID.dropFirst(4)) : requestID
        self.responseID = "resp_" + id
        self.createdAt = createdAt
        var echo = JSONObject()
        if let request, let object = (try? JSONValue.parse(request))?.objectValue {
            for name in [
                "instructions", "max_output_tokens", "parallel_tool_calls", "temperature", "top_p", "tool_choice", "tools", "text", "reasoning",
                "metadata", "user",
            ] {
                if let value = object[name] { echo[name] = value }
            }
        }
        self.echo = echo
    }

    var itemSuffix: String { String(responseID.dropFirst(5)) }
    var messageID: String { "msg_" + itemSuffix }
    var reasoningID: String { "rs_" + itemSuffix }
    func functionCallID(_ index: Int) -> String { "fc_\(itemSuffix)_\(index)" }

    /// The `response` object. `status`: in_progress, completed, incomplete or failed.
    func response(status: String, model: String, output: [JSONValue], usage: TokenUsage?, incomplete: String? = nil, error: GatewayError? = nil)
        -> JSONValue
    {
        var object: JSONObject = [
            "id": .string(responseID), "object": "response", "created_at": JSONValue(createdAt), "status": .string(status),
            "error": error.map { ["code": .string($0.code?.rawValue ?? $0.type), "message": .string($0.message)] } ?? .null,
            "incomplete_details": incomplete.map { ["reason": .string($0)] } ?? .null,
            "instructions": echo["instructions"] ?? .null, "max_output_tokens": echo["max_output_tokens"] ?? .null,
            "model": .string(model), "output": .array(output), "parallel_tool_calls": echo["parallel_tool_calls"] ?? true,
            "previous_response_id": .null, "reasoning": echo["reasoning"] ?? ["effort": .null, "summary": .null], "store": false,
            "temperature": echo["temperature"] ?? JSONValue(1.0), "text": echo["text"] ?? ["format": ["type": "text"]],
            "tool_choice": echo["tool_choice"] ?? "auto", "tools": echo["tools"] ?? [], "top_p": echo["top_p"] ?? JSONValue(1.0),
            "truncation": "disabled", "usage": usage.map(Self.usage) ?? .null, "user": echo["user"] ?? .null,
            "metadata": echo["metadata"] ?? .object(JSONObject()),
        ]
        if status == "in_progress" { object["usage"] = .null }
        return .object(object)
    }

    static func usage(_ usage: TokenUsage) -> JSONValue {
        [
            "input_tokens": JSONValue(usage.promptTokens), "input_tokens_details": ["cached_tokens": JSONValue(usage.cachedPromptTokens)],
            "output_tokens": JSONValue(usage.completionTokens),
            "output_tokens_details": ["reasoning_tokens": JSONValue(usage.reasoningTokens)],
            "total_tokens": JSONValue(usage.promptTokens + usage.completionTokens),
        ]
    }

    /// finish_reason → status and the reason it is incomplete.
    static func status(_ finishReason: String?) -> (status: String, incomplete: String?) {
        switch finishReason {
        case "length": ("incomplete", "max_output_tokens")
        case "content_filter": ("incomplete", "content_filter")
        default: ("completed", nil)
        }
    }

    func reasoningItem(_ text: String, status: String = "completed") -> JSONValue {
        [
            "type": "reasoning", "id": .string(reasoningID),
            "summary": text.isEmpty ? [] : [["type": "summary_text", "text": .string(text)]],
        ]
    }

    func messageItem(text: String?, refusal: String?, status: String) -> JSONValue {
        var content: [JSONValue] = []
        if let text { content.append(["type": "output_text", "text": .string(text), "annotations": []]) }
        if let refusal { content.append(["type": "refusal", "refusal": .string(refusal)]) }
        return [
            "type": "message", "id": .string(messageID), "status": .string(status), "role": "assistant", "content": .array(content),
        ]
    }

    func functionCallItem(index: Int, callID: String, name: String, arguments: String, status: String) -> JSONValue {
        [
            "type": "function_call", "id": .string(functionCallID(index)), "call_id": .string(callID), "name": .string(name),
            "arguments": .string(arguments), "status": .string(status),
        ]
    }
}

/// Canonical (OpenAI Chat Completions) answers → the Responses API.
public enum ResponsesResponseTranslator {
    /// A complete chat completion → a `response` object.
    public static func response(fromOpenAI body: [UInt8], envelope: ResponsesEnvelope) throws(GatewayError) -> JSONValue {
        guard let completion = try? JSONValue.parse(body), let choice = completion["choices"]?.arrayValue?.first else {
            throw GatewayError.upstreamUnavailable("The provider's response could not be translated.", code: .upstreamInvalidResponse)
        }
        let message = choice["message"]
        var output: [JSONValue] = []
        if let reasoning = message?["reasoning_content"]?.stringValue ?? message?["reasoning"]?.stringValue, !reasoning.isEmpty {
            output.append(envelope.reasoningItem(reasoning))
        }
        let text = message?["content"]?.stringValue
        let refusal = message?["refusal"]?.stringValue
        if (text?.isEmpty == false) || refusal != nil {
            output.append(envelope.messageItem(text: text?.isEmpty == false ? text : nil, refusal: refusal, status: "completed"))
        }
        for (index, call) in (message?["tool_calls"]?.arrayValue ?? []).enumerated() {
            output.append(
                envelope.functionCallItem(
                    index: index, callID: call["id"]?.stringValue ?? "call_\(index)", name: call["function"]?["name"]?.stringValue ?? "",
                    arguments: call["function"]?["arguments"]?.stringValue ?? "{}", status: "completed"))
        }
        let (status, incomplete) = ResponsesEnvelope.status(choice["finish_reason"]?.stringValue)
        let usage = (try? JSONObjectScan(body)).flatMap { TokenUsage(openAIResponse: $0) }
        return envelope.response(
            status: status, model: completion["model"]?.stringValue ?? "unknown", output: output, usage: usage, incomplete: incomplete)
    }
}

/// A canonical chunk stream → Responses API streaming events, a value-type state machine:
/// `response.created` and `response.in_progress` first; reasoning as a `reasoning` item with
/// `response.reasoning_summary_text.delta`s; text as one `message` item with
/// `response.output_text.delta`s (reasoning closes before it); each tool call as a whole
/// `function_call` item after the text (added, its arguments in one delta, done), so items
/// never overlap and `arguments` is always the complete string; `response.completed` (or
/// `response.incomplete`) with the output and usage at the end, `response.failed` on an error.
/// Every event carries a rising `sequence_number`.
public struct ResponsesStreamEncoder: Sendable {
    let envelope: ResponsesEnvelope
    var sequence = 0
    var started = false
    var model = "unknown"
    var output: [JSONValue] = []
    var reasoning: (index: Int, text: String)?
    var message: (index: Int, text: String)?
    var refusal: String?
    var toolCalls: [Int: (id: String?, name: String?, arguments: String)] = [:]
    var finishReason: String?

    public init(envelope: ResponsesEnvelope) {
        self.envelope = envelope
    }

    mutating func write(_ type: String, _ payload: JSONObject, into output: inout ByteBuffer) {
        NamedEvents.write(type, leading: ["sequence_number": JSONValue(sequence)], payload, into: &output)
        sequence += 1
    }

    mutating func start(into output: inout ByteBuffer) {
        guard !started else { return }
        started = true
        let response = envelope.response(status: "in_progress", model: model, output: [], usage: nil)
        write("response.created", ["response": response], into: &output)
        write("response.in_progress", ["response": response], into: &output)
    }

    /// Consumes one canonical `chat.completion.chunk`.
    public mutating func chunk(_ chunk: JSONValue, into output: inout ByteBuffer) {
        if !started, let name = chunk["model"]?.stringValue, !name.isEmpty { model = name }
        start(into: &output)
        guard let choice = chunk["choices"]?.arrayValue?.first else { return }
        let delta = choice["delta"]
        if let text = delta?["reasoning_content"]?.stringValue ?? delta?["reasoning"]?.stringValue, !text.isEmpty, message == nil {
            if reasoning == nil {
                reasoning = (self.output.count, "")
                self.output.append(.null)
                write("response.output_item.added", ["output_index": JSONValue(reasoning!.index), "item": envelope.reasoningItem("")], into: &output)
                write(
                    "response.reasoning_summary_part.added",
                    [
                        "item_id": .string(envelope.reasoningID), "output_index": JSONValue(reasoning!.index), "summary_index": 0,
                        "part": ["type": "summary_text", "text": ""],
                    ], into: &output)
            }
            reasoning!.text += text
            write(
                "response.reasoning_summary_text.delta",
                [
                    "item_id": .string(envelope.reasoningID), "output_index": JSONValue(reasoning!.index), "summary_index": 0,
                    "delta": .string(text),
                ], into: &output)
        }
        if let text = delta?["content"]?.stringValue, !text.isEmpty {
            textDelta(text, raw: JSONWriter.quoted(text)[...], into: &output)
        }
        if let text = delta?["refusal"]?.stringValue, !text.isEmpty { refusal = (refusal ?? "") + text }
        for call in delta?["tool_calls"]?.arrayValue ?? [] {
            let index = call["index"]?.intValue ?? 0
            // Modified in place: a copy taken out of the dictionary would copy the arguments
            // at every fragment.
            if let id = call["id"]?.stringValue, !id.isEmpty { toolCalls[index, default: (nil, nil, "")].id = id }
            if let name = call["function"]?["name"]?.stringValue, !name.isEmpty { toolCalls[index, default: (nil, nil, "")].name = name }
            toolCalls[index, default: (nil, nil, "")].arguments += call["function"]?["arguments"]?.stringValue ?? ""
        }
        if let reason = choice["finish_reason"]?.stringValue { finishReason = reason }
    }

    /// Streams text into the message item (added first when there is none). `raw` is `text`
    /// as a JSON string literal: a chunk's `content` as received on the hot path.
    mutating func textDelta(_ text: String, raw: ArraySlice<UInt8>, into output: inout ByteBuffer) {
        closeReasoning(into: &output)
        if message == nil {
            message = (self.output.count, "")
            self.output.append(.null)
            write(
                "response.output_item.added",
                ["output_index": JSONValue(message!.index), "item": envelope.messageItem(text: nil, refusal: nil, status: "in_progress")],
                into: &output)
            write(
                "response.content_part.added",
                [
                    "item_id": .string(envelope.messageID), "output_index": JSONValue(message!.index), "content_index": 0,
                    "part": ["type": "output_text", "text": "", "annotations": []],
                ], into: &output)
        }
        message!.text += text
        output.writeStaticString("event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":")
        output.writeString(String(sequence))
        output.writeStaticString(",\"item_id\":")
        output.writeBytes(JSONWriter.quoted(envelope.messageID))
        output.writeStaticString(",\"output_index\":")
        output.writeString(String(message!.index))
        output.writeStaticString(",\"content_index\":0,\"delta\":")
        output.writeBytes(raw)
        output.writeStaticString(",\"logprobs\":[]}\n\n")
        sequence += 1
    }

    mutating func closeReasoning(into output: inout ByteBuffer) {
        guard let open = reasoning else { return }
        let itemID = JSONValue.string(envelope.reasoningID)
        write(
            "response.reasoning_summary_text.done",
            ["item_id": itemID, "output_index": JSONValue(open.index), "summary_index": 0, "text": .string(open.text)], into: &output)
        write(
            "response.reasoning_summary_part.done",
            [
                "item_id": itemID, "output_index": JSONValue(open.index), "summary_index": 0,
                "part": ["type": "summary_text", "text": .string(open.text)],
            ], into: &output)
        let item = envelope.reasoningItem(open.text)
        self.output[open.index] = item
        write("response.output_item.done", ["output_index": JSONValue(open.index), "item": item], into: &output)
        reasoning = nil
    }

    mutating func closeMessage(into output: inout ByteBuffer) {
        guard let open = message else {
            if let refusal {
                // A refusal without text: its own message item.
                let index = self.output.count
                let item = envelope.messageItem(text: nil, refusal: refusal, status: "completed")
                self.output.append(item)
                write("response.output_item.added", ["output_index": JSONValue(index), "item": item], into: &output)
                write("response.output_item.done", ["output_index": JSONValue(index), "item": item], into: &output)
                self.refusal = nil
            }
            return
        }
        let itemID = JSONValue.string(envelope.messageID)
        let part: JSONValue = ["type": "output_text", "text": .string(open.text), "annotations": []]
        write(
            "response.output_text.done",
            ["item_id": itemID, "output_index": JSONValue(open.index), "content_index": 0, "text": .string(open.text), "logprobs": []],
            into: &output)
        write(
            "response.content_part.done", ["item_id": itemID, "output_index": JSONValue(open.index), "content_index": 0, "part": part], into: &output)
        let item = envelope.messageItem(text: open.text, refusal: refusal, status: "completed")
        self.output[open.index] = item
        write("response.output_item.done", ["output_index": JSONValue(open.index), "item": item], into: &output)
        message = nil
        refusal = nil
    }

    /// Ends a successful stream: open items closed, tool calls sent, then the final response.
    public mutating func finish(usage: TokenUsage?, into output: inout ByteBuffer) {
        start(into: &output)
        closeReasoning(into: &output)
        closeMessage(into: &output)
        for (position, index) in toolCalls.keys.sorted().enumerated() {
            let call = toolCalls[index]!
            let outputIndex = self.output.count
            let callID = call.id ?? "call_\(index)"
            let name = call.name ?? ""
            let itemID = JSONValue.string(envelope.functionCallID(position))
            self.output.append(.null)
            write(
                "response.output_item.added",
                [
                    "output_index": JSONValue(outputIndex),
                    "item": envelope.functionCallItem(index: position, callID: callID, name: name, arguments: "", status: "in_progress"),
                ], into: &output)
            write(
                "response.function_call_arguments.delta",
                ["item_id": itemID, "output_index": JSONValue(outputIndex), "delta": .string(call.arguments)], into: &output)
            write(
                "response.function_call_arguments.done",
                ["item_id": itemID, "output_index": JSONValue(outputIndex), "arguments": .string(call.arguments)], into: &output)
            let item = envelope.functionCallItem(index: position, callID: callID, name: name, arguments: call.arguments, status: "completed")
            self.output[outputIndex] = item
            write("response.output_item.done", ["output_index": JSONValue(outputIndex), "item": item], into: &output)
        }
        let (status, incomplete) = ResponsesEnvelope.status(toolCalls.isEmpty ? finishReason : "tool_calls")
        let response = envelope.response(status: status, model: model, output: self.output, usage: usage, incomplete: incomplete)
        write(status == "completed" ? "response.completed" : "response.incomplete", ["response": response], into: &output)
    }

    /// Ends a failed stream with `response.failed` (the output so far, the error).
    public mutating func fail(_ error: GatewayError, into output: inout ByteBuffer) {
        start(into: &output)
        let response = envelope.response(status: "failed", model: model, output: self.output.filter { !$0.isNull }, usage: nil, error: error)
        write("response.failed", ["response": response], into: &output)
    }
}

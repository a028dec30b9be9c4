import NIOCore

/// Writes the Responses API's streaming events of a request with MCP tools as the loop goes:
/// `response.created` and `response.in_progress` first; each output item when it is known, with
/// its own events (`response.mcp_list_tools.in_progress/completed/failed`;
/// `response.mcp_call.in_progress`, `response.mcp_call_arguments.delta/done`,
/// `response.mcp_call.completed/failed`; function calls' arguments) between
/// `response.output_item.added` and `.done`; the model's text as it streams, one `message` item
/// per round (`response.output_text.delta`); then `response.completed` or `response.incomplete`
/// with the whole response, or `response.failed`. Every event carries a rising `sequence_number`.
public struct ResponsesMCPStreamWriter: Sendable {
    let envelope: ResponsesEnvelope
    var sequence = 0
    /// The items sent so far, as the final response lists them.
    public private(set) var output: [JSONValue] = []
    var open: (index: Int, id: String, text: String)?
    var messages = 0
    public var model: String

    public init(envelope: ResponsesEnvelope, model: String) {
        self.envelope = envelope
        self.model = model
    }

    mutating func event(_ type: String, _ payload: JSONObject, into buffer: inout ByteBuffer) {
        NamedEvents.write(type, leading: ["sequence_number": JSONValue(sequence)], payload, into: &buffer)
        sequence += 1
    }

    public mutating func start(into buffer: inout ByteBuffer) {
        let response = envelope.response(status: "in_progress", model: model, output: [], usage: nil)
        event("response.created", ["response": response], into: &buffer)
        event("response.in_progress", ["response": response], into: &buffer)
    }

    /// One whole output item with its events.
    public mutating func item(_ item: JSONValue, into buffer: inout ByteBuffer) {
        closeText(into: &buffer)
        let position = JSONValue(output.count)
        let reference: JSONObject = ["item_id": item["id"] ?? .null, "output_index": position]
        func added(_ changes: JSONObject, _ buffer: inout ByteBuffer) {
            var shown = item.objectValue ?? [:]
            for member in changes.members { shown[member.key] = member.value }
            event("response.output_item.added", ["output_index": position, "item": .object(shown)], into: &buffer)
        }
        switch item["type"]?.stringValue {
        case "mcp_list_tools":
            added(["tools": []], &buffer)
            event("response.mcp_list_tools.in_progress", reference, into: &buffer)
            let failed = item["error"].map { !$0.isNull } ?? false
            event(failed ? "response.mcp_list_tools.failed" : "response.mcp_list_tools.completed", reference, into: &buffer)
        case "mcp_call":
            added(["output": .null, "error": .null, "status": "in_progress", "arguments": ""], &buffer)
            event("response.mcp_call.in_progress", reference, into: &buffer)
            let arguments = item["arguments"] ?? ""
            event("response.mcp_call_arguments.delta", reference.merging(["delta": arguments]), into: &buffer)
            event("response.mcp_call_arguments.done", reference.merging(["arguments": arguments]), into: &buffer)
            event(item["status"]?.stringValue == "failed" ? "response.mcp_call.failed" : "response.mcp_call.completed", reference, into: &buffer)
        case "function_call":
            added(["arguments": "", "status": "in_progress"], &buffer)
            let arguments = item["arguments"] ?? ""
            event("response.function_call_arguments.delta", reference.merging(["delta": arguments]), into: &buffer)
            event("response.function_call_arguments.done", reference.merging(["arguments": arguments]), into: &buffer)
        default:
            added([:], &buffer)
        }
        output.append(item)
        event("response.output_item.done", ["output_index": position, "item": item], into: &buffer)
    }

    /// A piece of the model's text: a `message` item is opened on the first piece of a round.
    public mutating func text(_ delta: String, into buffer: inout ByteBuffer) {
        if open == nil {
            messages += 1
            let id = messages == 1 ? envelope.messageID : "\(envelope.messageID)_\(messages)"
            open = (output.count, id, "")
            output.append(.null)
            let position = JSONValue(open!.index)
            event(
                "response.output_item.added",
                [
                    "output_index": position,
                    "item": ["type": "message", "id": .string(id), "status": "in_progress", "role": "assistant", "content": []],
                ], into: &buffer)
            event(
                "response.content_part.added",
                [
                    "item_id": .string(id), "output_index": position, "content_index": 0,
                    "part": ["type": "output_text", "text": "", "annotations": []],
                ], into: &buffer)
        }
        open!.text += delta
        event(
            "response.output_text.delta",
            ["item_id": .string(open!.id), "output_index": JSONValue(open!.index), "content_index": 0, "delta": .string(delta), "logprobs": []],
            into: &buffer)
    }

    /// Ends the round's `message` item, if one is open.
    public mutating func closeText(into buffer: inout ByteBuffer) {
        guard let current = open else { return }
        let (index, id, text) = (current.index, current.id, current.text)
        open = nil
        let reference: JSONObject = ["item_id": .string(id), "output_index": JSONValue(index), "content_index": 0]
        let part: JSONValue = ["type": "output_text", "text": .string(text), "annotations": []]
        event("response.output_text.done", reference.merging(["text": .string(text), "logprobs": []]), into: &buffer)
        event("response.content_part.done", reference.merging(["part": part]), into: &buffer)
        let item: JSONValue = ["type": "message", "id": .string(id), "status": "completed", "role": "assistant", "content": [part]]
        output[index] = item
        event("response.output_item.done", ["output_index": JSONValue(index), "item": item], into: &buffer)
    }

    /// Ends the stream with the loop's outcome: the last round's items other than its text
    /// (sent as it came), then the whole response.
    public mutating func finish(_ result: MCPLoopResult, into buffer: inout ByteBuffer) {
        closeText(into: &buffer)
        var status = "completed"
        var incomplete: String?
        if let last = try? ResponsesResponseTranslator.response(fromOpenAI: result.final.serializedBytes(), envelope: envelope) {
            if let name = last["model"]?.stringValue { model = name }
            for item in last["output"]?.arrayValue ?? [] where item["type"]?.stringValue != "message" { self.item(item, into: &buffer) }
            status = last["status"]?.stringValue ?? status
            incomplete = last["incomplete_details"]?["reason"]?.stringValue
        }
        if let reason = result.incomplete {
            status = "incomplete"
            incomplete = reason
        }
        let response = envelope.response(status: status, model: model, output: output, usage: result.usage, incomplete: incomplete)
        event(status == "completed" ? "response.completed" : "response.incomplete", ["response": response], into: &buffer)
    }

    /// Ends the stream with `response.failed`: `error` is the failed round's error object.
    public mutating func fail(_ error: JSONValue, into buffer: inout ByteBuffer) {
        closeText(into: &buffer)
        var response = envelope.response(status: "failed", model: model, output: output, usage: nil).objectValue ?? [:]
        response["error"] = [
            "code": error["code"].flatMap { $0.isNull ? nil : $0 } ?? error["type"] ?? "server_error", "message": error["message"] ?? "The request failed.",
        ]
        event("response.failed", ["response": .object(response)], into: &buffer)
    }
}

/// Writes a chat completion with MCP tools as `chat.completion.chunk` events as the loop goes:
/// the role first, each round's text as the model writes it, then one chunk with the client's own
/// tool calls, one with the finish reason, the rounds' summed `usage` and the `switchyard_mcp`
/// report, and `[DONE]`; an error event when a round fails after the first byte.
public struct ChatMCPStreamWriter: Sendable {
    let head: JSONObject

    public init(id: String, model: String, created: Int) {
        head = ["id": .string(id), "object": "chat.completion.chunk", "created": JSONValue(created), "model": .string(model)]
    }

    func chunk(_ delta: JSONObject, finish: JSONValue = .null, extra: JSONObject = [:], into buffer: inout ByteBuffer) {
        var object = head
        object["choices"] = [["index": 0, "delta": .object(delta), "logprobs": .null, "finish_reason": finish]]
        for member in extra.members { object[member.key] = member.value }
        buffer.writeStaticString("data: ")
        buffer.writeBytes(JSONValue.object(object).serializedBytes())
        buffer.writeStaticString("\n\n")
    }

    public func start(into buffer: inout ByteBuffer) { chunk(["role": "assistant", "content": ""], into: &buffer) }

    public func text(_ delta: String, into buffer: inout ByteBuffer) { chunk(["content": .string(delta)], into: &buffer) }

    /// The end: `completion` is the answer ``ChatMCPStreamWriter/completion(_:)`` makes of the loop.
    public func finish(_ completion: JSONValue, into buffer: inout ByteBuffer) {
        let choice = completion["choices"]?.arrayValue?.first
        let calls = (choice?["message"]?["tool_calls"]?.arrayValue ?? []).enumerated().map { index, call -> JSONValue in
            guard case .object(var object) = call else { return call }
            object["index"] = JSONValue(index)
            return .object(object)
        }
        if !calls.isEmpty { chunk(["tool_calls": .array(calls)], into: &buffer) }
        let extra: JSONObject = ["switchyard_mcp": completion["switchyard_mcp"] ?? .null, "usage": completion["usage"] ?? .null]
        chunk([:], finish: choice?["finish_reason"] ?? "stop", extra: extra, into: &buffer)
        buffer.writeStaticString("data: [DONE]\n\n")
    }

    /// Ends a stream whose round failed: the error event, then `[DONE]`.
    public func fail(_ error: JSONValue, into buffer: inout ByteBuffer) {
        buffer.writeStaticString("data: ")
        buffer.writeBytes(JSONValue.object(["error": error]).serializedBytes())
        buffer.writeStaticString("\n\ndata: [DONE]\n\n")
    }

    /// The chat completion that reports a loop: the last round's answer with every round's
    /// usage and the `switchyard_mcp` object (rounds, incomplete reason, the Responses items).
    public static func completion(_ result: MCPLoopResult) -> JSONValue {
        var completion = result.final.objectValue ?? [:]
        if let usage = result.usage { completion["usage"] = usage.openAIJSON }
        completion["switchyard_mcp"] = [
            "rounds": JSONValue(result.rounds), "incomplete_reason": result.incomplete.map(JSONValue.string) ?? .null,
            "items": .array(result.items.map(ResponsesResponseTranslator.item)),
        ]
        return .object(completion)
    }
}

extension JSONObject {
    fileprivate func merging(_ other: JSONObject) -> JSONObject {
        var merged = self
        for member in other.members { merged[member.key] = member.value }
        return merged
    }
}

extension ResponsesMCPStreamWriter: MCPLoopStreamWriter {
    public mutating func begin(items: ArraySlice<MCPLoopItem>, into buffer: inout ByteBuffer) {
        start(into: &buffer)
        for item in items { self.item(ResponsesResponseTranslator.item(item), into: &buffer) }
    }

    public mutating func roundEnded(items: ArraySlice<MCPLoopItem>, into buffer: inout ByteBuffer) {
        closeText(into: &buffer)
        for item in items { self.item(ResponsesResponseTranslator.item(item), into: &buffer) }
    }

    public mutating func end(_ result: MCPLoopResult, into buffer: inout ByteBuffer) { finish(result, into: &buffer) }
}

extension ChatMCPStreamWriter: MCPLoopStreamWriter {
    public func begin(items: ArraySlice<MCPLoopItem>, into buffer: inout ByteBuffer) { start(into: &buffer) }

    /// What the calls did is reported at the end (`switchyard_mcp`).
    public func roundEnded(items: ArraySlice<MCPLoopItem>, into buffer: inout ByteBuffer) {}

    public func end(_ result: MCPLoopResult, into buffer: inout ByteBuffer) { finish(Self.completion(result), into: &buffer) }
}

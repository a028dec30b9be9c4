import NIOCore

/// Builds canonical (OpenAI `chat.completion.chunk`) SSE events; shared by every decoder that
/// turns a provider's stream into the canonical form.
public struct CanonicalChunks: Sendable {
    public var id: String
    public var model: String
    /// Unix seconds; the same on every chunk of a stream, as OpenAI sends it.
    public var created: Int

    public init(id: String, model: String, created: Int) {
        self.id = id
        self.model = model
        self.created = created
    }

    public func chunk(_ delta: JSONObject, finish: String? = nil) -> JSONValue {
        [
            "id": .string(id), "object": "chat.completion.chunk", "created": JSONValue(created), "model": .string(model),
            "choices": [["index": 0, "delta": .object(delta), "logprobs": .null, "finish_reason": finish.map(JSONValue.string) ?? .null]],
        ]
    }

    /// A text-only chunk's bytes up to its `content` value, the same as ``chunk(_:finish:)``
    /// would write: decoders keep it for the stream and append each text as received.
    public func textChunkPrefix() -> [UInt8] {
        var bytes: [UInt8] = Array("data: {\"id\":".utf8)
        JSONWriter.appendQuoted(id, to: &bytes)
        bytes.append(contentsOf: ",\"object\":\"chat.completion.chunk\",\"created\":\(created),\"model\":".utf8)
        JSONWriter.appendQuoted(model, to: &bytes)
        bytes.append(contentsOf: ",\"choices\":[{\"index\":0,\"delta\":{\"content\":".utf8)
        return bytes
    }

    /// Writes a text-only chunk: `prefix` from ``textChunkPrefix()``, `rawText` a JSON string
    /// literal (quotes and escapes as the provider sent them).
    public static func writeTextChunk(prefix: [UInt8], rawText: ArraySlice<UInt8>, into output: inout ByteBuffer) {
        output.writeBytes(prefix)
        output.writeBytes(rawText)
        output.writeStaticString("},\"logprobs\":null,\"finish_reason\":null}]}\n\n")
    }

    /// The usage-only chunk (empty `choices`) followed by `[DONE]`.
    public func writeUsageAndDone(_ usage: JSONValue, into output: inout ByteBuffer) {
        var usageChunk = chunk([:]).objectValue ?? JSONObject()
        usageChunk["choices"] = []
        usageChunk["usage"] = usage
        Self.write(.object(usageChunk), into: &output)
        output.writeStaticString("data: [DONE]\n\n")
    }

    public static func write(_ value: JSONValue, into output: inout ByteBuffer) {
        output.writeStaticString("data: ")
        output.writeBytes(value.serializedBytes())
        output.writeStaticString("\n\n")
    }
}

/// Named server-sent events (`event: <type>` then `data: <object with "type" first>`), as the
/// Anthropic Messages and OpenAI Responses streams send them.
public enum NamedEvents {
    /// Writes one event whose data is `{"type": type, <leading>…, <payload>…}`.
    public static func write(_ type: String, leading: JSONObject = [:], _ payload: JSONObject, into output: inout ByteBuffer) {
        var object: JSONObject = ["type": .string(type)]
        for member in leading.members { object[member.key] = member.value }
        for member in payload.members { object[member.key] = member.value }
        output.writeStaticString("event: ")
        output.writeString(type)
        output.writeStaticString("\ndata: ")
        output.writeBytes(JSONValue.object(object).serializedBytes())
        output.writeStaticString("\n\n")
    }
}

import NIOCore

/// Builds canonical (OpenAI `chat.completion.chunk`) SSE events; shared by every decoder that
/// turns a provider's stream into the canonical form.
public struct CanonicalChunks: Sendable {
    public var id: String
    public var model: String

    public init(id: String, model: String) {
        self.id = id
        self.model = model
    }

    public func chunk(_ delta: JSONObject, finish: String? = nil) -> JSONValue {
        [
            "id": .string(id), "object": "chat.completion.chunk", "created": 0, "model": .string(model),
            "choices": [["index": 0, "delta": .object(delta), "logprobs": .null, "finish_reason": finish.map(JSONValue.string) ?? .null]],
        ]
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

/// Pieces every translation between the canonical (OpenAI) chat form and another dialect needs.
public enum CanonicalChat {
    /// The canonical `stop` (a string or a list) as a list, or nil when absent.
    public static func stopSequences(_ request: JSONObject) -> JSONValue? {
        switch request["stop"] {
        case .string(let stop): [.string(stop)]
        case .array(let stops): .array(stops)
        default: nil
        }
    }

    /// A `chat.completion` for translated answers: text (null when only tools were called),
    /// tool calls, and `tool_calls` as the finish reason whenever a tool was called.
    public static func completion(
        id: String,
        model: JSONValue,
        text: String,
        toolCalls: [JSONValue],
        finishReason: String,
        usage: JSONValue
    ) -> JSONValue {
        var message: JSONObject = ["role": "assistant", "content": toolCalls.isEmpty || !text.isEmpty ? .string(text) : .null]
        if !toolCalls.isEmpty { message["tool_calls"] = .array(toolCalls) }
        message["refusal"] = .null
        return [
            "id": .string(id), "object": "chat.completion", "created": 0, "model": model,
            "choices": [
                [
                    "index": 0, "message": .object(message), "logprobs": .null,
                    "finish_reason": .string(toolCalls.isEmpty ? finishReason : "tool_calls"),
                ]
            ],
            "usage": usage,
        ]
    }
}

/// Conversation turns for dialects that require alternating roles: consecutive contributions
/// of the same role (e.g. several tool results) merge into one turn; empty ones are dropped.
public struct MergedTurns: Sendable {
    public private(set) var turns: [(role: String, items: [JSONValue])] = []

    public init() {}

    public mutating func append(_ role: String, _ items: [JSONValue]) {
        guard !items.isEmpty else { return }
        if let last = turns.last, last.role == role {
            turns[turns.count - 1].items.append(contentsOf: items)
        } else {
            turns.append((role, items))
        }
    }

    /// The turns as `[{"role": ..., "<itemsKey>": [...]}]`.
    public func json(itemsKey: String) -> JSONValue {
        .array(turns.map { .object(JSONObject([(key: "role", value: .string($0.role)), (key: itemsKey, value: .array($0.items))])) })
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A client request in another dialect, translated to the canonical form.
public struct TranslatedRequest: Sendable {
    /// The OpenAI Chat Completions body.
    public var body: JSONValue
    public var model: String
    public var stream: Bool
    /// What the client sent that the canonical form does not carry (it reaches only a provider
    /// of the client's own dialect, through the pass-through).
    public var untranslated: [UntranslatedContent] = []
    /// The request's MCP tools (Responses API `{"type": "mcp"}` tools and their input items).
    public var mcp = MCPToolRequest()
}

/// A piece of a request that no text detector reads: a non-text part, or a block of the
/// client's dialect that the canonical form leaves out (an Anthropic tool result's image).
public struct UntranslatedContent: Sendable, Equatable {
    /// The role of the message it belongs to, as the canonical form names it (`user`, `tool`).
    public var role: String
    /// Where it is in the client's body (`messages[2].content[0].content[1]`).
    public var param: String
    /// Its type (`image`, `document`, `image_url`).
    public var kind: String

    public init(role: String, param: String, kind: String) {
        self.role = role
        self.param = param
        self.kind = kind
    }
}

/// Pieces every translation between the canonical (OpenAI) chat form and another dialect needs.
public enum CanonicalChat {
    /// A request body in any dialect: a JSON object with a non-empty `model`, or a 400 that
    /// says what is wrong.
    public static func requestObject(_ bytes: [UInt8]) throws(GatewayError) -> (request: JSONObject, model: String) {
        let root: JSONValue
        do {
            root = try JSONValue.parse(bytes)
        } catch {
            throw GatewayError.invalidJSON(bytes.isEmpty ? "the body is empty" : error.description)
        }
        guard let request = root.objectValue else { throw GatewayError.invalidJSON("the body must be a JSON object") }
        guard let modelValue = request["model"] else { throw GatewayError.missingField("model") }
        guard let model = modelValue.stringValue, !model.isEmpty else {
            throw GatewayError.invalidType(field: "model", expected: "a non-empty string", found: modelValue.typeName)
        }
        return (request, model)
    }

    /// The canonical `stop` (a string or a list) as a list, or nil when absent.
    public static func stopSequences(_ request: JSONObject) -> JSONValue? {
        switch request["stop"] {
        case .string(let stop): [.string(stop)]
        case .array(let stops): .array(stops)
        default: nil
        }
    }

    /// A `chat.completion` for translated answers: text (null when only tools were called),
    /// tool calls, and `tool_calls` as the finish reason whenever a tool was called. `created`
    /// is the time of the answer in Unix seconds.
    public static func completion(
        id: String,
        created: Int,
        model: JSONValue,
        text: String,
        toolCalls: [JSONValue],
        finishReason: String,
        usage: JSONValue,
        reasoning: Reasoning = Reasoning()
    ) -> JSONValue {
        var message: JSONObject = ["role": "assistant", "content": toolCalls.isEmpty || !text.isEmpty ? .string(text) : .null]
        if !reasoning.text.isEmpty { message["reasoning_content"] = .string(reasoning.text) }
        if !reasoning.blocks.isEmpty { message["thinking_blocks"] = .array(reasoning.blocks) }
        if !toolCalls.isEmpty { message["tool_calls"] = .array(toolCalls) }
        message["refusal"] = .null
        return [
            "id": .string(id), "object": "chat.completion", "created": JSONValue(created), "model": model,
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

extension CanonicalChat {
    /// The current time in Unix seconds, for `created` on translated answers.
    public static func unixTime() -> Int { Int(WallClock.unixTime()) }

    /// A fresh identifier: `prefix` and 24 random letters and digits (about 143 bits), for
    /// answers and tool calls whose provider gives none (or one that is not unique).
    public static func uniqueID(_ prefix: String) -> String {
        var generator = SystemRandomNumberGenerator()
        return uniqueID(prefix, using: &generator)
    }

    /// ``uniqueID(_:)`` drawing from `generator` (a seeded one makes a translation repeatable in tests).
    public static func uniqueID(_ prefix: String, using generator: inout some RandomNumberGenerator) -> String {
        var id = prefix
        id.reserveCapacity(prefix.utf8.count + 24)
        for _ in 0..<24 { id.unicodeScalars.append(idAlphabet[Int.random(in: 0..<idAlphabet.count, using: &generator)]) }
        return id
    }

    static let idAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".unicodeScalars)
}

extension CanonicalChat {
    /// A model's reasoning in the canonical form. OpenAI's Chat Completions has no field for
    /// it, so Switchyard uses the two de-facto ones: `reasoning_content` (the text, as DeepSeek,
    /// vLLM and OpenRouter send it) and `thinking_blocks` (each block with its signature, or
    /// a redacted block's data), which a client sends back on the assistant turn so that a
    /// provider that signs its reasoning (Anthropic) gets it back intact for tool use.
    public struct Reasoning: Sendable, Equatable {
        public var text = ""
        /// `{"type": "thinking", "thinking", "signature"}` or `{"type": "redacted_thinking", "data"}`.
        public var blocks: [JSONValue] = []
        public init() {}
        public var isEmpty: Bool { text.isEmpty && blocks.isEmpty }
    }

    /// Token budgets for `reasoning_effort` on Anthropic (its minimum is 1,024).
    public static func anthropicThinkingBudget(_ effort: String?) -> Int? {
        switch effort {
        case "low": 1024
        case "medium": 2048
        case "high": 4096
        default: nil
        }
    }

    /// Token budgets for `reasoning_effort` on Gemini (as Google's own OpenAI-compatible API maps them).
    public static func geminiThinkingBudget(_ effort: String?) -> Int? {
        switch effort {
        case "minimal", "none": 0
        case "low": 1024
        case "medium": 8192
        case "high": 24576
        default: nil
        }
    }

    /// A canonical body for a provider that takes it as it is: the gateway's reasoning
    /// extensions on messages (`reasoning_content`, `thinking_blocks`: answer-only fields that
    /// OpenAI-compatible APIs refuse as input) are removed, and with `dropThinking` the
    /// Anthropic `thinking` parameter a translated Anthropic request carried. Untouched (the
    /// same bytes) when none is present.
    /// Whether the exact bytes of `needle` occur in `haystack`.
    static func occurs(_ needle: StaticString, anchor: Int = 0, in haystack: [UInt8]) -> Bool {
        needle.withUTF8Buffer { needle in
            haystack.withUnsafeBufferPointer { bytes in
                guard needle.count > anchor, needle.count <= bytes.count else { return false }
                // memchr (vectorised) to each candidate of the needle's `anchor` byte, a byte that
                // is rare in requests (the first, a quote, stops at every key and string), then
                // memcmp for the whole needle around it.
                let base = bytes.baseAddress!
                let byte = Int32(needle[anchor])
                var index = anchor
                let last = bytes.count - needle.count + anchor
                while index <= last {
                    guard let found = memchr(base + index, byte, last - index + 1) else { return false }
                    index = base.distance(to: found.assumingMemoryBound(to: UInt8.self))
                    if memcmp(base + index - anchor, needle.baseAddress!, needle.count) == 0 { return true }
                    index += 1
                }
                return false
            }
        }
    }

    public static func strippingReasoning(_ body: [UInt8], dropThinking: Bool) -> [UInt8] {
        // Almost every request has neither member: one exact byte search each (keys are
        // case-sensitive) before anything is parsed.
        guard Self.occurs("\"thinking", anchor: 5, in: body) || Self.occurs("\"reasoning_content\"", anchor: 10, in: body),
            case .object(var request)? = try? JSONValue.parse(body)
        else { return body }
        var changed = false
        if dropThinking, request["thinking"] != nil {
            request["thinking"] = nil
            changed = true
        }
        if var messages = request["messages"]?.arrayValue {
            for index in messages.indices {
                guard case .object(var message) = messages[index], message["thinking_blocks"] != nil || message["reasoning_content"] != nil
                else { continue }
                message["thinking_blocks"] = nil
                message["reasoning_content"] = nil
                messages[index] = .object(message)
                changed = true
            }
            request["messages"] = .array(messages)
        }
        return changed ? JSONValue.object(request).serializedBytes() : body
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

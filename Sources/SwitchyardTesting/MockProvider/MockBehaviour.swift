import SwitchyardCore

/// The knobs of the mock provider: timing, size and failure modes.
///
/// Defaults come from the mock's configuration (`options:` of a `mock` provider, or
/// `switchyard mock-provider` flags); a request can override any knob with an `x-mock-<knob>`
/// header or a `"mock": {...}` object in its JSON body (the gateway forwards unknown fields
/// untouched, so tests can steer the mock through the gateway).
public struct MockBehaviour: Sendable, Equatable {
    /// Delay before the response head is sent.
    public var latencyMilliseconds: Int = 0
    /// Delay between the response head and the first chunk of a stream.
    public var firstTokenDelayMilliseconds: Int = 0
    /// Delay between stream chunks.
    public var chunkDelayMilliseconds: Int = 0
    /// Content chunks in a streamed answer (also the completion token count).
    public var chunks: Int = 8
    /// When set, every content chunk carries exactly this many characters (fewer when `chunks`
    /// of them would pass ``MockProvider/maximumAnswerBytes``).
    public var chunkBytes: Int? = nil
    /// Answer with this HTTP status and an OpenAI error body.
    public var status: Int? = nil
    /// `Retry-After` value sent with an error status.
    public var retryAfter: String? = nil
    /// Close the connection after this many content chunks (no terminating chunk, no [DONE]).
    public var dropAfterChunks: Int? = nil
    /// Send an in-band `{"error":...}` event after this many content chunks.
    public var errorAfterChunks: Int? = nil
    /// Bedrock streams: the exception event `errorAfterChunks` sends (default
    /// `internalServerException`; `throttlingException`, `validationException`, ...).
    public var streamException: String? = nil
    /// Send a body that is not valid JSON (a broken event in streams).
    public var malformed: Bool = false
    /// Number of parallel tool calls to make when the request offers tools.
    public var toolCalls: Int = 1
    /// Fixed answer text instead of the generated one.
    public var content: String? = nil
    /// Answers by turn: the Nth answer of a conversation (N = assistant messages already in the
    /// request) is `replies[N]` (the last one repeats). A `"mock"` body object sets it as an array.
    public var replies: [String]? = nil
    /// Fixed tool-call arguments (a JSON text) instead of ones generated from the schema.
    public var toolArguments: String? = nil
    /// Call the tool of this name (offered or not, as a model that makes a name up would)
    /// instead of the first tools offered.
    public var toolName: String? = nil
    /// Turns of tool calls before answering in text: with the default 1 the mock answers in
    /// text after a tool result; with N it calls tools again until the conversation holds N
    /// turns of calls (an agent loop that needs several rounds, or one that never ends).
    public var toolRounds: Int = 1
    /// After a tool result, answer "Tool result: <the last tool message>" (a model that uses
    /// what the tool said).
    public var answerWithToolResult: Bool = false
    /// Reasoning the model shows before its answer: `reasoning_content` (OpenAI dialect), a
    /// thinking block (Anthropic, when the request enables thinking), a thought part (Gemini,
    /// when the request asks for thoughts), a reasoning block (Bedrock, when asked).
    public var reasoning: String? = nil
    /// The signature of that reasoning: the OpenAI dialect then also sends `thinking_blocks`.
    public var reasoningSignature: String? = nil
    /// Embedding dimensions when the request does not ask for a number.
    public var embeddingDimensions: Int = 8
    /// `words`: embeddings are hashed bags of words, so texts sharing most words are close
    /// (cosine near 1), for semantic-cache tests; default: a pseudo-random vector per text.
    public var embeddingMode: String? = nil
    /// Fail this share of requests (percent, drawn from a seeded generator) with `failStatus`.
    public var failPercent: Double = 0
    /// Fail the first N requests this mock receives with `failStatus`.
    public var failFirst: Int = 0
    /// Status for `failPercent` and `failFirst`. Default 503.
    public var failStatus: Int = 503
    /// `code` of the error body sent with an error status (e.g. `context_length_exceeded`).
    public var errorCode: String? = nil
    /// Seed of the generator behind `failPercent`.
    public var seed: UInt64 = 42
    /// Hold the request at the mock's ``HoldGate`` before answering, until the test opens it
    /// (OpenAI-dialect answers): the test then knows the request is in flight and unanswered.
    public var hold: Bool = false
    /// Send this many events of a stream, then hold the rest at the gate until the test opens it.
    public var holdAfterPieces: Int? = nil
    /// The longest a hold lasts when the gate is never opened, so a failing test cannot hang.
    public var holdLimitMilliseconds: Int = 30_000

    /// Never report usage, in answers or streams (`include_usage` ignored), as some
    /// OpenAI-compatible servers do (llama.cpp's Python server, older proxies).
    public var omitUsage: Bool = false
    /// The message of the in-band error event `error_after` sends (OpenAI dialect).
    public var errorMessage: String? = nil

    public init() {}

    /// Applies `key=value` settings (option names as in configuration, e.g. `chunk_delay_ms`).
    public mutating func apply(_ key: String, _ value: String) {
        let number = Int(value)
        switch String(key.lowercased().map { $0 == "-" ? "_" : $0 }) {
        case "latency_ms": latencyMilliseconds = max(0, number ?? latencyMilliseconds)
        case "first_token_delay_ms": firstTokenDelayMilliseconds = max(0, number ?? firstTokenDelayMilliseconds)
        case "chunk_delay_ms": chunkDelayMilliseconds = max(0, number ?? chunkDelayMilliseconds)
        case "chunks": chunks = min(max(1, number ?? chunks), 100_000)
        case "chunk_bytes": chunkBytes = number.map { min(max(1, $0), 1_000_000) }
        case "status": status = number.flatMap { (100...599).contains($0) ? $0 : nil }
        case "retry_after": retryAfter = value
        case "drop_after": dropAfterChunks = number.map { max(0, $0) }
        case "error_after": errorAfterChunks = number.map { max(0, $0) }
        case "stream_exception": streamException = value
        case "malformed": malformed = value == "true" || value == "1"
        case "tool_calls": toolCalls = min(max(1, number ?? toolCalls), 16)
        case "content": content = value
        case "tool_arguments": toolArguments = value
        case "tool_name": toolName = value
        case "tool_rounds": toolRounds = min(max(1, number ?? toolRounds), 1000)
        case "answer_with_tool_result": answerWithToolResult = value == "true" || value == "1"
        case "reasoning": reasoning = value
        case "reasoning_signature": reasoningSignature = value
        case "embedding_dimensions": embeddingDimensions = min(max(1, number ?? embeddingDimensions), 4096)
        case "embedding_mode": embeddingMode = value
        case "fail_percent": failPercent = min(max(0, Double(value) ?? failPercent), 100)
        case "fail_first": failFirst = max(0, number ?? failFirst)
        case "fail_status": failStatus = number.flatMap { (400...599).contains($0) ? $0 : nil } ?? failStatus
        case "seed": seed = UInt64(value) ?? seed
        case "error_code": errorCode = value
        case "omit_usage": omitUsage = value == "true" || value == "1"
        case "error_message": errorMessage = value
        case "hold": hold = value == "true" || value == "1"
        case "hold_after": holdAfterPieces = number.map { max(0, $0) }
        case "hold_limit_ms": holdLimitMilliseconds = max(0, number ?? holdLimitMilliseconds)
        default: break
        }
    }

    /// Applies the `mock` object of a request body.
    public mutating func apply(_ object: JSONObject) {
        for (key, value) in object.members {
            switch value {
            case .string(let text): apply(key, text)
            case .number(_, let raw): apply(key, raw)
            case .bool(let flag): apply(key, flag ? "true" : "false")
            case .array(let items) where key == "replies": replies = items.compactMap(\.stringValue)
            default: break
            }
        }
    }
}

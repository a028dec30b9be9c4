/// Token counts reported by a provider, with cached and reasoning tokens kept apart.
///
/// OpenAI semantics: `promptTokens` includes `cachedPromptTokens`, and `completionTokens`
/// includes `reasoningTokens`.
public struct TokenUsage: Sendable, Equatable {
    public var promptTokens: Int
    public var completionTokens: Int
    public var totalTokens: Int
    public var cachedPromptTokens: Int
    public var reasoningTokens: Int
    /// Prompt tokens written to the provider's prompt cache (Anthropic's
    /// `cache_creation_input_tokens`); part of `promptTokens`, billed at the cache-write price.
    public var cacheWriteTokens: Int

    public init(
        promptTokens: Int = 0, completionTokens: Int = 0, totalTokens: Int? = nil, cachedPromptTokens: Int = 0, reasoningTokens: Int = 0,
        cacheWriteTokens: Int = 0
    ) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.totalTokens = totalTokens ?? promptTokens + completionTokens
        self.cachedPromptTokens = cachedPromptTokens
        self.reasoningTokens = reasoningTokens
        self.cacheWriteTokens = cacheWriteTokens
    }

    /// Reads an OpenAI `usage` object from a scanned response or chunk; nil when absent or null.
    public init?(openAIResponse scan: JSONObjectScan) {
        guard let usage = scan.nested("usage") else { return nil }
        let reportedCompletion = usage.number("completion_tokens") ?? usage.number("output_tokens")
        // Rerank servers (vLLM, Jina) report only `total_tokens`: all of it is input.
        let prompt = Self.count(
            usage.number("prompt_tokens") ?? usage.number("input_tokens") ?? (reportedCompletion == nil ? usage.number("total_tokens") : nil))
        let completion = Self.count(reportedCompletion)
        let total = usage.number("total_tokens").map { Self.count($0) }
        let details = usage.nested("prompt_tokens_details")
        let cached = Self.count(details?.number("cached_tokens"))
        let written = Self.count(details?.number("cache_creation_tokens"))
        let reasoning = Self.count(usage.nested("completion_tokens_details")?.number("reasoning_tokens"))
        self.init(
            promptTokens: prompt, completionTokens: completion, totalTokens: total, cachedPromptTokens: cached, reasoningTokens: reasoning,
            cacheWriteTokens: written)
    }

    /// A token count from an untrusted number: negative, fractional, huge or NaN values are
    /// clamped instead of trapping.
    static func count(_ value: Double?) -> Int {
        guard let value, value.isFinite, value > 0 else { return 0 }
        return value >= 1e15 ? 1_000_000_000_000_000 : Int(value)
    }
}

extension TokenUsage {
    /// The OpenAI `usage` object.
    public var openAIJSON: JSONValue {
        var object: JSONObject = [
            "prompt_tokens": JSONValue(promptTokens), "completion_tokens": JSONValue(completionTokens), "total_tokens": JSONValue(totalTokens),
        ]
        if cachedPromptTokens > 0 { object["prompt_tokens_details"] = ["cached_tokens": JSONValue(cachedPromptTokens)] }
        if reasoningTokens > 0 { object["completion_tokens_details"] = ["reasoning_tokens": JSONValue(reasoningTokens)] }
        return .object(object)
    }
}

/// Who counted a request's tokens: the provider's report, or the gateway itself when the
/// provider reported none (a stream without a usage chunk, a client that left mid-stream).
public enum UsageSource: String, Sendable {
    case provider
    case gateway
}

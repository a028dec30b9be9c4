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

    public init(promptTokens: Int = 0, completionTokens: Int = 0, totalTokens: Int? = nil, cachedPromptTokens: Int = 0, reasoningTokens: Int = 0) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.totalTokens = totalTokens ?? promptTokens + completionTokens
        self.cachedPromptTokens = cachedPromptTokens
        self.reasoningTokens = reasoningTokens
    }

    /// Reads an OpenAI `usage` object from a scanned response or chunk; nil when absent or null.
    public init?(openAIResponse scan: JSONObjectScan) {
        guard let usage = scan.nested("usage") else { return nil }
        let prompt = Int(usage.number("prompt_tokens") ?? usage.number("input_tokens") ?? 0)
        let completion = Int(usage.number("completion_tokens") ?? usage.number("output_tokens") ?? 0)
        let total = usage.number("total_tokens").map { Int($0) }
        let cached = usage.nested("prompt_tokens_details")?.number("cached_tokens") ?? 0
        let reasoning = usage.nested("completion_tokens_details")?.number("reasoning_tokens") ?? 0
        self.init(promptTokens: prompt, completionTokens: completion, totalTokens: total, cachedPromptTokens: Int(cached), reasoningTokens: Int(reasoning))
    }
}

/// The most tokens the major hosted models write in one answer, as their providers document
/// them (November 2026), looked up like prices (case, provider prefixes and dated snapshots
/// ignored). Limits and budgets reserve this much for a request that sets no `max_tokens`.
///
/// A deployment's own `max_output_tokens:` wins; a model in neither falls back to
/// `limits.default_completion_tokens`.
enum BuiltInOutputLimits {
    static let table: [String: Int] = [
        // OpenAI
        "gpt-5.2": 128_000, "gpt-5.1": 128_000, "gpt-5": 128_000, "gpt-5-mini": 128_000, "gpt-5-nano": 128_000,
        "gpt-5-pro": 272_000,
        "gpt-4.1": 32_768, "gpt-4.1-mini": 32_768, "gpt-4.1-nano": 32_768,
        "gpt-4o": 16_384, "gpt-4o-mini": 16_384, "gpt-4o-2024-05-13": 4_096,
        "gpt-4-turbo": 4_096, "gpt-4": 8_192, "gpt-3.5-turbo": 4_096,
        "o1": 100_000, "o3": 100_000, "o3-pro": 100_000, "o3-mini": 100_000, "o4-mini": 100_000,
        // Anthropic (standard limits, without the extended-output beta)
        "claude-opus-4-5": 64_000, "claude-opus-4-1": 32_000, "claude-opus-4": 32_000,
        "claude-sonnet-4-5": 64_000, "claude-sonnet-4": 64_000, "claude-3-7-sonnet": 64_000, "claude-3-5-sonnet": 8_192,
        "claude-haiku-4-5": 64_000, "claude-3-5-haiku": 8_192, "claude-3-haiku": 4_096,
        // Google
        "gemini-3-pro-preview": 65_536, "gemini-2.5-pro": 65_536, "gemini-2.5-flash": 65_536, "gemini-2.5-flash-lite": 65_536,
        "gemini-2.0-flash": 8_192,
    ]

    /// The documented output limit of `model`, when it is a known one.
    static func limit(forModel model: String) -> Int? {
        PriceTable.lookup(model, in: table)?.value
    }

    /// `deployment` with its output limit resolved: its own `max_output_tokens`, else the
    /// built-in one of its upstream model. The catalog does this once per configuration, so
    /// requests read a field instead of searching the table.
    static func resolving(_ deployment: DeploymentConfig) -> DeploymentConfig {
        guard deployment.maxOutputTokens == nil else { return deployment }
        var deployment = deployment
        deployment.maxOutputTokens = limit(forModel: deployment.upstreamModel)
        return deployment
    }
}

extension RuntimeSnapshot {
    /// The most output tokens `deployment` (as the catalog resolved it) can write in one
    /// answer: its `max_output_tokens`, else the built-in limit of its upstream model; nil when
    /// unknown.
    public func outputLimit(of deployment: DeploymentConfig) -> Int? {
        deployment.maxOutputTokens
    }

    /// Completion tokens a request may produce on `deployment`, for each of its `n` answers
    /// together: see ``PromptFeatures/reservedCompletionTokens(outputLimit:contextWindow:defaultEstimate:)``.
    public func reservedCompletionTokens(_ features: PromptFeatures, on deployment: DeploymentConfig) -> Int {
        features.reservedCompletionTokens(
            outputLimit: outputLimit(of: deployment), contextWindow: deployment.contextWindow,
            defaultEstimate: config.limits.defaultCompletionEstimate)
    }

    /// The largest completion reservation over a group's deployments (the request may land on
    /// any of them).
    public func reservedCompletionTokens(_ features: PromptFeatures, in group: ModelGroup) -> Int {
        group.deployments.map { reservedCompletionTokens(features, on: $0) }.max()
            ?? features.reservedCompletionTokens(outputLimit: nil, contextWindow: nil, defaultEstimate: config.limits.defaultCompletionEstimate)
    }
}

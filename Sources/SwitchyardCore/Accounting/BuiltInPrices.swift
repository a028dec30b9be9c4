/// List prices of the major hosted models in USD per million tokens, as published on the
/// providers' pricing pages and cross-checked against LiteLLM's public price map
/// (`model_prices_and_context_window.json`), November 2026. Standard (non-batch, non-priority)
/// tier; for tiered prices (long-context surcharges) the base tier.
///
/// Prices change: `pricing:` in the configuration overrides any entry and adds models, and a
/// deployment's own `price:` wins over both.
enum BuiltInPrices {
    static let table: [String: ModelPrice] = [
        // OpenAI
        "gpt-5.5": ModelPrice(input: 5, output: 30, cachedInput: 0.5),
        "gpt-5.4": ModelPrice(input: 2.5, output: 15, cachedInput: 0.25),
        "gpt-5.4-mini": ModelPrice(input: 0.75, output: 4.5, cachedInput: 0.075),
        "gpt-5.4-nano": ModelPrice(input: 0.2, output: 1.25, cachedInput: 0.02),
        "gpt-5.2": ModelPrice(input: 1.75, output: 14, cachedInput: 0.175),
        "gpt-5.1": ModelPrice(input: 1.25, output: 10, cachedInput: 0.125),
        "gpt-5": ModelPrice(input: 1.25, output: 10, cachedInput: 0.125),
        "gpt-5-mini": ModelPrice(input: 0.25, output: 2, cachedInput: 0.025),
        "gpt-5-nano": ModelPrice(input: 0.05, output: 0.4, cachedInput: 0.005),
        "gpt-5-pro": ModelPrice(input: 15, output: 120),
        "gpt-4.1": ModelPrice(input: 2, output: 8, cachedInput: 0.5),
        "gpt-4.1-mini": ModelPrice(input: 0.4, output: 1.6, cachedInput: 0.1),
        "gpt-4.1-nano": ModelPrice(input: 0.1, output: 0.4, cachedInput: 0.025),
        "gpt-4o": ModelPrice(input: 2.5, output: 10, cachedInput: 1.25),
        "gpt-4o-2024-05-13": ModelPrice(input: 5, output: 15),
        "gpt-4o-mini": ModelPrice(input: 0.15, output: 0.6, cachedInput: 0.075),
        "gpt-4-turbo": ModelPrice(input: 10, output: 30),
        "gpt-4": ModelPrice(input: 30, output: 60),
        "gpt-3.5-turbo": ModelPrice(input: 0.5, output: 1.5),
        "o1": ModelPrice(input: 15, output: 60, cachedInput: 7.5),
        "o3": ModelPrice(input: 2, output: 8, cachedInput: 0.5),
        "o3-pro": ModelPrice(input: 20, output: 80),
        "o3-mini": ModelPrice(input: 1.1, output: 4.4, cachedInput: 0.55),
        "o4-mini": ModelPrice(input: 1.1, output: 4.4, cachedInput: 0.275),
        "text-embedding-3-small": ModelPrice(input: 0.02, output: 0),
        "text-embedding-3-large": ModelPrice(input: 0.13, output: 0),
        "text-embedding-ada-002": ModelPrice(input: 0.1, output: 0),
        // Anthropic (cache reads 0.1×, 5-minute cache writes 1.25× the input price)
        "claude-opus-4-7": ModelPrice(input: 5, output: 25, cachedInput: 0.5, cacheWrite: 6.25),
        "claude-opus-4-6": ModelPrice(input: 5, output: 25, cachedInput: 0.5, cacheWrite: 6.25),
        "claude-opus-4-5": ModelPrice(input: 5, output: 25, cachedInput: 0.5, cacheWrite: 6.25),
        "claude-opus-4-1": ModelPrice(input: 15, output: 75, cachedInput: 1.5, cacheWrite: 18.75),
        "claude-opus-4": ModelPrice(input: 15, output: 75, cachedInput: 1.5, cacheWrite: 18.75),
        "claude-sonnet-4-6": ModelPrice(input: 3, output: 15, cachedInput: 0.3, cacheWrite: 3.75),
        "claude-sonnet-4-5": ModelPrice(input: 3, output: 15, cachedInput: 0.3, cacheWrite: 3.75),
        "claude-sonnet-4": ModelPrice(input: 3, output: 15, cachedInput: 0.3, cacheWrite: 3.75),
        "claude-3-7-sonnet": ModelPrice(input: 3, output: 15, cachedInput: 0.3, cacheWrite: 3.75),
        "claude-3-5-sonnet": ModelPrice(input: 3, output: 15, cachedInput: 0.3, cacheWrite: 3.75),
        "claude-haiku-4-5": ModelPrice(input: 1, output: 5, cachedInput: 0.1, cacheWrite: 1.25),
        "claude-3-5-haiku": ModelPrice(input: 0.8, output: 4, cachedInput: 0.08, cacheWrite: 1),
        "claude-3-haiku": ModelPrice(input: 0.25, output: 1.25, cachedInput: 0.03, cacheWrite: 0.3),
        // Google
        "gemini-3.1-pro-preview": ModelPrice(input: 2, output: 12, cachedInput: 0.2),
        "gemini-3-pro-preview": ModelPrice(input: 2, output: 12, cachedInput: 0.2),
        "gemini-3-flash-preview": ModelPrice(input: 0.5, output: 3, cachedInput: 0.05),
        "gemini-3.1-flash-lite": ModelPrice(input: 0.25, output: 1.5, cachedInput: 0.025),
        "gemini-2.5-pro": ModelPrice(input: 1.25, output: 10, cachedInput: 0.125),
        "gemini-2.5-flash": ModelPrice(input: 0.3, output: 2.5, cachedInput: 0.03),
        "gemini-2.5-flash-lite": ModelPrice(input: 0.1, output: 0.4, cachedInput: 0.01),
        "gemini-2.0-flash": ModelPrice(input: 0.1, output: 0.4, cachedInput: 0.025),
        // Image output is billed as tokens (1290 per image: $0.039); without this entry the
        // name would find gemini-2.5-flash's text prices.
        "gemini-2.5-flash-image": ModelPrice(input: 0.3, output: 30),
        // Imagen (per image, Gemini API and Vertex AI list prices)
        "imagen-4.0-generate": media(perImage: ["*": 0.04]),
        "imagen-4.0-fast-generate": media(perImage: ["*": 0.02]),
        "imagen-4.0-ultra-generate": media(perImage: ["*": 0.06]),
        "imagen-3.0-generate": media(perImage: ["*": 0.04]),
        "imagen-3.0-fast-generate": media(perImage: ["*": 0.02]),
        // Cohere
        "command-a": ModelPrice(input: 2.5, output: 10),
        "command-r-plus": ModelPrice(input: 2.5, output: 10),
        "command-r": ModelPrice(input: 0.15, output: 0.6),
        "command-r7b": ModelPrice(input: 0.0375, output: 0.15),
        // Mistral
        "mistral-large": ModelPrice(input: 2, output: 6),
        "mistral-small": ModelPrice(input: 0.1, output: 0.3),
        // OpenAI images and audio (per image, per second of audio, per character)
        "dall-e-3": media(perImage: [
            "*": 0.04, "1024x1024": 0.04, "1024x1792": 0.08, "1792x1024": 0.08, "1024x1024/hd": 0.08, "1024x1792/hd": 0.12, "1792x1024/hd": 0.12,
        ]),
        "dall-e-2": media(perImage: ["*": 0.02, "1024x1024": 0.02, "512x512": 0.018, "256x256": 0.016]),
        "whisper-1": media(perSecond: 0.006 / 60),
        "tts-1": media(perCharacter: 15 / 1_000_000),
        "tts-1-hd": media(perCharacter: 30 / 1_000_000),
    ]

    /// A price by images, seconds or characters alone (no tokens billed).
    static func media(perImage: [String: Double]? = nil, perSecond: Double? = nil, perCharacter: Double? = nil) -> ModelPrice {
        var price = ModelPrice(input: 0, output: 0)
        price.perImage = perImage
        price.perSecond = perSecond
        price.perCharacter = perCharacter
        return price
    }
}

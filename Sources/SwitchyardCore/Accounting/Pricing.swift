/// What a model costs, in USD per million tokens.
///
/// `cachedInput` applies to prompt tokens read from the provider's prompt cache, `cacheWrite`
/// to prompt tokens written to it (Anthropic bills those above the input price), `reasoning`
/// to reasoning tokens when a provider bills them apart from other output. Each defaults to
/// the plain input or output price.
public struct ModelPrice: Sendable, Equatable {
    public var input: Double
    public var output: Double
    public var cachedInput: Double?
    public var cacheWrite: Double?
    public var reasoning: Double?
    /// USD per generated image, by `size/quality`, `size`, `quality` or `*` (see
    /// ``MediaUsage``); nil when images are priced by tokens only.
    public var perImage: [String: Double]?
    /// USD per second of audio sent (transcriptions, translations).
    public var perSecond: Double?
    /// USD per input character (speech).
    public var perCharacter: Double?

    public init(input: Double, output: Double, cachedInput: Double? = nil, cacheWrite: Double? = nil, reasoning: Double? = nil) {
        self.input = input
        self.output = output
        self.cachedInput = cachedInput
        self.cacheWrite = cacheWrite
        self.reasoning = reasoning
    }

    /// Cost of a request of this shape, used to compare deployments and to reserve budget.
    public func estimate(promptTokens: Int, completionTokens: Int) -> Double {
        (Double(promptTokens) * input + Double(completionTokens) * output) / 1_000_000
    }

    /// The cost of real usage in USD. Prompt tokens include cached and cache-write tokens and
    /// completion tokens include reasoning tokens (OpenAI semantics, see ``TokenUsage``).
    public func cost(of usage: TokenUsage) -> Double {
        let cached = max(0, min(usage.cachedPromptTokens, usage.promptTokens))
        let written = max(0, min(usage.cacheWriteTokens, usage.promptTokens - cached))
        let plain = usage.promptTokens - cached - written
        let reasoning = max(0, min(usage.reasoningTokens, usage.completionTokens))
        let output = usage.completionTokens - reasoning
        let total =
            Double(plain) * input + Double(cached) * (cachedInput ?? input) + Double(written) * (cacheWrite ?? input)
            + Double(output) * self.output + Double(reasoning) * (self.reasoning ?? self.output)
        return total / 1_000_000
    }
}

/// Where the price of a deployment comes from: its own `price:`, the `pricing:` section of
/// the configuration, or the built-in table.
public enum PriceSource: String, Sendable, Equatable {
    case deployment
    case pricing
    case builtIn = "built-in"
}

/// Prices by model name: the built-in table, overridden by `pricing:` in the configuration.
///
/// Lookup ignores case and a provider prefix (`openai/gpt-4o`, `anthropic.claude-…` on
/// Bedrock, `us.` inference profiles) and falls back to the longest known name the model
/// starts with, so dated snapshots (`gpt-4o-2024-08-06`, `claude-sonnet-4-5-20250929`) find
/// their family's price.
public struct PriceTable: Sendable, Equatable {
    public private(set) var entries: [String: ModelPrice]
    /// Entries that come from the built-in table (not overridden by `pricing:`).
    private var builtInNames: Set<String> = []

    public init(_ entries: [String: ModelPrice] = [:]) {
        self.entries = Dictionary(uniqueKeysWithValues: entries.map { (Self.normalize($0.key), $0.value) })
    }

    /// The built-in table with `overrides` on top.
    public static func builtIn(overriddenBy overrides: [String: ModelPrice] = [:]) -> PriceTable {
        var table = PriceTable(BuiltInPrices.table)
        table.builtInNames = Set(table.entries.keys)
        for (model, price) in overrides {
            table.entries[normalize(model)] = price
            table.builtInNames.remove(normalize(model))
        }
        return table
    }

    public func price(forModel model: String) -> ModelPrice? {
        resolve(model)?.price
    }

    /// The price of `model` and whether it comes from `pricing:` or the built-in table.
    public func resolve(_ model: String) -> (price: ModelPrice, source: PriceSource)? {
        guard let found = Self.lookup(model, in: entries) else { return nil }
        return (found.value, builtInNames.contains(found.name) ? .builtIn : .pricing)
    }

    /// The entry of `table` (keyed by normalized names) for `model`: its exact name, else the
    /// longest known name it starts with up to a separator (`gpt-4o` finds
    /// `gpt-4o-2024-08-06`, not `gpt-4o1`).
    static func lookup<Value>(_ model: String, in table: [String: Value]) -> (name: String, value: Value)? {
        let name = normalize(model)
        if let exact = table[name] { return (name, exact) }
        var found: (name: String, value: Value)?
        for (known, value) in table where name.hasPrefix(known) && known.count > (found?.name.count ?? 0) {
            let next = name.utf8.dropFirst(known.utf8.count).first
            if next == UInt8(ascii: "-") || next == UInt8(ascii: ":") || next == UInt8(ascii: "@") || next == UInt8(ascii: "_") {
                found = (known, value)
            }
        }
        return found
    }

    /// `deployment` with the price billing uses for it: its own `price:`, else the table's for
    /// its upstream model; `priceSource` says which.
    public func pricing(_ deployment: DeploymentConfig) -> DeploymentConfig {
        var deployment = deployment
        if deployment.price != nil {
            deployment.priceSource = .deployment
        } else if let resolved = resolve(deployment.upstreamModel) {
            deployment.price = resolved.price
            deployment.priceSource = resolved.source
        }
        return deployment
    }

    static func normalize(_ model: String) -> String {
        var name = Substring(model.lowercased())
        if let slash = name.lastIndex(of: "/") { name = name[name.index(after: slash)...] }
        for prefix in ["us.", "eu.", "apac.", "global.", "anthropic.", "cohere.", "meta.", "mistral."] where name.hasPrefix(prefix) {
            name = name.dropFirst(prefix.count)
        }
        return String(name)
    }
}

/// Builds the adapter for a configured provider.
public protocol ProviderAdapterFactory: Sendable {
    func makeAdapter(for provider: ProviderConfig) throws -> any ProviderAdapter
}

/// Maps adapter kinds (`openai-compatible`, `mock`, ...) to their factories.
///
/// The executable assembles it from the provider and testing libraries, so the server layer
/// never needs to know which adapters exist.
public struct AdapterRegistry: Sendable {
    private var factories: [String: any ProviderAdapterFactory] = [:]

    public init() {}

    public mutating func register(_ kind: String, _ factory: any ProviderAdapterFactory) {
        factories[kind] = factory
    }

    public var kinds: [String] { factories.keys.sorted() }

    /// Creates one adapter per configured provider, and the built-in moderation detectors.
    public func makeAdapters(for config: GatewayConfig) throws -> [String: any ProviderAdapter] {
        var adapters: [String: any ProviderAdapter] = [:]
        for provider in config.providers {
            guard let factory = factories[provider.adapter] else {
                throw ConfigError(diagnostics: [
                    ConfigDiagnostic(
                        .error,
                        "provider '\(provider.name)' needs the '\(provider.adapter)' adapter, which this build does not include",
                        at: provider.location,
                        hint: "available adapters: \(kinds.joined(separator: ", "))"
                    )
                ])
            }
            adapters[provider.name] = try factory.makeAdapter(for: provider)
        }
        // The gateway's own moderation detectors, always there (see ModelCatalog).
        if adapters[DetectorModerationAdapter.provider] == nil { adapters[DetectorModerationAdapter.provider] = DetectorModerationAdapter() }
        return adapters
    }
}

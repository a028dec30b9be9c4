/// Resolves the model name a client sends to the provider and upstream model that serve it.
///
/// Exact names and aliases are looked up in a dictionary; prefix patterns (`openai/*`) are
/// tried longest first. Built once per configuration snapshot.
public struct ModelCatalog: Sendable {
    /// Where a request for a model goes.
    public struct Route: Sendable, Equatable {
        /// The configured public name (an alias resolves to its model's name).
        public var publicName: String
        public var provider: String
        public var upstreamModel: String
    }

    private var exact: [String: Route] = [:]
    private var patterns: [(prefix: String, provider: String, upstream: String?)] = []
    /// Concrete public names in configuration order (for `GET /v1/models`).
    public private(set) var listedModels: [(name: String, provider: String)] = []

    public init(models: [ModelConfig]) {
        for model in models {
            if model.isPattern {
                patterns.append((String(model.name.dropLast()), model.provider, model.upstreamModel))
                continue
            }
            let route = Route(publicName: model.name, provider: model.provider, upstreamModel: model.upstreamModel ?? model.name)
            exact[model.name] = route
            listedModels.append((model.name, model.provider))
            for alias in model.aliases {
                exact[alias] = route
                listedModels.append((alias, model.provider))
            }
        }
        patterns.sort { $0.prefix.count > $1.prefix.count }
    }

    public func route(for model: String) -> Route? {
        if let route = exact[model] { return route }
        for pattern in patterns where model.hasPrefix(pattern.prefix) && model.count > pattern.prefix.count {
            let rest = String(model.dropFirst(pattern.prefix.count))
            return Route(publicName: model, provider: pattern.provider, upstreamModel: pattern.upstream ?? rest)
        }
        return nil
    }

    /// Names close to `model`, for "did you mean" in 404 answers.
    public func suggestions(for model: String) -> [String] {
        var names = listedModels.map(\.name)
        names.append(contentsOf: patterns.map { $0.prefix + "<model>" })
        return Suggestions.ranked(model, in: names, limit: 3)
    }
}

/// Decoding of `server.endpoints` (per-endpoint body limits) and `passthrough:`.
extension Context {
    /// `server.endpoints: {audio_transcriptions: {max_body_size: 100MiB}}`.
    mutating func decodeEndpointLimits(_ node: ConfigNode) -> [String: Int] {
        guard var mapping = MappingReader(node, path: "server.endpoints", context: &self) else { return [:] }
        let labels = Endpoint.allCases.map(\.label)
        var limits: [String: Int] = [:]
        for (label, _) in mapping.remaining() {
            guard let child = mapping.take(label) else { continue }
            let path = "server.endpoints.\(label)"
            guard labels.contains(label) else {
                error(
                    "unknown endpoint '\(label)' in server.endpoints", at: child.location,
                    hint: Suggestions.closest(to: label, in: labels).map { "did you mean '\($0)'?" } ?? "endpoints: \(labels.joined(separator: ", "))"
                )
                continue
            }
            guard var settings = MappingReader(child, path: path, context: &self) else { continue }
            if let limit = settings.take("max_body_size"), let value = byteSize(limit, path: "\(path).max_body_size") {
                if value < 1024 { error("\(path).max_body_size must be at least 1KiB", at: limit.location, hint: "for example 25MiB") }
                limits[label] = value
            }
            settings.finish(known: ["max_body_size"], context: &self)
        }
        return limits
    }

    /// `passthrough: [{provider, paths, methods}]`.
    mutating func decodePassthrough(_ node: ConfigNode, providers: [ProviderConfig]) -> [PassthroughRoute] {
        var routes: [PassthroughRoute] = []
        for entry in sequence(node, path: "passthrough") {
            guard var mapping = MappingReader(entry.node, path: entry.path, context: &self) else { continue }
            let provider = mapping.take("provider").flatMap { string($0, path: "\(entry.path).provider") }
            var paths: [String] = []
            if let node = mapping.take("paths") {
                paths = sequence(node, path: "\(entry.path).paths").compactMap { string($0.node, path: $0.path) }
            }
            var methods = PassthroughRoute.defaultMethods
            if let node = mapping.take("methods") {
                methods = sequence(node, path: "\(entry.path).methods").compactMap { string($0.node, path: $0.path)?.uppercased() }
                for method in methods where !["GET", "POST", "PUT", "PATCH", "DELETE"].contains(method) {
                    error("\(entry.path).methods: '\(method)' is not one of GET, POST, PUT, PATCH, DELETE", at: node.location)
                }
            }
            var roles: [String]?
            if let node = mapping.take("roles") {
                roles = sequence(node, path: "\(entry.path).roles").compactMap { string($0.node, path: $0.path) }
            }
            mapping.finish(known: ["provider", "paths", "methods", "roles"], context: &self)
            guard let provider else {
                error(
                    "\(entry.path) needs 'provider'", at: entry.node.location, hint: "passthrough: [{provider: openai, paths: [/vector_stores/**]}]")
                continue
            }
            guard let target = providers.first(where: { $0.name == provider }) else {
                error(
                    "\(entry.path).provider '\(provider)' is not a configured provider", at: entry.node.location,
                    hint: Suggestions.closest(to: provider, in: providers.map(\.name)).map { "did you mean '\($0)'?" })
                continue
            }
            // Refused here rather than with a 501 on every request.
            if !ProviderPresets.passthroughAdapters.contains(target.adapter) {
                error(
                    "\(entry.path).provider '\(provider)' (type \(target.type)) has no passthrough", at: entry.node.location,
                    hint: "passthrough forwards to OpenAI-compatible, Azure, Anthropic and Gemini API providers")
                continue
            }
            if paths.isEmpty {
                error("\(entry.path).paths must list at least one path", at: entry.node.location, hint: "paths: [/vector_stores/**]")
            }
            for path in paths where !path.hasPrefix("/") || path.contains("..") || path.contains("?") {
                error("\(entry.path).paths: '\(path)' must start with '/' and hold no '..' or query", at: entry.node.location)
            }
            routes.append(PassthroughRoute(provider: provider, paths: paths, methods: methods, roles: roles))
        }
        return routes
    }
}

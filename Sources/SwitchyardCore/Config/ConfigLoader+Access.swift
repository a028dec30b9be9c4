/// Decoding of `auth:` and `access:`.
extension Context {
    mutating func strings(_ node: ConfigNode, path: String) -> [String] {
        if case .scalar(let text, _, _) = node { return [text] }
        return sequence(node, path: path).compactMap { string($0.node, path: $0.path) }
    }

    mutating func decodeAuth(_ node: ConfigNode) -> AuthSettings {
        var settings = AuthSettings()
        guard var mapping = MappingReader(node, path: "auth", context: &self) else { return settings }
        if let node = mapping.take("jwt") {
            settings.jwt = sequence(node, path: "auth.jwt").compactMap { decodeIssuer($0.node, path: $0.path) }
        }
        mapping.finish(known: ["jwt"], context: &self)
        return settings
    }

    mutating func decodeIssuer(_ node: ConfigNode, path: String) -> JWTIssuerSettings? {
        guard var mapping = MappingReader(node, path: path, context: &self) else { return nil }
        var issuer = JWTIssuerSettings()
        issuer.location = node.location
        issuer.issuer = mapping.take("issuer").flatMap { string($0, path: "\(path).issuer") }
        if let node = mapping.take("audience") { issuer.audiences = strings(node, path: "\(path).audience") }
        issuer.jwksURI = mapping.take("jwks_uri").flatMap { string($0, path: "\(path).jwks_uri") }
        if let node = mapping.take("public_key_file"), let file = string(node, path: "\(path).public_key_file") {
            if !fileExists(file) { error("\(path).public_key_file: no file at \(file)", at: node.location) }
            issuer.publicKeyFile = file
        }
        if let node = mapping.take("secret") { issuer.secret = secret(node, path: "\(path).secret") }
        if let node = mapping.take("algorithms") {
            issuer.algorithms = strings(node, path: "\(path).algorithms")
            for name in issuer.algorithms where !JWTIssuerSettings.algorithmNames.contains(name) {
                error(
                    "\(path).algorithms: unknown or unsafe algorithm '\(name)'", at: node.location,
                    hint: Suggestions.closest(to: name, in: JWTIssuerSettings.algorithmNames).map { "did you mean '\($0)'?" }
                        ?? "use \(JWTIssuerSettings.algorithmNames.joined(separator: ", ")) ('none' is never accepted)")
            }
        }
        if let node = mapping.take("leeway"), let value = duration(node, path: "\(path).leeway") { issuer.leeway = value }
        if let node = mapping.take("required_claims") { issuer.requiredClaims = strings(node, path: "\(path).required_claims") }
        if let node = mapping.take("allow_insecure_http"), let value = bool(node, path: "\(path).allow_insecure_http") {
            issuer.allowInsecureHTTP = value
        }
        if let node = mapping.take("default_roles") { issuer.defaultRoles = strings(node, path: "\(path).default_roles") }
        if let node = mapping.take("claims"), var claims = MappingReader(node, path: "\(path).claims", context: &self) {
            for (key, keyPath) in [("team", \JWTClaimMapping.team), ("org", \.org), ("roles", \.roles), ("tier", \.tier), ("models", \.models)] {
                if let node = claims.take(key) { issuer.claims[keyPath: keyPath] = string(node, path: "\(path).claims.\(key)") }
            }
            if let node = claims.take("user"), let value = string(node, path: "\(path).claims.user") { issuer.claims.user = value }
            claims.finish(known: ["user", "team", "org", "roles", "tier", "models"], context: &self)
        }
        mapping.finish(
            known: [
                "issuer", "audience", "jwks_uri", "public_key_file", "secret", "algorithms", "leeway", "required_claims", "allow_insecure_http",
                "default_roles", "claims",
            ], context: &self)
        if issuer.audiences.isEmpty {
            error(
                "\(path) needs an 'audience': tokens minted for other services must not work here", at: node.location,
                hint: "audience: switchyard (the aud your identity provider puts in tokens for this gateway)")
        }
        if issuer.usesDiscovery && issuer.issuer == nil {
            error("\(path) needs 'issuer' (for OIDC discovery), 'jwks_uri', 'public_key_file' or 'secret'", at: node.location)
        }
        let symmetric = issuer.algorithms.filter { $0.hasPrefix("HS") }
        if !symmetric.isEmpty && issuer.secret == nil {
            error(
                "\(path): \(symmetric.joined(separator: ", ")) need a shared 'secret'; fetched or public keys cannot verify them", at: node.location)
        }
        if issuer.secret != nil && symmetric.count != issuer.algorithms.count {
            error("\(path): a 'secret' verifies only HS256/HS384/HS512; list just those in 'algorithms'", at: node.location)
        }
        return issuer
    }

    mutating func decodeAccess(_ node: ConfigNode) -> AccessSettings {
        var settings = AccessSettings()
        guard var mapping = MappingReader(node, path: "access", context: &self) else { return settings }
        if let node = mapping.take("roles") {
            if case .mapping(let entries, _) = node {
                for entry in entries {
                    let path = "access.roles.\(entry.key)"
                    guard var role = MappingReader(entry.value, path: path, context: &self) else { continue }
                    var policy = RolePolicy()
                    if let node = role.take("models") { policy.models = strings(node, path: "\(path).models") }
                    if let node = role.take("endpoints") { policy.endpoints = strings(node, path: "\(path).endpoints") }
                    if let node = role.take("inference"), let value = bool(node, path: "\(path).inference") { policy.inference = value }
                    if let node = role.take("mcp_servers") { policy.mcpServers = strings(node, path: "\(path).mcp_servers") }
                    if let node = role.take("mcp_tools") { policy.mcpTools = strings(node, path: "\(path).mcp_tools") }
                    role.finish(known: ["models", "endpoints", "inference", "mcp_servers", "mcp_tools"], context: &self)
                    settings.roles[entry.key] = policy
                }
            } else {
                error("access.roles must map role names to policies", at: node.location, hint: "roles: {service: {models: [chat]}}")
            }
        }
        if let node = mapping.take("default"), let value = string(node, path: "access.default") {
            switch value {
            case "allow": settings.defaultAllow = true
            case "deny": settings.defaultAllow = false
            default: error("access.default must be allow or deny", at: node.location)
            }
        }
        settings.region = mapping.take("region").flatMap { string($0, path: "access.region") }
        if let node = mapping.take("rules") {
            for item in sequence(node, path: "access.rules") {
                guard var rule = MappingReader(item.node, path: item.path, context: &self) else { continue }
                let name = rule.take("name").flatMap { string($0, path: "\(item.path).name") } ?? item.path
                var effect = AccessRule.Effect.deny
                if let node = rule.take("effect"), let text = string(node, path: "\(item.path).effect") {
                    if let value = AccessRule.Effect(rawValue: text) {
                        effect = value
                    } else {
                        error("\(item.path).effect must be allow or deny", at: node.location)
                    }
                }
                var access = AccessRule(name: name, effect: effect)
                access.location = item.node.location
                access.reason = rule.take("reason").flatMap { string($0, path: "\(item.path).reason") }
                if let node = rule.take("when") {
                    // Access-only conditions are read here; the rest are routing-rule conditions.
                    var conditionsNode = node
                    if case .mapping(var entries, let location) = node {
                        for key in ["roles", "endpoints", "regions", "servers", "tools"] {
                            guard let index = entries.firstIndex(where: { $0.key == key }) else { continue }
                            let values = strings(entries[index].value, path: "\(item.path).when.\(key)")
                            switch key {
                            case "roles": access.roles = values
                            case "endpoints": access.endpoints = values
                            case "servers": access.servers = values
                            case "tools": access.tools = values
                            default: access.regions = values
                            }
                            entries.remove(at: index)
                        }
                        conditionsNode = .mapping(entries, location)
                    }
                    access.conditions = decodeConditions(conditionsNode, path: "\(item.path).when")
                }
                rule.finish(known: ["name", "effect", "reason", "when"], context: &self)
                settings.rules.append(access)
            }
        }
        mapping.finish(known: ["roles", "default", "region", "rules"], context: &self)
        return settings
    }
}

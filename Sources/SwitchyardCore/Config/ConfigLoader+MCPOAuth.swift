/// Decoding of an MCP server's `oauth:` (client credentials).
extension Context {
    mutating func decodeMCPOAuth(_ node: ConfigNode, path: String) -> MCPOAuthSettings? {
        guard var mapping = MappingReader(node, path: path, context: &self) else { return nil }
        defer { mapping.finish(known: ["token_url", "client_id", "client_secret", "scope", "audience", "auth_method"], context: &self) }
        let tokenURL = mapping.take("token_url").flatMap { string($0, path: "\(path).token_url") }
        let clientID = mapping.take("client_id").flatMap { string($0, path: "\(path).client_id") }
        let clientSecret = mapping.take("client_secret").flatMap { secret($0, path: "\(path).client_secret") }
        let scope = mapping.take("scope").flatMap { string($0, path: "\(path).scope") }
        let audience = mapping.take("audience").flatMap { string($0, path: "\(path).audience") }
        let method = mapping.take("auth_method").map { ($0, string($0, path: "\(path).auth_method")) }
        guard let tokenURL, tokenURL.hasPrefix("https://") || tokenURL.hasPrefix("http://") else {
            error("\(path).token_url must be an http:// or https:// URL", at: node.location, hint: "the authorization server's token endpoint")
            return nil
        }
        guard let clientID, !clientID.isEmpty else {
            error("\(path) needs a client_id", at: node.location)
            return nil
        }
        guard let clientSecret else {
            error("\(path) needs a client_secret", at: node.location, hint: "client_secret: env:MCP_CLIENT_SECRET")
            return nil
        }
        var settings = MCPOAuthSettings(tokenURL: tokenURL, clientID: clientID, clientSecret: clientSecret)
        settings.scope = scope.flatMap { $0.isEmpty ? nil : $0 }
        settings.audience = audience.flatMap { $0.isEmpty ? nil : $0 }
        if let (methodNode, name) = method, let name {
            if let value = MCPOAuthSettings.ClientAuthentication(rawValue: name) {
                settings.clientAuthentication = value
            } else {
                error(
                    "\(path).auth_method must be client_secret_basic or client_secret_post, not '\(name)'", at: methodNode.location)
            }
        }
        return settings
    }
}

/// Authorization of MCP calls (`/mcp`): the caller's endpoint list, the MCP allow-lists of its
/// role policies, and the access rules that name the `mcp` endpoint or an MCP server or tool.
extension AccessPolicy {
    /// Why the caller may not use `tool` (nil: any of the server's items, for listing and for
    /// prompts and resources) of the MCP server `server`, or nil when it may.
    public func checkMCP(identity: Identity, server: String, tool: String?, headers: [HeaderField], unixTime: Double) -> AccessDenial? {
        if let endpoints = identity.allowedEndpoints, !endpoints.contains(Self.mcpEndpoint) {
            return AccessDenial(rule: "key", reason: "this key may not use the mcp endpoint")
        }
        if identity.kind == .master || identity.kind == .anonymous || identity.roles.contains("admin") { return nil }
        if let denial = checkMCPRoles(identity: identity, server: server, tool: tool) { return denial }
        for (rule, conditions) in rules {
            let namesMCP = rule.servers != nil || rule.tools != nil
            guard namesMCP || rule.endpoints?.contains(Self.mcpEndpoint) == true else { continue }
            if let endpoints = rule.endpoints, !endpoints.contains(Self.mcpEndpoint) { continue }
            if let roles = rule.roles, identity.roles.isDisjoint(with: roles) { continue }
            if let regions = rule.regions, !regions.contains(settings.region ?? "") { continue }
            if let servers = rule.servers, !servers.contains(server) { continue }
            if let tools = rule.tools {
                // A rule on tools says nothing about listing a server as a whole.
                guard let tool, tools.contains(where: { Self.toolPattern($0, matchesServer: server, tool: tool) }) else { continue }
            }
            guard conditions.matchesCaller(identity: identity, headers: headers, unixTime: unixTime) else { continue }
            switch rule.effect {
            case .allow: return nil
            case .deny: return AccessDenial(rule: rule.name, reason: rule.reason ?? "denied by access rule '\(rule.name)'")
            }
        }
        return settings.defaultAllow ? nil : AccessDenial(rule: nil, reason: "no access rule allows this call (access.default is deny)")
    }

    /// The endpoint label of `/mcp` in keys' and roles' `endpoints` lists and in rules.
    public static let mcpEndpoint = "mcp"

    /// Role policies for MCP, failing closed as ``checkRoles(identity:endpoint:model:group:)`` does:
    /// one of the caller's roles with a policy must allow the endpoint, the server and the tool.
    func checkMCPRoles(identity: Identity, server: String, tool: String?) -> AccessDenial? {
        guard case let (roles, defined)? = rolePolicies(of: identity) else { return nil }
        let usable = defined.filter { $0.inference && ($0.endpoints == nil || $0.endpoints!.contains(Self.mcpEndpoint)) }
        if usable.isEmpty { return AccessDenial(rule: "role", reason: "the role \(roles) may not use MCP tools") }
        let onServer = usable.filter { $0.mcpServers == nil || $0.mcpServers!.contains(server) }
        if onServer.isEmpty { return AccessDenial(rule: "role", reason: "the role \(roles) may not use the MCP server '\(server)'") }
        guard let tool else { return nil }
        if !onServer.contains(where: { $0.mcpTools == nil || $0.mcpTools!.contains { Self.toolPattern($0, matchesServer: server, tool: tool) } }) {
            return AccessDenial(rule: "role", reason: "the role \(roles) may not use the tool '\(tool)' of '\(server)'")
        }
        return nil
    }

    /// `server/tool`, `server/prefix*`, `server/*`, or a tool pattern alone (`search*`) for any server.
    static func toolPattern(_ pattern: String, matchesServer server: String, tool: String) -> Bool {
        var toolPattern = Substring(pattern)
        if let slash = pattern.firstIndex(of: "/") {
            let serverPattern = pattern[..<slash]
            guard serverPattern == "*" || serverPattern == server else { return false }
            toolPattern = pattern[pattern.index(after: slash)...]
        }
        if toolPattern.hasSuffix("*") { return tool.hasPrefix(toolPattern.dropLast()) }
        return toolPattern == tool
    }
}

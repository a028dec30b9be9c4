/// Decoding of `mcp:`.
extension Context {
    mutating func decodeMCP(_ node: ConfigNode) -> MCPSettings {
        var settings = MCPSettings()
        guard var mapping = MappingReader(node, path: "mcp", context: &self) else { return settings }
        if let node = mapping.take("page_size"), let value = integer(node, path: "mcp.page_size") {
            if (1...10_000).contains(value) {
                settings.pageSize = value
            } else {
                error("mcp.page_size must be between 1 and 10000", at: node.location)
            }
        }
        if let node = mapping.take("session_idle_timeout"), let value = duration(node, path: "mcp.session_idle_timeout") {
            settings.sessionIdleTimeout = value
        }
        if let node = mapping.take("max_sessions"), let value = integer(node, path: "mcp.max_sessions") {
            if value >= 1 { settings.maxSessions = value } else { error("mcp.max_sessions must be at least 1", at: node.location) }
        }
        if let node = mapping.take("max_tool_iterations"), let value = integer(node, path: "mcp.max_tool_iterations") {
            if (1...100).contains(value) {
                settings.maxToolIterations = value
            } else {
                error("mcp.max_tool_iterations must be between 1 and 100", at: node.location)
            }
        }
        if let node = mapping.take("servers") {
            var names: Set<String> = []
            var prefixes: [String: String] = [:]
            for item in sequence(node, path: "mcp.servers") {
                guard let server = decodeMCPServer(item.node, path: item.path) else { continue }
                if !names.insert(server.name).inserted {
                    error("mcp server name '\(server.name)' is used twice", at: item.node.location)
                }
                if !server.prefix.isEmpty {
                    if let other = prefixes[server.prefix] {
                        error(
                            "mcp server '\(server.name)' has the same prefix '\(server.prefix)' as '\(other)'", at: item.node.location,
                            hint: "give each server its own prefix: calls are routed by it")
                    }
                    prefixes[server.prefix] = server.name
                }
                settings.servers.append(server)
            }
        }
        if let node = mapping.take("sse_keepalive"), let value = duration(node, path: "mcp.sse_keepalive") { settings.sseKeepAlive = value }
        mapping.finish(
            known: ["servers", "page_size", "session_idle_timeout", "max_sessions", "max_tool_iterations", "sse_keepalive"], context: &self)
        return settings
    }

    mutating func decodeMCPServer(_ node: ConfigNode, path: String) -> MCPServerConfig? {
        guard var mapping = MappingReader(node, path: path, context: &self) else { return nil }
        defer {
            mapping.finish(
                known: [
                    "name", "url", "command", "args", "cwd", "env", "transport", "prefix", "headers", "timeout", "restart_delay", "max_restart_delay",
                    "tool_limits", "oauth",
                ], context: &self)
        }
        let name = mapping.take("name").flatMap { string($0, path: "\(path).name") }
        guard let name, !name.isEmpty else {
            error("\(path) has no 'name'", at: node.location, hint: "give every MCP server a unique name, e.g. name: github")
            mapping.finishAll()
            return nil
        }
        if !name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) {
            error("mcp server name '\(name)' may hold only letters, digits, '-' and '_'", at: node.location)
        }
        let url = mapping.take("url").flatMap { string($0, path: "\(path).url") }
        let command = mapping.take("command").flatMap { string($0, path: "\(path).command") }
        let arguments = mapping.take("args").map { strings($0, path: "\(path).args") } ?? []
        let workingDirectory = mapping.take("cwd").flatMap { string($0, path: "\(path).cwd") }
        let transportName = mapping.take("transport").flatMap { string($0, path: "\(path).transport") }
        var transport: MCPServerConfig.Transport
        switch (url, command) {
        case (let url?, nil):
            guard url.hasPrefix("http://") || url.hasPrefix("https://") else {
                error("\(path).url must be an http:// or https:// URL", at: node.location)
                mapping.finishAll()
                return nil
            }
            switch transportName {
            case nil, "streamable_http": transport = .streamableHTTP(url: url)
            case "sse": transport = .sse(url: url)
            case let other?:
                transport = .streamableHTTP(url: url)
                error(
                    "\(path).transport '\(other)' is not supported for a url", at: node.location,
                    hint: "streamable_http (the default), or sse for a server that speaks only the legacy HTTP+SSE transport")
            }
        case (nil, let command?):
            transport = .stdio(command: command, arguments: arguments, workingDirectory: workingDirectory)
            if let transportName, transportName != "stdio" { error("\(path).transport must be stdio for a command", at: node.location) }
        case (.some, .some):
            error("\(path) has both 'url' and 'command'; give one", at: node.location)
            mapping.finishAll()
            return nil
        case (nil, nil):
            error(
                "mcp server '\(name)' needs a 'url' (Streamable HTTP) or a 'command' (stdio)", at: node.location,
                hint: "url: https://mcp.example.com/mcp, or command: npx with args: [...]")
            mapping.finishAll()
            return nil
        }
        var server = MCPServerConfig(name: name, transport: transport)
        server.location = node.location
        if let node = mapping.take("prefix"), let value = string(node, path: "\(path).prefix") {
            if !value.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) {
                error("\(path).prefix may hold only letters, digits, '-' and '_'", at: node.location)
            }
            server.prefix = value
        }
        if let node = mapping.take("headers"), var headers = MappingReader(node, path: "\(path).headers", context: &self) {
            for entry in headers.remaining() {
                if let value = secret(entry.value, path: "\(path).headers.\(entry.key)") { server.headers.append((entry.key, value)) }
            }
            headers.finishAll()
            if case .stdio = transport, !server.headers.isEmpty {
                error("\(path).headers apply to HTTP servers; give a stdio server its credentials in 'env'", at: node.location)
            }
        }
        if let node = mapping.take("oauth") {
            server.oauth = decodeMCPOAuth(node, path: "\(path).oauth")
            if case .stdio = transport {
                error("\(path).oauth applies to HTTP servers; give a stdio server its credentials in 'env'", at: node.location)
            } else if server.headers.contains(where: { $0.name.lowercased() == "authorization" }) {
                error(
                    "\(path) has both oauth and an authorization header", at: node.location,
                    hint: "the token from oauth is sent as the authorization header; remove one")
            }
        }
        if let node = mapping.take("env"), var variables = MappingReader(node, path: "\(path).env", context: &self) {
            for entry in variables.remaining() {
                if let value = secret(entry.value, path: "\(path).env.\(entry.key)") { server.environment.append((entry.key, value)) }
            }
            variables.finishAll()
        }
        if let node = mapping.take("tool_limits"), var limits = MappingReader(node, path: "\(path).tool_limits", context: &self) {
            for entry in limits.remaining() {
                guard let value = integer(entry.value, path: "\(path).tool_limits.\(entry.key)") else { continue }
                if value < 1 {
                    error("\(path).tool_limits.\(entry.key) must be at least 1 call per minute", at: entry.value.location)
                } else {
                    server.toolLimits[entry.key] = value
                }
            }
            limits.finishAll()
        }
        if let node = mapping.take("timeout"), let value = duration(node, path: "\(path).timeout") { server.timeout = value }
        if let node = mapping.take("restart_delay"), let value = duration(node, path: "\(path).restart_delay") { server.restartDelay = value }
        if let node = mapping.take("max_restart_delay"), let value = duration(node, path: "\(path).max_restart_delay") {
            server.maxRestartDelay = value
        }
        return server
    }
}

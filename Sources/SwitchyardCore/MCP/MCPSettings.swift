/// `mcp:` of the configuration: the upstream MCP servers federated behind `/mcp`.
public struct MCPSettings: Sendable {
    /// The upstream servers, in the order their tools are listed.
    public var servers: [MCPServerConfig] = []
    /// Items per page of the merged `tools/list`, `prompts/list` and `resources/list`.
    public var pageSize = 100
    /// A client session unused this long is forgotten (the client then starts a new one).
    public var sessionIdleTimeout: Duration = .seconds(3600)
    /// The most sessions kept at once; the least recently used goes first.
    public var maxSessions = 10_000
    /// MCP tools on models (`{"type": "mcp"}` tools): the most rounds of tool calls the gateway
    /// runs for one request; a model that still calls tools after them ends the response
    /// `incomplete` (reason `max_tool_iterations`).
    public var maxToolIterations = 8
    /// The legacy HTTP+SSE transport (`GET /mcp/sse`): a comment written on an idle stream this
    /// often, so proxies keep it open and a client that has gone is noticed.
    public var sseKeepAlive: Duration = .seconds(15)

    public init() {}

    public func server(named name: String) -> MCPServerConfig? { servers.first { $0.name == name } }
}

/// One upstream MCP server.
public struct MCPServerConfig: Sendable {
    public enum Transport: Sendable, Equatable {
        /// The Streamable HTTP transport: JSON-RPC POSTed to one URL.
        case streamableHTTP(url: String)
        /// A process the gateway starts and supervises, speaking JSON-RPC lines on stdin/stdout.
        case stdio(command: String, arguments: [String], workingDirectory: String?)
        /// The legacy HTTP+SSE transport (protocol 2024-11-05): a GET stream carries the
        /// server's messages; requests are POSTed to the endpoint its first event names.
        case sse(url: String)

        public var name: String {
            switch self {
            case .streamableHTTP: "streamable_http"
            case .stdio: "stdio"
            case .sse: "sse"
            }
        }

        /// The server's URL (an SSE server's: its event stream's); nil for stdio.
        public var url: String? {
            switch self {
            case .streamableHTTP(let url), .sse(let url): url
            case .stdio: nil
            }
        }
    }

    public var name: String
    public var transport: Transport
    /// Put before the server's tool and prompt names (`prefix` + `_` + name); empty for none.
    public var prefix: String
    /// Sent on every request to an HTTP server (credentials: clients never see them).
    public var headers: [(name: String, value: Secret)] = []
    /// OAuth client credentials: the bearer token an HTTP server is called with.
    public var oauth: MCPOAuthSettings?
    /// Environment of a stdio server's process, besides PATH, HOME, LANG and TMPDIR (values may be secrets).
    public var environment: [(name: String, value: Secret)] = []
    /// The longest a call to the server may take.
    public var timeout: Duration = .seconds(30)
    /// A stdio server that exits is started again after this, doubling up to ``maxRestartDelay``.
    public var restartDelay: Duration = .milliseconds(250)
    public var maxRestartDelay: Duration = .seconds(30)
    /// Calls per minute one caller may make to a tool (by the server's tool name; `*`: any other tool).
    public var toolLimits: [String: Int] = [:]
    public var location: ConfigLocation?

    public init(name: String, transport: Transport) {
        self.name = name
        self.transport = transport
        self.prefix = name
    }

    /// The name a client sees for the server's tool or prompt `name`.
    public func exposedName(_ name: String) -> String { prefix.isEmpty ? name : prefix + "_" + name }

    /// The calls per minute one caller may make to `tool`, when limited.
    public func callsPerMinute(for tool: String) -> Int? { toolLimits[tool] ?? toolLimits["*"] }

    /// Every secret in the server's settings (for the log scrubber).
    public var secrets: [Secret] { headers.map(\.value) + environment.map(\.value) + (oauth.map { [$0.clientSecret] } ?? []) }
}

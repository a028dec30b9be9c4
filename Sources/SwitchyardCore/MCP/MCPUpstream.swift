/// Whether an upstream MCP server can take calls.
public enum MCPServerStatus: Sendable, Equatable {
    case starting
    case ready
    /// Not reachable, or its process exited; the reason is safe to show (no credentials).
    case down(String)

    public var isReady: Bool { self == .ready }
    public var label: String {
        switch self {
        case .starting: "starting"
        case .ready: "ready"
        case .down: "down"
        }
    }
}

/// A connection to one upstream MCP server, whatever its transport. The gateway is the
/// server's only client: it initializes one session with the server's own credentials and
/// sends every client's calls through it.
public protocol MCPUpstream: Sendable {
    var config: MCPServerConfig { get }
    var status: MCPServerStatus { get }
    /// Sends the request and returns its result. Throws ``JSONRPCError``: the server's own error
    /// as it sent it, or the gateway's (`server_unavailable`, `timeout`, `upstream_error`).
    func call(_ method: String, params: JSONValue?) async throws(JSONRPCError) -> JSONValue
    /// Runs until cancelled: a stdio server's process supervision, nothing for HTTP.
    func run() async
}

/// What upstreams report to the gateway (for metrics, logs and the clients' notifications).
public struct MCPUpstreamEvents: Sendable {
    public var statusChanged: @Sendable (_ server: String, _ status: MCPServerStatus) -> Void
    public var restarted: @Sendable (_ server: String) -> Void
    /// The server sent a notification (`method`), e.g. `notifications/tools/list_changed`.
    /// Called on the upstream's read path: it must not block.
    public var notified: @Sendable (_ server: String, _ method: String) -> Void

    public init(
        statusChanged: @escaping @Sendable (String, MCPServerStatus) -> Void = { _, _ in },
        restarted: @escaping @Sendable (String) -> Void = { _ in },
        notified: @escaping @Sendable (String, String) -> Void = { _, _ in }
    ) {
        self.statusChanged = statusChanged
        self.restarted = restarted
        self.notified = notified
    }
}

/// The versions of the MCP specification the gateway speaks, newest first.
public enum MCPProtocol {
    public static let versions = ["2025-11-25", "2025-06-18", "2025-03-26"]
    public static var latest: String { versions[0] }

    /// The version to answer an `initialize` with: the client's when supported, else the newest.
    public static func negotiate(_ requested: String?) -> String {
        if let requested, versions.contains(requested) { return requested }
        return latest
    }

    /// The gateway's answer to a server's own request: `ping` is answered, anything else
    /// (sampling, elicitation, roots) refused, since the gateway is the server's only client.
    public static func answer(serverRequest id: JSONValue, method: String) -> JSONRPCMessage {
        method == "ping" ? .response(id: id, result: .object([:])) : .error(id: id, .methodNotFound(method))
    }

    /// The gateway's `initialize` request to an upstream server.
    public static func initializeParams() -> JSONValue {
        [
            "protocolVersion": .string(latest), "capabilities": .object([:]),
            "clientInfo": ["name": "switchyard", "version": .string(SwitchyardVersion.current)],
        ]
    }
}

import AsyncHTTPClient
import CoreMetrics
import Logging
import NIOCore
import ServiceLifecycle
import SwitchyardCore
import Synchronization

extension MCPHub {
    /// The hub of the configured servers (`mcp.servers`). Servers are read once at start: a
    /// change to the list takes effect after a restart (access rules and guardrails reload).
    static func make(
        settings: MCPSettings, gateway: Gateway, audit: any AuditSink, metrics: GatewayMetrics, health: MCPServerHealth, logger: Logger,
        sessionSecret: @escaping @Sendable () -> String?
    ) -> MCPHub {
        // The upstreams exist before the hub that hears from them.
        let link = HubLink()
        let events = MCPUpstreamEvents(
            statusChanged: { server, status in
                metrics.gauge("switchyard_mcp_server_up", [("server", server)]).record(status.isReady ? 1 : 0)
                health.changed(server, to: status)
                link.hub?.upstreamStatusChanged(server: server, status: status)
            },
            restarted: { server in
                metrics.counter("switchyard_mcp_server_restarts_total", [("server", server)]).increment()
                health.restarted(server)
            },
            notified: { server, method in link.hub?.upstreamNotified(server: server, method: method) })
        let upstreams: [any MCPUpstream] = settings.servers.map { server in
            switch server.transport {
            case .streamableHTTP(let url):
                MCPHTTPUpstream(config: server, url: url, client: MCPHTTPClient.shared, events: events, logger: logger)
            case .sse(let url):
                MCPSSEUpstream(config: server, url: url, client: MCPHTTPClient.shared, events: events, logger: logger)
            case .stdio(let command, let arguments, let workingDirectory):
                MCPStdioUpstream(
                    config: server, command: command, arguments: arguments, workingDirectory: workingDirectory, events: events, logger: logger)
            }
        }
        for upstream in upstreams { metrics.gauge("switchyard_mcp_server_up", [("server", upstream.config.name)]).record(0) }
        let hub = MCPHub(upstreams: upstreams, gateway: gateway, audit: audit, metrics: metrics, logger: logger, sessionSecret: sessionSecret)
        link.hub = hub
        return hub
    }
}

/// The hub the upstreams report to, held weakly (the hub holds the upstreams).
final class HubLink: Sendable {
    private let reference = Mutex(WeakHub())

    private struct WeakHub {
        weak var hub: MCPHub?
    }

    var hub: MCPHub? {
        get { reference.withLock { $0.hub } }
        set { reference.withLock { $0.hub = newValue } }
    }
}

/// The HTTP client of every Streamable HTTP MCP server, for the life of the process (as
/// `HTTPClient.shared`). A refused connection fails the call at once, so a server that is down
/// answers `server_unavailable` instead of making the caller wait for the whole timeout.
enum MCPHTTPClient {
    static let shared: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout = .init(connect: .seconds(5))
        configuration.redirectConfiguration = .disallow
        configuration.tracing.tracer = nil
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()
}

/// Runs the MCP servers' supervision (stdio processes, legacy SSE streams, HTTP servers' GET
/// streams) and the clients' notifications until shutdown, then stops them.
struct MCPService: Service {
    let hub: MCPHub

    func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            for upstream in hub.upstreams {
                group.addTask { await cancelWhenGracefulShutdown { await upstream.run() } }
            }
            group.addTask { await cancelWhenGracefulShutdown { await hub.runNotifications() } }
            group.addTask { try? await gracefulShutdown() }
            await group.waitForAll()
        }
    }
}

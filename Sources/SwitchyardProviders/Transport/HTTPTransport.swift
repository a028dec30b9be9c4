import AsyncHTTPClient
import Logging
import NIOCore
import SwitchyardCore
import Synchronization

/// The gateway's one HTTP client stack for talking to providers.
///
/// AsyncHTTPClient pools connections per host inside one client; the pool size, connect and
/// read timeouts are client-wide settings, so the transport keeps one client per distinct
/// combination of them and shares it between providers (and across configuration reloads).
/// AsyncHTTPClient's default of 8 connections per host would queue requests under load, so
/// the pool size always comes from configuration (default 512).
public final class HTTPTransport: Sendable {
    struct Settings: Hashable {
        var maxConnections: Int
        var connectTimeoutMilliseconds: Int64
        var readTimeoutMilliseconds: Int64
    }

    private let clients = Mutex<[Settings: HTTPClient]>([:])
    private let isShutDown = Mutex(false)

    public init() {}

    /// The client for a provider's settings, created on first use.
    public func client(for provider: ProviderConfig) -> HTTPClient {
        let settings = Settings(
            maxConnections: provider.maxConnections,
            connectTimeoutMilliseconds: provider.connectTimeout.milliseconds,
            readTimeoutMilliseconds: provider.readTimeout.milliseconds
        )
        return clients.withLock { clients in
            if let existing = clients[settings] { return existing }
            var configuration = HTTPClient.Configuration()
            configuration.connectionPool = .init(
                idleTimeout: .seconds(60),
                concurrentHTTP1ConnectionsPerHostSoftLimit: settings.maxConnections
            )
            // A refused connection fails the request at once (502) instead of retrying until the
            // connect timeout: the caller (and, later, the router's fallbacks) decide what next.
            configuration.connectionPool.retryConnectionEstablishment = false
            configuration.timeout = .init(
                connect: .milliseconds(settings.connectTimeoutMilliseconds),
                read: .milliseconds(settings.readTimeoutMilliseconds)
            )
            configuration.decompression = .disabled
            configuration.redirectConfiguration = .disallow
            configuration.httpVersion = .automatic
            // The gateway traces each upstream attempt itself (GenAI client spans, with the
            // attempt's traceparent); the client's own per-request span would only cost time.
            configuration.tracing.tracer = nil
            let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
            clients[settings] = client
            return client
        }
    }

    /// Closes every client; call once at shutdown after the server stopped.
    public func shutdown() async {
        let all = clients.withLock { clients in
            let values = Array(clients.values)
            clients.removeAll()
            return values
        }
        for client in all {
            try? await client.shutdown()
        }
    }
}

extension Duration {
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}

extension HTTPTransport {
    /// Maps a transport failure to the error the client sees (never exposing internals).
    static func gatewayError(for error: any Error, provider: String) -> GatewayError {
        if let gatewayError = error as? GatewayError { return gatewayError }
        if error is CancellationError || Task.isCancelled {
            return GatewayError(status: 499, type: "api_error", code: "client_closed_request", message: "The request was cancelled.")
        }
        if let clientError = error as? HTTPClientError {
            switch clientError {
            case .readTimeout:
                return .upstreamTimeout("Provider '\(provider)' did not answer within the read timeout.")
            case .deadlineExceeded:
                return .upstreamTimeout("Provider '\(provider)' did not finish within the request timeout.")
            case .connectTimeout:
                return .upstreamTimeout("Could not connect to provider '\(provider)' within the connect timeout.")
            case .remoteConnectionClosed:
                return .upstreamUnavailable("Provider '\(provider)' closed the connection before answering.")
            case .cancelled:
                return GatewayError(status: 499, type: "api_error", code: "client_closed_request", message: "The request was cancelled.")
            default:
                break
            }
        }
        return .upstreamUnavailable("Could not reach provider '\(provider)'.")
    }
}

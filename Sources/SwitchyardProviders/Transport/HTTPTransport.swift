import AsyncHTTPClient
import Logging
import NIOCore
import SwitchyardCore
import Synchronization

/// The gateway's HTTP client stack for talking to providers.
///
/// Provider traffic goes through ``UpstreamHTTPClient``, the gateway's own pooled HTTP/1.1
/// client on SwiftNIO (see there for why). Side traffic that is neither hot nor streamed (OAuth
/// token exchanges with Google) uses AsyncHTTPClient. Pool size, connect and read timeouts are
/// per-client settings, so the transport keeps one client per distinct combination of them and
/// shares it between providers (and across configuration reloads); the pool size always comes
/// from configuration (default 512 per host).
public final class HTTPTransport: Sendable {
    struct Settings: Hashable {
        var maxConnections: Int
        var connectTimeoutMilliseconds: Int64
        var readTimeoutMilliseconds: Int64
    }

    private let clients = Mutex<[Settings: HTTPClient]>([:])
    private let upstreamClients = Mutex<[Settings: UpstreamHTTPClient]>([:])
    private let isShutDown = Mutex(false)

    public init() {}

    private static func settings(of provider: ProviderConfig) -> Settings {
        Settings(
            maxConnections: provider.maxConnections,
            connectTimeoutMilliseconds: provider.connectTimeout.milliseconds,
            readTimeoutMilliseconds: provider.readTimeout.milliseconds
        )
    }

    /// The provider-traffic client for a provider's settings, created on first use.
    func upstreamClient(for provider: ProviderConfig) -> UpstreamHTTPClient {
        let settings = Self.settings(of: provider)
        return upstreamClients.withLock { clients in
            if let existing = clients[settings] { return existing }
            let client = UpstreamHTTPClient(
                configuration: .init(
                    maxConnectionsPerHost: settings.maxConnections,
                    connectTimeout: .milliseconds(settings.connectTimeoutMilliseconds),
                    readTimeout: .milliseconds(settings.readTimeoutMilliseconds)
                )
            )
            clients[settings] = client
            return client
        }
    }

    /// The AsyncHTTPClient for a provider's settings (side traffic), created on first use.
    public func client(for provider: ProviderConfig) -> HTTPClient {
        let settings = Self.settings(of: provider)
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
        let upstream = upstreamClients.withLock { clients in
            let values = Array(clients.values)
            clients.removeAll()
            return values
        }
        for client in upstream {
            await client.shutdown()
        }
    }

    /// Sends `request` through `client`; transport failures, also those of the body while it
    /// streams, come out as ``GatewayError``s naming `provider`.
    static func send(_ request: UpstreamHTTPRequest, on client: UpstreamHTTPClient, deadline: ContinuousClock.Instant, provider: String) async throws
        -> UpstreamResponse
    {
        let remaining = deadline - .now
        do {
            return try await client.execute(request, deadline: NIODeadline.now() + .nanoseconds(max(remaining.nanoseconds, 0))) { error in
                gatewayError(for: error, provider: provider)
            }
        } catch {
            throw gatewayError(for: error, provider: provider)
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
    static let cancelledRequest = GatewayError.clientClosedRequest("The request was cancelled.")

    /// Maps a transport failure of ``UpstreamHTTPClient`` to the error the client sees (never
    /// exposing internals).
    static func gatewayError(for error: any Error, provider: String) -> GatewayError {
        if let gatewayError = error as? GatewayError { return gatewayError }
        if error is CancellationError || Task.isCancelled { return cancelledRequest }
        if let upstreamError = error as? UpstreamHTTPError {
            switch upstreamError {
            case .readTimeout:
                return .upstreamTimeout("Provider '\(provider)' did not answer within the read timeout.")
            case .deadlineExceeded:
                return .upstreamTimeout("Provider '\(provider)' did not finish within the request timeout.")
            case .connectTimeout:
                return .upstreamTimeout("Could not connect to provider '\(provider)' within the connect timeout.")
            case .remoteConnectionClosed:
                return .upstreamUnavailable("Provider '\(provider)' closed the connection before answering.")
            case .cancelled:
                return cancelledRequest
            case .tlsFailure:
                return .upstreamUnavailable("The TLS handshake with provider '\(provider)' failed.")
            case .invalidResponse:
                return .upstreamUnavailable("Provider '\(provider)' sent an invalid HTTP response.", code: .upstreamInvalidResponse)
            case .invalidURL, .connectFailed, .shutDown:
                break
            }
        }
        return .upstreamUnavailable("Could not reach provider '\(provider)'.")
    }
}

import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import SwitchyardCore

/// Talks to the Anthropic Messages API (`POST /v1/messages`).
///
/// The gateway hands it canonical (OpenAI) chat requests; it translates them, adds `x-api-key`
/// and `anthropic-version` (configured `headers`, e.g. `anthropic-beta`, pass along), and
/// returns the answer in canonical form: a translated chat completion, or a stream decoded
/// event by event into canonical chunks. Error bodies are returned as the provider sent them;
/// the gateway's error mapper reads Anthropic's envelope (429 → 429 with Retry-After, 529 → 503).
public struct AnthropicAdapter: ProviderAdapter {
    public static let defaultVersion = "2023-06-01"

    public let providerName: String
    public var nativeDialect: ClientDialect? { .anthropic }
    let url: String
    let client: UpstreamHTTPClient
    let staticHeaders: HTTPHeaders
    let baseURL: String
    let streamingClient: HTTPClient

    public init(provider: ProviderConfig, transport: HTTPTransport) {
        self.providerName = provider.name
        self.baseURL = provider.baseURL
        self.streamingClient = transport.client(for: provider)
        self.url = provider.baseURL + (provider.baseURL.hasSuffix("/v1") ? "/messages" : "/v1/messages")
        self.client = transport.upstreamClient(for: provider)
        self.staticHeaders = HTTPHeaders(provider: provider, adding: [("anthropic-version", Self.defaultVersion)])
    }

    /// Beta and other endpoints (`/v1/messages/batches`, `/v1/files`, ...), with the gateway's
    /// `anthropic-version` unless the client sent its own.
    public func forward(_ request: PassthroughRequest) async throws -> UpstreamResponse {
        var fixed = staticHeaders
        if request.headers.contains(where: { $0.name.lowercased() == "anthropic-version" }) { fixed.remove(name: "anthropic-version") }
        return try await HTTPTransport.forward(request, baseURL: baseURL, headers: fixed, on: streamingClient, provider: providerName)
    }

    public var nativeBatches: (any NativeBatchAPI)? {
        AnthropicBatches(call: NativeBatchCall(provider: providerName, forward: { try await self.forward($0) }), baseURL: baseURL)
    }

    public func send(_ request: UpstreamRequest) async throws -> UpstreamResponse {
        guard request.endpoint == .chatCompletions else {
            throw GatewayError.unsupportedEndpoint(request.endpoint.rawValue, provider: providerName)
        }
        let native = request.bodyDialect == .anthropic
        let body: ByteBuffer =
            native ? request.body : ByteBuffer(bytes: try AnthropicOutbound.request(fromOpenAI: Array(buffer: request.body)).serializedBytes())
        var outbound = UpstreamHTTPRequest(url: url)
        outbound.method = .POST
        outbound.headers = staticHeaders
        outbound.headers.add(name: "accept", value: request.stream ? "text/event-stream" : "application/json")
        for header in request.propagatedHeaders {
            outbound.headers.replaceOrAdd(name: header.name, value: header.value)
        }
        outbound.body = body
        return try await HTTPTransport.execute(
            outbound, on: client, deadline: request.deadline, provider: providerName, stream: request.stream, passthrough: native,
            translate: { bytes in try AnthropicOutbound.completion(fromAnthropic: bytes) },
            decoder: { AnthropicStreamDecoder() }
        )
    }
}

/// Creates ``AnthropicAdapter``s on the shared transport.
public struct AnthropicAdapterFactory: ProviderAdapterFactory {
    let transport: HTTPTransport

    public init(transport: HTTPTransport) {
        self.transport = transport
    }

    public func makeAdapter(for provider: ProviderConfig) throws -> any ProviderAdapter {
        AnthropicAdapter(provider: provider, transport: transport)
    }
}

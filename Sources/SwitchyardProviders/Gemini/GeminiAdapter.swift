import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import SwitchyardCore

/// Talks to Google Gemini (`generateContent`, `streamGenerateContent?alt=sse`).
///
/// The key travels in the `x-goog-api-key` header, never in the URL, so it cannot end up in
/// access logs or error messages that echo URLs. Answers come back in canonical form.
public struct GeminiAdapter: ProviderAdapter {
    public let providerName: String
    let baseURL: String
    let client: HTTPClient
    let staticHeaders: HTTPHeaders

    public init(provider: ProviderConfig, transport: HTTPTransport) {
        self.providerName = provider.name
        self.baseURL = provider.baseURL
        self.client = transport.client(for: provider)
        self.staticHeaders = HTTPHeaders(provider: provider)
    }

    public func send(_ request: UpstreamRequest) async throws -> UpstreamResponse {
        if request.endpoint == .embeddings { return try await embed(request) }
        guard request.endpoint == .chatCompletions else {
            throw GatewayError.unsupportedEndpoint(request.endpoint.rawValue, provider: providerName)
        }
        let body = try GeminiOutbound.request(fromOpenAI: Array(buffer: request.body))
        let method = request.stream ? ":streamGenerateContent?alt=sse" : ":generateContent"
        let version = baseURL.hasSuffix("/v1beta") || baseURL.hasSuffix("/v1") ? "" : "/v1beta"
        var outbound = HTTPClientRequest(url: baseURL + version + "/models/" + request.model.percentEncoded() + method)
        outbound.method = .POST
        outbound.headers = staticHeaders
        outbound.headers.add(name: "x-request-id", value: request.requestID)
        for header in request.propagatedHeaders {
            outbound.headers.replaceOrAdd(name: header.name, value: header.value)
        }
        outbound.body = .bytes(ByteBuffer(bytes: body.serializedBytes()))
        return try await HTTPTransport.execute(
            outbound, on: client, deadline: request.deadline, provider: providerName, stream: request.stream,
            translate: { bytes in try GeminiOutbound.completion(fromGemini: bytes) },
            decoder: { GeminiStreamDecoder() }
        )
    }
}

extension GeminiAdapter {
    /// OpenAI embeddings through `batchEmbedContents`.
    func embed(_ request: UpstreamRequest) async throws -> UpstreamResponse {
        let (body, base64) = try GeminiOutbound.embeddingRequest(fromOpenAI: Array(buffer: request.body), model: request.model)
        let version = baseURL.hasSuffix("/v1beta") || baseURL.hasSuffix("/v1") ? "" : "/v1beta"
        var outbound = HTTPClientRequest(url: baseURL + version + "/models/" + request.model.percentEncoded() + ":batchEmbedContents")
        outbound.method = .POST
        outbound.headers = staticHeaders
        outbound.headers.add(name: "x-request-id", value: request.requestID)
        outbound.body = .bytes(ByteBuffer(bytes: body.serializedBytes()))
        let model = request.model
        return try await HTTPTransport.execute(
            outbound, on: client, deadline: request.deadline, provider: providerName, stream: false,
            translate: { bytes in try GeminiOutbound.embeddingResponse(fromGemini: bytes, model: model, base64: base64) },
            decoder: { GeminiStreamDecoder() }
        )
    }
}

/// Creates ``GeminiAdapter``s on the shared transport.
public struct GeminiAdapterFactory: ProviderAdapterFactory {
    let transport: HTTPTransport

    public init(transport: HTTPTransport) {
        self.transport = transport
    }

    public func makeAdapter(for provider: ProviderConfig) throws -> any ProviderAdapter {
        GeminiAdapter(provider: provider, transport: transport)
    }
}

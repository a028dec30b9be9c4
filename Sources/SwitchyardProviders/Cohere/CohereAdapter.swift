import NIOCore
import NIOHTTP1
import SwitchyardCore

/// Cohere: Chat v2 (`/v2/chat`, streamed or not), Embed v2 (`/v2/embed`) and Rerank v2
/// (`/v2/rerank`), bearer key.
public struct CohereAdapter: ProviderAdapter {
    public let providerName: String
    let baseURL: String
    let client: UpstreamHTTPClient
    let staticHeaders: HTTPHeaders

    public init(provider: ProviderConfig, transport: HTTPTransport) {
        self.providerName = provider.name
        self.baseURL = provider.baseURL
        self.client = transport.upstreamClient(for: provider)
        self.staticHeaders = HTTPHeaders(provider: provider)
    }

    public func send(_ request: UpstreamRequest) async throws -> UpstreamResponse {
        let body: JSONValue
        let path: String
        var base64 = false
        var rerankDocuments: [String]?
        switch request.endpoint {
        case .chatCompletions:
            body = try CohereChat.request(fromOpenAI: Array(buffer: request.body))
            path = "/v2/chat"
        case .embeddings:
            (body, base64) = try CohereChat.embedRequest(fromOpenAI: Array(buffer: request.body), model: request.model)
            path = "/v2/embed"
        case .rerank:
            (body, rerankDocuments) = try CohereRerank.request(fromGateway: Array(buffer: request.body), model: request.model)
            path = "/v2/rerank"
        case .completions, .moderations, .imageGenerations, .imageEdits, .audioTranscriptions, .audioTranslations, .audioSpeech, .passthrough:
            throw GatewayError.unsupportedEndpoint(request.endpoint.rawValue, provider: providerName)
        }
        var outbound = UpstreamHTTPRequest(url: baseURL + path)
        outbound.method = .POST
        outbound.headers = staticHeaders
        outbound.headers.add(name: "accept", value: request.stream ? "text/event-stream" : "application/json")
        outbound.body = ByteBuffer(bytes: body.serializedBytes())
        let model = request.model
        let endpoint = request.endpoint
        let wantsBase64 = base64
        let documents = rerankDocuments
        return try await HTTPTransport.execute(
            outbound, on: client, deadline: request.deadline, provider: providerName, stream: request.stream,
            translate: { bytes in
                switch endpoint {
                case .embeddings: try CohereChat.embeddings(fromCohere: bytes, model: model, base64: wantsBase64)
                case .rerank: try CohereRerank.response(fromCohere: bytes, model: model, documents: documents)
                default: try CohereChat.completion(fromCohere: bytes, model: model)
                }
            },
            decoder: { CohereStreamDecoder(model: model) }
        )
    }
}

public struct CohereAdapterFactory: ProviderAdapterFactory {
    let transport: HTTPTransport

    public init(transport: HTTPTransport) {
        self.transport = transport
    }

    public func makeAdapter(for provider: ProviderConfig) throws -> any ProviderAdapter {
        CohereAdapter(provider: provider, transport: transport)
    }
}

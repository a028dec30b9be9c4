import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import SwitchyardCore

/// Talks to OpenAI and every server that speaks its API (vLLM, Ollama, llama.cpp, Groq,
/// Together, Mistral, DeepSeek, OpenRouter, Fireworks, LM Studio, ...).
///
/// The request body is already in OpenAI form, so the adapter only adds the URL, the
/// credentials and the configured headers; the body streams back untouched.
public struct OpenAICompatibleAdapter: ProviderAdapter {
    public let providerName: String
    let baseURL: String
    let client: UpstreamHTTPClient
    let staticHeaders: HTTPHeaders
    /// Builds the request URL; deployment-addressed APIs (Azure) put the model in the path.
    let url: @Sendable (_ baseURL: String, _ endpoint: Endpoint, _ model: String) -> String
    /// The endpoints the API has; others are refused before any call.
    let endpoints: Set<Endpoint>
    /// Uploads and passthrough bodies stream through this client (see
    /// ``HTTPTransport/sendStreaming``).
    let streamingClient: HTTPClient

    public init(
        provider: ProviderConfig,
        transport: HTTPTransport,
        endpoints: Set<Endpoint> = Set(Endpoint.allCases),
        url: @escaping @Sendable (_ baseURL: String, _ endpoint: Endpoint, _ model: String) -> String = { base, endpoint, _ in
            base + endpoint.rawValue
        }
    ) {
        self.providerName = provider.name
        self.url = url
        self.endpoints = endpoints
        self.baseURL = provider.baseURL
        self.client = transport.upstreamClient(for: provider)
        self.streamingClient = transport.client(for: provider)
        self.staticHeaders = HTTPHeaders(provider: provider, adding: [("accept", "application/json, text/event-stream")])
    }

    public var forwardsCanonicalBody: Bool { true }

    public func send(_ request: UpstreamRequest) async throws -> UpstreamResponse {
        guard endpoints.contains(request.endpoint) else {
            throw GatewayError.unsupportedEndpoint(request.endpoint.rawValue, provider: providerName)
        }
        var outbound = UpstreamHTTPRequest(url: url(baseURL, request.endpoint, request.model), headers: staticHeaders, body: request.body)
        for header in request.propagatedHeaders {
            outbound.headers.replaceOrAdd(name: header.name, value: header.value)
        }
        if request.stream {
            outbound.headers.replaceOrAdd(name: "accept", value: "text/event-stream")
        }
        if request.endpoint.isMedia {
            // Audio, text transcripts or JSON, as the request's `response_format` asks.
            outbound.headers.replaceOrAdd(name: "accept", value: "*/*")
        }
        if let upload = request.upload {
            return try await HTTPTransport.sendStreaming(
                method: .POST, url: outbound.url, headers: outbound.headers, body: upload, on: streamingClient, deadline: request.deadline,
                provider: providerName)
        }
        return try await HTTPTransport.send(outbound, on: client, deadline: request.deadline, provider: providerName)
    }

    public func forward(_ request: PassthroughRequest) async throws -> UpstreamResponse {
        try await HTTPTransport.forward(request, baseURL: baseURL, headers: staticHeaders, on: streamingClient, provider: providerName)
    }

    public var nativeBatches: (any NativeBatchAPI)? { OpenAIBatches(call: NativeBatchCall(provider: providerName, forward: { try await self.forward($0) })) }
}

/// Azure OpenAI: `{endpoint}/openai/deployments/{deployment}/chat/completions?api-version=...`
/// where the deployment is the model's upstream name; `options.api_version: v1` uses the newer
/// `{endpoint}/openai/v1/...` form with the deployment in the body instead.
public struct AzureOpenAIAdapterFactory: ProviderAdapterFactory {
    let transport: HTTPTransport

    public init(transport: HTTPTransport) {
        self.transport = transport
    }

    public func makeAdapter(for provider: ProviderConfig) throws -> any ProviderAdapter {
        let version = provider.options["api_version"] ?? ProviderPresets.azureDefaultAPIVersion
        // Azure OpenAI has no rerank; its moderation is a content filter, not an endpoint.
        return OpenAICompatibleAdapter(
            provider: provider, transport: transport,
            endpoints: [
                .chatCompletions, .completions, .embeddings, .imageGenerations, .imageEdits, .audioTranscriptions, .audioTranslations, .audioSpeech,
            ]
        ) {
            base, endpoint, model in
            if version == "v1" { return base + "/openai/v1" + endpoint.rawValue }
            let deployment = model.percentEncoded()
            return base + "/openai/deployments/" + deployment + endpoint.rawValue + "?api-version=" + version.percentEncoded()
        }
    }
}

/// Creates ``OpenAICompatibleAdapter``s that share one ``HTTPTransport``.
public struct OpenAICompatibleAdapterFactory: ProviderAdapterFactory {
    let transport: HTTPTransport

    public init(transport: HTTPTransport) {
        self.transport = transport
    }

    public func makeAdapter(for provider: ProviderConfig) throws -> any ProviderAdapter {
        OpenAICompatibleAdapter(provider: provider, transport: transport)
    }
}

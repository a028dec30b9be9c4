import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import SwitchyardCore

/// Talks to Google Gemini (`generateContent`, `streamGenerateContent?alt=sse`), either through
/// the Gemini API or through Vertex AI, which takes the same bodies under a project and location.
///
/// With the Gemini API the key travels in the `x-goog-api-key` header, never in the URL, so it
/// cannot end up in access logs or error messages that echo URLs. With Vertex AI an OAuth2
/// access token travels as a bearer token; a 401 renews it once. Answers come back in canonical form.
public struct GeminiAdapter: ProviderAdapter {
    public let providerName: String
    let baseURL: String
    let client: UpstreamHTTPClient
    let staticHeaders: HTTPHeaders
    /// The URL up to and including `/models/` (the model and method follow).
    let modelsURL: String
    /// Vertex AI: where bearer tokens come from; nil for the Gemini API.
    let tokens: VertexTokenSource?
    /// Passthrough bodies stream through this client (Gemini API only).
    let streamingClient: HTTPClient?

    public init(provider: ProviderConfig, transport: HTTPTransport) {
        self.providerName = provider.name
        self.baseURL = provider.baseURL
        self.client = transport.upstreamClient(for: provider)
        self.staticHeaders = HTTPHeaders(provider: provider)
        let version = baseURL.hasSuffix("/v1beta") || baseURL.hasSuffix("/v1") ? "" : "/v1beta"
        self.modelsURL = baseURL + version + "/models/"
        self.tokens = nil
        self.streamingClient = transport.client(for: provider)
    }

    /// A Vertex AI adapter: `{base}/v1/projects/{project}/locations/{location}/publishers/google/models/`.
    init(vertex provider: ProviderConfig, transport: HTTPTransport) throws {
        self.providerName = provider.name
        self.baseURL = provider.baseURL
        self.client = transport.upstreamClient(for: provider)
        var credentialless = provider
        credentialless.apiKey = nil
        self.staticHeaders = HTTPHeaders(provider: credentialless)
        let project = (provider.options["project"] ?? "").percentEncoded()
        let location = (provider.options["location"] ?? "").percentEncoded()
        self.modelsURL = baseURL + "/v1/projects/\(project)/locations/\(location)/publishers/google/models/"
        self.tokens = try VertexTokenSource(provider: provider, client: transport.client(for: provider))
        self.streamingClient = nil
    }

    /// Gemini API paths (`/v1beta/models/{model}:countTokens`, ...) with the provider's key;
    /// Vertex AI (OAuth tokens) has no passthrough.
    public func forward(_ request: PassthroughRequest) async throws -> UpstreamResponse {
        guard tokens == nil, let streamingClient else {
            throw GatewayError.notImplemented("Provider '\(providerName)' has no passthrough.", code: .passthroughNotSupported)
        }
        return try await HTTPTransport.forward(request, baseURL: baseURL, headers: staticHeaders, on: streamingClient, provider: providerName)
    }

    public func send(_ request: UpstreamRequest) async throws -> UpstreamResponse {
        if request.endpoint == .embeddings { return try await embed(request) }
        if request.endpoint == .imageGenerations || request.endpoint == .imageEdits { return try await images(request) }
        guard request.endpoint == .chatCompletions else {
            throw GatewayError.unsupportedEndpoint(request.endpoint.rawValue, provider: providerName)
        }
        let body = try GeminiOutbound.request(fromOpenAI: Array(buffer: request.body))
        let method = request.stream ? ":streamGenerateContent?alt=sse" : ":generateContent"
        var outbound = UpstreamHTTPRequest(url: modelsURL + request.model.percentEncoded() + method)
        outbound.method = .POST
        outbound.headers = staticHeaders
        for header in request.propagatedHeaders {
            outbound.headers.replaceOrAdd(name: header.name, value: header.value)
        }
        outbound.body = ByteBuffer(bytes: body.serializedBytes())
        return try await authorizedExecute(outbound, request: request) { outbound in
            try await HTTPTransport.execute(
                outbound, on: client, deadline: request.deadline, provider: providerName, stream: request.stream,
                translate: { bytes in try GeminiOutbound.completion(fromGemini: bytes) },
                decoder: { GeminiStreamDecoder() }
            )
        }
    }

    /// Sends with a bearer token when talking to Vertex AI; a 401 renews the token and retries once.
    func authorizedExecute(
        _ outbound: UpstreamHTTPRequest, request: UpstreamRequest, _ execute: (UpstreamHTTPRequest) async throws -> UpstreamResponse
    ) async throws -> UpstreamResponse {
        guard let tokens else { return try await execute(outbound) }
        var outbound = outbound
        let token = try await tokens.token()
        outbound.headers.replaceOrAdd(name: "authorization", value: "Bearer \(token)")
        let response = try await execute(outbound)
        guard response.status == 401, tokens.canRefresh, ContinuousClock.now < request.deadline else { return response }
        _ = try? await response.body.collect(upTo: 64 * 1024)
        let renewed = try await tokens.token(replacing: token)
        outbound.headers.replaceOrAdd(name: "authorization", value: "Bearer \(renewed)")
        return try await execute(outbound)
    }
}

extension GeminiAdapter {
    /// OpenAI embeddings through `batchEmbedContents` (Gemini API) or `predict` (Vertex AI).
    func embed(_ request: UpstreamRequest) async throws -> UpstreamResponse {
        let vertex = tokens != nil
        let (body, base64) =
            vertex
            ? try GeminiOutbound.vertexEmbeddingRequest(fromOpenAI: Array(buffer: request.body))
            : try GeminiOutbound.embeddingRequest(fromOpenAI: Array(buffer: request.body), model: request.model)
        var outbound = UpstreamHTTPRequest(url: modelsURL + request.model.percentEncoded() + (vertex ? ":predict" : ":batchEmbedContents"))
        outbound.method = .POST
        outbound.headers = staticHeaders
        outbound.body = ByteBuffer(bytes: body.serializedBytes())
        let model = request.model
        return try await authorizedExecute(outbound, request: request) { outbound in
            try await HTTPTransport.execute(
                outbound, on: client, deadline: request.deadline, provider: providerName, stream: false,
                translate: { bytes in
                    vertex
                        ? try GeminiOutbound.vertexEmbeddingResponse(bytes, model: model, base64: base64)
                        : try GeminiOutbound.embeddingResponse(fromGemini: bytes, model: model, base64: base64)
                },
                decoder: { GeminiStreamDecoder() }
            )
        }
    }
}

extension GeminiAdapter {
    /// OpenAI images: Imagen models through `:predict` (generations only), Gemini image models
    /// through `generateContent`, one call per image, made at once (edits send the uploaded
    /// images inline with each call).
    func images(_ request: UpstreamRequest) async throws -> UpstreamResponse {
        let model = request.model
        let provider = providerName
        let parsed = try OpenAIImageRequest.parse(Array(buffer: request.body), provider: provider)
        if GeminiImages.isImagen(model) {
            guard request.endpoint == .imageGenerations else {
                throw GatewayError.invalidRequest(
                    "Imagen model '\(model)' on provider '\(provider)' only generates images here: edit with a Gemini image model (gemini-2.5-flash-image).",
                    param: "model", code: .unsupportedEndpoint)
            }
            let body = try GeminiImages.imagenRequest(parsed, model: model, provider: provider, vertex: tokens != nil)
            let outbound = post(model: model, method: ":predict", body: body, for: request)
            return try await authorizedExecute(outbound, request: request) { outbound in
                try await HTTPTransport.execute(
                    outbound, on: client, deadline: request.deadline, provider: provider, stream: false,
                    translate: { bytes in try GeminiImages.imagenResponse(bytes, request: parsed, provider: provider, created: OpenAIImages.now) },
                    decoder: { GeminiStreamDecoder() })
            }
        }
        var inline: [(mimeType: String, bytes: [UInt8])] = []
        if request.endpoint == .imageEdits {
            guard let upload = request.upload else {
                throw GatewayError.internalError("An image edit reached provider '\(provider)' without its upload.")
            }
            let files = try await ImageEditUpload.read(upload)
            if files.mask != nil {
                throw GatewayError.invalidRequest(
                    "Gemini image models on provider '\(provider)' take no mask: say in the prompt what to change.", param: "mask",
                    code: .unsupportedParameter)
            }
            for file in files.images {
                guard let type = ImageEditUpload.mimeType(of: file) else {
                    throw GatewayError.invalidRequest(
                        "The uploaded '\(file.field)' is not a PNG, JPEG or WebP image.", param: "image", code: .unsupportedContent)
                }
                inline.append((type, file.bytes))
            }
        }
        let outbound = post(
            model: model, method: ":generateContent", body: try GeminiImages.contentRequest(parsed, images: inline, model: model, provider: provider),
            for: request)
        // Gemini image models make one image per call (no `candidateCount`).
        let answers = try await HTTPTransport.imageCalls(count: parsed.count, provider: provider) {
            try await authorizedExecute(outbound, request: request) { outbound in
                try await HTTPTransport.send(outbound, on: client, deadline: request.deadline, provider: provider)
            }
        }
        let bodies: [[UInt8]]
        switch answers {
        case .answered(let collected): bodies = collected
        case .failed(let failed): return failed
        }
        var images: [GeneratedImage] = []
        var input = 0
        var output = 0
        for body in bodies {
            let made = try GeminiImages.contentImages(body, provider: provider)
            images += made.images
            input += made.input
            output += made.output
        }
        return OpenAIImages.upstreamResponse(
            OpenAIImages.response(images, request: parsed, created: OpenAIImages.now, usage: input + output > 0 ? (input, output) : nil))
    }

    /// A POST of `body` to `{model}{method}` with the provider's headers and the request's
    /// propagated ones (trace context).
    func post(model: String, method: String, body: JSONValue, for request: UpstreamRequest) -> UpstreamHTTPRequest {
        var outbound = UpstreamHTTPRequest(url: modelsURL + model.percentEncoded() + method)
        outbound.method = .POST
        outbound.headers = staticHeaders
        for header in request.propagatedHeaders {
            outbound.headers.replaceOrAdd(name: header.name, value: header.value)
        }
        outbound.body = ByteBuffer(bytes: body.serializedBytes())
        return outbound
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

/// Creates Vertex AI adapters (``GeminiAdapter`` with Vertex URLs and OAuth2 tokens).
///
/// Each adapter owns its token cache, so a configuration reload starts with a fresh token.
public struct VertexAdapterFactory: ProviderAdapterFactory {
    let transport: HTTPTransport

    public init(transport: HTTPTransport) {
        self.transport = transport
    }

    public func makeAdapter(for provider: ProviderConfig) throws -> any ProviderAdapter {
        try GeminiAdapter(vertex: provider, transport: transport)
    }
}

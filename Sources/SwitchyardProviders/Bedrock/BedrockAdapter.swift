import Foundation
import NIOCore
import NIOHTTP1
import SwitchyardCore

/// AWS Bedrock through the Converse API (`/model/{id}/converse`, `/converse-stream`).
///
/// Requests are signed with SigV4 (service `bedrock`) or carry a Bedrock API key as a bearer
/// token; streams arrive as binary event-stream frames whose checksums are verified before
/// they are decoded into canonical chunks.
public struct BedrockAdapter: ProviderAdapter {
    public let providerName: String
    let baseURL: String
    let host: String
    let client: UpstreamHTTPClient
    /// Where SigV4 credentials come from; nil with a Bedrock API key.
    let credentials: AWSCredentialSource?
    let region: String
    let bearer: Secret?
    let extraHeaders: [(String, String)]

    public init(provider: ProviderConfig, transport: HTTPTransport) {
        self.providerName = provider.name
        self.baseURL = provider.baseURL
        self.host = String(provider.baseURL.drop(while: { $0 != "/" }).dropFirst(2).prefix(while: { $0 != "/" }))
        self.client = transport.upstreamClient(for: provider)
        self.region = provider.options["region"] ?? "us-east-1"
        let signs = provider.awsAccessKeyID != nil || provider.credentialEnvironment != nil
        self.credentials = signs ? AWSCredentialSource(provider: provider, client: transport.client(for: provider)) : nil
        self.bearer = provider.apiKey
        self.extraHeaders = provider.headers.map { ($0.name, $0.value.reveal()) }
    }

    public func send(_ request: UpstreamRequest) async throws -> UpstreamResponse {
        if request.endpoint == .embeddings { return try await embed(request) }
        if request.endpoint == .imageGenerations || request.endpoint == .imageEdits { return try await images(request) }
        guard request.endpoint == .chatCompletions else {
            throw GatewayError.unsupportedEndpoint(request.endpoint.rawValue, provider: providerName)
        }
        let body = try BedrockConverse.request(fromOpenAI: Array(buffer: request.body)).serializedBytes()
        let path = "/model/" + request.model.percentEncoded() + (request.stream ? "/converse-stream" : "/converse")
        let accept = request.stream ? "application/vnd.amazon.eventstream" : "application/json"
        let model = request.model
        return try await renewingExpiredCredentials { credentials in
            let outbound = signedRequest(path: path, body: body, accept: accept, credentials: credentials)
            return try await HTTPTransport.execute(
                outbound, on: client, deadline: request.deadline, provider: providerName, stream: request.stream,
                translate: { bytes in try BedrockConverse.completion(fromConverse: bytes, model: model) },
                decoder: { BedrockStreamDecoder(model: model) }
            )
        }
    }
}

extension BedrockAdapter {
    /// Builds a POST to `path` on the runtime endpoint, signed with `credentials` (SigV4) or
    /// carrying the Bedrock API key.
    func signedRequest(path: String, body: [UInt8], accept: String, credentials: AWSCredentials?) -> UpstreamHTTPRequest {
        var outbound = UpstreamHTTPRequest(url: baseURL + path)
        outbound.method = .POST
        var headers: [(String, String)] = [("host", host), ("content-type", "application/json"), ("accept", accept)]
        for header in extraHeaders { headers.append(header) }
        if let credentials {
            let signer = SigV4Signer(credentials: credentials, region: region, service: "bedrock")
            headers += signer.sign(method: "POST", path: path, headers: headers, payload: body, date: Date()).headers
        } else if let bearer {
            headers.append(("authorization", "Bearer \(bearer.reveal())"))
        }
        for (name, value) in headers where name != "host" { outbound.headers.add(name: name, value: value) }
        outbound.body = ByteBuffer(bytes: body)
        return outbound
    }

    /// Runs `attempt` with the chain's current credentials (nil with a Bedrock API key). When
    /// Bedrock refuses them as expired — 403 `ExpiredTokenException`, or
    /// `UnrecognizedClientException` saying the token expired — although the cache still held
    /// them (revoked early, or this host's clock is behind), the credentials are renewed from
    /// the chain and the request is made once more. Any other answer, and the second one,
    /// goes back as it came.
    func renewingExpiredCredentials(_ attempt: (AWSCredentials?) async throws -> UpstreamResponse) async throws -> UpstreamResponse {
        guard let credentials else { return try await attempt(nil) }
        let used = try await credentials.credentials()
        let response = try await attempt(used)
        guard response.status == 403 else { return response }
        let body: ByteBuffer
        do {
            body = try await response.body.collect(upTo: 1 << 20)
        } catch {
            throw HTTPTransport.gatewayError(for: error, provider: providerName)
        }
        let refusal = UpstreamResponse(status: response.status, headers: response.headers, body: ByteStream(buffers: [body]))
        guard Self.isExpiredTokenRefusal(headers: response.headers, body: Array(buffer: body)),
            let renewed = try await credentials.renew(after: used)
        else { return refusal }
        return try await attempt(renewed)
    }

    /// Whether a 403 from Bedrock says the credentials' session token has expired. The error
    /// type is in `x-amzn-ErrorType` (`ExpiredTokenException:http://...`) and the body's
    /// `__type`; the message is the body's `message` (or `Message`).
    static func isExpiredTokenRefusal(headers: [HeaderField], body: [UInt8]) -> Bool {
        let json = try? JSONValue.parse(body)
        var types = headers.filter { $0.name.lowercased() == "x-amzn-errortype" }.map(\.value)
        if let type = json?["__type"]?.stringValue { types.append(type) }
        // `com.amazon.coral.service#ExpiredTokenException`, `ExpiredTokenException:http://...`.
        let names = types.map { $0.split(separator: "#").last.map(String.init) ?? $0 }.map { $0.prefix { $0 != ":" } }
        if names.contains("ExpiredTokenException") { return true }
        let message = (json?["message"] ?? json?["Message"])?.stringValue?.lowercased() ?? ""
        return names.contains("UnrecognizedClientException") && message.contains("expired")
    }

    /// Embeddings through InvokeModel: Cohere-on-Bedrock models take all inputs in one call
    /// (`texts`), Titan models one input per call (`inputText`), made one after the other.
    func embed(_ request: UpstreamRequest) async throws -> UpstreamResponse {
        guard let body = (try? JSONValue.parse(Array(buffer: request.body)))?.objectValue else {
            throw GatewayError.invalidJSON("the body must be a JSON object")
        }
        let inputs: [String]
        switch body["input"] {
        case .string(let text): inputs = [text]
        case .array(let items) where items.allSatisfy({ $0.stringValue != nil }): inputs = items.compactMap(\.stringValue)
        default: throw GatewayError.invalidRequest("Bedrock embeddings take text inputs only.", param: "input", code: .unsupportedContent)
        }
        let base64 = body["encoding_format"]?.stringValue == "base64"
        let dimensions = body["dimensions"]?.intValue
        let path = "/model/" + request.model.percentEncoded() + "/invoke"
        let isCohere = request.model.hasPrefix("cohere.")
        let payloads: [JSONValue] =
            isCohere
            ? [["texts": .array(inputs.map { .string($0) }), "input_type": "search_document"]]
            : inputs.map { text in
                var payload: JSONObject = ["inputText": .string(text)]
                if let dimensions { payload["dimensions"] = JSONValue(dimensions) }
                return .object(payload)
            }
        var vectors: [[Double]] = []
        var tokens = 0
        for payload in payloads {
            let response = try await renewingExpiredCredentials { credentials in
                let outbound = signedRequest(path: path, body: payload.serializedBytes(), accept: "application/json", credentials: credentials)
                return try await HTTPTransport.send(outbound, on: client, deadline: request.deadline, provider: providerName)
            }
            guard (200..<300).contains(response.status) else { return response }
            let collected = try await response.body.collect(upTo: 64 * 1024 * 1024)
            guard let answer = try? JSONValue.parse(Array(buffer: collected)) else {
                throw GatewayError.upstreamUnavailable("The provider's response could not be translated.", code: .upstreamInvalidResponse)
            }
            if isCohere {
                vectors += answer["embeddings"]?.arrayValue?.map { $0.arrayValue?.compactMap(\.doubleValue) ?? [] } ?? []
            } else {
                vectors.append(answer["embedding"]?.arrayValue?.compactMap(\.doubleValue) ?? [])
                tokens += answer["inputTextTokenCount"]?.intValue ?? 0
            }
        }
        let list = EmbeddingEncoding.openAIList(vectors, model: request.model, base64: base64, promptTokens: tokens)
        return UpstreamResponse(
            status: 200, headers: [HeaderField("content-type", "application/json")],
            body: ByteStream(buffers: [ByteBuffer(bytes: list.serializedBytes())]))
    }
}

extension BedrockAdapter {
    /// OpenAI image generations through InvokeModel: Titan Image Generator and Nova Canvas make
    /// all `n` images in one call, Stability's models one per call (made at once). Edits are
    /// refused before the upload is read.
    func images(_ request: UpstreamRequest) async throws -> UpstreamResponse {
        let model = request.model
        let provider = providerName
        guard request.endpoint == .imageGenerations else {
            throw GatewayError.invalidRequest(
                "Provider '\(provider)' (Bedrock) does not edit images through this gateway: use /v1/images/generations, or a Gemini or OpenAI image model for edits.",
                param: "model", code: .unsupportedEndpoint)
        }
        guard let family = BedrockImages.family(of: model) else {
            throw GatewayError.invalidRequest(
                "Bedrock model '\(model)' is not an image model this gateway can call: use Amazon Titan Image Generator, Nova Canvas or a Stability AI model (Stable Image Core or Ultra, SD3.5).",
                param: "model", code: .unsupportedEndpoint)
        }
        let parsed = try OpenAIImageRequest.parse(Array(buffer: request.body), provider: provider)
        let path = "/model/" + model.percentEncoded() + "/invoke"
        switch family {
        case .amazon:
            let body = try BedrockImages.amazonRequest(parsed, model: model, provider: provider).serializedBytes()
            return try await renewingExpiredCredentials { credentials in
                let outbound = signedRequest(path: path, body: body, accept: "application/json", credentials: credentials)
                return try await HTTPTransport.execute(
                    outbound, on: client, deadline: request.deadline, provider: provider, stream: false,
                    translate: { bytes in try BedrockImages.amazonResponse(bytes, request: parsed, provider: provider, created: OpenAIImages.now) },
                    decoder: { BedrockStreamDecoder(model: model) })
            }
        case .stability:
            let body = try BedrockImages.stabilityRequest(parsed, model: model, provider: provider).serializedBytes()
            let answers = try await HTTPTransport.imageCalls(count: parsed.count, provider: provider) {
                // Each call signed on its own (the signature carries the time).
                try await renewingExpiredCredentials { credentials in
                    let outbound = signedRequest(path: path, body: body, accept: "application/json", credentials: credentials)
                    return try await HTTPTransport.send(outbound, on: client, deadline: request.deadline, provider: provider)
                }
            }
            let bodies: [[UInt8]]
            switch answers {
            case .answered(let collected): bodies = collected
            case .failed(let failed): return failed
            }
            var images: [GeneratedImage] = []
            for body in bodies { images += try BedrockImages.stabilityImages(body, request: parsed, provider: provider) }
            return OpenAIImages.upstreamResponse(OpenAIImages.response(images, request: parsed, created: OpenAIImages.now))
        }
    }
}

public struct BedrockAdapterFactory: ProviderAdapterFactory {
    let transport: HTTPTransport

    public init(transport: HTTPTransport) {
        self.transport = transport
    }

    public func makeAdapter(for provider: ProviderConfig) throws -> any ProviderAdapter {
        BedrockAdapter(provider: provider, transport: transport)
    }
}

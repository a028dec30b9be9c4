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
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/json")
        headers.add(name: "user-agent", value: "switchyard")
        if let key = provider.apiKey {
            let value = provider.authScheme.isEmpty ? key.reveal() : "\(provider.authScheme) \(key.reveal())"
            headers.add(name: provider.authHeader, value: value)
        }
        for header in provider.headers {
            headers.replaceOrAdd(name: header.name, value: header.value.reveal())
        }
        self.staticHeaders = headers
    }

    public func send(_ request: UpstreamRequest) async throws -> UpstreamResponse {
        if request.endpoint == .embeddings { return try await embed(request) }
        guard request.endpoint == .chatCompletions else {
            throw GatewayError.unsupportedEndpoint(request.endpoint.rawValue, provider: providerName)
        }
        let body = try GeminiOutbound.request(fromOpenAI: Array(buffer: request.body))
        let method = request.stream ? ":streamGenerateContent?alt=sse" : ":generateContent"
        let version = baseURL.hasSuffix("/v1beta") || baseURL.hasSuffix("/v1") ? "" : "/v1beta"
        var outbound = HTTPClientRequest(url: baseURL + version + "/models/" + request.model.addingPathEscapes() + method)
        outbound.method = .POST
        outbound.headers = staticHeaders
        outbound.headers.add(name: "x-request-id", value: request.requestID)
        for header in request.propagatedHeaders {
            outbound.headers.replaceOrAdd(name: header.name, value: header.value)
        }
        outbound.body = .bytes(ByteBuffer(bytes: body.serializedBytes()))
        let remaining = request.deadline - .now
        let deadline = NIODeadline.now() + .nanoseconds(max(remaining.nanoseconds, 0))
        let response: HTTPClientResponse
        do {
            response = try await client.execute(outbound, deadline: deadline)
        } catch {
            throw HTTPTransport.gatewayError(for: error, provider: providerName)
        }
        let headers = response.headers.map { HeaderField($0.name, $0.value) }
        let status = Int(response.status.code)
        let provider = providerName
        let upstream = response.body
        guard (200..<300).contains(status) else {
            return UpstreamResponse(status: status, headers: headers, body: ByteStream(upstream))
        }
        if !request.stream {
            let collected: ByteBuffer
            do {
                collected = try await upstream.collect(upTo: 256 * 1024 * 1024)
            } catch {
                throw HTTPTransport.gatewayError(for: error, provider: provider)
            }
            let completion = try GeminiOutbound.completion(fromGemini: Array(buffer: collected))
            return UpstreamResponse(status: status, headers: headers, body: ByteStream(buffers: [ByteBuffer(bytes: completion.serializedBytes())]))
        }
        return UpstreamResponse(
            status: status,
            headers: headers,
            body: ByteStream {
                let state = GeminiDecodingIterator(iterator: upstream.makeAsyncIterator())
                return {
                    do {
                        return try await state.next()
                    } catch let error as GatewayError {
                        throw error
                    } catch {
                        throw HTTPTransport.gatewayError(for: error, provider: provider)
                    }
                }
            }
        )
    }
}

extension GeminiAdapter {
    /// OpenAI embeddings through `batchEmbedContents`.
    func embed(_ request: UpstreamRequest) async throws -> UpstreamResponse {
        let (body, base64) = try GeminiOutbound.embeddingRequest(fromOpenAI: Array(buffer: request.body), model: request.model)
        let version = baseURL.hasSuffix("/v1beta") || baseURL.hasSuffix("/v1") ? "" : "/v1beta"
        var outbound = HTTPClientRequest(url: baseURL + version + "/models/" + request.model.addingPathEscapes() + ":batchEmbedContents")
        outbound.method = .POST
        outbound.headers = staticHeaders
        outbound.headers.add(name: "x-request-id", value: request.requestID)
        outbound.body = .bytes(ByteBuffer(bytes: body.serializedBytes()))
        let remaining = request.deadline - .now
        let response: HTTPClientResponse
        do {
            response = try await client.execute(outbound, deadline: NIODeadline.now() + .nanoseconds(max(remaining.nanoseconds, 0)))
        } catch {
            throw HTTPTransport.gatewayError(for: error, provider: providerName)
        }
        let headers = response.headers.map { HeaderField($0.name, $0.value) }
        let status = Int(response.status.code)
        guard (200..<300).contains(status) else {
            return UpstreamResponse(status: status, headers: headers, body: ByteStream(response.body))
        }
        let collected: ByteBuffer
        do {
            collected = try await response.body.collect(upTo: 256 * 1024 * 1024)
        } catch {
            throw HTTPTransport.gatewayError(for: error, provider: providerName)
        }
        let translated = try GeminiOutbound.embeddingResponse(fromGemini: Array(buffer: collected), model: request.model, base64: base64)
        return UpstreamResponse(status: status, headers: headers, body: ByteStream(buffers: [ByteBuffer(bytes: translated.serializedBytes())]))
    }
}

/// Reads Gemini SSE and yields canonical chunks; the clean end of the body ends the stream.
final class GeminiDecodingIterator: @unchecked Sendable {
    var iterator: HTTPClientResponse.Body.AsyncIterator
    var decoder = GeminiStreamDecoder()
    var ended = false

    init(iterator: HTTPClientResponse.Body.AsyncIterator) { self.iterator = iterator }

    func next() async throws -> ByteBuffer? {
        while !ended {
            var output = ByteBuffer()
            if let chunk = try await iterator.next() {
                do {
                    try decoder.feed(chunk, into: &output)
                } catch {
                    throw GatewayError.upstreamUnavailable(
                        "The provider sent a stream line longer than the gateway accepts.", code: "upstream_invalid_stream")
                }
            } else {
                ended = true
                decoder.finish(into: &output)
            }
            if output.readableBytes > 0 { return output }
        }
        return nil
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

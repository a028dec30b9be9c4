import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import SwitchyardCore

/// Cohere: Chat v2 (`/v2/chat`, streamed or not) and Embed v2 (`/v2/embed`), bearer key.
public struct CohereAdapter: ProviderAdapter {
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
            headers.add(name: provider.authHeader, value: provider.authScheme.isEmpty ? key.reveal() : "\(provider.authScheme) \(key.reveal())")
        }
        for header in provider.headers { headers.replaceOrAdd(name: header.name, value: header.value.reveal()) }
        self.staticHeaders = headers
    }

    public func send(_ request: UpstreamRequest) async throws -> UpstreamResponse {
        let body: JSONValue
        let path: String
        var base64 = false
        switch request.endpoint {
        case .chatCompletions:
            body = try CohereChat.request(fromOpenAI: Array(buffer: request.body))
            path = "/v2/chat"
        case .embeddings:
            (body, base64) = try CohereChat.embedRequest(fromOpenAI: Array(buffer: request.body), model: request.model)
            path = "/v2/embed"
        case .completions:
            throw GatewayError.unsupportedEndpoint(request.endpoint.rawValue, provider: providerName)
        }
        var outbound = HTTPClientRequest(url: baseURL + path)
        outbound.method = .POST
        outbound.headers = staticHeaders
        outbound.headers.add(name: "accept", value: request.stream ? "text/event-stream" : "application/json")
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
        let provider = providerName
        let upstream = response.body
        let model = request.model
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
            let translated =
                request.endpoint == .embeddings
                ? try CohereChat.embeddings(fromCohere: Array(buffer: collected), model: model, base64: base64)
                : try CohereChat.completion(fromCohere: Array(buffer: collected), model: model)
            return UpstreamResponse(status: status, headers: headers, body: ByteStream(buffers: [ByteBuffer(bytes: translated.serializedBytes())]))
        }
        return UpstreamResponse(
            status: status,
            headers: headers,
            body: ByteStream {
                let state = CohereDecodingIterator(iterator: upstream.makeAsyncIterator(), model: model)
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

final class CohereDecodingIterator: @unchecked Sendable {
    var iterator: HTTPClientResponse.Body.AsyncIterator
    var decoder: CohereStreamDecoder

    init(iterator: HTTPClientResponse.Body.AsyncIterator, model: String) {
        self.iterator = iterator
        self.decoder = CohereStreamDecoder(model: model)
    }

    func next() async throws -> ByteBuffer? {
        while true {
            guard let chunk = try await iterator.next() else { return nil }
            var output = ByteBuffer()
            do {
                try decoder.feed(chunk, into: &output)
            } catch {
                throw GatewayError.upstreamUnavailable(
                    "The provider sent a stream line longer than the gateway accepts.", code: "upstream_invalid_stream")
            }
            if output.readableBytes > 0 { return output }
        }
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

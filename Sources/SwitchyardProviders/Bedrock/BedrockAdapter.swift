import AsyncHTTPClient
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
    let client: HTTPClient
    let signer: SigV4Signer?
    let bearer: Secret?
    let extraHeaders: [(String, String)]

    public init(provider: ProviderConfig, transport: HTTPTransport) {
        self.providerName = provider.name
        self.baseURL = provider.baseURL
        self.host = String(provider.baseURL.drop(while: { $0 != "/" }).dropFirst(2).prefix(while: { $0 != "/" }))
        self.client = transport.client(for: provider)
        if let keyID = provider.awsAccessKeyID, let secret = provider.awsSecretAccessKey {
            self.signer = SigV4Signer(
                credentials: AWSCredentials(accessKeyID: keyID.reveal(), secretAccessKey: secret, sessionToken: provider.awsSessionToken),
                region: provider.options["region"] ?? "us-east-1",
                service: "bedrock"
            )
        } else {
            self.signer = nil
        }
        self.bearer = provider.apiKey
        self.extraHeaders = provider.headers.map { ($0.name, $0.value.reveal()) }
    }

    public func send(_ request: UpstreamRequest) async throws -> UpstreamResponse {
        guard request.endpoint == .chatCompletions else {
            throw GatewayError.unsupportedEndpoint(request.endpoint.rawValue, provider: providerName)
        }
        let body = try BedrockConverse.request(fromOpenAI: Array(buffer: request.body)).serializedBytes()
        let path = "/model/" + SigV4Signer.encode(request.model, keepSlash: false) + (request.stream ? "/converse-stream" : "/converse")
        var outbound = HTTPClientRequest(url: baseURL + path)
        outbound.method = .POST
        var headers: [(String, String)] = [("host", host), ("content-type", "application/json")]
        headers.append(("accept", request.stream ? "application/vnd.amazon.eventstream" : "application/json"))
        for header in extraHeaders { headers.append(header) }
        if let signer {
            headers += signer.sign(method: "POST", path: path, headers: headers, payload: body, date: Date()).headers
        } else if let bearer {
            headers.append(("authorization", "Bearer \(bearer.reveal())"))
        }
        for (name, value) in headers where name != "host" { outbound.headers.add(name: name, value: value) }
        outbound.headers.add(name: "x-request-id", value: request.requestID)
        outbound.body = .bytes(ByteBuffer(bytes: body))
        let remaining = request.deadline - .now
        let deadline = NIODeadline.now() + .nanoseconds(max(remaining.nanoseconds, 0))
        let response: HTTPClientResponse
        do {
            response = try await client.execute(outbound, deadline: deadline)
        } catch {
            throw HTTPTransport.gatewayError(for: error, provider: providerName)
        }
        let responseHeaders = response.headers.map { HeaderField($0.name, $0.value) }
        let status = Int(response.status.code)
        let provider = providerName
        let upstream = response.body
        guard (200..<300).contains(status) else {
            return UpstreamResponse(status: status, headers: responseHeaders, body: ByteStream(upstream))
        }
        let model = request.model
        if !request.stream {
            let collected: ByteBuffer
            do {
                collected = try await upstream.collect(upTo: 256 * 1024 * 1024)
            } catch {
                throw HTTPTransport.gatewayError(for: error, provider: provider)
            }
            let completion = try BedrockConverse.completion(fromConverse: Array(buffer: collected), model: model)
            return UpstreamResponse(
                status: status, headers: responseHeaders, body: ByteStream(buffers: [ByteBuffer(bytes: completion.serializedBytes())]))
        }
        return UpstreamResponse(
            status: status,
            headers: responseHeaders,
            body: ByteStream {
                let state = BedrockDecodingIterator(iterator: upstream.makeAsyncIterator(), model: model)
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

final class BedrockDecodingIterator: @unchecked Sendable {
    var iterator: HTTPClientResponse.Body.AsyncIterator
    var decoder: BedrockStreamDecoder
    var ended = false

    init(iterator: HTTPClientResponse.Body.AsyncIterator, model: String) {
        self.iterator = iterator
        self.decoder = BedrockStreamDecoder(model: model)
    }

    func next() async throws -> ByteBuffer? {
        while !ended {
            var output = ByteBuffer()
            if let chunk = try await iterator.next() {
                do {
                    try decoder.feed(chunk, into: &output)
                } catch {
                    throw GatewayError.upstreamUnavailable("The provider sent a corrupt event stream (\(error)).", code: "upstream_invalid_stream")
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

public struct BedrockAdapterFactory: ProviderAdapterFactory {
    let transport: HTTPTransport

    public init(transport: HTTPTransport) {
        self.transport = transport
    }

    public func makeAdapter(for provider: ProviderConfig) throws -> any ProviderAdapter {
        BedrockAdapter(provider: provider, transport: transport)
    }
}

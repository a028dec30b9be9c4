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
        let model = request.model
        return try await HTTPTransport.execute(
            outbound, on: client, deadline: request.deadline, provider: providerName, stream: request.stream,
            translate: { bytes in try BedrockConverse.completion(fromConverse: bytes, model: model) },
            decoder: { BedrockStreamDecoder(model: model) }
        )
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

import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import SwitchyardCore

extension HTTPTransport {
    /// Sends a request whose body streams from the client (an upload, a passthrough body)
    /// without holding it whole.
    ///
    /// These go through AsyncHTTPClient, whose request-body streaming applies backpressure (the
    /// client's body is read only as fast as the provider takes it); the gateway's own client
    /// writes a whole body in one flush, which is what the hot JSON path wants. The answer
    /// streams back as usual.
    static func sendStreaming(
        method: HTTPMethod, url: String, headers: HTTPHeaders, body: UploadBody?, on client: HTTPClient, deadline: ContinuousClock.Instant,
        provider: String
    ) async throws -> UpstreamResponse {
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers = headers
        if let body {
            request.headers.replaceOrAdd(name: "content-type", value: body.contentType)
            request.headers.remove(name: "content-length")
            request.body = .stream(body.stream, length: body.length.map { .known(Int64($0)) } ?? .unknown)
        } else if method == .POST || method == .PUT || method == .PATCH {
            request.body = .bytes(ByteBuffer())
        }
        let remaining = deadline - .now
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, deadline: .now() + .nanoseconds(max(remaining.nanoseconds, 0)))
        } catch {
            throw streamingError(error, provider: provider)
        }
        let answer = response.body
        return UpstreamResponse(
            status: Int(response.status.code),
            headers: response.headers.map { HeaderField($0.name, $0.value) },
            body: ByteStream {
                let iterator = ResponseIterator(answer.makeAsyncIterator())
                return {
                    do {
                        return try await iterator.next()
                    } catch {
                        throw streamingError(error, provider: provider)
                    }
                }
            }
        )
    }

    /// Client headers never forwarded on a passthrough: credentials (the provider's own are
    /// added) and hop-by-hop or length headers (the client sets its own).
    static let withheldHeaders: Set<String> = [
        "authorization", "x-api-key", "api-key", "x-goog-api-key", "cookie", "host", "content-length", "connection", "transfer-encoding",
        "keep-alive", "upgrade", "proxy-authorization", "te", "trailer", "expect", "accept-encoding",
    ]

    /// Sends a passthrough request to `baseURL` + its target: the client's headers minus its
    /// credentials, then the provider's fixed headers and credentials over them.
    static func forward(_ request: PassthroughRequest, baseURL: String, headers fixed: HTTPHeaders, on client: HTTPClient, provider: String)
        async throws -> UpstreamResponse
    {
        var headers = HTTPHeaders()
        for header in request.headers
        where !withheldHeaders.contains(header.name.lowercased()) && !header.name.lowercased().hasPrefix("x-switchyard-") {
            headers.add(name: header.name, value: header.value)
        }
        for (name, value) in fixed where !(name.lowercased() == "content-type" && headers.contains(name: "content-type")) {
            if name.lowercased() == "accept" && headers.contains(name: "accept") { continue }
            headers.replaceOrAdd(name: name, value: value)
        }
        return try await sendStreaming(
            method: HTTPMethod(rawValue: request.method), url: baseURL + request.target, headers: headers, body: request.body, on: client,
            deadline: request.deadline, provider: provider)
    }

    /// A failure of a streamed exchange as the client sees it; a ``GatewayError`` thrown by the
    /// upload itself (its size limit, a second send) comes out as it is.
    static func streamingError(_ error: any Error, provider: String) -> GatewayError {
        if let gatewayError = error as? GatewayError { return gatewayError }
        if error is CancellationError || Task.isCancelled { return cancelledRequest }
        if let clientError = error as? HTTPClientError {
            switch clientError {
            case .readTimeout, .deadlineExceeded:
                return .upstreamTimeout("Provider '\(provider)' did not answer in time.")
            case .connectTimeout:
                return .upstreamTimeout("Could not connect to provider '\(provider)' within the connect timeout.")
            case .cancelled:
                return cancelledRequest
            default:
                break
            }
        }
        return .upstreamUnavailable("Could not reach provider '\(provider)'.")
    }
}

/// An answer's body iterator, read by one task at a time.
final class ResponseIterator: @unchecked Sendable {
    private var iterator: HTTPClientResponse.Body.AsyncIterator
    init(_ iterator: HTTPClientResponse.Body.AsyncIterator) { self.iterator = iterator }
    func next() async throws -> ByteBuffer? { try await iterator.next() }
}

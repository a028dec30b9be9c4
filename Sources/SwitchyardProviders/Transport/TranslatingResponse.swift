import NIOCore
import NIOHTTP1
import SwitchyardCore

/// A decoder from a provider's stream format to canonical (OpenAI) SSE chunks.
protocol CanonicalStreamDecoder: Sendable {
    /// Consumes provider bytes and appends canonical SSE to `output`.
    mutating func feed(_ bytes: ByteBuffer, into output: inout ByteBuffer) throws
    /// Called once when the provider's body ended cleanly.
    mutating func finish(into output: inout ByteBuffer)
    /// A failure the provider reported in its stream before any chunk (Bedrock's exception
    /// events): the HTTP status it stands for and a JSON error body. It is answered as that
    /// status, as if the provider had answered it without a stream.
    var earlyFailure: (status: Int, body: [UInt8])? { get }
}

extension CanonicalStreamDecoder {
    var earlyFailure: (status: Int, body: [UInt8])? { nil }
}

extension AnthropicStreamDecoder: CanonicalStreamDecoder {
    func finish(into output: inout ByteBuffer) {}
}

extension GeminiStreamDecoder: CanonicalStreamDecoder {}

extension BedrockStreamDecoder: CanonicalStreamDecoder {}

extension CohereStreamDecoder: CanonicalStreamDecoder {
    func finish(into output: inout ByteBuffer) {}
}

extension HTTPTransport {
    /// Sends `request` and returns the answer in canonical form, for adapters of providers
    /// that speak another dialect: error statuses pass through untouched (the gateway maps
    /// them), complete bodies go through `translate`, streams through `decoder`.
    static func execute<Decoder: CanonicalStreamDecoder>(
        _ outbound: UpstreamHTTPRequest,
        on client: UpstreamHTTPClient,
        deadline: ContinuousClock.Instant,
        provider: String,
        stream: Bool,
        passthrough: Bool = false,
        translate: @escaping @Sendable ([UInt8]) throws -> JSONValue,
        decoder: @escaping @Sendable () -> Decoder
    ) async throws -> UpstreamResponse {
        let response = try await send(outbound, on: client, deadline: deadline, provider: provider)
        let headers = response.headers
        let status = response.status
        let upstream = response.body
        guard (200..<300).contains(status), !passthrough else {
            return response
        }
        if !stream {
            let collected: ByteBuffer
            do {
                collected = try await upstream.collect(upTo: 256 * 1024 * 1024)
            } catch {
                throw gatewayError(for: error, provider: provider)
            }
            let translated = try translate(Array(buffer: collected))
            return UpstreamResponse(status: status, headers: headers, body: ByteStream(buffers: [ByteBuffer(bytes: translated.serializedBytes())]))
        }
        // The first chunk is read here, so that a failure the stream reports before it can
        // still be answered with its own status (the gateway holds the response until the
        // first chunk anyway).
        let state = DecodingIterator(iterator: upstream.makeAsyncIterator(), decoder: decoder())
        do {
            state.primed = try await state.next()
        } catch {
            throw streamError(error, provider: provider)
        }
        if let failure = state.decoder.earlyFailure {
            return UpstreamResponse(
                status: failure.status, headers: [HeaderField("content-type", "application/json")],
                body: ByteStream(buffers: [ByteBuffer(bytes: failure.body)]))
        }
        return UpstreamResponse(
            status: status,
            headers: headers,
            body: ByteStream {
                {
                    do {
                        return try await state.next()
                    } catch {
                        throw streamError(error, provider: provider)
                    }
                }
            }
        )
    }

    static func streamError(_ error: any Error, provider: String) -> GatewayError {
        if let error = error as? GatewayError { return error }
        return gatewayError(for: error, provider: provider)
    }
}

/// Reads a provider's stream and yields canonical chunks; used by one task at a time.
final class DecodingIterator<Decoder: CanonicalStreamDecoder>: @unchecked Sendable {
    var iterator: ByteStream.AsyncIterator
    var decoder: Decoder
    var ended = false
    /// Output read ahead of the first `next()` of the body.
    var primed: ByteBuffer?

    init(iterator: ByteStream.AsyncIterator, decoder: Decoder) {
        self.iterator = iterator
        self.decoder = decoder
    }

    func next() async throws -> ByteBuffer? {
        if let primed {
            self.primed = nil
            return primed
        }
        while !ended, decoder.earlyFailure == nil {
            var output = ByteBuffer()
            if let chunk = try await iterator.next() {
                do {
                    try decoder.feed(chunk, into: &output)
                } catch let error as EventStreamError {
                    throw GatewayError.upstreamUnavailable("The provider sent a corrupt event stream (\(error)).", code: .upstreamInvalidStream)
                } catch {
                    throw GatewayError.upstreamUnavailable(
                        "The provider sent a stream line longer than the gateway accepts.", code: .upstreamInvalidStream)
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

import NIOCore

/// The gateway pipeline for OpenAI-dialect requests, free of any HTTP framework.
///
/// `handle` validates the body once, resolves the model, rewrites only `model` and
/// `stream_options`, calls the provider and returns either a complete body or a stream that
/// forwards events as they arrive. Failures before the first byte are plain HTTP errors;
/// failures after it end the stream with an error event. Every request produces exactly one
/// ``RequestRecord`` for the observer, whatever happened.
public struct Gateway: Sendable {
    public let runtime: RuntimeHolder
    public let observer: any RequestObserver
    /// Largest non-streaming upstream body accepted.
    public var maximumUpstreamBodyBytes = 256 * 1024 * 1024

    public init(runtime: RuntimeHolder, observer: any RequestObserver) {
        self.runtime = runtime
        self.observer = observer
    }

    /// One inbound request, already authenticated and read.
    public struct Inbound: Sendable {
        public var endpoint: Endpoint
        public var body: ByteBuffer
        public var identity: Identity
        public var requestID: String
        public var receivedAt: ContinuousClock.Instant
        public var propagatedHeaders: [HeaderField]
        /// The dialect to answer in; the body is always in canonical (OpenAI) form.
        public var dialect: ClientDialect
        /// The body as the client sent it, when its dialect is not the canonical one; forwarded
        /// as is to providers that speak that dialect natively.
        public var nativeBody: ByteBuffer?

        public init(
            endpoint: Endpoint,
            body: ByteBuffer,
            identity: Identity,
            requestID: String,
            receivedAt: ContinuousClock.Instant = .now,
            propagatedHeaders: [HeaderField] = [],
            dialect: ClientDialect = .openAI,
            nativeBody: ByteBuffer? = nil
        ) {
            self.dialect = dialect
            self.nativeBody = nativeBody
            self.endpoint = endpoint
            self.body = body
            self.identity = identity
            self.requestID = requestID
            self.receivedAt = receivedAt
            self.propagatedHeaders = propagatedHeaders
        }
    }

    /// A validated, routed request, ready to be sent upstream.
    public struct Prepared: Sendable {
        public let inbound: Inbound
        public let request: OpenAIRequest
        public let route: ModelCatalog.Route
        public let adapter: any ProviderAdapter
        public let snapshot: RuntimeSnapshot
        var record: RequestRecord

        /// Whether the client asked for a stream.
        public var isStream: Bool { request.stream }
    }

    /// The outcome of ``prepare(_:snapshot:)``.
    public enum Preparation: Sendable {
        case ready(Prepared)
        /// The request was refused (bad input, unknown model); send this response.
        case answered(GatewayResponse)
    }

    /// Validates and routes a request (no I/O). On failure the error response is returned and
    /// the request is already recorded.
    public func prepare(_ inbound: Inbound, snapshot: RuntimeSnapshot? = nil) -> Preparation {
        let snapshot = snapshot ?? runtime.snapshot
        var record = RequestRecord(requestID: inbound.requestID, endpoint: inbound.endpoint, identity: inbound.identity)
        record.dialect = inbound.dialect
        do throws(GatewayError) {
            let request = try OpenAIRequest(endpoint: inbound.endpoint, body: Array(buffer: inbound.body))
            record.requestedModel = request.model
            record.stream = request.stream
            if let user = request.user { record.identity.endUser = user }
            guard let route = snapshot.catalog.route(for: request.model) else {
                throw GatewayError.modelNotFound(request.model, suggestions: snapshot.catalog.suggestions(for: request.model))
            }
            guard let adapter = snapshot.adapters[route.provider] else {
                throw GatewayError.internalError("No adapter is running for provider '\(route.provider)'.")
            }
            record.provider = route.provider
            record.servedModel = route.upstreamModel
            return .ready(Prepared(inbound: inbound, request: request, route: route, adapter: adapter, snapshot: snapshot, record: record))
        } catch {
            return .answered(fail(error, record: &record, receivedAt: inbound.receivedAt))
        }
    }

    /// Sends a prepared request upstream and returns the response or stream to send back.
    public func execute(_ prepared: Prepared) async -> GatewayResponse {
        var record = prepared.record
        do {
            return try await forward(prepared, record: &record)
        } catch {
            return fail(Self.gatewayError(from: error), record: &record, receivedAt: prepared.inbound.receivedAt)
        }
    }

    /// Validates, routes and forwards in one call.
    public func handle(_ inbound: Inbound, snapshot: RuntimeSnapshot? = nil) async -> GatewayResponse {
        switch prepare(inbound, snapshot: snapshot) {
        case .ready(let prepared): await execute(prepared)
        case .answered(let response): response
        }
    }

    private func fail(_ error: GatewayError, record: inout RequestRecord, receivedAt: ContinuousClock.Instant) -> GatewayResponse {
        record.status = error.status
        record.outcome = error.status == 499 ? .clientDisconnected : .error
        record.errorCode = error.metricLabel
        record.duration = .now - receivedAt
        observer.requestFinished(record)
        return .error(error, dialect: record.dialect)
    }

    static func gatewayError(from error: any Error) -> GatewayError {
        if error is CancellationError || Task.isCancelled {
            return GatewayError(status: 499, type: "api_error", code: "client_closed_request", message: "The client closed the request.")
        }
        if let gatewayError = error as? GatewayError { return gatewayError }
        if error is CancellationError {
            return GatewayError(status: 499, type: "api_error", code: "client_closed_request", message: "The client closed the request.")
        }
        return .internalError()
    }

    private func forward(_ prepared: Prepared, record: inout RequestRecord) async throws -> GatewayResponse {
        let inbound = prepared.inbound
        let request = prepared.request
        let route = prepared.route
        let snapshot = prepared.snapshot
        let adapter = prepared.adapter
        // Same dialect on both sides: forward the client's bytes, only the model renamed.
        let passthrough = inbound.dialect != .openAI && adapter.nativeDialect == inbound.dialect && inbound.nativeBody != nil
        var upstreamBody = request.upstreamBody(upstreamModel: route.upstreamModel)
        if passthrough, let native = inbound.nativeBody, let scan = try? JSONObjectScan(Array(buffer: native)) {
            upstreamBody = scan.rewriting([("model", JSONWriter.quoted(route.upstreamModel))])
        }
        var upstreamRequest = UpstreamRequest(
            endpoint: inbound.endpoint,
            body: ByteBuffer(bytes: upstreamBody),
            stream: request.stream,
            model: route.upstreamModel,
            requestID: inbound.requestID,
            deadline: inbound.receivedAt + snapshot.config.server.requestTimeout,
            propagatedHeaders: inbound.propagatedHeaders
        )
        if passthrough { upstreamRequest.bodyDialect = inbound.dialect }
        let upstreamStart = ContinuousClock.now
        let response: UpstreamResponse
        do {
            response = try await adapter.send(upstreamRequest)
        } catch {
            let mapped = Self.gatewayError(from: error)
            if mapped.status != 499 { record.upstreamError = mapped.metricLabel }
            throw mapped
        }
        var headers = [
            HeaderField("x-switchyard-provider", route.provider),
            HeaderField("x-switchyard-model", route.upstreamModel),
        ]
        if let upstreamID = response.header("x-request-id") {
            headers.append(HeaderField("x-upstream-request-id", upstreamID))
        }

        guard (200..<300).contains(response.status) else {
            let body = (try? await response.body.collect(upTo: 1024 * 1024)) ?? ByteBuffer()
            let error = UpstreamErrorMapper.map(
                status: response.status,
                body: Array(buffer: body),
                headers: response.headers,
                provider: route.provider,
                scrubber: snapshot.scrubber
            )
            record.upstreamError = error.metricLabel
            throw error
        }

        if !request.stream {
            let body: ByteBuffer
            do {
                body = try await response.body.collect(upTo: maximumUpstreamBodyBytes)
            } catch {
                let mapped = Self.gatewayError(from: error)
                if mapped.status != 499 { record.upstreamError = mapped.metricLabel }
                throw mapped
            }
            guard let scan = try? JSONObjectScan(Array(buffer: body)) else {
                record.upstreamError = "upstream_invalid_response"
                throw GatewayError.upstreamUnavailable(
                    "Provider '\(route.provider)' returned a response that is not a JSON object.",
                    code: "upstream_invalid_response"
                )
            }
            record.usage = TokenUsage(openAIResponse: scan)
            var clientBody = body
            if passthrough {
                record.usage = OpenAIStreamRelay.anthropicUsage(scan.value("usage"), previous: nil)
            } else if inbound.dialect == .anthropic {
                let message = try AnthropicResponseTranslator.message(fromOpenAI: scan.bytes, requestID: inbound.requestID)
                clientBody = ByteBuffer(bytes: message.serializedBytes())
            }
            record.status = 200
            record.upstreamDuration = .now - upstreamStart
            record.duration = .now - inbound.receivedAt
            observer.requestFinished(record)
            headers.append(HeaderField("content-type", "application/json"))
            return GatewayResponse(status: 200, headers: headers, body: .buffer(clientBody))
        }

        // Streaming: hold the response until the first event is ready, so that a provider that
        // fails before producing anything still gets a proper HTTP error (and can be retried).
        var relay = OpenAIStreamRelay(forwardUsageChunk: request.clientWantsUsage, provider: route.provider)
        if passthrough {
            relay.anthropicPassthrough = true
        } else if inbound.dialect == .anthropic {
            relay.anthropic = AnthropicStreamEncoder(requestID: inbound.requestID)
        }
        var iterator = response.body.makeAsyncIterator()
        var pending = ByteBuffer()
        var upstreamEnded = false
        do {
            while pending.readableBytes == 0 && relay.state == .streaming {
                guard let chunk = try await iterator.next() else {
                    upstreamEnded = true
                    _ = relay.finishUpstream()
                    break
                }
                relay.consume(chunk, into: &pending)
            }
        } catch {
            let mapped = Self.streamFailure(error, provider: route.provider)
            if mapped.status != 499 { record.upstreamError = mapped.metricLabel }
            throw mapped
        }
        if pending.readableBytes == 0 {
            let error =
                relay.upstreamError
                ?? .upstreamUnavailable("Provider '\(route.provider)' ended the stream without sending any event.", code: "upstream_empty_stream")
            record.upstreamError = error.metricLabel
            throw error
        }
        record.timeToFirstToken = .now - inbound.receivedAt
        headers.append(HeaderField("content-type", "text/event-stream"))
        headers.append(HeaderField("cache-control", "no-cache"))
        headers.append(HeaderField("x-accel-buffering", "no"))
        let stream = GatewayStream(
            relay: relay,
            iterator: iterator,
            pending: pending,
            upstreamEnded: upstreamEnded,
            record: record,
            receivedAt: inbound.receivedAt,
            upstreamStart: upstreamStart,
            provider: route.provider,
            observer: observer
        )
        return GatewayResponse(status: 200, headers: headers, body: .stream(stream))
    }

    static func streamFailure(_ error: any Error, provider: String) -> GatewayError {
        if error is CancellationError || Task.isCancelled { return gatewayError(from: error) }
        if let gatewayError = error as? GatewayError { return gatewayError }
        return .upstreamUnavailable("The connection to provider '\(provider)' failed during the stream.", code: "upstream_stream_interrupted")
    }
}

/// What the gateway answers: a status, headers and a complete or streamed body.
public struct GatewayResponse: Sendable {
    public enum Body: Sendable {
        case buffer(ByteBuffer)
        case stream(GatewayStream)
    }

    public var status: Int
    public var headers: [HeaderField]
    public var body: Body

    public init(status: Int, headers: [HeaderField], body: Body) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public static func error(_ error: GatewayError, dialect: ClientDialect = .openAI) -> GatewayResponse {
        let body = dialect == .anthropic ? AnthropicResponseTranslator.errorEnvelope(error).serializedBytes() : error.envelope()
        return GatewayResponse(
            status: error.status,
            headers: error.headers + [HeaderField("content-type", "application/json")],
            body: .buffer(ByteBuffer(bytes: body))
        )
    }

    public static func json(_ value: JSONValue, status: Int = 200) -> GatewayResponse {
        GatewayResponse(
            status: status,
            headers: [HeaderField("content-type", "application/json")],
            body: .buffer(ByteBuffer(bytes: value.serializedBytes()))
        )
    }
}

/// The rest of a stream after its first event: forwards upstream events to the client.
public struct GatewayStream: Sendable {
    var relay: OpenAIStreamRelay
    var iterator: ByteStream.AsyncIterator
    var pending: ByteBuffer
    var upstreamEnded: Bool
    var record: RequestRecord
    let receivedAt: ContinuousClock.Instant
    let upstreamStart: ContinuousClock.Instant
    let provider: String
    let observer: any RequestObserver

    /// Writes the stream through `emit` until it ends. Never throws: an upstream failure
    /// becomes an error event, a client that goes away (emit throws, or the task is
    /// cancelled) stops the upstream call. The request record is emitted in every case.
    public consuming func run(_ emit: (ByteBuffer) async throws -> Void) async {
        var record = self.record
        var relay = self.relay
        var iterator = self.iterator
        var output = self.pending
        var upstreamEnded = self.upstreamEnded
        defer {
            record.usage = relay.usage
            record.chunks = relay.forwardedEvents
            record.servedModel = relay.responseModel ?? record.servedModel
            record.upstreamDuration = .now - upstreamStart
            record.duration = .now - receivedAt
            observer.requestFinished(record)
        }
        record.status = 200
        do {
            while true {
                if relay.state == .failed, let error = relay.upstreamError {
                    relay.writeClientError(error, into: &output)
                    try await emit(output)
                    record.outcome = .streamError
                    record.errorCode = error.metricLabel
                    record.upstreamError = error.metricLabel
                    return
                }
                if upstreamEnded || relay.state == .done {
                    relay.writeClientEnd(into: &output)
                    try await emit(output)
                    record.outcome = .success
                    return
                }
                if output.readableBytes > 0 {
                    try await emit(output)
                    output.clear()
                }
                let chunk: ByteBuffer?
                do {
                    chunk = try await iterator.next()
                } catch {
                    if Task.isCancelled || error is CancellationError { throw error }
                    let mapped = Gateway.streamFailure(error, provider: provider)
                    relay.writeClientError(mapped, into: &output)
                    try await emit(output)
                    record.outcome = .streamError
                    record.errorCode = mapped.metricLabel
                    if mapped.status != 499 { record.upstreamError = mapped.metricLabel }
                    return
                }
                if let chunk {
                    relay.consume(chunk, into: &output)
                } else {
                    upstreamEnded = true
                    _ = relay.finishUpstream()
                }
            }
        } catch {
            // The client is gone (write failed or the request task was cancelled). Dropping
            // the iterator here cancels the upstream request.
            record.outcome = .clientDisconnected
            record.status = 499
            record.errorCode = "client_closed_request"
        }
    }
}

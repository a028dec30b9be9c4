import HTTPTypes
import Hummingbird
import Instrumentation
import Logging
import Metrics
import NIOCore
import NIOHTTP1
import SwitchyardCore
import SwitchyardStores
import Synchronization
import Tracing

/// The outermost middleware: request id, body limit, error envelope, HTTP metrics and the access
/// log line for requests that do not reach the gateway pipeline.
///
/// Every response leaves with `x-request-id`, and every error (a thrown ``GatewayError``, a
/// Hummingbird `HTTPError` such as an unknown route or an oversized body, anything else) is
/// rendered in the OpenAI error envelope.
/// Reads trace headers from Hummingbird's request headers.
struct HTTPFieldsExtractor: Extractor {
    func extract(key: String, from carrier: HTTPFields) -> String? {
        HTTPField.Name(key).flatMap { carrier[$0] }
    }
}

struct RequestMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext

    let runtime: RuntimeHolder
    let metrics: GatewayMetrics
    let accessLog: Bool
    /// Starts each request's server span when `tracing.enabled`.
    var tracer: SwitchyardTracer?

    @concurrent func handle(_ request: Request, context: Context, next: @concurrent (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        context.requestID = Self.generateRequestID()
        context.clientRequestID = Self.clientRequestID(from: request)
        let snapshot = runtime.snapshot
        context.snapshot = snapshot
        // Read once: each read of `uri.path` builds a new string.
        let path = request.uri.path
        context.maxBodyBytes =
            path == FilesRoutes.uploadPath ? snapshot.config.files.maxFileBytes + 64 * 1024 : snapshot.config.server.maxBodyBytes(forPath: path)
        // The request's own log lines (below) name it; the context's logger is left as it is
        // (a copy of it with metadata was three allocations a request for lines rarely written).
        var span: RecordedSpan?
        if let tracer, snapshot.config.tracing.enabled {
            span = Self.startServerSpan(tracer, request: request, requestID: context.requestID)
            context.requestSpan = span
        }
        var response: Response
        do {
            if let length = request.headers.value(.contentLength).flatMap({ Int($0) }), length > context.maxBodyBytes {
                throw GatewayError.bodyTooLarge(limit: context.maxBodyBytes)
            }
            if let span {
                response = try await InstrumentationContext.withValue(span.context) { try await next(request, context) }
            } else {
                response = try await next(request, context)
            }
        } catch {
            let gatewayError = Self.gatewayError(for: error, request: request, limit: context.maxBodyBytes)
            if gatewayError.status >= 500 {
                // A database failure in words an operator can act on (never the statement or a credential).
                let detail = StoreFailure.describe(error) ?? String(describing: error)
                context.logger.error("request failed", metadata: Self.logMetadata(context, span, ["error": .string(detail)]))
            }
            let dialect: ClientDialect = Self.isAnthropicPath(path) ? .anthropic : .openAI
            response = GatewayResponse.error(gatewayError, dialect: dialect).hummingbirdResponse()
        }
        // The client's own id goes back as it was sent; the gateway's id (the one the request
        // log and the ledger know the request by) always travels in its own header.
        response.headers[Self.requestIDHeader] = context.clientRequestID ?? context.requestID
        response.headers[Self.gatewayRequestIDHeader] = context.requestID
        let status = Int(response.status.code)
        if let span { Self.finish(span, response: &response, status: status) }
        metrics.httpRequestFinished(
            method: request.method.rawValue, route: Self.routeLabel(path), status: status,
            nanoseconds: (ContinuousClock.now - context.receivedAt).nanoseconds)
        if accessLog, !Self.isInferencePath(path) || status == 401 || status == 413 || status == 404 {
            context.logger.info(
                "request",
                metadata: Self.logMetadata(
                    context, span,
                    [
                        "http_method": .string(request.method.rawValue),
                        "http_path": .string(path),
                        "http_status": .stringConvertible(status),
                        "duration_ms": .stringConvertible(Double((ContinuousClock.now - context.receivedAt).nanoseconds / 1000) / 1000),
                    ])
            )
        }
        return response
    }

    /// A request's log line metadata: `fields`, its id and, when it is traced, its trace id.
    static func logMetadata(_ context: Context, _ span: RecordedSpan?, _ fields: Logger.Metadata) -> Logger.Metadata {
        var metadata = fields
        metadata["request_id"] = .string(context.requestID)
        if let span, span.identity.sampled { metadata["trace_id"] = .string(span.identity.traceID) }
        return metadata
    }

    /// The request's SERVER span, continuing the client's `traceparent` when it sent one.
    static func startServerSpan(_ tracer: SwitchyardTracer, request: Request, requestID: String) -> RecordedSpan {
        var parent = InstrumentationContext.topLevel
        tracer.extract(request.headers, into: &parent, using: HTTPFieldsExtractor())
        let route = routeLabel(request.uri.path)
        let span = tracer.startSpan("\(request.method.rawValue) \(route)", context: parent, ofKind: .server)
        span.set([
            ("http.request.method", .string(request.method.rawValue)), ("http.route", .string(route)), ("url.path", .string(request.uri.path)),
            ("switchyard.request_id", .string(requestID)),
        ])
        return span
    }

    /// Status on the span, the trace id in a response header, and the span's end once the
    /// body (a stream included) is written.
    ///
    /// A body of known length is one buffer here (answers, errors; every streamed body is
    /// written without one), which the server writes with the head in one go: its span ends
    /// now. Wrapping it in a writing closure, like a stream, would cost the server's one-write
    /// path: head, body and end would go out as three writes.
    static func finish(_ span: RecordedSpan, response: inout Response, status: Int) {
        span.set([("http.response.status_code", .int64(Int64(status)))])
        if status >= 500 { span.setStatus(SpanStatus(code: .error, message: "HTTP \(status)")) }
        if span.identity.sampled { response.headers[traceIDHeader] = span.identity.traceID }
        let body = response.body
        guard body.contentLength == nil else {
            span.end()
            return
        }
        response.body = ResponseBody(contentLength: body.contentLength) { writer in
            do {
                try await body.write(writer)
                span.end()
            } catch {
                span.recordError(error)
                span.end()
                throw error
            }
        }
    }

    /// Every POST of the API (not the dashboard's forms) takes JSON: a body in any other media
    /// type (`text/plain`, a form) or in none is refused with 415, so that a web page cannot
    /// send the API a "simple" cross-site request that skips the browser's CORS preflight. A
    /// POST without a body (rotate, revoke) may leave the type out: an untyped body is read
    /// (within the body limit) to tell.
    static func unsupportedMediaType(_ request: inout Request, limit: Int) async throws -> GatewayError? {
        guard let type = request.headers.value(.contentType) else {
            if request.headers.value(.contentLength) == "0" { return nil }
            return try await request.collectBody(upTo: limit).readableBytes > 0 ? mediaTypeError("none") : nil
        }
        if type == "application/json" { return nil }  // what nearly every client sends
        let mediaType = String(type.prefix { $0 != ";" }.filter { $0 != " " && $0 != "\t" }).lowercased()
        if mediaType == "application/json" || (mediaType.hasPrefix("application/") && mediaType.hasSuffix("+json")) { return nil }
        if mediaType == "multipart/form-data" && request.uri.path == FilesRoutes.uploadPath { return nil }
        return mediaTypeError(String(mediaType.prefix(100)))
    }

    static func mediaTypeError(_ found: String) -> GatewayError {
        .unsupportedMediaType(
            "Send the body as JSON with 'Content-Type: application/json' (got \(found)).")
    }

    static let inferencePaths: Set<String> = [
        "/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/chat/completions", "/completions", "/embeddings",
        "/v1/messages", "/v1/responses", "/responses", "/v1/rerank", "/rerank", "/v1/moderations", "/moderations",
        "/v1/images/generations", "/v1/images/edits", "/v1/audio/transcriptions", "/v1/audio/translations", "/v1/audio/speech",
        "/images/generations", "/images/edits", "/audio/transcriptions", "/audio/translations", "/audio/speech",
    ]

    /// Uploads (multipart, checked by their route) and passthrough paths (forwarded as sent)
    /// take bodies that are not JSON.
    static func takesAnyMediaType(_ path: String) -> Bool {
        path.hasPrefix("/passthrough/") || uploadPaths.contains(path)
    }

    /// The upload endpoints' paths, with and without `/v1` (made once, not per request).
    static let uploadPaths: Set<String> = Set(Endpoint.allCases.filter(\.isUpload).flatMap { ["/v1" + $0.rawValue, $0.rawValue] })

    static let requestIDHeader = HTTPField.Name("x-request-id")!
    static let traceIDHeader = HTTPField.Name("x-switchyard-trace-id")!
    static let gatewayRequestIDHeader = HTTPField.Name("x-switchyard-request-id")!
    /// Paths other than inference that are their own route label.
    static let labelledPaths: Set<String> = [
        "/v1/models", "/models", "/health/live", "/health/ready", "/metrics", "/v1/messages/count_tokens", "/mcp", "/mcp/sse", "/mcp/messages",
    ]

    static func isAnthropicPath(_ path: String) -> Bool { path.hasPrefix("/v1/messages") }

    static func isInferencePath(_ path: String) -> Bool { inferencePaths.contains(path) }

    /// A bounded label for the path (unknown paths collapse into one value).
    static func routeLabel(_ path: String) -> String {
        if inferencePaths.contains(path) || labelledPaths.contains(path) { return path }
        if path.hasPrefix("/v1/models/") || path.hasPrefix("/models/") { return "/v1/models/{id}" }
        if path == "/ui" || path.hasPrefix("/ui/") { return "/ui" }
        if path.hasPrefix("/passthrough/") { return "/passthrough/{provider}" }
        return "other"
    }

    /// A well-formed inbound `x-request-id` (for end-to-end correlation); nil for none or a
    /// malformed one. It is never the gateway's id of the request: clients choose it freely.
    static func clientRequestID(from request: Request) -> String? {
        if let inbound = request.headers.value(requestIDHeader), (1...128).contains(inbound.utf8.count),
            inbound.utf8.allSatisfy({ isIDCharacter($0) })
        {
            return inbound
        }
        return nil
    }

    private static func isIDCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: ":"):
            true
        default: false
        }
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    /// A new request id: `req_`, 12 hex digits of the Unix time in milliseconds, then 80 random
    /// bits (20 hex digits). Time first, as in UUIDv7: ids sort by when requests arrived, and the
    /// ledger's primary-key indexes (SQLite and PostgreSQL) take each batch at their right edge
    /// instead of dirtying a random page per row (measured: 1.16 → 0.23 pages written per row
    /// at 100k rows). 80 random bits keep ids unguessable and unique across instances.
    static func generateRequestID(unixMillis: UInt64 = currentUnixMillis()) -> String {
        let random = IdentifierRandomness.next()
        let more = IdentifierRandomness.next()
        return String(unsafeUninitializedCapacity: 36) { buffer in
            for (index, byte) in "req_".utf8.enumerated() { buffer[index] = byte }
            var position = 4
            func put(_ word: UInt64, digits: Int) {
                for shift in stride(from: (digits - 1) * 4, through: 0, by: -4) {
                    buffer[position] = hex[Int((word >> UInt64(shift)) & 0xF)]
                    position += 1
                }
            }
            put(unixMillis & 0xFFFF_FFFF_FFFF, digits: 12)
            put(random, digits: 16)
            put(more, digits: 4)
            return position
        }
    }

    static func currentUnixMillis() -> UInt64 {
        UInt64(max(0, WallClock.unixTime() * 1000))
    }

    static func gatewayError(for error: any Error, request: Request, limit: Int) -> GatewayError {
        if let gatewayError = error as? GatewayError { return gatewayError }
        // A chunked body (no Content-Length) that outgrows the limit while it is collected.
        if error is NIOTooManyBytesError { return .bodyTooLarge(limit: limit) }
        // The body's HTTP framing was broken (a chunk size that is no hex number, a body that
        // ended before its Content-Length): the client's request is malformed.
        if error is HTTPParserError {
            return .invalidRequest(
                "The request body could not be read: its HTTP framing is malformed (chunk sizes or Content-Length).", code: .malformedBody)
        }
        if let httpError = error as? HTTPError {
            switch httpError.status.code {
            case 404:
                return .notFound(
                    "Unknown path: \(request.method.rawValue) \(request.uri.path). The gateway serves /v1/chat/completions, /v1/completions, /v1/embeddings, /v1/messages, /v1/responses, /v1/rerank, /v1/moderations and /v1/models."
                )
            case 405:
                return .methodNotAllowed("Method \(request.method.rawValue) is not allowed on \(request.uri.path).")
            case 413:
                return .bodyTooLarge(limit: limit)
            case 400..<500:
                return .framework(status: Int(httpError.status.code), message: httpError.body ?? httpError.status.reasonPhrase)
            default:
                return .framework(status: Int(httpError.status.code), message: httpError.status.reasonPhrase)
            }
        }
        if StoreFailure.describe(error) != nil {
            // The database failed or did not answer in time (`operation_timeout`): a retryable
            // 503, not an internal error; what went wrong is in the log line.
            return .unavailable(
                "The gateway's database did not answer; retry shortly.", code: .storeUnavailable, headers: [HeaderField("Retry-After", "1")])
        }
        return .internalError()
    }
}

/// Requires the master key on the routes it guards and records who the caller is.
struct AuthenticationMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext

    let runtime: RuntimeHolder
    let keys: StoreService
    let tokens: JWTIdentities
    let audit: any AuditSink
    /// At most this many refused credentials per second go to the audit trail (a flood of bad
    /// keys must not flood the trail); the rest are only counted in the log.
    let failureAudit = RateCap(perSecond: 50)

    @concurrent func handle(_ request: Request, context: Context, next: @concurrent (Request, Context) async throws -> Response) async throws -> Response {
        let authorization = request.headers.value(.authorization)
        let apiKey = request.headers.value(Self.apiKeyHeader)
        let snapshot = context.snapshot ?? runtime.snapshot
        let result: Result<Identity, GatewayError>
        if let presented = Self.virtualKey(authorization: authorization, apiKey: apiKey) {
            if let identity = keys.verifiedIdentity(presented) {
                result = .success(identity)
            } else {
                result = await keys.authenticate(presented)
            }
        } else if !snapshot.config.auth.jwt.isEmpty, let token = Self.bearer(authorization), JWTAuthenticator.looksLikeJWT(token) {
            result = await tokens.authenticate(token, issuers: snapshot.config.auth.jwt)
        } else {
            result = snapshot.authenticator.authenticate(authorization: authorization, apiKey: apiKey)
        }
        switch result {
        case .success(var identity):
            var request = request
            if request.method == .post, !RequestMiddleware.takesAnyMediaType(request.uri.path),
                let error = try await RequestMiddleware.unsupportedMediaType(&request, limit: context.maxBodyBytes)
            {
                throw error
            }
            if identity.kind == .virtualKey || identity.kind == .user { await keys.directory().apply(to: &identity) }
            if identity.kind == .anonymous {
                // An open loopback gateway answers only requests addressed to a loopback name:
                // a page whose own domain was rebound to 127.0.0.1 (DNS rebinding) sends its
                // domain in Host and is refused. `allow_unauthenticated` (a proxy in front
                // authenticates) keeps whatever Host the proxy forwards.
                if !snapshot.config.server.allowUnauthenticated, let host = request.head.authority, !Self.isLoopbackHost(host) {
                    throw GatewayError.permissionDenied(
                        "Without a master key the gateway answers only requests to localhost or a loopback address.", code: .hostNotAllowed)
                }
                identity = await keys.anonymousIdentity(jwtConfigured: !snapshot.config.auth.jwt.isEmpty)
            }
            var context = context
            context.identity = identity
            return try await next(request, context)
        case .failure(let error):
            if failureAudit.allow() {
                audit.record(
                    AuditEvent(
                        kind: .authentication, action: "authenticate", actor: "unauthenticated", outcome: "denied", reason: error.metricLabel,
                        requestID: context.requestID, details: ["path": RequestMiddleware.routeLabel(request.uri.path)]))
            }
            throw error
        }
    }

    /// Whether a Host value (`name[:port]`, `[v6]:port`) names this machine's loopback.
    static func isLoopbackHost(_ authority: String) -> Bool {
        // One pass over the bytes (this runs on every request when no master key is set).
        let bytes = authority.utf8
        var host = Substring(authority).utf8[...]
        if bytes.first == UInt8(ascii: "[") {
            host = host.dropFirst().prefix { $0 != UInt8(ascii: "]") }
        } else if let colon = host.lastIndex(of: UInt8(ascii: ":")) {
            host = host[..<colon]
        }
        func equalsIgnoringCase(_ candidate: Substring.UTF8View.SubSequence, _ expected: StaticString) -> Bool {
            guard candidate.count == expected.utf8CodeUnitCount else { return false }
            return expected.withUTF8Buffer { zip(candidate, $0).allSatisfy { $0 | 0x20 == $1 | 0x20 } }
        }
        if equalsIgnoringCase(host, "localhost") || equalsIgnoringCase(host, "::1") { return true }
        if host.count > 10, equalsIgnoringCase(host.suffix(10), ".localhost") { return true }
        return host.starts(with: "127.".utf8) && host.allSatisfy { $0 == UInt8(ascii: ".") || ($0 >= 48 && $0 <= 57) }
    }

    static let apiKeyHeader = HTTPField.Name("x-api-key")!

    /// The token of an `Authorization: Bearer` header (the scheme in any case, spaces around it), read
    /// as bytes: counting and lowercasing characters cost more than the rest of it.
    static func bearer(_ authorization: String?) -> String? {
        guard let authorization else { return nil }
        let utf8 = authorization.utf8
        var start = utf8.startIndex
        while start < utf8.endIndex, utf8[start] == UInt8(ascii: " ") { start = utf8.index(after: start) }
        var position = start
        for expected in "bearer ".utf8 {
            guard position < utf8.endIndex, utf8[position] | (expected == UInt8(ascii: " ") ? 0 : 0x20) == expected else { return nil }
            position = utf8.index(after: position)
        }
        // Something must follow the scheme (it may be spaces: an empty token).
        guard position < utf8.endIndex else { return nil }
        while position < utf8.endIndex, utf8[position] == UInt8(ascii: " ") { position = utf8.index(after: position) }
        return String(authorization[position...])
    }

    /// The presented credential when it has the virtual-key prefix.
    static func virtualKey(authorization: String?, apiKey: String?) -> String? {
        if authorization != nil {
            guard let token = bearer(authorization) else { return nil }
            return token.hasPrefix(VirtualKeyFormat.prefix) ? token : nil
        }
        if let apiKey, apiKey.hasPrefix(VirtualKeyFormat.prefix) { return apiKey }
        return nil
    }
}

extension GatewayResponse {
    /// The names of the gateway's own response headers, checked and made once: making a name
    /// (validated, lowercased, stored on the heap past 15 bytes) for every header of every
    /// answer cost more than looking it up.
    static let knownFieldNames: [String: HTTPField.Name] = Dictionary(
        uniqueKeysWithValues: [
            "content-type", "cache-control", "age", "x-accel-buffering", "x-switchyard-deployment", "x-switchyard-attempts",
            "x-switchyard-cache", "x-switchyard-guardrails", "x-switchyard-rule", "x-switchyard-fallback-from", "x-switchyard-panic-routing",
            "x-switchyard-provider", "x-switchyard-model", "x-switchyard-experiment", "x-switchyard-guardrail-route", "x-upstream-request-id",
            "x-switchyard-template", "x-switchyard-redirected-from", "x-switchyard-deprecation",
        ].compactMap { name in HTTPField.Name(name).map { (name, $0) } })

    /// Converts to a Hummingbird response; a stream is written as it is produced.
    func hummingbirdResponse() -> Response {
        var fields = HTTPFields()
        // Room for the middleware's request-id headers too.
        fields.reserveCapacity(headers.count + 3)
        for header in headers {
            if let name = Self.knownFieldNames[header.name] ?? HTTPField.Name(header.name) { fields.append(HTTPField(name: name, value: header.value)) }
        }
        let status = HTTPResponse.Status(code: status)
        switch body {
        case .buffer(let buffer):
            return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: buffer))
        case .stream(let stream):
            return Response(
                status: status,
                headers: fields,
                body: ResponseBody { writer in
                    await stream.run { buffer in try await writer.write(buffer) }
                    try await writer.finish(nil)
                }
            )
        case .bytes(let relay):
            return Response(
                status: status,
                headers: fields,
                body: ResponseBody { writer in
                    // A provider that fails midway: the connection closes without the final
                    // chunk, so the client sees a cut answer, not a complete short one.
                    guard await relay.run({ buffer in try await writer.write(buffer) }) else { throw ByteRelay.Interrupted() }
                    try await writer.finish(nil)
                }
            )
        case .chunks(let chunks):
            return Response(
                status: status,
                headers: fields,
                body: ResponseBody { writer in
                    for chunk in chunks { try await writer.write(chunk) }
                    try await writer.finish(nil)
                }
            )
        case .produced(let producer):
            return Response(
                status: status,
                headers: fields,
                body: ResponseBody { writer in
                    try await producer.run { buffer in try await writer.write(buffer) }
                    try await writer.finish(nil)
                }
            )
        }
    }
}

/// A per-second cap (for audit records of refused credentials).
final class RateCap: Sendable {
    let perSecond: Int
    private let state = Mutex<(second: Int64, count: Int)>((0, 0))

    init(perSecond: Int) { self.perSecond = perSecond }

    func allow() -> Bool {
        let second = Int64(WallClock.unixTime())
        return state.withLock { state in
            if state.second != second { state = (second, 0) }
            state.count += 1
            return state.count <= perSecond
        }
    }
}

import HTTPTypes
import Hummingbird
import NIOCore
import SwitchyardCore

/// `/passthrough/<provider>/<path>`: provider paths the configuration allows (`passthrough:`),
/// forwarded as they are. The caller authenticates with its gateway key; the key may be kept
/// off passthroughs (`allowed_endpoints` without `passthrough`); the request counts against the
/// caller's request limits and is refused while a budget of the caller is spent; it is
/// recorded in the request log and metrics under endpoint `passthrough`. The provider gets its
/// own credentials, never the client's. Paths that no route allows are 404. A route's `roles`
/// say who may use it; with access rules configured and no `roles`, only admins may (access
/// rules judge model requests and cannot judge a passthrough: fail closed).
struct PassthroughRoutes {
    let routes: GatewayRoutes

    func register(on router: some RouterMethods<GatewayRequestContext>) {
        for method in [HTTPRequest.Method.get, .post, .put, .patch, .delete] {
            router.on(RouterPath("/passthrough/:provider/**"), method: method) { request, context in
                try await forward(request: request, context: context)
            }
        }
    }

    func forward(request: Request, context: GatewayRequestContext) async throws -> Response {
        let gateway = routes.gateway
        let snapshot = context.snapshot ?? routes.runtime.snapshot
        let provider = context.parameters.get("provider") ?? ""
        let path = "/" + context.parameters.getCatchAll().joined(separator: "/")
        let method = request.method.rawValue
        guard let route = snapshot.config.passthrough.first(where: { $0.provider == provider && $0.allows(path: path) }) else {
            throw GatewayError.notFound("No passthrough route allows '\(path.prefix(200))' on provider '\(provider.prefix(64))'.")
        }
        guard route.methods.contains(method) else {
            throw GatewayError.methodNotAllowed("The passthrough route for '\(path.prefix(200))' allows \(route.methods.joined(separator: ", ")).")
        }
        let identity = context.identity ?? .anonymous
        var record = RequestRecord(requestID: context.requestID, endpoint: .passthrough, identity: identity)
        record.clientRequestID = context.clientRequestID
        record.provider = provider
        record.deployment = provider
        if let span = context.requestSpan {
            record.requestSpan = span
            record.traceID = span.identity.traceID
        }
        func refuse(_ error: GatewayError) -> GatewayError {
            record.status = error.status
            record.outcome = .error
            record.errorCode = error.metricLabel
            record.duration = gateway.clock.now - context.receivedAt
            gateway.observer.requestFinished(record)
            return error
        }
        if let endpoints = identity.allowedEndpoints, !endpoints.contains(Endpoint.passthrough.label) {
            throw refuse(
                .permissionDenied("This key may not use the passthrough endpoint.", code: .endpointNotAllowed))
        }
        if let denial = route.denial(for: identity, accessConfigured: !snapshot.access.isEmpty) {
            record.accessDenied = denial
            throw refuse(denial.error)
        }
        do {
            try await routes.chargeRequestLimits(context)
        } catch let error as GatewayError {
            record.rateLimitedBy = "requests"
            throw refuse(error)
        }
        // Passthrough answers are not priced: a spent budget refuses them, nothing is reserved.
        var acquired: BudgetLease?
        if !snapshot.config.budgets.rules.isEmpty || identity.budget != nil || !identity.inheritedBudgets.isEmpty {
            let checks = BudgetGuard.checks(
                settings: snapshot.config.budgets, identity: identity, endUser: nil, reserveUSD: 0, now: gateway.clock.unixTime)
            switch await gateway.budgets.acquire(checks, failOpen: snapshot.config.budgets.failOpen) {
            case .refused(let error, let blocked):
                record.rateLimitedBy = "budget:" + (blocked?.scope.rawValue ?? "unavailable")
                throw refuse(error)
            case .allowed(let lease):
                acquired = lease
            }
        }
        let budgetLease = acquired
        let budgets = gateway.budgets
        let background = gateway.background
        @Sendable func settle() {
            if let budgetLease { background.submit { await budgets.settle(budgetLease, costUSD: 0) } }
        }
        guard let adapter = snapshot.adapters[provider] else {
            settle()
            throw refuse(.internalError("No adapter is running for provider '\(provider)'."))
        }
        var headers: [HeaderField] = []
        for field in request.headers { headers.append(HeaderField(field.name.canonicalName, field.value)) }
        var body: UploadBody?
        if request.method != .get && request.method != .delete || request.headers.value(.contentLength).map({ $0 != "0" }) == true {
            let limit = context.maxBodyBytes
            let cursor = RequestBodyCursor(request.body.makeAsyncIterator())
            let counted = CountedBytes()
            body = UploadBody(
                contentType: request.headers.value(.contentType) ?? "application/octet-stream",
                stream: ByteStream {
                    {
                        guard let chunk = try await cursor.next() else { return nil }
                        if counted.add(chunk.readableBytes) > limit { throw GatewayError.bodyTooLarge(limit: limit) }
                        return chunk
                    }
                },
                length: request.headers.value(.contentLength).flatMap { Int($0) })
        }
        let target = path + Self.query(request.uri.query)
        let start = gateway.clock.now
        let response: UpstreamResponse
        do {
            response = try await adapter.forward(
                PassthroughRequest(
                    method: method, target: target, headers: headers, body: body,
                    deadline: .now + snapshot.config.server.requestTimeout))
        } catch {
            settle()
            throw refuse(Self.gatewayError(error, provider: provider))
        }
        var fields = HTTPFields()
        for header in response.headers where !["content-length", "transfer-encoding", "connection", "keep-alive"].contains(header.name.lowercased()) {
            if let name = HTTPField.Name(header.name) { fields.append(HTTPField(name: name, value: header.value)) }
        }
        fields[HTTPField.Name("x-switchyard-provider")!] = provider
        record.status = response.status
        record.outcome = (200..<400).contains(response.status) ? .success : .error
        if record.outcome == .error { record.errorCode = "upstream_\(response.status)" }
        let finishing = record
        let observer = gateway.observer
        let clock = gateway.clock
        let receivedAt = context.receivedAt
        return Response(
            status: HTTPResponse.Status(code: response.status),
            headers: fields,
            body: ResponseBody { writer in
                var record = finishing
                defer {
                    record.upstreamDuration = clock.now - start
                    record.duration = clock.now - receivedAt
                    settle()
                    observer.requestFinished(record)
                }
                do {
                    for try await chunk in response.body {
                        record.chunks += 1
                        try await writer.write(chunk)
                    }
                } catch {
                    record.outcome = .streamError
                    record.errorCode = Self.gatewayError(error, provider: provider).metricLabel
                    throw error
                }
                try await writer.finish(nil)
            })
    }

    static func gatewayError(_ error: any Error, provider: String) -> GatewayError {
        if let error = error as? GatewayError { return error }
        if error is CancellationError {
            return .clientClosedRequest()
        }
        return .upstreamUnavailable("The exchange with provider '\(provider)' failed.")
    }

    /// The query to forward: the client's, without a `key` parameter (Gemini's credential).
    static func query(_ query: String?) -> String {
        guard let query, !query.isEmpty else { return "" }
        let kept = query.split(separator: "&").filter { !$0.hasPrefix("key=") && $0 != "key" }
        return kept.isEmpty ? "" : "?" + kept.joined(separator: "&")
    }
}

/// Bytes counted across the chunks of one body.
final class CountedBytes: @unchecked Sendable {
    private var total = 0
    func add(_ count: Int) -> Int {
        total += count
        return total
    }
}

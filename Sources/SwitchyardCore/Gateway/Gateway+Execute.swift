import NIOCore
import Tracing

/// What must happen once an attempt that reached the client is over: the router learns the
/// outcome (health, latency, capacity) and a pending shadow comparison gets the primary's
/// answer. Runs once, from the non-streaming path or the end of the stream.
struct AttemptFeedback: Sendable {
    let router: RouterState
    let lease: DeploymentLease
    /// Seconds to the first event (streams) or the whole answer.
    let latency: Double
    let shadow: ShadowComparison?

    func finish(record: RequestRecord, text: String?) {
        switch record.outcome {
        case .success:
            router.finish(lease, outcome: .success(latency: latency, tokens: record.usage?.totalTokens ?? 0))
        case .streamError, .error:
            router.finish(lease, outcome: .failure(.serverError, retryAfter: nil))
        case .clientDisconnected:
            router.finish(lease, outcome: .cancelled)
        }
        shadow?.primaryFinished(record: record, text: text)
    }
}

extension Gateway {
    /// Runs the pipeline (before-stages, attempt loop, after-stages) and returns the response
    /// or stream to send back, shaped by the response rules (JSON schema, transforms).
    public func execute(_ prepared: Prepared) async -> GatewayResponse {
        var response = await runPipeline(prepared)
        if prepared.inbound.isInternal { return response }
        if let (rail, schema) = jsonSchemaRail(prepared) {
            var headers = prepared.plan.headers
            if let rule = prepared.plan.rule { headers.append(HeaderField("x-switchyard-rule", rule)) }
            response = await enforceJSONSchema(response, prepared: prepared, rail: rail, schema: schema, headers: headers)
        }
        if !prepared.snapshot.prompts.settings.responses.isEmpty { transformResponse(&response, prepared: prepared) }
        return response
    }

    /// System-prompt enforcement (after the input guardrails, so your own prompt is not scanned).
    func enforceSystemPrompts(_ prepared: inout Prepared) -> GatewayError? {
        guard prepared.inbound.endpoint == .chatCompletions else { return nil }
        let context = PromptRenderer.Context(identity: prepared.record.identity, headers: prepared.inbound.headers, unixTime: router.clock.unixTime)
        guard
            let body = prepared.snapshot.prompts.enforceSystemPrompts(
                body: Array(buffer: prepared.inbound.body), model: prepared.request.model,
                endpoint: prepared.inbound.dialect.routeLabel(prepared.inbound.endpoint), context: context)
        else { return nil }
        do {
            prepared.request = try OpenAIRequest(endpoint: prepared.inbound.endpoint, body: body)
            prepared.accessFeatures = nil
        } catch {
            return error
        }
        prepared.inbound.body = ByteBuffer(bytes: body)
        prepared.inbound.nativeBody = nil
        return nil
    }

    /// Response transformation (strip fields, metadata, envelope) on a complete JSON answer.
    private func transformResponse(_ response: inout GatewayResponse, prepared: Prepared) {
        guard response.status == 200, case .buffer(let buffer) = response.body else { return }
        var metadata: JSONObject = ["request_id": .string(prepared.inbound.requestID)]
        for (header, key) in [
            ("x-switchyard-provider", "provider"), ("x-switchyard-model", "model"), ("x-switchyard-deployment", "deployment"),
            ("x-switchyard-cache", "cache"), ("x-switchyard-guardrails", "guardrails"), ("x-switchyard-template", "template"),
        ] {
            if let value = response.headers.last(where: { $0.name == header })?.value { metadata[key] = .string(value) }
        }
        metadata["model_group"] = .string(prepared.plan.group.qualifiedName)
        if let body = prepared.snapshot.prompts.transformResponse(
            Array(buffer: buffer), model: prepared.request.model, identity: prepared.record.identity,
            endpoint: prepared.inbound.dialect.routeLabel(prepared.inbound.endpoint), metadata: metadata)
        {
            response.body = .buffer(ByteBuffer(bytes: body))
        }
    }

    /// The response cache's settings and key for a request (its `cache.rules` applied).
    func cachePlan(for prepared: Prepared) -> CachePlan {
        let config = prepared.snapshot.config.cache
        // Media answers (images, audio) are neither cached nor replayed.
        guard config.enabled || !config.rules.isEmpty, !prepared.inbound.endpoint.isMedia else { return CachePlan(settings: config) }
        let inbound = prepared.inbound
        let settings =
            config.rules.isEmpty
            ? config
            : config.effective(
                requestedModel: prepared.request.model, group: prepared.plan.group.name, identity: prepared.record.identity,
                endpoint: inbound.dialect.routeLabel(inbound.endpoint))
        guard settings.enabled, !inbound.cacheNoStore else { return CachePlan(settings: settings) }
        // The request's scan holds the body's bytes (every stage that rewrites one rewrites
        // both): no copy of the body for the key.
        let body = Self.same(prepared.request.scan.bytes, inbound.body) ? prepared.request.scan.bytes : Array(buffer: inbound.body)
        guard
            case .success(let key) = ResponseCache.key(
                settings: settings, request: prepared.request, canonicalBody: body, dialect: inbound.answerDialect,
                group: prepared.plan.group.qualifiedName, identity: prepared.record.identity, namespace: inbound.cacheNamespace)
        else { return CachePlan(settings: settings) }
        return CachePlan(settings: settings, key: key)
    }

    /// The cache's answer to a request (exact, then semantic), or nil on a miss.
    func cachedAnswer(_ request: inout PipelineRequest) async -> GatewayResponse? {
        let inbound = request.prepared.inbound
        let cacheSettings = request.cache.settings
        guard let key = request.cache.key, !inbound.cacheNoCache, cacheSettings.mode != .writeOnly else { return nil }
        let started = clock.now
        let span = stageSpan("switchyard.cache.lookup", inbound)
        defer {
            request.record.cacheLookup = clock.now - started
            if let span {
                span.set([("switchyard.cache.status", .string(request.record.cache ?? "miss"))])
                span.end()
            }
        }
        if let hit = try? await cache.get(key) {
            return answerFromCache(hit, record: &request.record, headers: request.headers, receivedAt: inbound.receivedAt)
        }
        // Semantic: the same conversation up to a last user message that means the same.
        guard let semantic = cacheSettings.semantic,
            let (context, text) = ResponseCache.semanticContext(
                settings: cacheSettings, semantic: semantic, key: key, canonicalBody: Array(buffer: inbound.body), endpoint: inbound.endpoint),
            let vector = await embed(text, model: semantic.model, inbound: inbound, identity: request.record.identity)
        else { return nil }
        let probe = SemanticProbe(context: context, vector: vector)
        request.cache.semanticProbe = probe
        var nearest = semanticIndex.nearest(probe, threshold: semantic.threshold)
        if nearest == nil, let store = semanticStore, let shared = try? await store.sharedSemanticEntries(context: context) {
            // Entries other instances stored for the same conversation (Redis).
            nearest = SemanticIndex.best(shared, for: probe, threshold: semantic.threshold)
        }
        guard let (match, similarity) = nearest, let hit = try? await cache.get(match) else { return nil }
        if let judge = semantic.verifyModel,
            await !verifySemanticHit(question: text, answer: hit.answerText, model: judge, inbound: inbound, identity: request.record.identity)
        {
            request.record.cacheSimilarity = similarity
            request.record.cacheVerificationRejected = true
            return nil
        }
        request.record.cacheSimilarity = similarity
        return answerFromCache(hit, record: &request.record, headers: request.headers, receivedAt: inbound.receivedAt, semantic: similarity)
    }

    /// Answers from a cache entry: recorded as a success with the stored usage and no cost.
    func answerFromCache(
        _ hit: CachedResponse, record: inout RequestRecord, headers: [HeaderField], receivedAt: ContinuousClock.Instant, semantic: Double? = nil
    ) -> GatewayResponse {
        record.cache = semantic == nil ? "hit" : "semantic-hit"
        record.status = 200
        record.outcome = .success
        record.usage = hit.usage
        record.price = nil
        record.cacheSavedCost = hit.savedCost
        record.servedModel = hit.model
        record.provider = "cache"
        record.duration = clock.now - receivedAt
        if hit.stream { record.timeToFirstToken = record.duration }
        if let limit = record.logBodyLimit { record.responseBody = RequestLogEntry.redact(Array(hit.answerText.utf8), limit: limit) }
        var headers = headers
        if let similarity = semantic {
            headers.append(HeaderField("x-switchyard-cache", "semantic-hit; similarity=\(Double(Int((similarity * 1000).rounded())) / 1000)"))
        } else {
            headers.append(HeaderField("x-switchyard-cache", "hit"))
        }
        headers.append(HeaderField("age", String(max(0, Int(WallClock.unixTime() - hit.createdAt)))))
        if hit.stream {
            headers.append(HeaderField("content-type", "text/event-stream"))
            headers.append(HeaderField("cache-control", "no-cache"))
            return GatewayResponse(status: 200, headers: headers, body: .chunks(hit.events.map { ByteBuffer(bytes: $0) }))
        }
        headers.append(HeaderField("content-type", "application/json"))
        return GatewayResponse(status: 200, headers: headers, body: .buffer(ByteBuffer(bytes: hit.body)))
    }

    /// The embedding of `text` from the semantic cache's model, asked through this gateway (so
    /// routing, limits and usage apply as to any request of the caller); nil when it fails.
    func embed(_ text: String, model: String, inbound: Inbound, identity: Identity) async -> [Float]? {
        let body: JSONValue = ["model": .string(model), "input": .string(text)]
        var request = Inbound(
            endpoint: .embeddings, body: ByteBuffer(bytes: body.serializedBytes()), identity: identity, requestID: inbound.requestID + "-embedding")
        request.isInternal = true
        let response = await handle(request)
        guard response.status == 200, case .buffer(let buffer) = response.body,
            let values = (try? JSONValue.parse(Array(buffer: buffer)))?["data"]?.arrayValue?.first?["embedding"]?.arrayValue
        else { return nil }
        let vector = values.compactMap { $0.doubleValue.map(Float.init) }
        return vector.count == values.count && !vector.isEmpty ? vector : nil
    }

    static let verifierInstructions = """
        You check answers taken from a cache. Reply YES if the cached answer fully and correctly answers the new \
        question as asked (same subject, same details, same constraints); otherwise reply NO. Reply with one word.
        """

    /// Asks the verification model whether a semantically close cached answer fits the new
    /// question; false when it says anything but YES or cannot be asked.
    func verifySemanticHit(question: String, answer: String, model: String, inbound: Inbound, identity: Identity) async -> Bool {
        let body: JSONValue = [
            "model": .string(model), "temperature": 0, "max_tokens": 3,
            "messages": [
                ["role": "system", "content": .string(Self.verifierInstructions)],
                ["role": "user", "content": .string("New question:\n<<<\n\(question)\n>>>\nCached answer:\n<<<\n\(answer.prefix(8000))\n>>>")],
            ],
        ]
        var request = Inbound(
            endpoint: .chatCompletions, body: ByteBuffer(bytes: body.serializedBytes()), identity: identity,
            requestID: inbound.requestID + "-cache-verify")
        request.isInternal = true
        request.cacheNoStore = true
        let response = await handle(request)
        guard response.status == 200, case .buffer(let buffer) = response.body,
            let reply = (try? JSONValue.parse(Array(buffer: buffer)))?["choices"]?.arrayValue?.first?["message"]?["content"]?.stringValue
        else { return false }
        return reply.uppercased().split(whereSeparator: { !$0.isLetter }).first == "YES"
    }

    /// Loads the semantic index from its store (at start, with `cache.backend: sqlite`).
    public func restoreSemanticIndex() async {
        guard let store = semanticStore, let semantic = runtime.snapshot.config.cache.semantic else { return }
        guard let entries = try? await store.loadSemanticEntries(limit: semantic.maxEntries) else { return }
        for (probe, key) in entries { semanticIndex.add(probe, key: key, maxEntries: semantic.maxEntries) }
    }

    /// Stores a complete answer (never a failed or partial one) when it fits.
    func storeInCache(
        _ key: CacheKey?, stream: Bool, body: [UInt8], record: RequestRecord, settings: CacheSettings, semantic: SemanticProbe? = nil
    ) {
        guard let key, record.outcome == .success, body.count <= settings.maxEntryBytes, settings.mode != .readOnly else { return }
        if let semantic, let limit = settings.semantic?.maxEntries {
            semanticIndex.add(semantic, key: key, maxEntries: limit)
            let ttl = settings.ttl
            if let store = semanticStore { background.submit { try? await store.saveSemanticEntry(semantic, key: key, maxEntries: limit, ttl: ttl) } }
        }
        let entry = CachedResponse(
            stream: stream, body: body, usage: record.usage, savedCost: record.usage.flatMap { usage in record.price?.cost(of: usage) },
            model: record.servedModel, createdAt: WallClock.unixTime())
        let cache = self.cache
        let ttl = settings.ttl
        background.submit { try? await cache.set(key, entry, ttl: ttl) }
    }

    /// The wait the provider asked for; a default the gateway adds for clients does not count.
    static func retryAfter(_ error: GatewayError) -> Duration? {
        error.upstreamRetryAfter
    }

    /// Exponential backoff with equal jitter: half the step plus a random half.
    static func backoff(retry: Int, policy: RetryPolicy, random: Double) -> Duration {
        let base = durationSeconds(policy.backoff) * Double(1 << min(retry - 1, 16))
        let step = min(base, durationSeconds(policy.maxBackoff))
        return .milliseconds(Int64((step / 2 + step / 2 * random) * 1000))
    }

    /// The time an attempt may take until it is committed to the client (the whole answer,
    /// or a stream's first event), bounded by the overall deadline.
    static func attemptTimeout(group: ModelGroup, stream: Bool, deadline: ContinuousClock.Instant) -> (Duration, code: GatewayError.Code)? {
        var limit: (Duration, code: GatewayError.Code)? = group.timeout.map { ($0, .attemptTimeout) }
        if stream, let firstToken = group.firstTokenTimeout, limit == nil || firstToken < limit!.0 {
            limit = (firstToken, .firstTokenTimeout)
        }
        return limit
    }

    static func withAttemptTimeout(
        _ limit: (Duration, code: GatewayError.Code)?, provider: String, _ operation: @escaping @Sendable () async throws -> GatewayResponse
    ) async throws -> GatewayResponse {
        guard let (timeout, code) = limit else { return try await operation() }
        return try await withThrowingTaskGroup(of: GatewayResponse?.self) { group in
            group.addTask { try await operation() }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            if let first = try await group.next(), let response = first { return response }
            group.cancelAll()
            // The attempt may have completed at the same moment: its answer wins over the timeout.
            if let late = try? await group.next(), let response = late { return response }
            let what = code == .firstTokenTimeout ? "send a first token" : "answer"
            throw GatewayError.upstreamTimeout("Provider '\(provider)' did not \(what) within \(timeout.formattedForMessages).", code: code)
        }
    }
}

extension Duration {
    /// `250ms`, `1.5s`.
    var formattedForMessages: String {
        let value = durationSeconds(self)
        return value < 1 ? "\(Int((value * 1000).rounded()))ms" : "\(value)s"
    }
}

/// One upstream attempt: build the body for the chosen deployment, send it, and either
/// return the client's response (complete, or a stream whose first event is ready) or throw
/// the error that decides about retries and fallbacks.
struct Attempt: Sendable {
    let gateway: Gateway
    /// The request as the before-stages left it, with this attempt's record and headers.
    let request: PipelineRequest
    let lease: DeploymentLease
    let group: ModelGroup
    let deadline: ContinuousClock.Instant
    let shadow: ShadowComparison?
    /// Ends the request (after-stages, observers) once the answer or the stream is over.
    let completion: RequestCompletion

    func run() async throws -> GatewayResponse {
        var pipeline = self.request
        let prepared = pipeline.prepared
        var record = pipeline.record
        let clock = gateway.clock
        let inbound = prepared.inbound
        let request = prepared.request
        let snapshot = prepared.snapshot
        let deployment = lease.deployment
        let provider = deployment.provider
        guard let adapter = snapshot.adapters[provider] else {
            throw GatewayError.internalError("No adapter is running for provider '\(provider)'.")
        }
        // Same dialect on both sides: forward the client's bytes, only the model renamed.
        let passthrough = inbound.dialect != .openAI && adapter.nativeDialect == inbound.dialect && inbound.nativeBody != nil
        var upstreamBody = request.upstreamBody(upstreamModel: deployment.upstreamModel)
        if passthrough, let native = inbound.nativeBody, let scan = try? JSONObjectScan(Array(buffer: native)) {
            upstreamBody = scan.rewriting([("model", JSONWriter.quoted(deployment.upstreamModel))])
        } else if adapter.forwardsCanonicalBody && !inbound.endpoint.isMedia {
            upstreamBody = CanonicalChat.strippingReasoning(upstreamBody, dropThinking: inbound.dialect == .anthropic)
        }
        var upstreamRequest = UpstreamRequest(
            endpoint: inbound.endpoint,
            body: ByteBuffer(bytes: upstreamBody),
            stream: request.stream,
            model: deployment.upstreamModel,
            requestID: inbound.requestID,
            deadline: deadline,
            propagatedHeaders: inbound.propagatedHeaders
        )
        if let span = record.attemptSpan, let tracer = gateway.tracer {
            if snapshot.config.tracing.propagate {
                // The provider sees this attempt as its parent, in the client's trace.
                tracer.inject(span.context, into: &upstreamRequest.propagatedHeaders, using: HeaderFieldsInjector())
            } else {
                upstreamRequest.propagatedHeaders.removeAll { ["traceparent", "tracestate"].contains($0.name.lowercased()) }
            }
        }
        if let header = snapshot.requestIDHeaders[provider] {
            upstreamRequest.propagatedHeaders.append(HeaderField(header, inbound.requestID))
        }
        if passthrough { upstreamRequest.bodyDialect = inbound.dialect }
        if let upload = inbound.upload {
            try checkUploadFields(upload, request: request)
            upstreamRequest.upload = try upload.body(model: deployment.upstreamModel)
        }
        let upstreamStart = clock.now
        let response: UpstreamResponse
        do {
            response = try await adapter.send(upstreamRequest)
        } catch {
            throw Gateway.gatewayError(from: error)
        }
        var headers = pipeline.headers
        headers.append(HeaderField("x-switchyard-provider", provider))
        headers.append(HeaderField("x-switchyard-model", deployment.upstreamModel))
        if let upstreamID = response.header("x-request-id") {
            headers.append(HeaderField("x-upstream-request-id", upstreamID))
        }

        guard (200..<300).contains(response.status) else {
            let body = (try? await response.body.collect(upTo: 1024 * 1024)) ?? ByteBuffer()
            throw UpstreamErrorMapper.map(
                status: response.status,
                body: Array(buffer: body),
                headers: response.headers,
                provider: provider,
                scrubber: snapshot.scrubber
            )
        }

        if inbound.endpoint.isMedia {
            return try await mediaAnswer(response, pipeline: pipeline, record: record, headers: headers, upstreamStart: upstreamStart)
        }

        if !request.stream {
            let body: ByteBuffer
            do {
                body = try await response.body.collect(upTo: gateway.maximumUpstreamBodyBytes)
            } catch {
                throw Gateway.gatewayError(from: error)
            }
            guard var scan = try? JSONObjectScan(Array(buffer: body)) else {
                throw GatewayError.upstreamUnavailable(
                    "Provider '\(provider)' returned a response that is not a JSON object.",
                    code: .upstreamInvalidResponse
                )
            }
            record.usage = TokenUsage(openAIResponse: scan)
            if record.usage == nil, !passthrough, inbound.endpoint != .embeddings {
                // The provider reported no usage: the gateway counts prompt and answer itself.
                let answer = ShadowComparison.answerText(scan, anthropic: false)
                record.usage = TokenUsage(
                    promptTokens: pipeline.lazyPromptTokens(), completionTokens: PromptTokens.count(answer, model: deployment.upstreamModel))
                record.usageSource = .gateway
            }
            var clientBody = body
            if let guardOutput = prepared.guardOutput, !passthrough, !guardOutput.passes(scan, endpoint: inbound.endpoint),
                var value = try? JSONValue.parse(scan.bytes)
            {
                let decisions = await guardOutput.apply(to: &value, endpoint: inbound.endpoint)
                record.guardrails.append(contentsOf: decisions)
                if !decisions.isEmpty {
                    headers.append(HeaderField("x-switchyard-guardrails", decisions.map(\.summary).joined(separator: ", ")))
                }
                // Nothing found and no placeholder to restore: the provider's bytes stand.
                if !decisions.isEmpty || !guardOutput.pseudonyms.isEmpty {
                    let bytes = value.serializedBytes()
                    if let rescanned = try? JSONObjectScan(bytes) { scan = rescanned }
                    clientBody = ByteBuffer(bytes: bytes)
                }
            }
            if passthrough {
                record.usage = OpenAIStreamRelay.anthropicUsage(scan.value("usage"), previous: nil)
            } else if inbound.dialect == .anthropic {
                let message = try AnthropicResponseTranslator.message(fromOpenAI: scan, requestID: inbound.requestID)
                clientBody = ByteBuffer(bytes: message.serializedBytes())
            } else if inbound.answerDialect == .responses {
                let response = try ResponsesResponseTranslator.response(
                    fromOpenAI: scan.bytes,
                    envelope: inbound.responsesEnvelope
                        ?? ResponsesEnvelope(requestID: inbound.requestID, request: nil, createdAt: Int(WallClock.unixTime())))
                clientBody = ByteBuffer(bytes: response.serializedBytes())
            }
            record.status = 200
            record.upstreamDuration = clock.now - upstreamStart
            record.duration = clock.now - inbound.receivedAt
            let attemptFeedback = AttemptFeedback(
                router: gateway.router, lease: lease, latency: durationSeconds(clock.now - upstreamStart), shadow: shadow)
            attemptFeedback.finish(record: record, text: shadow == nil ? nil : ShadowComparison.answerText(scan, anthropic: passthrough))
            if let limit = record.logBodyLimit { record.responseBody = RequestLogEntry.redact(Array(buffer: clientBody), limit: limit) }
            completion.finish(record, responseBody: pipeline.cache.key == nil ? nil : Array(buffer: clientBody))
            headers.append(HeaderField("content-type", "application/json"))
            return GatewayResponse(status: 200, headers: headers, body: .buffer(clientBody))
        }

        // Streaming: hold the response until the first event is ready, so that a provider that
        // fails before producing anything still gets a proper HTTP error (and can be retried).
        var relay = OpenAIStreamRelay(forwardUsageChunk: request.clientWantsUsage, provider: provider)
        relay.captureText = shadow != nil || record.logBodyLimit != nil
        relay.scrubber = snapshot.scrubber
        if let guardOutput = prepared.guardOutput, !passthrough {
            relay.textGuard = StreamTextGuard(output: guardOutput)
        }
        if passthrough {
            relay.anthropicPassthrough = true
        } else if inbound.dialect == .anthropic {
            relay.encoder = .anthropic(AnthropicStreamEncoder(requestID: inbound.requestID))
        } else if inbound.answerDialect == .responses {
            relay.encoder = .responses(
                ResponsesStreamEncoder(
                    envelope: inbound.responsesEnvelope
                        ?? ResponsesEnvelope(requestID: inbound.requestID, request: nil, createdAt: Int(WallClock.unixTime()))))
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
            throw Gateway.streamFailure(error, provider: provider)
        }
        if pending.readableBytes == 0 {
            throw relay.upstreamError
                ?? .upstreamUnavailable("Provider '\(provider)' ended the stream without sending any event.", code: .upstreamEmptyStream)
        }
        record.timeToFirstToken = clock.now - inbound.receivedAt
        headers.append(HeaderField("content-type", "text/event-stream"))
        headers.append(HeaderField("cache-control", "no-cache"))
        headers.append(HeaderField("x-accel-buffering", "no"))
        // The stream is committed: from here a client that leaves is billed for the prompt and
        // what was forwarded, even if the HTTP layer never runs the stream.
        // Counted only if it comes to that: a stream that ends normally never tokenizes here.
        let promptTokens = pipeline.lazyPromptTokens
        let firstEvents = relay
        let countingModel = deployment.upstreamModel
        completion.setAbandonedRecord(record) {
            TokenUsage(promptTokens: promptTokens(), completionTokens: firstEvents.streamedCompletionTokens(model: countingModel))
        }
        let stream = GatewayStream(
            relay: relay,
            iterator: iterator,
            pending: FirstEvents(pending),
            upstreamEnded: upstreamEnded,
            record: record,
            receivedAt: inbound.receivedAt,
            upstreamStart: upstreamStart,
            provider: provider,
            countingModel: deployment.upstreamModel,
            clock: clock,
            completion: completion,
            attemptFeedback: AttemptFeedback(
                router: gateway.router, lease: lease, latency: durationSeconds(clock.now - upstreamStart), shadow: shadow),
            cacheLimit: pipeline.cache.key == nil ? nil : pipeline.cache.settings.maxEntryBytes,
            promptTokens: promptTokens
        )
        return GatewayResponse(status: 200, headers: headers, body: .stream(stream))
    }
}

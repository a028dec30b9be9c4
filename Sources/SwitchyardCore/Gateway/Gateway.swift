import Instrumentation
import NIOCore
import Tracing

/// The gateway pipeline for OpenAI-dialect requests, free of any HTTP framework.
///
/// `prepare` validates the body once and plans the route (rules, versions, experiments);
/// `execute` runs the attempt loop: the router picks a deployment, the request is sent with
/// only `model` and `stream_options` rewritten, and failures before the first byte are
/// retried or fall back by error class. After the first byte a failure ends the stream with
/// an error event. Every request produces exactly one ``RequestRecord`` for the observer.
public struct Gateway: Sendable {
    /// The gateway's services, behind one reference: the pipeline, each stage, the attempt loop
    /// and each attempt copy the gateway, and a copy is one retain instead of a dozen.
    final class Services: Sendable {
        let runtime: RuntimeHolder
        let observer: any RequestObserver
        let background: BackgroundWork
        let router: RouterState
        let limiter: RateLimiter
        let budgets: BudgetGuard
        let cache: any CacheBackend
        let semanticIndex: SemanticIndex
        let semanticStore: (any SemanticStore)?
        let classifierVerdicts: ClassifierVerdicts
        let maximumUpstreamBodyBytes: Int
        let guardrailWebhook: (any WebhookClient)?
        let tracer: SwitchyardTracer?

        init(
            runtime: RuntimeHolder, observer: any RequestObserver, background: BackgroundWork, router: RouterState, limiter: RateLimiter,
            budgets: BudgetGuard, cache: any CacheBackend, semanticIndex: SemanticIndex, semanticStore: (any SemanticStore)?,
            classifierVerdicts: ClassifierVerdicts, maximumUpstreamBodyBytes: Int, guardrailWebhook: (any WebhookClient)?, tracer: SwitchyardTracer?
        ) {
            self.runtime = runtime
            self.observer = observer
            self.background = background
            self.router = router
            self.limiter = limiter
            self.budgets = budgets
            self.cache = cache
            self.semanticIndex = semanticIndex
            self.semanticStore = semanticStore
            self.classifierVerdicts = classifierVerdicts
            self.maximumUpstreamBodyBytes = maximumUpstreamBodyBytes
            self.guardrailWebhook = guardrailWebhook
            self.tracer = tracer
        }

        /// The same services with some settings changed (set up before the gateway serves).
        func with(
            semanticStore: (any SemanticStore)?? = nil, maximumUpstreamBodyBytes: Int? = nil, guardrailWebhook: (any WebhookClient)?? = nil,
            tracer: SwitchyardTracer?? = nil
        ) -> Services {
            Services(
                runtime: runtime, observer: observer, background: background, router: router, limiter: limiter, budgets: budgets, cache: cache,
                semanticIndex: semanticIndex, semanticStore: semanticStore ?? self.semanticStore,
                classifierVerdicts: classifierVerdicts, maximumUpstreamBodyBytes: maximumUpstreamBodyBytes ?? self.maximumUpstreamBodyBytes,
                guardrailWebhook: guardrailWebhook ?? self.guardrailWebhook, tracer: tracer ?? self.tracer)
        }
    }

    private var services: Services

    public var runtime: RuntimeHolder { services.runtime }
    /// Receives every finished request's record (metrics, logs, ledger, audit, traces).
    public var observer: any RequestObserver { services.observer }
    /// Work done for requests after they were answered (settlement, cache writes, shadows);
    /// drained at shutdown, awaited by tests with `flush()`.
    public var background: BackgroundWork { services.background }
    /// Live routing state (breakers, latency, capacity, retry budget); outlives reloads.
    public var router: RouterState { services.router }
    /// Rate limits (memory or Redis counters); rules come from each snapshot.
    public var limiter: RateLimiter { services.limiter }
    /// Budgets (memory or Redis counters); rules come from each snapshot and the caller.
    public var budgets: BudgetGuard { services.budgets }
    /// The exact response cache's entries (used when `cache.enabled`).
    public var cache: any CacheBackend { services.cache }
    /// Embeddings of cached prompts (`cache.semantic`).
    public var semanticIndex: SemanticIndex { services.semanticIndex }
    /// Where semantic-cache entries are kept across restarts (`cache.backend: sqlite`).
    public var semanticStore: (any SemanticStore)? {
        get { services.semanticStore }
        set { services = services.with(semanticStore: .some(newValue)) }
    }
    /// Verdicts of injection classifiers, by text.
    public var classifierVerdicts: ClassifierVerdicts { services.classifierVerdicts }
    /// Largest non-streaming upstream body accepted.
    public var maximumUpstreamBodyBytes: Int {
        get { services.maximumUpstreamBodyBytes }
        set { services = services.with(maximumUpstreamBodyBytes: newValue) }
    }
    /// Posts to webhook guardrails (the server's HTTP client); without one they fail by `on_error`.
    public var guardrailWebhook: (any WebhookClient)? {
        get { services.guardrailWebhook }
        set { services = services.with(guardrailWebhook: .some(newValue)) }
    }
    /// Starts stage and upstream-attempt spans under a request's server span (`tracing:`).
    public var tracer: SwitchyardTracer? {
        get { services.tracer }
        set { services = services.with(tracer: .some(newValue)) }
    }

    /// A child span of the request's server span, when the request is traced and sampled.
    func stageSpan(_ name: String, _ inbound: Inbound, kind: SpanKind = .internal) -> RecordedSpan? {
        guard let tracer, let context = inbound.traceContext, context.spanIdentity?.sampled == true else { return nil }
        return tracer.startSpan(name, context: context, ofKind: kind)
    }

    /// The one clock of the request path (the router's; a manual one in tests).
    public var clock: any RouterClock { router.clock }

    public init(
        runtime: RuntimeHolder, observer: any RequestObserver, router: RouterState? = nil, limiter: RateLimiter? = nil,
        budgets: BudgetGuard? = nil, cache: (any CacheBackend)? = nil, background: BackgroundWork? = nil
    ) {
        services = Services(
            runtime: runtime, observer: observer, background: background ?? BackgroundWork(),
            router: router ?? RouterState(settings: runtime.snapshot.config.router),
            limiter: limiter ?? RateLimiter(backend: MemoryRateLimitBackend()),
            budgets: budgets ?? BudgetGuard(backend: MemoryBudgetBackend(), alerts: LoggingBudgetAlerts(logger: nil)),
            cache: cache ?? MemoryCacheBackend(maxBytes: runtime.snapshot.config.cache.maxBytes), semanticIndex: SemanticIndex(), semanticStore: nil,
            classifierVerdicts: ClassifierVerdicts(capacity: 10_000), maximumUpstreamBodyBytes: 256 * 1024 * 1024, guardrailWebhook: nil, tracer: nil)
    }

    /// One inbound request, already authenticated and read.
    ///
    /// Copy-on-write like ``Prepared``: the pipeline, the attempt loop and each attempt copy it,
    /// and a copy is one retain instead of two dozen fields.
    @dynamicMemberLookup
    public struct Inbound: Sendable {
        public struct Fields: Sendable {
            public var endpoint: Endpoint
            public var body: ByteBuffer
            public var identity: Identity
            /// The gateway's own id of the request.
            public var requestID: String
            /// The `x-request-id` the client sent (recorded beside the gateway's id, never as it).
            public var clientRequestID: String?
            public var receivedAt: ContinuousClock.Instant
            public var propagatedHeaders: [HeaderField]
            /// The dialect to answer in; the body is always in canonical (OpenAI) form.
            public var dialect: ClientDialect
            /// The body as the client sent it, when its dialect is not the canonical one; forwarded
            /// as is to providers that speak that dialect natively.
            public var nativeBody: ByteBuffer?
            /// The request's headers, when routing rules or experiments look at them.
            public var headers: [HeaderField]
            /// What the client's dialect carried that the canonical body does not (see
            /// ``TranslatedRequest/untranslated``): guardrails and access rules take it into account.
            public var untranslatedContent: [UntranslatedContent] = []
            /// `Cache-Control: no-cache` (do not read the cache) and `no-store` (neither read nor write).
            public var cacheNoCache = false
            public var cacheNoStore = false
            /// `x-switchyard-cache-namespace`: a separate cache space within the caller's partition.
            public var cacheNamespace = ""
            /// A request the gateway makes for itself (a classifier verdict, a semantic-cache
            /// embedding): guardrails and prompt rules do not apply to it.
            public var isInternal = false
            /// The server span's context (tracing on): stage and attempt spans are its children.
            public var traceContext: InstrumentationContext?
            public var requestSpan: RecordedSpan?

            /// What the deployment's price is multiplied by (a batch line's discount).
            public var priceFactor: Double = 1

            /// Responses API clients: the response's id and the request settings it repeats.
            public var responsesEnvelope: ResponsesEnvelope?
            /// Answer in the canonical (Chat Completions) form whatever `dialect` says: a round of the
            /// MCP tool loop, whose answer the gateway reads before the client sees anything. The
            /// dialect still names the endpoint for keys, access rules, metrics and the log.
            public var canonicalAnswer = false
            /// A multipart upload (``Endpoint/isUpload``): `body` then holds only the form fields
            /// the gateway read, as JSON, for validation, routing and the checks.
            public var upload: MediaUpload?
        }

        @usableFromInline
        final class Storage: @unchecked Sendable {
            // Changed only through `_modify` below, after making sure no other copy shares it.
            @usableFromInline var fields: Fields
            @usableFromInline init(_ fields: Fields) { self.fields = fields }
        }

        @usableFromInline var storage: Storage

        public init(
            endpoint: Endpoint,
            body: ByteBuffer,
            identity: Identity,
            requestID: String,
            receivedAt: ContinuousClock.Instant = .now,
            propagatedHeaders: [HeaderField] = [],
            dialect: ClientDialect = .openAI,
            nativeBody: ByteBuffer? = nil,
            headers: [HeaderField] = []
        ) {
            storage = Storage(
                Fields(
                    endpoint: endpoint, body: body, identity: identity, requestID: requestID, receivedAt: receivedAt,
                    propagatedHeaders: propagatedHeaders, dialect: dialect, nativeBody: nativeBody, headers: headers))
        }

        @inlinable
        public subscript<Value>(dynamicMember keyPath: KeyPath<Fields, Value>) -> Value {
            storage.fields[keyPath: keyPath]
        }

        @inlinable
        public subscript<Value>(dynamicMember keyPath: WritableKeyPath<Fields, Value>) -> Value {
            get { storage.fields[keyPath: keyPath] }
            _modify {
                if !isKnownUniquelyReferenced(&storage) { storage = Storage(storage.fields) }
                yield &storage.fields[keyPath: keyPath]
            }
        }

        /// The form of the answer: the dialect's, or the canonical one.
        public var answerDialect: ClientDialect { storage.fields.canonicalAnswer ? .openAI : storage.fields.dialect }
    }

    /// A validated, planned request, ready for the attempt loop.
    ///
    /// Copy-on-write like ``RequestRecord``: the stages, the attempt loop and each attempt
    /// hold it by value, and a copy is one retain instead of ~60 fields.
    @dynamicMemberLookup
    public struct Prepared: Sendable {
        public struct Fields: Sendable {
            public internal(set) var inbound: Inbound
            public internal(set) var request: OpenAIRequest
            public internal(set) var plan: RoutePlan
            public let snapshot: RuntimeSnapshot
            var record: RequestRecord
            /// Output guardrails and placeholders to restore, set by the input guardrails.
            var guardOutput: GuardrailOutput?
            /// The prompt's features when the access rules needed them and routing did not (the
            /// router reads only the plan's), for the limit and budget stages; cleared when a
            /// stage rewrites the request.
            var accessFeatures: PromptFeatures?
        }

        @usableFromInline
        final class Storage: @unchecked Sendable {
            // Changed only through `_modify` below, after making sure no other copy shares it.
            @usableFromInline var fields: Fields
            init(_ fields: Fields) { self.fields = fields }
        }

        @usableFromInline var storage: Storage

        init(inbound: Inbound, request: OpenAIRequest, plan: RoutePlan, snapshot: RuntimeSnapshot, record: RequestRecord) {
            storage = Storage(Fields(inbound: inbound, request: request, plan: plan, snapshot: snapshot, record: record))
        }

        @inlinable
        public subscript<Value>(dynamicMember keyPath: KeyPath<Fields, Value>) -> Value {
            storage.fields[keyPath: keyPath]
        }

        subscript<Value>(dynamicMember keyPath: WritableKeyPath<Fields, Value>) -> Value {
            get { storage.fields[keyPath: keyPath] }
            _modify {
                if !isKnownUniquelyReferenced(&storage) { storage = Storage(storage.fields) }
                yield &storage.fields[keyPath: keyPath]
            }
        }

        /// Whether the client asked for a stream.
        public var isStream: Bool { storage.fields.request.stream }
    }

    /// The outcome of ``prepare(_:snapshot:)``.
    public enum Preparation: Sendable {
        case ready(Prepared)
        /// The request was refused (bad input, unknown model); send this response.
        case answered(GatewayResponse)
    }

    /// Validates and plans a request (no I/O). On failure the error response is returned and
    /// the request is already recorded.
    public func prepare(_ inbound: Inbound, snapshot: RuntimeSnapshot? = nil) -> Preparation {
        var record = RequestRecord(requestID: inbound.requestID, endpoint: inbound.endpoint, identity: inbound.identity)
        record.clientRequestID = inbound.clientRequestID
        record.dialect = inbound.dialect
        if let span = inbound.requestSpan {
            record.requestSpan = span
            record.traceID = span.identity.traceID
        }
        do throws(GatewayError) {
            return .ready(try plan(inbound, snapshot: snapshot ?? runtime.snapshot, record: &record))
        } catch {
            return .answered(fail(error, record: &record, receivedAt: inbound.receivedAt))
        }
    }

    /// Validates and plans a request as ``prepare(_:snapshot:)`` does (the caller's model list,
    /// endpoints and access rules included) without recording a refusal: how a batch finds out
    /// where its lines would go before deciding who runs them.
    public func check(_ inbound: Inbound, snapshot: RuntimeSnapshot? = nil) -> Result<Prepared, GatewayError> {
        var record = RequestRecord(requestID: inbound.requestID, endpoint: inbound.endpoint, identity: inbound.identity)
        do throws(GatewayError) {
            return .success(try plan(inbound, snapshot: snapshot ?? runtime.snapshot, record: &record))
        } catch {
            return .failure(error)
        }
    }

    private func plan(_ inbound: Inbound, snapshot: RuntimeSnapshot, record: inout RequestRecord) throws(GatewayError) -> Prepared {
        var inbound = inbound
        do {
            var templateHeader: HeaderField?
            if !snapshot.prompts.isEmpty && !inbound.isInternal {
                let context = PromptRenderer.Context(identity: inbound.identity, headers: inbound.headers, unixTime: router.clock.unixTime)
                if let (body, template) = try snapshot.prompts.expandTemplate(
                    body: Array(buffer: inbound.body), endpoint: inbound.endpoint, context: context)
                {
                    inbound.body = ByteBuffer(bytes: body)
                    inbound.nativeBody = nil
                    templateHeader = HeaderField("x-switchyard-template", template)
                }
            }
            let request = try OpenAIRequest(endpoint: inbound.endpoint, body: Array(buffer: inbound.body))
            if !snapshot.prompts.settings.validation.isEmpty && !inbound.isInternal {
                try snapshot.prompts.validate(
                    request, identity: record.identity, endpoint: inbound.dialect.routeLabel(inbound.endpoint),
                    features: { PromptFeatures(request: request) })
            }
            record.requestedModel = request.model
            record.stream = request.stream
            if let user = request.user { record.identity.endUser = user }
            if let endpoints = record.identity.allowedEndpoints, !endpoints.contains(inbound.dialect.routeLabel(inbound.endpoint)) {
                throw GatewayError.permissionDenied(
                    "This key may not use the \(inbound.dialect.routeLabel(inbound.endpoint)) endpoint.", code: .endpointNotAllowed)
            }
            let router = self.router
            let identity = record.identity
            var plan = try snapshot.planner.plan(
                request, identity: identity, headers: inbound.headers, unixTime: router.clock.unixTime, random: { router.random() },
                visible: { snapshot.mayUse($0, identity: identity, unixTime: router.clock.unixTime) })
            if let allowed = record.identity.allowedModels,
                !allowed.contains(plan.requestedModel) && !allowed.contains(plan.group.name) && !allowed.contains(plan.group.qualifiedName)
            {
                throw GatewayError.permissionDenied(
                    "This key may not use model '\(plan.requestedModel)'. Allowed: \(allowed.joined(separator: ", ")).",
                    code: .modelNotAllowed, param: "model")
            }
            var accessFeatures: PromptFeatures?
            if !snapshot.access.isEmpty {
                var features = plan.features
                if features == nil && snapshot.access.needsFeatures {
                    features = PromptFeatures(request: request)
                    accessFeatures = features
                }
                // An Anthropic tool result's images are forwarded (pass-through) though the
                // canonical body leaves them out: `has_images` sees them.
                if inbound.untranslatedContent.contains(where: { $0.kind == "image" }) { features?.hasImages = true }
                if let denial = snapshot.access.check(
                    request: request, identity: record.identity, endpoint: inbound.dialect.routeLabel(inbound.endpoint), group: plan.group,
                    headers: inbound.headers, features: features, unixTime: router.clock.unixTime)
                {
                    record.accessDenied = denial
                    throw denial.error
                }
            }
            record.rule = plan.rule
            record.experiment = plan.experiment
            record.arm = plan.arm
            record.modelGroup = plan.group.qualifiedName
            if let templateHeader { plan.headers.append(templateHeader) }
            var prepared = Prepared(inbound: inbound, request: request, plan: plan, snapshot: snapshot, record: record)
            // Kept for the stages (limits, budgets): counting the prompt's tokens again there
            // cost as much as here.
            prepared.accessFeatures = accessFeatures
            return prepared
        }
    }

    /// Validates, plans and forwards in one call.
    public func handle(_ inbound: Inbound, snapshot: RuntimeSnapshot? = nil) async -> GatewayResponse {
        switch prepare(inbound, snapshot: snapshot) {
        case .ready(let prepared): await execute(prepared)
        case .answered(let response): response
        }
    }

    /// Refuses a request that no stage has seen yet (bad input, unknown model, access denied):
    /// nothing to settle, so the record goes straight to the observers.
    func fail(_ error: GatewayError, record: inout RequestRecord, receivedAt: ContinuousClock.Instant, headers: [HeaderField] = []) -> GatewayResponse
    {
        let response = failure(error, record: &record, receivedAt: receivedAt, headers: headers)
        observer.requestFinished(record)
        return response
    }

    static func gatewayError(from error: any Error) -> GatewayError {
        if error is CancellationError || Task.isCancelled {
            return .clientClosedRequest()
        }
        if let gatewayError = error as? GatewayError { return gatewayError }
        return .internalError()
    }

    static func streamFailure(_ error: any Error, provider: String) -> GatewayError {
        if error is CancellationError || Task.isCancelled { return gatewayError(from: error) }
        if let gatewayError = error as? GatewayError { return gatewayError }
        return .upstreamUnavailable("The connection to provider '\(provider)' failed during the stream.", code: .upstreamStreamInterrupted)
    }
}

/// What the gateway answers: a status, headers and a complete or streamed body.
public struct GatewayResponse: Sendable {
    public enum Body: Sendable {
        case buffer(ByteBuffer)
        case stream(GatewayStream)
        /// A stream replayed from the cache, written chunk by chunk.
        case chunks([ByteBuffer])
        /// Bytes relayed from the provider as they come (audio).
        case bytes(ByteRelay)
        /// Written by the gateway's own code as it is produced (the MCP tool loop's events).
        case produced(ProducedBody)
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

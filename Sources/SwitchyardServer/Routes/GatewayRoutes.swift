import HTTPTypes
import Hummingbird
import NIOCore
import SwitchyardCore

/// The OpenAI-compatible API: inference endpoints and the model list.
struct GatewayRoutes {
    let gateway: Gateway
    let runtime: RuntimeHolder
    /// Runs the calls of `{"type": "mcp"}` tools.
    let mcp: MCPHub

    func register(on router: some RouterMethods<GatewayRequestContext>) {
        router.post("/v1/messages") { request, context in
            try await messages(request: request, context: context)
        }
        for path in ["/v1/responses", "/responses"] {
            router.post(RouterPath(path)) { request, context in
                try await responses(request: request, context: context)
            }
        }
        router.post("/v1/messages/count_tokens") { request, context in
            try await chargeRequestLimits(context)
            return try await countTokens(request: request, context: context)
        }
        router.post("/utils/token_counter") { request, context in
            try await chargeRequestLimits(context)
            return try await tokenCounter(request: request, context: context)
        }
        router.post("/v1/guardrails/check") { request, context in
            try await chargeRequestLimits(context)
            return try await checkGuardrails(request: request, context: context)
        }
        router.post("/v1/route/explain") { request, context in
            try await explain(request: request, context: context)
        }
        for prefix in ["/v1", ""] {
            // Uploads (multipart) have their own routes (MediaRoutes).
            for endpoint in Endpoint.allCases where endpoint != .moderations && endpoint != .passthrough && !endpoint.isUpload {
                router.post(RouterPath(prefix + endpoint.rawValue)) { request, context in
                    try await inference(endpoint, request: request, context: context)
                }
            }
            router.post(RouterPath(prefix + Endpoint.moderations.rawValue)) { request, context in
                try await moderations(request: request, context: context)
            }
            router.get(RouterPath(prefix + "/models")) { _, context in
                listModels(for: context.identity ?? .anonymous)
            }
            router.get(RouterPath(prefix + "/models/**")) { _, context in
                let id = context.parameters.getCatchAll().joined(separator: "/")
                return try retrieveModel(id, for: context.identity ?? .anonymous)
            }
        }
    }

    /// Utility endpoints call no model but cost the gateway work (tokenizers, detectors), so
    /// each counts as one request against the caller's requests-per-minute rules that apply to
    /// every model (before its body is read): they are no way around the limits.
    func chargeRequestLimits(_ context: GatewayRequestContext) async throws {
        let limits = (context.snapshot ?? runtime.snapshot).config.limits
        guard !limits.rules.isEmpty else { return }
        let checks = RateLimiter.checks(settings: limits, identity: context.identity ?? .anonymous, group: "", endUser: nil, reservedTokens: 0)
            .filter { $0.kind == .requests }
        let outcome = await gateway.limiter.acquire(checks, reservedTokens: 0, leaseSeconds: 60, failOpen: limits.failOpen, id: context.requestID)
        if case .refused(let error, _) = outcome { throw error }
    }

    /// Anthropic Messages: translated to the canonical form, answered by any configured model,
    /// and the answer translated back (streams event by event).
    func messages(request: Request, context: GatewayRequestContext) async throws -> Response {
        var request = request
        let body = try await request.collectBody(upTo: context.maxBodyBytes)
        let translated = try AnthropicRequestTranslator.translate(Array(buffer: body))
        return try await inference(
            .chatCompletions,
            request: request,
            body: ByteBuffer(bytes: translated.body.serializedBytes()),
            dialect: .anthropic,
            nativeBody: body,
            untranslated: translated.untranslated,
            context: context
        )
    }

    /// OpenAI Responses: translated to the canonical form, answered by any configured model,
    /// and the answer translated back (streams as Responses events).
    func responses(request: Request, context: GatewayRequestContext) async throws -> Response {
        var request = request
        let body = try await request.collectBody(upTo: context.maxBodyBytes)
        let snapshot = context.snapshot ?? runtime.snapshot
        let translated = try ResponsesRequestTranslator.translate(Array(buffer: body), mcp: snapshot.config.mcp)
        if !translated.mcp.isEmpty {
            return try await mcpLoop(
                translated.body.objectValue ?? [:], tools: translated.mcp, dialect: .responses, stream: translated.stream, request: request,
                nativeBody: body, context: context)
        }
        return try await inference(
            .chatCompletions,
            request: request,
            body: ByteBuffer(bytes: translated.body.serializedBytes()),
            dialect: .responses,
            nativeBody: body,
            context: context
        )
    }

    /// Anthropic's token counting, estimated (OpenAI-dialect providers have no counting endpoint).
    func countTokens(request: Request, context: GatewayRequestContext) async throws -> Response {
        var request = request
        let body = try await request.collectBody(upTo: context.maxBodyBytes)
        guard var raw = (try? JSONValue.parse(Array(buffer: body)))?.objectValue else {
            throw GatewayError.invalidJSON("the body must be a JSON object")
        }
        if raw["max_tokens"] == nil { raw["max_tokens"] = 1 }
        let translated = try AnthropicRequestTranslator.translate(JSONValue.object(raw).serializedBytes())
        let group = try usableGroup(translated.model, for: context.identity ?? .anonymous)
        let upstream = group.deployments.first?.upstreamModel ?? translated.model
        return GatewayResponse.json(["input_tokens": JSONValue(AnthropicRequestTranslator.estimateInputTokens(translated, model: upstream))])
            .hummingbirdResponse()
    }

    /// `POST /v1/guardrails/check`: runs detectors on a text without calling a model, for
    /// testing policies and measuring detectors. `{"text", "guardrails": [names]}` runs the
    /// configured guardrails (all of them when omitted); `{"text", "detectors": ["pii", ...]}`
    /// runs built-in detectors with their defaults. `role` (default `user`) says whose text it is
    /// (`tool` for a tool result). Webhook guardrails are not called.
    func checkGuardrails(request: Request, context: GatewayRequestContext) async throws -> Response {
        var request = request
        let body = try await request.collectBody(upTo: context.maxBodyBytes)
        guard let object = (try? JSONValue.parse(Array(buffer: body)))?.objectValue else {
            throw GatewayError.invalidJSON("the body must be a JSON object")
        }
        guard let textValue = object["text"] else { throw GatewayError.missingField("text") }
        guard let text = textValue.stringValue else { throw GatewayError.invalidType(field: "text", expected: "a string", found: textValue.typeName) }
        var rails: [GuardrailEngine.Rail] = []
        if let detectors = object["detectors"] {
            guard let names = detectors.arrayValue?.compactMap(\.stringValue), names.count == detectors.arrayValue?.count else {
                throw GatewayError.invalidType(field: "detectors", expected: "an array of strings", found: detectors.typeName)
            }
            var settings = GuardrailSettings()
            for name in names {
                guard let detector = GuardrailRule.Detector(rawValue: name), detector != .words, detector != .regex, detector != .webhook else {
                    throw GatewayError.invalidRequest(
                        "Unknown detector '\(name)'. Built-in detectors: pii, secrets, injection, content.", param: "detectors", code: .invalidValue
                    )
                }
                settings.rules.append(GuardrailRule(name: name, detector: detector))
            }
            rails = GuardrailEngine(settings: settings).rails
        } else {
            rails = runtime.snapshot.guardrails.rails
            if let names = object["guardrails"]?.arrayValue?.compactMap(\.stringValue) {
                for name in names where !rails.contains(where: { $0.rule.name == name }) {
                    throw GatewayError.invalidRequest("No guardrail is named '\(name)'.", param: "guardrails", code: .invalidValue)
                }
                rails = rails.filter { names.contains($0.rule.name) }
            }
        }
        let bytes = Array(text.utf8)
        // Offsets are in Unicode scalars (what Python's str indexes).
        var scalarOffsets = [Int](repeating: 0, count: bytes.count + 1)
        var scalars = 0
        for index in 0..<bytes.count {
            scalarOffsets[index] = scalars
            if bytes[index] & 0xC0 != 0x80 { scalars += 1 }
        }
        scalarOffsets[bytes.count] = scalars
        var results: [JSONValue] = []
        for rail in rails {
            guard let detector = rail.detector else { continue }
            let findings = detector.findings(in: bytes, context: [], role: object["role"]?.stringValue ?? "user")
            let triggered = rail.triggered(findings)
            var totals: [String: Double] = [:]
            for finding in findings { totals[finding.entity, default: 0] += finding.score }
            var result: JSONObject = [
                "guardrail": .string(rail.rule.name), "detector": .string(rail.rule.detector.rawValue), "triggered": .bool(!triggered.isEmpty),
                "action": .string(rail.rule.action.rawValue), "threshold": JSONValue(rail.threshold),
                "score": JSONValue(((totals.values.max() ?? 0) * 1000).rounded() / 1000),
                "findings": .array(
                    findings.map { finding in
                        [
                            "entity": .string(finding.entity), "start": JSONValue(scalarOffsets[finding.range.lowerBound]),
                            "end": JSONValue(scalarOffsets[finding.range.upperBound]), "score": JSONValue(finding.score),
                        ]
                    }),
            ]
            if !triggered.isEmpty && (rail.rule.action == .mask || rail.rule.action == .pseudonymize) {
                result["masked"] = .string(
                    String(
                        decoding: GuardrailEngine.mask(bytes, triggered),
                        as: UTF8.self))
            }
            results.append(.object(result))
        }
        return GatewayResponse.json(["results": .array(results)]).hummingbirdResponse()
    }

    /// `POST /utils/token_counter` (LiteLLM's shape): `{"model", "messages"}` or `{"model",
    /// "prompt"}` → the prompt's tokens with the tokenizer of the model that would answer.
    func tokenCounter(request: Request, context: GatewayRequestContext) async throws -> Response {
        var request = request
        let body = try await request.collectBody(upTo: context.maxBodyBytes)
        guard let object = (try? JSONValue.parse(Array(buffer: body)))?.objectValue else {
            throw GatewayError.invalidJSON("the body must be a JSON object")
        }
        guard let model = object["model"]?.stringValue else { throw GatewayError.missingField("model") }
        let group = try usableGroup(model, for: context.identity ?? .anonymous)
        let upstream = group.deployments.first?.upstreamModel ?? model
        let tokens: Int
        if let messages = object["messages"] {
            guard let list = messages.arrayValue else {
                throw GatewayError.invalidType(field: "messages", expected: "an array", found: messages.typeName)
            }
            tokens = PromptTokens.count(messages: list, tools: object["tools"], model: upstream)
        } else if let prompt = object["prompt"] ?? object["text"] ?? object["input"] {
            guard let text = prompt.stringValue else { throw GatewayError.invalidType(field: "prompt", expected: "a string", found: prompt.typeName) }
            tokens = PromptTokens.count(text, model: upstream)
        } else {
            throw GatewayError.missingField("messages")
        }
        return GatewayResponse.json([
            "total_tokens": JSONValue(tokens), "request_model": .string(model), "model_used": .string(upstream),
            "tokenizer_type": .string(PromptTokens.method(forModel: upstream)),
        ]).hummingbirdResponse()
    }

    /// The model OpenAI answers moderations with when the request names none.
    static let defaultModerationModel = "omni-moderation-latest"

    /// `POST /v1/moderations`: to the model the body names when it is configured (an
    /// OpenAI-compatible provider); without `model`, to `omni-moderation-latest` when that is
    /// configured. Otherwise, when the body names no model or one of OpenAI's moderation models
    /// that is not configured, the gateway's own content detectors answer (model
    /// `switchyard-moderation`). Either way through the whole pipeline; the answer's
    /// `x-switchyard-moderation` header says who judged: `provider` or `gateway`.
    func moderations(request: Request, context: GatewayRequestContext) async throws -> Response {
        var request = request
        var body = try await request.collectBody(upTo: context.maxBodyBytes)
        let catalog = (context.snapshot ?? runtime.snapshot).catalog
        var model: String?
        if var object = (try? JSONValue.parse(Array(buffer: body)))?.objectValue {
            switch object["model"] {
            case nil, .null?:
                model = catalog.group(for: Self.defaultModerationModel) != nil ? Self.defaultModerationModel : DetectorModerationAdapter.model
            case .string(let name)? where catalog.group(for: name) == nil && name.contains("moderation"):
                model = DetectorModerationAdapter.model
            case .string(let name)?:
                model = name
            default:
                break
            }
            if let model, object["model"]?.stringValue != model {
                object["model"] = .string(model)
                body = ByteBuffer(bytes: JSONValue.object(object).serializedBytes())
            }
        }
        var response = try await inference(.moderations, request: request, body: body, dialect: .openAI, context: context)
        if response.status.code < 300, let group = model.flatMap(catalog.group(for:)) {
            let byGateway = group.deployments.allSatisfy { $0.provider == DetectorModerationAdapter.provider }
            response.headers[HTTPField.Name("x-switchyard-moderation")!] = byGateway ? "gateway" : "provider"
        }
        return response
    }

    func inference(_ endpoint: Endpoint, request: Request, context: GatewayRequestContext) async throws -> Response {
        var request = request
        let body = try await request.collectBody(upTo: context.maxBodyBytes)
        if endpoint == .chatCompletions, !(context.snapshot ?? runtime.snapshot).config.mcp.servers.isEmpty,
            body.readableBytesView.firstRange(of: Self.mcpMarker) != nil, var object = (try? JSONValue.parse(Array(buffer: body)))?.objectValue
        {
            // A chat completion with `{"type": "mcp"}` tools (read only when some server is configured and the body names one).
            let tools = try MCPToolRequest.extract(fromChat: &object, settings: (context.snapshot ?? runtime.snapshot).config.mcp)
            if !tools.isEmpty {
                return try await mcpLoop(
                    object, tools: tools, dialect: .openAI, stream: object["stream"]?.boolValue == true, request: request, nativeBody: nil,
                    context: context)
            }
        }
        return try await inference(endpoint, request: request, body: body, dialect: .openAI, context: context)
    }

    /// The pipeline's view of a request read by a route.
    /// Request headers passed on to providers.
    static let propagatedHeaders = ["traceparent", "tracestate", "anthropic-beta"].map { ($0, HTTPField.Name($0)!) }
    static let cacheNamespaceHeader = HTTPField.Name("x-switchyard-cache-namespace")!

    func makeInbound(
        _ endpoint: Endpoint, request: Request, body: ByteBuffer, dialect: ClientDialect, nativeBody: ByteBuffer?,
        untranslated: [UntranslatedContent], upload: MediaUpload?, context: GatewayRequestContext
    ) -> Gateway.Inbound {
        var propagated: [HeaderField] = []
        for (name, field) in Self.propagatedHeaders {
            if let value = request.headers.value(field) { propagated.append(HeaderField(name, value)) }
        }
        var headers: [HeaderField] = []
        if context.snapshot?.needsRequestHeaders == true {
            for field in request.headers { headers.append(HeaderField(field.name.canonicalName, field.value)) }
        }
        var inbound = Gateway.Inbound(
            endpoint: endpoint,
            body: body,
            identity: context.identity ?? .anonymous,
            requestID: context.requestID,
            receivedAt: context.receivedAt,
            propagatedHeaders: propagated,
            dialect: dialect,
            nativeBody: nativeBody,
            headers: headers
        )
        inbound.clientRequestID = context.clientRequestID
        inbound.untranslatedContent = untranslated
        inbound.upload = upload
        if let span = context.requestSpan {
            inbound.traceContext = span.context
            inbound.requestSpan = span
        }
        if dialect == .responses {
            inbound.responsesEnvelope = ResponsesEnvelope(
                requestID: context.requestID, request: nativeBody.map { Array(buffer: $0) }, createdAt: Int(WallClock.unixTime()))
        }
        if context.snapshot?.config.cache.enabled == true {
            if let control = request.headers.value(.cacheControl)?.lowercased() {
                inbound.cacheNoCache = control.contains("no-cache")
                inbound.cacheNoStore = control.contains("no-store")
            }
            inbound.cacheNamespace = request.headers.value(Self.cacheNamespaceHeader).map { String($0.prefix(128)) } ?? ""
        }
        return inbound
    }

    static let mcpMarker = Array(#""mcp""#.utf8)

    func inference(
        _ endpoint: Endpoint,
        request: Request,
        body: ByteBuffer,
        dialect: ClientDialect,
        nativeBody: ByteBuffer? = nil,
        untranslated: [UntranslatedContent] = [],
        upload: MediaUpload? = nil,
        context: GatewayRequestContext
    ) async throws -> Response {
        let inbound = makeInbound(
            endpoint, request: request, body: body, dialect: dialect, nativeBody: nativeBody, untranslated: untranslated, upload: upload,
            context: context)
        switch gateway.prepare(inbound, snapshot: context.snapshot) {
        case .answered(let response):
            return response.hummingbirdResponse()
        case .ready(let prepared):
            if prepared.isStream {
                // A stream can wait long for its first token: cancel the upstream call as soon
                // as the client hangs up instead of at the first write.
                let detector = await DisconnectDetector.of(context.channel)
                let gateway = self.gateway
                let response = await withCancellationOnDisconnect(detector) {
                    await gateway.execute(prepared)
                }
                return response.hummingbirdResponse()
            }
            return await gateway.execute(prepared).hummingbirdResponse()
        }
    }

    /// `POST /v1/route/explain` (admin): where the request in the body would go, and why.
    func explain(request: Request, context: GatewayRequestContext) async throws -> Response {
        try AdminRoutes.requireOperator(context, for: "Route explanation")
        let identity = context.identity ?? .anonymous
        var request = request
        let body = try await request.collectBody(upTo: context.maxBodyBytes)
        let endpoint = request.uri.queryParameters["endpoint"].flatMap { name in Endpoint.allCases.first { $0.label == String(name) } }
        var headers: [HeaderField] = []
        for field in request.headers { headers.append(HeaderField(field.name.canonicalName, field.value)) }
        let snapshot = context.snapshot ?? runtime.snapshot
        let explanation = try RouteExplanation.explain(
            endpoint: endpoint ?? .chatCompletions, body: Array(buffer: body), identity: identity, headers: headers, snapshot: snapshot,
            router: gateway.router)
        return GatewayResponse.json(explanation).hummingbirdResponse()
    }

    /// The models the caller may use: a key, token or directory entry limited to some models,
    /// and role policies and access rules, hide the others.
    func listModels(for identity: Identity) -> Response {
        let snapshot = runtime.snapshot
        let now = WallClock.unixTime()
        let data = snapshot.catalog.listedModels.filter { snapshot.mayUse($0.name, identity: identity, unixTime: now) }.map { model -> JSONValue in
            [
                "id": .string(model.name), "object": "model", "created": 0, "owned_by": .string(model.provider),
                "endpoints": .array(Self.endpoints(of: model.name, snapshot: snapshot).map(JSONValue.string)),
            ]
        }
        return GatewayResponse.json(["object": "list", "data": .array(data)]).hummingbirdResponse()
    }

    /// The endpoints the deployments of `model` answer (see ``ModelEndpoints``), in a stable order.
    static func endpoints(of model: String, snapshot: RuntimeSnapshot) -> [String] {
        guard let group = snapshot.catalog.group(for: model) else { return [] }
        var labels: [String] = []
        for deployment in group.deployments {
            let type = snapshot.config.provider(named: deployment.provider)?.type ?? ""
            for label in ModelEndpoints.labels(upstreamModel: deployment.upstreamModel, providerType: type) where !labels.contains(label) {
                labels.append(label)
            }
        }
        return labels
    }

    /// The group of `model` when the caller may use it; otherwise 404, suggesting only models
    /// it may use (a hidden model is indistinguishable from a missing one).
    func usableGroup(_ model: String, for identity: Identity) throws -> ModelGroup {
        let snapshot = runtime.snapshot
        let now = WallClock.unixTime()
        guard !model.isEmpty, let group = snapshot.catalog.group(for: model), snapshot.mayUse(model, identity: identity, unixTime: now) else {
            throw GatewayError.modelNotFound(model, suggestions: snapshot.suggestions(for: model, identity: identity, unixTime: now))
        }
        return group
    }

    func retrieveModel(_ id: String, for identity: Identity) throws -> Response {
        let group = try usableGroup(id, for: identity)
        return GatewayResponse.json([
            "id": .string(id), "object": "model", "created": 0, "owned_by": .string(group.owner),
            "endpoints": .array(Self.endpoints(of: id, snapshot: runtime.snapshot).map(JSONValue.string)),
        ])
        .hummingbirdResponse()
    }
}

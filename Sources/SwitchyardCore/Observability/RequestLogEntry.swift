/// The request log record: one JSON object per request, the same for every sink (database
/// detail view, webhook). Prompts and completions appear only when `logging.bodies` covered
/// the request, and then already redacted.
public enum RequestLogEntry {
    /// Whether the record holds anything its usage row does not: the common case (one
    /// successful attempt, nothing else to tell) writes no detail row at all, and the log view
    /// derives its single attempt from the usage row.
    public static func hasDetail(_ record: RequestRecord) -> Bool {
        record.attempts.count > 1 || record.attempts.first.map { $0.outcome != "success" } == true || !record.fallbacks.isEmpty
            || record.rule != nil || record.experiment != nil || record.retryBudgetExhausted || record.upstreamError != nil
            || record.cacheSimilarity != nil || record.cacheVerificationRejected || !record.guardrails.isEmpty || record.guardrailRoute != nil
            || record.accessDenied != nil || record.traceID != nil || record.requestBody != nil || record.responseBody != nil
    }

    /// What the usage row does not hold, as compact JSON text: attempts, fallbacks, rule,
    /// experiment, cache and guardrail detail, trace id. Written field by field (no tree: a
    /// request with guardrails or a trace has a detail, and this runs once for each).
    public static func detailJSON(_ record: RequestRecord) -> [UInt8] {
        var out = JSONMemberWriter(capacity: 256)
        out.string("dialect", record.dialect.rawValue)
        if !record.attempts.isEmpty {
            out.objects("attempts", record.attempts) { out, attempt in
                out.string("model_group", attempt.group)
                out.string("deployment", attempt.deployment)
                out.string("provider", attempt.provider)
                out.string("outcome", attempt.outcome)
                out.raw("duration_ms", JSONValue.format(milliseconds(attempt.duration)))
                out.string("error_class", attempt.errorClass?.rawValue)
            }
        }
        if !record.fallbacks.isEmpty {
            out.key("fallbacks")
            out.append(UInt8(ascii: "["))
            for (index, fallback) in record.fallbacks.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                out.appendQuoted(fallback)
            }
            out.append(UInt8(ascii: "]"))
        }
        out.string("routing_rule", record.rule)
        out.string("experiment", record.experiment)
        out.string("experiment_arm", record.arm)
        if record.retryBudgetExhausted { out.bool("retry_budget_exhausted", true) }
        out.string("upstream_error", record.upstreamError)
        if let similarity = record.cacheSimilarity { out.raw("cache_similarity", JSONValue.format((similarity * 1e4).rounded() / 1e4)) }
        if let lookup = record.cacheLookup { out.raw("cache_lookup_ms", JSONValue.format(milliseconds(lookup))) }
        if record.cacheVerificationRejected { out.bool("cache_verification_rejected", true) }
        if !record.guardrails.isEmpty {
            out.objects("guardrail_decisions", record.guardrails) { out, decision in
                out.string("name", decision.name)
                out.string("direction", decision.direction)
                out.string("action", decision.action)
                if !decision.entities.isEmpty {
                    out.key("entities")
                    for (offset, entity) in decision.entities.sorted(by: { $0.key < $1.key }).enumerated() {
                        out.append(offset == 0 ? UInt8(ascii: "{") : UInt8(ascii: ","))
                        out.appendQuoted(entity.key)
                        out.append(UInt8(ascii: ":"))
                        out.appendRaw(String(entity.value))
                    }
                    out.append(UInt8(ascii: "}"))
                }
                if let score = decision.score { out.raw("score", JSONValue.format(score)) }
            }
        }
        out.string("guardrail_route", record.guardrailRoute)
        out.string("access_denied", record.accessDenied.map { $0.rule ?? $0.reason })
        if record.stream { out.int("chunks", record.chunks) }
        out.string("trace_id", record.traceID)
        out.endObject()
        return out.bytes
    }

    /// The whole record, flat and snake_case (what the webhook sink sends and
    /// `GET /admin/logs/{id}` answers). `bodies`: whether logged bodies are included.
    public static func json(_ usage: UsageRecord, bodies: Bool = true) -> JSONObject {
        var object: JSONObject = [
            "request_id": .string(usage.id),
            "ts": JSONValue(usage.ts),
            "time": .string(CivilDate.iso8601(Int64(usage.ts))),
            "identity_kind": .string(usage.identityKind),
            "key": .string(usage.subject),
            "endpoint": .string(usage.endpoint),
            "status": JSONValue(usage.status),
            "outcome": .string(usage.outcome),
            "stream": .bool(usage.stream),
            "prompt_tokens": JSONValue(usage.promptTokens),
            "completion_tokens": JSONValue(usage.completionTokens),
            "cached_tokens": JSONValue(usage.cachedTokens),
            "cache_write_tokens": JSONValue(usage.cacheWriteTokens),
            "reasoning_tokens": JSONValue(usage.reasoningTokens),
            "duration_ms": JSONValue(rounded(usage.durationMs)),
            "attempt_count": JSONValue(usage.attempts),
        ]
        if let client = usage.clientRequestID { object["client_request_id"] = .string(client) }
        let optional: [(String, String?)] = [
            ("user", usage.userID), ("end_user", usage.endUser), ("team", usage.teamID), ("org", usage.orgID),
            ("requested_model", usage.requestedModel), ("model_group", usage.modelGroup), ("deployment", usage.deployment),
            ("provider", usage.provider), ("served_model", usage.servedModel), ("error_code", usage.errorCode),
            ("rate_limited_by", usage.limitedBy), ("cache", usage.cache), ("guardrails", usage.guardrails),
            ("usage_source", usage.usageSource),
        ]
        for (key, value) in optional { if let value { object[key] = .string(value) } }
        if let cost = usage.cost { object["cost_usd"] = JSONValue((cost * 1e9).rounded() / 1e9) }
        if let saved = usage.savedCost { object["saved_cost_usd"] = JSONValue((saved * 1e9).rounded() / 1e9) }
        if let ttft = usage.ttftMs { object["ttft_ms"] = JSONValue(rounded(ttft)) }
        if let upstream = usage.upstreamMs {
            object["upstream_ms"] = JSONValue(rounded(upstream))
            object["gateway_ms"] = JSONValue(rounded(max(0, usage.durationMs - upstream)))
        }
        if let text = usage.detail, case .object(let detail)? = try? JSONValue.parse(Array(text.utf8)) {
            for (key, value) in detail.members { object[key] = value }
        } else if usage.attempts == 1, let deployment = usage.deployment {
            // No detail row: the one attempt is the usage row's deployment.
            var attempt: JSONObject = [
                "deployment": .string(deployment), "outcome": .string(usage.outcome == "success" ? "success" : usage.errorCode ?? usage.outcome),
            ]
            if let group = usage.modelGroup { attempt["model_group"] = .string(group) }
            if let provider = usage.provider { attempt["provider"] = .string(provider) }
            if let upstream = usage.upstreamMs { attempt["duration_ms"] = JSONValue(rounded(upstream)) }
            object["attempts"] = [.object(attempt)]
        }
        if bodies {
            if let body = usage.requestBody { object["request_body"] = .string(body) }
            if let body = usage.responseBody { object["response_body"] = .string(body) }
        }
        return object
    }

    /// A body for the log: personal data and credentials masked, cut at `limit` bytes (on a
    /// character boundary).
    public static func redact(_ bytes: [UInt8], limit: Int) -> String {
        let detector = redactor
        let slice = bytes.count > limit ? Array(bytes[..<limit]) : bytes
        let masked = GuardrailEngine.mask(slice, detector.findings(in: slice, context: []))
        var text = String(decoding: masked, as: UTF8.self)
        if bytes.count > limit {
            // A multi-byte character cut in two decodes as U+FFFD at the end: drop it.
            while text.hasSuffix("\u{FFFD}") { text.removeLast() }
            text += "…[truncated]"
        }
        return text
    }

    /// Every personal-data and credential entity.
    static let redactor = PIIDetector(entities: Set(PIIDetector.Entity.allCases))

    static func milliseconds(_ duration: Duration) -> Double { rounded(durationSeconds(duration) * 1000) }
    static func rounded(_ value: Double) -> Double { (value * 1000).rounded() / 1000 }
}

/// The usage ledger's records and questions, shared by every usage store.

/// One request in the usage ledger (`usage_records`): who, what, how much, how it ended.
/// Never holds prompts, completions or credentials.
public struct UsageRecord: Codable, Sendable, Equatable {
    /// The request id the gateway generated (unique: replaying the journal twice inserts
    /// nothing twice). Never the client's: a client-chosen id cannot merge its requests.
    public var id: String
    /// The `x-request-id` the client sent, kept for correlation only.
    public var clientRequestID: String?
    /// Unix time the request ended.
    public var ts: Double
    public var identityKind: String
    /// Key id, JWT subject, `master` or `anonymous`.
    public var subject: String
    public var userID: String?
    public var endUser: String?
    public var teamID: String?
    public var orgID: String?
    public var endpoint: String
    public var requestedModel: String?
    public var modelGroup: String?
    public var deployment: String?
    public var provider: String?
    public var servedModel: String?
    public var status: Int
    public var outcome: String
    public var errorCode: String?
    public var stream: Bool
    public var promptTokens: Int
    public var completionTokens: Int
    public var cachedTokens: Int
    public var cacheWriteTokens: Int
    public var reasoningTokens: Int
    /// USD; nil when the model has no known price.
    public var cost: Double?
    public var durationMs: Double
    public var ttftMs: Double?
    public var attempts: Int
    /// The rate limit or budget that refused the request.
    public var limitedBy: String?
    /// `hit`, `semantic-hit`, `miss` or `bypass` when the response cache is on.
    public var cache: String?
    /// Provider cost a cache hit saved (USD).
    public var savedCost: Double?
    /// Time the upstream call took; `durationMs - upstreamMs` is the gateway's own share.
    public var upstreamMs: Double?
    /// What the guardrails decided (`pii=mask(email:1)`), comma-separated.
    public var guardrails: String?
    /// `provider` or `gateway`: who counted the tokens (the gateway counts when the provider
    /// reported no usage, or the client left before it did).
    public var usageSource: String?
    /// The request log detail (``RequestLogEntry/detailJSON(_:)``) as JSON text; kept in the
    /// request log table, not in the usage row, and purged by `logging.retention`.
    public var detail: String?
    /// The redacted prompt and answer, when `logging.bodies` covered the request.
    public var requestBody: String?
    public var responseBody: String?

    /// A record with zero usage and every optional field empty (stores fill in the rest).
    public init(id: String, ts: Double, identityKind: String, subject: String, endpoint: String, status: Int, outcome: String) {
        self.id = id
        self.ts = ts
        self.identityKind = identityKind
        self.subject = subject
        self.endpoint = endpoint
        self.status = status
        self.outcome = outcome
        stream = false
        promptTokens = 0
        completionTokens = 0
        cachedTokens = 0
        cacheWriteTokens = 0
        reasoningTokens = 0
        durationMs = 0
        attempts = 0
    }

    /// `withDetail`: whether the request log detail (and bodies) ride along to the database.
    public init(_ record: RequestRecord, endedAt: Double, withDetail: Bool = false) {
        let identity = record.identity
        id = record.requestID
        clientRequestID = record.clientRequestID
        ts = endedAt
        identityKind = identity.kind.rawValue
        subject = identity.subject
        userID = identity.userID
        endUser = identity.endUser
        teamID = identity.teamID
        orgID = identity.organizationID
        endpoint = record.dialect.routeLabel(record.endpoint)
        requestedModel = record.requestedModel
        modelGroup = record.modelGroup
        deployment = record.deployment
        provider = record.provider
        servedModel = record.servedModel
        status = record.status
        outcome = record.outcome.rawValue
        errorCode = record.errorCode
        stream = record.stream
        let usage = record.usage ?? TokenUsage()
        promptTokens = usage.promptTokens
        completionTokens = usage.completionTokens
        cachedTokens = usage.cachedPromptTokens
        cacheWriteTokens = usage.cacheWriteTokens
        reasoningTokens = usage.reasoningTokens
        cost = record.cost
        durationMs = durationSeconds(record.duration) * 1000
        ttftMs = record.timeToFirstToken.map { durationSeconds($0) * 1000 }
        attempts = record.attempts.count
        limitedBy = record.rateLimitedBy
        cache = record.cache
        savedCost = record.cacheSavedCost
        upstreamMs = record.upstreamDuration.map { durationSeconds($0) * 1000 }
        guardrails = record.guardrails.isEmpty ? nil : record.guardrails.map(\.summary).joined(separator: ", ")
        usageSource = record.usageSource?.rawValue
        if withDetail, RequestLogEntry.hasDetail(record) {
            detail = String(decoding: RequestLogEntry.detailJSON(record), as: UTF8.self)
            requestBody = record.requestBody
            responseBody = record.responseBody
        }
    }

    /// One line of the journal: compact JSON written field by field (no intermediate tree; this
    /// runs once per request).
    public var journalLine: [UInt8] {
        var out = JSONMemberWriter(capacity: 512)
        func number(_ name: StaticString, _ value: Double?) {
            guard let value, value.isFinite else { return }
            out.raw(name, "\(value)")
        }
        out.string("id", id)
        number("ts", ts)
        out.string("identityKind", identityKind)
        out.string("subject", subject)
        out.string("endpoint", endpoint)
        out.int("status", status)
        out.string("outcome", outcome)
        out.bool("stream", stream)
        out.int("promptTokens", promptTokens)
        out.int("completionTokens", completionTokens)
        out.int("cachedTokens", cachedTokens)
        out.int("cacheWriteTokens", cacheWriteTokens)
        out.int("reasoningTokens", reasoningTokens)
        number("durationMs", durationMs)
        out.int("attempts", attempts)
        out.string("userID", userID)
        out.string("endUser", endUser)
        out.string("teamID", teamID)
        out.string("orgID", orgID)
        out.string("requestedModel", requestedModel)
        out.string("modelGroup", modelGroup)
        out.string("deployment", deployment)
        out.string("provider", provider)
        out.string("servedModel", servedModel)
        out.string("errorCode", errorCode)
        out.string("limitedBy", limitedBy)
        number("cost", cost)
        number("ttftMs", ttftMs)
        out.string("cache", cache)
        number("savedCost", savedCost)
        number("upstreamMs", upstreamMs)
        out.string("guardrails", guardrails)
        out.string("clientRequestID", clientRequestID)
        out.string("usageSource", usageSource)
        out.string("detail", detail)
        out.string("requestBody", requestBody)
        out.string("responseBody", responseBody)
        out.endObject()
        out.append(UInt8(ascii: "\n"))
        return out.bytes
    }

    /// Reads a journal line back; nil for a damaged one.
    public init?(journalLine bytes: ArraySlice<UInt8>) {
        guard let scan = try? JSONObjectScan(Array(bytes)),
            let id = scan.string("id"), let ts = scan.number("ts"), let identityKind = scan.string("identityKind"),
            let subject = scan.string("subject"), let endpoint = scan.string("endpoint"), let status = scan.number("status"),
            let outcome = scan.string("outcome")
        else { return nil }
        func count(_ key: String) -> Int {
            guard let value = scan.number(key), value.isFinite, value >= 0, value < 1e15 else { return 0 }
            return Int(value)
        }
        self.id = id
        self.ts = ts
        self.identityKind = identityKind
        self.subject = subject
        self.endpoint = endpoint
        self.status = Int(max(0, min(status, 999)))
        self.outcome = outcome
        stream = scan.bool("stream") ?? false
        userID = scan.string("userID")
        endUser = scan.string("endUser")
        teamID = scan.string("teamID")
        orgID = scan.string("orgID")
        requestedModel = scan.string("requestedModel")
        modelGroup = scan.string("modelGroup")
        deployment = scan.string("deployment")
        provider = scan.string("provider")
        servedModel = scan.string("servedModel")
        errorCode = scan.string("errorCode")
        limitedBy = scan.string("limitedBy")
        promptTokens = count("promptTokens")
        completionTokens = count("completionTokens")
        cachedTokens = count("cachedTokens")
        cacheWriteTokens = count("cacheWriteTokens")
        reasoningTokens = count("reasoningTokens")
        cost = scan.number("cost")
        durationMs = scan.number("durationMs") ?? 0
        ttftMs = scan.number("ttftMs")
        attempts = count("attempts")
        cache = scan.string("cache")
        savedCost = scan.number("savedCost")
        upstreamMs = scan.number("upstreamMs")
        guardrails = scan.string("guardrails")
        clientRequestID = scan.string("clientRequestID")
        usageSource = scan.string("usageSource")
        detail = scan.string("detail")
        requestBody = scan.string("requestBody")
        responseBody = scan.string("responseBody")
    }
}

/// What usage can be grouped and filtered by.
public enum UsageDimension: String, Sendable, CaseIterable {
    case key, user, endUser = "end_user", team, org, model, requestedModel = "requested_model", provider, deployment, day, endpoint, status
    case outcome, cache

    public init?(budgetScope: BudgetScope) {
        switch budgetScope {
        case .key: self = .key
        case .user: self = .user
        case .endUser: self = .endUser
        case .team: self = .team
        case .org: self = .org
        case .global: return nil
        }
    }
}

/// A usage question: a time range, filters and the dimensions to group by.
public struct UsageQuery: Sendable {
    public var from: Double?
    public var to: Double?
    public var groupBy: [UsageDimension] = []
    public var filters: [(UsageDimension, String)] = []
    /// Dimensions that must be empty (a team administrator's organisation when its team has none).
    public var absent: [UsageDimension] = []
    public var limit = 1000

    public init(from: Double? = nil, to: Double? = nil, groupBy: [UsageDimension] = [], filters: [(UsageDimension, String)] = []) {
        self.from = from
        self.to = to
        self.groupBy = groupBy
        self.filters = filters
    }
}

/// Totals of one group.
public struct UsageTotals: Sendable, Equatable {
    public var group: [String: String?] = [:]
    public var requests = 0
    public var errors = 0
    public var promptTokens = 0
    public var completionTokens = 0
    public var cachedTokens = 0
    public var reasoningTokens = 0
    public var cost = 0.0
    /// Requests answered from the cache (exact or semantic).
    public var cacheHits = 0
    /// Provider cost those hits saved (USD).
    public var savedCost = 0.0

    public var totalTokens: Int { promptTokens + completionTokens }

    public init() {}

    public var json: JSONValue {
        var object = JSONObject()
        for (key, value) in group.sorted(by: { $0.key < $1.key }) { object[key] = value.map(JSONValue.string) ?? .null }
        object["requests"] = JSONValue(requests)
        object["errors"] = JSONValue(errors)
        object["prompt_tokens"] = JSONValue(promptTokens)
        object["completion_tokens"] = JSONValue(completionTokens)
        object["total_tokens"] = JSONValue(totalTokens)
        object["cached_tokens"] = JSONValue(cachedTokens)
        object["reasoning_tokens"] = JSONValue(reasoningTokens)
        object["cost_usd"] = JSONValue((cost * 1e9).rounded() / 1e9)
        object["error_rate"] = JSONValue(requests == 0 ? 0 : (Double(errors) / Double(requests) * 1e4).rounded() / 1e4)
        object["cache_hits"] = JSONValue(cacheHits)
        object["cache_hit_ratio"] = JSONValue(requests == 0 ? 0 : (Double(cacheHits) / Double(requests) * 1e4).rounded() / 1e4)
        object["saved_cost_usd"] = JSONValue((savedCost * 1e9).rounded() / 1e9)
        return .object(object)
    }
}

/// Where usage records are kept and queried (SQLite by default, PostgreSQL for several
/// instances). The ledger journals records and hands them over in batches.
public protocol UsageStore: Sendable {
    /// Inserts records; a record whose id is already stored is skipped (replays are harmless).
    func insert(_ records: [UsageRecord]) async throws
    /// Usage grouped as asked, biggest spenders first, and the overall totals.
    func usage(_ query: UsageQuery) async throws -> (rows: [UsageTotals], totals: UsageTotals)
    /// USD spent by one budget owner since `since` (Unix seconds).
    func spend(scope: BudgetScope, value: String, since: Int64) async throws -> Double
    /// Number of records.
    func count() async throws -> Int
    /// Whether a record with this id is stored.
    func contains(id: String) async throws -> Bool
    /// Request log rows, newest first, without bodies.
    func logs(_ query: RequestLogQuery) async throws -> [UsageRecord]
    /// One request with its detail and bodies.
    func log(id: String) async throws -> UsageRecord?
    /// Latencies of the newest `limit` matching requests (for percentiles).
    func latencySamples(_ query: UsageQuery, by dimension: UsageDimension?, limit: Int) async throws -> [LatencySample]
    /// Totals per time bucket (`group["bucket"]` is its start, Unix seconds) and per `groupBy`.
    func timeSeries(_ query: UsageQuery, bucketSeconds: Int) async throws -> [UsageTotals]
    /// Deletes request log detail older than `before`; returns how many rows went.
    func purgeLogs(before: Double) async throws -> Int
}

/// A page of the request log: filters, newest first, continuing before a cursor.
public struct RequestLogQuery: Sendable {
    public var usage = UsageQuery()
    /// Only requests that failed (status >= 400 or outcome other than success).
    public var errorsOnly = false
    /// Continue after this row: the `(ts, id)` of the last row of the previous page.
    public var before: (ts: Double, id: String)?
    public var limit = 50
    public init() {}
}

/// One request's latencies, for percentiles.
public struct LatencySample: Sendable {
    public var group: String?
    public var durationMs: Double
    public var ttftMs: Double?
    public var upstreamMs: Double?
    public init(group: String?, durationMs: Double, ttftMs: Double?, upstreamMs: Double?) {
        self.group = group
        self.durationMs = durationMs
        self.ttftMs = ttftMs
        self.upstreamMs = upstreamMs
    }
}

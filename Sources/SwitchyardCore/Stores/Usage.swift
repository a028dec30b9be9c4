/// The usage ledger's records and questions, shared by every usage store.

/// One request in the usage ledger (`usage_records`): who, what, how much, how it ended.
/// Never holds prompts, completions or credentials.
public struct UsageRecord: Codable, Sendable, Equatable {
    /// The request id (unique: replaying the journal twice inserts nothing twice).
    public var id: String
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

    public init(_ record: RequestRecord, endedAt: Double) {
        let identity = record.identity
        id = record.requestID
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
    }

    /// One line of the journal: compact JSON written field by field (no intermediate tree; this
    /// runs once per request).
    public var journalLine: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(512)
        var first = true
        func key(_ name: StaticString) {
            out.append(first ? UInt8(ascii: "{") : UInt8(ascii: ","))
            first = false
            out.append(UInt8(ascii: "\""))
            name.withUTF8Buffer { out.append(contentsOf: $0) }
            out.append(UInt8(ascii: "\""))
            out.append(UInt8(ascii: ":"))
        }
        func string(_ name: StaticString, _ value: String?) {
            guard let value else { return }
            key(name)
            JSONWriter.appendQuoted(value, to: &out)
        }
        func number(_ name: StaticString, _ value: Int) {
            key(name)
            out.append(contentsOf: String(value).utf8)
        }
        func number(_ name: StaticString, _ value: Double?) {
            guard let value, value.isFinite else { return }
            key(name)
            out.append(contentsOf: "\(value)".utf8)
        }
        string("id", id)
        number("ts", ts)
        string("identityKind", identityKind)
        string("subject", subject)
        string("endpoint", endpoint)
        number("status", status)
        string("outcome", outcome)
        key("stream")
        out.append(contentsOf: (stream ? "true" : "false").utf8)
        number("promptTokens", promptTokens)
        number("completionTokens", completionTokens)
        number("cachedTokens", cachedTokens)
        number("cacheWriteTokens", cacheWriteTokens)
        number("reasoningTokens", reasoningTokens)
        number("durationMs", durationMs)
        number("attempts", attempts)
        string("userID", userID)
        string("endUser", endUser)
        string("teamID", teamID)
        string("orgID", orgID)
        string("requestedModel", requestedModel)
        string("modelGroup", modelGroup)
        string("deployment", deployment)
        string("provider", provider)
        string("servedModel", servedModel)
        string("errorCode", errorCode)
        string("limitedBy", limitedBy)
        number("cost", cost)
        number("ttftMs", ttftMs)
        out.append(UInt8(ascii: "}"))
        out.append(UInt8(ascii: "\n"))
        return out
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
    }
}

/// What usage can be grouped and filtered by.
public enum UsageDimension: String, Sendable, CaseIterable {
    case key, user, endUser = "end_user", team, org, model, requestedModel = "requested_model", provider, deployment, day, endpoint, status

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
}

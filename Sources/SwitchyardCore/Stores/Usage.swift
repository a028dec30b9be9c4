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

    /// One line of the journal.
    public var journalLine: [UInt8] {
        var object: JSONObject = [
            "id": .string(id), "ts": JSONValue(ts), "identityKind": .string(identityKind), "subject": .string(subject),
            "endpoint": .string(endpoint), "status": JSONValue(status), "outcome": .string(outcome), "stream": JSONValue(stream),
            "promptTokens": JSONValue(promptTokens), "completionTokens": JSONValue(completionTokens), "cachedTokens": JSONValue(cachedTokens),
            "cacheWriteTokens": JSONValue(cacheWriteTokens), "reasoningTokens": JSONValue(reasoningTokens), "durationMs": JSONValue(durationMs),
            "attempts": JSONValue(attempts),
        ]
        for (key, value) in [
            ("userID", userID), ("endUser", endUser), ("teamID", teamID), ("orgID", orgID), ("requestedModel", requestedModel),
            ("modelGroup", modelGroup), ("deployment", deployment), ("provider", provider), ("servedModel", servedModel),
            ("errorCode", errorCode), ("limitedBy", limitedBy),
        ] {
            if let value { object[key] = .string(value) }
        }
        if let cost { object["cost"] = JSONValue(cost) }
        if let ttftMs { object["ttftMs"] = JSONValue(ttftMs) }
        var bytes = JSONValue.object(object).serializedBytes()
        bytes.append(UInt8(ascii: "\n"))
        return bytes
    }

    /// Reads a journal line back; nil for a damaged one.
    public init?(journalLine bytes: ArraySlice<UInt8>) {
        guard let object = (try? JSONValue.parse(bytes))?.objectValue,
            let id = object["id"]?.stringValue, let ts = object["ts"]?.doubleValue,
            let identityKind = object["identityKind"]?.stringValue, let subject = object["subject"]?.stringValue,
            let endpoint = object["endpoint"]?.stringValue, let status = object["status"]?.intValue,
            let outcome = object["outcome"]?.stringValue
        else { return nil }
        self.id = id
        self.ts = ts
        self.identityKind = identityKind
        self.subject = subject
        self.endpoint = endpoint
        self.status = status
        self.outcome = outcome
        stream = object["stream"]?.boolValue ?? false
        userID = object["userID"]?.stringValue
        endUser = object["endUser"]?.stringValue
        teamID = object["teamID"]?.stringValue
        orgID = object["orgID"]?.stringValue
        requestedModel = object["requestedModel"]?.stringValue
        modelGroup = object["modelGroup"]?.stringValue
        deployment = object["deployment"]?.stringValue
        provider = object["provider"]?.stringValue
        servedModel = object["servedModel"]?.stringValue
        errorCode = object["errorCode"]?.stringValue
        limitedBy = object["limitedBy"]?.stringValue
        promptTokens = object["promptTokens"]?.intValue ?? 0
        completionTokens = object["completionTokens"]?.intValue ?? 0
        cachedTokens = object["cachedTokens"]?.intValue ?? 0
        cacheWriteTokens = object["cacheWriteTokens"]?.intValue ?? 0
        reasoningTokens = object["reasoningTokens"]?.intValue ?? 0
        cost = object["cost"]?.doubleValue
        durationMs = object["durationMs"]?.doubleValue ?? 0
        ttftMs = object["ttftMs"]?.doubleValue
        attempts = object["attempts"]?.intValue ?? 0
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

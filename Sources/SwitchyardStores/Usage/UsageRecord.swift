import GRDB
import SwitchyardCore

/// One request in the usage ledger (`usage_records`): who, what, how much, how it ended.
/// Never holds prompts, completions or credentials.
public struct UsageRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "usage_records"

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
    var journalLine: [UInt8] {
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
    init?(journalLine bytes: ArraySlice<UInt8>) {
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

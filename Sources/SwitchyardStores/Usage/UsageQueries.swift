import GRDB
import SwitchyardCore

/// What usage can be grouped and filtered by.
public enum UsageDimension: String, Sendable, CaseIterable {
    case key, user, endUser = "end_user", team, org, model, requestedModel = "requested_model", provider, deployment, day, endpoint, status

    /// The SQL expression of the dimension (fixed strings, never user input).
    var sql: String {
        switch self {
        case .key: "subject"
        case .user: "userID"
        case .endUser: "endUser"
        case .team: "teamID"
        case .org: "orgID"
        case .model: "modelGroup"
        case .requestedModel: "requestedModel"
        case .provider: "provider"
        case .deployment: "deployment"
        case .day: "date(ts, 'unixepoch')"
        case .endpoint: "endpoint"
        case .status: "status"
        }
    }

    init?(budgetScope: BudgetScope) {
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

extension UsageLedger {
    /// Usage grouped as asked, biggest spenders first, and the overall totals. Flushes first so
    /// a request that just finished is counted.
    public func usage(_ query: UsageQuery) async throws -> (rows: [UsageTotals], totals: UsageTotals) {
        try await flush()
        let database = try self.database()
        var conditions: [String] = []
        var arguments: [any DatabaseValueConvertible] = []
        if let from = query.from {
            conditions.append("ts >= ?")
            arguments.append(from)
        }
        if let to = query.to {
            conditions.append("ts < ?")
            arguments.append(to)
        }
        for (dimension, value) in query.filters {
            conditions.append("\(dimension.sql) = ?")
            arguments.append(value)
        }
        let whereClause = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
        let aggregates =
            "COUNT(*), SUM(CASE WHEN status >= 400 OR outcome != 'success' THEN 1 ELSE 0 END), SUM(promptTokens), SUM(completionTokens), "
            + "SUM(cachedTokens), SUM(reasoningTokens), TOTAL(cost)"
        let groups = query.groupBy.map(\.sql)
        let dimensions = query.groupBy
        let select = (groups + [aggregates]).joined(separator: ", ")
        let sql =
            "SELECT \(select) FROM usage_records\(whereClause)"
            + " GROUP BY \(groups.joined(separator: ", ")) ORDER BY TOTAL(cost) DESC, COUNT(*) DESC LIMIT \(query.limit)"
        let totalsSQL = "SELECT \(aggregates) FROM usage_records\(whereClause)"
        let statementArguments = StatementArguments(arguments) ?? StatementArguments()
        return try await database.pool.read { db in
            func totals(_ row: Row, offset: Int) -> UsageTotals {
                var totals = UsageTotals()
                totals.requests = row[offset] ?? 0
                totals.errors = row[offset + 1] ?? 0
                totals.promptTokens = row[offset + 2] ?? 0
                totals.completionTokens = row[offset + 3] ?? 0
                totals.cachedTokens = row[offset + 4] ?? 0
                totals.reasoningTokens = row[offset + 5] ?? 0
                totals.cost = row[offset + 6] ?? 0
                return totals
            }
            var rows: [UsageTotals] = []
            if !groups.isEmpty {
                for row in try Row.fetchAll(db, sql: sql, arguments: statementArguments) {
                    var entry = totals(row, offset: groups.count)
                    for (index, dimension) in dimensions.enumerated() {
                        let value: DatabaseValue = row[index]
                        entry.group[dimension.rawValue] = value.isNull ? nil : String(describing: value.storage.value ?? "")
                    }
                    rows.append(entry)
                }
            }
            let overall = try Row.fetchOne(db, sql: totalsSQL, arguments: statementArguments).map { totals($0, offset: 0) } ?? UsageTotals()
            return (rows, overall)
        }
    }

    /// USD spent by one budget owner since `since` (Unix seconds): seeds budget counters.
    public func spend(scope: BudgetScope, value: String, since: Int64) async throws -> Double {
        try await flush()
        let database = try self.database()
        return try await database.pool.read { db in
            if let dimension = UsageDimension(budgetScope: scope) {
                return try Double.fetchOne(
                    db, sql: "SELECT TOTAL(cost) FROM usage_records WHERE \(dimension.sql) = ? AND ts >= ?", arguments: [value, Double(since)])
                    ?? 0
            }
            return try Double.fetchOne(db, sql: "SELECT TOTAL(cost) FROM usage_records WHERE ts >= ?", arguments: [Double(since)]) ?? 0
        }
    }

    /// Number of records in the ledger (tests, diagnostics).
    public func count() async throws -> Int {
        try await flush()
        return try await database().pool.read { db in try UsageRecord.fetchCount(db) }
    }
}

import GRDB
import SwitchyardCore

extension UsageRecord: FetchableRecord, PersistableRecord {
    public static let databaseTableName = "usage_records"
}

extension UsageDimension {
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

}

/// The usage ledger's table in the embedded SQLite database.
public struct SQLiteUsageStore: UsageStore {
    let database: SwitchyardDatabase

    public init(database: SwitchyardDatabase) {
        self.database = database
    }

    static let insertSQL = """
        INSERT OR IGNORE INTO usage_records (id, ts, identityKind, subject, userID, endUser, teamID, orgID, endpoint, requestedModel,
            modelGroup, deployment, provider, servedModel, status, outcome, errorCode, stream, promptTokens, completionTokens, cachedTokens,
            cacheWriteTokens, reasoningTokens, cost, durationMs, ttftMs, attempts, limitedBy)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """

    /// One prepared statement for the whole batch (Codable encoding per record cost more than
    /// the write itself).
    public func insert(_ records: [UsageRecord]) async throws {
        guard !records.isEmpty else { return }
        try await database.pool.write { db in
            let statement = try db.cachedStatement(sql: Self.insertSQL)
            for r in records {
                let values: [(any DatabaseValueConvertible)?] = [
                    r.id, r.ts, r.identityKind, r.subject, r.userID, r.endUser, r.teamID, r.orgID, r.endpoint, r.requestedModel, r.modelGroup,
                    r.deployment, r.provider, r.servedModel, r.status, r.outcome, r.errorCode, r.stream, r.promptTokens, r.completionTokens,
                    r.cachedTokens, r.cacheWriteTokens, r.reasoningTokens, r.cost, r.durationMs, r.ttftMs, r.attempts, r.limitedBy,
                ]
                try statement.execute(arguments: StatementArguments(values))
            }
        }
    }

    public func contains(id: String) async throws -> Bool {
        try await database.pool.read { db in try UsageRecord.exists(db, key: id) }
    }

    public func usage(_ query: UsageQuery) async throws -> (rows: [UsageTotals], totals: UsageTotals) {
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

    public func spend(scope: BudgetScope, value: String, since: Int64) async throws -> Double {
        return try await database.pool.read { db in
            if let dimension = UsageDimension(budgetScope: scope) {
                return try Double.fetchOne(
                    db, sql: "SELECT TOTAL(cost) FROM usage_records WHERE \(dimension.sql) = ? AND ts >= ?", arguments: [value, Double(since)])
                    ?? 0
            }
            return try Double.fetchOne(db, sql: "SELECT TOTAL(cost) FROM usage_records WHERE ts >= ?", arguments: [Double(since)]) ?? 0
        }
    }

    public func count() async throws -> Int {
        try await database.pool.read { db in try UsageRecord.fetchCount(db) }
    }
}

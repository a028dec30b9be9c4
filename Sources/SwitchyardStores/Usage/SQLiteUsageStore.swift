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
        case .outcome: "outcome"
        case .cache: "cache"
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
            cacheWriteTokens, reasoningTokens, cost, durationMs, ttftMs, attempts, limitedBy, cache, savedCost, upstreamMs, guardrails,
            clientRequestID, usageSource)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """
    static let insertLogSQL = "INSERT OR IGNORE INTO request_logs (id, ts, detail, requestBody, responseBody) VALUES (?, ?, ?, ?, ?)"

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
                    r.cache, r.savedCost, r.upstreamMs, r.guardrails, r.clientRequestID, r.usageSource,
                ]
                try statement.execute(arguments: StatementArguments(values))
                if let detail = r.detail {
                    try db.cachedStatement(sql: Self.insertLogSQL).execute(arguments: [r.id, r.ts, detail, r.requestBody, r.responseBody])
                }
            }
        }
    }

    public func contains(id: String) async throws -> Bool {
        try await database.pool.read { db in try UsageRecord.exists(db, key: id) }
    }

    public func usage(_ query: UsageQuery) async throws -> (rows: [UsageTotals], totals: UsageTotals) {
        let (conditions, arguments) = Self.conditions(query)
        let whereClause = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
        let aggregates = Self.aggregates
        let groups = query.groupBy.map(\.sql)
        let dimensions = query.groupBy
        let select = (groups + [aggregates]).joined(separator: ", ")
        let sql =
            "SELECT \(select) FROM usage_records\(whereClause)"
            + " GROUP BY \(groups.joined(separator: ", ")) ORDER BY TOTAL(cost) DESC, COUNT(*) DESC LIMIT \(query.limit)"
        let totalsSQL = "SELECT \(aggregates) FROM usage_records\(whereClause)"
        let statementArguments = StatementArguments(arguments) ?? StatementArguments()
        return try await database.pool.read { db in
            let totals: (Row, Int) -> UsageTotals = { Self.totals($0, offset: $1) }
            var rows: [UsageTotals] = []
            if !groups.isEmpty {
                for row in try Row.fetchAll(db, sql: sql, arguments: statementArguments) {
                    var entry = totals(row, groups.count)
                    for (index, dimension) in dimensions.enumerated() {
                        let value: DatabaseValue = row[index]
                        entry.group[dimension.rawValue] = value.isNull ? nil : String(describing: value.storage.value ?? "")
                    }
                    rows.append(entry)
                }
            }
            let overall = try Row.fetchOne(db, sql: totalsSQL, arguments: statementArguments).map { totals($0, 0) } ?? UsageTotals()
            return (rows, overall)
        }
    }

    /// The totals of one group, in the order ``totals(_:offset:)`` reads them.
    static let aggregates =
        "COUNT(*), SUM(CASE WHEN status >= 400 OR outcome != 'success' THEN 1 ELSE 0 END), SUM(promptTokens), SUM(completionTokens), "
        + "SUM(cachedTokens), SUM(reasoningTokens), TOTAL(cost), SUM(CASE WHEN cache IN ('hit', 'semantic-hit') THEN 1 ELSE 0 END), "
        + "TOTAL(savedCost)"

    static func totals(_ row: Row, offset: Int) -> UsageTotals {
        var totals = UsageTotals()
        totals.requests = row[offset] ?? 0
        totals.errors = row[offset + 1] ?? 0
        totals.promptTokens = row[offset + 2] ?? 0
        totals.completionTokens = row[offset + 3] ?? 0
        totals.cachedTokens = row[offset + 4] ?? 0
        totals.reasoningTokens = row[offset + 5] ?? 0
        totals.cost = row[offset + 6] ?? 0
        totals.cacheHits = row[offset + 7] ?? 0
        totals.savedCost = row[offset + 8] ?? 0
        return totals
    }

    /// The WHERE clause and its arguments for a query's range and filters.
    static func conditions(_ query: UsageQuery) -> (conditions: [String], arguments: [any DatabaseValueConvertible]) {
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
            conditions.append(dimension.sql + " = ?")
            arguments.append(value)
        }
        for dimension in query.absent { conditions.append(dimension.sql + " IS NULL") }
        return (conditions, arguments)
    }

    public func logs(_ query: RequestLogQuery) async throws -> [UsageRecord] {
        var (conditions, arguments) = Self.conditions(query.usage)
        if query.errorsOnly { conditions.append("(status >= 400 OR outcome != 'success')") }
        if let (ts, id) = query.before {
            conditions.append("(ts < ? OR (ts = ? AND id < ?))")
            arguments.append(contentsOf: [ts, ts, id] as [any DatabaseValueConvertible])
        }
        let whereClause = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
        let sql =
            "SELECT u.*, (SELECT detail FROM request_logs l WHERE l.id = u.id) AS detail FROM usage_records u\(whereClause)"
            + " ORDER BY ts DESC, id DESC LIMIT \(max(1, min(query.limit, 1000)))"
        let statementArguments = StatementArguments(arguments) ?? StatementArguments()
        return try await database.pool.read { db in try UsageRecord.fetchAll(db, sql: sql, arguments: statementArguments) }
    }

    public func log(id: String) async throws -> UsageRecord? {
        try await database.pool.read { db in
            try UsageRecord.fetchOne(
                db,
                sql:
                    "SELECT u.*, l.detail, l.requestBody, l.responseBody FROM usage_records u LEFT JOIN request_logs l ON l.id = u.id WHERE u.id = ?",
                arguments: [id])
        }
    }

    public func latencySamples(_ query: UsageQuery, by dimension: UsageDimension?, limit: Int) async throws -> [LatencySample] {
        let (conditions, arguments) = Self.conditions(query)
        let whereClause = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
        let group = dimension.map(\.sql) ?? "NULL"
        let sql = "SELECT \(group), durationMs, ttftMs, upstreamMs FROM usage_records\(whereClause) ORDER BY ts DESC LIMIT \(max(1, limit))"
        let statementArguments = StatementArguments(arguments) ?? StatementArguments()
        return try await database.pool.read { db in
            try Row.fetchAll(db, sql: sql, arguments: statementArguments).map { row in
                let value: DatabaseValue = row[0]
                return LatencySample(
                    group: value.isNull ? nil : String(describing: value.storage.value ?? ""), durationMs: row[1] ?? 0, ttftMs: row[2],
                    upstreamMs: row[3])
            }
        }
    }

    public func timeSeries(_ query: UsageQuery, bucketSeconds: Int) async throws -> [UsageTotals] {
        let (conditions, arguments) = Self.conditions(query)
        let whereClause = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
        let bucket = "CAST(ts / \(max(1, bucketSeconds)) AS INTEGER) * \(max(1, bucketSeconds))"
        let groups = [bucket] + query.groupBy.map(\.sql)
        let sql =
            "SELECT \(groups.joined(separator: ", ")), \(Self.aggregates) FROM usage_records\(whereClause)"
            + " GROUP BY \((1...groups.count).map(String.init).joined(separator: ", ")) ORDER BY 1 LIMIT \(max(1, query.limit))"
        let statementArguments = StatementArguments(arguments) ?? StatementArguments()
        let dimensions = query.groupBy
        return try await database.pool.read { db in
            try Row.fetchAll(db, sql: sql, arguments: statementArguments).map { row in
                var entry = Self.totals(row, offset: groups.count)
                entry.group["bucket"] = String(row[0] as Int64)
                for (index, dimension) in dimensions.enumerated() {
                    let value: DatabaseValue = row[index + 1]
                    entry.group[dimension.rawValue] = value.isNull ? nil : String(describing: value.storage.value ?? "")
                }
                return entry
            }
        }
    }

    public func purgeLogs(before: Double) async throws -> Int {
        try await database.pool.write { db in
            try db.execute(sql: "DELETE FROM request_logs WHERE ts < ?", arguments: [before])
            return db.changesCount
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

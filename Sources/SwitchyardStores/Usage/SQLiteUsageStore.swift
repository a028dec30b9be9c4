import GRDB
import GRDBSQLite
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

    static let usageColumns = [
        "id", "ts", "identityKind", "subject", "userID", "endUser", "teamID", "orgID", "endpoint", "requestedModel", "modelGroup",
        "deployment", "provider", "servedModel", "status", "outcome", "errorCode", "stream", "promptTokens", "completionTokens",
        "cachedTokens", "cacheWriteTokens", "reasoningTokens", "cost", "durationMs", "ttftMs", "attempts", "limitedBy", "cache",
        "savedCost", "upstreamMs", "guardrails", "clientRequestID", "usageSource",
    ]
    static let logColumns = ["id", "ts", "detail", "requestBody", "responseBody"]
    /// Rows per multi-row INSERT: 16 x 34 parameters stays far below SQLite's limit, and one
    /// statement step per 16 rows opens the table's and the seven indexes' cursors once.
    static let rowsPerStatement = 16
    /// `INSERT OR IGNORE ... VALUES (...), (...)` for 1...rowsPerStatement rows, built once.
    static let usageInserts = (0...rowsPerStatement).map { insertSQL(table: "usage_records", columns: usageColumns, rows: $0) }
    static let logInserts = (0...rowsPerStatement).map { insertSQL(table: "request_logs", columns: logColumns, rows: $0) }

    static func insertSQL(table: String, columns: [String], rows: Int) -> String {
        let row = "(" + Array(repeating: "?", count: columns.count).joined(separator: ",") + ")"
        return "INSERT OR IGNORE INTO \(table) (\(columns.joined(separator: ", "))) VALUES "
            + Array(repeating: row, count: max(1, rows)).joined(separator: ",")
    }

    /// One transaction for the whole batch, multi-row statements from GRDB's statement cache,
    /// values bound straight into SQLite (boxing 34 values a record into `StatementArguments`
    /// cost more than SQLite's own work). The request log detail goes to `request_logs` in the
    /// same transaction, so a batch is committed whole or not at all.
    public func insert(_ records: [UsageRecord]) async throws {
        guard !records.isEmpty else { return }
        try await database.pool.write { db in
            try Self.insertRows(records[...], into: Self.usageInserts, db: db, bind: Self.bindUsage)
            let logged = records.filter { $0.detail != nil }
            if !logged.isEmpty { try Self.insertRows(logged[...], into: Self.logInserts, db: db, bind: Self.bindLog) }
        }
    }

    static func bindUsage(_ row: inout RowBinder, _ r: UsageRecord) {
        row.text(r.id)
        row.real(r.ts)
        row.text(r.identityKind)
        row.text(r.subject)
        row.text(r.userID)
        row.text(r.endUser)
        row.text(r.teamID)
        row.text(r.orgID)
        row.text(r.endpoint)
        row.text(r.requestedModel)
        row.text(r.modelGroup)
        row.text(r.deployment)
        row.text(r.provider)
        row.text(r.servedModel)
        row.integer(r.status)
        row.text(r.outcome)
        row.text(r.errorCode)
        row.integer(r.stream ? 1 : 0)
        row.integer(r.promptTokens)
        row.integer(r.completionTokens)
        row.integer(r.cachedTokens)
        row.integer(r.cacheWriteTokens)
        row.integer(r.reasoningTokens)
        row.real(r.cost)
        row.real(r.durationMs)
        row.real(r.ttftMs)
        row.integer(r.attempts)
        row.text(r.limitedBy)
        row.text(r.cache)
        row.real(r.savedCost)
        row.real(r.upstreamMs)
        row.text(r.guardrails)
        row.text(r.clientRequestID)
        row.text(r.usageSource)
    }

    static func bindLog(_ row: inout RowBinder, _ r: UsageRecord) {
        row.text(r.id)
        row.real(r.ts)
        row.text(r.detail)
        row.text(r.requestBody)
        row.text(r.responseBody)
    }

    /// Inserts `records` with the statements of `inserts` (indexed by row count), in chunks.
    static func insertRows(
        _ records: ArraySlice<UsageRecord>, into inserts: [String], db: Database, bind: (inout RowBinder, UsageRecord) -> Void
    ) throws {
        var start = records.startIndex
        while start < records.endIndex {
            let end = min(start + rowsPerStatement, records.endIndex)
            let statement = try db.cachedStatement(sql: inserts[end - start])
            let handle = statement.sqliteStatement
            sqlite3_reset(handle)
            var binder = RowBinder(statement: handle)
            for record in records[start..<end] { bind(&binder, record) }
            let code = sqlite3_step(handle)
            sqlite3_reset(handle)
            guard code == SQLITE_DONE else {
                throw DatabaseError(
                    resultCode: ResultCode(rawValue: code), message: db.sqliteConnection.map { String(cString: sqlite3_errmsg($0)) },
                    sql: inserts[end - start])
            }
            start = end
        }
    }

    /// Binds a statement's parameters in order (SQLite copies every text: `SQLITE_TRANSIENT`).
    struct RowBinder {
        let statement: SQLiteStatement
        var index: Int32 = 0
        static var transient: sqlite3_destructor_type { unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self) }

        mutating func text(_ value: String?) {
            index += 1
            guard var value else {
                sqlite3_bind_null(statement, index)
                return
            }
            let index = self.index
            value.withUTF8 { bytes in
                if let base = bytes.baseAddress {
                    _ = base.withMemoryRebound(to: CChar.self, capacity: bytes.count) {
                        sqlite3_bind_text(statement, index, $0, Int32(bytes.count), Self.transient)
                    }
                } else {
                    _ = sqlite3_bind_text(statement, index, "", 0, Self.transient)
                }
            }
        }

        mutating func integer(_ value: Int) {
            index += 1
            sqlite3_bind_int64(statement, index, Int64(value))
        }

        mutating func real(_ value: Double?) {
            index += 1
            if let value { sqlite3_bind_double(statement, index, value) } else { sqlite3_bind_null(statement, index) }
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

import PostgresNIO
import SwitchyardCore

extension UsageDimension {
    /// The dimension as a PostgreSQL text expression (fixed strings, never user input).
    var postgresSQL: String {
        switch self {
        case .key: "subject"
        case .user: "user_id"
        case .endUser: "end_user"
        case .team: "team_id"
        case .org: "org_id"
        case .model: "model_group"
        case .requestedModel: "requested_model"
        case .provider: "provider"
        case .deployment: "deployment"
        case .day: "to_char(to_timestamp(ts) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
        case .endpoint: "endpoint"
        case .status: "status::text"
        }
    }
}

/// The usage ledger's table in PostgreSQL (`usage_records`), shared by every instance.
///
/// The ledger hands over batches; each becomes multi-row `INSERT … ON CONFLICT (id) DO NOTHING`
/// statements of at most ``rowsPerStatement`` rows, in one transaction, so a replayed batch
/// inserts nothing twice. Queries group by the same dimensions as ``SQLiteUsageStore``, with
/// days in UTC.
public struct PostgresUsageStore: UsageStore {
    let database: PostgresBackend
    /// Rows per INSERT: 28 parameters each, well under PostgreSQL's 65,535.
    static let rowsPerStatement = 1000

    public init(database: PostgresBackend) {
        self.database = database
    }

    static let columns = [
        "id", "ts", "identity_kind", "subject", "user_id", "end_user", "team_id", "org_id", "endpoint", "requested_model", "model_group",
        "deployment", "provider", "served_model", "status", "outcome", "error_code", "stream", "prompt_tokens", "completion_tokens",
        "cached_tokens", "cache_write_tokens", "reasoning_tokens", "cost", "duration_ms", "ttft_ms", "attempts", "limited_by",
    ]

    public func insert(_ records: [UsageRecord]) async throws {
        guard !records.isEmpty else { return }
        var statements: [PostgresQuery] = []
        var start = records.startIndex
        while start < records.endIndex {
            let end = min(start + Self.rowsPerStatement, records.endIndex)
            statements.append(Self.insertStatement(records[start..<end]))
            start = end
        }
        if statements.count == 1 {
            _ = try await database.rows(statements[0])
            return
        }
        let logger = database.logger
        // A second more per statement of a large batch (a journal backlog) beyond operation_timeout.
        try await database.transaction(extra: .seconds(statements.count)) { [statements] connection in
            for statement in statements { try await connection.query(statement, logger: logger) }
        }
    }

    static func insertStatement(_ records: ArraySlice<UsageRecord>) -> PostgresQuery {
        var binds = PostgresBindings(capacity: records.count * columns.count)
        var rows: [String] = []
        rows.reserveCapacity(records.count)
        for record in records {
            let first = binds.count + 1
            binds.append(record.id)
            binds.append(record.ts)
            binds.append(record.identityKind)
            binds.append(record.subject)
            binds.append(record.userID)
            binds.append(record.endUser)
            binds.append(record.teamID)
            binds.append(record.orgID)
            binds.append(record.endpoint)
            binds.append(record.requestedModel)
            binds.append(record.modelGroup)
            binds.append(record.deployment)
            binds.append(record.provider)
            binds.append(record.servedModel)
            binds.append(Int32(clamping: record.status))
            binds.append(record.outcome)
            binds.append(record.errorCode)
            binds.append(record.stream)
            binds.append(Int64(record.promptTokens))
            binds.append(Int64(record.completionTokens))
            binds.append(Int64(record.cachedTokens))
            binds.append(Int64(record.cacheWriteTokens))
            binds.append(Int64(record.reasoningTokens))
            binds.append(record.cost)
            binds.append(record.durationMs)
            binds.append(record.ttftMs)
            binds.append(Int32(clamping: record.attempts))
            binds.append(record.limitedBy)
            rows.append("(" + (first..<binds.count + 1).map { "$\($0)" }.joined(separator: ",") + ")")
        }
        let sql =
            "INSERT INTO usage_records (\(columns.joined(separator: ", "))) VALUES \(rows.joined(separator: ", ")) ON CONFLICT (id) DO NOTHING"
        return PostgresQuery(unsafeSQL: sql, binds: binds)
    }

    public func contains(id: String) async throws -> Bool {
        var binds = PostgresBindings()
        binds.append(id)
        let rows = try await database.rows(PostgresQuery(unsafeSQL: "SELECT EXISTS (SELECT 1 FROM usage_records WHERE id = $1)", binds: binds))
        return try rows.first?.decode(Bool.self) ?? false
    }

    /// The totals of one group, in the order ``totals(_:offset:)`` reads them.
    static let aggregates =
        "COUNT(*), COALESCE(SUM(CASE WHEN status >= 400 OR outcome <> 'success' THEN 1 ELSE 0 END), 0), "
        + "COALESCE(SUM(prompt_tokens), 0)::bigint, COALESCE(SUM(completion_tokens), 0)::bigint, "
        + "COALESCE(SUM(cached_tokens), 0)::bigint, COALESCE(SUM(reasoning_tokens), 0)::bigint, COALESCE(SUM(cost), 0)"

    public func usage(_ query: UsageQuery) async throws -> (rows: [UsageTotals], totals: UsageTotals) {
        var conditions: [String] = []
        var binds = PostgresBindings()
        if let from = query.from {
            binds.append(from)
            conditions.append("ts >= $\(binds.count)")
        }
        if let to = query.to {
            binds.append(to)
            conditions.append("ts < $\(binds.count)")
        }
        for (dimension, value) in query.filters {
            binds.append(value)
            conditions.append("\(dimension.postgresSQL) = $\(binds.count)")
        }
        let whereClause = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
        let overall = try await database.rows(
            PostgresQuery(unsafeSQL: "SELECT \(Self.aggregates) FROM usage_records\(whereClause)", binds: binds)
        ).first.map { try Self.totals($0.makeRandomAccess(), offset: 0) }
        var rows: [UsageTotals] = []
        if !query.groupBy.isEmpty {
            let groups = query.groupBy.map(\.postgresSQL)
            var groupBinds = binds
            groupBinds.append(Int64(max(0, query.limit)))
            let sql =
                "SELECT \((groups + [Self.aggregates]).joined(separator: ", ")) FROM usage_records\(whereClause)"
                + " GROUP BY \((1...groups.count).map(String.init).joined(separator: ", "))"
                + " ORDER BY COALESCE(SUM(cost), 0) DESC, COUNT(*) DESC LIMIT $\(groupBinds.count)"
            for row in try await database.rows(PostgresQuery(unsafeSQL: sql, binds: groupBinds)) {
                let cells = row.makeRandomAccess()
                var entry = try Self.totals(cells, offset: groups.count)
                for (index, dimension) in query.groupBy.enumerated() {
                    entry.group[dimension.rawValue] = .some(try cells[index].decode(String?.self))
                }
                rows.append(entry)
            }
        }
        return (rows, overall ?? UsageTotals())
    }

    static func totals(_ cells: PostgresRandomAccessRow, offset: Int) throws -> UsageTotals {
        var totals = UsageTotals()
        totals.requests = try cells[offset].decode(Int.self)
        totals.errors = try cells[offset + 1].decode(Int.self)
        totals.promptTokens = try cells[offset + 2].decode(Int.self)
        totals.completionTokens = try cells[offset + 3].decode(Int.self)
        totals.cachedTokens = try cells[offset + 4].decode(Int.self)
        totals.reasoningTokens = try cells[offset + 5].decode(Int.self)
        totals.cost = try cells[offset + 6].decode(Double.self)
        return totals
    }

    public func spend(scope: BudgetScope, value: String, since: Int64) async throws -> Double {
        var binds = PostgresBindings()
        binds.append(Double(since))
        var sql = "SELECT COALESCE(SUM(cost), 0) FROM usage_records WHERE ts >= $1"
        if let dimension = UsageDimension(budgetScope: scope) {
            binds.append(value)
            sql += " AND \(dimension.postgresSQL) = $2"
        }
        return try await database.rows(PostgresQuery(unsafeSQL: sql, binds: binds)).first?.decode(Double.self) ?? 0
    }

    public func count() async throws -> Int {
        try await database.rows("SELECT COUNT(*) FROM usage_records").first?.decode(Int.self) ?? 0
    }
}

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
        case .outcome: "outcome"
        case .cache: "cache"
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
    /// Rows per INSERT: 34 parameters each, well under PostgreSQL's 65,535.
    static let rowsPerStatement = 1000

    public init(database: PostgresBackend) {
        self.database = database
    }

    static let columns = [
        "id", "ts", "identity_kind", "subject", "user_id", "end_user", "team_id", "org_id", "endpoint", "requested_model", "model_group",
        "deployment", "provider", "served_model", "status", "outcome", "error_code", "stream", "prompt_tokens", "completion_tokens",
        "cached_tokens", "cache_write_tokens", "reasoning_tokens", "cost", "duration_ms", "ttft_ms", "attempts", "limited_by",
        "cache", "saved_cost", "upstream_ms", "guardrails", "client_request_id", "usage_source",
    ]

    public func insert(_ records: [UsageRecord]) async throws {
        guard !records.isEmpty else { return }
        var statements: [PostgresQuery] = []
        var start = records.startIndex
        while start < records.endIndex {
            let end = min(start + Self.rowsPerStatement, records.endIndex)
            statements.append(Self.insertStatement(records[start..<end]))
            if let logs = Self.insertLogStatement(records[start..<end]) { statements.append(logs) }
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
            binds.append(record.cache)
            binds.append(record.savedCost)
            binds.append(record.upstreamMs)
            binds.append(record.guardrails)
            binds.append(record.clientRequestID)
            binds.append(record.usageSource)
            rows.append("(" + (first..<binds.count + 1).map { "$\($0)" }.joined(separator: ",") + ")")
        }
        let sql =
            "INSERT INTO usage_records (\(columns.joined(separator: ", "))) VALUES \(rows.joined(separator: ", ")) ON CONFLICT (id) DO NOTHING"
        return PostgresQuery(unsafeSQL: sql, binds: binds)
    }

    /// The request log detail of the records that carry one; nil when none does.
    static func insertLogStatement(_ records: ArraySlice<UsageRecord>) -> PostgresQuery? {
        var binds = PostgresBindings()
        var rows: [String] = []
        for record in records {
            guard let detail = record.detail else { continue }
            let first = binds.count + 1
            binds.append(record.id)
            binds.append(record.ts)
            binds.append(detail)
            binds.append(record.requestBody)
            binds.append(record.responseBody)
            rows.append("(" + (first..<binds.count + 1).map { "$\($0)" }.joined(separator: ",") + ")")
        }
        guard !rows.isEmpty else { return nil }
        return PostgresQuery(
            unsafeSQL: "INSERT INTO request_logs (id, ts, detail, request_body, response_body) VALUES \(rows.joined(separator: ", "))"
                + " ON CONFLICT (id) DO NOTHING",
            binds: binds)
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
        + "COALESCE(SUM(cached_tokens), 0)::bigint, COALESCE(SUM(reasoning_tokens), 0)::bigint, COALESCE(SUM(cost), 0), "
        + "COALESCE(SUM(CASE WHEN cache IN ('hit', 'semantic-hit') THEN 1 ELSE 0 END), 0), COALESCE(SUM(saved_cost), 0)"

    /// The WHERE conditions and binds for a query's range and filters.
    static func conditions(_ query: UsageQuery) -> (conditions: [String], binds: PostgresBindings) {
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
        for dimension in query.absent { conditions.append("\(dimension.postgresSQL) IS NULL") }
        return (conditions, binds)
    }

    public func usage(_ query: UsageQuery) async throws -> (rows: [UsageTotals], totals: UsageTotals) {
        let (conditions, binds) = Self.conditions(query)
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
        totals.cacheHits = try cells[offset + 7].decode(Int.self)
        totals.savedCost = try cells[offset + 8].decode(Double.self)
        return totals
    }

    static let recordColumns = columns.map { "u." + $0 }.joined(separator: ", ")

    /// A usage row (``columns`` in order), then detail and bodies when selected.
    static func record(_ row: PostgresRow) throws -> UsageRecord {
        let cells = row.makeRandomAccess()
        var record = UsageRecord(
            id: try cells[0].decode(String.self), ts: try cells[1].decode(Double.self), identityKind: try cells[2].decode(String.self),
            subject: try cells[3].decode(String.self), endpoint: try cells[8].decode(String.self), status: try cells[14].decode(Int.self),
            outcome: try cells[15].decode(String.self))
        record.userID = try cells[4].decode(String?.self)
        record.endUser = try cells[5].decode(String?.self)
        record.teamID = try cells[6].decode(String?.self)
        record.orgID = try cells[7].decode(String?.self)
        record.requestedModel = try cells[9].decode(String?.self)
        record.modelGroup = try cells[10].decode(String?.self)
        record.deployment = try cells[11].decode(String?.self)
        record.provider = try cells[12].decode(String?.self)
        record.servedModel = try cells[13].decode(String?.self)
        record.errorCode = try cells[16].decode(String?.self)
        record.stream = try cells[17].decode(Bool.self)
        record.promptTokens = try cells[18].decode(Int.self)
        record.completionTokens = try cells[19].decode(Int.self)
        record.cachedTokens = try cells[20].decode(Int.self)
        record.cacheWriteTokens = try cells[21].decode(Int.self)
        record.reasoningTokens = try cells[22].decode(Int.self)
        record.cost = try cells[23].decode(Double?.self)
        record.durationMs = try cells[24].decode(Double.self)
        record.ttftMs = try cells[25].decode(Double?.self)
        record.attempts = try cells[26].decode(Int.self)
        record.limitedBy = try cells[27].decode(String?.self)
        record.cache = try cells[28].decode(String?.self)
        record.savedCost = try cells[29].decode(Double?.self)
        record.upstreamMs = try cells[30].decode(Double?.self)
        record.guardrails = try cells[31].decode(String?.self)
        record.clientRequestID = try cells[32].decode(String?.self)
        record.usageSource = try cells[33].decode(String?.self)
        if cells.count > 34 { record.detail = try cells[34].decode(String?.self) }
        if cells.count > 36 {
            record.requestBody = try cells[35].decode(String?.self)
            record.responseBody = try cells[36].decode(String?.self)
        }
        return record
    }

    public func logs(_ query: RequestLogQuery) async throws -> [UsageRecord] {
        var (conditions, binds) = Self.conditions(query.usage)
        if query.errorsOnly { conditions.append("(status >= 400 OR outcome <> 'success')") }
        if let (ts, id) = query.before {
            binds.append(ts)
            let tsIndex = binds.count
            binds.append(id)
            conditions.append("(u.ts < $\(tsIndex) OR (u.ts = $\(tsIndex) AND u.id < $\(binds.count)))")
        }
        let whereClause = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
        let sql =
            "SELECT \(Self.recordColumns), (SELECT detail FROM request_logs l WHERE l.id = u.id) FROM usage_records u\(whereClause)"
            + " ORDER BY u.ts DESC, u.id DESC LIMIT \(max(1, min(query.limit, 1000)))"
        return try await database.rows(PostgresQuery(unsafeSQL: sql, binds: binds)).map(Self.record)
    }

    public func log(id: String) async throws -> UsageRecord? {
        var binds = PostgresBindings()
        binds.append(id)
        let sql =
            "SELECT \(Self.recordColumns), l.detail, l.request_body, l.response_body FROM usage_records u"
            + " LEFT JOIN request_logs l ON l.id = u.id WHERE u.id = $1"
        return try await database.rows(PostgresQuery(unsafeSQL: sql, binds: binds)).first.map(Self.record)
    }

    public func latencySamples(_ query: UsageQuery, by dimension: UsageDimension?, limit: Int) async throws -> [LatencySample] {
        let (conditions, filterBinds) = Self.conditions(query)
        let whereClause = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
        var binds = filterBinds
        binds.append(Int64(max(1, limit)))
        let sql =
            "SELECT \(dimension.map(\.postgresSQL) ?? "NULL::text"), duration_ms, ttft_ms, upstream_ms FROM usage_records\(whereClause)"
            + " ORDER BY ts DESC LIMIT $\(binds.count)"
        return try await database.rows(PostgresQuery(unsafeSQL: sql, binds: binds)).map { row in
            let cells = row.makeRandomAccess()
            return LatencySample(
                group: try cells[0].decode(String?.self), durationMs: try cells[1].decode(Double.self), ttftMs: try cells[2].decode(Double?.self),
                upstreamMs: try cells[3].decode(Double?.self))
        }
    }

    public func timeSeries(_ query: UsageQuery, bucketSeconds: Int) async throws -> [UsageTotals] {
        let (conditions, filterBinds) = Self.conditions(query)
        let whereClause = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
        var binds = filterBinds
        let width = max(1, bucketSeconds)
        let groups = ["(floor(ts / \(width)) * \(width))::bigint"] + query.groupBy.map(\.postgresSQL)
        binds.append(Int64(max(1, query.limit)))
        let sql =
            "SELECT \(groups.joined(separator: ", ")), \(Self.aggregates) FROM usage_records\(whereClause)"
            + " GROUP BY \((1...groups.count).map(String.init).joined(separator: ", ")) ORDER BY 1 LIMIT $\(binds.count)"
        return try await database.rows(PostgresQuery(unsafeSQL: sql, binds: binds)).map { row in
            let cells = row.makeRandomAccess()
            var entry = try Self.totals(cells, offset: groups.count)
            entry.group["bucket"] = String(try cells[0].decode(Int64.self))
            for (index, dimension) in query.groupBy.enumerated() {
                entry.group[dimension.rawValue] = .some(try cells[index + 1].decode(String?.self))
            }
            return entry
        }
    }

    public func purgeLogs(before: Double) async throws -> Int {
        var binds = PostgresBindings()
        binds.append(before)
        let rows = try await database.rows(
            PostgresQuery(unsafeSQL: "WITH gone AS (DELETE FROM request_logs WHERE ts < $1 RETURNING 1) SELECT COUNT(*) FROM gone", binds: binds))
        return try rows.first?.decode(Int.self) ?? 0
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

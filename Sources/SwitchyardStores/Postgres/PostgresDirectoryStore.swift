import PostgresNIO
import SwitchyardCore

/// Organisations, teams and users in PostgreSQL (`directory`), shared by every instance.
public struct PostgresDirectoryStore: DirectoryStore {
    let database: PostgresBackend

    public init(database: PostgresBackend) {
        self.database = database
    }

    static let columns =
        "kind, id, name, parent_id, tier, models::text, roles::text, budget_amount, budget_period, metadata::text, created_at, updated_at"

    public func save(_ entry: DirectoryEntry) async throws -> DirectoryEntry {
        var entry = entry
        entry.updatedAt = WallClock.unixTime()
        let models = PostgresKeyStore.json(entry.models)
        let roles = PostgresKeyStore.json(entry.roles)
        let metadata = PostgresKeyStore.json(entry.metadata)
        // An existing entry keeps its creation time.
        let rows = try await database.rows(
            """
            INSERT INTO directory (kind, id, name, parent_id, tier, models, roles, budget_amount, budget_period, metadata, created_at, updated_at)
            VALUES (\(entry.kind.rawValue), \(entry.id), \(entry.name), \(entry.parentID), \(entry.tier), \(models)::jsonb, \(roles)::jsonb,
                \(entry.budgetAmount), \(entry.budgetPeriod), \(metadata)::jsonb, \(entry.createdAt), \(entry.updatedAt))
            ON CONFLICT (kind, id) DO UPDATE SET name = EXCLUDED.name, parent_id = EXCLUDED.parent_id, tier = EXCLUDED.tier,
                models = EXCLUDED.models, roles = EXCLUDED.roles, budget_amount = EXCLUDED.budget_amount,
                budget_period = EXCLUDED.budget_period, metadata = EXCLUDED.metadata, updated_at = EXCLUDED.updated_at
            RETURNING created_at
            """)
        if let row = rows.first { entry.createdAt = try row.makeRandomAccess()[0].decode(Double.self) }
        return entry
    }

    public func all() async throws -> [DirectoryEntry] {
        try await database.rows(PostgresQuery(unsafeSQL: "SELECT \(Self.columns) FROM directory ORDER BY kind, id")).map(Self.entry)
    }

    public func delete(kind: DirectoryEntry.Kind, id: String) async throws -> Bool {
        let rows = try await database.rows("DELETE FROM directory WHERE kind = \(kind.rawValue) AND id = \(id) RETURNING id")
        return !rows.isEmpty
    }

    static func entry(_ row: PostgresRow) throws -> DirectoryEntry {
        let cells = row.makeRandomAccess()
        guard let kind = DirectoryEntry.Kind(rawValue: try cells[0].decode(String.self)) else { throw PostgresStoreError.corrupt("directory.kind") }
        var entry = DirectoryEntry(kind: kind, id: try cells[1].decode(String.self))
        entry.name = try cells[2].decode(String?.self)
        entry.parentID = try cells[3].decode(String?.self)
        entry.tier = try cells[4].decode(String?.self)
        entry.models = try PostgresKeyStore.strings(cells[5].decode(String?.self), column: "models")
        entry.roles = try PostgresKeyStore.strings(cells[6].decode(String?.self), column: "roles")
        entry.budgetAmount = try cells[7].decode(Double?.self)
        entry.budgetPeriod = try cells[8].decode(String?.self)
        entry.metadata = try PostgresKeyStore.dictionary(cells[9].decode(String.self))
        entry.createdAt = try cells[10].decode(Double.self)
        entry.updatedAt = try cells[11].decode(Double.self)
        return entry
    }
}

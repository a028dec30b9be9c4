import GRDB
import SwitchyardCore

extension DirectoryEntry: FetchableRecord, PersistableRecord {
    public static let databaseTableName = "directory"
}

/// Organisations, teams and users in the embedded SQLite database.
public struct SQLiteDirectoryStore: DirectoryStore {
    let database: SwitchyardDatabase

    public init(database: SwitchyardDatabase) {
        self.database = database
    }

    public func save(_ entry: DirectoryEntry) async throws -> DirectoryEntry {
        try await database.pool.write { db in
            var entry = entry
            if let existing = try DirectoryEntry.filter(Column("kind") == entry.kind.rawValue && Column("id") == entry.id).fetchOne(db) {
                entry.createdAt = existing.createdAt
            }
            entry.updatedAt = WallClock.unixTime()
            try entry.save(db)
            return entry
        }
    }

    public func all() async throws -> [DirectoryEntry] {
        try await database.pool.read { db in try DirectoryEntry.order(Column("kind"), Column("id")).fetchAll(db) }
    }

    public func delete(kind: DirectoryEntry.Kind, id: String) async throws -> Bool {
        try await database.pool.write { db in
            try DirectoryEntry.filter(Column("kind") == kind.rawValue && Column("id") == id).deleteAll(db) > 0
        }
    }
}

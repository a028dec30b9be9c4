import Foundation
import GRDB
import SwitchyardCore
import Synchronization

/// The response cache in a SQLite file of its own (`cache.backend: sqlite`): entries survive a
/// restart, stay bounded by `cache.max_size` (least recently stored go first) and expire with
/// their TTL. The semantic index is kept in the same file, so near-duplicate answers survive
/// a restart too. One instance per file; several instances share a cache through Redis.
public final class SQLiteCacheBackend: CacheBackend, SemanticStore {
    public let path: String
    let pool: DatabasePool
    let maxBytes: Int
    /// Bytes stored, as far as this process knows (trimmed every `trimInterval` stores).
    private let stores = Mutex(0)
    static let trimInterval = 64

    public init(path: String, maxBytes: Int) throws {
        self.path = path
        self.maxBytes = maxBytes
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        SwitchyardDatabase.createPrivately(path)
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        pool = try DatabasePool(path: path, configuration: configuration)
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: response cache") { db in
            try db.create(table: "cache_entries") { table in
                table.column("digest", .text).notNull()
                table.column("partition", .text).notNull()
                table.column("namespace", .text).notNull()
                table.column("model", .text).notNull()
                table.column("metadata", .text).notNull()
                table.column("body", .blob).notNull()
                table.column("size", .integer).notNull()
                table.column("createdAt", .double).notNull()
                table.column("expiresAt", .double).notNull()
                table.primaryKey(["digest", "partition", "namespace", "model"])
            }
            try db.create(index: "cache_entries_created", on: "cache_entries", columns: ["createdAt"])
            try db.create(table: "semantic_entries") { table in
                table.autoIncrementedPrimaryKey("seq")
                table.column("context", .text).notNull()
                table.column("vector", .blob).notNull()
                table.column("digest", .text).notNull()
                table.column("partition", .text).notNull()
                table.column("namespace", .text).notNull()
                table.column("model", .text).notNull()
            }
        }
        try migrator.migrate(pool)
    }

    public func get(_ key: CacheKey) async throws -> CachedResponse? {
        let now = WallClock.unixTime()
        return try await pool.read { db in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT metadata, body FROM cache_entries
                        WHERE digest = ? AND partition = ? AND namespace = ? AND model = ? AND expiresAt > ?
                        """, arguments: [key.digest, key.partition, key.namespace, key.model, now]),
                let metadata = (try? JSONValue.parse(Array((row["metadata"] as String).utf8)))?.objectValue
            else { return nil }
            let body: Data = row["body"]
            return CachedResponse(metadata: metadata, body: Array(body))
        }
    }

    public func set(_ key: CacheKey, _ value: CachedResponse, ttl: Duration) async throws {
        let now = WallClock.unixTime()
        let expires = now + Double(ttl.components.seconds) + Double(ttl.components.attoseconds) / 1e18
        let metadata = JSONValue.object(value.metadata).serialized()
        let trim = stores.withLock { count -> Bool in
            count += 1
            return count % Self.trimInterval == 1
        }
        let maxBytes = self.maxBytes
        try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO cache_entries (digest, partition, namespace, model, metadata, body, size, createdAt, expiresAt)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [key.digest, key.partition, key.namespace, key.model, metadata, Data(value.body), value.size, value.createdAt, expires])
            guard trim else { return }
            try db.execute(sql: "DELETE FROM cache_entries WHERE expiresAt <= ?", arguments: [now])
            var total = try Int.fetchOne(db, sql: "SELECT COALESCE(SUM(size), 0) FROM cache_entries") ?? 0
            while total > maxBytes {
                // The oldest tenth at a time, until the cache fits.
                let rows = try Row.fetchAll(
                    db, sql: "SELECT rowid, size FROM cache_entries ORDER BY createdAt LIMIT MAX(1, (SELECT COUNT(*) FROM cache_entries) / 10)")
                guard !rows.isEmpty else { break }
                for row in rows {
                    try db.execute(sql: "DELETE FROM cache_entries WHERE rowid = ?", arguments: [row["rowid"] as Int64])
                    total -= row["size"] as Int
                    if total <= maxBytes { break }
                }
            }
        }
    }

    public func invalidate(partition: String?, namespace: String?, model: String?, olderThan: Double?) async throws -> Int {
        var conditions: [String] = []
        var arguments: [(any DatabaseValueConvertible)?] = []
        if let partition {
            conditions.append("partition = ?")
            arguments.append(partition)
        }
        if let namespace {
            conditions.append("namespace = ?")
            arguments.append(namespace)
        }
        if let model {
            conditions.append("model = ?")
            arguments.append(model)
        }
        if let olderThan {
            conditions.append("createdAt < ?")
            arguments.append(olderThan)
        }
        let filter = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
        let statementArguments = StatementArguments(arguments)
        return try await pool.write { db in
            try db.execute(sql: "DELETE FROM cache_entries" + filter, arguments: statementArguments)
            return db.changesCount
        }
    }

    public func loadSemanticEntries(limit: Int) async throws -> [(probe: SemanticProbe, key: CacheKey)] {
        try await pool.read { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT * FROM (SELECT context, vector, digest, partition, namespace, model, seq FROM semantic_entries
                    ORDER BY seq DESC LIMIT ?) ORDER BY seq
                    """, arguments: [limit])
            return rows.map { row in
                let data: Data = row["vector"]
                let vector = data.withUnsafeBytes { raw in Array(raw.bindMemory(to: Float.self)) }
                return (
                    SemanticProbe(context: row["context"], vector: vector),
                    CacheKey(digest: row["digest"], partition: row["partition"], namespace: row["namespace"], model: row["model"])
                )
            }
        }
    }

    public func sharedSemanticEntries(context: String) async throws -> [(vector: [Float], key: CacheKey)]? { nil }

    public func saveSemanticEntry(_ probe: SemanticProbe, key: CacheKey, maxEntries: Int, ttl: Duration) async throws {
        let vector = probe.vector.withUnsafeBufferPointer { Data(buffer: $0) }
        try await pool.write { db in
            try db.execute(
                sql: "INSERT INTO semantic_entries (context, vector, digest, partition, namespace, model) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [probe.context, vector, key.digest, key.partition, key.namespace, key.model])
            let newest = db.lastInsertedRowID
            if newest % 64 == 0 {
                try db.execute(sql: "DELETE FROM semantic_entries WHERE seq <= ?", arguments: [newest - Int64(maxEntries)])
            }
        }
    }

    /// Entries stored now (for tests and diagnostics).
    public func count() async throws -> Int {
        try await pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM cache_entries") ?? 0 }
    }
}

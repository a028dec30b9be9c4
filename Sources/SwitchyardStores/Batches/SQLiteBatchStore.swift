import Foundation
import GRDB
import SwitchyardCore

/// Files' metadata, batches and the outcome of each batch line in the embedded SQLite database.
public struct SQLiteBatchStore: BatchStore {
    let database: SwitchyardDatabase

    public init(database: SwitchyardDatabase) {
        self.database = database
    }

    static func createTables(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE files (
                    id TEXT PRIMARY KEY, owner TEXT NOT NULL, teamID TEXT, purpose TEXT NOT NULL, filename TEXT NOT NULL,
                    bytes INTEGER NOT NULL, createdAt DOUBLE NOT NULL, expiresAt DOUBLE);
                CREATE INDEX files_owner ON files(owner);
                CREATE INDEX files_teamID ON files(teamID);
                CREATE TABLE batches (
                    id TEXT PRIMARY KEY, owner TEXT NOT NULL, teamID TEXT, identity TEXT NOT NULL, endpoint TEXT NOT NULL,
                    inputFileID TEXT NOT NULL, completionWindow TEXT NOT NULL, status TEXT NOT NULL, outputFileID TEXT, errorFileID TEXT,
                    createdAt DOUBLE NOT NULL, expiresAt DOUBLE NOT NULL, inProgressAt DOUBLE, finalizingAt DOUBLE, completedAt DOUBLE,
                    failedAt DOUBLE, expiredAt DOUBLE, cancellingAt DOUBLE, cancelledAt DOUBLE,
                    total INTEGER NOT NULL, completed INTEGER NOT NULL, failed INTEGER NOT NULL, metadata TEXT NOT NULL, errors TEXT NOT NULL);
                CREATE INDEX batches_owner ON batches(owner);
                CREATE INDEX batches_status ON batches(status);
                CREATE TABLE batch_lines (
                    batchID TEXT NOT NULL, line INTEGER NOT NULL, state TEXT NOT NULL, customID TEXT, result BLOB,
                    PRIMARY KEY (batchID, line)) WITHOUT ROWID;
                """)
    }

    // MARK: Files

    public func insertFile(_ file: StoredFile) async throws {
        try await database.pool.write { db in try Self.insert(file, db) }
    }

    static func insert(_ file: StoredFile, _ db: Database) throws {
        try db.execute(
            sql: """
                INSERT OR REPLACE INTO files (id, owner, teamID, purpose, filename, bytes, createdAt, expiresAt)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [file.id, file.owner.subject, file.owner.teamID, file.purpose, file.filename, file.bytes, file.createdAt, file.expiresAt])
    }

    public func file(id: String) async throws -> StoredFile? {
        try await database.pool.read { db in try Row.fetchOne(db, sql: "SELECT * FROM files WHERE id = ?", arguments: [id]).map(Self.file) }
    }

    public func files(visibleTo identity: Identity, purpose: String?, after: String?, limit: Int, ascending: Bool) async throws -> [StoredFile] {
        try await visible("files", to: identity, purpose: purpose, after: after, limit: limit, ascending: ascending, Self.file)
    }

    /// A page of `table`'s rows that `identity` may see (its own and its team's), in the order
    /// they were made, after the row with id `after`.
    private func visible<Value: Sendable>(
        _ table: String, to identity: Identity, purpose: String? = nil, after: String?, limit: Int, ascending: Bool,
        _ value: @escaping @Sendable (Row) -> Value
    ) async throws -> [Value] {
        let owner = ResourceOwner(identity)
        var sql = "SELECT * FROM \(table) WHERE (owner = ? OR (teamID IS NOT NULL AND teamID = ?))"
        var arguments: StatementArguments = [owner.subject, owner.teamID]
        if let purpose {
            sql += " AND purpose = ?"
            arguments += [purpose]
        }
        if let after {
            sql += " AND rowid \(ascending ? ">" : "<") (SELECT rowid FROM \(table) WHERE id = ?)"
            arguments += [after]
        }
        sql += " ORDER BY rowid \(ascending ? "ASC" : "DESC") LIMIT ?"
        arguments += [limit]
        let (query, values) = (sql, arguments)
        return try await database.pool.read { db in try Row.fetchAll(db, sql: query, arguments: values).map(value) }
    }

    public func deleteFile(id: String) async throws -> Bool {
        try await database.pool.write { db in
            try db.execute(sql: "DELETE FROM files WHERE id = ?", arguments: [id])
            return db.changesCount > 0
        }
    }

    static func file(_ row: Row) -> StoredFile {
        StoredFile(
            id: row["id"], owner: ResourceOwner(subject: row["owner"], teamID: row["teamID"]), purpose: row["purpose"], filename: row["filename"],
            bytes: row["bytes"], createdAt: row["createdAt"], expiresAt: row["expiresAt"])
    }

    // MARK: Batches

    public func insertBatch(_ batch: BatchJob) async throws {
        try await database.pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO batches (id, owner, teamID, identity, endpoint, inputFileID, completionWindow, status, createdAt, expiresAt,
                        total, completed, failed, metadata, errors)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    batch.id, batch.owner.subject, batch.owner.teamID, batch.identity, batch.endpoint, batch.inputFileID, batch.completionWindow,
                    batch.status.rawValue, batch.createdAt, batch.expiresAt, batch.total, batch.completed, batch.failed,
                    Self.metadataText(batch.metadata), Self.errorsText(batch.errors),
                ])
        }
    }

    public func updateBatch(_ batch: BatchJob) async throws {
        try await database.pool.write { db in try Self.update(batch, db) }
    }

    static func update(_ batch: BatchJob, _ db: Database) throws {
        try db.execute(
            sql: """
                UPDATE batches SET status = ?, outputFileID = ?, errorFileID = ?, inProgressAt = ?, finalizingAt = ?, completedAt = ?,
                    failedAt = ?, expiredAt = ?, cancellingAt = ?, cancelledAt = ?, total = ?, errors = ?, native = ?
                WHERE id = ?
                """,
            arguments: [
                batch.status.rawValue, batch.outputFileID, batch.errorFileID, batch.inProgressAt, batch.finalizingAt, batch.completedAt,
                batch.failedAt, batch.expiredAt, batch.cancellingAt, batch.cancelledAt, batch.total, errorsText(batch.errors),
                batch.native?.json.serialized(), batch.id,
            ])
    }

    public func batch(id: String) async throws -> BatchJob? {
        try await database.pool.read { db in try Row.fetchOne(db, sql: "SELECT * FROM batches WHERE id = ?", arguments: [id]).map(Self.batch) }
    }

    public func batches(visibleTo identity: Identity, after: String?, limit: Int) async throws -> [BatchJob] {
        try await visible("batches", to: identity, after: after, limit: limit, ascending: false, Self.batch)
    }

    public func activeBatches() async throws -> [BatchJob] {
        let statuses = BatchStatus.allCases.filter(\.isActive).map { "'\($0.rawValue)'" }.joined(separator: ", ")
        return try await database.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM batches WHERE status IN (\(statuses)) ORDER BY rowid").map(Self.batch)
        }
    }

    static func batch(_ row: Row) -> BatchJob {
        var batch = BatchJob(
            id: row["id"], owner: ResourceOwner(subject: row["owner"], teamID: row["teamID"]), identity: row["identity"], endpoint: row["endpoint"],
            inputFileID: row["inputFileID"], completionWindow: row["completionWindow"], createdAt: row["createdAt"], expiresAt: row["expiresAt"])
        batch.status = BatchStatus(rawValue: row["status"]) ?? .failed
        batch.outputFileID = row["outputFileID"]
        batch.errorFileID = row["errorFileID"]
        batch.inProgressAt = row["inProgressAt"]
        batch.finalizingAt = row["finalizingAt"]
        batch.completedAt = row["completedAt"]
        batch.failedAt = row["failedAt"]
        batch.expiredAt = row["expiredAt"]
        batch.cancellingAt = row["cancellingAt"]
        batch.cancelledAt = row["cancelledAt"]
        batch.total = row["total"]
        batch.completed = row["completed"]
        batch.failed = row["failed"]
        let metadata: String = row["metadata"]
        for member in (try? JSONValue.parse(metadata))?.objectValue?.members ?? [] {
            if let value = member.value.stringValue { batch.metadata[member.key] = value }
        }
        if let native: String = row["native"], let value = try? JSONValue.parse(native) { batch.native = NativeBatchRecord(json: value) }
        let errors: String = row["errors"]
        batch.errors = ((try? JSONValue.parse(errors))?.arrayValue ?? []).compactMap { error in
            guard let code = error["code"]?.stringValue, let message = error["message"]?.stringValue else { return nil }
            return BatchJob.BatchError(code: code, message: message, line: error["line"]?.intValue)
        }
        return batch
    }

    static func metadataText(_ metadata: [String: String]) -> String {
        JSONValue.object(JSONObject(metadata.sorted { $0.key < $1.key }.map { (key: $0.key, value: JSONValue.string($0.value)) })).serialized()
    }

    static func errorsText(_ errors: [BatchJob.BatchError]) -> String {
        JSONValue.array(
            errors.map { error in
                ["code": .string(error.code), "message": .string(error.message), "line": error.line.map { JSONValue($0) } ?? .null]
            }
        ).serialized()
    }

    // MARK: Lines

    public func startLine(batchID: String, line: Int, customID: String) async throws {
        try await database.pool.write { db in
            try db.execute(
                sql: "INSERT OR IGNORE INTO batch_lines (batchID, line, state, customID) VALUES (?, ?, ?, ?)",
                arguments: [batchID, line, BatchLineState.started.rawValue, customID])
        }
    }

    public func unfinishedLines(batchID: String) async throws -> [(line: Int, customID: String)] {
        try await database.pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT line, customID FROM batch_lines WHERE batchID = ? AND state = ? ORDER BY line",
                arguments: [batchID, BatchLineState.started.rawValue]
            ).map { row in (line: row["line"], customID: row["customID"] ?? "") }
        }
    }

    public func finishLine(batchID: String, line: Int, succeeded: Bool, result: [UInt8]) async throws {
        let state = succeeded ? BatchLineState.succeeded : .failed
        try await database.pool.write { db in
            let previous = try String.fetchOne(db, sql: "SELECT state FROM batch_lines WHERE batchID = ? AND line = ?", arguments: [batchID, line])
            // A line is counted once, however often its result is written.
            guard previous == nil || previous == BatchLineState.started.rawValue else { return }
            try db.execute(
                sql: "INSERT OR REPLACE INTO batch_lines (batchID, line, state, result) VALUES (?, ?, ?, ?)",
                arguments: [batchID, line, state.rawValue, Data(result)])
            try db.execute(
                sql: "UPDATE batches SET \(succeeded ? "completed = completed + 1" : "failed = failed + 1") WHERE id = ?", arguments: [batchID])
        }
    }

    public func lineStates(batchID: String) async throws -> [Int: BatchLineState] {
        try await database.pool.read { db in
            var states: [Int: BatchLineState] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT line, state FROM batch_lines WHERE batchID = ?", arguments: [batchID]) {
                states[row["line"]] = BatchLineState(rawValue: row["state"]) ?? .started
            }
            return states
        }
    }

    public func lineResults(batchID: String, succeeded: Bool, afterLine: Int, limit: Int) async throws -> [(line: Int, result: [UInt8])] {
        let state = succeeded ? BatchLineState.succeeded : .failed
        return try await database.pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT line, result FROM batch_lines WHERE batchID = ? AND state = ? AND line > ? ORDER BY line LIMIT ?",
                arguments: [batchID, state.rawValue, afterLine, limit]
            ).map { row in
                let result: Data = row["result"]
                return (line: row["line"], result: Array(result))
            }
        }
    }

    public func finish(_ batch: BatchJob, files: [StoredFile]) async throws {
        try await database.pool.write { db in
            for file in files { try Self.insert(file, db) }
            try Self.update(batch, db)
            try db.execute(sql: "DELETE FROM batch_lines WHERE batchID = ?", arguments: [batch.id])
        }
    }
}

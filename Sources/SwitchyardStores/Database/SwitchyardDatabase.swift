import Foundation
import GRDB

/// The embedded SQLite database (WAL): virtual keys and the usage ledger, with versioned
/// migrations applied on open. Created with its directory on first use.
public final class SwitchyardDatabase: Sendable {
    public let path: String
    let pool: DatabasePool

    public init(path: String) throws {
        self.path = path
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        Self.createPrivately(path)
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        pool = try DatabasePool(path: path, configuration: configuration)
        try Self.migrator.migrate(pool)
    }

    /// Creates `path` empty with mode 0600 when it does not exist yet, before SQLite opens it:
    /// key hashes, usage, audit records and cached answers are no one else's to read, and
    /// SQLite gives its `-wal` and `-shm` files the database file's mode. An existing file
    /// keeps the mode its operator gave it.
    public static func createPrivately(_ path: String) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if descriptor >= 0 { close(descriptor) }
    }

    /// Every schema version, in order. Never edit a registered migration: add one.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: virtual keys") { db in
            try db.create(table: "virtual_keys") { table in
                table.primaryKey("id", .text)
                table.column("name", .text).notNull()
                table.column("keyHash", .text).notNull().unique()
                table.column("hint", .text).notNull()
                table.column("createdAt", .double).notNull()
                table.column("expiresAt", .double)
                table.column("revokedAt", .double)
                table.column("rotatedAt", .double)
                table.column("organizationID", .text)
                table.column("teamID", .text)
                table.column("userID", .text)
                table.column("models", .text)
                table.column("endpoints", .text)
                table.column("tier", .text)
                table.column("regions", .text)
                table.column("metadata", .text).notNull()
            }
        }
        migrator.registerMigration("v2: key budgets") { db in
            try db.alter(table: "virtual_keys") { table in
                table.add(column: "budgetAmount", .double)
                table.add(column: "budgetPeriod", .text)
            }
        }
        migrator.registerMigration("v3: usage ledger") { db in
            try db.create(table: "usage_records") { table in
                table.primaryKey("id", .text)
                table.column("ts", .double).notNull()
                table.column("identityKind", .text).notNull()
                table.column("subject", .text).notNull()
                table.column("userID", .text)
                table.column("endUser", .text)
                table.column("teamID", .text)
                table.column("orgID", .text)
                table.column("endpoint", .text).notNull()
                table.column("requestedModel", .text)
                table.column("modelGroup", .text)
                table.column("deployment", .text)
                table.column("provider", .text)
                table.column("servedModel", .text)
                table.column("status", .integer).notNull()
                table.column("outcome", .text).notNull()
                table.column("errorCode", .text)
                table.column("stream", .boolean).notNull()
                table.column("promptTokens", .integer).notNull()
                table.column("completionTokens", .integer).notNull()
                table.column("cachedTokens", .integer).notNull()
                table.column("cacheWriteTokens", .integer).notNull()
                table.column("reasoningTokens", .integer).notNull()
                table.column("cost", .double)
                table.column("durationMs", .double).notNull()
                table.column("ttftMs", .double)
                table.column("attempts", .integer).notNull()
                table.column("limitedBy", .text)
            }
            try db.create(index: "usage_records_ts", on: "usage_records", columns: ["ts"])
            for column in ["subject", "userID", "endUser", "teamID", "orgID"] {
                try db.create(index: "usage_records_\(column)_ts", on: "usage_records", columns: [column, "ts"])
            }
        }
        migrator.registerMigration("v4: key roles") { db in
            try db.alter(table: "virtual_keys") { table in table.add(column: "roles", .text) }
        }
        migrator.registerMigration("v5: audit trail") { db in
            try db.create(table: "audit_events") { table in
                table.column("seq", .integer).notNull().unique()
                table.column("ts", .double).notNull()
                table.column("kind", .text).notNull()
                table.column("action", .text).notNull()
                table.column("actor", .text).notNull()
                table.column("outcome", .text).notNull()
                table.column("target", .text)
                table.column("reason", .text)
                table.column("requestID", .text)
                table.column("details", .text).notNull()
                table.column("prevMac", .text).notNull()
                table.column("mac", .text).notNull()
            }
            try db.create(index: "audit_events_kind", on: "audit_events", columns: ["kind", "seq"])
        }
        migrator.registerMigration("v6: organisations, teams and users") { db in
            try db.create(table: "directory") { table in
                table.column("kind", .text).notNull()
                table.column("id", .text).notNull()
                table.column("name", .text)
                table.column("parentID", .text)
                table.column("tier", .text)
                table.column("models", .text)
                table.column("roles", .text)
                table.column("budgetAmount", .double)
                table.column("budgetPeriod", .text)
                table.column("metadata", .text).notNull()
                table.column("createdAt", .double).notNull()
                table.column("updatedAt", .double).notNull()
                table.primaryKey(["kind", "id"])
            }
        }
        migrator.registerMigration("v7: request log") { db in
            try db.alter(table: "usage_records") { table in
                table.add(column: "cache", .text)
                table.add(column: "savedCost", .double)
                table.add(column: "upstreamMs", .double)
                table.add(column: "guardrails", .text)
            }
            try db.create(index: "usage_records_modelGroup_ts", on: "usage_records", columns: ["modelGroup", "ts"])
            try db.create(table: "request_logs") { table in
                table.primaryKey("id", .text)
                table.column("ts", .double).notNull()
                table.column("detail", .text).notNull()
                table.column("requestBody", .text)
                table.column("responseBody", .text)
            }
            try db.create(index: "request_logs_ts", on: "request_logs", columns: ["ts"])
        }
        migrator.registerMigration("v8: client request ids") { db in
            // The record id is the gateway's; the client's x-request-id is kept beside it.
            try db.alter(table: "usage_records") { table in table.add(column: "clientRequestID", .text) }
        }
        migrator.registerMigration("v9: usage source") { db in
            try db.execute(sql: "ALTER TABLE usage_records ADD COLUMN usageSource TEXT")
        }
        migrator.registerMigration("v10: files and batches") { db in
            try SQLiteBatchStore.createTables(db)
        }
        migrator.registerMigration("v11: native batches") { db in
            // The provider batch a batch was handed to (see NativeBatchRecord).
            try db.execute(sql: "ALTER TABLE batches ADD COLUMN native TEXT")
        }
        return migrator
    }
}

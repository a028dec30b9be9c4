import Crypto
import Foundation
import GRDB
import SwitchyardCore

extension VirtualKey: FetchableRecord, PersistableRecord {
    public static let databaseTableName = "virtual_keys"
}

/// HMAC-SHA256 of keys under the server's key secret, shared by every key store.
public struct KeyHasher: Sendable {
    private let secret: SymmetricKey

    public init(secret: String) {
        self.secret = SymmetricKey(data: Array(secret.utf8))
    }

    public func hash(_ key: String) -> String {
        VirtualKeyFormat.hex(HMAC<SHA256>.authenticationCode(for: Array(key.utf8), using: secret))
    }

    /// The secret in `path`, or a new one written there with owner-only permissions.
    public static func loadOrCreateSecret(path: String) throws -> String {
        if let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8), text.count >= 32 {
            return text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let secret = VirtualKeyFormat.randomHex(32)
        guard FileManager.default.createFile(atPath: path, contents: Data(secret.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw KeyStoreError.invalid("cannot write the key secret to \(path)")
        }
        return secret
    }
}

/// Virtual keys in SQLite (WAL), in the embedded database.
public final class SQLiteKeyStore: KeyStore {
    public static let prefix = VirtualKeyFormat.prefix
    let database: DatabasePool
    let hasher: KeyHasher

    /// Opens (or creates) the database at `path`. The hashing secret is `secret` when given,
    /// else read from (or created in) `<path>.secret` with owner-only permissions.
    public convenience init(path: String, secret: String? = nil) throws {
        try self.init(database: SwitchyardDatabase(path: path), secret: secret)
    }

    public init(database: SwitchyardDatabase, secret: String? = nil) throws {
        self.database = database.pool
        hasher = KeyHasher(secret: try secret ?? KeyHasher.loadOrCreateSecret(path: database.path + ".secret"))
    }

    func hash(_ key: String) -> String { hasher.hash(key) }

    public func create(_ options: KeyOptions) async throws -> (key: VirtualKey, plaintext: String) {
        let plaintext = VirtualKeyFormat.generate()
        let record = try VirtualKeyFormat.record(
            options, id: VirtualKeyFormat.generateID(), keyHash: hash(plaintext), hint: VirtualKeyFormat.hint(plaintext))
        try await database.write { db in try record.insert(db) }
        return (record, plaintext)
    }

    public func list() async throws -> [VirtualKey] {
        try await database.read { db in try VirtualKey.order(Column("createdAt")).fetchAll(db) }
    }

    public func find(id: String) async throws -> VirtualKey? {
        try await database.read { db in try VirtualKey.fetchOne(db, key: id) }
    }

    public func revoke(id: String) async throws -> VirtualKey {
        try await database.write { db in
            guard var key = try VirtualKey.fetchOne(db, key: id) else { throw KeyStoreError.notFound(id) }
            if key.revokedAt == nil {
                key.revokedAt = WallClock.unixTime()
                try key.update(db)
            }
            return key
        }
    }

    public func rotate(id: String) async throws -> (key: VirtualKey, plaintext: String) {
        let plaintext = VirtualKeyFormat.generate()
        let hashed = hash(plaintext)
        let key = try await database.write { db in
            guard var key = try VirtualKey.fetchOne(db, key: id) else { throw KeyStoreError.notFound(id) }
            guard key.revokedAt == nil else { throw KeyStoreError.invalid("key '\(id)' is revoked") }
            key.keyHash = hashed
            key.hint = VirtualKeyFormat.hint(plaintext)
            key.rotatedAt = WallClock.unixTime()
            try key.update(db)
            return key
        }
        return (key, plaintext)
    }

    public func authenticate(_ presented: String) async throws -> KeyVerdict {
        guard presented.hasPrefix(VirtualKeyFormat.prefix) else { return .unknown }
        let hashed = hash(presented)
        let key = try await database.read { db in try VirtualKey.filter(Column("keyHash") == hashed).fetchOne(db) }
        return VirtualKeyFormat.verdict(key, expectedHash: hashed)
    }
}

import Crypto
import Foundation
import GRDB
import SwitchyardCore

/// A virtual key as stored: never the key itself, only its keyed hash and a short hint.
public struct VirtualKey: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "virtual_keys"

    public var id: String
    public var name: String
    /// HMAC-SHA256 of the key under the server's key secret, hex.
    public var keyHash: String
    /// `sk-sy-…` plus the last four characters, to recognise a key in lists.
    public var hint: String
    public var createdAt: Double
    public var expiresAt: Double?
    public var revokedAt: Double?
    public var rotatedAt: Double?
    public var organizationID: String?
    public var teamID: String?
    public var userID: String?
    /// Model groups this key may call; nil is every model.
    public var models: [String]?
    /// Endpoints (`chat_completions`, `completions`, `embeddings`, `messages`); nil is all.
    public var endpoints: [String]?
    public var tier: String?
    public var regions: [String]?
    public var metadata: [String: String]
    /// The key's own spending cap in USD per `budgetPeriod`.
    public var budgetAmount: Double?
    public var budgetPeriod: String?

    public var budget: BudgetLimit? {
        guard let budgetAmount else { return nil }
        return BudgetLimit(amount: budgetAmount, period: budgetPeriod.flatMap(BudgetPeriod.init(rawValue:)) ?? .monthly)
    }

    /// The identity requests made with this key run as.
    public var identity: Identity {
        var attributes = metadata
        if let tier { attributes["tier"] = tier }
        var identity = Identity(
            kind: .virtualKey, subject: id, organizationID: organizationID, teamID: teamID, userID: userID, roles: ["developer"],
            attributes: attributes)
        identity.allowedModels = models
        identity.allowedEndpoints = endpoints
        identity.allowedRegions = regions
        identity.budget = budget
        return identity
    }

    /// The JSON shown by the admin API and the CLI (no hash).
    public var json: JSONValue {
        var object: JSONObject = [
            "id": .string(id), "name": .string(name), "hint": .string(hint), "created_at": JSONValue(createdAt),
            "status": .string(revokedAt != nil ? "revoked" : (expiresAt.map { $0 <= WallClock.unixTime() } == true ? "expired" : "active")),
            "metadata": .object(JSONObject(metadata.sorted { $0.key < $1.key }.map { (key: $0.key, value: JSONValue.string($0.value)) })),
        ]
        object["expires_at"] = expiresAt.map { JSONValue($0) } ?? .null
        object["revoked_at"] = revokedAt.map { JSONValue($0) } ?? .null
        object["organization_id"] = organizationID.map(JSONValue.string) ?? .null
        object["team_id"] = teamID.map(JSONValue.string) ?? .null
        object["user_id"] = userID.map(JSONValue.string) ?? .null
        object["models"] = models.map { .array($0.map(JSONValue.string)) } ?? .null
        object["endpoints"] = endpoints.map { .array($0.map(JSONValue.string)) } ?? .null
        object["tier"] = tier.map(JSONValue.string) ?? .null
        object["regions"] = regions.map { .array($0.map(JSONValue.string)) } ?? .null
        object["budget"] = budget.map { ["amount": JSONValue($0.amount), "period": .string($0.period.rawValue)] } ?? .null
        return .object(object)
    }
}

/// What a new key may do.
public struct KeyOptions: Sendable {
    public var name: String
    public var expiresAt: Double?
    public var organizationID: String?
    public var teamID: String?
    public var userID: String?
    public var models: [String]?
    public var endpoints: [String]?
    public var tier: String?
    public var regions: [String]?
    public var metadata: [String: String] = [:]
    public var budget: BudgetLimit?

    public init(name: String) {
        self.name = name
    }

    /// A key lifetime such as `30d`, `12h` or `90m`, in seconds.
    public static func parseLifetime(_ text: String) -> Double? {
        if text.hasSuffix("d"), let days = Double(text.dropLast()), days > 0 { return days * 86_400 }
        guard let duration = ConfigUnits.parseDuration(text), duration > .zero else { return nil }
        return Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}

public enum KeyStoreError: Error, Equatable, CustomStringConvertible {
    case notFound(String)
    case invalid(String)

    public var description: String {
        switch self {
        case .notFound(let id): "no key with id '\(id)'"
        case .invalid(let detail): detail
        }
    }
}

/// Virtual keys in SQLite (WAL), created with its schema on first use.
///
/// Keys are `sk-sy-` plus 48 random hex digits. Only an HMAC-SHA256 of the key under a server
/// secret is stored, so a copied database file reveals no usable key and cannot be brute-forced
/// offline without the secret. Lookups go by that hash; the final comparison is constant-time.
public final class SQLiteKeyStore: Sendable {
    public static let prefix = "sk-sy-"
    let database: DatabasePool
    private let secret: SymmetricKey

    /// Opens (or creates) the database at `path`. The hashing secret is `secret` when given,
    /// else read from (or created in) `<path>.secret` with owner-only permissions.
    public convenience init(path: String, secret: String? = nil) throws {
        try self.init(database: SwitchyardDatabase(path: path), secret: secret)
    }

    public init(database: SwitchyardDatabase, secret: String? = nil) throws {
        self.database = database.pool
        let keySecret = try secret ?? Self.loadOrCreateSecret(path: database.path + ".secret")
        self.secret = SymmetricKey(data: Array(keySecret.utf8))
    }

    static func loadOrCreateSecret(path: String) throws -> String {
        if let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8), text.count >= 32 {
            return text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let secret = randomHex(32)
        guard FileManager.default.createFile(atPath: path, contents: Data(secret.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw KeyStoreError.invalid("cannot write the key secret to \(path)")
        }
        return secret
    }

    static func randomHex(_ bytes: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<bytes).map { _ in
            let byte = UInt8.random(in: 0...255, using: &generator)
            return byte < 16 ? "0" + String(byte, radix: 16) : String(byte, radix: 16)
        }.joined()
    }

    func hash(_ key: String) -> String {
        HMAC<SHA256>.authenticationCode(for: Array(key.utf8), using: secret).map { byte in
            byte < 16 ? "0" + String(byte, radix: 16) : String(byte, radix: 16)
        }.joined()
    }

    static func hint(_ key: String) -> String { prefix + "…" + key.suffix(4) }

    /// Creates a key; the returned plaintext is shown once and never stored.
    public func create(_ options: KeyOptions) throws -> (key: VirtualKey, plaintext: String) {
        guard !options.name.isEmpty else { throw KeyStoreError.invalid("a key needs a name") }
        let plaintext = Self.prefix + Self.randomHex(24)
        let record = VirtualKey(
            id: "key_" + Self.randomHex(8), name: options.name, keyHash: hash(plaintext), hint: Self.hint(plaintext),
            createdAt: WallClock.unixTime(), expiresAt: options.expiresAt, revokedAt: nil, rotatedAt: nil,
            organizationID: options.organizationID, teamID: options.teamID, userID: options.userID, models: options.models,
            endpoints: options.endpoints, tier: options.tier, regions: options.regions, metadata: options.metadata,
            budgetAmount: options.budget?.amount, budgetPeriod: options.budget?.period.rawValue)
        try database.write { db in try record.insert(db) }
        return (record, plaintext)
    }

    public func list() throws -> [VirtualKey] {
        try database.read { db in try VirtualKey.order(Column("createdAt")).fetchAll(db) }
    }

    public func find(id: String) throws -> VirtualKey? {
        try database.read { db in try VirtualKey.fetchOne(db, key: id) }
    }

    public func revoke(id: String) throws -> VirtualKey {
        try database.write { db in
            guard var key = try VirtualKey.fetchOne(db, key: id) else { throw KeyStoreError.notFound(id) }
            if key.revokedAt == nil {
                key.revokedAt = WallClock.unixTime()
                try key.update(db)
            }
            return key
        }
    }

    /// Replaces a key's secret: the old key stops working at once, everything else stays.
    public func rotate(id: String) throws -> (key: VirtualKey, plaintext: String) {
        let plaintext = Self.prefix + Self.randomHex(24)
        let hashed = hash(plaintext)
        let key = try database.write { db in
            guard var key = try VirtualKey.fetchOne(db, key: id) else { throw KeyStoreError.notFound(id) }
            guard key.revokedAt == nil else { throw KeyStoreError.invalid("key '\(id)' is revoked") }
            key.keyHash = hashed
            key.hint = Self.hint(plaintext)
            key.rotatedAt = WallClock.unixTime()
            try key.update(db)
            return key
        }
        return (key, plaintext)
    }

    public enum Verdict: Sendable, Equatable {
        case valid(VirtualKey)
        case unknown
        case revoked
        case expired
    }

    /// Looks a presented key up by its hash, compares in constant time and checks its state.
    public func authenticate(_ presented: String) async throws -> Verdict {
        guard presented.hasPrefix(Self.prefix) else { return .unknown }
        let hashed = hash(presented)
        guard let key = try await database.read({ db in try VirtualKey.filter(Column("keyHash") == hashed).fetchOne(db) }),
            MasterKeyAuthenticator.constantTimeEquals(Array(key.keyHash.utf8), Array(hashed.utf8))
        else { return .unknown }
        if key.revokedAt != nil { return .revoked }
        if let expiry = key.expiresAt, expiry <= WallClock.unixTime() { return .expired }
        return .valid(key)
    }
}

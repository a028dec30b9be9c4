import PostgresNIO
import SwitchyardCore

/// Virtual keys in PostgreSQL (`virtual_keys`), shared by every instance that points at the
/// same database with the same key secret.
///
/// Same semantics as ``SQLiteKeyStore``: only the HMAC-SHA256 of a key under the key secret is
/// stored, a presented key is looked up by its hash and compared in constant time, and revoke
/// and rotate are single statements, so the old secret stops working on every instance at once.
/// Lists (`models`, `endpoints`, `regions`) and `metadata` are `jsonb`, as JSON arrays and an object.
public struct PostgresKeyStore: KeyStore {
    let database: PostgresBackend
    let hasher: KeyHasher

    /// Keys in `database`, hashed under `secret` (the same on every instance).
    public init(database: PostgresBackend, secret: String) {
        self.database = database
        self.hasher = KeyHasher(secret: secret)
    }

    static let columns =
        "id, name, key_hash, hint, created_at, expires_at, revoked_at, rotated_at, organization_id, team_id, user_id, "
        + "models::text, endpoints::text, tier, regions::text, metadata::text, budget_amount, budget_period, roles::text"

    public func create(_ options: KeyOptions) async throws -> (key: VirtualKey, plaintext: String) {
        let plaintext = VirtualKeyFormat.generate()
        let key = try VirtualKeyFormat.record(
            options, id: VirtualKeyFormat.generateID(), keyHash: hasher.hash(plaintext), hint: VirtualKeyFormat.hint(plaintext))
        let models = Self.json(key.models)
        let endpoints = Self.json(key.endpoints)
        let regions = Self.json(key.regions)
        let metadata = Self.json(key.metadata)
        let roles = Self.json(key.roles)
        _ = try await database.rows(
            """
            INSERT INTO virtual_keys (id, name, key_hash, hint, created_at, expires_at, revoked_at, rotated_at, organization_id, team_id,
                user_id, models, endpoints, tier, regions, metadata, budget_amount, budget_period, roles)
            VALUES (\(key.id), \(key.name), \(key.keyHash), \(key.hint), \(key.createdAt), \(key.expiresAt), \(key.revokedAt),
                \(key.rotatedAt), \(key.organizationID), \(key.teamID), \(key.userID), \(models)::jsonb, \(endpoints)::jsonb, \(key.tier),
                \(regions)::jsonb, \(metadata)::jsonb, \(key.budgetAmount), \(key.budgetPeriod), \(roles)::jsonb)
            """)
        return (key, plaintext)
    }

    public func list() async throws -> [VirtualKey] {
        try await database.rows(PostgresQuery(unsafeSQL: "SELECT \(Self.columns) FROM virtual_keys ORDER BY created_at, id")).map(Self.key)
    }

    public func find(id: String) async throws -> VirtualKey? {
        var binds = PostgresBindings()
        binds.append(id)
        let query = PostgresQuery(unsafeSQL: "SELECT \(Self.columns) FROM virtual_keys WHERE id = $1", binds: binds)
        return try await database.rows(query).first.map(Self.key)
    }

    public func revoke(id: String) async throws -> VirtualKey {
        var binds = PostgresBindings()
        binds.append(id)
        binds.append(WallClock.unixTime())
        // Revoking twice keeps the first time.
        let query = PostgresQuery(
            unsafeSQL: "UPDATE virtual_keys SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1 RETURNING \(Self.columns)", binds: binds)
        guard let row = try await database.rows(query).first else { throw KeyStoreError.notFound(id) }
        return try Self.key(row)
    }

    public func rotate(id: String) async throws -> (key: VirtualKey, plaintext: String) {
        let plaintext = VirtualKeyFormat.generate()
        var binds = PostgresBindings()
        binds.append(id)
        binds.append(hasher.hash(plaintext))
        binds.append(VirtualKeyFormat.hint(plaintext))
        binds.append(WallClock.unixTime())
        let query = PostgresQuery(
            unsafeSQL:
                "UPDATE virtual_keys SET key_hash = $2, hint = $3, rotated_at = $4 WHERE id = $1 AND revoked_at IS NULL RETURNING \(Self.columns)",
            binds: binds)
        if let row = try await database.rows(query).first { return (try Self.key(row), plaintext) }
        guard try await find(id: id) != nil else { throw KeyStoreError.notFound(id) }
        throw KeyStoreError.invalid("key '\(id)' is revoked")
    }

    public func authenticate(_ presented: String) async throws -> KeyVerdict {
        guard presented.hasPrefix(VirtualKeyFormat.prefix) else { return .unknown }
        let hashed = hasher.hash(presented)
        var binds = PostgresBindings()
        binds.append(hashed)
        let query = PostgresQuery(unsafeSQL: "SELECT \(Self.columns) FROM virtual_keys WHERE key_hash = $1", binds: binds)
        let key = try await database.rows(query).first.map(Self.key)
        return VirtualKeyFormat.verdict(key, expectedHash: hashed)
    }

    // MARK: Rows

    /// A row of ``columns`` as a key.
    static func key(_ row: PostgresRow) throws -> VirtualKey {
        let cells = row.makeRandomAccess()
        return VirtualKey(
            id: try cells[0].decode(String.self), name: try cells[1].decode(String.self), keyHash: try cells[2].decode(String.self),
            hint: try cells[3].decode(String.self), createdAt: try cells[4].decode(Double.self), expiresAt: try cells[5].decode(Double?.self),
            revokedAt: try cells[6].decode(Double?.self), rotatedAt: try cells[7].decode(Double?.self),
            organizationID: try cells[8].decode(String?.self), teamID: try cells[9].decode(String?.self),
            userID: try cells[10].decode(String?.self), models: try strings(cells[11].decode(String?.self), column: "models"),
            endpoints: try strings(cells[12].decode(String?.self), column: "endpoints"), tier: try cells[13].decode(String?.self),
            regions: try strings(cells[14].decode(String?.self), column: "regions"),
            metadata: try dictionary(cells[15].decode(String.self)), budgetAmount: try cells[16].decode(Double?.self),
            budgetPeriod: try cells[17].decode(String?.self), roles: try strings(cells[18].decode(String?.self), column: "roles"))
    }

    static func json(_ strings: [String]?) -> String? {
        strings.map { JSONValue.array($0.map(JSONValue.string)).serialized() }
    }

    static func json(_ dictionary: [String: String]) -> String {
        JSONValue.object(JSONObject(dictionary.sorted { $0.key < $1.key }.map { (key: $0.key, value: JSONValue.string($0.value)) })).serialized()
    }

    static func strings(_ text: String?, column: String) throws -> [String]? {
        guard let text else { return nil }
        guard let items = (try? JSONValue.parse(Array(text.utf8)))?.arrayValue else { throw PostgresStoreError.corrupt("virtual_keys.\(column)") }
        return try items.map { item in
            guard let string = item.stringValue else { throw PostgresStoreError.corrupt("virtual_keys.\(column)") }
            return string
        }
    }

    static func dictionary(_ text: String) throws -> [String: String] {
        guard let object = (try? JSONValue.parse(Array(text.utf8)))?.objectValue else { throw PostgresStoreError.corrupt("virtual_keys.metadata") }
        var result: [String: String] = [:]
        for (key, value) in object.members {
            guard let string = value.stringValue else { throw PostgresStoreError.corrupt("virtual_keys.metadata") }
            result[key] = string
        }
        return result
    }
}

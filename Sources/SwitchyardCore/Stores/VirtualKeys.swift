/// Virtual keys as every key store keeps them, and what a key store does.
///
/// Keys are `sk-sy-` plus 48 random hex digits. A store keeps only a keyed hash (HMAC-SHA256
/// under a server secret), so a copied database reveals no usable key and cannot be
/// brute-forced offline without the secret.
/// A virtual key as stored: never the key itself, only its keyed hash and a short hint.
public struct VirtualKey: Codable, Sendable, Equatable {
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
    /// Roles of requests made with the key; nil is `developer`.
    public var roles: [String]?

    /// A key as a store reads it back.
    public init(
        id: String, name: String, keyHash: String, hint: String, createdAt: Double, expiresAt: Double? = nil, revokedAt: Double? = nil,
        rotatedAt: Double? = nil, organizationID: String? = nil, teamID: String? = nil, userID: String? = nil, models: [String]? = nil,
        endpoints: [String]? = nil, tier: String? = nil, regions: [String]? = nil, metadata: [String: String] = [:], budgetAmount: Double? = nil,
        budgetPeriod: String? = nil, roles: [String]? = nil
    ) {
        self.id = id
        self.name = name
        self.keyHash = keyHash
        self.hint = hint
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
        self.rotatedAt = rotatedAt
        self.organizationID = organizationID
        self.teamID = teamID
        self.userID = userID
        self.models = models
        self.endpoints = endpoints
        self.tier = tier
        self.regions = regions
        self.metadata = metadata
        self.budgetAmount = budgetAmount
        self.budgetPeriod = budgetPeriod
        self.roles = roles
    }

    public var budget: BudgetLimit? {
        guard let budgetAmount else { return nil }
        return BudgetLimit(amount: budgetAmount, period: budgetPeriod.flatMap(BudgetPeriod.init(rawValue:)) ?? .monthly)
    }

    /// The identity requests made with this key run as.
    public var identity: Identity {
        var attributes = metadata
        if let tier { attributes["tier"] = tier }
        var identity = Identity(
            kind: .virtualKey, subject: id, organizationID: organizationID, teamID: teamID, userID: userID, roles: Set(roles ?? ["developer"]),
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
        object["roles"] = .array((roles ?? ["developer"]).map(JSONValue.string))
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
    public var roles: [String]?

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

/// A presented key's state.
public enum KeyVerdict: Sendable, Equatable {
    case valid(VirtualKey)
    case unknown
    case revoked
    case expired
}

/// Where virtual keys live (SQLite by default, PostgreSQL for several instances).
public protocol KeyStore: Sendable {
    /// Creates a key; the returned plaintext is shown once and never stored.
    func create(_ options: KeyOptions) async throws -> (key: VirtualKey, plaintext: String)
    func list() async throws -> [VirtualKey]
    func find(id: String) async throws -> VirtualKey?
    func revoke(id: String) async throws -> VirtualKey
    /// Replaces a key's secret: the old key stops working at once, everything else stays.
    func rotate(id: String) async throws -> (key: VirtualKey, plaintext: String)
    /// Looks a presented key up by its hash, compares in constant time and checks its state.
    func authenticate(_ presented: String) async throws -> KeyVerdict
}

/// The key format shared by every store.
public enum VirtualKeyFormat {
    public static let prefix = "sk-sy-"

    /// A new key: the prefix and 24 random bytes in hex.
    public static func generate() -> String { prefix + randomHex(24) }

    /// Whether `presented` has the form of a generated key: the prefix and 48 lowercase hex
    /// digits. Anything else cannot be a key, and is refused without reading the store.
    public static func isWellFormed(_ presented: String) -> Bool {
        let utf8 = presented.utf8
        guard utf8.count == prefix.utf8.count + 48, presented.hasPrefix(prefix) else { return false }
        return utf8.dropFirst(prefix.utf8.count).allSatisfy {
            (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0)
        }
    }

    /// `key_` and 8 random bytes in hex.
    public static func generateID() -> String { "key_" + randomHex(8) }

    /// `sk-sy-…` plus the last four characters.
    public static func hint(_ key: String) -> String { prefix + "…" + key.suffix(4) }

    public static func randomHex(_ bytes: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return hex((0..<bytes).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    public static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// A new record for `options` with the given hash.
    public static func record(_ options: KeyOptions, id: String, keyHash: String, hint: String) throws -> VirtualKey {
        guard !options.name.isEmpty else { throw KeyStoreError.invalid("a key needs a name") }
        return VirtualKey(
            id: id, name: options.name, keyHash: keyHash, hint: hint, createdAt: WallClock.unixTime(), expiresAt: options.expiresAt,
            revokedAt: nil, rotatedAt: nil, organizationID: options.organizationID, teamID: options.teamID, userID: options.userID,
            models: options.models, endpoints: options.endpoints, tier: options.tier, regions: options.regions, metadata: options.metadata,
            budgetAmount: options.budget?.amount, budgetPeriod: options.budget?.period.rawValue, roles: options.roles)
    }

    /// The verdict for a key found by its hash.
    public static func verdict(_ key: VirtualKey?, expectedHash: String) -> KeyVerdict {
        guard let key, MasterKeyAuthenticator.constantTimeEquals(Array(key.keyHash.utf8), Array(expectedHash.utf8)) else { return .unknown }
        if key.revokedAt != nil { return .revoked }
        if let expiry = key.expiresAt, expiry <= WallClock.unixTime() { return .expired }
        return .valid(key)
    }
}

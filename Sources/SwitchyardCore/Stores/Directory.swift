/// Organisations, teams and users as the gateway stores them: the hierarchy above virtual keys
/// (organisation → team → user → key), each level able to carry a rate-limit tier, allowed
/// models, a budget and metadata that every key and token below it inherits.
public struct DirectoryEntry: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case organization = "org"
        case team
        case user

        /// The budget scope of an entry of this kind.
        public var budgetScope: BudgetScope {
            switch self {
            case .organization: .org
            case .team: .team
            case .user: .user
            }
        }
    }

    public var kind: Kind
    public var id: String
    public var name: String?
    /// A team's organisation; a user's team.
    public var parentID: String?
    public var tier: String?
    /// Model groups allowed below this entry; nil is every model.
    public var models: [String]?
    /// A user's roles (added to a token's roles).
    public var roles: [String]?
    public var budgetAmount: Double?
    public var budgetPeriod: String?
    public var metadata: [String: String]
    public var createdAt: Double
    public var updatedAt: Double

    public init(kind: Kind, id: String) {
        self.kind = kind
        self.id = id
        metadata = [:]
        createdAt = WallClock.unixTime()
        updatedAt = createdAt
    }

    public var budget: BudgetLimit? {
        guard let budgetAmount else { return nil }
        return BudgetLimit(amount: budgetAmount, period: budgetPeriod.flatMap(BudgetPeriod.init(rawValue:)) ?? .monthly)
    }

    public var json: JSONValue {
        var object: JSONObject = [
            "object": .string(kind.rawValue), "id": .string(id), "created_at": JSONValue(createdAt), "updated_at": JSONValue(updatedAt),
            "metadata": .object(JSONObject(metadata.sorted { $0.key < $1.key }.map { (key: $0.key, value: JSONValue.string($0.value)) })),
        ]
        object["name"] = name.map(JSONValue.string) ?? .null
        switch kind {
        case .organization: break
        case .team: object["organization_id"] = parentID.map(JSONValue.string) ?? .null
        case .user: object["team_id"] = parentID.map(JSONValue.string) ?? .null
        }
        object["tier"] = tier.map(JSONValue.string) ?? .null
        object["models"] = models.map { .array($0.map(JSONValue.string)) } ?? .null
        if kind == .user { object["roles"] = roles.map { .array($0.map(JSONValue.string)) } ?? .null }
        object["budget"] = budget.map { ["amount": JSONValue($0.amount), "period": .string($0.period.rawValue)] } ?? .null
        return .object(object)
    }
}

/// Where the directory lives (the gateway's database).
public protocol DirectoryStore: Sendable {
    /// Creates or replaces an entry (by kind and id).
    func save(_ entry: DirectoryEntry) async throws -> DirectoryEntry
    func all() async throws -> [DirectoryEntry]
    func delete(kind: DirectoryEntry.Kind, id: String) async throws -> Bool
}

/// The directory in memory, for the request path: what an identity inherits from its user,
/// team and organisation.
public struct Directory: Sendable, Equatable {
    public private(set) var organizations: [String: DirectoryEntry] = [:]
    public private(set) var teams: [String: DirectoryEntry] = [:]
    public private(set) var users: [String: DirectoryEntry] = [:]

    public init(_ entries: [DirectoryEntry] = []) {
        for entry in entries {
            switch entry.kind {
            case .organization: organizations[entry.id] = entry
            case .team: teams[entry.id] = entry
            case .user: users[entry.id] = entry
            }
        }
    }

    public var isEmpty: Bool { organizations.isEmpty && teams.isEmpty && users.isEmpty }

    public func entry(_ kind: DirectoryEntry.Kind, _ id: String) -> DirectoryEntry? {
        switch kind {
        case .organization: organizations[id]
        case .team: teams[id]
        case .user: users[id]
        }
    }

    /// Fills in what the identity inherits: the user's team, the team's organisation, roles of
    /// a stored user, the first tier found walking up (the caller's own wins), allowed models as
    /// the intersection of every level's list, and each level's budget.
    public func apply(to identity: inout Identity) {
        guard !isEmpty, identity.kind != .master, identity.kind != .anonymous else { return }
        let user = identity.userID.flatMap { users[$0] }
        if identity.teamID == nil { identity.teamID = user?.parentID }
        let team = identity.teamID.flatMap { teams[$0] }
        if identity.organizationID == nil { identity.organizationID = team?.parentID }
        let organization = identity.organizationID.flatMap { organizations[$0] }
        let levels = [user, team, organization].compactMap { $0 }
        guard !levels.isEmpty else { return }
        if identity.kind == .user, let roles = user?.roles { identity.roles.formUnion(roles) }
        if identity.attributes["tier"] == nil, let tier = levels.lazy.compactMap(\.tier).first { identity.attributes["tier"] = tier }
        for level in levels {
            guard let models = level.models else { continue }
            identity.allowedModels = identity.allowedModels.map { $0.filter(models.contains) } ?? models
        }
        for level in levels {
            guard let budget = level.budget else { continue }
            identity.inheritedBudgets.append(InheritedBudget(scope: level.kind.budgetScope, id: level.id, limit: budget))
        }
        for level in levels.reversed() {
            for (key, value) in level.metadata where identity.attributes[key] == nil { identity.attributes[key] = value }
        }
    }
}

/// A budget an identity carries from its user, team or organisation.
public struct InheritedBudget: Sendable, Equatable {
    public var scope: BudgetScope
    public var id: String
    public var limit: BudgetLimit

    public init(scope: BudgetScope, id: String, limit: BudgetLimit) {
        self.scope = scope
        self.id = id
        self.limit = limit
    }
}

/// Who is making a request, as established by authentication.
///
/// Today the gateway knows the master key and anonymous callers (when no master key is set on
/// a loopback listener). The shape already carries what virtual keys, JWT subjects and the
/// organisation → team → user hierarchy need, so later authenticators only add cases.
public struct Identity: Sendable, Equatable {
    public enum Kind: String, Sendable, Equatable {
        /// The operator's master key: may do everything.
        case master
        /// A virtual key issued by the gateway.
        case virtualKey = "virtual_key"
        /// A user authenticated by a JWT/OIDC token.
        case user
        /// No credentials, allowed only when authentication is disabled.
        case anonymous
    }

    public var kind: Kind
    /// Stable, non-secret identifier for logs and metrics (a key id, a JWT subject, "master").
    public var subject: String
    public var organizationID: String?
    public var teamID: String?
    public var userID: String?
    /// End user on whose behalf the call is made (the request's `user` field or a header).
    public var endUser: String?
    public var roles: Set<String>
    public var attributes: [String: String]
    /// Data-residency restriction: only deployments in these regions may serve this caller.
    public var allowedRegions: [String]?
    /// Model groups this caller may use; nil is every model.
    public var allowedModels: [String]?
    /// Endpoints this caller may use (`chat_completions`, `completions`, `embeddings`,
    /// `messages`); nil is every endpoint.
    public var allowedEndpoints: [String]?
    /// The caller's own spending cap (a virtual key's budget).
    public var budget: BudgetLimit?
    /// Budgets of the caller's user, team and organisation in the directory.
    public var inheritedBudgets: [InheritedBudget] = []

    public init(
        kind: Kind,
        subject: String,
        organizationID: String? = nil,
        teamID: String? = nil,
        userID: String? = nil,
        endUser: String? = nil,
        roles: Set<String> = [],
        attributes: [String: String] = [:]
    ) {
        self.kind = kind
        self.subject = subject
        self.organizationID = organizationID
        self.teamID = teamID
        self.userID = userID
        self.endUser = endUser
        self.roles = roles
        self.attributes = attributes
    }

    public static let master = Identity(kind: .master, subject: "master", roles: ["admin"])
    public static let anonymous = Identity(kind: .anonymous, subject: "anonymous")
}

/// `auth:` of the configuration: how callers other than the master key and virtual keys
/// authenticate (JWT/OIDC bearer tokens), and `access:`: roles and attribute rules.
public struct AuthSettings: Sendable, Equatable {
    public var jwt: [JWTIssuerSettings] = []

    public init() {}
}

/// One trusted token issuer (an OIDC provider such as Keycloak, Auth0, Okta, Entra ID, Google,
/// or a service that signs its own tokens).
public struct JWTIssuerSettings: Sendable, Equatable {
    /// The signature algorithms accepted, spelled as in JWS.
    public static let algorithmNames = [
        "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "HS256", "HS384", "HS512",
    ]

    /// Exact `iss` of its tokens; also the OIDC discovery base.
    public var issuer: String?
    /// Accepted `aud` values (one must appear); required.
    public var audiences: [String] = []
    /// Key set URL; nil with no other key source means OIDC discovery at `issuer`.
    public var jwksURI: String?
    /// A PEM public key file instead of fetched keys.
    public var publicKeyFile: String?
    /// A shared secret for HS256/384/512 (at least 32 bytes).
    public var secret: Secret?
    public var algorithms: [String] = ["RS256"]
    public var leeway: Duration = .seconds(60)
    public var requiredClaims: [String] = []
    /// Allow `http://` key URLs on hosts other than loopback (inside a trusted network only).
    public var allowInsecureHTTP = false
    public var claims = JWTClaimMapping()
    /// Roles of a token whose role claim is absent.
    public var defaultRoles: [String] = ["developer"]
    public var location: ConfigLocation?

    public init() {}

    public var usesDiscovery: Bool { jwksURI == nil && publicKeyFile == nil && secret == nil }
}

/// Which claims carry what the gateway needs; dotted paths reach nested claims
/// (`realm_access.roles`), and a name with dots that exists at the top level wins.
public struct JWTClaimMapping: Sendable, Equatable {
    public var user = "sub"
    public var team: String?
    public var org: String?
    /// A string array or a space-separated string.
    public var roles: String?
    public var tier: String?
    /// Model groups the caller may use (array or space-separated).
    public var models: String?

    public init() {}
}

/// `access:`: what each role may do, and attribute rules (ABAC) that allow or deny requests.
public struct AccessSettings: Sendable, Equatable {
    /// Role → restrictions. Built-in roles: `admin`, `org_admin`, `team_admin`, `developer`,
    /// `service`; configuration can restrict them and define more.
    public var roles: [String: RolePolicy] = [:]
    /// Evaluated in order; the first rule whose conditions hold decides.
    public var rules: [AccessRule] = []
    /// When no rule matches: allow (default) or deny.
    public var defaultAllow = true
    /// This instance's region (for rules on `region`).
    public var region: String?

    public init() {}
}

/// What callers with a role may call. Nil lists are unrestricted.
public struct RolePolicy: Sendable, Equatable {
    public var models: [String]?
    public var endpoints: [String]?
    /// Whether the role may call models at all (false for read-only roles; also no MCP tools).
    public var inference = true
    /// MCP servers the role may use through `/mcp`; nil is every server.
    public var mcpServers: [String]?
    /// MCP tools the role may call (`server/tool`, `server/prefix*`, or a tool pattern alone); nil is every tool.
    public var mcpTools: [String]?

    public init(models: [String]? = nil, endpoints: [String]? = nil, inference: Bool = true) {
        self.models = models
        self.endpoints = endpoints
        self.inference = inference
    }
}

/// One attribute rule: conditions on the identity, the request and the environment.
public struct AccessRule: Sendable {
    public enum Effect: String, Sendable { case allow, deny }
    public var name: String
    public var effect: Effect
    /// Said to the client on a deny (default: the rule's name).
    public var reason: String?
    public var conditions: RuleConditions
    /// Any of these roles.
    public var roles: [String]?
    /// Any of these endpoints (`chat_completions`, `completions`, `embeddings`, `messages`).
    public var endpoints: [String]?
    /// Any of these instance regions (`access.region`).
    public var regions: [String]?
    /// Any of these MCP servers (the rule then applies to `/mcp` calls only).
    public var servers: [String]?
    /// Any of these MCP tools (`server/tool`, `server/prefix*`, `tool`); the rule then applies to tool calls only.
    public var tools: [String]?
    public var location: ConfigLocation?

    public init(name: String, effect: Effect, conditions: RuleConditions = RuleConditions()) {
        self.name = name
        self.effect = effect
        self.conditions = conditions
    }
}

extension AccessRule: Equatable {
    public static func == (lhs: AccessRule, rhs: AccessRule) -> Bool {
        lhs.name == rhs.name && lhs.effect == rhs.effect && lhs.reason == rhs.reason && lhs.roles == rhs.roles
            && lhs.endpoints == rhs.endpoints && lhs.regions == rhs.regions && lhs.servers == rhs.servers && lhs.tools == rhs.tools
            && lhs.location == rhs.location
    }
}

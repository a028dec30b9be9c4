/// Provider paths the gateway forwards as they are (`passthrough:`), under
/// `/passthrough/<provider>/...`: behind the gateway's keys, access rules, limits, budgets and
/// request log, with the provider's credentials in place of the client's.
public struct PassthroughRoute: Sendable, Equatable {
    public static let defaultMethods = ["GET", "POST", "DELETE"]

    /// The configured provider whose base URL and credentials are used.
    public var provider: String
    /// The allow-list: paths after `/passthrough/<provider>`, appended to the provider's base
    /// URL. `*` matches one path segment, a trailing `/**` any rest (also none).
    public var paths: [String]
    public var methods: [String]
    /// Roles that may use the route (besides the master key and admins); nil: any caller,
    /// unless access rules are configured (they judge model requests and cannot judge a
    /// passthrough, so the route then needs its own `roles`: fail closed).
    public var roles: [String]?

    public init(provider: String, paths: [String], methods: [String] = PassthroughRoute.defaultMethods, roles: [String]? = nil) {
        self.provider = provider
        self.paths = paths
        self.methods = methods
        self.roles = roles
    }

    /// Why `identity` may not use this route, or nil when it may.
    public func denial(for identity: Identity, accessConfigured: Bool) -> AccessDenial? {
        if identity.kind == .master || identity.kind == .anonymous || identity.roles.contains("admin") { return nil }
        if let roles {
            guard identity.roles.isDisjoint(with: roles) else { return nil }
            return AccessDenial(rule: nil, reason: "this passthrough route is open to the roles \(roles.joined(separator: ", ")) only")
        }
        guard accessConfigured else { return nil }
        return AccessDenial(
            rule: nil, reason: "with access rules configured, a passthrough route needs 'roles' to be open to callers other than admins")
    }

    /// Whether `path` (no query) is on the allow-list.
    public func allows(path: String) -> Bool {
        paths.contains { Self.matches(pattern: $0, path: path) }
    }

    static func matches(pattern: String, path: String) -> Bool {
        let patternSegments = pattern.split(separator: "/", omittingEmptySubsequences: true)
        let pathSegments = path.split(separator: "/", omittingEmptySubsequences: true)
        // Dot segments are refused outright: they could climb out of an allowed prefix.
        if pathSegments.contains(where: { $0 == "." || $0 == ".." }) { return false }
        for (index, segment) in patternSegments.enumerated() {
            if segment == "**" && index == patternSegments.count - 1 { return pathSegments.count >= index }
            guard index < pathSegments.count else { return false }
            if segment == "*" { continue }
            guard segment == pathSegments[index] else { return false }
        }
        return patternSegments.count == pathSegments.count
    }
}

extension ServerSettings {
    /// The default body limit of the upload endpoints (OpenAI's own limit for audio files is
    /// 25 MB), unless `server.max_body_size` is larger.
    public static let defaultUploadBodyBytes = 25 * 1024 * 1024

    /// The body limit of a request to `path`: `server.endpoints.<label>.max_body_size` for a
    /// served endpoint when set, the upload default for uploads, else `max_body_size`.
    public func maxBodyBytes(forPath path: String) -> Int {
        let relative = path.hasPrefix("/v1/") ? String(path.dropFirst(3)) : path
        guard let endpoint = Endpoint(rawValue: relative) else { return maxBodyBytes }
        if let configured = endpointMaxBodyBytes[endpoint.label] { return configured }
        return endpoint.isUpload ? max(maxBodyBytes, Self.defaultUploadBodyBytes) : maxBodyBytes
    }
}

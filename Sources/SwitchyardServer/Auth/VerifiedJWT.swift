import SwitchyardCore

/// A token whose signature and claims have been verified.
public struct VerifiedJWT: Sendable {
    public let algorithm: JWTAlgorithm
    /// The header's `kid`, when it has one.
    public let keyID: String?
    /// The header's `typ`, when it has one.
    public let type: String?
    public let header: JSONObject
    public let claims: JSONObject

    public init(algorithm: JWTAlgorithm, keyID: String?, type: String?, header: JSONObject, claims: JSONObject) {
        self.algorithm = algorithm
        self.keyID = keyID
        self.type = type
        self.header = header
        self.claims = claims
    }

    public var subject: String? { string("sub") }
    public var issuer: String? { string("iss") }
    public var audiences: [String] { strings("aud") ?? [] }
    public var expiresAt: Double? { claims["exp"]?.doubleValue }
    public var issuedAt: Double? { claims["iat"]?.doubleValue }

    /// OAuth scopes: the space-separated `scope` claim (RFC 8693 §4.2), else `scp` (a string or
    /// an array, as some providers send it).
    public var scopes: [String] {
        if let scope = string("scope") { return scope.split(separator: " ").map(String.init) }
        return (strings("scp") ?? []).flatMap { $0.split(separator: " ").map(String.init) }
    }

    /// A claim by name or dotted path: a top-level claim with exactly that name wins (claim
    /// names such as `https://example.com/roles` contain dots), otherwise the path is followed
    /// through nested objects (`realm_access.roles`, `resource_access.gateway.roles`).
    public func claim(_ path: String) -> JSONValue? {
        Self.lookup(path, in: claims)
    }

    /// A string claim (by name or dotted path); nil when absent or not a string.
    public func string(_ path: String) -> String? {
        claim(path)?.stringValue
    }

    /// A claim that may be a string or an array of strings (`aud`, role and group claims), as
    /// an array; non-string elements are left out. nil when absent or of another type.
    public func strings(_ path: String) -> [String]? {
        switch claim(path) {
        case .string(let value)?: [value]
        case .array(let values)?: values.compactMap(\.stringValue)
        default: nil
        }
    }

    static func lookup(_ path: String, in claims: JSONObject) -> JSONValue? {
        if let value = claims[path] { return value }
        let parts = path.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count > 1 else { return nil }
        var current = JSONValue.object(claims)
        for part in parts {
            guard let next = current[String(part)] else { return nil }
            current = next
        }
        return current
    }
}

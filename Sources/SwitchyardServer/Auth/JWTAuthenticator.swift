import AsyncHTTPClient
import Foundation
import Logging
import SwitchyardCore

/// One trusted token issuer: where its keys come from and what its tokens must satisfy.
public struct JWTIssuerConfig: Sendable {
    public enum Keys: Sendable {
        /// Fetch the key set from this URL.
        case jwksURI(String)
        /// Find the key set through OpenID Connect discovery at ``JWTIssuerConfig/issuer``.
        case discovery
        /// Fixed keys from the configuration (an inline JWKS, PEM public keys, HMAC secrets).
        case staticKeys(JWKSet)
    }

    /// The exact `iss` tokens must carry; also the discovery base URL. nil skips the check
    /// (only allowed with a key set URL or static keys).
    public var issuer: String?
    /// Accepted audiences (any one must appear in `aud`); nil skips the check.
    public var audiences: [String]?
    public var keys: Keys
    /// The pinned algorithms. HS* need ``Keys/staticKeys(_:)`` with a secret.
    public var algorithms: Set<JWTAlgorithm>
    public var leeway: Double = 60
    public var requireExpiration = true
    public var maximumAge: Double?
    public var requiredClaims: [String] = []
    public var allowedTypes: [String]?
    public var maximumTokenLength = 16 * 1024
    public var cache = JWKSCache.Settings()

    public init(issuer: String?, audiences: [String]?, keys: Keys, algorithms: Set<JWTAlgorithm>) {
        self.issuer = issuer
        self.audiences = audiences
        self.keys = keys
        self.algorithms = algorithms
    }
}

/// Verifies bearer JWTs from one issuer, with its keys cached (see ``JWKSCache``).
///
/// ```swift
/// let authenticator = try JWTAuthenticator(config: config, httpClient: client)
/// let token = try await authenticator.verify(bearer)   // throws JWTError
/// let roles = token.strings("realm_access.roles") ?? []
/// ```
public final class JWTAuthenticator: Sendable {
    public let config: JWTIssuerConfig
    public let verifier: JWTVerifier
    public let cache: JWKSCache

    /// Checks the configuration and prepares the key cache (nothing is fetched until the first
    /// token arrives). `httpClient` is needed for fetched keys; the caller shuts it down.
    public init(
        config: JWTIssuerConfig,
        httpClient: HTTPClient? = nil,
        logger: Logger = Logger(label: "switchyard.jwt"),
        now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }
    ) throws(JWTConfigurationError) {
        guard !config.algorithms.isEmpty else { throw JWTConfigurationError("no algorithms are allowed") }
        if let audiences = config.audiences, audiences.isEmpty {
            throw JWTConfigurationError("the audience list is empty (omit it to skip the audience check)")
        }
        switch config.keys {
        case .staticKeys(let set):
            guard set.keys.contains(where: { key in config.algorithms.contains(where: key.canVerify) }) else {
                throw JWTConfigurationError("none of the configured keys can verify any of the allowed algorithms")
            }
            self.cache = JWKSCache(keys: set)
        case .jwksURI, .discovery:
            guard let httpClient else { throw JWTConfigurationError("fetched keys need an HTTP client") }
            guard config.algorithms.isDisjoint(with: JWTAlgorithm.symmetric) else {
                throw JWTConfigurationError("HS256/HS384/HS512 need a shared secret in the configuration, not a fetched key set")
            }
            let source: JWKSCache.Source
            if case .jwksURI(let uri) = config.keys {
                source = .jwksURI(uri)
            } else {
                guard let issuer = config.issuer else { throw JWTConfigurationError("discovery needs the issuer URL") }
                source = .discovery(issuer: issuer)
            }
            self.cache = try JWKSCache(source: source, httpClient: httpClient, settings: config.cache, logger: logger, now: now)
        }
        var options = JWTValidationOptions(algorithms: config.algorithms, issuer: config.issuer, audiences: config.audiences, now: now)
        options.leeway = config.leeway
        options.requireExpiration = config.requireExpiration
        options.maximumAge = config.maximumAge
        options.requiredClaims = config.requiredClaims
        options.allowedTypes = config.allowedTypes
        options.maximumTokenLength = config.maximumTokenLength
        self.config = config
        self.verifier = JWTVerifier(options: options)
    }

    /// Verifies a bearer token (without the `Bearer ` prefix). The token's structure and
    /// header are checked before any key is fetched; an unknown `kid` causes at most one
    /// rate-limited refetch.
    public func verify(_ token: String) async throws(JWTError) -> VerifiedJWT {
        let decoded = try verifier.decode(token)
        let current = try await cache.keys()
        do throws(JWTError) {
            return try await verifier.verify(decoded, keys: current.keys)
        } catch {
            guard error == .unknownKey, cache.isRemote, let fresh = await cache.refreshForUnknownKey() else { throw error }
            return try await verifier.verify(decoded, keys: fresh.keys)
        }
    }

    /// Whether `token` has the shape of a compact JWS (three segments, a header starting with
    /// `{"`), to tell JWTs from other bearer credentials such as virtual keys. Says nothing
    /// about validity.
    public static func looksLikeJWT(_ token: String) -> Bool {
        token.hasPrefix("eyJ") && token.utf8.count(where: { $0 == UInt8(ascii: ".") }) == 2
    }

    /// The `iss` of an UNVERIFIED token, only to choose which issuer's authenticator should
    /// verify it when several are configured; never trust it otherwise.
    public static func unverifiedIssuer(of token: String, maximumLength: Int = 16 * 1024) -> String? {
        let bytes = Array(token.utf8)
        guard bytes.count <= maximumLength else { return nil }
        let segments = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard segments.count == 3, let payload = Base64URL.decode(segments[1]),
            let claims = try? JSONValue.parse(payload)
        else { return nil }
        return claims["iss"]?.stringValue
    }
}

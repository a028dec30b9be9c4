import AsyncHTTPClient
import Foundation
import Logging
import SwitchyardCore
import Synchronization

/// Turns bearer JWTs into identities with the issuers of `auth.jwt`.
///
/// Authenticators (and so their cached key sets) are built on first use and kept across
/// configuration reloads for as long as an issuer's settings stay the same.
final class JWTIdentities: Sendable {
    private let built = Mutex<[(settings: JWTIssuerSettings, result: Result<JWTAuthenticator, JWTConfigurationError>)]>([])
    let client: HTTPClient
    let logger: Logger

    init(client: HTTPClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    func authenticator(for settings: JWTIssuerSettings) -> Result<JWTAuthenticator, JWTConfigurationError> {
        built.withLock { built in
            if let existing = built.first(where: { $0.settings == settings }) { return existing.result }
            let result = Result { () throws(JWTConfigurationError) -> JWTAuthenticator in
                try JWTAuthenticator(config: Self.config(settings), httpClient: client, logger: logger)
            }
            if case .failure(let error) = result {
                logger.error("JWT issuer cannot be used", metadata: ["issuer": .string(settings.issuer ?? "-"), "error": .string(error.description)])
            }
            // Settings no longer configured are dropped with their caches.
            built.append((settings, result))
            if built.count > 32 { built.removeFirst(built.count - 32) }
            return result
        }
    }

    static func config(_ settings: JWTIssuerSettings) throws(JWTConfigurationError) -> JWTIssuerConfig {
        let algorithms = Set(settings.algorithms.compactMap(JWTAlgorithm.init(rawValue:)))
        let keys: JWTIssuerConfig.Keys
        do throws(JWKError) {
            if let secret = settings.secret {
                keys = .staticKeys(JWKSet(keys: [try JWK.symmetric(secret: Array(secret.reveal().utf8))]))
            } else if let file = settings.publicKeyFile {
                guard let pem = try? String(contentsOfFile: file, encoding: .utf8) else {
                    throw JWKError("cannot read the public key file \(file)")
                }
                keys = .staticKeys(JWKSet(keys: [try JWK.publicKey(pem: pem)]))
            } else if let uri = settings.jwksURI {
                keys = .jwksURI(uri)
            } else {
                keys = .discovery
            }
        } catch {
            throw JWTConfigurationError("unusable key: \(error.description)")
        }
        var config = JWTIssuerConfig(issuer: settings.issuer, audiences: settings.audiences, keys: keys, algorithms: algorithms)
        config.leeway = durationSeconds(settings.leeway)
        config.requiredClaims = settings.requiredClaims
        config.cache.allowInsecureHTTP = settings.allowInsecureHTTP
        return config
    }

    /// The identity a token proves, or why it does not.
    func authenticate(_ token: String, issuers: [JWTIssuerSettings]) async -> Result<Identity, GatewayError> {
        let claimed = JWTAuthenticator.unverifiedIssuer(of: token)
        // The unverified `iss` only selects which issuer verifies; with one issuer it is that one.
        guard let settings = issuers.count == 1 ? issuers[0] : issuers.first(where: { $0.issuer != nil && $0.issuer == claimed }) else {
            return .failure(Self.invalid("The token's issuer is not trusted by this gateway."))
        }
        let verifier: JWTAuthenticator
        switch authenticator(for: settings) {
        case .success(let built): verifier = built
        case .failure:
            return .failure(
                .unavailable("The token issuer is misconfigured on this gateway.", code: .jwtIssuerUnavailable))
        }
        do throws(JWTError) {
            let verified = try await verifier.verify(token)
            return Self.identity(verified, settings: settings, qualified: issuers.count > 1)
        } catch {
            if error.status == 503 {
                return .failure(
                    .unavailable(error.message, code: .jwtKeysUnavailable, headers: [HeaderField("Retry-After", "5")]))
            }
            return .failure(Self.invalid(error.message))
        }
    }

    static func invalid(_ message: String) -> GatewayError {
        .unauthenticated(message, code: .invalidToken, headers: [HeaderField("WWW-Authenticate", #"Bearer error="invalid_token""#)])
    }

    /// Claims → identity, as `claims:` maps them. `qualified` (several issuers configured):
    /// the subject is `<issuer>#<sub>`, so two issuers' `alice` are two callers everywhere —
    /// directory users, usage, budgets, limits and the cache partition.
    static func identity(_ token: VerifiedJWT, settings: JWTIssuerSettings, qualified: Bool = false) -> Result<Identity, GatewayError> {
        let mapping = settings.claims
        guard let claimed = token.string(mapping.user), !claimed.isEmpty else {
            return .failure(invalid("The token has no '\(mapping.user)' claim to identify its user."))
        }
        let subject = qualified ? "\(settings.issuer ?? token.issuer ?? "-")#\(claimed)" : claimed
        func list(_ path: String?) -> [String]? {
            guard let path, let values = token.strings(path) else { return nil }
            return values.flatMap { $0.split(separator: " ").map(String.init) }
        }
        var identity = Identity(
            kind: .user, subject: subject, organizationID: mapping.org.flatMap { token.string($0) },
            teamID: mapping.team.flatMap { token.string($0) ?? token.strings($0)?.first }, userID: subject,
            roles: Set(list(mapping.roles) ?? settings.defaultRoles))
        if let tier = mapping.tier.flatMap({ token.string($0) }) { identity.attributes["tier"] = tier }
        if let issuer = token.issuer { identity.attributes["issuer"] = issuer }
        identity.allowedModels = list(mapping.models)
        return .success(identity)
    }
}

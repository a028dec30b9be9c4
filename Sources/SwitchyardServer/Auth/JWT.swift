import Foundation
import SwitchyardCore

/// What a token must satisfy besides a valid signature.
public struct JWTValidationOptions: Sendable {
    /// The pinned algorithms: a token whose `alg` is not listed is refused before any key is
    /// looked at.
    public var algorithms: Set<JWTAlgorithm>
    /// The exact `iss` required; nil skips the check.
    public var issuer: String?
    /// Accepted audiences: the token's `aud` (string or array) must contain one of them. nil
    /// skips the check (not recommended: any token from the same issuer would do).
    public var audiences: [String]?
    /// Clock skew tolerated for `exp`, `nbf` and `iat`, in seconds.
    public var leeway: Double = 60
    /// Whether a token without `exp` is refused.
    public var requireExpiration = true
    /// When set, `iat` is required and the token is refused once it is older than this (seconds).
    public var maximumAge: Double?
    /// Claims that must be present and not null; a name is looked up as a top-level claim first,
    /// then as a dotted path (`realm_access.roles`).
    public var requiredClaims: [String] = []
    /// When set, the header's `typ` must be one of these (case-insensitive, an `application/`
    /// prefix ignored; `JWT`, `at+jwt`). A token without `typ` is then refused.
    public var allowedTypes: [String]?
    /// Tokens longer than this (bytes) are refused unread.
    public var maximumTokenLength = 16 * 1024
    /// The current time in seconds since 1970 (injectable for tests).
    public var now: @Sendable () -> Double

    public init(
        algorithms: Set<JWTAlgorithm>,
        issuer: String? = nil,
        audiences: [String]? = nil,
        now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }
    ) {
        self.algorithms = algorithms
        self.issuer = issuer
        self.audiences = audiences
        self.now = now
    }
}

/// A token split and decoded but NOT verified: nothing in it may be trusted yet.
public struct DecodedJWT: Sendable {
    public let algorithm: JWTAlgorithm
    public let keyID: String?
    public let type: String?
    public let header: JSONObject
    public let unverifiedClaims: JSONObject
    /// `BASE64URL(header) '.' BASE64URL(payload)`, the bytes the signature covers.
    let signingInput: ArraySlice<UInt8>
    let signature: [UInt8]
}

/// Verifies compact JWS tokens (RFC 7515/7519) against a set of keys.
///
/// Order of checks: size, structure (exactly three strict base64url segments, header and
/// payload JSON objects without duplicate members), header policy (`alg` not `none`, known and
/// pinned; no `crit`; `typ`), key selection (by `kid`, typed so the algorithm must fit the
/// key), signature, then claims. Keys or URLs carried in the token's header (`jwk`, `jku`,
/// `x5u`, `x5c`) are never used.
///
/// The signature itself is checked by jwt-kit (see ``JWK/isValidSignature(_:over:algorithm:)``).
/// Everything around it stays here on purpose, because it is stricter than jwt-kit's parser
/// and is what the gateway's clients and attack tests rely on: jwt-kit's `DefaultJWTParser`
/// decodes with `JSONDecoder` (duplicate members are not refused), does not refuse `crit`,
/// reports every structural problem as one error, and its base64url decoding is internal to
/// the package; its claim types have no shared leeway nor the exact error per claim that
/// ``JWTError`` gives clients.
public struct JWTVerifier: Sendable {
    public let options: JWTValidationOptions

    public init(options: JWTValidationOptions) {
        self.options = options
    }

    /// Verifies `token` with the keys in `keys`.
    public func verify(_ token: String, keys: [JWK]) async throws(JWTError) -> VerifiedJWT {
        try await verify(decode(token), keys: keys)
    }

    /// Checks a decoded token's signature with the key it selects from `keys`, then its claims.
    public func verify(_ token: DecodedJWT, keys: [JWK]) async throws(JWTError) -> VerifiedJWT {
        let key = try Self.selectKey(for: token, from: keys)
        guard await key.isValidSignature(token.signature, over: token.signingInput, algorithm: token.algorithm) else {
            throw .badSignature
        }
        try validateClaims(token.unverifiedClaims)
        return VerifiedJWT(
            algorithm: token.algorithm, keyID: token.keyID, type: token.type, header: token.header, claims: token.unverifiedClaims)
    }

    // MARK: Structure and header

    /// Splits and decodes `token` and applies the header policy; verifies nothing.
    public func decode(_ token: String) throws(JWTError) -> DecodedJWT {
        let bytes = Array(token.utf8)
        guard bytes.count <= options.maximumTokenLength else { throw .tokenTooLarge }
        let dots = bytes.indices.filter { bytes[$0] == UInt8(ascii: ".") }
        guard dots.count == 2 else { throw .malformed }
        guard let headerBytes = Base64URL.decode(bytes[..<dots[0]]),
            let payloadBytes = Base64URL.decode(bytes[(dots[0] + 1)..<dots[1]]),
            let signature = Base64URL.decode(bytes[(dots[1] + 1)...])
        else { throw .malformed }
        let header = try Self.object(headerBytes)

        guard let alg = header["alg"] else { throw .malformed }
        guard case .string(let name) = alg else { throw .malformed }
        if name.lowercased() == "none" { throw .unsupportedAlgorithm }
        guard let algorithm = JWTAlgorithm(rawValue: name) else { throw .unsupportedAlgorithm }
        guard options.algorithms.contains(algorithm) else { throw .algorithmNotAllowed }
        // RFC 7515 §4.1.11: a recipient that does not understand every listed extension must
        // refuse the token; this verifier understands none (an empty list is invalid too).
        if header["crit"] != nil { throw .criticalHeader }

        var keyID: String?
        if let kid = header["kid"] {
            guard case .string(let value) = kid else { throw .malformed }
            keyID = value
        }
        var type: String?
        if let typ = header["typ"] {
            guard case .string(let value) = typ else { throw .malformed }
            type = value
        }
        if let allowed = options.allowedTypes {
            guard let type, allowed.contains(where: { Self.normalizedType($0) == Self.normalizedType(type) }) else {
                throw .wrongType
            }
        }
        let claims = try Self.object(payloadBytes)
        return DecodedJWT(
            algorithm: algorithm, keyID: keyID, type: type, header: header, unverifiedClaims: claims,
            signingInput: bytes[..<dots[1]], signature: signature)
    }

    /// A JSON object with no duplicate member names (RFC 7515 §5.2 allows refusing them, and
    /// a claim read differently by two parsers is how confusion attacks start).
    static func object(_ bytes: [UInt8]) throws(JWTError) -> JSONObject {
        guard let scan = try? JSONObjectScan(bytes) else { throw .malformed }
        var names = Set<String>()
        for member in scan.members where !names.insert(member.key).inserted {
            throw .malformed
        }
        guard case .object(let object)? = try? JSONValue.parse(bytes) else { throw .malformed }
        return object
    }

    static func normalizedType(_ type: String) -> String {
        let lowered = type.lowercased()
        return lowered.hasPrefix("application/") ? String(lowered.dropFirst("application/".count)) : lowered
    }

    // MARK: Keys and signatures

    /// The one key to verify `token` with: the keys with its `kid` (or, without a `kid`, all
    /// keys) that can verify its algorithm. Without a `kid` exactly one key must fit.
    static func selectKey(for token: DecodedJWT, from keys: [JWK]) throws(JWTError) -> JWK {
        if let kid = token.keyID {
            let named = keys.filter { $0.keyID == kid }
            guard !named.isEmpty else { throw .unknownKey }
            guard let key = named.first(where: { $0.canVerify(token.algorithm) }) else { throw .keyMismatch }
            return key
        }
        let fitting = keys.filter { $0.canVerify(token.algorithm) }
        guard fitting.count <= 1 else { throw .ambiguousKey }
        guard let key = fitting.first else { throw .unknownKey }
        return key
    }

    // MARK: Claims

    /// Checks the registered claims against the options (RFC 7519 §4.1).
    func validateClaims(_ claims: JSONObject) throws(JWTError) {
        let now = options.now()
        let leeway = options.leeway
        if let expiry = try Self.numericDate(claims, "exp") {
            if now >= expiry + leeway { throw .expired }
        } else if options.requireExpiration {
            throw .missingClaim("exp")
        }
        if let notBefore = try Self.numericDate(claims, "nbf"), now + leeway < notBefore {
            throw .notYetValid
        }
        let issuedAt = try Self.numericDate(claims, "iat")
        if let issuedAt, issuedAt > now + leeway { throw .issuedInFuture }
        if let maximumAge = options.maximumAge {
            guard let issuedAt else { throw .missingClaim("iat") }
            if now - issuedAt > maximumAge + leeway { throw .expired }
        }
        if let subject = claims["sub"], subject.stringValue == nil { throw .invalidClaim("sub") }
        if let issuer = options.issuer {
            guard let value = claims["iss"] else { throw .missingClaim("iss") }
            guard case .string(let actual) = value else { throw .invalidClaim("iss") }
            guard actual == issuer else { throw .wrongIssuer }
        }
        if let audiences = options.audiences {
            guard let value = claims["aud"] else { throw .missingClaim("aud") }
            let actual: [String]
            switch value {
            case .string(let audience): actual = [audience]
            case .array(let elements):
                actual = try elements.map { (element) throws(JWTError) -> String in
                    guard case .string(let audience) = element else { throw .invalidClaim("aud") }
                    return audience
                }
            default: throw .invalidClaim("aud")
            }
            guard actual.contains(where: audiences.contains) else { throw .wrongAudience }
        }
        for name in options.requiredClaims {
            guard let value = VerifiedJWT.lookup(name, in: claims), !value.isNull else { throw .missingClaim(name) }
        }
    }

    /// A NumericDate claim: nil when absent, seconds since 1970 when a finite number.
    static func numericDate(_ claims: JSONObject, _ name: String) throws(JWTError) -> Double? {
        guard let value = claims[name] else { return nil }
        guard case .number(let seconds, _) = value, seconds.isFinite else { throw .invalidClaim(name) }
        return seconds
    }
}

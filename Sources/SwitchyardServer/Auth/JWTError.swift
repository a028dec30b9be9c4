/// Why a bearer JWT was refused.
///
/// Every case has a short message that is safe to show the client: it names what failed, never
/// the token or any of its contents. Claim names in ``missingClaim(_:)`` and ``invalidClaim(_:)``
/// come from the gateway's own configuration or the standard claim names, never from the token.
public enum JWTError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Not a compact JWS: wrong number of segments, bad base64url, header or payload not a JSON
    /// object, duplicate members, a header member of the wrong type.
    case malformed
    /// Longer than the configured limit (checked before anything else).
    case tokenTooLarge
    /// `alg` is `none` (in any spelling) or an algorithm the gateway does not implement.
    case unsupportedAlgorithm
    /// A known algorithm that this issuer's configuration does not allow.
    case algorithmNotAllowed
    /// The header has a `crit` member: extensions the gateway does not understand.
    case criticalHeader
    /// The header's `typ` is not one of the configured types.
    case wrongType
    /// No key with the token's `kid` (or, without a `kid`, no key fits the algorithm).
    case unknownKey
    /// The token has no `kid` and more than one key fits its algorithm.
    case ambiguousKey
    /// The key the token names cannot be used with the token's algorithm (type, curve, size,
    /// `use`, `key_ops` or the key's own `alg` do not fit).
    case keyMismatch
    case badSignature
    case expired
    case notYetValid
    /// `iat` lies further in the future than the leeway allows.
    case issuedInFuture
    case wrongIssuer
    case wrongAudience
    case missingClaim(String)
    /// A claim has the wrong JSON type (a non-numeric `exp`, a non-string `iss`, ...).
    case invalidClaim(String)
    /// The issuer's signing keys could not be fetched and no usable cached copy exists.
    case keysUnavailable

    /// A short, client-safe explanation.
    public var message: String {
        switch self {
        case .malformed: "The bearer token is not a well-formed JWT."
        case .tokenTooLarge: "The bearer token is too large."
        case .unsupportedAlgorithm: "The token's signing algorithm is not supported."
        case .algorithmNotAllowed: "The token's signing algorithm is not allowed."
        case .criticalHeader: "The token has critical header parameters that are not supported."
        case .wrongType: "The token's type is not accepted."
        case .unknownKey: "The token's signing key is not known."
        case .ambiguousKey: "The token does not name its signing key and several keys could apply."
        case .keyMismatch: "The token's algorithm does not fit its signing key."
        case .badSignature: "The token's signature is invalid."
        case .expired: "The token has expired."
        case .notYetValid: "The token is not valid yet."
        case .issuedInFuture: "The token's issue time lies in the future."
        case .wrongIssuer: "The token's issuer is not accepted."
        case .wrongAudience: "The token is not meant for this audience."
        case .missingClaim(let name): "The token lacks the required claim '\(name)'."
        case .invalidClaim(let name): "The token's claim '\(name)' has an invalid value."
        case .keysUnavailable: "The token's signing keys could not be retrieved."
        }
    }

    /// The HTTP status to answer with: 503 when the keys could not be fetched (the token may be
    /// fine), 401 otherwise.
    public var status: Int {
        self == .keysUnavailable ? 503 : 401
    }

    /// The RFC 6750 `error` value for a `WWW-Authenticate: Bearer` challenge (absent for 503).
    public var bearerError: String? {
        self == .keysUnavailable ? nil : "invalid_token"
    }

    public var description: String { message }
}

/// A key (JWK, PEM or secret) that cannot be used, with the reason (for configuration errors and
/// logs; it never contains key material).
public struct JWKError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// An issuer configuration that cannot work (for example discovery without an issuer).
public struct JWTConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

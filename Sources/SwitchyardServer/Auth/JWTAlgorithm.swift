/// The JWS algorithms (RFC 7518, RFC 8037) the gateway verifies.
///
/// `none` is deliberately absent: an unsecured token can never be represented, let alone
/// allowed. The raw values are the exact, case-sensitive `alg` strings.
public enum JWTAlgorithm: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case rs256 = "RS256"
    case rs384 = "RS384"
    case rs512 = "RS512"
    case ps256 = "PS256"
    case ps384 = "PS384"
    case ps512 = "PS512"
    case es256 = "ES256"
    case es384 = "ES384"
    case es512 = "ES512"
    case edDSA = "EdDSA"
    case hs256 = "HS256"
    case hs384 = "HS384"
    case hs512 = "HS512"

    /// Every public-key algorithm (what an OIDC provider's JWKS is used for).
    public static let asymmetric: Set<JWTAlgorithm> = Set(allCases.filter { !$0.isSymmetric })

    /// The HMAC algorithms, which need a shared secret.
    public static let symmetric: Set<JWTAlgorithm> = Set(allCases.filter(\.isSymmetric))

    public var isSymmetric: Bool {
        switch self {
        case .hs256, .hs384, .hs512: true
        default: false
        }
    }

    /// The HMAC output size in bytes, which is also the smallest key RFC 7518 §3.2 allows.
    var hmacKeyBytes: Int? {
        switch self {
        case .hs256: 32
        case .hs384: 48
        case .hs512: 64
        default: nil
        }
    }

    public var description: String { rawValue }
}

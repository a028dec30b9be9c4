import Crypto
import Foundation
import SwitchyardCore
import _CryptoExtras

/// A public (or, for HMAC, shared) verification key with its JWK metadata (RFC 7517).
///
/// The key material is typed: an RSA key can only verify RS*/PS*, a P-256 key only ES256, an
/// Ed25519 key only EdDSA and a symmetric key only HS*. Binding the algorithm to the key's type
/// is what defeats algorithm confusion (an HS256 token "signed" with an RSA public key's bytes).
public struct JWK: Sendable {
    enum Material: Sendable {
        case rsa(_RSA.Signing.PublicKey)
        case p256(P256.Signing.PublicKey)
        case p384(P384.Signing.PublicKey)
        case p521(P521.Signing.PublicKey)
        case ed25519(Curve25519.Signing.PublicKey)
        case symmetric(SymmetricKey)
    }

    /// What kind of key this is, for logs and diagnostics.
    public enum KeyType: Sendable, Equatable, CustomStringConvertible {
        case rsa(bits: Int)
        case ec(curve: String)
        case okp(curve: String)
        case symmetric(bytes: Int)

        public var description: String {
            switch self {
            case .rsa(let bits): "RSA-\(bits)"
            case .ec(let curve): "EC \(curve)"
            case .okp(let curve): "OKP \(curve)"
            case .symmetric(let bytes): "oct (\(bytes * 8) bits)"
            }
        }
    }

    /// RSA moduli outside this range are refused: shorter ones are breakable, much longer ones
    /// only make verification expensive.
    static let rsaBits = 2048...8192

    /// The `kid`.
    public let keyID: String?
    /// The `use` member; a key whose `use` is present and not `sig` verifies nothing.
    public let use: String?
    /// The `alg` member; when present, the only algorithm this key verifies.
    public let algorithm: String?
    /// The `key_ops` member; when present it must include `verify`.
    public let operations: [String]?
    let material: Material

    init(material: Material, keyID: String?, use: String? = nil, algorithm: String? = nil, operations: [String]? = nil) {
        self.material = material
        self.keyID = keyID
        self.use = use
        self.algorithm = algorithm
        self.operations = operations
    }

    public var keyType: KeyType {
        switch material {
        case .rsa(let key): .rsa(bits: key.keySizeInBits)
        case .p256: .ec(curve: "P-256")
        case .p384: .ec(curve: "P-384")
        case .p521: .ec(curve: "P-521")
        case .ed25519: .okp(curve: "Ed25519")
        case .symmetric(let key): .symmetric(bytes: key.bitCount / 8)
        }
    }

    public var isSymmetric: Bool {
        if case .symmetric = material { return true }
        return false
    }

    /// Whether this key may verify a token signed with `algorithm`: the key's type and curve
    /// fit, and its `use`, `key_ops` and `alg` (when present) allow it.
    public func canVerify(_ algorithm: JWTAlgorithm) -> Bool {
        if let use, use != "sig" { return false }
        if let operations, !operations.contains("verify") { return false }
        if let declared = self.algorithm, declared != algorithm.rawValue { return false }
        switch (algorithm, material) {
        case (.rs256, .rsa), (.rs384, .rsa), (.rs512, .rsa), (.ps256, .rsa), (.ps384, .rsa), (.ps512, .rsa):
            return true
        case (.es256, .p256), (.es384, .p384), (.es512, .p521), (.edDSA, .ed25519):
            return true
        case (.hs256, .symmetric(let key)), (.hs384, .symmetric(let key)), (.hs512, .symmetric(let key)):
            return key.bitCount / 8 >= algorithm.hmacKeyBytes ?? .max
        default:
            return false
        }
    }
}

// MARK: Parsing JWKs

extension JWK {
    /// Parses one JWK (a JSON object). Unsupported key types and curves, private-only members
    /// missing, RSA moduli under 2048 bits and points not on their curve are refused.
    public init(json: JSONObject) throws(JWKError) {
        let keyID = try Self.optionalString(json, "kid")
        let use = try Self.optionalString(json, "use")
        let algorithm = try Self.optionalString(json, "alg")
        var operations: [String]?
        if let ops = json["key_ops"] {
            guard let array = ops.arrayValue else { throw JWKError("'key_ops' is not an array") }
            operations = try array.map { (value) throws(JWKError) -> String in
                guard let operation = value.stringValue else { throw JWKError("'key_ops' holds a non-string") }
                return operation
            }
        }
        guard let keyType = json["kty"]?.stringValue else { throw JWKError("'kty' is missing or not a string") }
        let material: Material
        switch keyType {
        case "RSA":
            let modulus = try Self.bytes(json, "n")
            let exponent = try Self.bytes(json, "e")
            material = .rsa(try Self.rsaKey(modulus: modulus, exponent: exponent))
        case "EC":
            guard let curve = json["crv"]?.stringValue else { throw JWKError("EC key without 'crv'") }
            let x = try Self.bytes(json, "x")
            let y = try Self.bytes(json, "y")
            material = try Self.ecKey(curve: curve, x: x, y: y)
        case "OKP":
            guard let curve = json["crv"]?.stringValue else { throw JWKError("OKP key without 'crv'") }
            guard curve == "Ed25519" else { throw JWKError("unsupported OKP curve '\(Self.printable(curve))'") }
            let x = try Self.bytes(json, "x")
            guard x.count == 32, let key = try? Curve25519.Signing.PublicKey(rawRepresentation: x) else {
                throw JWKError("invalid Ed25519 public key")
            }
            material = .ed25519(key)
        case "oct":
            let secret = try Self.bytes(json, "k")
            material = .symmetric(try Self.secret(secret))
        default:
            throw JWKError("unsupported key type '\(Self.printable(keyType))'")
        }
        self.init(material: material, keyID: keyID, use: use, algorithm: algorithm, operations: operations)
    }

    /// A public key from PEM (`-----BEGIN PUBLIC KEY-----`, SubjectPublicKeyInfo; RSA also as
    /// `RSA PUBLIC KEY`): RSA (2048 bits or more), P-256, P-384, P-521 or Ed25519.
    public static func publicKey(pem: String, keyID: String? = nil, algorithm: JWTAlgorithm? = nil) throws(JWKError) -> JWK {
        let material: Material
        if let key = try? _RSA.Signing.PublicKey(unsafePEMRepresentation: pem) {
            guard rsaBits.contains(key.keySizeInBits) else {
                throw JWKError("RSA key of \(key.keySizeInBits) bits (at least 2048 and at most 8192 are accepted)")
            }
            material = .rsa(key)
        } else if let key = try? P256.Signing.PublicKey(pemRepresentation: pem) {
            material = .p256(key)
        } else if let key = try? P384.Signing.PublicKey(pemRepresentation: pem) {
            material = .p384(key)
        } else if let key = try? P521.Signing.PublicKey(pemRepresentation: pem) {
            material = .p521(key)
        } else if let raw = ed25519PublicKey(fromPEM: pem), let key = try? Curve25519.Signing.PublicKey(rawRepresentation: raw) {
            material = .ed25519(key)
        } else {
            throw JWKError("not a PEM public key of a supported type (RSA, P-256, P-384, P-521, Ed25519)")
        }
        let key = JWK(material: material, keyID: keyID, algorithm: algorithm?.rawValue)
        if let algorithm, !key.canVerify(algorithm) {
            throw JWKError("a \(key.keyType) key cannot verify \(algorithm)")
        }
        return key
    }

    /// A shared HMAC secret (at least 32 bytes: RFC 7518 wants a key as long as the hash).
    public static func symmetric(secret: some Collection<UInt8>, keyID: String? = nil, algorithm: JWTAlgorithm? = nil) throws(JWKError) -> JWK {
        let key = JWK(material: .symmetric(try Self.secret(Array(secret))), keyID: keyID, algorithm: algorithm?.rawValue)
        if let algorithm, !key.canVerify(algorithm) {
            throw JWKError("a \(key.keyType) secret cannot verify \(algorithm) (it needs \((algorithm.hmacKeyBytes ?? 0) * 8) bits)")
        }
        return key
    }

    static func rsaKey(modulus: [UInt8], exponent: [UInt8]) throws(JWKError) -> _RSA.Signing.PublicKey {
        let significant = modulus.drop(while: { $0 == 0 })
        let bits = significant.first.map { (significant.count - 1) * 8 + (8 - $0.leadingZeroBitCount) } ?? 0
        guard rsaBits.contains(bits) else {
            throw JWKError("RSA modulus of \(bits) bits (at least 2048 and at most 8192 are accepted)")
        }
        guard !exponent.isEmpty, exponent.count <= 8 else { throw JWKError("invalid RSA exponent") }
        do {
            return try _RSA.Signing.PublicKey(n: Data(significant), e: Data(exponent))
        } catch {
            throw JWKError("invalid RSA public key")
        }
    }

    static func ecKey(curve: String, x: [UInt8], y: [UInt8]) throws(JWKError) -> Material {
        let size: Int
        switch curve {
        case "P-256": size = 32
        case "P-384": size = 48
        case "P-521": size = 66
        default: throw JWKError("unsupported EC curve '\(printable(curve))'")
        }
        guard x.count == size, y.count == size else { throw JWKError("EC \(curve) coordinates must be \(size) bytes") }
        // The uncompressed point encoding; the library checks that it lies on the curve.
        let point = [0x04] + x + y
        let material: Material?
        switch curve {
        case "P-256": material = (try? P256.Signing.PublicKey(x963Representation: point)).map(Material.p256)
        case "P-384": material = (try? P384.Signing.PublicKey(x963Representation: point)).map(Material.p384)
        default: material = (try? P521.Signing.PublicKey(x963Representation: point)).map(Material.p521)
        }
        guard let material else { throw JWKError("invalid EC \(curve) public key") }
        return material
    }

    static func secret(_ bytes: [UInt8]) throws(JWKError) -> SymmetricKey {
        guard bytes.count >= 32 else { throw JWKError("HMAC secret shorter than 256 bits") }
        return SymmetricKey(data: bytes)
    }

    static func optionalString(_ json: JSONObject, _ name: String) throws(JWKError) -> String? {
        guard let value = json[name] else { return nil }
        guard let string = value.stringValue else { throw JWKError("'\(name)' is not a string") }
        return string
    }

    /// A base64url member. Unlike token segments, trailing `=` padding is tolerated here (some
    /// key servers emit it); everything else is as strict.
    static func bytes(_ json: JSONObject, _ name: String) throws(JWKError) -> [UInt8] {
        guard let text = json[name]?.stringValue else { throw JWKError("'\(name)' is missing or not a string") }
        var utf8 = Array(text.utf8)
        var padding = 0
        while utf8.last == UInt8(ascii: "="), padding < 2 {
            utf8.removeLast()
            padding += 1
        }
        guard let bytes = Base64URL.decode(utf8) else { throw JWKError("'\(name)' is not valid base64url") }
        return bytes
    }

    /// A short, printable excerpt of a value from a key document, for error messages.
    static func printable(_ value: String) -> String {
        String(value.unicodeScalars.prefix(32).filter { $0.isASCII && $0.value >= 0x20 && $0.value < 0x7F }.map(Character.init))
    }

    /// The raw key of an Ed25519 SubjectPublicKeyInfo PEM (RFC 8410: a fixed 12-byte DER prefix
    /// naming id-Ed25519, then the 32-byte key).
    static func ed25519PublicKey(fromPEM pem: String) -> [UInt8]? {
        let lines = pem.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        guard let begin = lines.firstIndex(of: "-----BEGIN PUBLIC KEY-----"),
            let end = lines.firstIndex(of: "-----END PUBLIC KEY-----"), begin < end
        else { return nil }
        guard let der = Data(base64Encoded: lines[(begin + 1)..<end].joined()) else { return nil }
        let prefix: [UInt8] = [0x30, 0x2A, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x03, 0x21, 0x00]
        guard der.count == prefix.count + 32, Array(der.prefix(prefix.count)) == prefix else { return nil }
        return Array(der.suffix(32))
    }
}

// MARK: Key sets

/// A JWK Set (`{"keys": [...]}`), as served at an issuer's `jwks_uri` or given in configuration.
public struct JWKSet: Sendable {
    public var keys: [JWK]
    /// Why members of the document were left out (unsupported or invalid keys), for logs. One
    /// bad or unfamiliar key (an encryption key, an X25519 key) does not spoil the others.
    public var skipped: [String]

    public init(keys: [JWK], skipped: [String] = []) {
        self.keys = keys
        self.skipped = skipped
    }

    /// Parses a JWK Set document. With `allowSymmetric: false` (key sets fetched from the
    /// network) `oct` keys are skipped: a secret published at a URL is no secret.
    public static func parse(_ bytes: some Collection<UInt8>, allowSymmetric: Bool = true) throws(JWKError) -> JWKSet {
        guard let document = try? JSONValue.parse(bytes) else { throw JWKError("the key set is not valid JSON") }
        guard let entries = document["keys"]?.arrayValue else { throw JWKError("the key set has no 'keys' array") }
        var set = JWKSet(keys: [])
        for (index, entry) in entries.enumerated() {
            guard let object = entry.objectValue else {
                set.skipped.append("key \(index): not an object")
                continue
            }
            do {
                let key = try JWK(json: object)
                if key.isSymmetric, !allowSymmetric {
                    set.skipped.append("key \(index): symmetric keys are not accepted from a fetched key set")
                    continue
                }
                set.keys.append(key)
            } catch {
                set.skipped.append("key \(index): \(error.description)")
            }
        }
        return set
    }

    public static func parse(_ text: String, allowSymmetric: Bool = true) throws(JWKError) -> JWKSet {
        try parse(Array(text.utf8), allowSymmetric: allowSymmetric)
    }
}

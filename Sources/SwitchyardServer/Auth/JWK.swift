import Crypto
import Foundation
import JWTKit
import SwitchyardCore
import Synchronization
import _CryptoExtras

/// A public (or, for HMAC, shared) verification key with its JWK metadata (RFC 7517).
///
/// The key material is jwt-kit's key types, and signatures are checked by the verifiers jwt-kit
/// builds from them (see ``verifier(for:)``). What stays here is the policy jwt-kit leaves to
/// its caller: which key a token may use. The material is typed: an RSA key can only verify
/// RS*/PS*, a P-256 key only ES256, an Ed25519 key only EdDSA and a symmetric key only HS*.
/// Binding the algorithm to the key's type is what defeats algorithm confusion (an HS256 token
/// "signed" with an RSA public key's bytes), and `use`, `key_ops` and the key's own `alg` are
/// honoured, which jwt-kit's key collection does not do.
public struct JWK: Sendable {
    enum Material: Sendable {
        case rsa(JWTKit.Insecure.RSA.PublicKey, bits: Int)
        case p256(ES256PublicKey)
        case p384(ES384PublicKey)
        case p521(ES512PublicKey)
        case ed25519(EdDSA.PublicKey)
        case symmetric(HMACKey, bytes: Int)
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

    /// RSA moduli outside this range are refused: shorter ones are breakable (jwt-kit refuses
    /// them too), much longer ones only make verification expensive.
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
    /// jwt-kit's verifiers for this key, one per algorithm, made on first use and shared by
    /// the copies of this key (a cached key set is used for many tokens).
    let verifiers = Verifiers()

    init(material: Material, keyID: String?, use: String? = nil, algorithm: String? = nil, operations: [String]? = nil) {
        self.material = material
        self.keyID = keyID
        self.use = use
        self.algorithm = algorithm
        self.operations = operations
    }

    public var keyType: KeyType {
        switch material {
        case .rsa(_, let bits): .rsa(bits: bits)
        case .p256: .ec(curve: "P-256")
        case .p384: .ec(curve: "P-384")
        case .p521: .ec(curve: "P-521")
        case .ed25519: .okp(curve: "Ed25519")
        case .symmetric(_, let bytes): .symmetric(bytes: bytes)
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
        case (.hs256, .symmetric(_, let bytes)), (.hs384, .symmetric(_, let bytes)), (.hs512, .symmetric(_, let bytes)):
            return bytes >= algorithm.hmacKeyBytes ?? .max
        default:
            return false
        }
    }
}

// MARK: Verifying with jwt-kit

extension JWK {
    /// jwt-kit's verifiers of one key, by algorithm.
    final class Verifiers: Sendable {
        let byAlgorithm = Mutex<[JWTAlgorithm: any JWTKit.JWTAlgorithm]>([:])
    }

    /// jwt-kit's verifier of `algorithm` with this key; nil unless ``canVerify(_:)`` allows the
    /// pair (so jwt-kit never sees an algorithm the key's type does not fit, nor an HMAC key
    /// shorter than its hash).
    ///
    /// jwt-kit hands its algorithm implementations out only through a `JWTKeyCollection`, so
    /// the key goes into a collection of its own and comes back as that collection's default
    /// key. jwt-kit's own key selection is not used: it keeps one key per `kid`, knows nothing
    /// of `use`, `key_ops` or a key's `alg`, and falls back to its default key for an unknown
    /// `kid`.
    func verifier(for algorithm: JWTAlgorithm) async -> (any JWTKit.JWTAlgorithm)? {
        guard canVerify(algorithm) else { return nil }
        if let made = verifiers.byAlgorithm.withLock({ $0[algorithm] }) { return made }
        let collection = JWTKeyCollection()
        switch (algorithm, material) {
        case (.rs256, .rsa(let key, _)): await collection.add(rsa: key, digestAlgorithm: .sha256)
        case (.rs384, .rsa(let key, _)): await collection.add(rsa: key, digestAlgorithm: .sha384)
        case (.rs512, .rsa(let key, _)): await collection.add(rsa: key, digestAlgorithm: .sha512)
        case (.ps256, .rsa(let key, _)): await collection.add(pss: key, digestAlgorithm: .sha256)
        case (.ps384, .rsa(let key, _)): await collection.add(pss: key, digestAlgorithm: .sha384)
        case (.ps512, .rsa(let key, _)): await collection.add(pss: key, digestAlgorithm: .sha512)
        case (.es256, .p256(let key)): await collection.add(ecdsa: key)
        case (.es384, .p384(let key)): await collection.add(ecdsa: key)
        case (.es512, .p521(let key)): await collection.add(ecdsa: key)
        case (.edDSA, .ed25519(let key)): await collection.add(eddsa: key)
        case (.hs256, .symmetric(let key, _)): await collection.add(hmac: key, digestAlgorithm: .sha256)
        case (.hs384, .symmetric(let key, _)): await collection.add(hmac: key, digestAlgorithm: .sha384)
        case (.hs512, .symmetric(let key, _)): await collection.add(hmac: key, digestAlgorithm: .sha512)
        default: return nil
        }
        // The verifier must be the one for the token's algorithm (jwt-kit names it by its `alg`).
        guard let made = try? await collection.getKey(), made.name == algorithm.rawValue else { return nil }
        verifiers.byAlgorithm.withLock { $0[algorithm] = made }
        return made
    }

    /// Whether `signature` is this key's `algorithm` signature over `input`, as jwt-kit checks
    /// it: ECDSA signatures must be the raw `r‖s` of the curve's size (a DER signature fails),
    /// HMAC tags are compared in constant time. Any error from jwt-kit counts as invalid.
    func isValidSignature(_ signature: [UInt8], over input: ArraySlice<UInt8>, algorithm: JWTAlgorithm) async -> Bool {
        guard let verifier = await verifier(for: algorithm) else { return false }
        return (try? verifier.verify(signature, signs: input)) ?? false
    }
}

// MARK: Parsing JWKs

extension JWK {
    /// Parses one JWK (a JSON object) into jwt-kit key types. Unsupported key types and curves,
    /// missing members, RSA moduli under 2048 bits, coordinates of the wrong size and points not
    /// on their curve are refused.
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
            let modulus = try Self.base64URLMember(json, "n")
            let exponent = try Self.base64URLMember(json, "e")
            guard let key = try? JWTKit.Insecure.RSA.PublicKey(modulus: modulus, exponent: exponent) else {
                throw JWKError("invalid RSA public key (or a modulus under 2048 bits)")
            }
            material = try Self.rsa(key)
        case "EC":
            guard let curve = json["crv"]?.stringValue else { throw JWKError("EC key without 'crv'") }
            material = try Self.ec(curve: curve, x: Self.base64URLMember(json, "x"), y: Self.base64URLMember(json, "y"))
        case "OKP":
            guard let curve = json["crv"]?.stringValue else { throw JWKError("OKP key without 'crv'") }
            guard curve == "Ed25519" else { throw JWKError("unsupported OKP curve '\(Self.printable(curve))'") }
            guard let key = try? EdDSA.PublicKey(x: Self.base64URLMember(json, "x"), curve: .ed25519) else {
                throw JWKError("invalid Ed25519 public key")
            }
            material = .ed25519(key)
        case "oct":
            // jwt-kit takes an HMAC key as bytes, so `k` is decoded here.
            guard let secret = Base64URL.decode(Array(try Self.base64URLMember(json, "k").utf8)) else {
                throw JWKError("'k' is not valid base64url")
            }
            material = try Self.secret(secret)
        default:
            throw JWKError("unsupported key type '\(Self.printable(keyType))'")
        }
        self.init(material: material, keyID: keyID, use: use, algorithm: algorithm, operations: operations)
    }

    /// A public key from PEM (`-----BEGIN PUBLIC KEY-----`, SubjectPublicKeyInfo; RSA also as
    /// `RSA PUBLIC KEY`): RSA (2048 bits or more), P-256, P-384, P-521 or Ed25519.
    public static func publicKey(pem: String, keyID: String? = nil, algorithm: JWTAlgorithm? = nil) throws(JWKError) -> JWK {
        let material: Material
        // Read without jwt-kit's size floor first, to say why a short RSA key is refused.
        if let backing = try? _RSA.Signing.PublicKey(unsafePEMRepresentation: pem) {
            guard rsaBits.contains(backing.keySizeInBits), let key = try? JWTKit.Insecure.RSA.PublicKey(backing: backing) else {
                throw JWKError("RSA key of \(backing.keySizeInBits) bits (at least 2048 and at most 8192 are accepted)")
            }
            material = .rsa(key, bits: backing.keySizeInBits)
        } else if let key = try? ES256PublicKey(pem: pem) {
            material = .p256(key)
        } else if let key = try? ES384PublicKey(pem: pem) {
            material = .p384(key)
        } else if let key = try? ES512PublicKey(pem: pem) {
            material = .p521(key)
        } else if let key = try? EdDSA.PublicKey(pem: pem) {
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
        let key = JWK(material: try Self.secret(Array(secret)), keyID: keyID, algorithm: algorithm?.rawValue)
        if let algorithm, !key.canVerify(algorithm) {
            throw JWKError("a \(key.keyType) secret cannot verify \(algorithm) (it needs \((algorithm.hmacKeyBytes ?? 0) * 8) bits)")
        }
        return key
    }

    /// An RSA key within ``rsaBits``.
    static func rsa(_ key: JWTKit.Insecure.RSA.PublicKey) throws(JWKError) -> Material {
        guard let modulus = try? key.getKeyPrimitives().modulus else { throw JWKError("invalid RSA public key") }
        let significant = modulus.drop(while: { $0 == 0 })
        let bits = significant.first.map { (significant.count - 1) * 8 + (8 - $0.leadingZeroBitCount) } ?? 0
        guard rsaBits.contains(bits) else {
            throw JWKError("RSA modulus of \(bits) bits (at least 2048 and at most 8192 are accepted)")
        }
        return .rsa(key, bits: bits)
    }

    /// An EC key from its base64url coordinates. jwt-kit checks that the point lies on the
    /// curve; that each coordinate has exactly the curve's size (not merely the two together)
    /// is checked by encoding the key's coordinates back and comparing.
    static func ec(curve: String, x: String, y: String) throws(JWKError) -> Material {
        let material: Material?
        let parameters: ECDSAParameters?
        switch curve {
        case "P-256":
            let key = try? ES256PublicKey(parameters: (x, y))
            (material, parameters) = (key.map(Material.p256), key?.parameters)
        case "P-384":
            let key = try? ES384PublicKey(parameters: (x, y))
            (material, parameters) = (key.map(Material.p384), key?.parameters)
        case "P-521":
            let key = try? ES512PublicKey(parameters: (x, y))
            (material, parameters) = (key.map(Material.p521), key?.parameters)
        default:
            throw JWKError("unsupported EC curve '\(printable(curve))'")
        }
        guard let material, let parameters, parameters.x == x, parameters.y == y else {
            throw JWKError("invalid EC \(curve) public key (coordinates must be on the curve and of its size)")
        }
        return material
    }

    static func secret(_ bytes: [UInt8]) throws(JWKError) -> Material {
        guard bytes.count >= 32 else { throw JWKError("HMAC secret shorter than 256 bits") }
        return .symmetric(HMACKey(from: bytes), bytes: bytes.count)
    }

    static func optionalString(_ json: JSONObject, _ name: String) throws(JWKError) -> String? {
        guard let value = json[name] else { return nil }
        guard let string = value.stringValue else { throw JWKError("'\(name)' is not a string") }
        return string
    }

    /// A base64url member without its padding: unlike token segments, trailing `=` is tolerated
    /// here (some key servers emit it); the characters themselves are checked by the decoder.
    static func base64URLMember(_ json: JSONObject, _ name: String) throws(JWKError) -> String {
        guard let text = json[name]?.stringValue else { throw JWKError("'\(name)' is missing or not a string") }
        var unpadded = Substring(text)
        var padding = 0
        while unpadded.last == "=", padding < 2 {
            unpadded.removeLast()
            padding += 1
        }
        return String(unpadded)
    }

    /// A short, printable excerpt of a value from a key document, for error messages.
    static func printable(_ value: String) -> String {
        String(value.unicodeScalars.prefix(32).filter { $0.isASCII && $0.value >= 0x20 && $0.value < 0x7F }.map(Character.init))
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

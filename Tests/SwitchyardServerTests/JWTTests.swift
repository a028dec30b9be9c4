import AsyncHTTPClient
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SwitchyardCore
import SwitchyardServer
import SwitchyardTesting
import Synchronization
import Testing
import _CryptoExtras

// MARK: Helpers: keys, signing, key documents

/// Keys made once (the RSA ones are fixed PEMs: generating them in a debug build is slow).
enum TestKeys {
    static let rsa = try! _RSA.Signing.PrivateKey(pemRepresentation: FixedTestKeys.rsa)
    static let rsa2 = try! _RSA.Signing.PrivateKey(pemRepresentation: FixedTestKeys.rsa2)
    static let attacker = try! _RSA.Signing.PrivateKey(pemRepresentation: FixedTestKeys.attacker)
    static let weakRSA = try! _RSA.Signing.PrivateKey(unsafePEMRepresentation: FixedTestKeys.weak)
    static let p256 = P256.Signing.PrivateKey()
    static let p384 = P384.Signing.PrivateKey()
    static let p521 = P521.Signing.PrivateKey()
    static let ed25519 = Curve25519.Signing.PrivateKey()
    static let secret: [UInt8] = (0..<64).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
}

/// base64url without padding, written independently of the code under test.
func b64url(_ bytes: some Sequence<UInt8>) -> String {
    Data(bytes).base64EncodedString()
        .replacingOccurrences(of: "+", with: "-")
        .replacingOccurrences(of: "/", with: "_")
        .replacingOccurrences(of: "=", with: "")
}

enum Signer {
    case rsa(_RSA.Signing.PrivateKey)
    case p256(P256.Signing.PrivateKey)
    case p384(P384.Signing.PrivateKey)
    case p521(P521.Signing.PrivateKey)
    case ed25519(Curve25519.Signing.PrivateKey)
    case hmac([UInt8])
    /// A fixed signature (attacks).
    case raw([UInt8])

    func sign(_ data: [UInt8], alg: String) -> [UInt8] {
        switch self {
        case .rsa(let key):
            let padding: _RSA.Signing.Padding = alg.hasPrefix("PS") ? .PSS : .insecurePKCS1v1_5
            let signature: _RSA.Signing.RSASignature
            switch alg.suffix(3) {
            case "384": signature = try! key.signature(for: SHA384.hash(data: data), padding: padding)
            case "512": signature = try! key.signature(for: SHA512.hash(data: data), padding: padding)
            default: signature = try! key.signature(for: SHA256.hash(data: data), padding: padding)
            }
            return Array(signature.rawRepresentation)
        case .p256(let key): return Array(try! key.signature(for: data).rawRepresentation)
        case .p384(let key): return Array(try! key.signature(for: data).rawRepresentation)
        case .p521(let key): return Array(try! key.signature(for: data).rawRepresentation)
        case .ed25519(let key): return Array(try! key.signature(for: data))
        case .hmac(let secret):
            let key = SymmetricKey(data: secret)
            switch alg.suffix(3) {
            case "384": return Array(HMAC<SHA384>.authenticationCode(for: data, using: key))
            case "512": return Array(HMAC<SHA512>.authenticationCode(for: data, using: key))
            default: return Array(HMAC<SHA256>.authenticationCode(for: data, using: key))
            }
        case .raw(let bytes): return bytes
        }
    }
}

let testIssuer = "https://issuer.example"
let baseTime: Double = 1_700_000_000

/// A claims set valid at `now`, with `changes` applied and `removing` taken out.
func claims(now: Double = baseTime, _ changes: [String: JSONValue] = [:], removing: [String] = []) -> JSONValue {
    var object: JSONObject = [
        "iss": .string(testIssuer), "aud": "gateway", "sub": "user-1", "iat": JSONValue(Int(now)), "exp": JSONValue(Int(now) + 300),
    ]
    for (name, value) in changes { object[name] = value }
    for name in removing { object[name] = nil }
    return .object(object)
}

/// A compact JWS over `claims` with header `{"alg":…,"kid":…}` plus `header` members.
func makeToken(
    alg: String, kid: String? = nil, header: [String: JSONValue] = [:], claims payload: JSONValue = claims(), signer: Signer
) -> String {
    var object: JSONObject = ["alg": .string(alg)]
    if let kid { object["kid"] = .string(kid) }
    for (name, value) in header.sorted(by: { $0.key < $1.key }) { object[name] = value }
    let input = b64url(JSONValue.object(object).serializedBytes()) + "." + b64url(payload.serializedBytes())
    return input + "." + b64url(signer.sign(Array(input.utf8), alg: alg))
}

/// A token from raw header and payload texts (for malformed JSON cases).
func rawToken(header: String, payload: String, signer: Signer, alg: String = "HS256") -> String {
    let input = b64url(Array(header.utf8)) + "." + b64url(Array(payload.utf8))
    return input + "." + b64url(signer.sign(Array(input.utf8), alg: alg))
}

func jwkJSON(rsa key: _RSA.Signing.PublicKey, kid: String?, extra: [String: JSONValue] = [:]) -> JSONValue {
    let primitives = try! key.getKeyPrimitives()
    var object: JSONObject = ["kty": "RSA", "n": .string(b64url(primitives.modulus)), "e": .string(b64url(primitives.publicExponent))]
    return finish(&object, kid: kid, extra: extra)
}

func jwkJSON(ec point: Data, curve: String, kid: String?, extra: [String: JSONValue] = [:]) -> JSONValue {
    let coordinates = Array(point.dropFirst())
    let half = coordinates.count / 2
    var object: JSONObject = [
        "kty": "EC", "crv": .string(curve), "x": .string(b64url(coordinates[..<half])), "y": .string(b64url(coordinates[half...])),
    ]
    return finish(&object, kid: kid, extra: extra)
}

func jwkJSON(ed25519 key: Curve25519.Signing.PublicKey, kid: String?, extra: [String: JSONValue] = [:]) -> JSONValue {
    var object: JSONObject = ["kty": "OKP", "crv": "Ed25519", "x": .string(b64url(key.rawRepresentation))]
    return finish(&object, kid: kid, extra: extra)
}

func jwkJSON(secret: [UInt8], kid: String?, extra: [String: JSONValue] = [:]) -> JSONValue {
    var object: JSONObject = ["kty": "oct", "k": .string(b64url(secret))]
    return finish(&object, kid: kid, extra: extra)
}

func finish(_ object: inout JSONObject, kid: String?, extra: [String: JSONValue]) -> JSONValue {
    if let kid { object["kid"] = .string(kid) }
    for (name, value) in extra { object[name] = value }
    return .object(object)
}

func jwk(_ json: JSONValue) throws -> JWK {
    try JWK(json: try #require(json.objectValue))
}

func jwksDocument(_ keys: [JSONValue]) -> String {
    JSONValue.object(["keys": .array(keys)]).serialized()
}

/// One key of every type, with kids "rsa", "p256", "p384", "p521", "ed", "hs".
func allKeys() throws -> [JWK] {
    try [
        jwk(jwkJSON(rsa: TestKeys.rsa.publicKey, kid: "rsa")),
        jwk(jwkJSON(ec: TestKeys.p256.publicKey.x963Representation, curve: "P-256", kid: "p256")),
        jwk(jwkJSON(ec: TestKeys.p384.publicKey.x963Representation, curve: "P-384", kid: "p384")),
        jwk(jwkJSON(ec: TestKeys.p521.publicKey.x963Representation, curve: "P-521", kid: "p521")),
        jwk(jwkJSON(ed25519: TestKeys.ed25519.publicKey, kid: "ed")),
        jwk(jwkJSON(secret: TestKeys.secret, kid: "hs")),
    ]
}

func makeVerifier(
    _ algorithms: Set<JWTAlgorithm> = Set(JWTAlgorithm.allCases), now: Double = baseTime,
    _ configure: (inout JWTValidationOptions) -> Void = { _ in }
) -> JWTVerifier {
    var options = JWTValidationOptions(algorithms: algorithms, issuer: testIssuer, audiences: ["gateway"], now: { now })
    configure(&options)
    return JWTVerifier(options: options)
}

/// The error `body` throws, nil when it succeeds.
func failure(_ body: () throws(JWTError) -> VerifiedJWT) -> JWTError? {
    do {
        _ = try body()
        return nil
    } catch {
        return error
    }
}

func failure(_ body: () async throws(JWTError) -> VerifiedJWT) async -> JWTError? {
    do {
        _ = try await body()
        return nil
    } catch {
        return error
    }
}

let rsaToken = makeToken(alg: "RS256", kid: "rsa", signer: .rsa(TestKeys.rsa))

// MARK: Verification

@Suite struct JWTVerificationTests {
    @Test func everyAlgorithmVerifies() async throws {
        let keys = try allKeys()
        let cases: [(String, String, Signer)] = [
            ("RS256", "rsa", .rsa(TestKeys.rsa)), ("RS384", "rsa", .rsa(TestKeys.rsa)), ("RS512", "rsa", .rsa(TestKeys.rsa)),
            ("PS256", "rsa", .rsa(TestKeys.rsa)), ("PS384", "rsa", .rsa(TestKeys.rsa)), ("PS512", "rsa", .rsa(TestKeys.rsa)),
            ("ES256", "p256", .p256(TestKeys.p256)), ("ES384", "p384", .p384(TestKeys.p384)), ("ES512", "p521", .p521(TestKeys.p521)),
            ("EdDSA", "ed", .ed25519(TestKeys.ed25519)),
            ("HS256", "hs", .hmac(TestKeys.secret)), ("HS384", "hs", .hmac(TestKeys.secret)), ("HS512", "hs", .hmac(TestKeys.secret)),
        ]
        #expect(Set(cases.map(\.0)) == Set(JWTAlgorithm.allCases.map(\.rawValue)))
        let verifier = makeVerifier()
        for (alg, kid, signer) in cases {
            let token = makeToken(alg: alg, kid: kid, signer: signer)
            let verified = try await verifier.verify(token, keys: keys)
            #expect(verified.algorithm.rawValue == alg)
            #expect(verified.keyID == kid)
            #expect(verified.subject == "user-1")
            // Without the key it names, no other key is tried.
            let others = keys.filter { $0.keyID != kid }
            #expect(await failure { () async throws(JWTError) in try await verifier.verify(token, keys: others) } == .unknownKey, "\(alg)")
        }
    }

    @Test func withoutKidTheOneFittingKeyIsUsed() async throws {
        let keys = try allKeys().map { key in
            // The same keys without kids.
            JWKTestAccess.strippingKeyID(key)
        }
        let verifier = makeVerifier()
        let token = makeToken(alg: "ES256", signer: .p256(TestKeys.p256))
        #expect(try await verifier.verify(token, keys: keys).keyID == nil)
        // Two RSA keys fit RS256: a token without kid is ambiguous.
        let twoRSA = [
            try jwk(jwkJSON(rsa: TestKeys.rsa.publicKey, kid: nil)), try jwk(jwkJSON(rsa: TestKeys.rsa2.publicKey, kid: nil)),
        ]
        let ambiguous = makeToken(alg: "RS256", signer: .rsa(TestKeys.rsa))
        #expect(await failure { () async throws(JWTError) in try await verifier.verify(ambiguous, keys: twoRSA) } == .ambiguousKey)
        // No key fits at all.
        #expect(await failure { () async throws(JWTError) in try await verifier.verify(ambiguous, keys: []) } == .unknownKey)
    }

    @Test func algNoneIsAlwaysRejected() async throws {
        let keys = try allKeys()
        let verifier = makeVerifier()
        for name in ["none", "None", "NONE", "nOnE"] {
            for kid in [nil, "hs", "rsa"] as [String?] {
                let token = makeToken(alg: name, kid: kid, signer: .raw([]))
                #expect(token.hasSuffix("."))
                #expect(
                    await failure { () async throws(JWTError) in try await verifier.verify(token, keys: keys) } == .unsupportedAlgorithm, "\(name)")
            }
        }
        let unknown = makeToken(alg: "XS256", kid: "hs", signer: .hmac(TestKeys.secret))
        #expect(await failure { () async throws(JWTError) in try await verifier.verify(unknown, keys: keys) } == .unsupportedAlgorithm)
        let lowercase = makeToken(alg: "hs256", kid: "hs", signer: .hmac(TestKeys.secret))
        #expect(await failure { () async throws(JWTError) in try await verifier.verify(lowercase, keys: keys) } == .unsupportedAlgorithm)
    }

    @Test func hmacSignedWithTheRSAPublicKeyIsRejected() async throws {
        let publicKey = TestKeys.rsa.publicKey
        let rsaJWK = try jwk(jwkJSON(rsa: publicKey, kid: "rsa"))
        let pemJWK = try JWK.publicKey(pem: publicKey.pemRepresentation)
        let primitives = try publicKey.getKeyPrimitives()
        let secrets: [[UInt8]] = [
            Array(publicKey.derRepresentation), Array(publicKey.pemRepresentation.utf8), Array(publicKey.pkcs1DERRepresentation),
            Array(publicKey.pkcs1PEMRepresentation.utf8), Array(primitives.modulus),
            Array(jwkJSON(rsa: publicKey, kid: "rsa").serialized().utf8),
        ]
        // Even a configuration that (unwisely) pins both families refuses the confusion.
        let both = makeVerifier([.rs256, .hs256])
        let rsaOnly = makeVerifier([.rs256])
        for secret in secrets {
            for alg in ["HS256", "HS384", "HS512"] {
                let withKid = makeToken(alg: alg, kid: "rsa", signer: .hmac(secret))
                let withoutKid = makeToken(alg: alg, signer: .hmac(secret))
                let pinned: Set<JWTAlgorithm> = [.rs256, JWTAlgorithm(rawValue: alg)!]
                #expect(await failure { () async throws(JWTError) in try await makeVerifier(pinned).verify(withKid, keys: [rsaJWK]) } == .keyMismatch)
                #expect(
                    await failure { () async throws(JWTError) in try await makeVerifier(pinned).verify(withoutKid, keys: [rsaJWK]) } == .unknownKey)
                #expect(
                    await failure { () async throws(JWTError) in try await makeVerifier(pinned).verify(withoutKid, keys: [pemJWK]) } == .unknownKey)
                #expect(await failure { () async throws(JWTError) in try await rsaOnly.verify(withKid, keys: [rsaJWK]) } == .algorithmNotAllowed)
            }
            let token = makeToken(alg: "HS256", kid: "rsa", signer: .hmac(secret))
            #expect(await failure { () async throws(JWTError) in try await both.verify(token, keys: [rsaJWK, pemJWK]) } == .keyMismatch)
        }
        // The genuine RS256 token still verifies with both configurations.
        #expect(try await both.verify(rsaToken, keys: [rsaJWK]).algorithm == .rs256)
        #expect(try await rsaOnly.verify(makeToken(alg: "RS256", signer: .rsa(TestKeys.rsa)), keys: [pemJWK]).algorithm == .rs256)
    }

    @Test func algorithmsArePinned() async throws {
        let keys = try allKeys()
        let rs256Only = makeVerifier([.rs256])
        for (alg, kid, signer) in [
            ("RS384", "rsa", Signer.rsa(TestKeys.rsa)), ("PS256", "rsa", .rsa(TestKeys.rsa)), ("ES256", "p256", .p256(TestKeys.p256)),
            ("HS256", "hs", .hmac(TestKeys.secret)), ("EdDSA", "ed", .ed25519(TestKeys.ed25519)),
        ] {
            let token = makeToken(alg: alg, kid: kid, signer: signer)
            #expect(await failure { () async throws(JWTError) in try await rs256Only.verify(token, keys: keys) } == .algorithmNotAllowed, "\(alg)")
        }
        #expect(try await rs256Only.verify(rsaToken, keys: keys).algorithm == .rs256)
    }

    @Test func keyTypeCurveAndDeclaredAlgMustFitTheToken() async throws {
        let keys = try allKeys()
        let verifier = makeVerifier()
        // ES256 signed with the P-256 key but naming the P-384 key.
        let wrongCurve = makeToken(alg: "ES256", kid: "p384", signer: .p256(TestKeys.p256))
        #expect(await failure { () async throws(JWTError) in try await verifier.verify(wrongCurve, keys: keys) } == .keyMismatch)
        // An RSA key declared for RS256 does not verify PS256 tokens.
        let declared = try jwk(jwkJSON(rsa: TestKeys.rsa.publicKey, kid: "rsa", extra: ["alg": "RS256"]))
        let pss = makeToken(alg: "PS256", kid: "rsa", signer: .rsa(TestKeys.rsa))
        #expect(await failure { () async throws(JWTError) in try await verifier.verify(pss, keys: [declared]) } == .keyMismatch)
        #expect(try await verifier.verify(rsaToken, keys: [declared]).algorithm == .rs256)
        // A PS256 token is not an RS256 token: the padding is part of the algorithm.
        let relabelled = makeToken(alg: "RS256", kid: "rsa", signer: .raw(Signer.rsa(TestKeys.rsa).sign([1, 2, 3], alg: "PS256")))
        #expect(await failure { () async throws(JWTError) in try await verifier.verify(relabelled, keys: keys) } == .badSignature)
        // An HS512 token needs a 64-byte secret.
        let short = try jwk(jwkJSON(secret: Array(TestKeys.secret.prefix(32)), kid: "short"))
        let hs512 = makeToken(alg: "HS512", kid: "short", signer: .hmac(Array(TestKeys.secret.prefix(32))))
        #expect(await failure { () async throws(JWTError) in try await verifier.verify(hs512, keys: [short]) } == .keyMismatch)
    }

    @Test func keysNotForSigningAreNotUsed() async throws {
        let verifier = makeVerifier()
        let encryption = try jwk(jwkJSON(rsa: TestKeys.rsa.publicKey, kid: "rsa", extra: ["use": "enc"]))
        #expect(await failure { () async throws(JWTError) in try await verifier.verify(rsaToken, keys: [encryption]) } == .keyMismatch)
        let operations = try jwk(jwkJSON(rsa: TestKeys.rsa.publicKey, kid: "rsa", extra: ["key_ops": ["encrypt"]]))
        #expect(await failure { () async throws(JWTError) in try await verifier.verify(rsaToken, keys: [operations]) } == .keyMismatch)
        let signing = try jwk(jwkJSON(rsa: TestKeys.rsa.publicKey, kid: "rsa", extra: ["use": "sig", "key_ops": ["verify"]]))
        #expect(try await verifier.verify(rsaToken, keys: [signing]).keyID == "rsa")
        // With both under the same kid, the signing key is chosen.
        #expect(try await verifier.verify(rsaToken, keys: [encryption, signing]).keyID == "rsa")
    }

    @Test func ecdsaSignaturesMustBeRawAndFixedLength() async throws {
        let keys = try allKeys()
        let verifier = makeVerifier()
        let header = b64url(Array(#"{"alg":"ES256","kid":"p256"}"#.utf8))
        let payload = b64url(claims().serializedBytes())
        let input = Array((header + "." + payload).utf8)
        let signature = try TestKeys.p256.signature(for: input)
        let good = header + "." + payload + "." + b64url(signature.rawRepresentation)
        #expect(try await verifier.verify(good, keys: keys).algorithm == .es256)
        let der = header + "." + payload + "." + b64url(signature.derRepresentation)
        #expect(await failure { () async throws(JWTError) in try await verifier.verify(der, keys: keys) } == .badSignature)
        for bad in [Array(signature.rawRepresentation.dropLast()), Array(signature.rawRepresentation) + [0], [UInt8](repeating: 0, count: 64)] {
            let token = header + "." + payload + "." + b64url(bad)
            #expect(await failure { () async throws(JWTError) in try await verifier.verify(token, keys: keys) } == .badSignature)
        }
        // ES512 signatures are 132 bytes (two 66-byte integers).
        let es512 = makeToken(alg: "ES512", kid: "p521", signer: .p521(TestKeys.p521))
        #expect(Base64URL.decode(String(es512.split(separator: ".")[2]))?.count == 132)
        #expect(try await verifier.verify(es512, keys: keys).algorithm == .es512)
    }

    @Test func tamperingIsDetected() async throws {
        let keys = try allKeys()
        let verifier = makeVerifier()
        for token in [
            rsaToken, makeToken(alg: "ES256", kid: "p256", signer: .p256(TestKeys.p256)),
            makeToken(alg: "EdDSA", kid: "ed", signer: .ed25519(TestKeys.ed25519)),
            makeToken(alg: "HS256", kid: "hs", signer: .hmac(TestKeys.secret)),
        ] {
            let parts = token.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            // Payload swapped for one claiming another subject.
            let forged = parts[0] + "." + b64url(claims(["sub": "admin"]).serializedBytes()) + "." + parts[2]
            #expect(await failure { () async throws(JWTError) in try await verifier.verify(forged, keys: keys) } == .badSignature)
            // Header changed (kid kept, a new member added).
            let headerBytes = try #require(Base64URL.decode(parts[0]))
            var header = try #require(try JSONValue.parse(headerBytes).objectValue)
            header["x"] = "y"
            let reheadered = b64url(JSONValue.object(header).serializedBytes()) + "." + parts[1] + "." + parts[2]
            #expect(await failure { () async throws(JWTError) in try await verifier.verify(reheadered, keys: keys) } == .badSignature)
            // One signature bit flipped.
            var signature = try #require(Base64URL.decode(parts[2]))
            signature[signature.count / 2] ^= 0x01
            let flipped = parts[0] + "." + parts[1] + "." + b64url(signature)
            #expect(await failure { () async throws(JWTError) in try await verifier.verify(flipped, keys: keys) } == .badSignature)
            // Signature removed.
            #expect(
                await failure { () async throws(JWTError) in try await verifier.verify(parts[0] + "." + parts[1] + ".", keys: keys) } == .badSignature
            )
        }
    }

    @Test func structureIsStrict() async throws {
        let keys = try allKeys()
        let verifier = makeVerifier()
        let parts = rsaToken.split(separator: ".").map(String.init)
        var malformed = [
            "", ".", "..", "...", parts[0], parts[0] + "." + parts[1], rsaToken + ".", rsaToken + "." + parts[2],
            parts[0] + "." + parts[1] + "." + parts[2] + "." + parts[2], "." + parts[1] + "." + parts[2], parts[0] + ".." + parts[2],
            String(rsaToken.prefix(parts[0].count + 5)),
            // Padding, the standard alphabet, whitespace, other characters.
            parts[0] + "=." + parts[1] + "." + parts[2], parts[0] + "." + parts[1] + "." + parts[2] + "==",
            " " + rsaToken, rsaToken + "\n", parts[0] + ".\t" + parts[1] + "." + parts[2],
            parts[0] + "." + parts[1].replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/") + "+/." + parts[2],
            parts[0] + "." + parts[1] + "." + String(parts[2].dropLast(3)) + "%21",
            "Bearer " + rsaToken,
        ]
        // A lone trailing character (length ≡ 1 mod 4).
        malformed.append(parts[0] + "." + parts[1] + "A." + parts[2])
        // A non-canonical last character of the signature (unused bits set).
        let last = try #require(parts[2].last)
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        let index = try #require(alphabet.firstIndex(of: last))
        #expect(parts[2].count % 4 != 0)
        malformed.append(parts[0] + "." + parts[1] + "." + String(parts[2].dropLast()) + String(alphabet[index | 1]))
        for token in malformed {
            #expect(await failure { () async throws(JWTError) in try await verifier.verify(token, keys: keys) } == .malformed, "\(token.prefix(60))")
        }
        // Truncated signatures never verify.
        for cut in [1, 2, 4, 10, 100] {
            let error = await failure { () async throws(JWTError) in try await verifier.verify(String(rsaToken.dropLast(cut)), keys: keys) }
            #expect(error == .badSignature || error == .malformed, "cut \(cut)")
        }
    }

    @Test func headerAndPayloadMustBeCleanJSONObjects() async throws {
        let keys = try allKeys()
        let verifier = makeVerifier()
        let payload = claims().serialized()
        let signer = Signer.hmac(TestKeys.secret)
        #expect(
            try await verifier.verify(rawToken(header: #"{"alg":"HS256","kid":"hs"}"#, payload: payload, signer: signer), keys: keys).subject
                == "user-1")
        let headers = [
            #"{"alg":"HS256","kid":"hs","alg":"none"}"#, #"{"alg":"none","kid":"hs","alg":"HS256"}"#, #"{"alg":"HS256","kid":"hs","kid":"rsa"}"#,
            #"{"alg":256,"kid":"hs"}"#, #"{"alg":["HS256"],"kid":"hs"}"#, #"{"kid":"hs"}"#, #"{"alg":"HS256","kid":7}"#,
            #"{"alg":"HS256","kid":"hs","typ":1}"#, #"["HS256"]"#, #""HS256""#, #"{"alg":"HS256","kid":"hs"} x"#, #"{"alg":"HS256","kid":"hs""#, "",
            "{\"alg\":\"HS256\",\"kid\":\"hs\",\"x\":\"\u{1}\"}",
        ]
        for header in headers {
            let token = rawToken(header: header, payload: payload, signer: signer)
            #expect(await failure { () async throws(JWTError) in try await verifier.verify(token, keys: keys) } == .malformed, "\(header)")
        }
        let payloads = [
            #"{"sub":"user-1","sub":"admin","exp":1700000300}"#, #"["not","an","object"]"#, #""text""#, "42", "", "{",
            #"{"exp":1700000300}{}"#,
        ]
        for body in payloads {
            let token = rawToken(header: #"{"alg":"HS256","kid":"hs"}"#, payload: body, signer: signer)
            #expect(await failure { () async throws(JWTError) in try await verifier.verify(token, keys: keys) } == .malformed, "\(body)")
        }
        // Invalid UTF-8 in the header.
        let input = b64url([0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31, 0x7D]) + "." + b64url(Array(payload.utf8))
        let binary = input + "." + b64url(signer.sign(Array(input.utf8), alg: "HS256"))
        #expect(await failure { () async throws(JWTError) in try await verifier.verify(binary, keys: keys) } == .malformed)
    }

    @Test func oversizedTokensAreRefusedUnread() async throws {
        let keys = try allKeys()
        let verifier = makeVerifier()
        let huge = makeToken(
            alg: "RS256", kid: "rsa", claims: claims(["padding": .string(String(repeating: "x", count: 20_000))]), signer: .rsa(TestKeys.rsa))
        #expect(await failure { () async throws(JWTError) in try await verifier.verify(huge, keys: keys) } == .tokenTooLarge)
        #expect(
            await failure { () async throws(JWTError) in try await verifier.verify(String(repeating: "A", count: 1 << 20), keys: keys) }
                == .tokenTooLarge)
        let roomier = makeVerifier { $0.maximumTokenLength = 64 * 1024 }
        #expect(try await roomier.verify(huge, keys: keys).string("padding")?.count == 20_000)
    }

    @Test func criticalHeadersAreRefused() async throws {
        let keys = try allKeys()
        let verifier = makeVerifier()
        for crit: JSONValue in [["exp"], [], ["b64"], "exp", true] {
            let token = makeToken(alg: "RS256", kid: "rsa", header: ["crit": crit, "exp": 1], signer: .rsa(TestKeys.rsa))
            #expect(await failure { () async throws(JWTError) in try await verifier.verify(token, keys: keys) } == .criticalHeader)
        }
    }

    @Test func keysCarriedInTheHeaderAreIgnored() async throws {
        let keys = try allKeys()
        let verifier = makeVerifier()
        let attackerJWK = jwkJSON(rsa: TestKeys.attacker.publicKey, kid: "attacker")
        let embedded = makeToken(
            alg: "RS256", kid: "attacker", header: ["jwk": attackerJWK, "jku": "https://evil.example/jwks", "x5u": "https://evil.example/cert"],
            signer: .rsa(TestKeys.attacker))
        #expect(await failure { () async throws(JWTError) in try await verifier.verify(embedded, keys: keys) } == .unknownKey)
        let borrowedKid = makeToken(alg: "RS256", kid: "rsa", header: ["jwk": attackerJWK], signer: .rsa(TestKeys.attacker))
        #expect(await failure { () async throws(JWTError) in try await verifier.verify(borrowedKid, keys: keys) } == .badSignature)
    }

    @Test func typeCanBeRequired() async throws {
        let keys = try allKeys()
        let verifier = makeVerifier { $0.allowedTypes = ["at+jwt"] }
        let accessToken = makeToken(alg: "RS256", kid: "rsa", header: ["typ": "application/at+JWT"], signer: .rsa(TestKeys.rsa))
        #expect(try await verifier.verify(accessToken, keys: keys).type == "application/at+JWT")
        let idToken = makeToken(alg: "RS256", kid: "rsa", header: ["typ": "JWT"], signer: .rsa(TestKeys.rsa))
        #expect(await failure { () async throws(JWTError) in try await verifier.verify(idToken, keys: keys) } == .wrongType)
        #expect(await failure { () async throws(JWTError) in try await verifier.verify(rsaToken, keys: keys) } == .wrongType)
    }
}

// MARK: Claims

@Suite struct JWTClaimsTests {
    func check(_ payload: JSONValue, _ configure: (inout JWTValidationOptions) -> Void = { _ in }) async throws -> JWTError? {
        let keys = try allKeys()
        let token = makeToken(alg: "ES256", kid: "p256", claims: payload, signer: .p256(TestKeys.p256))
        let verifier = makeVerifier(Set(JWTAlgorithm.allCases), configure)
        return await failure { () async throws(JWTError) in try await verifier.verify(token, keys: keys) }
    }

    @Test func timeClaimsWithLeeway() async throws {
        let now = Int(baseTime)
        #expect(try await check(claims()) == nil)
        #expect(try await check(claims(["exp": JSONValue(now - 61)])) == .expired)
        #expect(try await check(claims(["exp": JSONValue(now - 60)])) == .expired, "expiry is exclusive")
        #expect(try await check(claims(["exp": JSONValue(now - 30)])) == nil, "within the default 60 s leeway")
        #expect(try await check(claims(["exp": JSONValue(now - 30)])) { $0.leeway = 0 } == .expired)
        #expect(try await check(claims(["exp": JSONValue(baseTime + 0.5)])) { $0.leeway = 0 } == nil, "NumericDate may be fractional")
        #expect(try await check(claims(["nbf": JSONValue(now + 120)])) == .notYetValid)
        #expect(try await check(claims(["nbf": JSONValue(now + 30)])) == nil)
        #expect(try await check(claims(["iat": JSONValue(now + 3600)])) == .issuedInFuture)
        #expect(try await check(claims(["iat": JSONValue(now + 30)])) == nil)
        #expect(try await check(claims(removing: ["exp"])) == .missingClaim("exp"))
        #expect(try await check(claims(removing: ["exp"])) { $0.requireExpiration = false } == nil)
        #expect(try await check(claims(removing: ["iat"])) == nil)
        #expect(try await check(claims(["iat": JSONValue(now - 7200)])) { $0.maximumAge = 3600 } == .expired)
        #expect(try await check(claims(removing: ["iat"])) { $0.maximumAge = 3600 } == .missingClaim("iat"))
        for bad: JSONValue in ["1700000300", nil, true, [1_700_000_300], .number(.infinity, raw: "1e999")] {
            #expect(try await check(claims(["exp": bad])) == .invalidClaim("exp"))
            #expect(try await check(claims(["nbf": bad])) == .invalidClaim("nbf"))
            #expect(try await check(claims(["iat": bad])) == .invalidClaim("iat"))
        }
    }

    @Test func issuerAndAudience() async throws {
        #expect(try await check(claims(["iss": "https://evil.example"])) == .wrongIssuer)
        #expect(try await check(claims(["iss": "https://issuer.example/"])) == .wrongIssuer, "exact match")
        #expect(try await check(claims(["iss": "HTTPS://ISSUER.EXAMPLE"])) == .wrongIssuer)
        #expect(try await check(claims(removing: ["iss"])) == .missingClaim("iss"))
        #expect(try await check(claims(["iss": 1])) == .invalidClaim("iss"))
        #expect(try await check(claims(["aud": "other"])) == .wrongAudience)
        #expect(try await check(claims(["aud": ["other", "another"]])) == .wrongAudience)
        #expect(try await check(claims(["aud": []])) == .wrongAudience)
        #expect(try await check(claims(["aud": "Gateway"])) == .wrongAudience)
        #expect(try await check(claims(["aud": ["other", "gateway"]])) == nil)
        #expect(try await check(claims(["aud": ["other", 7]])) == .invalidClaim("aud"))
        #expect(try await check(claims(["aud": ["x": "gateway"]])) == .invalidClaim("aud"))
        #expect(try await check(claims(removing: ["aud"])) == .missingClaim("aud"))
        #expect(try await check(claims(["aud": "other"])) { $0.audiences = ["gateway", "other"] } == nil)
        #expect(
            try await check(claims(removing: ["aud", "iss"])) {
                $0.audiences = nil; $0.issuer = nil
            } == nil)
        #expect(try await check(claims(["sub": 42])) == .invalidClaim("sub"))
    }

    @Test func requiredClaims() async throws {
        let payload = claims(["realm_access": ["roles": ["admin"]], "email": "a@example.com", "gone": nil])
        #expect(try await check(payload) { $0.requiredClaims = ["email", "realm_access.roles"] } == nil)
        #expect(try await check(payload) { $0.requiredClaims = ["tenant"] } == .missingClaim("tenant"))
        #expect(try await check(payload) { $0.requiredClaims = ["gone"] } == .missingClaim("gone"))
        #expect(try await check(payload) { $0.requiredClaims = ["realm_access.groups"] } == .missingClaim("realm_access.groups"))
    }

    @Test func verifiedClaimHelpers() async throws {
        let payload = claims([
            "realm_access": ["roles": ["admin", "user", 3]],
            "resource_access": ["gateway": ["roles": ["caller"]]],
            "https://example.com/roles": ["editor"],
            "groups": "one",
            "scope": "openid chat:write",
            "aud": ["gateway", "other"],
            "nested": ["deep": ["value": "x"]],
        ])
        let token = makeToken(alg: "EdDSA", kid: "ed", claims: payload, signer: .ed25519(TestKeys.ed25519))
        let verified = try await makeVerifier().verify(token, keys: try allKeys())
        #expect(verified.subject == "user-1")
        #expect(verified.issuer == testIssuer)
        #expect(verified.audiences == ["gateway", "other"])
        #expect(verified.expiresAt == baseTime + 300)
        #expect(verified.issuedAt == baseTime)
        #expect(verified.strings("realm_access.roles") == ["admin", "user"])
        #expect(verified.strings("resource_access.gateway.roles") == ["caller"])
        #expect(verified.strings("https://example.com/roles") == ["editor"])
        #expect(verified.strings("groups") == ["one"])
        #expect(verified.strings("missing") == nil)
        #expect(verified.strings("nested") == nil)
        #expect(verified.string("nested.deep.value") == "x")
        #expect(verified.string("nested.deep") == nil)
        #expect(verified.string("nested..value") == nil)
        #expect(verified.claim("nested.deep")?.objectValue != nil)
        #expect(verified.scopes == ["openid", "chat:write"])
        #expect(verified.header["kid"]?.stringValue == "ed")
        #expect(verified.claims["sub"]?.stringValue == "user-1")
    }
}

// MARK: Keys

/// Builds variants of parsed keys for tests.
enum JWKTestAccess {
    static func strippingKeyID(_ key: JWK) -> JWK {
        // Re-created through the public parsers, leaving `kid` out.
        let json: JSONValue
        switch key.keyID {
        case "rsa": json = jwkJSON(rsa: TestKeys.rsa.publicKey, kid: nil)
        case "p256": json = jwkJSON(ec: TestKeys.p256.publicKey.x963Representation, curve: "P-256", kid: nil)
        case "p384": json = jwkJSON(ec: TestKeys.p384.publicKey.x963Representation, curve: "P-384", kid: nil)
        case "p521": json = jwkJSON(ec: TestKeys.p521.publicKey.x963Representation, curve: "P-521", kid: nil)
        case "ed": json = jwkJSON(ed25519: TestKeys.ed25519.publicKey, kid: nil)
        default: json = jwkJSON(secret: TestKeys.secret, kid: nil)
        }
        return try! jwk(json)
    }
}

@Suite struct JWKTests {
    @Test func weakOrInvalidKeysAreRefused() async throws {
        #expect(throws: JWKError.self) { try jwk(jwkJSON(rsa: TestKeys.weakRSA.publicKey, kid: "weak")) }
        #expect(throws: JWKError.self) { try JWK.publicKey(pem: TestKeys.weakRSA.publicKey.pemRepresentation) }
        // A point not on the curve.
        var point = Array(TestKeys.p256.publicKey.x963Representation)
        point[40] ^= 0x01
        #expect(throws: JWKError.self) { try jwk(jwkJSON(ec: Data(point), curve: "P-256", kid: "bad")) }
        // Coordinates of the wrong size for the curve.
        #expect(throws: JWKError.self) { try jwk(jwkJSON(ec: TestKeys.p256.publicKey.x963Representation, curve: "P-384", kid: "bad")) }
        #expect(throws: JWKError.self) { try jwk(jwkJSON(secret: Array(TestKeys.secret.prefix(16)), kid: "short")) }
        let rejected: [JSONValue] = [
            ["kty": "RSA", "n": "AQAB"], ["kty": "EC", "crv": "secp256k1", "x": "AA", "y": "AA"], ["kty": "OKP", "crv": "X25519", "x": "AA"],
            ["kty": "OKP", "crv": "Ed448", "x": "AA"], ["kty": "DSA"], ["n": "AQAB", "e": "AQAB"], ["kty": "oct", "k": "not base64!"],
            ["kty": "oct", "k": .string(b64url(TestKeys.secret)), "kid": 1],
            ["kty": "oct", "k": .string(b64url(TestKeys.secret)), "key_ops": "verify"],
        ]
        for json in rejected {
            #expect(throws: JWKError.self, "\(json.serialized())") { try jwk(json) }
        }
        #expect(throws: JWKError.self) { try JWK.symmetric(secret: Array("short secret".utf8)) }
        #expect(throws: JWKError.self) { try JWK.symmetric(secret: Array(TestKeys.secret.prefix(32)), algorithm: .hs512) }
        #expect(throws: JWKError.self) { try JWK.publicKey(pem: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----") }
        #expect(throws: JWKError.self) { try JWK.publicKey(pem: TestKeys.p256.publicKey.pemRepresentation, algorithm: .rs256) }
    }

    @Test func keySetsSkipWhatTheyCannotUse() async throws {
        let document = jwksDocument([
            jwkJSON(rsa: TestKeys.rsa.publicKey, kid: "rsa"), jwkJSON(rsa: TestKeys.weakRSA.publicKey, kid: "weak"),
            ["kty": "OKP", "crv": "X25519", "x": "AA", "kid": "x25519"], jwkJSON(secret: TestKeys.secret, kid: "hs"), "junk",
            jwkJSON(ed25519: TestKeys.ed25519.publicKey, kid: "ed"),
        ])
        let all = try JWKSet.parse(document)
        #expect(all.keys.map(\.keyID) == ["rsa", "hs", "ed"])
        #expect(all.skipped.count == 3)
        let fetched = try JWKSet.parse(document, allowSymmetric: false)
        #expect(fetched.keys.map(\.keyID) == ["rsa", "ed"])
        #expect(fetched.keys.map(\.keyType) == [.rsa(bits: 2048), .okp(curve: "Ed25519")])
        #expect(throws: JWKError.self) { try JWKSet.parse(#"{"keys":{}}"#) }
        #expect(throws: JWKError.self) { try JWKSet.parse("[]") }
        #expect(throws: JWKError.self) { try JWKSet.parse("not json") }
        // Padded base64url in key documents is tolerated.
        let primitives = try TestKeys.rsa.publicKey.getKeyPrimitives()
        let padded = try jwk(["kty": "RSA", "kid": "p", "n": .string(b64url(primitives.modulus) + "=="), "e": "AQAB"])
        #expect(padded.keyType == .rsa(bits: 2048))
        let paddedE = try jwk(["kty": "RSA", "kid": "p", "n": .string(b64url(primitives.modulus)), "e": "AQAB=="])
        #expect(paddedE.canVerify(.rs256))
    }

    @Test func pemKeysAndSecrets() async throws {
        let verifier = makeVerifier()
        let rsa = try JWK.publicKey(pem: TestKeys.rsa.publicKey.pemRepresentation)
        #expect(try await verifier.verify(makeToken(alg: "PS384", signer: .rsa(TestKeys.rsa)), keys: [rsa]).algorithm == .ps384)
        let pkcs1 = try JWK.publicKey(pem: TestKeys.rsa.publicKey.pkcs1PEMRepresentation, keyID: "rsa", algorithm: .rs256)
        #expect(try await verifier.verify(rsaToken, keys: [pkcs1]).algorithm == .rs256)
        let ps = makeToken(alg: "PS256", kid: "rsa", signer: .rsa(TestKeys.rsa))
        #expect(await failure { () async throws(JWTError) in try await verifier.verify(ps, keys: [pkcs1]) } == .keyMismatch)
        let p256 = try JWK.publicKey(pem: TestKeys.p256.publicKey.pemRepresentation)
        #expect(p256.keyType == .ec(curve: "P-256"))
        #expect(try await verifier.verify(makeToken(alg: "ES256", signer: .p256(TestKeys.p256)), keys: [p256]).algorithm == .es256)
        let p384 = try JWK.publicKey(pem: TestKeys.p384.publicKey.pemRepresentation)
        #expect(try await verifier.verify(makeToken(alg: "ES384", signer: .p384(TestKeys.p384)), keys: [p384]).algorithm == .es384)
        let p521 = try JWK.publicKey(pem: TestKeys.p521.publicKey.pemRepresentation)
        #expect(try await verifier.verify(makeToken(alg: "ES512", signer: .p521(TestKeys.p521)), keys: [p521]).algorithm == .es512)
        // Ed25519 SubjectPublicKeyInfo (RFC 8410).
        let der = [0x30, 0x2A, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x03, 0x21, 0x00] + Array(TestKeys.ed25519.publicKey.rawRepresentation)
        let pem = "-----BEGIN PUBLIC KEY-----\n" + Data(der).base64EncodedString() + "\n-----END PUBLIC KEY-----\n"
        let ed = try JWK.publicKey(pem: pem)
        #expect(ed.keyType == .okp(curve: "Ed25519"))
        #expect(try await verifier.verify(makeToken(alg: "EdDSA", signer: .ed25519(TestKeys.ed25519)), keys: [ed]).algorithm == .edDSA)
        let secret = try JWK.symmetric(secret: TestKeys.secret, keyID: "hs")
        #expect(try await verifier.verify(makeToken(alg: "HS384", kid: "hs", signer: .hmac(TestKeys.secret)), keys: [secret]).algorithm == .hs384)
        let wrongSecret = makeToken(alg: "HS256", kid: "hs", signer: .hmac(Array(TestKeys.secret.reversed())))
        #expect(await failure { () async throws(JWTError) in try await verifier.verify(wrongSecret, keys: [secret]) } == .badSignature)
    }

    @Test func base64URLIsStrict() {
        for count in 0..<40 {
            let bytes = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 73 &+ 5) }
            let encoded = Base64URL.encode(bytes)
            #expect(encoded == b64url(bytes))
            #expect(Base64URL.decode(encoded) == bytes)
        }
        #expect(Base64URL.decode("") == [])
        #expect(Base64URL.decode("QQ") == [0x41])
        #expect(Base64URL.decode("QR") == nil, "non-zero unused bits")
        #expect(Base64URL.decode("QUI") == [0x41, 0x42])
        #expect(Base64URL.decode("QUJ") == nil)
        for bad in ["Q", "QUJDR", "QQ==", "QQ=", "Q+E", "Q/E", "Q E", "QQ\n", "Q.Q", "é"] {
            #expect(Base64URL.decode(bad) == nil, "\(bad)")
        }
        #expect(Base64URL.decode("-_-_") == [0xFB, 0xFF, 0xBF])
    }

    @Test func errorsAreClientSafe() {
        let all: [JWTError] = [
            .malformed, .tokenTooLarge, .unsupportedAlgorithm, .algorithmNotAllowed, .criticalHeader, .wrongType, .unknownKey, .ambiguousKey,
            .keyMismatch, .badSignature, .expired, .notYetValid, .issuedInFuture, .wrongIssuer, .wrongAudience, .missingClaim("exp"),
            .invalidClaim("aud"), .keysUnavailable,
        ]
        #expect(Set(all.map(\.message)).count == all.count, "every case has its own message")
        for error in all {
            #expect(!error.message.isEmpty && error.message.count < 90)
            #expect(error.status == (error == .keysUnavailable ? 503 : 401))
            #expect("\(error)" == error.message)
        }
        #expect(JWTError.badSignature.bearerError == "invalid_token")
    }
}

// MARK: Signatures through jwt-kit

/// A key set with keys the gateway cannot use (post-quantum, other curves, an encryption key,
/// a certificate-only key) around one good P-384 key.
func mixedKeySet() -> [JSONValue] {
    let secp256k1: JSONValue = [
        "kty": "EC", "crv": "secp256k1", "kid": "k1",
        "x": .string(b64url([UInt8](repeating: 7, count: 32))), "y": .string(b64url([UInt8](repeating: 9, count: 32))),
    ]
    return [
        ["kty": "AKP", "alg": "ML-DSA-65", "kid": "pq", "pub": .string(b64url([UInt8](repeating: 1, count: 64)))],
        secp256k1,
        jwkJSON(rsa: TestKeys.rsa2.publicKey, kid: "enc", extra: ["use": "enc", "alg": "RSA-OAEP"]),
        ["kty": "OKP", "crv": "X25519", "kid": "x", "x": .string(b64url([UInt8](repeating: 3, count: 32)))],
        ["kty": "RSA", "kid": "x5c-only", "x5c": ["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"]],
        jwkJSON(ec: TestKeys.p384.publicKey.x963Representation, curve: "P-384", kid: "good"),
    ]
}

/// What changed when jwt-kit took over checking signatures and building keys.
@Suite struct JWTKitVerificationTests {
    @Test func signaturesMadeWithAnotherCurveOrKeyTypeAreRefused() async throws {
        let keys = try allKeys()
        let verifier = makeVerifier()
        // The header names the P-384 key and ES384, but a P-256 key signed (a 64-byte signature).
        let p256ForP384 = makeToken(alg: "ES384", kid: "p384", signer: .p256(TestKeys.p256))
        #expect(await failure { () async throws(JWTError) in try await verifier.verify(p256ForP384, keys: keys) } == .badSignature)
        // A P-384 signature (96 bytes) presented as ES512 for the P-521 key, and the reverse.
        let p384ForP521 = makeToken(alg: "ES512", kid: "p521", signer: .p384(TestKeys.p384))
        #expect(await failure { () async throws(JWTError) in try await verifier.verify(p384ForP521, keys: keys) } == .badSignature)
        let p521ForP384 = makeToken(alg: "ES384", kid: "p384", signer: .p521(TestKeys.p521))
        #expect(await failure { () async throws(JWTError) in try await verifier.verify(p521ForP384, keys: keys) } == .badSignature)
        // An Ed25519 signature (64 bytes, like ES256's) under ES256, and an ES256 one under EdDSA.
        let edAsES256 = makeToken(alg: "ES256", kid: "p256", signer: .ed25519(TestKeys.ed25519))
        #expect(await failure { () async throws(JWTError) in try await verifier.verify(edAsES256, keys: keys) } == .badSignature)
        let es256AsEd = makeToken(alg: "EdDSA", kid: "ed", signer: .p256(TestKeys.p256))
        #expect(await failure { () async throws(JWTError) in try await verifier.verify(es256AsEd, keys: keys) } == .badSignature)
        // Another P-256 key's signature under the right curve.
        let otherP256 = makeToken(alg: "ES256", kid: "p256", signer: .p256(P256.Signing.PrivateKey()))
        #expect(await failure { () async throws(JWTError) in try await verifier.verify(otherP256, keys: keys) } == .badSignature)
        // An HMAC tag of the right length made with another secret.
        let hmacOther = makeToken(alg: "HS512", kid: "hs", signer: .hmac(Array(TestKeys.secret.reversed())))
        #expect(await failure { () async throws(JWTError) in try await verifier.verify(hmacOther, keys: keys) } == .badSignature)
        // The genuine tokens still verify, again and again (the verifiers are made once per key).
        for _ in 0..<3 {
            #expect(try await verifier.verify(makeToken(alg: "ES384", kid: "p384", signer: .p384(TestKeys.p384)), keys: keys).keyID == "p384")
        }
    }

    @Test func aKeySetWithUnsupportedKeysBesideAGoodOneStillWorks() async throws {
        let set = try JWKSet.parse(jwksDocument(mixedKeySet()), allowSymmetric: false)
        #expect(set.keys.map(\.keyID) == ["enc", "good"])
        #expect(set.skipped.count == 4, "\(set.skipped)")
        #expect(set.keys.last?.keyType == .ec(curve: "P-384"))
        let verifier = makeVerifier()
        let good = makeToken(alg: "ES384", kid: "good", signer: .p384(TestKeys.p384))
        #expect(try await verifier.verify(good, keys: set.keys).keyID == "good")
        let withoutKid = makeToken(alg: "ES384", signer: .p384(TestKeys.p384))
        #expect(try await verifier.verify(withoutKid, keys: set.keys).keyID == nil, "the encryption key does not make it ambiguous")
        let namesSkipped = makeToken(alg: "ES256", kid: "pq", signer: .p256(TestKeys.p256))
        #expect(await failure { () async throws(JWTError) in try await verifier.verify(namesSkipped, keys: set.keys) } == .unknownKey)
        let namesEncryption = makeToken(alg: "RS256", kid: "enc", signer: .rsa(TestKeys.rsa2))
        #expect(await failure { () async throws(JWTError) in try await verifier.verify(namesEncryption, keys: set.keys) } == .keyMismatch)
    }

    @Test func ecCoordinatesMustEachHaveTheCurveSize() throws {
        // The same valid point, its 64 coordinate bytes split 31/33 instead of 32/32: the
        // concatenation is a valid point, so only the per-coordinate check refuses it.
        let point = Array(TestKeys.p256.publicKey.x963Representation)
        let shifted: JSONValue = ["kty": "EC", "crv": "P-256", "x": .string(b64url(point[1..<32])), "y": .string(b64url(point[32...]))]
        #expect(throws: JWKError.self) { try jwk(shifted) }
        // A coordinate with a non-canonical last character (unused bits set).
        let x = b64url(point[1..<33])
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        let lastCharacter = try #require(x.last)
        let last = try #require(alphabet.firstIndex(of: lastCharacter))
        let tweaked: JSONValue = [
            "kty": "EC", "crv": "P-256", "x": .string(String(x.dropLast()) + String(alphabet[last | 1])), "y": .string(b64url(point[33...])),
        ]
        #expect(throws: JWKError.self) { try jwk(tweaked) }
        #expect(try jwk(jwkJSON(ec: Data(point), curve: "P-256", kid: nil)).keyType == .ec(curve: "P-256"))
    }

    @Test func concurrentVerificationsShareTheKeys() async throws {
        let keys = try allKeys()
        let verifier = makeVerifier()
        let tokens = (0..<40).map { index in
            index.isMultiple(of: 2)
                ? makeToken(alg: "ES256", kid: "p256", signer: .p256(TestKeys.p256))
                : makeToken(alg: "ES256", kid: "p256", signer: .p256(P256.Signing.PrivateKey()))
        }
        let results = await withTaskGroup(of: (Int, JWTError?).self) { group in
            for (index, token) in tokens.enumerated() {
                group.addTask {
                    let error = await failure { () async throws(JWTError) in try await verifier.verify(token, keys: keys) }
                    return (index, error)
                }
            }
            var results = [JWTError?](repeating: .malformed, count: tokens.count)
            for await (index, error) in group { results[index] = error }
            return results
        }
        for (index, error) in results.enumerated() {
            #expect(error == (index.isMultiple(of: 2) ? nil : JWTError.badSignature), "token \(index)")
        }
    }
}

// MARK: Key fetching

/// A clock tests move by hand.
final class ManualClock: Sendable {
    private let value: Mutex<Double>
    init(_ start: Double = baseTime) { value = Mutex(start) }
    var now: Double { value.withLock { $0 } }
    func advance(_ seconds: Double) { value.withLock { $0 += seconds } }
    var closure: @Sendable () -> Double { { self.now } }
}

/// An identity provider's discovery document and key set, served on a free port.
final class KeyServer: Sendable {
    struct State {
        var jwks: String
        var status = 200
        var cacheControl: String?
        var delay: Duration = .zero
        /// Hold key-set answers at `jwksGate` until the test opens it.
        var hold = false
        /// The issuer the discovery document names; nil is the server's own URL.
        var issuer: String?
        var jwksFetches = 0
        var discoveryFetches = 0
    }

    let state: Mutex<State>
    let port = Mutex(0)
    let jwksGate = HoldGate()

    init(keys: [JSONValue]) {
        state = Mutex(State(jwks: jwksDocument(keys)))
    }

    var url: String { "http://127.0.0.1:\(port.withLock { $0 })" }
    var jwksFetches: Int { state.withLock { $0.jwksFetches } }
    var discoveryFetches: Int { state.withLock { $0.discoveryFetches } }
    func update(_ change: (inout State) -> Void) { state.withLock { change(&$0) } }
    func setKeys(_ keys: [JSONValue]) { update { $0.jwks = jwksDocument(keys) } }

    func run<T: Sendable>(_ body: @Sendable (KeyServer) async throws -> T) async throws -> T {
        let router = Router()
        router.get("/jwks") { _, _ -> Response in
            let (document, status, cacheControl, delay, hold) = self.state.withLock { state in
                state.jwksFetches += 1
                return (state.jwks, state.status, state.cacheControl, state.delay, state.hold)
            }
            if hold { await self.jwksGate.wait(limit: .seconds(30)) }
            if delay > .zero { try await Task.sleep(for: delay) }
            var headers: HTTPFields = [.contentType: "application/json"]
            if let cacheControl { headers[.cacheControl] = cacheControl }
            return Response(status: .init(code: status), headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: document)))
        }
        router.get("/.well-known/openid-configuration") { _, _ -> Response in
            let base = self.url
            let issuer = self.state.withLock { state in
                state.discoveryFetches += 1
                return state.issuer ?? base
            }
            let document: JSONValue = [
                "issuer": .string(issuer), "jwks_uri": .string(base + "/jwks"), "id_token_signing_alg_values_supported": ["RS256"],
            ]
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: document.serializedBytes())))
        }
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let app = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: nil),
            onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) },
            logger: quietLogger
        )
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await app.runService(gracefulShutdownSignals: [])
                return nil
            }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { throw CancellationError() }
            self.port.withLock { $0 = port }
            do {
                let result = try await body(self)
                group.cancelAll()
                return result
            } catch {
                group.cancelAll()
                throw error
            }
        }
    }
}

@Suite struct JWKSCacheTests {
    let rsaJWK = jwkJSON(rsa: TestKeys.rsa.publicKey, kid: "rsa")
    let rotatedJWK = jwkJSON(rsa: TestKeys.rsa2.publicKey, kid: "rsa2")

    func authenticator(
        _ server: KeyServer, clock: ManualClock, discovery: Bool = false, issuer: String? = nil,
        _ configure: (inout JWTIssuerConfig) -> Void = { _ in }
    ) throws -> JWTAuthenticator {
        var config = JWTIssuerConfig(
            issuer: issuer ?? testIssuer, audiences: ["gateway"], keys: discovery ? .discovery : .jwksURI(server.url + "/jwks"),
            algorithms: [.rs256, .es256])
        configure(&config)
        return try JWTAuthenticator(config: config, httpClient: testHTTPClient, logger: quietLogger, now: clock.closure)
    }

    func token(_ clock: ManualClock, kid: String = "rsa", key: _RSA.Signing.PrivateKey = TestKeys.rsa, issuer: String = testIssuer) -> String {
        makeToken(alg: "RS256", kid: kid, claims: claims(now: clock.now, ["iss": .string(issuer)]), signer: .rsa(key))
    }

    @Test func keysAreFetchedOnceAndCachedForTheTTL() async throws {
        try await KeyServer(keys: [rsaJWK]).run { server in
            let clock = ManualClock()
            let auth = try authenticator(server, clock: clock)
            // A token that fails before any key is needed does not cause a fetch.
            let garbage = await failure { () async throws(JWTError) in try await auth.verify("not.a.jwt") }
            #expect(garbage == .malformed)
            let pss = makeToken(alg: "PS256", kid: "rsa", claims: claims(now: clock.now), signer: .rsa(TestKeys.rsa))
            let disallowed = await failure { () async throws(JWTError) in try await auth.verify(pss) }
            #expect(disallowed == .algorithmNotAllowed)
            #expect(server.jwksFetches == 0)
            for _ in 0..<5 {
                let verified = try await auth.verify(token(clock))
                #expect(verified.subject == "user-1")
            }
            #expect(server.jwksFetches == 1)
            clock.advance(599)
            _ = try await auth.verify(token(clock))
            #expect(server.jwksFetches == 1)
            clock.advance(2)
            _ = try await auth.verify(token(clock))
            #expect(server.jwksFetches == 2, "refetched once the default 10-minute TTL passed")
            let count = await auth.cache.fetchCount
            #expect(count == 2)
        }
    }

    @Test func cacheControlMaxAgeIsHonouredWithinBounds() async throws {
        try await KeyServer(keys: [rsaJWK]).run { server in
            server.update { $0.cacheControl = "public, max-age=120, must-revalidate" }
            let clock = ManualClock()
            let auth = try authenticator(server, clock: clock)
            _ = try await auth.verify(token(clock))
            clock.advance(119)
            _ = try await auth.verify(token(clock))
            #expect(server.jwksFetches == 1)
            clock.advance(2)
            server.update { $0.cacheControl = "max-age=1" }
            _ = try await auth.verify(token(clock))
            #expect(server.jwksFetches == 2)
            // max-age=1 is raised to the 60 s minimum.
            clock.advance(30)
            _ = try await auth.verify(token(clock))
            #expect(server.jwksFetches == 2)
            clock.advance(31)
            server.update { $0.cacheControl = "max-age=99999999" }
            _ = try await auth.verify(token(clock))
            #expect(server.jwksFetches == 3)
            // ... and a huge one lowered to the one-day maximum.
            clock.advance(86_000)
            _ = try await auth.verify(token(clock))
            #expect(server.jwksFetches == 3)
            clock.advance(401)
            _ = try await auth.verify(token(clock))
            #expect(server.jwksFetches == 4)
        }
    }

    @Test func discoveryFindsTheKeySet() async throws {
        try await KeyServer(keys: [rsaJWK]).run { server in
            let clock = ManualClock()
            let auth = try authenticator(server, clock: clock, discovery: true, issuer: server.url)
            let verified = try await auth.verify(token(clock, issuer: server.url))
            #expect(verified.issuer == server.url)
            #expect(server.discoveryFetches == 1 && server.jwksFetches == 1)
            clock.advance(601)
            _ = try await auth.verify(token(clock, issuer: server.url))
            #expect(server.discoveryFetches == 1, "the discovered jwks_uri is remembered")
            #expect(server.jwksFetches == 2)
            // A token from another issuer is refused even though its key is known.
            let foreign = await failure { () async throws(JWTError) in try await auth.verify(token(clock)) }
            #expect(foreign == .wrongIssuer)

            // A trailing slash in the configured issuer is kept for the comparison only.
            let slash = try authenticator(server, clock: clock, discovery: true, issuer: server.url + "/")
            server.update { $0.issuer = server.url + "/" }
            _ = try await slash.verify(token(clock, issuer: server.url + "/"))
        }
    }

    @Test func discoveryMustNameTheConfiguredIssuer() async throws {
        try await KeyServer(keys: [rsaJWK]).run { server in
            server.update { $0.issuer = "https://impostor.example" }
            let clock = ManualClock()
            let auth = try authenticator(server, clock: clock, discovery: true, issuer: server.url)
            let error = await failure { () async throws(JWTError) in try await auth.verify(token(clock, issuer: server.url)) }
            #expect(error == .keysUnavailable)
            #expect(error?.status == 503)
            #expect(server.jwksFetches == 0)
        }
    }

    @Test func unknownKidRefetchesAreRateLimited() async throws {
        try await KeyServer(keys: [rsaJWK]).run { server in
            let clock = ManualClock()
            let auth = try authenticator(server, clock: clock)
            _ = try await auth.verify(token(clock))
            #expect(server.jwksFetches == 1)
            for index in 0..<20 {
                let sprayed = token(clock, kid: "spray-\(index)")
                let error = await failure { () async throws(JWTError) in try await auth.verify(sprayed) }
                #expect(error == .unknownKey)
                clock.advance(1)
            }
            // 20 seconds of made-up kids: no refetch yet (the last fetch was under 30 s ago).
            #expect(server.jwksFetches == 1)
            clock.advance(10)
            for index in 0..<20 {
                let sprayed = token(clock, kid: "again-\(index)")
                let error = await failure { () async throws(JWTError) in try await auth.verify(sprayed) }
                #expect(error == .unknownKey)
            }
            #expect(server.jwksFetches == 2, "one refetch per 30 s at most")
            // Known keys keep working throughout, without fetches.
            _ = try await auth.verify(token(clock))
            #expect(server.jwksFetches == 2)
        }
    }

    @Test func rotatedKeysAreFoundByRefetching() async throws {
        try await KeyServer(keys: [rsaJWK]).run { server in
            let clock = ManualClock()
            let auth = try authenticator(server, clock: clock)
            _ = try await auth.verify(token(clock))
            // The provider rotates: a new key appears and the old one is retired.
            server.setKeys([rotatedJWK])
            clock.advance(5)
            let tooSoon = await failure { () async throws(JWTError) in try await auth.verify(token(clock, kid: "rsa2", key: TestKeys.rsa2)) }
            #expect(tooSoon == .unknownKey)
            clock.advance(30)
            let verified = try await auth.verify(token(clock, kid: "rsa2", key: TestKeys.rsa2))
            #expect(verified.keyID == "rsa2")
            #expect(server.jwksFetches == 2)
            let retired = await failure { () async throws(JWTError) in try await auth.verify(token(clock)) }
            #expect(retired == .unknownKey)
        }
    }

    @Test func staleKeysAreServedWhileTheProviderFails() async throws {
        try await KeyServer(keys: [rsaJWK]).run { server in
            let clock = ManualClock()
            let auth = try authenticator(server, clock: clock)
            _ = try await auth.verify(token(clock))
            server.update { $0.status = 500 }
            clock.advance(700)
            let verified = try await auth.verify(token(clock))
            #expect(verified.keyID == "rsa")
            #expect(server.jwksFetches == 2, "a refresh was tried")
            // While failing, attempts are spaced out by the retry interval.
            clock.advance(5)
            _ = try await auth.verify(token(clock))
            #expect(server.jwksFetches == 2)
            clock.advance(6)
            _ = try await auth.verify(token(clock))
            #expect(server.jwksFetches == 3)
            // A garbled key set counts as a failure too.
            server.update {
                $0.status = 200
                $0.jwks = #"{"keys": "#
            }
            clock.advance(11)
            _ = try await auth.verify(token(clock))
            #expect(server.jwksFetches == 4)
            // Stale keys are not served forever.
            clock.advance(86_400)
            let error = await failure { () async throws(JWTError) in try await auth.verify(token(clock)) }
            #expect(error == .keysUnavailable)
            // Recovery.
            server.setKeys([rsaJWK])
            clock.advance(11)
            _ = try await auth.verify(token(clock))
        }
    }

    @Test func withoutAnyKeysFailuresAreUnavailable() async throws {
        try await KeyServer(keys: []).run { server in
            let clock = ManualClock()
            let auth = try authenticator(server, clock: clock)
            let empty = await failure { () async throws(JWTError) in try await auth.verify(token(clock)) }
            #expect(empty == .keysUnavailable, "an empty key set is a failed fetch")
            // Within the retry interval nothing is fetched.
            let again = await failure { () async throws(JWTError) in try await auth.verify(token(clock)) }
            #expect(again == .keysUnavailable)
            #expect(server.jwksFetches == 1)
            server.setKeys([rsaJWK])
            clock.advance(11)
            _ = try await auth.verify(token(clock))
            #expect(server.jwksFetches == 2)
        }
    }

    @Test func responsesAreCappedInSizeAndTime() async throws {
        try await KeyServer(keys: [rsaJWK]).run { server in
            let clock = ManualClock()
            let small = try authenticator(server, clock: clock) { $0.cache.maximumResponseSize = 256 }
            let tooLarge = await failure { () async throws(JWTError) in try await small.verify(token(clock)) }
            #expect(tooLarge == .keysUnavailable)
            // The key set is held at the server until the test opens the gate.
            server.update { $0.hold = true }
            let impatient = try authenticator(server, clock: clock) { $0.cache.timeout = 0.3 }
            let slow = await failure { () async throws(JWTError) in try await impatient.verify(token(clock)) }
            #expect(slow == .keysUnavailable)
            #expect(server.jwksGate.released == 0, "the fetch timed out while the key set was still held")
            server.jwksGate.open()
        }
    }

    @Test func concurrentRequestsShareOneFetch() async throws {
        try await KeyServer(keys: [rsaJWK]).run { server in
            server.update { $0.delay = .milliseconds(300) }
            let clock = ManualClock()
            let auth = try authenticator(server, clock: clock)
            let tokens = (0..<3).map { _ in token(clock) } + (0..<3).map { index in token(clock, kid: "unknown-\(index)") }
            let results = await withTaskGroup(of: JWTError?.self) { group in
                for index in 0..<30 {
                    let token = tokens[index % tokens.count]
                    group.addTask { await failure { () async throws(JWTError) in try await auth.verify(token) } }
                }
                var results: [JWTError?] = []
                for await result in group { results.append(result) }
                return results
            }
            #expect(results.count(where: { $0 == nil }) == 15)
            #expect(results.count(where: { $0 == .unknownKey }) == 15)
            #expect(server.jwksFetches == 1)
        }
    }

    @Test func configurationMistakesAreRefused() throws {
        let clock = ManualClock()
        func make(_ config: JWTIssuerConfig, client: HTTPClient? = testHTTPClient) -> JWTConfigurationError? {
            do {
                _ = try JWTAuthenticator(config: config, httpClient: client, logger: quietLogger, now: clock.closure)
                return nil
            } catch {
                return error
            }
        }
        let jwks = JWTIssuerConfig.Keys.jwksURI("https://idp.example/jwks")
        #expect(make(JWTIssuerConfig(issuer: testIssuer, audiences: ["gateway"], keys: jwks, algorithms: [.rs256])) == nil)
        #expect(make(JWTIssuerConfig(issuer: testIssuer, audiences: ["gateway"], keys: jwks, algorithms: [])) != nil)
        #expect(make(JWTIssuerConfig(issuer: testIssuer, audiences: [], keys: jwks, algorithms: [.rs256])) != nil)
        #expect(make(JWTIssuerConfig(issuer: testIssuer, audiences: nil, keys: jwks, algorithms: [.rs256, .hs256])) != nil)
        #expect(make(JWTIssuerConfig(issuer: nil, audiences: nil, keys: .discovery, algorithms: [.rs256])) != nil)
        #expect(make(JWTIssuerConfig(issuer: testIssuer, audiences: nil, keys: jwks, algorithms: [.rs256]), client: nil) != nil)
        for url in ["http://idp.example/jwks", "ftp://idp.example/jwks", "not a url", "/jwks"] {
            #expect(make(JWTIssuerConfig(issuer: nil, audiences: nil, keys: .jwksURI(url), algorithms: [.rs256])) != nil, "\(url)")
        }
        #expect(make(JWTIssuerConfig(issuer: "http://idp.example", audiences: nil, keys: .discovery, algorithms: [.rs256])) != nil)
        var insecure = JWTIssuerConfig(issuer: "http://keycloak:8080/realms/x", audiences: nil, keys: .discovery, algorithms: [.rs256])
        insecure.cache.allowInsecureHTTP = true
        #expect(make(insecure) == nil)
        // Static keys must be able to verify one of the allowed algorithms.
        let secret = try JWK.symmetric(secret: TestKeys.secret)
        #expect(make(JWTIssuerConfig(issuer: nil, audiences: nil, keys: .staticKeys(JWKSet(keys: [secret])), algorithms: [.rs256])) != nil)
        #expect(
            make(JWTIssuerConfig(issuer: nil, audiences: nil, keys: .staticKeys(JWKSet(keys: [secret])), algorithms: [.hs256]), client: nil) == nil)
    }

    @Test func staticKeysNeedNoFetching() async throws {
        let clock = ManualClock()
        let secret = try JWK.symmetric(secret: TestKeys.secret, algorithm: .hs256)
        let pem = try JWK.publicKey(pem: TestKeys.p256.publicKey.pemRepresentation, keyID: "ec")
        let inline = try JWKSet.parse(jwksDocument([rsaJWK]))
        var config = JWTIssuerConfig(
            issuer: testIssuer, audiences: ["gateway"], keys: .staticKeys(JWKSet(keys: [secret, pem] + inline.keys)),
            algorithms: [.hs256, .es256, .rs256])
        config.requiredClaims = ["realm_access.roles"]
        let auth = try JWTAuthenticator(config: config, logger: quietLogger, now: clock.closure)
        let payload = claims(now: clock.now, ["realm_access": ["roles": ["admin"]]])
        let hs = try await auth.verify(makeToken(alg: "HS256", claims: payload, signer: .hmac(TestKeys.secret)))
        #expect(hs.strings("realm_access.roles") == ["admin"])
        let ec = try await auth.verify(makeToken(alg: "ES256", kid: "ec", claims: payload, signer: .p256(TestKeys.p256)))
        #expect(ec.keyID == "ec")
        let rs = try await auth.verify(makeToken(alg: "RS256", kid: "rsa", claims: payload, signer: .rsa(TestKeys.rsa)))
        #expect(rs.algorithm == .rs256)
        let unknown = await failure { () async throws(JWTError) in
            try await auth.verify(makeToken(alg: "RS256", kid: "other", claims: payload, signer: .rsa(TestKeys.rsa)))
        }
        #expect(unknown == .unknownKey)
        let missingRoles = await failure { () async throws(JWTError) in
            try await auth.verify(makeToken(alg: "HS256", claims: claims(now: clock.now), signer: .hmac(TestKeys.secret)))
        }
        #expect(missingRoles == .missingClaim("realm_access.roles"))
        #expect(JWTAuthenticator.looksLikeJWT(rsaToken))
        #expect(!JWTAuthenticator.looksLikeJWT("sk-sy-0123456789"))
        #expect(JWTAuthenticator.unverifiedIssuer(of: rsaToken) == testIssuer)
        #expect(JWTAuthenticator.unverifiedIssuer(of: "a.b") == nil)
    }
}

import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SwitchyardCore
import SwitchyardServer
import SwitchyardTesting
import Testing
import _CryptoExtras

/// JWT/OIDC bearer tokens, roles, attribute rules and delegated administration, through HTTP.
@Suite struct AccessTests {
    static let secret = String(repeating: "s3cr3t-", count: 8)

    static func config(_ extra: String) -> String {
        """
        server: {port: 0, master_key: test-master-key, reload_check_interval: off}
        providers:
          - {name: p, type: mock}
        models:
          - {name: chat, provider: p, model: m}
          - {name: big, provider: p, model: b}
          - {name: embed, provider: p, model: mock-embedding}
        \(extra)
        """
    }

    static func withGateway(_ extra: String, _ test: @escaping @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let (application, _) = try makeGateway(config(extra))
        try await application.makeApplication().test(.live) { client in try await test(client) }
    }

    static func call(
        _ client: any TestClientProtocol, _ credential: String, model: String = "chat", content: String = "hello", extra: String = "",
        path: String = "/v1/chat/completions"
    ) async throws -> TestResponse {
        let headers: HTTPFields = [.authorization: "Bearer \(credential)", .contentType: "application/json"]
        let body =
            path.hasSuffix("embeddings") ? ByteBuffer(string: #"{"model":"\#(model)","input":"x"}"#) : chatBody(extra, model: model, content: content)
        return try await client.execute(uri: path, method: .post, headers: headers, body: body)
    }

    static func hs256(_ changes: [String: JSONValue] = [:], removing: [String] = [], secret: String = AccessTests.secret) -> String {
        let now = WallClock.unixTime()
        var payload: [String: JSONValue] = ["aud": "switchyard", "team": "research", "roles": ["developer"], "plan": "pro"]
        for (key, value) in changes { payload[key] = value }
        return makeToken(alg: "HS256", claims: claims(now: now, payload, removing: removing), signer: .hmac(Array(secret.utf8)))
    }

    static let jwtConfig = """
        auth:
          jwt:
            - issuer: \(testIssuer)
              audience: switchyard
              secret: \(secret)
              algorithms: [HS256]
              claims: {team: team, roles: roles, tier: plan}
        """

    @Test func tokensFromATrustedIssuerAuthenticateAndAttacksAreRefused() async throws {
        try await Self.withGateway(Self.jwtConfig) { client in
            let ok = try await Self.call(client, Self.hs256())
            #expect(ok.status == .ok, "\(ok.text)")
            let usage = try await client.execute(uri: "/admin/usage?group_by=key,team", method: .get, headers: authorized)
            let row = usage.json?["data"]?.arrayValue?.first
            #expect(row?["key"]?.stringValue == "user-1" && row?["team"]?.stringValue == "research", "claims became the identity")

            let attacks: [(String, String)] = [
                (Self.hs256(["exp": JSONValue(Int(WallClock.unixTime()) - 3600)]), "expired"),
                (Self.hs256(["aud": "someone-else"]), "audience"),
                (Self.hs256(["iss": "https://evil.example"]), "issuer"),
                (Self.hs256(secret: String(repeating: "x", count: 56)), "signature"),
                (Self.hs256(removing: ["exp"]), "exp"),
                (
                    b64url(Array(#"{"alg":"none","typ":"JWT"}"#.utf8)) + "."
                        + b64url(claims(now: WallClock.unixTime(), ["aud": "switchyard"]).serializedBytes())
                        + ".", "alg none"
                ),
            ]
            for (token, what) in attacks {
                let refused = try await Self.call(client, token)
                #expect(refused.status == .unauthorized, "\(what): \(refused.text)")
                #expect(refused.json?["error"]?["code"]?.stringValue == "invalid_token", "\(what)")
                #expect(refused.headers[.wwwAuthenticate]?.contains("invalid_token") == true, "\(what)")
                #expect(!refused.text.contains(token), "the token is never echoed")
            }
            #expect(try await Self.call(client, "test-master-key").status == .ok, "the master key still works")
        }
    }

    @Test func keysAreFetchedFromTheIssuersJWKSAndRolesComeFromNestedClaims() async throws {
        let router = Router()
        let document = jwksDocument([jwkJSON(rsa: TestKeys.rsa.publicKey, kid: "k1", extra: ["alg": "RS256", "use": "sig"])])
        router.get("/jwks") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: document)))
        }
        try await Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0))).test(.live) { idp in
            let port = try #require(idp.port)
            let extra = """
                auth:
                  jwt:
                    - issuer: \(testIssuer)
                      audience: [switchyard, other]
                      jwks_uri: http://127.0.0.1:\(port)/jwks
                      algorithms: [RS256]
                      claims: {roles: realm_access.roles, org: org}
                access:
                  roles:
                    service: {models: [chat], endpoints: [chat_completions]}
                """
            try await Self.withGateway(extra) { client in
                func token(_ roles: [String], alg: String = "RS256") -> String {
                    makeToken(
                        alg: alg, kid: "k1",
                        claims: claims(
                            now: WallClock.unixTime(),
                            ["aud": "switchyard", "org": "acme", "realm_access": ["roles": .array(roles.map(JSONValue.string))]]),
                        signer: .rsa(TestKeys.rsa))
                }
                let service = token(["service"])
                #expect(try await Self.call(client, service).status == .ok)
                let otherModel = try await Self.call(client, service, model: "big")
                #expect(otherModel.status == .forbidden)
                #expect(otherModel.json?["error"]?["code"]?.stringValue == "access_denied")
                #expect(otherModel.text.contains("may not use model 'big'"))
                let embeddings = try await Self.call(client, service, model: "chat", path: "/v1/embeddings")
                #expect(embeddings.status == .forbidden && embeddings.text.contains("embeddings endpoint"))
                #expect(try await Self.call(client, token(["developer"]), model: "big").status == .ok, "unconfigured roles are unrestricted")
                let forged = makeToken(
                    alg: "RS256", kid: "k1", claims: claims(now: WallClock.unixTime(), ["aud": "switchyard"]), signer: .rsa(TestKeys.attacker))
                #expect(try await Self.call(client, forged).status == .unauthorized)
                let confused = makeToken(
                    alg: "HS256", kid: "k1", claims: claims(now: WallClock.unixTime(), ["aud": "switchyard"]),
                    signer: .hmac(Array(document.utf8)))
                #expect(try await Self.call(client, confused).status == .unauthorized, "HS/RS confusion")
            }
        }
    }

    /// jwt-kit verifies the signatures: a key set mixing unusable keys with a good one still
    /// serves, and a signature from another curve is refused with the usual answer.
    @Test func aMixedKeySetServesItsGoodKeyAndForeignCurvesAreRefused() async throws {
        let router = Router()
        let document = jwksDocument(mixedKeySet())
        router.get("/jwks") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: document)))
        }
        try await Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0))).test(.live) { idp in
            let port = try #require(idp.port)
            let extra = """
                auth:
                  jwt:
                    - issuer: \(testIssuer)
                      audience: switchyard
                      jwks_uri: http://127.0.0.1:\(port)/jwks
                      algorithms: [ES384, ES256]
                """
            try await Self.withGateway(extra) { client in
                let payload = claims(now: WallClock.unixTime(), ["aud": "switchyard"])
                let good = try await Self.call(client, makeToken(alg: "ES384", kid: "good", claims: payload, signer: .p384(TestKeys.p384)))
                #expect(good.status == .ok, "\(good.text)")
                let refusals: [(String, String)] = [
                    (makeToken(alg: "ES384", kid: "good", claims: payload, signer: .p256(TestKeys.p256)), "The token's signature is invalid."),
                    (
                        makeToken(alg: "ES256", kid: "good", claims: payload, signer: .p256(TestKeys.p256)),
                        "The token's algorithm does not fit its signing key."
                    ),
                    (makeToken(alg: "ES256", kid: "pq", claims: payload, signer: .p256(TestKeys.p256)), "The token's signing key is not known."),
                ]
                for (token, message) in refusals {
                    let refused = try await Self.call(client, token)
                    #expect(refused.status == .unauthorized, "\(message)")
                    #expect(refused.json?["error"]?["code"]?.stringValue == "invalid_token")
                    #expect(refused.json?["error"]?["message"]?.stringValue == message, "\(refused.text)")
                    #expect(refused.headers[.wwwAuthenticate]?.contains("invalid_token") == true)
                }
            }
        }
    }

    @Test func attributeRulesAllowOrDenyWithAReason() async throws {
        let extra = """
            \(Self.jwtConfig)
            access:
              rules:
                - name: no-images-on-free
                  effect: deny
                  reason: images need the pro plan
                  when: {metadata: {tier: free}, has_images: true}
                - name: interns-small-prompts
                  effect: deny
                  reason: interns may send at most about 50 tokens
                  when: {metadata: {team: interns}, min_prompt_tokens: 50}
                - name: no-big-model-for-developers
                  effect: deny
                  when: {roles: [developer], model: big, endpoints: [chat_completions]}
            """
        try await Self.withGateway(extra) { client in
            let image =
                #","messages":[{"role":"user","content":[{"type":"text","text":"hi"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AA=="}}]}]"#
            let free = Self.hs256(["plan": "free"])
            let imageBody = ByteBuffer(string: #"{"model":"chat""# + image + "}")
            let headers: HTTPFields = [.authorization: "Bearer \(free)", .contentType: "application/json"]
            let refused = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: headers, body: imageBody)
            #expect(refused.status == .forbidden)
            #expect(refused.json?["error"]?["message"]?.stringValue == "Access denied: images need the pro plan.")
            #expect(try await Self.call(client, free).status == .ok, "text is fine on the free plan")
            let pro: HTTPFields = [.authorization: "Bearer \(Self.hs256())", .contentType: "application/json"]
            #expect(try await client.execute(uri: "/v1/chat/completions", method: .post, headers: pro, body: imageBody).status == .ok)

            let intern = Self.hs256(["team": "interns"])
            #expect(try await Self.call(client, intern, content: "short").status == .ok)
            let long = try await Self.call(client, intern, content: String(repeating: "word ", count: 100))
            #expect(long.status == .forbidden && long.text.contains("at most about 50 tokens"))

            let big = try await Self.call(client, Self.hs256(), model: "big")
            #expect(big.status == .forbidden && big.text.contains("no-big-model-for-developers"))
            #expect(try await Self.call(client, "test-master-key", model: "big").status == .ok, "the master key is not subject to rules")
        }
    }

    @Test func accessDefaultDenyNeedsAnAllowRule() async throws {
        let extra = """
            \(Self.jwtConfig)
            access:
              default: deny
              rules:
                - {name: researchers, effect: allow, when: {metadata: {team: research}}}
            """
        try await Self.withGateway(extra) { client in
            #expect(try await Self.call(client, Self.hs256()).status == .ok)
            let other = try await Self.call(client, Self.hs256(["team": "sales"]))
            #expect(other.status == .forbidden && other.text.contains("access.default is deny"))
        }
    }

    @Test func teamAndOrgAdminsAdministerOnlyTheirOwnKeys() async throws {
        try await Self.withGateway("") { client in
            func create(_ credential: String, _ json: String) async throws -> TestResponse {
                try await client.execute(
                    uri: "/admin/keys", method: .post, headers: [.authorization: "Bearer \(credential)", .contentType: "application/json"],
                    body: ByteBuffer(string: json))
            }
            let lead = try #require(
                try await create("test-master-key", #"{"name":"lead","team_id":"t1","organization_id":"acme","roles":["team_admin"]}"#)
                    .json?["key"]?.stringValue)
            let outsider = try #require(
                try await create("test-master-key", #"{"name":"x","team_id":"t2","organization_id":"acme"}"#).json?["id"]?.stringValue)

            let made = try await create(lead, #"{"name":"app","roles":["service"]}"#)
            #expect(made.status == .created, "\(made.text)")
            #expect(made.json?["team_id"]?.stringValue == "t1" && made.json?["organization_id"]?.stringValue == "acme", "put in the lead's team")
            let elsewhere = try await create(lead, #"{"name":"app","team_id":"t2"}"#)
            #expect(elsewhere.status == .forbidden && elsewhere.json?["error"]?["code"]?.stringValue == "outside_admin_scope")
            let escalation = try await create(lead, #"{"name":"boss","roles":["admin"]}"#)
            #expect(escalation.status == .forbidden)
            let unknownRole = try await create(lead, #"{"name":"x","roles":["wizard"]}"#)
            #expect(unknownRole.status == .badRequest)

            let listed = try await client.execute(uri: "/admin/keys", method: .get, headers: [.authorization: "Bearer \(lead)"])
            let teams = Set(listed.json?["data"]?.arrayValue?.compactMap { $0["team_id"]?.stringValue } ?? [])
            #expect(teams == ["t1"], "a team admin sees only its team's keys")
            let revoke = try await client.execute(uri: "/admin/keys/\(outsider)/revoke", method: .post, headers: [.authorization: "Bearer \(lead)"])
            #expect(revoke.status == .notFound, "another team's key does not exist for it")

            let orgAdmin = try #require(
                try await create("test-master-key", #"{"name":"cto","organization_id":"acme","roles":["org_admin"]}"#).json?["key"]?.stringValue)
            let revoked = try await client.execute(
                uri: "/admin/keys/\(outsider)/revoke", method: .post, headers: [.authorization: "Bearer \(orgAdmin)"])
            #expect(revoked.status == .ok, "the org admin reaches every team of its organisation")
            let developer = try #require(try await create("test-master-key", #"{"name":"dev"}"#).json?["key"]?.stringValue)
            let denied = try await client.execute(uri: "/admin/keys", method: .get, headers: [.authorization: "Bearer \(developer)"])
            #expect(denied.status == .forbidden && denied.json?["error"]?["code"]?.stringValue == "admin_required")
            let usage = try await client.execute(uri: "/admin/usage", method: .get, headers: [.authorization: "Bearer \(lead)"])
            #expect(usage.status == .ok, "team admins read their team's usage")
        }
    }

    @Test func issuerSettingsAreValidated() {
        let bad = Self.config(
            """
            auth:
              jwt:
                - {issuer: "https://idp.example", algorithms: [RS256, none, HS265]}
                - {secret: short-but-present, algorithms: [RS256], audience: x}
            """)
        do {
            _ = try makeGateway(bad)
            Issue.record("accepted")
        } catch {
            let text = "\(error)"
            #expect(text.contains("needs an 'audience'"))
            #expect(text.contains("unknown or unsafe algorithm 'none'"))
            #expect(text.contains("did you mean 'HS256'"))
            #expect(text.contains("a 'secret' verifies only HS256/HS384/HS512"))
        }
    }
}

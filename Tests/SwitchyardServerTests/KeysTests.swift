import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SwitchyardCore
import SwitchyardServer
import SwitchyardTesting
import Testing

/// Virtual keys through the admin API and in use: shown once, stored only as a keyed hash,
/// allowed models and endpoints, revocation, rotation, expiry, and limits per key.
@Suite struct KeysTests {
    static let yaml = """
        server: {port: 0, master_key: test-master-key, reload_check_interval: off}
        providers:
          - {name: p, type: mock}
        models:
          - {name: chat, provider: p, model: m}
          - {name: embed, provider: p, model: mock-embedding}
          - name: regional
            deployments: [{provider: p, model: us, region: us, weight: 1000}, {provider: p, model: eu, region: eu, weight: 1}]
        limits:
          tiers:
            free: {requests_per_minute: 2}
            pro: {requests_per_minute: 100}
          default_tier: free
          rules: [{scope: key, tier: from_identity}]
        """

    func withKeys(_ test: @escaping @Sendable (any TestClientProtocol, String) async throws -> Void) async throws {
        let (application, path) = try makeGateway(Self.yaml)
        let directory = (path as NSString).deletingLastPathComponent
        try await application.makeApplication().test(.live) { client in try await test(client, directory) }
    }

    func create(_ client: any TestClientProtocol, _ json: String) async throws -> JSONValue {
        let response = try await client.execute(uri: "/admin/keys", method: .post, headers: authorized, body: ByteBuffer(string: json))
        #expect(response.status == .created, "\(response.text)")
        return try #require(response.json)
    }

    func call(_ client: any TestClientProtocol, key: String, model: String = "chat", path: String = "/v1/chat/completions") async throws
        -> TestResponse
    {
        let headers: HTTPFields = [.authorization: "Bearer \(key)", .contentType: "application/json"]
        let body = path.hasSuffix("embeddings") ? ByteBuffer(string: #"{"model":"\#(model)","input":"x"}"#) : chatBody(model: model)
        return try await client.execute(uri: path, method: .post, headers: headers, body: body)
    }

    @Test func keysAreShownOnceStoredHashedAndEnforced() async throws {
        try await withKeys { client, _ in
            let created = try await create(client, #"{"name":"app","models":["chat"],"endpoints":["chat_completions"],"tier":"pro","team_id":"t1"}"#)
            let key = try #require(created["key"]?.stringValue)
            #expect(key.hasPrefix("sk-sy-") && key.count == 54)
            let id = try #require(created["id"]?.stringValue)
            #expect(created["hint"]?.stringValue == "sk-sy-…" + key.suffix(4))

            let listed = try await client.execute(uri: "/admin/keys", method: .get, headers: authorized)
            #expect(!listed.text.contains(key), "the list never shows a key")
            #expect(!listed.text.contains("key_hash") && !listed.text.contains("keyHash"))

            let ok = try await call(client, key: key)
            #expect(ok.status == .ok)
            let otherModel = try await call(client, key: key, model: "regional")
            #expect(otherModel.status == .forbidden)
            #expect(otherModel.json?["error"]?["code"]?.stringValue == "model_not_allowed")
            let otherEndpoint = try await call(client, key: key, model: "embed", path: "/v1/embeddings")
            #expect(otherEndpoint.status == .forbidden)
            #expect(otherEndpoint.json?["error"]?["code"]?.stringValue == "endpoint_not_allowed")
            let admin = try await client.execute(
                uri: "/admin/keys", method: .get, headers: [.authorization: "Bearer \(key)"])
            #expect(admin.status == .forbidden, "a virtual key cannot administer keys")
            let wrong = try await call(client, key: "sk-sy-" + String(repeating: "0", count: 48))
            #expect(wrong.status == .unauthorized)

            let rotated = try await client.execute(uri: "/admin/keys/\(id)/rotate", method: .post, headers: authorized)
            let newKey = try #require(rotated.json?["key"]?.stringValue)
            #expect(newKey != key)
            #expect(try await call(client, key: key).status == .unauthorized, "the old secret stops working at once")
            #expect(try await call(client, key: newKey).status == .ok)

            let revoked = try await client.execute(uri: "/admin/keys/\(id)/revoke", method: .post, headers: authorized)
            #expect(revoked.json?["status"]?.stringValue == "revoked")
            let refused = try await call(client, key: newKey)
            #expect(refused.status == .unauthorized)
            #expect(refused.json?["error"]?["code"]?.stringValue == "key_revoked")
        }
    }

    @Test func expiredKeysAreRefusedAndLimitsFollowTheKeysTier() async throws {
        try await withKeys { client, _ in
            let expired = try await create(client, #"{"name":"old","expires_at":1000}"#)
            let response = try await call(client, key: try #require(expired["key"]?.stringValue))
            #expect(response.status == .unauthorized)
            #expect(response.json?["error"]?["code"]?.stringValue == "key_expired")

            let free = try #require(try await create(client, #"{"name":"free","expires_in":"30d"}"#)["key"]?.stringValue)
            let pro = try #require(try await create(client, #"{"name":"pro","tier":"pro"}"#)["key"]?.stringValue)
            for _ in 0..<2 { #expect(try await call(client, key: free).status == .ok) }
            let limited = try await call(client, key: free)
            #expect(limited.status == .tooManyRequests, "the default tier allows two requests a minute per key")
            for _ in 0..<5 { #expect(try await call(client, key: pro).status == .ok) }
            let bad = try await client.execute(
                uri: "/admin/keys", method: .post, headers: authorized, body: ByteBuffer(string: #"{"name":"x","models":"chat"}"#))
            #expect(bad.status == .badRequest)
        }
    }

    @Test func theAdminAPIIsDescribedByAnOpenAPIDocument() async throws {
        try await withKeys { client, _ in
            let response = try await client.execute(uri: "/admin/openapi.json", method: .get, headers: authorized)
            #expect(response.status == .ok)
            let document = try #require(response.json, "the document is valid JSON")
            #expect(document["openapi"]?.stringValue == "3.1.0")
            let paths = document["paths"]?.objectValue?.keys ?? []
            for path in [
                "/admin/keys", "/admin/keys/{id}", "/admin/keys/{id}/revoke", "/admin/keys/{id}/rotate", "/v1/route/explain", "/admin/usage",
                "/admin/spend", "/v1/usage", "/admin/orgs", "/admin/teams/{id}", "/admin/users", "/admin/audit", "/admin/audit/verify",
                "/utils/token_counter", "/v1/rerank", "/v1/moderations",
            ] {
                #expect(paths.contains(path), "\(path) is documented")
            }
            let anonymous = try await client.execute(uri: "/admin/openapi.json", method: .get)
            #expect(anonymous.status == .unauthorized)
        }
    }

    @Test func keysCarryRegionRestrictions() async throws {
        try await withKeys { client, _ in
            let key = try #require(try await create(client, #"{"name":"eu-app","regions":["eu"],"tier":"pro"}"#)["key"]?.stringValue)
            for _ in 0..<3 {
                let response = try await call(client, key: key, model: "regional")
                #expect(response.headers[HTTPField.Name("x-switchyard-model")!] == "eu")
            }
        }
    }

    @Test func theDatabaseNeverHoldsAKeyInPlainText() async throws {
        try await withKeys { client, directory in
            var keys: [String] = []
            for index in 0..<5 {
                keys.append(try #require(try await create(client, #"{"name":"k\#(index)"}"#)["key"]?.stringValue))
            }
            #expect(try await call(client, key: keys[0]).status == .ok)
            var bytes = Data()
            for suffix in ["", "-wal", "-shm"] {
                bytes += FileManager.default.contents(atPath: directory + "/switchyard.db" + suffix) ?? Data()
            }
            #expect(bytes.count > 0)
            let text = String(decoding: bytes, as: UTF8.self)
            for key in keys {
                #expect(!text.contains(key))
                #expect(!text.contains(String(key.dropFirst(6))))
            }
            #expect(text.contains("k4"), "the database is the one the gateway wrote")
        }
    }
}

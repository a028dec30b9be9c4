import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SwitchyardCore
import SwitchyardServer
import Testing

/// Organisations → teams → users → keys: what keys and tokens inherit, through HTTP.
@Suite struct DirectoryTests {
    static let yaml = """
        server: {port: 0, master_key: test-master-key, reload_check_interval: off}
        providers:
          - {name: p, type: mock}
        models:
          - name: chat
            deployments: [{provider: p, model: m, price: {input: 1000, output: 2000}}]
          - {name: big, provider: p, model: b}
          - {name: small, provider: p, model: s}
        limits:
          tiers:
            starter: {requests_per_minute: 2}
          rules: [{scope: key, tier: from_identity}]
        \(AccessTests.jwtConfig)
        """

    static func post(_ client: any TestClientProtocol, _ path: String, _ json: String, credential: String = "test-master-key") async throws
        -> TestResponse
    {
        try await client.execute(
            uri: path, method: .post, headers: [.authorization: "Bearer \(credential)", .contentType: "application/json"],
            body: ByteBuffer(string: json))
    }

    @Test func keysAndTokensInheritTierModelsAndBudgetsFromTheirTeamAndOrganisation() async throws {
        let (application, _) = try makeGateway(Self.yaml)
        try await application.makeApplication().test(.live) { client in
            #expect(
                try await Self.post(client, "/admin/orgs", #"{"id":"acme","models":["chat","small"],"budget":{"amount":100,"period":"monthly"}}"#)
                    .status == .created)
            let team = try await Self.post(
                client, "/admin/teams", #"{"id":"research","organization_id":"acme","tier":"starter","budget":{"amount":0.5,"period":"daily"}}"#)
            #expect(team.status == .created, "\(team.text)")
            #expect(team.json?["organization_id"]?.stringValue == "acme")
            let key = try #require(try await Self.post(client, "/admin/keys", #"{"name":"k","team_id":"research"}"#).json?["key"]?.stringValue)

            // The organisation's model list applies to the key.
            let big = try await AccessTests.call(client, key, model: "big")
            #expect(big.status == .forbidden && big.json?["error"]?["code"]?.stringValue == "model_not_allowed")
            // The team's tier applies: 2 requests per minute.
            #expect(try await AccessTests.call(client, key, extra: #","max_tokens":5"#).status == .ok)
            #expect(try await AccessTests.call(client, key, extra: #","max_tokens":5"#).status == .ok)
            let limited = try await AccessTests.call(client, key, extra: #","max_tokens":5"#)
            #expect(limited.status == .tooManyRequests && limited.json?["error"]?["code"]?.stringValue == "rate_limit_exceeded")

            // A JWT user stored under the team gets the team, its budget and extra roles.
            #expect(try await Self.post(client, "/admin/users", #"{"id":"user-1","team_id":"research","roles":["team_admin"]}"#).status == .created)
            var spent = false
            for _ in 0..<40 where !spent {
                let response = try await AccessTests.call(
                    client, AccessTests.hs256(["team": .null]), model: "chat", content: "a longer question", extra: #","max_tokens":5"#)
                if response.status == .tooManyRequests {
                    #expect(response.json?["error"]?["type"]?.stringValue == "budget_exceeded")
                    #expect(response.text.contains("team 'research'"))
                    spent = true
                }
            }
            #expect(spent, "the team's daily budget stopped the user")
            let spend = try await client.execute(uri: "/admin/spend", method: .get, headers: authorized)
            let budgets = spend.json?["budgets"]?.arrayValue ?? []
            #expect(budgets.contains { $0["scope"]?.stringValue == "team" && $0["id"]?.stringValue == "research" })
            #expect(budgets.contains { $0["scope"]?.stringValue == "org" && $0["id"]?.stringValue == "acme" })
            let asLead = try await client.execute(
                uri: "/admin/users", method: .get, headers: [.authorization: "Bearer \(AccessTests.hs256(["team": .null]))"])
            #expect(asLead.status == .ok, "the stored user's team_admin role is in force")
        }
    }

    @Test func delegatedAdministratorsStayInsideTheirOrganisation() async throws {
        let (application, _) = try makeGateway(Self.yaml)
        try await application.makeApplication().test(.live) { client in
            _ = try await Self.post(client, "/admin/orgs", #"{"id":"acme"}"#)
            _ = try await Self.post(client, "/admin/orgs", #"{"id":"globex"}"#)
            _ = try await Self.post(client, "/admin/teams", #"{"id":"g-team","organization_id":"globex"}"#)
            let cto = try #require(
                try await Self.post(client, "/admin/keys", #"{"name":"cto","organization_id":"acme","roles":["org_admin"]}"#).json?["key"]?
                    .stringValue)
            let mine = try await Self.post(client, "/admin/teams", #"{"id":"a-team"}"#, credential: cto)
            #expect(mine.status == .created && mine.json?["organization_id"]?.stringValue == "acme", "placed in its organisation")
            let theirs = try await Self.post(client, "/admin/teams", #"{"id":"x","organization_id":"globex"}"#, credential: cto)
            #expect(theirs.status == .forbidden)
            let takeover = try await Self.post(client, "/admin/teams", #"{"id":"g-team"}"#, credential: cto)
            #expect(takeover.status == .forbidden, "another organisation's team cannot be taken over")
            #expect(try await Self.post(client, "/admin/orgs", #"{"id":"new"}"#, credential: cto).status == .forbidden)
            let listed = try await client.execute(uri: "/admin/teams", method: .get, headers: [.authorization: "Bearer \(cto)"])
            #expect(listed.json?["data"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == ["a-team"])
            let bad = try await Self.post(client, "/admin/teams", #"{"id":"t","budget":{"amount":-1}}"#)
            #expect(bad.status == .badRequest)
            let deleted = try await client.execute(uri: "/admin/teams/a-team", method: .delete, headers: authorized)
            #expect(deleted.status == .ok)
            let audit = try await client.execute(uri: "/admin/audit?kind=admin", method: .get, headers: authorized)
            let actions =
                audit.json?["data"]?.arrayValue?.compactMap { "\($0["action"]?.stringValue ?? ""):\($0["outcome"]?.stringValue ?? "")" } ?? []
            #expect(actions.contains("team.save:denied") && actions.contains("team.delete:success"))
        }
    }
}

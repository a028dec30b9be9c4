import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import SwitchyardCore
import SwitchyardServer
import SwitchyardTesting
import Testing

/// Prompt engineering through HTTP: templates with typed variables and versions, system-prompt
/// enforcement with context injection, input validation, response transformation, and the
/// JSON-schema output guardrail.
@Suite struct PromptTests {
    static let config = """
        server: {port: 0, master_key: test-master-key, reload_check_interval: off}
        providers:
          - {name: p, type: mock}
        models:
          - {name: chat, provider: p, model: m}
          - {name: strict, provider: p, model: s}
        prompts:
          templates:
            - name: support
              version: 1
              model: chat
              variables: {customer: {type: string, required: true}}
              messages:
                - {role: user, content: "v1 for {{customer}}"}
            - name: support
              version: 2
              model: chat
              variables:
                customer: {type: string, required: true, max_length: 40}
                tone: {type: string, enum: [friendly, formal], default: friendly}
                orders: integer
              messages:
                - {role: system, content: "Be {{tone}}. Team {{identity.team}}, region {{header.x-region}}."}
                - {role: user, content: "Customer {{customer}} has {{orders}} orders."}
          system:
            - {name: house-rules, mode: prepend, content: "House rules apply. Project {{metadata.project}}.", models: [strict]}
            - {name: only-ours, mode: replace, content: "Only this system prompt.", models: [strict], teams: [locked]}
          validation:
            - name: strict-input
              models: [strict]
              max_messages: 3
              required: [user, metadata.project]
              allowed_params: [user, metadata, temperature, response_format]
              metadata_schema:
                type: object
                properties: {project: {type: string, pattern: "^[a-z]+$"}, priority: {type: integer, minimum: 1, maximum: 5}}
                required: [project]
          responses:
            - {name: lean, models: [strict], strip: [system_fingerprint, choices.logprobs], add_metadata: true}
        guardrails:
          - {name: schema, detector: json_schema, action: retry}
        """

    func withGateway(_ test: @escaping @Sendable (any TestClientProtocol, SwitchyardApplication) async throws -> Void) async throws {
        let (application, _) = try makeGateway(Self.config)
        try await application.makeApplication().test(.live) { client in try await test(client, application) }
    }

    static func mock(_ app: SwitchyardApplication) -> MockProvider { (app.runtime.snapshot.adapters["p"] as! MockProviderAdapter).mock }

    static func post(_ client: any TestClientProtocol, _ body: String, headers extra: HTTPFields = [:]) async throws -> TestResponse {
        var headers = authorized
        headers.append(contentsOf: extra)
        return try await client.execute(uri: "/v1/chat/completions", method: .post, headers: headers, body: ByteBuffer(string: body))
    }

    @Test func templatesRenderTypedVariablesAndContextByVersion() async throws {
        try await withGateway { client, app in
            let latest = try await Self.post(
                client, #"{"model":"template/support","variables":{"customer":"Ada","orders":3}}"#,
                headers: [HTTPField.Name("x-region")!: "eu"])
            #expect(latest.status == .ok, "\(latest.text)")
            #expect(latest.headers[HTTPField.Name("x-switchyard-template")!] == "support@2")
            let sent = Self.mock(app).stats.lastBodyJSON
            #expect(sent?["model"]?.stringValue == "m")
            #expect(sent?["variables"] == nil, "variables are not forwarded")
            let messages = sent?["messages"]?.arrayValue ?? []
            #expect(messages.map { $0["content"]?.stringValue ?? "" } == ["Be friendly. Team , region eu.", "Customer Ada has 3 orders."])

            let pinned = try await Self.post(client, #"{"model":"template/support@1","variables":{"customer":"Bo"}}"#)
            #expect(pinned.headers[HTTPField.Name("x-switchyard-template")!] == "support@1")
            #expect(Self.mock(app).stats.lastBodyJSON?["messages"]?.arrayValue?.first?["content"]?.stringValue == "v1 for Bo")

            // The header selects a template for an ordinary model name; client messages follow.
            let byHeader = try await Self.post(
                client, #"{"model":"chat","variables":{"customer":"Cy"},"messages":[{"role":"user","content":"and more"}]}"#,
                headers: [HTTPField.Name("x-switchyard-template")!: "support@1"])
            #expect(byHeader.status == .ok)
            #expect(Self.mock(app).stats.lastBodyJSON?["messages"]?.arrayValue?.count == 2)

            let errors: [(String, String)] = [
                (#"{"model":"template/support","variables":{}}"#, "Variable 'customer' is required by template 'support' v2."),
                (
                    #"{"model":"template/support","variables":{"customer":"A","orders":"many"}}"#,
                    "Variable 'orders' of template 'support' v2 must be an integer, not string."
                ),
                (#"{"model":"template/support","variables":{"customer":"A","tone":"rude"}}"#, "must be one of: friendly, formal"),
                (#"{"model":"template/support","variables":{"customer":"A","colour":"red"}}"#, "Variable 'colour' is not declared"),
                (#"{"model":"template/nope"}"#, "No prompt template is named 'nope'"),
                (#"{"model":"template/support@7","variables":{"customer":"A"}}"#, "has no version '7'"),
            ]
            for (body, message) in errors {
                let response = try await Self.post(client, body)
                #expect(response.status.code == 400 || response.status.code == 404)
                #expect(response.json?["error"]?["message"]?.stringValue?.contains(message) == true, "\(body): \(response.text)")
            }
        }
    }

    @Test func systemPromptsAreEnforcedWithContext() async throws {
        try await withGateway { client, app in
            let body =
                #"{"model":"strict","user":"u1","metadata":{"project":"apollo"},"messages":[{"role":"system","content":"client system"},{"role":"user","content":"hi"}]}"#
            let response = try await Self.post(client, body)
            #expect(response.status == .ok, "\(response.text)")
            // `metadata.<key>` reads the caller's attributes; the master key has none.
            let messages = Self.mock(app).stats.lastBodyJSON?["messages"]?.arrayValue?.map { $0["content"]?.stringValue ?? "" }
            #expect(messages == ["House rules apply. Project .", "client system", "hi"])
            let created = try await client.execute(
                uri: "/admin/keys", method: .post, headers: authorized,
                body: ByteBuffer(string: #"{"name":"k","team_id":"locked","metadata":{"project":"zeus"}}"#))
            let key = try #require(created.json?["key"]?.stringValue)
            let locked = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: [.authorization: "Bearer \(key)", .contentType: "application/json"],
                body: ByteBuffer(string: body))
            #expect(locked.status == .ok, "\(locked.text)")
            let replaced = Self.mock(app).stats.lastBodyJSON?["messages"]?.arrayValue?.map { $0["content"]?.stringValue ?? "" }
            #expect(replaced == ["Only this system prompt.", "hi"], "replace drops the client's system prompt (and the earlier rule's)")
            // A key's metadata is injected into the system prompt.
            let other = try await client.execute(
                uri: "/admin/keys", method: .post, headers: authorized,
                body: ByteBuffer(string: #"{"name":"k2","team_id":"open","metadata":{"project":"hermes"}}"#))
            let otherKey = try #require(other.json?["key"]?.stringValue)
            let injected = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: [.authorization: "Bearer \(otherKey)", .contentType: "application/json"],
                body: ByteBuffer(string: body))
            #expect(injected.status == .ok)
            #expect(
                Self.mock(app).stats.lastBodyJSON?["messages"]?.arrayValue?.first?["content"]?.stringValue == "House rules apply. Project hermes.")
        }
    }

    @Test func validationSaysExactlyWhatIsWrong() async throws {
        try await withGateway { client, _ in
            let cases: [(String, String)] = [
                (#"{"model":"strict","metadata":{"project":"x"},"messages":[{"role":"user","content":"hi"}]}"#, "'user' is required here"),
                (#"{"model":"strict","user":"u","messages":[{"role":"user","content":"hi"}]}"#, "'metadata.project' is required here"),
                (
                    #"{"model":"strict","user":"u","metadata":{"project":"x"},"seed":1,"messages":[{"role":"user","content":"hi"}]}"#,
                    "Parameter 'seed' is not allowed here"
                ),
                (
                    #"{"model":"strict","user":"u","metadata":{"project":"X1"},"messages":[{"role":"user","content":"hi"}]}"#,
                    "metadata.project: must match the pattern"
                ),
                (
                    #"{"model":"strict","user":"u","metadata":{"project":"x","priority":9},"messages":[{"role":"user","content":"hi"}]}"#,
                    "metadata.priority: must be <= 5"
                ),
                (
                    #"{"model":"strict","user":"u","metadata":{"project":"x"},"messages":[{"role":"user","content":"1"},{"role":"assistant","content":"2"},{"role":"user","content":"3"},{"role":"user","content":"4"}]}"#,
                    "This request has 4 messages; at most 3"
                ),
            ]
            for (body, message) in cases {
                let response = try await Self.post(client, body)
                #expect(response.status == .badRequest)
                #expect(response.json?["error"]?["message"]?.stringValue?.contains(message) == true, "\(body): \(response.text)")
            }
            // Other models are not affected.
            #expect(try await Self.post(client, #"{"model":"chat","seed":1,"messages":[{"role":"user","content":"hi"}]}"#).status == .ok)
        }
    }

    @Test func responsesAreTransformed() async throws {
        try await withGateway { client, _ in
            let response = try await Self.post(
                client, #"{"model":"strict","user":"u","metadata":{"project":"x"},"messages":[{"role":"user","content":"hi"}]}"#)
            let json = try #require(response.json)
            #expect(json["system_fingerprint"] == nil && json["choices"]?.arrayValue?.first?["logprobs"] == nil)
            #expect(json["switchyard"]?["provider"]?.stringValue == "p" && json["switchyard"]?["model"]?.stringValue == "s")
            #expect(json["switchyard"]?["request_id"]?.stringValue == response.headers[HTTPField.Name("x-request-id")!])
            let untouched = try await Self.post(client, #"{"model":"chat","messages":[{"role":"user","content":"hi"}]}"#)
            #expect(untouched.json?["system_fingerprint"] != nil && untouched.json?["switchyard"] == nil)
        }
    }

    @Test func jsonSchemaAnswersAreValidatedAndRetriedOnce() async throws {
        try await withGateway { client, app in
            let format =
                #""response_format":{"type":"json_schema","json_schema":{"name":"p","schema":{"type":"object","properties":{"age":{"type":"integer"}},"required":["age"],"additionalProperties":false}}}"#
            let fixed = try await Self.post(
                client,
                #"{"model":"chat",\#(format),"mock":{"replies":["{\"age\":\"ten\"}","{\"age\":10}"]},"messages":[{"role":"user","content":"age?"}]}"#)
            #expect(fixed.status == .ok, "\(fixed.text)")
            #expect(fixed.json?["choices"]?.arrayValue?.first?["message"]?["content"]?.stringValue == #"{"age":10}"#)
            #expect(fixed.headers[HTTPField.Name("x-switchyard-guardrails")!] == "schema=retry(json_schema.invalid:1)")
            let retried = Self.mock(app).stats.lastBodyJSON?["messages"]?.arrayValue ?? []
            #expect(retried.count == 3 && retried.last?["content"]?.stringValue?.contains("$.age: expected integer, found string") == true)

            let broken = try await Self.post(
                client,
                #"{"model":"chat",\#(format),"mock":{"replies":["not json","{\"age\":1,\"x\":2}"]},"messages":[{"role":"user","content":"age?"}]}"#)
            #expect(broken.status == .badGateway)
            #expect(broken.json?["error"]?["code"]?.stringValue == "invalid_json_output")
            #expect(broken.json?["error"]?["message"]?.stringValue?.contains("property 'x' is not allowed") == true)

            let valid = try await Self.post(
                client, #"{"model":"chat",\#(format),"mock":{"content":"{\"age\":3}"},"messages":[{"role":"user","content":"age?"}]}"#)
            #expect(valid.status == .ok && valid.headers[HTTPField.Name("x-switchyard-guardrails")!] == nil)
        }
    }

    @Test func configErrorsPointAtTheTemplate() throws {
        let bad = Self.config.replacingOccurrences(of: "Customer {{customer}}", with: "Customer {{custmer}}")
        #expect(throws: (any Error).self) { try makeGateway(bad) }
        do {
            _ = try makeGateway(bad)
        } catch {
            #expect("\(error)".contains("'{{custmer}}' is not a declared variable"))
        }
    }
}

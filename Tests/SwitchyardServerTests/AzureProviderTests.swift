import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SwitchyardCore
import SwitchyardServer
import SwitchyardTesting
import Testing

/// Azure OpenAI: deployment URLs, api-version and the api-key header, against the mock.
@Suite struct AzureProviderTests {
    func withGateway(options: String = "", _ test: @escaping @Sendable (any TestClientProtocol, MockProvider) async throws -> Void) async throws {
        try await withGatewayOnMockUpstream(
            providers: { port in
                """
                  - name: azure
                    type: azure
                    base_url: http://127.0.0.1:\(port)/
                    api_key: azure-secret-key
                \(options)
                """
            },
            models: """
                - name: gpt-4o
                  provider: azure
                  model: my gpt4o deployment
                """,
            test
        )
    }

    @Test func deploymentURLAndAPIKeyHeader() async throws {
        try await withGateway { client, mock in
            let response = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: authorized, body: chatBody(model: "gpt-4o"))
            #expect(response.status == .ok)
            #expect(mock.stats.lastURL == "/openai/deployments/my%20gpt4o%20deployment/chat/completions?api-version=2024-10-21")
            #expect(mock.stats.lastHeaders.contains { $0.name.lowercased() == "api-key" && $0.value == "azure-secret-key" })
            #expect(!mock.stats.lastHeaders.contains { $0.name.lowercased() == "authorization" })
            let stream = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: authorized, body: chatBody(#","stream":true"#, model: "gpt-4o")
            )
            #expect(sseData(stream.text).last == "[DONE]")
        }
    }

    @Test func configurableAPIVersion() async throws {
        try await withGateway(options: "    options:\n      api_version: 2025-01-01-preview") { client, mock in
            _ = try await client.execute(
                uri: "/v1/embeddings", method: .post, headers: authorized, body: ByteBuffer(string: #"{"model":"gpt-4o","input":"x"}"#)
            )
            #expect(mock.stats.lastURL == "/openai/deployments/my%20gpt4o%20deployment/embeddings?api-version=2025-01-01-preview")
        }
    }
}

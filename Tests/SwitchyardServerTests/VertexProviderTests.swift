import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SwitchyardCore
import SwitchyardServer
import Synchronization
import Testing
import _CryptoExtras

/// A Vertex AI provider against a local server that plays both Google's OAuth2 token endpoint
/// (checking the service account's signed JWT) and the Vertex `generateContent` endpoint.
@Suite struct VertexProviderTests {
    static let key = try! _RSA.Signing.PrivateKey(pemRepresentation: FixedTestKeys.vertex)
    static let clientEmail = "switchyard@p.iam.gserviceaccount.com"

    /// What the fake Google saw, and how it should answer.
    final class FakeGoogle: Sendable {
        struct State {
            var tokenRequests = 0
            var vertexRequests = 0
            var issued = 0
            var tokenStatus = 200
            var rejectedTokens: Set<String> = []
            var paths: [String] = []
            var authorizations: [String] = []
            var problems: [String] = []
            var bodies: [String] = []
        }
        let state = Mutex(State())
        var snapshot: State { state.withLock { $0 } }
    }

    /// Writes a service-account key file (PKCS#8 PEM) to a fresh directory and returns its path.
    static func credentialsFile(_ contents: String? = nil) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vertex-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("service-account.json").path
        let json: JSONValue = [
            "type": "service_account",
            "project_id": "p",
            "private_key_id": "key-id-1",
            "private_key": .string(key.pkcs8PEMRepresentation),
            "client_email": .string(clientEmail),
            "client_id": "1234",
            "token_uri": "https://oauth2.googleapis.com/token",
        ]
        try (contents ?? String(decoding: json.serializedBytes(), as: UTF8.self)).write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func base64URLDecoded(_ text: Substring) -> [UInt8]? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64).map { Array($0) }
    }

    /// Checks the JWT-bearer grant; returns a problem description, or nil when it is valid.
    static func checkAssertion(form: String, tokenURL: String) -> String? {
        var fields: [String: String] = [:]
        for pair in form.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? "" }
            if parts.count == 2 { fields[parts[0]] = parts[1] }
        }
        guard fields["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer" else { return "grant_type" }
        let parts = (fields["assertion"] ?? "").split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let headerBytes = base64URLDecoded(parts[0]), let claimBytes = base64URLDecoded(parts[1]),
            let signature = base64URLDecoded(parts[2]), let header = try? JSONValue.parse(headerBytes),
            let claims = try? JSONValue.parse(claimBytes)
        else { return "malformed assertion" }
        let signed = Data((parts[0] + "." + parts[1]).utf8)
        guard key.publicKey.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: signature), for: signed, padding: .insecurePKCS1v1_5)
        else { return "bad signature" }
        guard header["alg"] == "RS256", header["typ"] == "JWT", header["kid"] == "key-id-1" else { return "header" }
        guard claims["iss"]?.stringValue == clientEmail else { return "iss" }
        guard claims["aud"]?.stringValue == tokenURL else { return "aud" }
        guard claims["scope"]?.stringValue == "https://www.googleapis.com/auth/cloud-platform" else { return "scope" }
        guard let iat = claims["iat"]?.intValue, let exp = claims["exp"]?.intValue, exp - iat == 3600 else { return "exp" }
        guard abs(Double(iat) - Date().timeIntervalSince1970) < 60 else { return "iat" }
        return nil
    }

    static let geminiAnswer = #"""
        {"candidates":[{"content":{"role":"model","parts":[{"text":"Hello from Vertex"}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":3,"totalTokenCount":8},"modelVersion":"gemini-2.5-flash","responseId":"vertex-1"}
        """#

    static let geminiStream = [
        #"{"candidates":[{"content":{"role":"model","parts":[{"text":"Hello"}]},"index":0}],"modelVersion":"gemini-2.5-flash"}"#,
        #"{"candidates":[{"content":{"role":"model","parts":[{"text":" from Vertex"}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":3,"totalTokenCount":8},"modelVersion":"gemini-2.5-flash"}"#,
    ].map { "data: \($0)\r\n\r\n" }.joined()

    static func makeServer(_ google: FakeGoogle, onRunning: @escaping @Sendable (Int) async -> Void) -> some ApplicationProtocol {
        let router = Router()
        router.post("/token") { request, context in
            let form = String(buffer: try await request.body.collect(upTo: 1 << 20))
            let url = "http://\(request.head.authority ?? "")/token"
            let problem = checkAssertion(form: form, tokenURL: url)
            let (status, token) = google.state.withLock { state -> (Int, String) in
                state.tokenRequests += 1
                if let problem { state.problems.append(problem) }
                state.issued += 1
                return (state.tokenStatus, "ya29.vertex-token-\(state.issued)")
            }
            guard status == 200, problem == nil else {
                let body = #"{"error":"invalid_grant","error_description":"Invalid JWT Signature."}"#
                return Response(
                    status: .init(code: problem == nil ? status : 400), headers: [.contentType: "application/json"],
                    body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
            }
            let body = #"{"access_token":"\#(token)","expires_in":3599,"token_type":"Bearer"}"#
            return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
        }
        router.post("/v1/projects/:project/locations/:location/publishers/google/models/:action") { request, _ in
            let authorization = request.headers[.authorization] ?? ""
            let path = request.uri.description
            let body = String(buffer: try await request.body.collect(upTo: 1 << 20))
            let rejected = google.state.withLock { state -> Bool in
                state.vertexRequests += 1
                state.bodies.append(body)
                state.paths.append(path)
                state.authorizations.append(authorization)
                return state.rejectedTokens.contains(String(authorization.dropFirst("Bearer ".count)))
            }
            if rejected || !authorization.hasPrefix("Bearer ") {
                let body = #"{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}"#
                return Response(
                    status: .unauthorized, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
            }
            if path.hasSuffix(":predict") {
                // The text-embedding predict answer, as Vertex AI documents it.
                let instances = (try? JSONValue.parse(Array(body.utf8)))?["instances"]?.arrayValue ?? []
                let predictions = instances.enumerated().map { index, _ in
                    #"{"embeddings":{"statistics":{"truncated":false,"token_count":\#(index + 4)},"values":[0.25,-0.5,\#(index).0]}}"#
                }
                let answer = #"{"predictions":[\#(predictions.joined(separator: ","))],"metadata":{"billableCharacterCount":42}}"#
                return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: answer)))
            }
            if path.hasSuffix(":streamGenerateContent?alt=sse") {
                return Response(
                    status: .ok, headers: [.contentType: "text/event-stream"],
                    body: ResponseBody(byteBuffer: ByteBuffer(string: geminiStream)))
            }
            return Response(
                status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: geminiAnswer)))
        }
        return Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: nil),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) },
            logger: quietLogger
        )
    }

    /// Runs `test` against a gateway with one Vertex provider (`auth`: its credential lines).
    func withGateway(
        _ google: FakeGoogle = FakeGoogle(),
        auth: @escaping @Sendable (_ port: Int) throws -> String,
        _ test: @escaping @Sendable (any TestClientProtocol, FakeGoogle) async throws -> Void
    ) async throws {
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let server = Self.makeServer(google) { port in continuation.yield(port) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.runService(gracefulShutdownSignals: []) }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { throw CancellationError() }
            defer { group.cancelAll() }
            let yaml = """
                server:
                  port: 0
                  master_key: test-master-key
                  reload_check_interval: off
                providers:
                  - name: vertex
                    type: vertex
                    base_url: http://127.0.0.1:\(port)
                    options: {project: p, location: l}
                \(try auth(port))
                models:
                  - name: flash
                    provider: vertex
                    model: gemini-2.5-flash
                """
            let (application, _) = try makeGateway(yaml)
            try await application.makeApplication().test(.live) { client in try await test(client, google) }
        }
    }

    static func serviceAccount(_ port: Int) throws -> String {
        "    credentials_file: \(try credentialsFile())\n    token_url: http://127.0.0.1:\(port)/token"
    }

    @Test func embeddingsGoThroughPredictWithTheSameToken() async throws {
        try await withGateway(auth: Self.serviceAccount) { client, google in
            let body = #"{"model":"flash","input":["first text","second text"],"dimensions":3}"#
            let response = try await client.execute(uri: "/v1/embeddings", method: .post, headers: authorized, body: ByteBuffer(string: body))
            #expect(response.status == .ok, "\(response.text)")
            let state = google.snapshot
            #expect(state.paths.last?.hasSuffix("/publishers/google/models/gemini-2.5-flash:predict") == true)
            #expect(state.authorizations.last == "Bearer ya29.vertex-token-1")
            let sent = try JSONValue.parse(Array((state.bodies.last ?? "").utf8))
            #expect(sent["instances"]?.arrayValue?.compactMap { $0["content"]?.stringValue } == ["first text", "second text"])
            #expect(sent["parameters"]?["outputDimensionality"]?.intValue == 3)
            let data = try #require(response.json?["data"]?.arrayValue)
            #expect(data.count == 2 && data[1]["index"]?.intValue == 1)
            #expect(data[1]["embedding"]?.arrayValue?.compactMap(\.doubleValue) == [0.25, -0.5, 1.0])
            #expect(response.json?["usage"]?["prompt_tokens"]?.intValue == 9, "Vertex's token counts, summed")
            let encoded = try await client.execute(
                uri: "/v1/embeddings", method: .post, headers: authorized,
                body: ByteBuffer(string: #"{"model":"flash","input":"x","encoding_format":"base64"}"#))
            #expect(encoded.json?["data"]?.arrayValue?.first?["embedding"]?.stringValue == "AACAPgAAAL8AAAAA", "float32 little-endian, base64")
        }
    }

    @Test func chatCompletionsThroughVertexReuseOneToken() async throws {
        try await withGateway(auth: Self.serviceAccount) { client, google in
            let response = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: authorized, body: chatBody(model: "flash"))
            #expect(response.status == .ok)
            #expect(response.json?["choices"]?.arrayValue?.first?["message"]?["content"]?.stringValue == "Hello from Vertex")
            #expect(response.json?["choices"]?.arrayValue?.first?["finish_reason"]?.stringValue == "stop")
            #expect(response.json?["usage"]?["prompt_tokens"]?.intValue == 5)
            #expect(response.json?["usage"]?["completion_tokens"]?.intValue == 3)

            let stream = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: authorized,
                body: chatBody(#","stream":true,"stream_options":{"include_usage":true}"#, model: "flash"))
            #expect(stream.status == .ok)
            let events = sseData(stream.text)
            #expect(events.last == "[DONE]")
            let chunks = events.dropLast().compactMap { try? JSONValue.parse($0) }
            let text = chunks.compactMap { $0["choices"]?.arrayValue?.first?["delta"]?["content"]?.stringValue }.joined()
            #expect(text == "Hello from Vertex")
            #expect(chunks.compactMap { $0["usage"]?["total_tokens"]?.intValue }.last == 8)

            let seen = google.snapshot
            #expect(seen.problems.isEmpty)
            #expect(seen.tokenRequests == 1, "the token is minted once and reused")
            #expect(
                seen.paths == [
                    "/v1/projects/p/locations/l/publishers/google/models/gemini-2.5-flash:generateContent",
                    "/v1/projects/p/locations/l/publishers/google/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
                ])
            #expect(seen.authorizations == ["Bearer ya29.vertex-token-1", "Bearer ya29.vertex-token-1"])
        }
    }

    @Test func concurrentRequestsShareOneTokenRefresh() async throws {
        try await withGateway(auth: Self.serviceAccount) { client, google in
            let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        try await client.execute(uri: "/v1/chat/completions", method: .post, headers: authorized, body: chatBody(model: "flash"))
                            .status
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.allSatisfy { $0 == .ok })
            #expect(google.snapshot.tokenRequests == 1)
            #expect(google.snapshot.vertexRequests == 8)
        }
    }

    @Test func aRejectedTokenIsRenewedOnce() async throws {
        let google = FakeGoogle()
        google.state.withLock { $0.rejectedTokens = ["ya29.vertex-token-1"] }
        try await withGateway(google, auth: Self.serviceAccount) { client, google in
            let response = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: authorized, body: chatBody(model: "flash"))
            #expect(response.status == .ok)
            #expect(response.json?["choices"]?.arrayValue?.first?["message"]?["content"]?.stringValue == "Hello from Vertex")
            let seen = google.snapshot
            #expect(seen.tokenRequests == 2)
            #expect(seen.authorizations == ["Bearer ya29.vertex-token-1", "Bearer ya29.vertex-token-2"])
        }
    }

    @Test func aFailingTokenEndpointIsAnUpstreamAuthenticationError() async throws {
        let google = FakeGoogle()
        google.state.withLock { $0.tokenStatus = 400 }
        try await withGateway(google, auth: Self.serviceAccount) { client, google in
            let response = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: authorized, body: chatBody(model: "flash"))
            #expect(response.status == .badGateway)
            #expect(response.json?["error"]?["code"]?.stringValue == "upstream_authentication_error")
            #expect(response.text.contains("invalid_grant"))
            #expect(!response.text.contains("PRIVATE KEY"))
            #expect(!response.text.contains("ya29."))
            #expect(!response.text.contains("Invalid JWT Signature"))
            #expect(google.snapshot.vertexRequests == 0)
        }
    }

    @Test func anAccessTokenGivenAsAPIKeyIsSentAsIs() async throws {
        try await withGateway(auth: { _ in "    api_key: ya29.given-by-gcloud" }) { client, google in
            let response = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: authorized, body: chatBody(model: "flash"))
            #expect(response.status == .ok)
            #expect(google.snapshot.tokenRequests == 0)
            #expect(google.snapshot.authorizations == ["Bearer ya29.given-by-gcloud"])
        }
    }

    func configErrors(_ provider: String) throws -> String {
        let yaml = """
            server:
              port: 0
              master_key: test-master-key
            providers:
            \(provider)
            models:
              - name: flash
                provider: vertex
                model: gemini-2.5-flash
            """
        do {
            _ = try makeGateway(yaml)
            Issue.record("the configuration must be rejected")
            return ""
        } catch let error as ConfigError {
            return error.description
        }
    }

    @Test func aMissingProjectIsAConfigurationError() throws {
        let text = try configErrors("  - name: vertex\n    type: vertex\n    options: {location: us-central1}\n    api_key: ya29.token")
        #expect(text.contains("switchyard.yaml:5:"))
        #expect(text.contains("provider 'vertex' of type vertex needs a project"))
        #expect(!text.contains("needs a location"))
    }

    @Test func aBadCredentialsFileIsAConfigurationError() throws {
        let invalid = try Self.credentialsFile(#"{"type":"authorized_user","private_key":"-----BEGIN PRIVATE KEY----- secret-material"}"#)
        let text = try configErrors("  - name: vertex\n    type: vertex\n    options: {project: p, location: l}\n    credentials_file: \(invalid)")
        #expect(text.contains("switchyard.yaml:8:"))
        #expect(text.contains("credentials_file '\(invalid)' is not a service-account JSON key"))
        #expect(!text.contains("secret-material"))
        let missing = try configErrors(
            "  - name: vertex\n    type: vertex\n    options: {project: p, location: l}\n    credentials_file: /nonexistent/key.json")
        #expect(missing.contains("cannot read credentials_file '/nonexistent/key.json'"))
    }
}

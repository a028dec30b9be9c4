import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SwitchyardCore
import SwitchyardProviders
import SwitchyardServer
import Synchronization
import Testing

/// A local stand-in for the cloud: AWS STS, EC2 instance metadata (IMDSv2), the ECS container
/// credentials endpoint, Bedrock's Converse endpoint (which checks every SigV4 signature against
/// the keys the fake issued), Google's OAuth2 token endpoint, the GCE metadata server and
/// Vertex's `generateContent` (which accepts only tokens the fake issued).
final class FakeCloud: Sendable {
    struct IssuedKey {
        var secret: String
        var sessionToken: String?
    }

    struct State {
        /// Access key id → its secret and session token; seeded with the static keys tests use.
        var keys: [String: IssuedKey] = [
            "AKIDENV": IssuedKey(secret: "env-secret-value", sessionToken: "env-session-token"),
            "AKIDWORK": IssuedKey(secret: "work-profile-secret", sessionToken: nil),
        ]
        /// Lifetime of the temporary credentials and tokens the fake issues, in seconds.
        var lifetime = 3600
        var issued = 0
        var stsCalls = 0
        var imdsTokenCalls = 0
        var imdsCredentialCalls = 0
        var containerCalls = 0
        var googleTokenCalls = 0
        var metadataCalls = 0
        /// Access key ids that signed Bedrock calls correctly, in order.
        var signedBy: [String] = []
        var googleTokens: Set<String> = []
        /// Bearer tokens Vertex calls carried, in order.
        var bearers: [String] = []
        var problems: [String] = []
        /// Access key ids Bedrock refuses as expired (though their stated expiry is ahead, as
        /// when a session is revoked), with `expireAll` every one; how it says so.
        var expired: Set<String> = []
        var expireAll = false
        var refusal = Refusal.expiredToken
        /// Key ids of the requests refused that way, in order.
        var refused: [String] = []
    }

    /// Bedrock's 403 answers for credentials it no longer takes.
    enum Refusal {
        case expiredToken, unrecognizedClientExpired, accessDenied

        var response: Response {
            let (type, body): (String, String) =
                switch self {
                case .expiredToken:
                    (
                        "ExpiredTokenException:http://internal.amazon.com/coral/com.amazon.coral.service/",
                        #"{"message":"The security token included in the request is expired"}"#
                    )
                case .unrecognizedClientExpired:
                    (
                        "UnrecognizedClientException:http://internal.amazon.com/coral/com.amazon.coral.service/",
                        #"{"__type":"com.amazon.coral.service#UnrecognizedClientException","message":"The security token included in the request is expired"}"#
                    )
                case .accessDenied:
                    (
                        "AccessDeniedException:http://internal.amazon.com/coral/com.amazon.coral.service/",
                        #"{"message":"User is not authorized to perform: bedrock:InvokeModel"}"#
                    )
                }
            return Response(
                status: .forbidden, headers: [.contentType: "application/json", HTTPField.Name("x-amzn-ErrorType")!: type],
                body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
        }
    }

    let state = Mutex(State())
    var snapshot: State { state.withLock { $0 } }

    static let webIdentityToken = "eyJhbGciOiJSUzI1NiJ9.web-identity.signature"
    static let roleARN = "arn:aws:iam::123456789012:role/switchyard"
    static let containerAuthorization = "container-auth-token"

    func problem(_ text: String) { state.withLock { $0.problems.append(text) } }

    /// Issues temporary AWS credentials from `source`; returns id, secret, token and expiry.
    func issueKey(_ source: String) -> (id: String, secret: String, token: String, expiration: String) {
        state.withLock { state in
            state.issued += 1
            let id = "ASIA\(source.uppercased())\(state.issued)"
            let key = IssuedKey(secret: "\(source)-secret-\(state.issued)", sessionToken: "\(source)-session-\(state.issued)")
            state.keys[id] = key
            let expiration = Date().addingTimeInterval(TimeInterval(state.lifetime))
            return (id, key.secret, key.sessionToken ?? "", ISO8601DateFormatter().string(from: expiration))
        }
    }

    func issueGoogleToken(_ source: String) -> (token: String, lifetime: Int) {
        state.withLock { state in
            state.issued += 1
            let token = "ya29.\(source)-\(state.issued)"
            state.googleTokens.insert(token)
            return (token, state.lifetime)
        }
    }

    static func json(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    static func form(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map {
                String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
            }
            if parts.count == 2 { fields[parts[0]] = parts[1] }
        }
        return fields
    }

    /// Checks a SigV4-signed request against the issued keys; returns the key id, or nil.
    func verifySignature(_ request: Request, body: [UInt8]) -> String? {
        let authorization = request.headers[.authorization] ?? ""
        guard authorization.hasPrefix("AWS4-HMAC-SHA256 Credential=") else { return nil }
        var parts: [String: String] = [:]
        for item in authorization.dropFirst("AWS4-HMAC-SHA256 ".count).split(separator: ",") {
            let pair = item.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1).map(String.init)
            if pair.count == 2 { parts[pair[0]] = pair[1] }
        }
        let scope = (parts["Credential"] ?? "").split(separator: "/").map(String.init)
        guard scope.count == 5, scope[2] == "us-west-2", scope[3] == "bedrock", let signedHeaders = parts["SignedHeaders"],
            let key = state.withLock({ $0.keys[scope[0]] })
        else { return nil }
        if request.headers[HTTPField.Name("x-amz-security-token")!] != key.sessionToken { return nil }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        guard let date = formatter.date(from: request.headers[HTTPField.Name("x-amz-date")!] ?? "") else { return nil }
        let headers: [(String, String)] = signedHeaders.split(separator: ";").map { name in
            let name = String(name)
            return (name, name == "host" ? request.head.authority ?? "" : request.headers[HTTPField.Name(name)!] ?? "")
        }
        let signer = SigV4Signer(
            credentials: AWSCredentials(
                accessKeyID: scope[0], secretAccessKey: Secret(key.secret, source: "test"),
                sessionToken: key.sessionToken.map { Secret($0, source: "test") }),
            region: "us-west-2", service: "bedrock")
        let expected = signer.sign(method: "POST", path: request.uri.path, headers: headers, payload: body, date: date)
        return expected.signature == parts["Signature"] ? scope[0] : nil
    }

    func makeServer(onRunning: @escaping @Sendable (Int) async -> Void) -> some ApplicationProtocol {
        let router = Router()
        let cloud = self
        // AWS STS (query protocol, XML answers).
        router.post("/sts/") { request, _ in
            let fields = Self.form(String(buffer: try await request.body.collect(upTo: 1 << 20)))
            cloud.state.withLock { $0.stsCalls += 1 }
            guard fields["Action"] == "AssumeRoleWithWebIdentity", fields["Version"] == "2011-06-15", fields["RoleArn"] == Self.roleARN,
                fields["WebIdentityToken"] == Self.webIdentityToken, !(fields["RoleSessionName"] ?? "").isEmpty
            else {
                cloud.problem("sts request \(fields.keys.sorted())")
                return Response(
                    status: .badRequest, headers: [.contentType: "text/xml"],
                    body: ResponseBody(
                        byteBuffer: ByteBuffer(string: "<ErrorResponse><Error><Code>InvalidIdentityToken</Code></Error></ErrorResponse>")))
            }
            let key = cloud.issueKey("sts")
            let xml = """
                <AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
                  <AssumeRoleWithWebIdentityResult>
                    <Credentials>
                      <AccessKeyId>\(key.id)</AccessKeyId>
                      <SecretAccessKey>\(key.secret)</SecretAccessKey>
                      <SessionToken>\(key.token)</SessionToken>
                      <Expiration>\(key.expiration)</Expiration>
                    </Credentials>
                  </AssumeRoleWithWebIdentityResult>
                </AssumeRoleWithWebIdentityResponse>
                """
            return Response(status: .ok, headers: [.contentType: "text/xml"], body: ResponseBody(byteBuffer: ByteBuffer(string: xml)))
        }
        // EC2 instance metadata, IMDSv2 only: a session token first.
        router.put("/latest/api/token") { request, _ in
            cloud.state.withLock { $0.imdsTokenCalls += 1 }
            guard request.headers[HTTPField.Name("x-aws-ec2-metadata-token-ttl-seconds")!] != nil else {
                return Response(status: .badRequest)
            }
            return Response(status: .ok, body: ResponseBody(byteBuffer: ByteBuffer(string: "imds-session-token")))
        }
        router.get("/latest/meta-data/iam/security-credentials/") { request, _ in
            guard request.headers[HTTPField.Name("x-aws-ec2-metadata-token")!] == "imds-session-token" else { return Response(status: .unauthorized) }
            return Response(status: .ok, body: ResponseBody(byteBuffer: ByteBuffer(string: "gateway-role\n")))
        }
        router.get("/latest/meta-data/iam/security-credentials/gateway-role") { request, _ in
            guard request.headers[HTTPField.Name("x-aws-ec2-metadata-token")!] == "imds-session-token" else { return Response(status: .unauthorized) }
            cloud.state.withLock { $0.imdsCredentialCalls += 1 }
            let key = cloud.issueKey("imds")
            return Self.json(
                #"{"Code":"Success","Type":"AWS-HMAC","AccessKeyId":"\#(key.id)","SecretAccessKey":"\#(key.secret)","Token":"\#(key.token)","Expiration":"\#(key.expiration)"}"#
            )
        }
        // ECS / EKS Pod Identity container credentials.
        router.get("/ecs/credentials") { request, _ in
            cloud.state.withLock { $0.containerCalls += 1 }
            guard request.headers[.authorization] == Self.containerAuthorization else { return Response(status: .forbidden) }
            let key = cloud.issueKey("ecs")
            return Self.json(
                #"{"AccessKeyId":"\#(key.id)","SecretAccessKey":"\#(key.secret)","Token":"\#(key.token)","Expiration":"\#(key.expiration)","RoleArn":"\#(Self.roleARN)"}"#
            )
        }
        // Bedrock Converse: only correctly signed requests are answered.
        router.post("/model/:model/converse") { request, _ in
            let body = Array(buffer: try await request.body.collect(upTo: 1 << 20))
            guard let key = cloud.verifySignature(request, body: body) else {
                cloud.problem("bad signature")
                return Self.json(#"{"message":"The request signature we calculated does not match the signature you provided."}"#, status: .forbidden)
            }
            let refusal = cloud.state.withLock { state -> Refusal? in
                guard state.expireAll || state.expired.contains(key) else { return nil }
                state.refused.append(key)
                return state.refusal
            }
            if let refusal { return refusal.response }
            cloud.state.withLock { $0.signedBy.append(key) }
            return Self.json(
                #"{"output":{"message":{"role":"assistant","content":[{"text":"signed by \#(key)"}]}},"stopReason":"end_turn","usage":{"inputTokens":3,"outputTokens":3,"totalTokens":6}}"#
            )
        }
        // Google's OAuth2 token endpoint: the refresh-token grant (authorized_user) and the
        // service account's JWT-bearer grant.
        router.post("/token") { request, _ in
            let text = String(buffer: try await request.body.collect(upTo: 1 << 20))
            let fields = Self.form(text)
            cloud.state.withLock { $0.googleTokenCalls += 1 }
            if fields["grant_type"] == "refresh_token" {
                guard fields["client_id"] == "user-client-id", fields["client_secret"] == "user-client-secret",
                    fields["refresh_token"] == "user-refresh-token"
                else {
                    cloud.problem("refresh grant \(fields.keys.sorted())")
                    return Self.json(#"{"error":"invalid_grant"}"#, status: .badRequest)
                }
            } else if let problem = VertexProviderTests.checkAssertion(form: text, tokenURL: "http://\(request.head.authority ?? "")/token") {
                cloud.problem("jwt \(problem)")
                return Self.json(#"{"error":"invalid_grant"}"#, status: .badRequest)
            }
            let (token, lifetime) = cloud.issueGoogleToken(fields["grant_type"] == "refresh_token" ? "user" : "sa")
            return Self.json(#"{"access_token":"\#(token)","expires_in":\#(lifetime),"token_type":"Bearer"}"#)
        }
        // The GCE metadata server.
        router.get("/computeMetadata/v1/instance/service-accounts/default/token") { request, _ in
            cloud.state.withLock { $0.metadataCalls += 1 }
            guard request.headers[HTTPField.Name("metadata-flavor")!] == "Google" else { return Response(status: .forbidden) }
            let (token, lifetime) = cloud.issueGoogleToken("gce")
            return Self.json(#"{"access_token":"\#(token)","expires_in":\#(lifetime),"token_type":"Bearer"}"#)
        }
        // Vertex generateContent: only tokens this fake issued.
        router.post("/v1/projects/:project/locations/:location/publishers/google/models/:action") { request, _ in
            let bearer = String((request.headers[.authorization] ?? "").dropFirst("Bearer ".count))
            let known = cloud.state.withLock { state -> Bool in
                state.bearers.append(bearer)
                return state.googleTokens.contains(bearer)
            }
            guard known else {
                return Self.json(#"{"error":{"code":401,"message":"invalid credentials","status":"UNAUTHENTICATED"}}"#, status: .unauthorized)
            }
            return Self.json(
                #"{"candidates":[{"content":{"role":"model","parts":[{"text":"authorized"}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":1,"totalTokenCount":6}}"#
            )
        }
        return Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: nil),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) },
            logger: quietLogger
        )
    }

    /// Runs the fake for the duration of `body`, which gets its port.
    func run(_ body: @escaping @Sendable (Int) async throws -> Void) async throws {
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let server = makeServer { port in continuation.yield(port) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.runService(gracefulShutdownSignals: []) }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { throw CancellationError() }
            defer { group.cancelAll() }
            try await body(port)
        }
    }
}

/// A fresh empty directory (a HOME without cloud files, a place for token and profile files).
func emptyDirectory() throws -> String {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cloud-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    return directory.path
}

/// A suite whose gateway has one provider served by a ``FakeCloud``, without credentials in
/// its file.
protocol CloudGatewaySuite {
    /// The provider's YAML list entry, given the fake's port.
    static func provider(port: Int) -> String
    /// The public model name, served by that provider.
    static var model: String { get }
    static var upstreamModel: String { get }
    /// The environment every test starts from.
    static func baseEnvironment(port: Int) -> [String: String]
}

extension CloudGatewaySuite {
    /// Runs `test` against the gateway. The environment is the suite's base plus what
    /// `environment` adds, never the process's: HOME is an empty directory, so the machine's own
    /// cloud setup never leaks in.
    func withGateway(
        _ cloud: FakeCloud = FakeCloud(),
        environment: @escaping @Sendable (_ port: Int) throws -> [String: String],
        _ test: @escaping @Sendable (any TestClientProtocol, FakeCloud) async throws -> Void
    ) async throws {
        try await cloud.run { port in
            let yaml = """
                server:
                  port: 0
                  master_key: test-master-key
                  reload_check_interval: off
                providers:
                \(Self.provider(port: port))
                models:
                  - {name: \(Self.model), provider: cloud, model: \(Self.upstreamModel)}
                """
            var env = Self.baseEnvironment(port: port)
            env["HOME"] = try emptyDirectory()
            env.merge(try environment(port)) { _, new in new }
            let (application, _) = try makeGateway(yaml, environment: env)
            try await application.makeApplication().test(.live) { client in try await test(client, cloud) }
        }
    }

    func chat(_ client: any TestClientProtocol) async throws -> TestResponse {
        try await client.execute(uri: "/v1/chat/completions", method: .post, headers: authorized, body: chatBody(model: Self.model))
    }
}

/// Bedrock without static keys: SigV4 credentials from each source of the AWS default chain,
/// checked by a fake Bedrock that verifies the signature with the key that source issued.
@Suite struct AWSCredentialChainTests: CloudGatewaySuite {
    static func provider(port: Int) -> String {
        "  - {name: cloud, type: bedrock, base_url: \"http://127.0.0.1:\(port)\", options: {region: us-west-2}}"
    }
    static let model = "claude"
    static let upstreamModel = "test.model-v1"
    /// Instance metadata is off unless a test's environment turns it on.
    static func baseEnvironment(port: Int) -> [String: String] { ["AWS_EC2_METADATA_DISABLED": "true"] }

    @Test func environmentKeysSignWithTheirSessionToken() async throws {
        try await withGateway(environment: { _ in
            ["AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "env-secret-value", "AWS_SESSION_TOKEN": "env-session-token"]
        }) { client, cloud in
            let response = try await chat(client)
            #expect(response.status == .ok, "\(response.text)")
            #expect(response.json?["choices"]?.arrayValue?.first?["message"]?["content"]?.stringValue == "signed by AKIDENV")
            #expect(cloud.snapshot.signedBy == ["AKIDENV"])
        }
    }

    @Test func theFakeRefusesASignatureMadeWithAnotherSecret() async throws {
        // The same key id with another secret: Bedrock (the fake) must refuse it, so the tests
        // above show that each source's own secret signed their requests.
        try await withGateway(environment: { _ in
            ["AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "not-the-secret", "AWS_SESSION_TOKEN": "env-session-token"]
        }) { client, cloud in
            let response = try await chat(client)
            #expect(response.status != .ok)
            #expect(cloud.snapshot.signedBy.isEmpty)
            #expect(cloud.snapshot.problems.contains("bad signature"))
            #expect(!response.text.contains("not-the-secret"))
        }
    }

    @Test func aNamedProfileOfTheSharedFilesSigns() async throws {
        try await withGateway(environment: { _ in
            let directory = try emptyDirectory()
            let credentials = directory + "/credentials"
            let config = directory + "/config"
            try """
            [default]
            aws_access_key_id = AKIDDEFAULT
            aws_secret_access_key = default-secret

            # the profile the gateway runs as
            [work]
            aws_access_key_id = AKIDWORK
            aws_secret_access_key = work-profile-secret
            """.write(toFile: credentials, atomically: true, encoding: .utf8)
            try "[profile work]\nregion = us-west-2\n".write(toFile: config, atomically: true, encoding: .utf8)
            return ["AWS_PROFILE": "work", "AWS_SHARED_CREDENTIALS_FILE": credentials, "AWS_CONFIG_FILE": config]
        }) { client, cloud in
            let response = try await chat(client)
            #expect(response.status == .ok, "\(response.text)")
            #expect(cloud.snapshot.signedBy == ["AKIDWORK"])
        }
    }

    @Test func aConfigProfileWithAWebIdentityRoleAssumesIt() async throws {
        try await withGateway(environment: { port in
            let directory = try emptyDirectory()
            try FakeCloud.webIdentityToken.write(toFile: directory + "/token", atomically: true, encoding: .utf8)
            let config = """
                [profile ci]
                role_arn = \(FakeCloud.roleARN)
                web_identity_token_file = \(directory)/token

                [profile tools]
                credential_process = /usr/local/bin/fetch-keys
                """
            try config.write(toFile: directory + "/config", atomically: true, encoding: .utf8)
            return ["AWS_PROFILE": "ci", "AWS_CONFIG_FILE": directory + "/config", "AWS_ENDPOINT_URL_STS": "http://127.0.0.1:\(port)/sts"]
        }) { client, cloud in
            let response = try await chat(client)
            #expect(response.status == .ok, "\(response.text)")
            #expect(cloud.snapshot.stsCalls == 1)
            #expect(cloud.snapshot.signedBy == ["ASIASTS1"])
        }
    }

    @Test func aProfileThatRunsAProcessIsRefusedClearly() async throws {
        try await withGateway(environment: { _ in
            let config = try emptyDirectory() + "/config"
            try "[profile tools]\ncredential_process = /usr/local/bin/fetch-keys\n".write(toFile: config, atomically: true, encoding: .utf8)
            return ["AWS_PROFILE": "tools", "AWS_CONFIG_FILE": config]
        }) { client, _ in
            let response = try await chat(client)
            #expect(response.status == .badGateway)
            #expect(response.text.contains("profile 'tools' uses role chaining, credential_process or SSO"))
        }
    }

    @Test func aMissingNamedProfileIsAClearError() async throws {
        try await withGateway(environment: { _ in ["AWS_PROFILE": "absent"] }) { client, cloud in
            let response = try await chat(client)
            #expect(response.status == .badGateway)
            #expect(response.json?["error"]?["code"]?.stringValue == "upstream_authentication_error")
            #expect(response.text.contains("profile 'absent' is in neither"))
            #expect(cloud.snapshot.signedBy.isEmpty)
        }
    }

    @Test func webIdentityAssumesTheRoleThroughSTS() async throws {
        try await withGateway(environment: { port in
            let tokenFile = try emptyDirectory() + "/token"
            try FakeCloud.webIdentityToken.write(toFile: tokenFile, atomically: true, encoding: .utf8)
            return [
                "AWS_WEB_IDENTITY_TOKEN_FILE": tokenFile, "AWS_ROLE_ARN": FakeCloud.roleARN,
                "AWS_ENDPOINT_URL_STS": "http://127.0.0.1:\(port)/sts",
            ]
        }) { client, cloud in
            for _ in 0..<2 {
                let response = try await chat(client)
                #expect(response.status == .ok, "\(response.text)")
            }
            let state = cloud.snapshot
            #expect(state.problems.isEmpty, "\(state.problems)")
            // One role session serves both requests: its credentials are cached.
            #expect(state.stsCalls == 1)
            #expect(state.signedBy == ["ASIASTS1", "ASIASTS1"])
        }
    }

    @Test func containerCredentialsCarryTheAuthorizationToken() async throws {
        try await withGateway(environment: { port in
            [
                "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:\(port)/ecs/credentials",
                "AWS_CONTAINER_AUTHORIZATION_TOKEN": FakeCloud.containerAuthorization,
            ]
        }) { client, cloud in
            let response = try await chat(client)
            #expect(response.status == .ok, "\(response.text)")
            #expect(cloud.snapshot.signedBy == ["ASIAECS1"])
            #expect(cloud.snapshot.containerCalls == 1)
        }
    }

    @Test func instanceMetadataCredentialsAreSharedByConcurrentRequests() async throws {
        try await withGateway(environment: { port in
            ["AWS_EC2_METADATA_DISABLED": "false", "AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:\(port)/"]
        }) { client, cloud in
            try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for _ in 0..<6 { group.addTask { try await chat(client).status } }
                for try await status in group { #expect(status == .ok) }
            }
            let state = cloud.snapshot
            #expect(state.imdsTokenCalls == 1)
            #expect(state.imdsCredentialCalls == 1)
            #expect(state.signedBy == Array(repeating: "ASIAIMDS1", count: 6))
        }
    }

    @Test func credentialsAreRenewedBeforeTheyExpire() async throws {
        let cloud = FakeCloud()
        // Four minutes left is inside the five-minute margin: every use renews them first.
        cloud.state.withLock { $0.lifetime = 240 }
        try await withGateway(
            cloud,
            environment: { port in
                ["AWS_EC2_METADATA_DISABLED": "false", "AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:\(port)"]
            }
        ) { client, cloud in
            for _ in 0..<2 {
                let status = try await chat(client).status
                #expect(status == .ok)
            }
            #expect(cloud.snapshot.imdsCredentialCalls == 2)
            #expect(cloud.snapshot.signedBy == ["ASIAIMDS1", "ASIAIMDS2"])
        }
    }

    static func instanceMetadata(port: Int) -> [String: String] {
        ["AWS_EC2_METADATA_DISABLED": "false", "AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:\(port)"]
    }

    @Test(arguments: [FakeCloud.Refusal.expiredToken, .unrecognizedClientExpired])
    func credentialsRefusedAsExpiredAreRenewedAndTheRequestMadeOnceMore(_ refusal: FakeCloud.Refusal) async throws {
        let cloud = FakeCloud()
        cloud.state.withLock { state in state.refusal = refusal }
        try await withGateway(cloud, environment: { port in Self.instanceMetadata(port: port) }) { client, cloud in
            let first = try await chat(client).status
            #expect(first == .ok)
            // Revoked with most of its hour left: Bedrock now says the token has expired.
            cloud.state.withLock { state in _ = state.expired.insert("ASIAIMDS1") }
            let response = try await chat(client)
            #expect(response.status == .ok, "\(response.text)")
            #expect(response.json?["choices"]?.arrayValue?.first?["message"]?["content"]?.stringValue == "signed by ASIAIMDS2")
            #expect(cloud.snapshot.refused == ["ASIAIMDS1"])
            #expect(cloud.snapshot.signedBy == ["ASIAIMDS1", "ASIAIMDS2"])
            #expect(cloud.snapshot.imdsCredentialCalls == 2)
            // The renewed credentials are cached for the next request.
            let third = try await chat(client).status
            #expect(third == .ok)
            #expect(cloud.snapshot.imdsCredentialCalls == 2)
            #expect(cloud.snapshot.signedBy == ["ASIAIMDS1", "ASIAIMDS2", "ASIAIMDS2"])
        }
    }

    @Test func anExpiredRefusalIsRetriedOnlyOnceAndOtherRefusalsNever() async throws {
        // Every key refused as expired: one renewal and one more try, then the refusal stands.
        let cloud = FakeCloud()
        cloud.state.withLock { $0.expireAll = true }
        try await withGateway(cloud, environment: { port in Self.instanceMetadata(port: port) }) { client, cloud in
            let response = try await chat(client)
            #expect(response.status != .ok)
            #expect(cloud.snapshot.refused == ["ASIAIMDS1", "ASIAIMDS2"])
            #expect(cloud.snapshot.imdsCredentialCalls == 2)
            #expect(!response.text.contains("imds-secret") && !response.text.contains("imds-session"))
        }
        // Not an expiry (access denied): no renewal, no second try.
        let denied = FakeCloud()
        denied.state.withLock {
            $0.expireAll = true; $0.refusal = .accessDenied
        }
        try await withGateway(denied, environment: { port in Self.instanceMetadata(port: port) }) { client, cloud in
            let status = try await chat(client).status
            #expect(status != .ok)
            #expect(cloud.snapshot.refused == ["ASIAIMDS1"])
            #expect(cloud.snapshot.imdsCredentialCalls == 1)
        }
    }

    @Test func longTermKeysRefusedAsExpiredAreNotRetried() async throws {
        // Keys from the environment have no session to renew: the chain would give them back.
        let cloud = FakeCloud()
        cloud.state.withLock { $0.expireAll = true }
        try await withGateway(
            cloud,
            environment: { _ in
                ["AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "env-secret-value", "AWS_SESSION_TOKEN": "env-session-token"]
            }
        ) { client, cloud in
            let status = try await chat(client).status
            #expect(status != .ok)
            #expect(cloud.snapshot.refused == ["AKIDENV"])
        }
    }

    @Test func noSourceWithCredentialsIsAClearError() async throws {
        try await withGateway(environment: { _ in [:] }) { client, cloud in
            let response = try await chat(client)
            #expect(response.status == .badGateway)
            #expect(response.json?["error"]?["code"]?.stringValue == "upstream_authentication_error")
            #expect(response.text.contains("Could not obtain AWS credentials for provider 'cloud'"))
            #expect(response.text.contains("no source of the AWS default credential chain has credentials"))
        }
    }

    @Test func aFailingSourceNamesItselfButNoSecret() async throws {
        try await withGateway(environment: { port in
            [
                "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:\(port)/ecs/credentials",
                "AWS_CONTAINER_AUTHORIZATION_TOKEN": "wrong-container-token",
            ]
        }) { client, cloud in
            let response = try await chat(client)
            #expect(response.status == .badGateway)
            #expect(response.text.contains("the container credentials endpoint answered 403"))
            #expect(!response.text.contains("wrong-container-token"))
        }
    }
}

/// Vertex without `credentials_file` or `api_key`: Google application default credentials.
@Suite struct GoogleDefaultCredentialTests: CloudGatewaySuite {
    static func provider(port: Int) -> String {
        "  - {name: cloud, type: vertex, base_url: \"http://127.0.0.1:\(port)\", token_url: \"http://127.0.0.1:\(port)/token\", options: {project: p, location: l}}"
    }
    static let model = "flash"
    static let upstreamModel = "gemini-2.5-flash"
    /// The metadata server is the fake unless a test's environment says otherwise.
    static func baseEnvironment(port: Int) -> [String: String] { ["GCE_METADATA_HOST": "127.0.0.1:\(port)"] }

    @Test func aServiceAccountNamedByTheEnvironment() async throws {
        try await withGateway(environment: { _ in ["GOOGLE_APPLICATION_CREDENTIALS": try VertexProviderTests.credentialsFile()] }) {
            client, cloud in
            let response = try await chat(client)
            #expect(response.status == .ok, "\(response.text)")
            let state = cloud.snapshot
            #expect(state.problems.isEmpty, "\(state.problems)")
            #expect(state.bearers == ["ya29.sa-1"])
            #expect(state.metadataCalls == 0)
        }
    }

    @Test func gcloudUserCredentialsUseTheRefreshToken() async throws {
        try await withGateway(environment: { _ in
            let home = try emptyDirectory()
            try FileManager.default.createDirectory(atPath: home + "/.config/gcloud", withIntermediateDirectories: true)
            try #"{"type":"authorized_user","client_id":"user-client-id","client_secret":"user-client-secret","refresh_token":"user-refresh-token"}"#
                .write(toFile: home + "/.config/gcloud/application_default_credentials.json", atomically: true, encoding: .utf8)
            return ["HOME": home]
        }) { client, cloud in
            for _ in 0..<2 {
                let status = try await chat(client).status
                #expect(status == .ok)
            }
            let state = cloud.snapshot
            #expect(state.problems.isEmpty, "\(state.problems)")
            #expect(state.googleTokenCalls == 1)
            #expect(state.bearers == ["ya29.user-1", "ya29.user-1"])
        }
    }

    @Test func theMetadataServerTokenIsRenewedBeforeItExpires() async throws {
        let cloud = FakeCloud()
        cloud.state.withLock { $0.lifetime = 200 }
        try await withGateway(cloud, environment: { _ in [:] }) { client, cloud in
            for _ in 0..<2 {
                let status = try await chat(client).status
                #expect(status == .ok)
            }
            let state = cloud.snapshot
            #expect(state.metadataCalls == 2)
            #expect(state.bearers == ["ya29.gce-1", "ya29.gce-2"])
        }
    }

    @Test func noCredentialsAnywhereIsAClearError() async throws {
        // Nothing listens on port 1: no file and no metadata server.
        try await withGateway(environment: { _ in ["GCE_METADATA_HOST": "127.0.0.1:1"] }) { client, cloud in
            let response = try await chat(client)
            #expect(response.status == .badGateway)
            #expect(response.json?["error"]?["code"]?.stringValue == "upstream_authentication_error")
            #expect(response.text.contains("no application default credentials were found"))
            #expect(response.text.contains("could not be reached"))
        }
    }

    @Test func anUnreadableCredentialsFileIsNamed() async throws {
        try await withGateway(environment: { _ in ["GOOGLE_APPLICATION_CREDENTIALS": "/nonexistent/adc.json"] }) { client, cloud in
            let response = try await chat(client)
            #expect(response.status == .badGateway)
            #expect(response.text.contains("GOOGLE_APPLICATION_CREDENTIALS (/nonexistent/adc.json) cannot be read"))
            #expect(cloud.snapshot.metadataCalls == 0)
        }
    }
}

import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SwitchyardCore

/// Where a Bedrock provider's SigV4 credentials come from: static keys from the file, or the AWS
/// default credential chain, walked in the SDKs' order:
/// 1. environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`);
/// 2. the shared credentials and config files, profile `AWS_PROFILE` (default `default`);
///    a profile with `role_arn` and `web_identity_token_file` assumes that role;
/// 3. web identity (`AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`, as on EKS) through STS
///    `AssumeRoleWithWebIdentity`;
/// 4. ECS/EKS container credentials (`AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` or `_FULL_URI`);
/// 5. EC2 instance metadata (IMDSv2), unless `AWS_EC2_METADATA_DISABLED=true`.
///
/// Temporary credentials are cached and renewed five minutes before they expire; concurrent
/// requests that find none valid share one refresh. Errors name the source and the endpoint's
/// status, never a key, token or session token.
public actor AWSCredentialSource {
    struct Cached {
        var credentials: AWSCredentials
        /// Nil for long-term keys.
        var expiration: Date?
    }

    /// How long before expiry temporary credentials are renewed.
    static let refreshMargin: TimeInterval = 300

    let provider: String
    let region: String
    let fixed: AWSCredentials?
    let environment: CredentialEnvironment
    let client: HTTPClient
    private var cached: Cached?
    private var refreshing: Task<Cached, any Error>?

    public init(provider: ProviderConfig, client: HTTPClient) {
        self.provider = provider.name
        self.region = provider.options["region"] ?? "us-east-1"
        self.client = client
        if let keyID = provider.awsAccessKeyID, let secret = provider.awsSecretAccessKey {
            self.fixed = AWSCredentials(accessKeyID: keyID.reveal(), secretAccessKey: secret, sessionToken: provider.awsSessionToken)
        } else {
            self.fixed = nil
        }
        self.environment = provider.credentialEnvironment ?? CredentialEnvironment()
    }

    /// Valid credentials, resolved through the chain when none are cached or they are about to expire.
    public func credentials() async throws -> AWSCredentials {
        if let fixed { return fixed }
        if let cached, cached.expiration.map({ Date() < $0.addingTimeInterval(-Self.refreshMargin) }) ?? true {
            return cached.credentials
        }
        if let refreshing { return try await refreshing.value.credentials }
        let task = Task { try await self.resolve() }
        refreshing = task
        defer { refreshing = nil }
        do {
            let resolved = try await task.value
            cached = resolved
            return resolved.credentials
        } catch {
            cached = nil
            throw error
        }
    }

    /// Credentials to replace `rejected`, which the service refused as expired (revoked before
    /// their stated expiry, or a skewed clock): the cached ones are dropped and the chain is
    /// walked again, unless another request has already replaced them. nil when there is
    /// nothing to renew: static keys from the file, or a chain that gives the same keys back.
    public func renew(after rejected: AWSCredentials) async throws -> AWSCredentials? {
        if fixed != nil { return nil }
        if let cached, !cached.credentials.isSame(as: rejected) { return cached.credentials }
        if refreshing == nil { cached = nil }
        let renewed = try await credentials()
        return renewed.isSame(as: rejected) ? nil : renewed
    }

    /// Walks the chain; the first source that is configured decides (as in the AWS SDKs, a
    /// configured source that fails is an error, not a reason to try the next one).
    func resolve() async throws -> Cached {
        if let keyID = environment["AWS_ACCESS_KEY_ID"], let secret = environment["AWS_SECRET_ACCESS_KEY"] {
            let token = environment["AWS_SESSION_TOKEN"].map { Secret($0, source: "env:AWS_SESSION_TOKEN") }
            return Cached(
                credentials: AWSCredentials(
                    accessKeyID: keyID, secretAccessKey: Secret(secret, source: "env:AWS_SECRET_ACCESS_KEY"), sessionToken: token),
                expiration: nil)
        }
        switch try sharedFileCredentials() {
        case .keys(let keys): return keys
        case .webIdentity(let role, let tokenFile, let sessionName):
            return try await assumeRoleWithWebIdentity(tokenFile: tokenFile, role: role, sessionName: sessionName)
        case nil: break
        }
        if let tokenFile = environment["AWS_WEB_IDENTITY_TOKEN_FILE"], let role = environment["AWS_ROLE_ARN"] {
            return try await assumeRoleWithWebIdentity(tokenFile: tokenFile, role: role, sessionName: environment["AWS_ROLE_SESSION_NAME"])
        }
        if environment["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"] != nil || environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"] != nil {
            return try await containerCredentials()
        }
        if environment["AWS_EC2_METADATA_DISABLED"]?.lowercased() != "true" {
            return try await instanceMetadataCredentials()
        }
        throw failure(
            "no source of the AWS default credential chain has credentials (environment, shared files, web identity, container; instance metadata is disabled)"
        )
    }

    func failure(_ detail: String) -> GatewayError {
        .upstreamUnavailable(
            "Could not obtain AWS credentials for provider '\(provider)': \(detail). The gateway operator must check its credentials.",
            code: .upstreamAuthenticationError)
    }

    // MARK: Shared files

    var home: String { environment["HOME"] ?? NSHomeDirectory() }

    /// What a shared-file profile gives.
    enum Profile {
        case keys(Cached)
        case webIdentity(role: String, tokenFile: String, sessionName: String?)
    }

    /// The profile's keys from the credentials file, else from the config file; nil when neither
    /// file has credentials for the profile. A profile named by `AWS_PROFILE` must exist.
    func sharedFileCredentials() throws -> Profile? {
        let profile = environment["AWS_PROFILE"] ?? "default"
        let credentialsFile = environment["AWS_SHARED_CREDENTIALS_FILE"] ?? home + "/.aws/credentials"
        let configFile = environment["AWS_CONFIG_FILE"] ?? home + "/.aws/config"
        let fromCredentials = AWSSharedFile.section(profile, in: credentialsFile, isConfigFile: false)
        let fromConfig = AWSSharedFile.section(profile, in: configFile, isConfigFile: true)
        if fromCredentials == nil, fromConfig == nil {
            if environment["AWS_PROFILE"] != nil {
                throw failure("profile '\(profile)' is in neither \(credentialsFile) nor \(configFile)")
            }
            return nil
        }
        for section in [fromCredentials, fromConfig].compactMap({ $0 }) {
            if let keyID = section["aws_access_key_id"], let secret = section["aws_secret_access_key"] {
                let token = section["aws_session_token"].map { Secret($0, source: "profile:\(profile)") }
                return .keys(
                    Cached(
                        credentials: AWSCredentials(
                            accessKeyID: keyID, secretAccessKey: Secret(secret, source: "profile:\(profile)"), sessionToken: token),
                        expiration: nil))
            }
        }
        let settings = (fromCredentials ?? [:]).merging(fromConfig ?? [:]) { first, _ in first }
        if let role = settings["role_arn"], let tokenFile = settings["web_identity_token_file"] {
            return .webIdentity(role: role, tokenFile: tokenFile, sessionName: settings["role_session_name"])
        }
        if settings["role_arn"] != nil || settings["credential_process"] != nil || settings["sso_session"] != nil
            || settings["sso_start_url"] != nil
        {
            throw failure(
                "profile '\(profile)' uses role chaining, credential_process or SSO, which the gateway does not support; give it keys or a web_identity_token_file, or use another source"
            )
        }
        // A profile with settings only (a region): the chain goes on, as the AWS SDKs' does.
        return nil
    }

    // MARK: Web identity (STS)

    func assumeRoleWithWebIdentity(tokenFile: String, role: String, sessionName: String?) async throws -> Cached {
        // EKS rotates the projected token: read it at every refresh.
        guard let data = FileManager.default.contents(atPath: tokenFile),
            case let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines), !token.isEmpty
        else {
            throw failure("the web identity token file \(tokenFile) cannot be read or is empty")
        }
        let endpoint = environment["AWS_ENDPOINT_URL_STS"] ?? environment["AWS_ENDPOINT_URL"] ?? "https://sts.\(region).amazonaws.com"
        let session = sessionName ?? "switchyard-\(Int(Date().timeIntervalSince1970))"
        let form = [
            ("Action", "AssumeRoleWithWebIdentity"), ("Version", "2011-06-15"), ("RoleArn", role), ("RoleSessionName", session),
            ("WebIdentityToken", token),
        ].map { $0.0 + "=" + $0.1.formEncoded() }.joined(separator: "&")
        var request = HTTPClientRequest(url: endpoint.hasSuffix("/") ? endpoint : endpoint + "/")
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "user-agent", value: "switchyard")
        request.body = .bytes(ByteBuffer(string: form))
        let (status, body) = try await fetch(request, source: "STS", timeout: .seconds(30))
        guard (200..<300).contains(status) else {
            let code = AWSXML.value(of: "Code", in: body).map { " (\($0.prefix(64)))" } ?? ""
            throw failure("STS AssumeRoleWithWebIdentity answered \(status)\(code)")
        }
        guard let keyID = AWSXML.value(of: "AccessKeyId", in: body), let secret = AWSXML.value(of: "SecretAccessKey", in: body),
            let sessionToken = AWSXML.value(of: "SessionToken", in: body),
            let expiration = AWSXML.value(of: "Expiration", in: body).flatMap(Self.parseDate)
        else {
            throw failure("STS AssumeRoleWithWebIdentity gave no credentials")
        }
        return Cached(
            credentials: AWSCredentials(
                accessKeyID: keyID, secretAccessKey: Secret(secret, source: "sts"), sessionToken: Secret(sessionToken, source: "sts")),
            expiration: expiration)
    }

    // MARK: Container (ECS, EKS Pod Identity)

    func containerCredentials() async throws -> Cached {
        let url: String
        if let relative = environment["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"] {
            url = "http://169.254.170.2" + (relative.hasPrefix("/") ? relative : "/" + relative)
        } else {
            url = environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"] ?? ""
            guard Self.isAllowedContainerURL(url) else {
                throw failure("AWS_CONTAINER_CREDENTIALS_FULL_URI must be https, or http to a loopback or the ECS/EKS link-local address")
            }
        }
        var request = HTTPClientRequest(url: url)
        if let token = environment["AWS_CONTAINER_AUTHORIZATION_TOKEN"] {
            request.headers.add(name: "authorization", value: token)
        } else if let file = environment["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw failure("the container authorization token file \(file) cannot be read")
            }
            request.headers.add(name: "authorization", value: String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let (status, body) = try await fetch(request, source: "the container credentials endpoint", timeout: .seconds(5))
        guard (200..<300).contains(status) else { throw failure("the container credentials endpoint answered \(status)") }
        return try jsonCredentials(body, source: "the container credentials endpoint")
    }

    static func isAllowedContainerURL(_ url: String) -> Bool {
        if url.hasPrefix("https://") { return true }
        guard url.hasPrefix("http://") else { return false }
        let host = url.dropFirst("http://".count).prefix { $0 != "/" && $0 != ":" && $0 != "]" }
        return host == "127.0.0.1" || host == "localhost" || host == "[::1" || host == "169.254.170.2" || host == "169.254.170.23"
            || host == "[fd00:ec2::23"
    }

    // MARK: Instance metadata (IMDSv2)

    func instanceMetadataCredentials() async throws -> Cached {
        var endpoint = environment["AWS_EC2_METADATA_SERVICE_ENDPOINT"] ?? "http://169.254.169.254"
        while endpoint.hasSuffix("/") { endpoint.removeLast() }
        var tokenRequest = HTTPClientRequest(url: endpoint + "/latest/api/token")
        tokenRequest.method = .PUT
        tokenRequest.headers.add(name: "x-aws-ec2-metadata-token-ttl-seconds", value: "21600")
        // Off EC2 nothing answers: a short timeout keeps the chain's end from stalling requests.
        let (tokenStatus, token) = try await fetch(
            tokenRequest,
            source:
                "no source of the AWS default credential chain has credentials: environment, shared files, web identity and container are not configured, and instance metadata",
            timeout: .seconds(2))
        guard (200..<300).contains(tokenStatus), !token.isEmpty else {
            throw failure("instance metadata answered \(tokenStatus) to the IMDSv2 token request")
        }
        let tokenText = String(decoding: token, as: UTF8.self)
        var roleRequest = HTTPClientRequest(url: endpoint + "/latest/meta-data/iam/security-credentials/")
        roleRequest.headers.add(name: "x-aws-ec2-metadata-token", value: tokenText)
        let (roleStatus, roles) = try await fetch(roleRequest, source: "instance metadata", timeout: .seconds(2))
        let role = String(decoding: roles, as: UTF8.self).split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        guard (200..<300).contains(roleStatus), !role.isEmpty else {
            throw failure("instance metadata has no IAM role (it answered \(roleStatus)); attach an instance profile")
        }
        var credentialsRequest = HTTPClientRequest(url: endpoint + "/latest/meta-data/iam/security-credentials/" + role.percentEncoded())
        credentialsRequest.headers.add(name: "x-aws-ec2-metadata-token", value: tokenText)
        let (status, body) = try await fetch(credentialsRequest, source: "instance metadata", timeout: .seconds(5))
        guard (200..<300).contains(status) else { throw failure("instance metadata answered \(status) for the role's credentials") }
        return try jsonCredentials(body, source: "instance metadata")
    }

    // MARK: Shared plumbing

    /// The JSON form that ECS and IMDS share: `AccessKeyId`, `SecretAccessKey`, `Token`, `Expiration`.
    func jsonCredentials(_ body: [UInt8], source: String) throws -> Cached {
        guard let json = try? JSONValue.parse(body), let keyID = json["AccessKeyId"]?.stringValue,
            let secret = json["SecretAccessKey"]?.stringValue, !keyID.isEmpty, !secret.isEmpty
        else {
            throw failure("\(source) gave no credentials")
        }
        if let code = json["Code"]?.stringValue, code != "Success" { throw failure("\(source) answered code \(code.prefix(64))") }
        return Cached(
            credentials: AWSCredentials(
                accessKeyID: keyID, secretAccessKey: Secret(secret, source: source),
                sessionToken: json["Token"]?.stringValue.map { Secret($0, source: source) }),
            expiration: json["Expiration"]?.stringValue.flatMap(Self.parseDate))
    }

    func fetch(_ request: HTTPClientRequest, source: String, timeout: TimeAmount) async throws -> (Int, [UInt8]) {
        do {
            let response = try await client.execute(request, timeout: timeout)
            let body = try await response.body.collect(upTo: 1024 * 1024)
            return (Int(response.status.code), Array(buffer: body))
        } catch {
            throw failure("\(source) could not be reached")
        }
    }

    /// ISO 8601 as AWS writes it (`2026-12-06T13:00:00Z`, with or without fractional seconds).
    static func parseDate(_ text: String) -> Date? {
        let plain = ISO8601DateFormatter()
        if let date = plain.date(from: text) { return date }
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return fractional.date(from: text)
    }
}

/// The AWS shared config and credentials files (INI): `[name]` sections in the credentials
/// file, `[profile name]` (or `[default]`) in the config file.
enum AWSSharedFile {
    static func section(_ profile: String, in path: String, isConfigFile: Bool) -> [String: String]? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let wanted = isConfigFile && profile != "default" ? "profile \(profile)" : profile
        var current: String?
        var found: [String: String]?
        for rawLine in String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                let name = line.dropFirst().dropLast().split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
                current = name
                if name == wanted, found == nil { found = [:] }
                continue
            }
            guard current == wanted, let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if found?[key] == nil { found?[key] = value }
        }
        return found
    }
}

/// The few values read from STS's XML answers (`<AccessKeyId>...</AccessKeyId>`).
enum AWSXML {
    static func value(of tag: String, in body: [UInt8]) -> String? {
        let text = String(decoding: body, as: UTF8.self)
        guard let open = text.range(of: "<\(tag)>"), let close = text.range(of: "</\(tag)>", range: open.upperBound..<text.endIndex) else {
            return nil
        }
        return String(text[open.upperBound..<close.lowerBound])
            .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&apos;", with: "'")
            .replacingOccurrences(of: "&amp;", with: "&")
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

extension AWSCredentials {
    /// The same key and session: renewed temporary credentials always carry a new session token.
    func isSame(as other: AWSCredentials) -> Bool {
        accessKeyID == other.accessKeyID && sessionToken?.reveal() == other.sessionToken?.reveal()
    }
}

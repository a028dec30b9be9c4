import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import SwitchyardCore
import _CryptoExtras

/// Where Vertex AI access tokens come from: a fixed token given as `api_key`, tokens minted
/// from a service-account key (`credentials_file`) through the OAuth2 JWT-bearer grant, or
/// Google application default credentials when neither is configured:
/// 1. the file `GOOGLE_APPLICATION_CREDENTIALS` names (a service-account key, or an
///    `authorized_user` file whose refresh token is exchanged at the token endpoint);
/// 2. gcloud's file (`gcloud auth application-default login`):
///    `$CLOUDSDK_CONFIG/application_default_credentials.json`, by default under `~/.config/gcloud`;
/// 3. the GCE metadata server (`GCE_METADATA_HOST`, default `metadata.google.internal`).
///
/// Minted tokens are cached until five minutes before they expire; concurrent requests that
/// find no valid token share one refresh. Failures surface as a 502
/// `upstream_authentication_error` whose message names the provider and the token endpoint's
/// status, never the key, the assertion, a refresh token or an access token.
public actor VertexTokenSource {
    struct Minted {
        var token: String
        var expires: ContinuousClock.Instant
    }

    /// One way to mint tokens.
    enum Credential {
        case serviceAccount(ServiceAccountKey, _RSA.Signing.PrivateKey)
        case authorizedUser(clientID: String, clientSecret: Secret, refreshToken: Secret)
        /// `searched`: the files looked for first, for the error when the server is not there either.
        case metadataServer(host: String, searched: String)
    }

    let provider: String
    let fixedToken: String?
    /// The configured service account; nil for a fixed token or application default credentials.
    let configured: Credential?
    /// Set when application default credentials are resolved at each refresh.
    let environment: CredentialEnvironment?
    let tokenURL: String
    let client: HTTPClient
    private var cached: Minted?
    private var refreshing: Task<Minted, any Error>?

    public init(provider: ProviderConfig, client: HTTPClient) throws {
        self.provider = provider.name
        self.tokenURL = provider.options["token_url"] ?? ProviderPresets.vertexTokenURL
        self.client = client
        self.environment = provider.credentialEnvironment
        if let account = provider.serviceAccount {
            self.configured = try Self.serviceAccount(account, provider: provider.name)
            self.fixedToken = nil
        } else {
            self.configured = nil
            self.fixedToken = provider.credentialEnvironment == nil ? provider.apiKey?.reveal() : nil
        }
    }

    static func serviceAccount(_ account: ServiceAccountKey, provider: String) throws -> Credential {
        do {
            return .serviceAccount(account, try _RSA.Signing.PrivateKey(pemRepresentation: account.privateKey.reveal()))
        } catch {
            throw GatewayError.upstreamAuthentication(provider: provider, detail: "its service-account private key could not be read")
        }
    }

    /// Whether tokens can be renewed (a fixed token cannot).
    nonisolated var canRefresh: Bool { fixedToken == nil }

    /// A valid access token, minting one when none is cached or `replacing` is the cached one.
    public func token(replacing rejected: String? = nil) async throws -> String {
        if let fixedToken { return fixedToken }
        if let cached, cached.token != rejected, ContinuousClock.now < cached.expires { return cached.token }
        if let refreshing { return try await refreshing.value.token }
        let task = Task { try await self.mint() }
        refreshing = task
        defer { refreshing = nil }
        do {
            let minted = try await task.value
            cached = minted
            return minted.token
        } catch {
            cached = nil
            throw error
        }
    }

    func mint() async throws -> Minted {
        let credential: Credential
        if let configured {
            credential = configured
        } else if let environment {
            credential = try applicationDefault(environment)
        } else {
            throw GatewayError.upstreamAuthentication(provider: provider, detail: "it has no credentials")
        }
        var request: HTTPClientRequest
        let endpoint: String
        switch credential {
        case .serviceAccount(let account, let signingKey):
            let assertion = try ServiceAccountJWT.assertion(
                account: account, key: signingKey, audience: tokenURL, issuedAt: Int(Date().timeIntervalSince1970))
            request = Self.formPost(
                tokenURL, ["grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion])
            endpoint = "its token endpoint"
        case .authorizedUser(let clientID, let clientSecret, let refreshToken):
            request = Self.formPost(
                tokenURL,
                [
                    "grant_type": "refresh_token", "client_id": clientID, "client_secret": clientSecret.reveal(),
                    "refresh_token": refreshToken.reveal(),
                ])
            endpoint = "its token endpoint"
        case .metadataServer(let host, let searched):
            request = HTTPClientRequest(url: "http://\(host)/computeMetadata/v1/instance/service-accounts/default/token")
            request.headers.add(name: "metadata-flavor", value: "Google")
            endpoint = "no application default credentials were found (\(searched)), and the GCE metadata server at \(host)"
        }
        request.headers.add(name: "user-agent", value: "switchyard")
        let started = ContinuousClock.now
        let status: Int
        let body: ByteBuffer
        do {
            let response = try await client.execute(request, timeout: .seconds(30))
            status = Int(response.status.code)
            body = try await response.body.collect(upTo: 1024 * 1024)
        } catch {
            throw GatewayError.upstreamAuthentication(provider: provider, detail: "\(endpoint) could not be reached")
        }
        guard (200..<300).contains(status) else {
            // The OAuth error code (`invalid_grant`, ...) helps the operator; descriptions may echo input.
            let code = (try? JSONValue.parse(Array(buffer: body)))?["error"]?.stringValue.map { " (\($0.prefix(64)))" } ?? ""
            throw GatewayError.upstreamAuthentication(provider: provider, detail: "\(endpoint) answered \(status)\(code)")
        }
        guard let json = try? JSONValue.parse(Array(buffer: body)), let token = json["access_token"]?.stringValue, !token.isEmpty else {
            throw GatewayError.upstreamAuthentication(provider: provider, detail: "\(endpoint) gave no access_token")
        }
        let lifetime = json["expires_in"]?.intValue ?? 3600
        return Minted(token: token, expires: started + .seconds(max(lifetime - 300, 0)))
    }

    static func formPost(_ url: String, _ fields: KeyValuePairs<String, String>) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/x-www-form-urlencoded")
        request.body = .bytes(ByteBuffer(string: fields.map { $0.key + "=" + $0.value.formEncoded() }.joined(separator: "&")))
        return request
    }

    /// Finds application default credentials, in Google's order. Files are read at every
    /// refresh, so a rotated key or a new `gcloud auth application-default login` is picked up.
    func applicationDefault(_ environment: CredentialEnvironment) throws -> Credential {
        if let file = environment["GOOGLE_APPLICATION_CREDENTIALS"] {
            return try credentialFile(file, variable: "GOOGLE_APPLICATION_CREDENTIALS")
        }
        let gcloudDirectory = environment["CLOUDSDK_CONFIG"] ?? (environment["HOME"] ?? NSHomeDirectory()) + "/.config/gcloud"
        let gcloudFile = gcloudDirectory + "/application_default_credentials.json"
        if FileManager.default.fileExists(atPath: gcloudFile) {
            return try credentialFile(gcloudFile, variable: nil)
        }
        return .metadataServer(
            host: environment["GCE_METADATA_HOST"] ?? "metadata.google.internal",
            searched: "GOOGLE_APPLICATION_CREDENTIALS is unset and \(gcloudFile) does not exist")
    }

    /// A service-account key or an `authorized_user` file; errors name the file, never its contents.
    func credentialFile(_ file: String, variable: String?) throws -> Credential {
        let named = variable.map { "\($0) (\(file))" } ?? file
        guard let data = FileManager.default.contents(atPath: file) else {
            throw GatewayError.upstreamAuthentication(provider: provider, detail: "the credentials file \(named) cannot be read")
        }
        guard let json = try? JSONValue.parse(Array(data)) else {
            throw GatewayError.upstreamAuthentication(provider: provider, detail: "the credentials file \(named) is not JSON")
        }
        if let account = ServiceAccountKey(json: json, source: "file:\(file)") {
            return try Self.serviceAccount(account, provider: provider)
        }
        if json["type"]?.stringValue == "authorized_user", let clientID = json["client_id"]?.stringValue,
            let clientSecret = json["client_secret"]?.stringValue, let refreshToken = json["refresh_token"]?.stringValue,
            !clientID.isEmpty, !refreshToken.isEmpty
        {
            return .authorizedUser(
                clientID: clientID, clientSecret: Secret(clientSecret, source: "file:\(file)"),
                refreshToken: Secret(refreshToken, source: "file:\(file)"))
        }
        throw GatewayError.upstreamAuthentication(
            provider: provider,
            detail: "the credentials file \(named) is neither a service-account key nor an authorized_user file with a refresh_token")
    }
}

/// The RS256-signed JWT a service account presents to Google's token endpoint.
enum ServiceAccountJWT {
    static let scope = "https://www.googleapis.com/auth/cloud-platform"

    static func assertion(account: ServiceAccountKey, key: _RSA.Signing.PrivateKey, audience: String, issuedAt: Int) throws -> String {
        var header: JSONObject = ["alg": "RS256", "typ": "JWT"]
        if !account.privateKeyID.isEmpty { header["kid"] = .string(account.privateKeyID) }
        let claims: JSONObject = [
            "iss": .string(account.clientEmail),
            "scope": .string(scope),
            "aud": .string(audience),
            "iat": JSONValue(issuedAt),
            "exp": JSONValue(issuedAt + 3600),
        ]
        let signingInput =
            JSONValue.object(header).serializedBytes().base64URLEncoded() + "." + JSONValue.object(claims).serializedBytes().base64URLEncoded()
        let signature: _RSA.Signing.RSASignature
        do {
            signature = try key.signature(for: Array(signingInput.utf8), padding: .insecurePKCS1v1_5)
        } catch {
            throw GatewayError.upstreamAuthentication(provider: account.clientEmail, detail: "signing the token request failed")
        }
        return signingInput + "." + Array(signature.rawRepresentation).base64URLEncoded()
    }
}

extension GatewayError {
    /// The gateway could not obtain credentials for a provider (the operator's problem).
    static func upstreamAuthentication(provider: String, detail: String) -> GatewayError {
        .upstreamUnavailable(
            "Could not obtain an access token for provider '\(provider)': \(detail). The gateway operator must check its credentials.",
            code: .upstreamAuthenticationError)
    }
}

extension Array where Element == UInt8 {
    func base64URLEncoded() -> String {
        var text = Data(self).base64EncodedString()
        text = text.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        while text.hasSuffix("=") { text.removeLast() }
        return text
    }
}

extension String {
    private static let formUnreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    /// `application/x-www-form-urlencoded` value encoding (unreserved characters kept).
    public func formEncoded() -> String {
        addingPercentEncoding(withAllowedCharacters: Self.formUnreserved) ?? self
    }
}

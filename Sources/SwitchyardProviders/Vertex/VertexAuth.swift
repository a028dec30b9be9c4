import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import SwitchyardCore
import _CryptoExtras

/// Where Vertex AI access tokens come from: a fixed token given as `api_key`, or tokens minted
/// from a service-account key through the OAuth2 JWT-bearer grant.
///
/// Minted tokens are cached until five minutes before they expire; concurrent requests that
/// find no valid token share one refresh. Failures surface as a 502
/// `upstream_authentication_error` whose message names the provider and the token endpoint's
/// status, never the key, the assertion or a token.
public actor VertexTokenSource {
    struct Minted {
        var token: String
        var expires: ContinuousClock.Instant
    }

    let provider: String
    let fixedToken: String?
    let account: ServiceAccountKey?
    let signingKey: _RSA.Signing.PrivateKey?
    let tokenURL: String
    let client: HTTPClient
    private var cached: Minted?
    private var refreshing: Task<Minted, any Error>?

    public init(provider: ProviderConfig, client: HTTPClient) throws {
        self.provider = provider.name
        self.tokenURL = provider.options["token_url"] ?? ProviderPresets.vertexTokenURL
        self.client = client
        if let account = provider.serviceAccount {
            self.account = account
            do {
                self.signingKey = try _RSA.Signing.PrivateKey(pemRepresentation: account.privateKey.reveal())
            } catch {
                throw GatewayError.upstreamAuthentication(provider: provider.name, detail: "its service-account private key could not be read")
            }
            self.fixedToken = nil
        } else {
            self.account = nil
            self.signingKey = nil
            self.fixedToken = provider.apiKey?.reveal()
        }
    }

    /// Whether tokens can be renewed (a fixed token cannot).
    nonisolated var canRefresh: Bool { account != nil }

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
        guard let account, let signingKey else {
            throw GatewayError.upstreamAuthentication(provider: provider, detail: "it has no service-account key")
        }
        let assertion = try ServiceAccountJWT.assertion(
            account: account, key: signingKey, audience: tokenURL, issuedAt: Int(Date().timeIntervalSince1970))
        var request = HTTPClientRequest(url: tokenURL)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "user-agent", value: "switchyard")
        let form = "grant_type=" + "urn:ietf:params:oauth:grant-type:jwt-bearer".formEncoded() + "&assertion=" + assertion.formEncoded()
        request.body = .bytes(ByteBuffer(string: form))
        let started = ContinuousClock.now
        let status: Int
        let body: ByteBuffer
        do {
            let response = try await client.execute(request, timeout: .seconds(30))
            status = Int(response.status.code)
            body = try await response.body.collect(upTo: 1024 * 1024)
        } catch {
            throw GatewayError.upstreamAuthentication(provider: provider, detail: "its token endpoint could not be reached")
        }
        guard (200..<300).contains(status) else {
            // The OAuth error code (`invalid_grant`, ...) helps the operator; descriptions may echo input.
            let code = (try? JSONValue.parse(Array(buffer: body)))?["error"]?.stringValue.map { " (\($0.prefix(64)))" } ?? ""
            throw GatewayError.upstreamAuthentication(provider: provider, detail: "its token endpoint answered \(status)\(code)")
        }
        guard let json = try? JSONValue.parse(Array(buffer: body)), let token = json["access_token"]?.stringValue, !token.isEmpty else {
            throw GatewayError.upstreamAuthentication(provider: provider, detail: "its token endpoint gave no access_token")
        }
        let lifetime = json["expires_in"]?.intValue ?? 3600
        return Minted(token: token, expires: started + .seconds(max(lifetime - 300, 0)))
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
    func formEncoded() -> String {
        addingPercentEncoding(withAllowedCharacters: Self.formUnreserved) ?? self
    }
}

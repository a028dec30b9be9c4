/// `oauth:` of an HTTP MCP server: the gateway obtains its bearer token with the OAuth 2.0
/// client credentials grant (RFC 6749 §4.4) and sends it on every request to the server.
public struct MCPOAuthSettings: Sendable {
    /// How the client authenticates to the token endpoint (RFC 6749 §2.3.1).
    public enum ClientAuthentication: String, Sendable, CaseIterable {
        /// HTTP Basic with the form-encoded id and secret: the method every server must support.
        case basic = "client_secret_basic"
        /// `client_id` and `client_secret` in the form body.
        case post = "client_secret_post"
    }

    public var tokenURL: String
    public var clientID: String
    public var clientSecret: Secret
    /// Space-separated scopes asked for; none when nil.
    public var scope: String?
    /// The `audience` parameter some servers (Auth0, Okta) use to pick the API the token is for.
    public var audience: String?
    public var clientAuthentication: ClientAuthentication = .basic

    public init(tokenURL: String, clientID: String, clientSecret: Secret) {
        self.tokenURL = tokenURL
        self.clientID = clientID
        self.clientSecret = clientSecret
    }

    /// A token is used until this long before it expires, then fetched again.
    public static let refreshMargin: Duration = .seconds(60)
}

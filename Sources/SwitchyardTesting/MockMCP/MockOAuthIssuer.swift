import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SwitchyardCore
import Synchronization

/// An OAuth authorization server's token endpoint for tests (`POST /token`, the client
/// credentials grant of RFC 6749 §4.4): it checks the client's id and secret (HTTP Basic or in
/// the form), counts the tokens it issues and remembers each grant; a server using it accepts
/// only tokens it issued and has not revoked.
public final class MockOAuthIssuer: Sendable {
    public struct Grant: Sendable {
        /// The form fields of the request, decoded.
        public var form: [String: String]
        /// How the client authenticated: `client_secret_basic` or `client_secret_post`.
        public var method: String
    }

    public let clientID: String
    public let clientSecret: String
    private let state = Mutex<(issued: [String], valid: Set<String>, expiresIn: Int?, grants: [Grant])>(([], [], 3600, []))

    public init(clientID: String, clientSecret: String) {
        self.clientID = clientID
        self.clientSecret = clientSecret
    }

    /// The tokens issued so far, oldest first.
    public var issued: [String] { state.withLock { $0.issued } }
    public var grants: [Grant] { state.withLock { $0.grants } }

    /// The `expires_in` of the tokens issued from now on (nil: none given).
    public func setExpiresIn(_ seconds: Int?) { state.withLock { $0.expiresIn = seconds } }

    /// Every token issued so far stops being accepted.
    public func revokeAll() { state.withLock { $0.valid.removeAll() } }

    func accepts(_ authorization: String?) -> Bool {
        guard let authorization, authorization.hasPrefix("Bearer ") else { return false }
        return state.withLock { $0.valid.contains(String(authorization.dropFirst(7))) }
    }

    func register(on router: Router<BasicRequestContext>) {
        router.post("/token") { request, _ in
            var request = request
            let body = try await request.collectBody(upTo: 1 << 16)
            let form = Self.decodeForm(String(buffer: body))
            var client: (id: String, secret: String, method: String)?
            if let header = request.headers[.authorization], header.hasPrefix("Basic "),
                let decoded = Data(base64Encoded: String(header.dropFirst(6))).flatMap({ String(data: $0, encoding: .utf8) }),
                let colon = decoded.firstIndex(of: ":")
            {
                client = (Self.formDecoded(decoded[..<colon]), Self.formDecoded(decoded[decoded.index(after: colon)...]), "client_secret_basic")
            } else if let id = form["client_id"], let secret = form["client_secret"] {
                client = (id, secret, "client_secret_post")
            }
            guard let client, client.id == self.clientID, client.secret == self.clientSecret else {
                return Self.json(.unauthorized, ["error": "invalid_client"])
            }
            guard form["grant_type"] == "client_credentials" else { return Self.json(.badRequest, ["error": "unsupported_grant_type"]) }
            let (token, expiresIn) = self.state.withLock { state in
                let token = "mock-access-\(state.issued.count + 1)-\(UInt32.random(in: 0...UInt32.max))"
                state.issued.append(token)
                state.valid.insert(token)
                state.grants.append(Grant(form: form, method: client.method))
                return (token, state.expiresIn)
            }
            var answer: JSONObject = ["access_token": .string(token), "token_type": "Bearer"]
            if let expiresIn { answer["expires_in"] = JSONValue(expiresIn) }
            return Self.json(.ok, .object(answer))
        }
    }

    static func json(_ status: HTTPResponse.Status, _ value: JSONValue) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: value.serializedBytes())))
    }

    static func decodeForm(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            fields[formDecoded(parts[0])] = parts.count > 1 ? formDecoded(parts[1]) : ""
        }
        return fields
    }

    static func formDecoded(_ text: Substring) -> String {
        text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(text)
    }
}

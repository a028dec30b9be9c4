/// Checks the credential a request presents against the configured master key.
///
/// The comparison takes time that depends only on the lengths involved, never on where the
/// first differing byte is, so the key cannot be recovered byte by byte from response timing.
public struct MasterKeyAuthenticator: Sendable {
    private let masterKey: [UInt8]?

    /// - Parameter masterKey: the key; nil disables authentication (every caller is anonymous).
    public init(masterKey: String?) {
        self.masterKey = masterKey.map { Array($0.utf8) }
    }

    public var isEnabled: Bool { masterKey != nil }

    /// Authenticates from the `Authorization` and `x-api-key` header values.
    public func authenticate(authorization: String?, apiKey: String?) -> Result<Identity, GatewayError> {
        guard let masterKey else { return .success(.anonymous) }
        let presented: Substring?
        if let authorization {
            let trimmed = authorization.drop(while: { $0 == " " })
            if trimmed.count > 7, trimmed.prefix(7).lowercased() == "bearer " {
                presented = trimmed.dropFirst(7).drop(while: { $0 == " " })
            } else {
                return .failure(
                    .unauthenticated("The Authorization header must use the Bearer scheme: 'Authorization: Bearer <key>'.")
                )
            }
        } else if let apiKey {
            presented = Substring(apiKey)
        } else {
            presented = nil
        }
        guard let presented, !presented.isEmpty else {
            return .failure(
                .unauthenticated(
                    "You didn't provide an API key. Send it as 'Authorization: Bearer <key>' or in the 'x-api-key' header."
                )
            )
        }
        if Self.constantTimeEquals(Array(presented.utf8), masterKey) {
            return .success(.master)
        }
        return .failure(.unauthenticated("Incorrect API key provided."))
    }

    /// Compares two byte strings in time independent of their contents.
    public static func constantTimeEquals(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: lhs.count ^ rhs.count)
        difference |= UInt8(lhs.count == rhs.count ? 0 : 1)
        let length = max(lhs.count, rhs.count)
        for index in 0..<length {
            let left = index < lhs.count ? lhs[index] : 0
            let right = index < rhs.count ? rhs[index] : 0
            difference |= left ^ right
        }
        return difference == 0
    }
}

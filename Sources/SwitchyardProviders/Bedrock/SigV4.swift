import Crypto
import Foundation
import SwitchyardCore

/// AWS credentials for Signature Version 4.
public struct AWSCredentials: Sendable {
    public var accessKeyID: String
    public var secretAccessKey: Secret
    public var sessionToken: Secret?

    public init(accessKeyID: String, secretAccessKey: Secret, sessionToken: Secret? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }
}

/// AWS Signature Version 4 (HMAC-SHA256), as documented in the AWS General Reference.
///
/// Pure: the time is passed in, so the published examples are reproducible in tests.
public struct SigV4Signer: Sendable {
    public var credentials: AWSCredentials
    public var region: String
    public var service: String
    /// S3 encodes the canonical path once; every other service encodes the (already encoded)
    /// path again.
    public var doubleEncodePath: Bool

    public init(credentials: AWSCredentials, region: String, service: String, doubleEncodePath: Bool = true) {
        self.credentials = credentials
        self.region = region
        self.service = service
        self.doubleEncodePath = doubleEncodePath
    }

    /// The intermediate values, exposed for tests against published examples.
    public struct Signature: Sendable {
        public var canonicalRequest: String
        public var stringToSign: String
        public var signature: String
        /// Headers to add to the request (x-amz-date, authorization, session token).
        public var headers: [(String, String)]
    }

    /// Signs a request. `path` is the path as sent on the wire (already percent-encoded);
    /// `headers` must include `host` and are all signed.
    public func sign(
        method: String,
        path: String,
        query: [(String, String)] = [],
        headers: [(String, String)],
        payload: [UInt8],
        date: Date
    ) -> Signature {
        let (amzDate, day) = Self.timestamps(date)
        let payloadHash = Self.hex(SHA256.hash(data: payload))
        var allHeaders = headers.map { ($0.0.lowercased(), Self.trim($0.1)) }
        if !allHeaders.contains(where: { $0.0 == "x-amz-date" }) { allHeaders.append(("x-amz-date", amzDate)) }
        if let token = credentials.sessionToken, !allHeaders.contains(where: { $0.0 == "x-amz-security-token" }) {
            allHeaders.append(("x-amz-security-token", token.reveal()))
        }
        allHeaders.sort { $0.0 < $1.0 }
        let canonicalHeaders = allHeaders.map { "\($0.0):\($0.1)\n" }.joined()
        let signedHeaders = allHeaders.map(\.0).joined(separator: ";")
        let canonicalPath = doubleEncodePath ? path.percentEncoded(keepingSlash: true) : path
        var encodedQuery: [(name: String, value: String)] = []
        for (name, value) in query {
            encodedQuery.append((name.percentEncoded(), value.percentEncoded()))
        }
        encodedQuery.sort { (lhs, rhs) -> Bool in lhs.name != rhs.name ? lhs.name < rhs.name : lhs.value < rhs.value }
        let canonicalQuery = encodedQuery.map { pair -> String in pair.name + "=" + pair.value }.joined(separator: "&")
        let canonicalRequest = [method, canonicalPath.isEmpty ? "/" : canonicalPath, canonicalQuery, canonicalHeaders, signedHeaders, payloadHash]
            .joined(separator: "\n")
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, Self.hex(SHA256.hash(data: Array(canonicalRequest.utf8)))]
            .joined(separator: "\n")
        var key = SymmetricKey(data: Array("AWS4\(credentials.secretAccessKey.reveal())".utf8))
        for part in [day, region, service, "aws4_request"] {
            key = SymmetricKey(data: Array(HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: key)))
        }
        let signature = Self.hex(HMAC<SHA256>.authenticationCode(for: Array(stringToSign.utf8), using: key))
        var added: [(String, String)] = [("x-amz-date", amzDate)]
        if let token = credentials.sessionToken { added.append(("x-amz-security-token", token.reveal())) }
        added.append(
            (
                "authorization",
                "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)"
            ))
        return Signature(canonicalRequest: canonicalRequest, stringToSign: stringToSign, signature: signature, headers: added)
    }

    static func timestamps(_ date: Date) -> (amzDate: String, day: String) {
        var time = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&time, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        let day = pad(parts.tm_year + 1900, 4) + pad(parts.tm_mon + 1, 2) + pad(parts.tm_mday, 2)
        return (day + "T" + pad(parts.tm_hour, 2) + pad(parts.tm_min, 2) + pad(parts.tm_sec, 2) + "Z", day)
    }

    static func trim(_ value: String) -> String {
        value.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
    }

    static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        digest.map { String(format: "%02x", $0) }.joined()
    }
}

import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SwitchyardCore
import SwitchyardStores
@testable import SwitchyardServer
import Testing

/// The gateway's own request ids: time first (they sort by arrival and keep the ledger's
/// primary-key indexes appending at their right edge), then 80 random bits.
@Suite struct RequestIDTests {
    /// Header values read by going through the fields are what `HTTPFields` itself answers
    /// (repeated fields joined, `Cookie` with `; `), and a Bearer token is read as before.
    @Test func headerValuesAndBearerTokensReadAsBefore() {
        var fields = HTTPFields()
        fields[.contentType] = "application/json"
        fields.append(HTTPField(name: .accept, value: "a"))
        fields.append(HTTPField(name: .accept, value: "b"))
        fields.append(HTTPField(name: .cookie, value: "x=1"))
        fields.append(HTTPField(name: .cookie, value: "y=2"))
        fields.append(HTTPField(name: HTTPField.Name("X-Custom")!, value: ""))
        for name in [HTTPField.Name.contentType, .accept, .cookie, .authorization, HTTPField.Name("x-custom")!] {
            #expect(fields.value(name) == fields[name], "\(name)")
        }
        #expect(fields.value(.accept) == "a, b" && fields.value(.cookie) == "x=1; y=2")
        // The reference: the character-based reading it replaced.
        func reference(_ authorization: String?) -> String? {
            guard let authorization else { return nil }
            let trimmed = authorization.drop(while: { $0 == " " })
            guard trimmed.count > 7, trimmed.prefix(7).lowercased() == "bearer " else { return nil }
            return String(trimmed.dropFirst(7).drop(while: { $0 == " " }))
        }
        let cases: [String?] = [
            nil, "", "Bearer", "Bearer ", "Bearer  ", "Bearer x", "bearer   sk-abc", "  BEARER tok", "BeArEr tok en", "Basic dXNlcg==",
            "Bearerx", "Bearer\tx", " Bearer é-token", "Béarer x", "Bearer 🔑", "B", "bearer  ", "@EARER x", "bEARER\u{0}x",
        ]
        for value in cases {
            #expect(AuthenticationMiddleware.bearer(value) == reference(value), "\(String(describing: value))")
        }
    }

    @Test func idsStartWithTheTimeAndSortByIt() {
        let early = RequestMiddleware.generateRequestID(unixMillis: 1_765_000_000_000)
        let later = RequestMiddleware.generateRequestID(unixMillis: 1_765_000_000_001)
        let muchLater = RequestMiddleware.generateRequestID(unixMillis: 4_000_000_000_000)
        for id in [early, later, muchLater] {
            #expect(id.count == 36)
            #expect(id.hasPrefix("req_"))
            #expect(id.dropFirst(4).allSatisfy { $0.isHexDigit && !$0.isUppercase })
        }
        #expect(early.dropFirst(4).prefix(12) == String(1_765_000_000_000, radix: 16).leftPadded(to: 12))
        #expect(early < later && later < muchLater)
        // The same millisecond: the random part differs.
        var seen: Set<String> = []
        for _ in 0..<10_000 { seen.insert(RequestMiddleware.generateRequestID(unixMillis: 1_765_000_000_000)) }
        #expect(seen.count == 10_000)
    }

    @Test func theLedgerKeepsTheTimeOrderedIdTheClientSaw() async throws {
        let (application, _) = try makeGateway(RouterTests.yaml)
        let app = try application.makeApplication()
        try await app.test(.router) { client in
            let before = RequestMiddleware.currentUnixMillis()
            var ids: [String] = []
            for _ in 0..<3 {
                let response = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: authorized, body: chatBody(model: "mock"))
                #expect(response.status == .ok)
                ids.append(try #require(response.headers[.init("x-request-id")!]))
            }
            let after = RequestMiddleware.currentUnixMillis()
            for id in ids {
                let millis = try #require(UInt64(id.dropFirst(4).prefix(12), radix: 16))
                #expect(millis >= before && millis <= after)
            }
            #expect(ids.map { $0.prefix(16) } == ids.map { $0.prefix(16) }.sorted())
            let ledger = try #require(application.ledger)
            for id in ids { #expect(try await ledger.log(id: id)?.id == id) }
        }
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}

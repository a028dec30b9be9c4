import Testing

@testable import SwitchyardCore

/// Header names compared as `lowercased()` would compare them.
@Suite struct HeaderNameTests {
    @Test func namesCompareIgnoringCaseAsLowercasingWould() {
        let names = [
            "Content-Type", "content-type", "CONTENT-TYPE", "content-typf", "x-request-id", "X-Request-ID", "retry-after", "Retry-After ",
            "", "a", "A", "@", "`", "[", "{", "İ", "i̇", "ı", "I", "Straße", "STRASSE", "straße", "ÄÖÜ", "äöü", "x-ä", "X-Ä",
        ]
        for left in names {
            for right in names {
                #expect(left.equalsIgnoringCase(right) == (left.lowercased() == right.lowercased()), "\(left) / \(right)")
            }
        }
        let response = UpstreamResponse(status: 200, headers: [HeaderField("Retry-After", "3"), HeaderField("x-ratelimit-remaining", "9")], body: ByteStream(buffers: []))
        #expect(response.header("retry-after") == "3")
        #expect(response.header("X-RateLimit-Remaining") == "9")
        #expect(response.header("retry-afte") == nil)
    }
}

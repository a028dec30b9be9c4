import NIOHTTP1
import SwitchyardCore

extension HTTPHeaders {
    /// The headers every provider request carries: JSON content type, user agent, the
    /// adapter's own fixed headers, the credential in the configured header and scheme, and the
    /// operator's configured headers (which win over everything before them).
    init(provider: ProviderConfig, adding fixed: [(String, String)] = []) {
        self.init()
        add(name: "content-type", value: "application/json")
        add(name: "user-agent", value: "switchyard")
        for (name, value) in fixed { add(name: name, value: value) }
        if let key = provider.apiKey {
            add(name: provider.authHeader, value: provider.authScheme.isEmpty ? key.reveal() : "\(provider.authScheme) \(key.reveal())")
        }
        for header in provider.headers {
            replaceOrAdd(name: header.name, value: header.value.reveal())
        }
    }
}

extension String {
    private static let hexDigits = Array("0123456789ABCDEF".utf8)

    /// RFC 3986 percent-encoding of everything but unreserved characters (and `/` when
    /// `keepingSlash`), as URL paths, queries and SigV4 canonical requests need it.
    func percentEncoded(keepingSlash: Bool = false) -> String {
        var result: [UInt8] = []
        result.reserveCapacity(utf8.count)
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                result.append(byte)
            case UInt8(ascii: "/") where keepingSlash:
                result.append(byte)
            default:
                result += [UInt8(ascii: "%"), Self.hexDigits[Int(byte >> 4)], Self.hexDigits[Int(byte & 0x0F)]]
            }
        }
        return String(decoding: result, as: UTF8.self)
    }
}

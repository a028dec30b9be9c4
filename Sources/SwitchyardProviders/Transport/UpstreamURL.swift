/// An absolute `http` or `https` URL split into what an HTTP/1.1 request needs, without
/// Foundation: the scheme, the host (IPv6 literals without brackets), the port and the
/// request target (path and query, `/` when empty).
///
/// Provider base URLs are validated when the configuration loads, so parsing here only has to
/// be correct for well-formed URLs and refuse anything else; it runs once per request on the
/// hot path, so it is a single scan of the string's UTF-8 bytes.
struct UpstreamURL: Hashable, Sendable {
    var tls: Bool
    var host: String
    var port: Int
    var target: String

    /// The `Host` header value: the host, bracketed when IPv6, with the port unless it is the
    /// scheme's default.
    var hostHeader: String {
        let name = host.utf8.contains(UInt8(ascii: ":")) ? "[\(host)]" : host
        return port == (tls ? 443 : 80) ? name : "\(name):\(port)"
    }

    init?(_ string: String) {
        var utf8 = Substring(string).utf8
        if utf8.starts(with: "https://".utf8) {
            tls = true
            utf8 = utf8.dropFirst(8)
        } else if utf8.starts(with: "http://".utf8) {
            tls = false
            utf8 = utf8.dropFirst(7)
        } else {
            return nil
        }
        let authorityEnd = utf8.firstIndex(where: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") }) ?? utf8.endIndex
        var authority = utf8[..<authorityEnd]
        if let at = authority.lastIndex(of: UInt8(ascii: "@")) {
            authority = authority[authority.index(after: at)...]  // credentials in URLs are never sent
        }
        var hostPart: Substring.UTF8View.SubSequence
        var portPart: Substring.UTF8View.SubSequence?
        if authority.first == UInt8(ascii: "[") {
            guard let close = authority.firstIndex(of: UInt8(ascii: "]")) else { return nil }
            hostPart = authority[authority.index(after: authority.startIndex)..<close]
            let rest = authority[authority.index(after: close)...]
            if let first = rest.first {
                guard first == UInt8(ascii: ":") else { return nil }
                portPart = rest.dropFirst()
            }
        } else if let colon = authority.lastIndex(of: UInt8(ascii: ":")) {
            hostPart = authority[..<colon]
            portPart = authority[authority.index(after: colon)...]
        } else {
            hostPart = authority
        }
        guard !hostPart.isEmpty else { return nil }
        host = String(Substring(hostPart))
        if let portPart, !portPart.isEmpty {
            guard portPart.count <= 5, let value = Int(Substring(portPart)), (1...65535).contains(value) else { return nil }
            port = value
        } else {
            port = tls ? 443 : 80
        }
        var rest = utf8[authorityEnd...]
        if let hash = rest.firstIndex(of: UInt8(ascii: "#")) { rest = rest[..<hash] }
        if rest.isEmpty {
            target = "/"
        } else if rest.first == UInt8(ascii: "?") {
            target = "/" + String(Substring(rest))
        } else {
            target = String(Substring(rest))
        }
    }
}

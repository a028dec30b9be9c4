/// A fragment of HTML. String literals in it are trusted markup written here; every value
/// interpolated into it is escaped, unless it is itself an `HTML` fragment.
///
/// This is the dashboard's only way to produce markup, so a model name, key name, request id or
/// anything else that came from a client, a provider or the configuration cannot become markup:
/// `"<td>\(model)</td>"` as `HTML` writes `&lt;script&gt;` for a model named `<script>`.
/// Numbers are interpolated as they are; other values must be turned into strings first (the
/// `Format` helpers), which are then escaped like any string.
struct HTML: Sendable, ExpressibleByStringInterpolation, CustomStringConvertible {
    private(set) var text: String

    /// Trusted markup built elsewhere (a chart), taken as it is.
    init(trusted text: String) { self.text = text }

    init(stringLiteral value: String) { self.text = value }

    init(stringInterpolation: StringInterpolation) { self.text = stringInterpolation.text }

    var description: String { text }

    static let empty = HTML(trusted: "")

    /// The fragments one after the other.
    static func join(_ fragments: some Sequence<HTML>, separator: HTML = .empty) -> HTML {
        HTML(trusted: fragments.map(\.text).joined(separator: separator.text))
    }

    struct StringInterpolation: StringInterpolationProtocol {
        var text = ""

        init(literalCapacity: Int, interpolationCount: Int) {
            text.reserveCapacity(literalCapacity + interpolationCount * 16)
        }

        mutating func appendLiteral(_ literal: String) { text += literal }
        /// A string from anywhere: escaped.
        mutating func appendInterpolation(_ value: String) { text += HTML.escape(value) }
        mutating func appendInterpolation(_ value: Substring) { text += HTML.escape(String(value)) }
        /// A fragment that is already markup.
        mutating func appendInterpolation(_ fragment: HTML) { text += fragment.text }
        mutating func appendInterpolation(_ fragments: [HTML]) { for fragment in fragments { text += fragment.text } }
        mutating func appendInterpolation(_ value: Int) { text += String(value) }
        mutating func appendInterpolation(_ value: Int64) { text += String(value) }
    }

    /// Escapes the five characters that matter in element content and quoted attribute values.
    static func escape(_ value: String) -> String {
        guard value.utf8.contains(where: { $0 == 0x26 || $0 == 0x3C || $0 == 0x3E || $0 == 0x22 || $0 == 0x27 }) else { return value }
        var out = ""
        out.reserveCapacity(value.utf8.count + 16)
        for character in value.unicodeScalars {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(character)
            }
        }
        return out
    }

    /// Percent-encodes everything but RFC 3986's unreserved characters (for a path segment or a
    /// query value; the result is then escaped as any string when interpolated).
    static func percentEncode(_ value: String) -> String {
        var out = ""
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let digits = Array("0123456789ABCDEF".unicodeScalars)
                out += "%"
                out.unicodeScalars.append(digits[Int(byte >> 4)])
                out.unicodeScalars.append(digits[Int(byte & 0x0F)])
            }
        }
        return out
    }

    /// `path?name=value&…` with the values percent-encoded; pairs with an empty value are left out.
    static func link(_ path: String, _ query: [(String, String?)]) -> String {
        let pairs = query.compactMap { name, value -> String? in
            guard let value, !value.isEmpty else { return nil }
            return name + "=" + percentEncode(value)
        }
        return pairs.isEmpty ? path : path + "?" + pairs.joined(separator: "&")
    }
}

import Foundation
import SwitchyardCore

/// The running configuration as YAML-like text with every secret left out, for the dashboard.
///
/// It walks the resolved ``GatewayConfig`` (defaults applied, `env:` references read), so it
/// shows what the gateway really runs with. Four layers keep secrets out:
/// 1. a ``Secret`` is written as its description (`<redacted env:NAME>`) and never walked into;
/// 2. values under a field named `headers` (webhook and provider headers) and string fields whose
///    name says secret, password, token, key or authorization are written as `<redacted>`;
/// 3. a password in any URL (`scheme://user:password@host`) is replaced;
/// 4. the finished text goes through the runtime's ``SecretScrubber``, which removes every
///    configured secret value and anything shaped like an API key or bearer token.
enum RedactedConfiguration {
    static let redacted = "<redacted>"
    static let maximumDepth = 14
    static let maximumItems = 400

    static func text(_ config: GatewayConfig, scrubber: SecretScrubber) -> String {
        var lines: [String] = []
        for child in Mirror(reflecting: config).children {
            guard let label = child.label, label != "source" else { continue }
            write(label: snakeCase(label), child.value, indent: 0, redact: false, into: &lines)
        }
        return scrubber.scrub(lines.joined(separator: "\n"))
    }

    /// Field names whose string values are always hidden.
    static func isSecretName(_ label: String) -> Bool {
        let name = label.lowercased().replacingOccurrences(of: "_", with: "")
        if name.hasSuffix("path") || name.hasSuffix("file") || name.hasSuffix("header") || name.hasSuffix("tokens") { return false }
        return ["secret", "password", "passwd", "token", "apikey", "privatekey", "accesskey", "authorization", "credential", "masterkey"]
            .contains { name.contains($0) }
    }

    /// One value: a scalar on the label's line, a structure or list below it.
    static func write(label: String?, _ value: Any, indent: Int, redact: Bool, into lines: inout [String]) {
        let pad = String(repeating: "  ", count: indent)
        let prefix = label.map { pad + $0 + ":" } ?? pad + "-"
        if let scalar = scalar(value, label: label, redact: redact) {
            lines.append(prefix + " " + scalar)
            return
        }
        guard indent < maximumDepth else {
            lines.append(prefix + " …")
            return
        }
        let mirror = Mirror(reflecting: value)
        let hideValues = redact || label == "headers"
        switch mirror.displayStyle {
        case .optional:
            guard let wrapped = mirror.children.first?.value else { return }
            write(label: label, wrapped, indent: indent, redact: redact, into: &lines)
        case .collection, .set:
            var items = mirror.children.map(\.value)
            if mirror.displayStyle == .set { items.sort { String(describing: $0) < String(describing: $1) } }
            if items.isEmpty {
                lines.append(prefix + " []")
                return
            }
            let scalars = items.compactMap { scalar($0, label: label, redact: hideValues) }
            if scalars.count == items.count, scalars.joined().count < 100 {
                lines.append(prefix + " [" + scalars.joined(separator: ", ") + "]")
                return
            }
            lines.append(prefix)
            for item in items.prefix(maximumItems) { write(label: nil, item, indent: indent + 1, redact: hideValues, into: &lines) }
            if items.count > maximumItems { lines.append(pad + "  # … \(items.count - maximumItems) more") }
        case .dictionary:
            let pairs = mirror.children.compactMap { child -> (String, Any)? in
                let pair = Array(Mirror(reflecting: child.value).children)
                guard pair.count == 2 else { return nil }
                return (String(describing: pair[0].value), pair[1].value)
            }.sorted { $0.0 < $1.0 }
            if pairs.isEmpty {
                lines.append(prefix + " {}")
                return
            }
            lines.append(prefix)
            for (key, item) in pairs.prefix(maximumItems) {
                write(label: quoteKey(key), item, indent: indent + 1, redact: hideValues || isSecretName(key), into: &lines)
            }
            if pairs.count > maximumItems { lines.append(pad + "  # … \(pairs.count - maximumItems) more") }
        case .enum where mirror.children.isEmpty:
            lines.append(prefix + " " + String(describing: value))
        default:
            let children = mirror.children.filter { $0.label != "location" }
            if children.isEmpty {
                lines.append(prefix + " " + (redact ? redacted : quoteValue(String(describing: value))))
                return
            }
            // A name/value pair (a header) is one line: `name: value`.
            if let pair = headerPair(children), hideValues || isSecretName(pair.name) {
                lines.append(prefix + " " + quoteValue(pair.name) + ": " + redacted)
                return
            }
            if label == nil {
                // A list item: its first field on the dash's line.
                var nested: [String] = []
                for child in children {
                    let name = child.label.map(snakeCase) ?? "value"
                    write(label: name, child.value, indent: indent + 1, redact: hideValues || isSecretName(name), into: &nested)
                }
                if let first = nested.first {
                    nested[0] = pad + "- " + first.drop(while: { $0 == " " })
                }
                lines += nested
                return
            }
            lines.append(prefix)
            for child in children {
                let name = child.label.map(snakeCase) ?? "value"
                write(label: name, child.value, indent: indent + 1, redact: hideValues || isSecretName(name), into: &lines)
            }
        }
    }

    /// A value written on one line, or nil for a structure.
    static func scalar(_ value: Any, label: String?, redact: Bool) -> String? {
        // An optional number passes `is Int` and printed as `Optional(…)`: its value is read.
        let mirror = Mirror(reflecting: value)
        if mirror.displayStyle == .optional {
            guard let wrapped = mirror.children.first?.value else { return nil }
            return scalar(wrapped, label: label, redact: redact)
        }
        switch value {
        case let secret as Secret:
            // The description is `<redacted SOURCE>`; the value is never read.
            return secret.description
        case let duration as Duration:
            return describe(duration)
        case let text as String:
            if redact || label.map(isSecretName) == true { return redacted }
            return quoteValue(redactURLPassword(text))
        case let text as Substring:
            return redact ? redacted : quoteValue(redactURLPassword(String(text)))
        case let flag as Bool:
            // A flag or a number is no secret, whatever its name says (`tokens_per_minute`).
            return String(flag)
        case is Int, is Int64, is Int32, is UInt64, is UInt32, is UInt16, is UInt8, is Double, is Float:
            return String(describing: value)
        case let raw as any RawRepresentable:
            // An option written in the file as its raw value (`rate_limit`, `read_write`).
            return redact ? redacted : quoteValue(String(describing: raw.rawValue))
        default:
            return nil
        }
    }

    /// The `name` and `value` of a header-like pair (a labelled tuple or a two-field struct).
    static func headerPair(_ children: [Mirror.Child]) -> (name: String, value: Any)? {
        guard children.count == 2, children[0].label == "name", children[1].label == "value", let name = children[0].value as? String else {
            return nil
        }
        return (name, children[1].value)
    }

    /// `scheme://user:password@host…` → `scheme://user:<redacted>@host…`.
    static func redactURLPassword(_ text: String) -> String {
        guard let scheme = text.range(of: "://") else { return text }
        let rest = text[scheme.upperBound...]
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        guard let at = authority.lastIndex(of: "@") else { return text }
        let userInfo = authority[..<at]
        guard let colon = userInfo.firstIndex(of: ":") else { return text }
        return String(text[..<colon]) + ":" + redacted + String(text[at...])
    }

    /// `250ms`, `30s`, `5m`, `2h`.
    static func describe(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let milliseconds = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        if milliseconds % 1000 != 0 { return "\(milliseconds)ms" }
        if seconds != 0, seconds % 3600 == 0 { return "\(seconds / 3600)h" }
        if seconds != 0, seconds % 60 == 0 { return "\(seconds / 60)m" }
        return "\(seconds)s"
    }

    /// `maxBodyBytes` → `max_body_bytes`, `baseURL` → `base_url`, `awsAccessKeyID` → `aws_access_key_id`.
    static func snakeCase(_ name: String) -> String {
        let characters = Array(name)
        var out = ""
        for (index, character) in characters.enumerated() {
            if character.isUppercase, index > 0 {
                let previous = characters[index - 1]
                let nextIsLower = index + 1 < characters.count && characters[index + 1].isLowercase
                if previous.isLowercase || previous.isNumber || (previous.isUppercase && nextIsLower) { out += "_" }
            }
            out += character.lowercased()
        }
        return out
    }

    static func quoteKey(_ key: String) -> String {
        key.allSatisfy { $0.isLetter || $0.isNumber || "_-./*@".contains($0) } && !key.isEmpty ? key : quote(key)
    }

    /// Strings that YAML would misread (empty, with `: ` or `#`, leading specials) are quoted.
    static func quoteValue(_ text: String) -> String {
        if text.isEmpty || text.contains(": ") || text.contains(" #") || text.contains("\n")
            || text.first.map({ "[]{}&*!|>'\"%@`#,".contains($0) }) == true
            || text.hasPrefix(" ") || text.hasSuffix(" ") || ["true", "false", "null", "yes", "no", "on", "off", "~"].contains(text.lowercased())
        {
            return quote(text)
        }
        return text
    }

    static func quote(_ text: String) -> String { String(decoding: JSONWriter.quoted(text), as: UTF8.self) }
}

/// A secret value (API key, master key) that never prints itself.
///
/// `description` and string interpolation show `<redacted>`, so a secret that ends up in a log
/// line, an error message or a debug dump does not leak. Read the value with ``reveal()`` only
/// where it leaves the process for its owner (an upstream request header, a comparison).
public struct Secret: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    private let value: String
    /// Where the value came from, safe to print (`env:OPENAI_API_KEY`, `inline`).
    public let source: String

    public init(_ value: String, source: String) {
        self.value = value
        self.source = source
    }

    public func reveal() -> String { value }

    public var description: String { "<redacted \(source)>" }
    public var debugDescription: String { description }
}

/// How a configuration value names a secret: `env:NAME`, `${NAME}` or a literal.
public enum SecretReference: Sendable, Equatable {
    case environment(String)
    case literal(String)

    /// Parses the forms `env:NAME`, `${NAME}`, and anything else as a literal.
    public init(parsing text: String) {
        if text.hasPrefix("env:") {
            self = .environment(String(text.dropFirst(4)))
        } else if text.hasPrefix("${"), text.hasSuffix("}"), text.count > 3 {
            self = .environment(String(text.dropFirst(2).dropLast()))
        } else {
            self = .literal(text)
        }
    }

    /// Resolves against an environment; nil when the variable is unset or empty.
    public func resolve(in environment: [String: String]) -> Secret? {
        switch self {
        case .environment(let name):
            guard let value = environment[name], !value.isEmpty else { return nil }
            return Secret(value, source: "env:\(name)")
        case .literal(let value):
            return Secret(value, source: "inline")
        }
    }
}

/// Where something was written in a configuration file.
public struct ConfigLocation: Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { "\(file):\(line):\(column)" }
}

/// A configuration document as a tree of scalars, mappings and sequences with source locations.
///
/// The YAML reader (in the server layer) produces it; everything that interprets configuration
/// works on it, so validation is independent of the file format and every problem can be
/// reported with its file, line and column.
public indirect enum ConfigNode: Sendable {
    case scalar(String, ConfigLocation, quoted: Bool)
    case mapping([(key: String, keyLocation: ConfigLocation, value: ConfigNode)], ConfigLocation)
    case sequence([ConfigNode], ConfigLocation)
    case null(ConfigLocation)

    public var location: ConfigLocation {
        switch self {
        case .scalar(_, let location, _), .mapping(_, let location), .sequence(_, let location), .null(let location):
            location
        }
    }

    var kindName: String {
        switch self {
        case .scalar: "a scalar"
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .null: "null"
        }
    }
}

/// One problem found in a configuration, with where it is and how to fix it.
public struct ConfigDiagnostic: Sendable, Equatable, CustomStringConvertible {
    public enum Severity: String, Sendable { case error, warning }

    public var severity: Severity
    public var location: ConfigLocation?
    public var message: String
    public var hint: String?

    public init(_ severity: Severity, _ message: String, at location: ConfigLocation?, hint: String? = nil) {
        self.severity = severity
        self.location = location
        self.message = message
        self.hint = hint
    }

    public var description: String {
        var text = location.map { "\($0): " } ?? ""
        text += "\(severity.rawValue): \(message)"
        if let hint { text += "\n    hint: \(hint)" }
        return text
    }
}

/// Thrown when a configuration has at least one error; carries every diagnostic found.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [ConfigDiagnostic]

    public init(diagnostics: [ConfigDiagnostic]) {
        self.diagnostics = diagnostics
    }

    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}

extension ConfigNode {
    /// The node as JSON: unquoted scalars that read as booleans, numbers or null become those.
    public var jsonValue: JSONValue {
        switch self {
        case .null: return .null
        case .scalar(let text, _, let quoted):
            if quoted { return .string(text) }
            switch text {
            case "true", "True", "TRUE": return .bool(true)
            case "false", "False", "FALSE": return .bool(false)
            case "null", "~", "Null", "NULL": return .null
            default: break
            }
            if let number = Double(text), number.isFinite, text.first.map({ $0.isNumber || $0 == "-" || $0 == "+" || $0 == "." }) == true {
                return .number(number, raw: text)
            }
            return .string(text)
        case .sequence(let items, _):
            return .array(items.map(\.jsonValue))
        case .mapping(let entries, _):
            return .object(JSONObject(entries.map { ($0.key, $0.value.jsonValue) }))
        }
    }
}

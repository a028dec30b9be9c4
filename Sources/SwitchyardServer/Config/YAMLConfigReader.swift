import Foundation
import SwitchyardCore
import Yams

/// Reads `switchyard.yaml` into a ``ConfigNode`` tree that keeps every value's line and column.
public enum YAMLConfigReader {
    /// Parses YAML text; a syntax error becomes a diagnostic with its position.
    public static func parse(_ text: String, file: String) throws(ConfigError) -> ConfigNode {
        do {
            // No tag resolution: ``convert(_:file:)`` reads every scalar as its text and the
            // loader types it. Yams's default resolver matches plain scalars with
            // NSRegularExpression, which loads ICU at startup (about 5 MB of resident memory).
            guard let node = try Yams.compose(yaml: text, .basic) else {
                return .null(ConfigLocation(file: file, line: 1, column: 1))
            }
            return convert(node, file: file)
        } catch let error as YamlError {
            throw ConfigError(diagnostics: [diagnostic(for: error, file: file)])
        } catch {
            throw ConfigError(diagnostics: [
                ConfigDiagnostic(.error, "could not parse YAML: \(error)", at: ConfigLocation(file: file, line: 1, column: 1))
            ])
        }
    }

    /// Reads and parses a file.
    public static func read(path: String) throws(ConfigError) -> ConfigNode {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(diagnostics: [
                ConfigDiagnostic(.error, "cannot read configuration file '\(path)'", at: nil, hint: "check the path and its permissions")
            ])
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(diagnostics: [ConfigDiagnostic(.error, "configuration file '\(path)' is not valid UTF-8", at: nil)])
        }
        return try parse(text, file: path)
    }

    static func diagnostic(for error: YamlError, file: String) -> ConfigDiagnostic {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            let detail = context.map { "\(problem) (\($0.text))" } ?? problem
            return ConfigDiagnostic(
                .error,
                "YAML syntax error: \(detail)",
                at: ConfigLocation(file: file, line: mark.line, column: mark.column),
                hint: "check indentation (spaces, not tabs) and that every 'key: value' has a space after the colon"
            )
        case .duplicatedKeysInMapping(let duplicates, let context):
            return ConfigDiagnostic(
                .error,
                "duplicate keys \(duplicates.joined(separator: ", "))",
                at: ConfigLocation(file: file, line: context.mark.line, column: context.mark.column),
                hint: "remove one of them"
            )
        default:
            return ConfigDiagnostic(.error, "YAML error: \(error)", at: ConfigLocation(file: file, line: 1, column: 1))
        }
    }

    static func convert(_ node: Node, file: String) -> ConfigNode {
        let location = ConfigLocation(file: file, line: node.mark?.line ?? 0, column: node.mark?.column ?? 0)
        switch node {
        case .scalar(let scalar):
            if scalar.style == .plain && ["", "~", "null", "Null", "NULL"].contains(scalar.string) {
                return .null(location)
            }
            return .scalar(scalar.string, location, quoted: scalar.style != .plain)
        case .mapping(let mapping):
            var entries: [(key: String, keyLocation: ConfigLocation, value: ConfigNode)] = []
            for (key, value) in mapping {
                let keyLocation = ConfigLocation(file: file, line: key.mark?.line ?? 0, column: key.mark?.column ?? 0)
                entries.append((key.string ?? "\(key)", keyLocation, convert(value, file: file)))
            }
            return .mapping(entries, location)
        case .sequence(let sequence):
            return .sequence(sequence.map { convert($0, file: file) }, location)
        case .alias:
            return .null(location)
        }
    }
}

import Foundation
import SwitchyardCore

/// Where the gateway's configuration comes from: a YAML file or the embedded default.
public enum ConfigurationSource: Sendable {
    case file(String)
    case embeddedDefault

    /// Loads and validates; throws ``ConfigError`` with every problem found.
    public func load(environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigError) -> (
        config: GatewayConfig, warnings: [ConfigDiagnostic]
    ) {
        let loader = ConfigLoader(environment: environment, fileExists: { FileManager.default.fileExists(atPath: $0) })
        switch self {
        case .embeddedDefault:
            return (loader.embeddedDefault(), [])
        case .file(let path):
            let node = try YAMLConfigReader.read(path: path)
            let (config, warnings) = try loader.loadOrThrow(node, source: path)
            return (config, warnings)
        }
    }

    /// The file's current contents, used to notice changes.
    func fingerprint() -> Data? {
        guard case .file(let path) = self else { return nil }
        return FileManager.default.contents(atPath: path)
    }

    public var description: String {
        switch self {
        case .file(let path): path
        case .embeddedDefault: "embedded default"
        }
    }
}

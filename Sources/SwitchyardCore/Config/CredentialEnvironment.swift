/// The environment variables that the cloud default credential chains read (AWS's for Bedrock,
/// Google's application default credentials for Vertex AI), captured when the configuration is
/// loaded, so a provider resolves credentials from the same environment the file was checked in
/// (and tests can give one without touching the process's).
///
/// Only the variables those chains document are kept. The values include secrets
/// (`AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), so the value reflects no children: the
/// dashboard's configuration view never walks into it.
public struct CredentialEnvironment: Sendable, CustomReflectable, CustomStringConvertible {
    private let variables: [String: String]

    /// The variables a chain reads: every `AWS_*`, `GOOGLE_*` and `GCE_*` variable, plus
    /// `HOME` and `CLOUDSDK_CONFIG` (where the shared files live).
    public static func isCredentialVariable(_ name: String) -> Bool {
        name.hasPrefix("AWS_") || name.hasPrefix("GOOGLE_") || name.hasPrefix("GCE_") || name == "HOME" || name == "CLOUDSDK_CONFIG"
    }

    public init(_ environment: [String: String] = [:]) {
        self.variables = environment.filter { Self.isCredentialVariable($0.key) }
    }

    /// The variable's value; an empty value counts as unset, as the AWS and Google SDKs treat it.
    public subscript(_ name: String) -> String? {
        guard let value = variables[name], !value.isEmpty else { return nil }
        return value
    }

    /// Values that must be scrubbed from any text the gateway writes.
    public var secretValues: [Secret] {
        ["AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN"].compactMap { name in
            self[name].map { Secret($0, source: "env:\(name)") }
        }
    }

    public var customMirror: Mirror { Mirror(self, children: [:]) }

    /// Names only, never values.
    public var description: String { "default credential chain (\(variables.keys.sorted().joined(separator: ", ")))" }
}

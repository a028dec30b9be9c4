import Foundation

/// Files shipped in SwitchyardCore's resource bundle (tokenizer ranks, guardrail weights).
public enum BundledResources {
    private final class Marker {}

    /// The bundled files the gateway reads, as `<subdirectory>/<name>.<extension>`.
    static let files: [(name: String, extension: String, subdirectory: String)] = [
        ("o200k_base", "tiktoken", "tokenizers"), ("cl100k_base", "tiktoken", "tokenizers"),
        ("injection-linear", "bin", "guardrails"),
    ]

    /// Those of ``files`` that cannot be found (a binary copied without the
    /// `switchyard_SwitchyardCore.resources` folder beside it): without them token counts are
    /// estimates and the injection guardrail's learned stage is off, which the server says when
    /// it starts.
    public static func missingFiles() -> [String] {
        files.filter { url($0.name, extension: $0.extension, subdirectory: $0.subdirectory) == nil }
            .map { "\($0.subdirectory)/\($0.name).\($0.extension)" }
    }

    /// Finds `<subdirectory>/<name>.<extension>` in the bundle.
    ///
    /// This looks where SwiftPM's generated `Bundle.module` accessor looks (next to the main
    /// executable, and next to the bundle holding this code, which covers test bundles), but
    /// returns nil instead of trapping when the bundle is missing, as `Bundle.module` does.
    /// It also compiles before the package declares the resources.
    static func url(_ name: String, extension fileExtension: String, subdirectory: String) -> URL? {
        let bundleNames = ["switchyard_SwitchyardCore.resources", "switchyard_SwitchyardCore.bundle"]
        let codeBundle = Bundle(for: Marker.self)
        var directories = [Bundle.main.bundleURL, codeBundle.bundleURL, codeBundle.bundleURL.deletingLastPathComponent()]
        if let resources = Bundle.main.resourceURL { directories.append(resources) }
        if let resources = codeBundle.resourceURL { directories.append(resources) }
        if let executable = Bundle.main.executableURL { directories.append(executable.deletingLastPathComponent()) }
        for directory in directories {
            for bundleName in bundleNames {
                let candidate = directory.appendingPathComponent(bundleName, isDirectory: true)
                guard FileManager.default.fileExists(atPath: candidate.path), let bundle = Bundle(url: candidate) else { continue }
                if let url = bundle.url(forResource: name, withExtension: fileExtension, subdirectory: subdirectory) { return url }
                // Bundle lookups can miss plain folders on Linux; try the path directly.
                let direct = candidate.appendingPathComponent("\(subdirectory)/\(name).\(fileExtension)")
                if FileManager.default.fileExists(atPath: direct.path) { return direct }
            }
        }
        return nil
    }
}

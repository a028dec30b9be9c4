import Foundation

/// Files shipped in SwitchyardCore's resource bundle (tokenizer ranks, guardrail weights).
enum BundledResources {
    private final class Marker {}

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

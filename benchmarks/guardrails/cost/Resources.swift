import Foundation
// Harness stand-in for SwitchyardCore's bundle lookup: the weights from GUARD_RESOURCES.
enum BundledResources {
    static func url(_ name: String, extension fileExtension: String, subdirectory: String) -> URL? {
        let root = ProcessInfo.processInfo.environment["GUARD_RESOURCES"] ?? "Sources/SwitchyardCore/Resources"
        return URL(fileURLWithPath: "\(root)/\(subdirectory)/\(name).\(fileExtension)")
    }
}

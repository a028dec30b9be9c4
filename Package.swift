// swift-tools-version:6.1
import PackageDescription

#if os(Linux)
import Glibc

/// Packed relative relocations need glibc 2.36 where the binary runs (the loader refuses the
/// binary, naming GLIBC_ABI_DT_RELR, otherwise); the release binary runs on glibc at least as new
/// as the build machine's, so they are used when the build machine's glibc has them.
let glibcHasPackedRelocations: Bool = {
    var buffer = [CChar](repeating: 0, count: 64)
    guard confstr(Int32(_CS_GNU_LIBC_VERSION), &buffer, buffer.count) > 0 else { return false }
    // "glibc 2.36"
    let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    let numbers = text.split(separator: " ").last?.split(separator: ".").compactMap { Int($0) } ?? []
    guard numbers.count >= 2 else { return false }
    return (numbers[0], numbers[1]) >= (2, 36)
}()
#else
let glibcHasPackedRelocations = false
#endif

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]
/// The gateway's own modules: a nonisolated async function runs on its caller's executor
/// (SE-0461) instead of hopping to the generic one at every call. The event loops run Swift's jobs
/// (see Sources/switchyard/Entry.swift) as their own serial executor, so each such hop was a job
/// queued on the loop and run again: about ten of the 72 per cache-hit request were calls inside
/// these modules. With them gone: 2–5% less CPU per request on every benchmark arm. What must still
/// run concurrently is marked `@concurrent` (Hummingbird's middleware requirement, the response
/// writers' relays).
let nonsending: [SwiftSetting] = [.enableUpcomingFeature("NonisolatedNonsendingByDefault")]

/// How the release server binary is linked on Linux: as shipped (scripts/package, the container
/// image), with the Swift standard library and Foundation linked in statically; by lld, with
/// relative relocations packed (`DT_RELR`, when the build machine has glibc 2.36+) so the loader
/// reads kilobytes instead of a multi-megabyte relocation table at start; and exporting no
/// symbols of its own (the static standard library's link arguments ask for `--export-dynamic`,
/// which made the loader's every symbol lookup walk a 3.5 MiB dynamic symbol table). Together
/// 45 -> 36-38 MiB resident at idle. Static
/// Foundation archives do not name what they need (SwiftPM issue 10564), so those are named too.
/// Debug builds (the test suite's) keep the default link.
let executableLinkerSettings: [LinkerSetting] = [
    .unsafeFlags(
        [
            "-static-stdlib",
            "-use-ld=lld",
        ] + (glibcHasPackedRelocations ? ["-Xlinker", "-z", "-Xlinker", "pack-relative-relocs"] : []) + [
            "-Xlinker", "-lCoreFoundation", "-Xlinker", "-l_FoundationICU",
            "-Xlinker", "-l_FoundationCollections", "-Xlinker", "-l_FoundationCShims",
            "-Xlinker", "--no-export-dynamic",
        ],
        .when(platforms: [.linux], configuration: .release)
    ),
]

let package = Package(
    name: "switchyard",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "switchyard", targets: ["switchyard"]),
        .library(name: "SwitchyardCore", targets: ["SwitchyardCore"]),
        .library(name: "SwitchyardProviders", targets: ["SwitchyardProviders"]),
        .library(name: "SwitchyardServer", targets: ["SwitchyardServer"]),
        .library(name: "SwitchyardStores", targets: ["SwitchyardStores"]),
        .library(name: "SwitchyardTesting", targets: ["SwitchyardTesting"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.7.3"),
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.7.1"),
    ],
    targets: [
        .target(
            name: "SwitchyardCore",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Instrumentation", package: "swift-distributed-tracing"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            // The BPE vocabularies (see Resources/tokenizers/ORIGIN.md) and the injection
            // detector's learned weights (see Resources/guardrails/PROVENANCE.md).
            resources: [.copy("Resources/tokenizers"), .copy("Resources/guardrails")],
            swiftSettings: swiftSettings + nonsending
        ),
        .target(
            name: "SwitchyardProviders",
            dependencies: [
                "SwitchyardCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings + nonsending
        ),
        .target(
            name: "SwitchyardStores",
            dependencies: [
                "SwitchyardCore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: swiftSettings + nonsending
        ),
        .target(
            name: "SwitchyardServer",
            dependencies: [
                "SwitchyardCore",
                "SwitchyardProviders",
                "SwitchyardStores",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Instrumentation", package: "swift-distributed-tracing"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: swiftSettings + nonsending
        ),
        .target(
            name: "SwitchyardTesting",
            dependencies: [
                "SwitchyardCore",
                "SwitchyardProviders",
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(name: "CSwitchyardConcurrencyHook"),
        .executableTarget(
            name: "switchyard",
            dependencies: [
                "CSwitchyardConcurrencyHook",
                "SwitchyardCore",
                "SwitchyardProviders",
                "SwitchyardServer",
                "SwitchyardStores",
                "SwitchyardTesting",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings,
            linkerSettings: executableLinkerSettings
        ),
        .testTarget(
            name: "SwitchyardCoreTests",
            dependencies: ["SwitchyardCore"],
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SwitchyardServerTests",
            dependencies: [
                "CSwitchyardConcurrencyHook",
                "SwitchyardCore",
                "SwitchyardProviders",
                "SwitchyardServer",
                "SwitchyardStores",
                "SwitchyardTesting",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Instrumentation", package: "swift-distributed-tracing"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)

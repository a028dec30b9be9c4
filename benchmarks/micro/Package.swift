// swift-tools-version:6.1
// Micro-benchmarks of the gateway's hot paths (package-benchmark, release builds only).
// A package of its own so that the main build and CI never compile the benchmark tooling:
// run it with `cd benchmarks/micro && swift package benchmark` (see README.md).
import PackageDescription

let package = Package(
    name: "switchyard-micro",
    platforms: [.macOS(.v15)],
    dependencies: [
        // Named: a path dependency's identity is otherwise its folder's name (a clone's or a
        // worktree's), which `.product(name:package:)` would then have to spell.
        .package(name: "switchyard", path: "../.."),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        // Only the malloc interposer (allocation counts); the default RuntimeInterposer trait
        // (ARC counters on Linux with Swift 6.3) pulls in a package this setup does not need.
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "SwitchyardMicro",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "SwitchyardCore", package: "switchyard"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Benchmarks/SwitchyardMicro",
            plugins: [
                .plugin(name: "BenchmarkPlugin", package: "benchmark"),
            ]
        ),
    ]
)

import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import SwitchyardCore
import SwitchyardProviders
import SwitchyardServer
import SwitchyardTesting

let quietLogger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

/// One shared transport for all tests (clients are created per pool setting and reused).
let sharedTransport = HTTPTransport()

func adapterRegistry() -> AdapterRegistry {
    var registry = AdapterRegistry()
    registry.register(ProviderPresets.openAICompatible, OpenAICompatibleAdapterFactory(transport: sharedTransport))
    registry.register(ProviderPresets.anthropic, AnthropicAdapterFactory(transport: sharedTransport))
    registry.register(ProviderPresets.azure, AzureOpenAIAdapterFactory(transport: sharedTransport))
    registry.register(ProviderPresets.gemini, GeminiAdapterFactory(transport: sharedTransport))
    registry.register(ProviderPresets.vertex, VertexAdapterFactory(transport: sharedTransport))
    registry.register(ProviderPresets.bedrock, BedrockAdapterFactory(transport: sharedTransport))
    registry.register(ProviderPresets.cohere, CohereAdapterFactory(transport: sharedTransport))
    registry.register(ProviderPresets.mock, MockProviderAdapterFactory())
    return registry
}

/// Writes `yaml` to a fresh temporary file and returns its path.
func writeConfig(_ yaml: String, path: String? = nil) throws -> String {
    // Each configuration in its own directory: the key database is created next to it.
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("switchyard-\(UUID().uuidString)")
    if path == nil { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) }
    let file = path ?? directory.appendingPathComponent("switchyard.yaml").path
    try yaml.write(toFile: file, atomically: true, encoding: .utf8)
    return file
}

func makeGateway(_ yaml: String, environment: [String: String] = [:]) throws -> (SwitchyardApplication, String) {
    let path = try writeConfig(yaml)
    let application = try SwitchyardApplication(
        source: .file(path),
        registry: adapterRegistry(),
        logger: quietLogger,
        environment: environment
    )
    return (application, path)
}

/// Runs the mock provider's HTTP server on a free port for the duration of `body`.
func withMockUpstream<T: Sendable>(
    _ mock: MockProvider = MockProvider(),
    _ body: @Sendable (MockProvider, Int) async throws -> T
) async throws -> T {
    let (ports, continuation) = AsyncStream<Int>.makeStream()
    let app = MockProviderServer.makeApplication(mock: mock, port: 0, logger: quietLogger) { port in
        continuation.yield(port)
    }
    return try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask {
            try await app.runService(gracefulShutdownSignals: [])
            return nil
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw CancellationError() }
        do {
            let result = try await body(mock, port)
            group.cancelAll()
            return result
        } catch {
            group.cancelAll()
            throw error
        }
    }
}

/// A gateway configuration with one OpenAI-compatible provider pointing at the mock upstream.
func upstreamConfig(port: Int, extraServer: String = "", extraProvider: String = "") -> String {
    """
    server:
      host: 127.0.0.1
      port: 0
      master_key: test-master-key
      reload_check_interval: off
    \(extraServer)
    providers:
      - name: upstream
        type: openai-compatible
        base_url: http://127.0.0.1:\(port)/v1
        api_key: provider-secret-key
    \(extraProvider)
    models:
      - name: gpt-test
        provider: upstream
        model: mock-gpt
        aliases: [gt]
      - name: embed
        provider: upstream
        model: mock-embedding
    """
}

let authorized: HTTPFields = [.authorization: "Bearer test-master-key", .contentType: "application/json"]

func chatBody(_ extra: String = "", model: String = "gpt-test", content: String = "hello") -> ByteBuffer {
    ByteBuffer(string: #"{"model":"\#(model)","messages":[{"role":"user","content":"\#(content)"}]\#(extra)}"#)
}

extension TestResponse {
    var json: JSONValue? { try? JSONValue.parse(Array(buffer: body)) }
    var text: String { String(buffer: body) }
}

/// Data payloads of an SSE body, in order.
func sseData(_ text: String) -> [String] {
    text.components(separatedBy: "\n\n").compactMap { event in
        let lines = event.split(separator: "\n").filter { $0.hasPrefix("data: ") }.map { String($0.dropFirst(6)) }
        return lines.isEmpty ? nil : lines.joined(separator: "\n")
    }
}

/// An HTTP client for tests that need to read a stream as it arrives or hang up early.
let testHTTPClient = HTTPClient(eventLoopGroupProvider: .singleton)

/// Waits for background work by polling `condition` (a counter, a metric, a row count) until it
/// holds; returns false if it still does not after `timeout`.
///
/// The timeout only bounds a failure: a passing test returns as soon as the condition holds, so
/// keep it generous (a loaded CI machine can be many times slower than a laptop) and never use
/// it to assert that something was fast.
func eventually(timeout: Duration = .seconds(30), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return try await condition()
}

/// The gateway's `/metrics` text once it contains `expected` (polled: metrics of background work
/// such as settlement, shadow traffic or sinks are recorded after the client's answer), or the
/// last text read when it never does within `timeout`.
func metricsText(_ client: any TestClientProtocol, containing expected: String, timeout: Duration = .seconds(30)) async throws -> String {
    var text = ""
    _ = try await eventually(timeout: timeout) {
        text = try await client.execute(uri: "/metrics", method: .get).text
        return text.contains(expected)
    }
    return text
}

/// Runs `test` against a live gateway whose providers (YAML list entries, given the mock
/// upstream's port) point at a mock upstream, with the usual test server settings.
func withGatewayOnMockUpstream(
    providers: @escaping @Sendable (_ port: Int) -> String,
    models: String,
    _ test: @escaping @Sendable (any TestClientProtocol, MockProvider) async throws -> Void
) async throws {
    try await withMockUpstream { mock, port in
        let yaml = """
            server:
              port: 0
              master_key: test-master-key
              reload_check_interval: off
            providers:
            \(providers(port))
            models:
            \(models)
            """
        let (application, _) = try makeGateway(yaml)
        try await application.makeApplication().test(.live) { client in try await test(client, mock) }
    }
}

/// A child process started with posix_spawn: Foundation's `Process` starts helper threads that
/// never end, and a test binary whose main thread has finished then waits for them forever.
struct ChildProcess: Sendable {
    let pid: pid_t

    /// Starts `path` with `arguments`, stdout and stderr to `output` (created or appended to; /dev/null by default).
    init(_ path: String, _ arguments: [String], output: String = "/dev/null") throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, path, &actions, nil, argv, environ)
        guard result == 0 else { throw POSIXError(POSIXErrorCode(rawValue: result) ?? .EIO) }
        self.pid = pid
    }

    /// Whether the process has not exited yet (reaps it when it has).
    var isRunning: Bool { exitStatus() == nil }

    /// The exit status once the process has ended (reaping it), else nil.
    func exitStatus() -> Int32? {
        var status: Int32 = 0
        let result = waitpid(pid, &status, WNOHANG)
        if result == pid { return (status >> 8) & 0xFF }
        return result == 0 ? nil : -1
    }

    /// Waits (without blocking a thread) until the process ends; returns its exit status.
    func waitForExit(timeout: Duration = .seconds(30)) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let status = exitStatus() { return status }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return nil
    }

    func kill() {
        _ = Glibc.kill(pid, SIGKILL)
    }

    /// Sends `signal` (SIGINT asks PostgreSQL for a fast shutdown).
    func send(_ signal: Int32) {
        _ = Glibc.kill(pid, signal)
    }
}

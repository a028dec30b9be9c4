import ArgumentParser
import Foundation
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import SwitchyardCore
import SwitchyardProviders
import SwitchyardServer
import SwitchyardTesting
import UnixSignals

struct Switchyard: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switchyard",
        abstract: "An AI gateway: one OpenAI-compatible endpoint in front of many model providers.",
        discussion: """
            With no subcommand, 'serve' runs. Without --config it serves an embedded default: the \
            built-in mock provider's models (mock-gpt, mock-embedding) plus a provider for each \
            well-known API key found in the environment (OPENAI_API_KEY, GROQ_API_KEY, ...).
            """,
        version: SwitchyardVersion.current,
        subcommands: [
            Serve.self, CheckConfig.self, KeysCommand.self, AuditCommand.self, RouteCommand.self, GuardrailsCommand.self, ImportCommand.self,
            MockProviderCommand.self,
        ],
        defaultSubcommand: Serve.self
    )
}

enum LogFormat: String, ExpressibleByArgument, CaseIterable {
    case json, text
}

func bootstrapLogging(format: LogFormat, level: String) {
    let logLevel = Logger.Level(rawValue: level) ?? .info
    LoggingSystem.bootstrap { label in
        switch format {
        case .json:
            var handler = JSONLogHandler(label: label)
            handler.logLevel = logLevel
            return handler
        case .text:
            var handler = StreamLogHandler.standardOutput(label: label)
            handler.logLevel = logLevel
            return handler
        }
    }
}

func printDiagnostics(_ diagnostics: [ConfigDiagnostic]) {
    for diagnostic in diagnostics {
        FileHandle.standardError.write(Data((diagnostic.description + "\n").utf8))
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the gateway.",
        discussion: """
            SIGHUP or a change to the configuration file reloads it; SIGTERM/SIGINT shut down gracefully. \
            The web dashboard is at /ui (sign in with the master key or an admin virtual key).
            """
    )

    @Option(name: .shortAndLong, help: "YAML configuration file. Without it, the embedded default is used.")
    var config: String?

    @Option(help: "Override server.host.")
    var host: String?

    @Option(help: "Override server.port (0 picks a free port).")
    var port: Int?

    @Option(help: "Log format: json or text.")
    var logFormat: LogFormat = .json

    func run() async throws {
        let source: ConfigurationSource = config.map { .file($0) } ?? .embeddedDefault
        let overrideHost = host
        let overridePort = port
        let overrides: @Sendable (inout GatewayConfig) -> Void = { config in
            if let overrideHost { config.server.host = overrideHost }
            if let overridePort { config.server.port = overridePort }
        }
        var loaded: GatewayConfig
        do {
            loaded = try source.load().config
            overrides(&loaded)
        } catch {
            printDiagnostics(error.diagnostics)
            throw ExitCode(1)
        }
        bootstrapLogging(format: logFormat, level: loaded.server.logLevel)
        // Log lines are written by a background queue: the last ones go out before exit.
        defer { LogOutput.standardOutput.flush() }
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let logger = Logger(label: "switchyard")
        let transport = HTTPTransport()
        var adapters = AdapterRegistry()
        adapters.register(ProviderPresets.openAICompatible, OpenAICompatibleAdapterFactory(transport: transport))
        adapters.register(ProviderPresets.anthropic, AnthropicAdapterFactory(transport: transport))
        adapters.register(ProviderPresets.azure, AzureOpenAIAdapterFactory(transport: transport))
        adapters.register(ProviderPresets.gemini, GeminiAdapterFactory(transport: transport))
        adapters.register(ProviderPresets.vertex, VertexAdapterFactory(transport: transport))
        adapters.register(ProviderPresets.bedrock, BedrockAdapterFactory(transport: transport))
        adapters.register(ProviderPresets.cohere, CohereAdapterFactory(transport: transport))
        adapters.register(ProviderPresets.mock, MockProviderAdapterFactory())
        let application: SwitchyardApplication
        do {
            application = try SwitchyardApplication(
                source: source,
                registry: adapters,
                prometheus: registry,
                logger: logger,
                overrides: overrides
            )
        } catch let error as ConfigError {
            printDiagnostics(error.diagnostics)
            throw ExitCode(1)
        }
        let app = try application.makeApplication()
        var groupConfiguration = ServiceGroupConfiguration(
            services: [.init(service: app)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        groupConfiguration.maximumGracefulShutdownDuration = loaded.server.shutdownGracePeriod
        groupConfiguration.maximumCancellationDuration = .seconds(5)
        let group = ServiceGroup(configuration: groupConfiguration)
        try await group.run()
        await transport.shutdown()
        logger.notice("switchyard stopped")
    }
}

struct CheckConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate a configuration file and print every problem with its location and a fix."
    )

    @Argument(help: "The YAML configuration file.")
    var file: String

    func run() async throws {
        let node: ConfigNode
        do {
            node = try YAMLConfigReader.read(path: file)
        } catch {
            printDiagnostics(error.diagnostics)
            throw ExitCode(1)
        }
        let loader = ConfigLoader(
            environment: ProcessInfo.processInfo.environment,
            fileExists: { FileManager.default.fileExists(atPath: $0) }
        )
        let outcome = loader.load(node, source: file)
        printDiagnostics(outcome.diagnostics)
        guard let config = outcome.config else {
            FileHandle.standardError.write(Data("\(file): \(outcome.errors.count) error(s)\n".utf8))
            throw ExitCode(1)
        }
        print("\(file): OK (\(config.providers.count) provider(s), \(config.models.count) model(s), \(outcome.warnings.count) warning(s))")
    }
}

struct MockProviderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mock-provider",
        abstract: "Run the deterministic mock provider (OpenAI dialect) as an HTTP server.",
        discussion: """
            Requests may override any knob with an 'x-mock-<knob>' header or a "mock": {...} object \
            in the JSON body: latency_ms, first_token_delay_ms, chunk_delay_ms, chunks, chunk_bytes, \
            status, retry_after, drop_after, error_after, malformed, tool_calls, content, \
            fail_percent, fail_first, fail_status, seed. \
            GET /mock/stats shows what it received.
            """
    )

    @Option(help: "Address to bind.")
    var host: String = "127.0.0.1"

    @Option(help: "Port to bind (0 picks a free port).")
    var port: Int = 9090

    @Option(help: "Delay before the response head, in milliseconds.")
    var latencyMs: Int = 0

    @Option(help: "Delay before the first stream chunk, in milliseconds.")
    var firstTokenDelayMs: Int = 0

    @Option(help: "Delay between stream chunks, in milliseconds.")
    var chunkDelayMs: Int = 0

    @Option(help: "Content chunks per streamed answer.")
    var chunks: Int = 8

    @Option(help: "Characters per content chunk (default: the generated answer split evenly).")
    var chunkBytes: Int?

    @Option(help: "Require 'Authorization: Bearer <key>' with this key.")
    var requireApiKey: String?

    @Option(help: "Log format: json or text.")
    var logFormat: LogFormat = .json

    func run() async throws {
        bootstrapLogging(format: logFormat, level: "notice")
        var behaviour = MockBehaviour()
        behaviour.latencyMilliseconds = latencyMs
        behaviour.firstTokenDelayMilliseconds = firstTokenDelayMs
        behaviour.chunkDelayMilliseconds = chunkDelayMs
        behaviour.chunks = max(1, chunks)
        behaviour.chunkBytes = chunkBytes
        let mock = MockProvider(defaults: behaviour, requiredAPIKey: requireApiKey)
        let logger = Logger(label: "switchyard.mock")
        let host = self.host
        let app = MockProviderServer.makeApplication(mock: mock, host: host, port: port, logger: logger) { port in
            logger.notice("mock provider listening", metadata: ["address": .string("http://\(host):\(port)/v1")])
        }
        let group = ServiceGroup(
            configuration: .init(services: [.init(service: app)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        )
        try await group.run()
    }
}

import ArgumentParser
import Foundation
import SwitchyardCore
import SwitchyardServer

struct RouteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "route",
        abstract: "Inspect routing decisions.",
        subcommands: [RouteExplain.self]
    )
}

struct RouteExplain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Show where a request would be routed and why, without calling any model.",
        discussion: """
            Prints the matching rule, version and experiment decisions, every candidate deployment \
            (and why it was excluded) and the one the strategy would pick, as JSON. Live state \
            (breakers, latency) starts empty here; POST /v1/route/explain on a running gateway \
            answers with its live state.
            """
    )

    @Option(name: .shortAndLong, help: "YAML configuration file. Without it, the embedded default is used.")
    var config: String?

    @Option(help: "The request body as JSON, in a file ('-' reads standard input).")
    var request: String

    @Option(help: "Endpoint: chat_completions, completions, embeddings, rerank or moderations.")
    var endpoint: String = "chat_completions"

    @Option(name: .customLong("header"), help: "A request header 'name: value' seen by routing rules (repeatable).")
    var headers: [String] = []

    func run() async throws {
        let source: ConfigurationSource = config.map { .file($0) } ?? .embeddedDefault
        let loaded: GatewayConfig
        do {
            loaded = try source.load().config
        } catch {
            printDiagnostics(error.diagnostics)
            throw ExitCode(1)
        }
        let body: Data
        if request == "-" {
            body = FileHandle.standardInput.readDataToEndOfFile()
        } else if let data = FileManager.default.contents(atPath: request) {
            body = data
        } else {
            FileHandle.standardError.write(Data("cannot read \(request)\n".utf8))
            throw ExitCode(1)
        }
        guard let endpoint = Endpoint.allCases.first(where: { $0.label == self.endpoint }) else {
            FileHandle.standardError.write(Data("unknown endpoint '\(self.endpoint)': use chat_completions, completions, embeddings, rerank or moderations\n".utf8))
            throw ExitCode(1)
        }
        let fields = headers.compactMap { line -> HeaderField? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return HeaderField(
                String(line[..<colon]).lowercased(), String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces))
        }
        // No adapters: explaining never opens a connection.
        let snapshot = RuntimeSnapshot(config: loaded, adapters: [:], generation: 1)
        do {
            let explanation = try RouteExplanation.explain(
                endpoint: endpoint, body: Array(body), identity: .master, headers: fields, snapshot: snapshot,
                router: RouterState(settings: loaded.router))
            print(explanation.serialized())
        } catch {
            FileHandle.standardError.write(Data("\(error.status) \(error.message)\n".utf8))
            throw ExitCode(2)
        }
    }
}
